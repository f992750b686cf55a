#include "history_receiver.hpp"

#include "log.hpp"

#include "wa/history/history_sync.hpp"
#include "wa/proto/codec.hpp"

#include <chrono>

namespace chatwoot::helper {

namespace {

namespace hist = wa::history;
using wa::binary::JidKind;

// Only our phone (device 0 of our own account) sends history.
bool from_our_phone(const wa::message::MessageEnvelope& env, const wa::message::OwnAccount& own)
{
    if (!env.peer) return false;
    const auto& s = env.sender;
    if (s.device() != 0) return false;
    if (s.kind() == JidKind::phone_number) return !own.pn_user.empty() && s.user() == own.pn_user;
    if (s.kind() == JidKind::lid) return !own.lid_user.empty() && s.user() == own.lid_user;
    return false;
}

}  // namespace

HistoryReceiver::HistoryReceiver(std::string inbox, store::Database& db, store::SignalStore& signal,
                                 hist::HistoryLimits limits)
    : inbox_(std::move(inbox)), db_(db), repo_(db, inbox_, signal), limits_(limits)
{
}

const wa::proto::Message_HistorySyncNotification* HistoryReceiver::notification_in(
    const wa::proto::Message& message)
{
    if (!message.has_protocolmessage()) return nullptr;
    const auto& pm = message.protocolmessage();
    if (pm.type() != wa::proto::Message_ProtocolMessage_Type_HISTORY_SYNC_NOTIFICATION ||
        !pm.has_historysyncnotification())
        return nullptr;
    return &pm.historysyncnotification();
}

HistoryReceiver::Taken HistoryReceiver::take(int64_t stanza, std::span<const unsigned char> node,
                                             const wa::message::MessageEnvelope& env,
                                             const wa::proto::Message_HistorySyncNotification& n,
                                             const wa::message::OwnAccount& own, int64_t now)
{
    Taken taken;
    if (!from_our_phone(env, own)) {
        // Not ours to keep; the stanza gets its ordinary receipt.
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": a WhatsApp history sync notification "
            "from %s (message %s) refused: only our own phone sends history",
            inbox_.c_str(), env.sender.to_string().c_str(), env.id.c_str());
        return taken;
    }
    taken.receipt = std::string(kReceipt);
    auto source = hist::history_source(n);
    if (!source) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp history chunk (message %s) "
            "skipped: %s", inbox_.c_str(), env.id.c_str(), source.error().detail.c_str());
        return taken;
    }
    if (source->is_inline()) {
        (void) open_and_store(stanza, source->inline_payload, now);
        return taken;
    }
    // Downloaded after this unit commits; the receipt waits for the chunk.
    const wa::Bytes bytes = wa::proto::serialize(n);
    repo_.add_pending(stanza, std::span<const unsigned char>(bytes.data(), bytes.size()), node, now);
    taken.receipt.reset();
    taken.download = true;
    return taken;
}

bool HistoryReceiver::open_and_store(int64_t stanza, wa::ByteView zlib_stream, int64_t now)
{
    const auto t0 = std::chrono::steady_clock::now();
    auto inflated = hist::inflate_history(zlib_stream, limits_);
    if (!inflated) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp history chunk (stanza %lld) "
            "skipped: %s (bound %zu bytes)", inbox_.c_str(), static_cast<long long>(stanza),
            inflated.error().detail.c_str(), limits_.max_inflated_size);
        return false;
    }
    auto chunk = hist::parse_history_sync(*inflated);
    if (!chunk) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp history chunk (stanza %lld) "
            "skipped: %s", inbox_.c_str(), static_cast<long long>(stanza),
            chunk.error().detail.c_str());
        return false;
    }
    const auto stored = repo_.store_chunk(*chunk, now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0).count();
    log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp history chunk stored (%s, chunk "
        "%u, %u%%): %zu chat(s), %zu new message(s), %zu already stored, %zu push name(s), "
        "%zu mapping(s), %zu token(s)%s; %zu bytes inflated in %lld ms",
        inbox_.c_str(), std::string(store::history_sync_type_name(chunk->type)).c_str(),
        chunk->chunk_order, chunk->progress, stored.chats, stored.messages, stored.duplicates,
        stored.push_names, stored.mappings, stored.tokens, stored.nct_salt ? ", the NCT salt" : "",
        inflated->size(), static_cast<long long>(ms));
    return true;
}

std::optional<hist::HistorySource> HistoryReceiver::source_of(
    const store::HistoryRepository::Pending& p, int64_t now)
{
    wa::proto::Message_HistorySyncNotification n;
    if (n.ParseFromArray(p.notification.data(), static_cast<int>(p.notification.size()))) {
        if (auto source = hist::history_source(n); source && !source->is_inline()) return *source;
    }
    refused(p.stanza, "its stored notification does not parse", now);
    return std::nullopt;
}

void HistoryReceiver::downloaded(int64_t stanza, wa::ByteView zlib_stream, int64_t now)
{
    store::UnitOfWork unit(db_);
    if (!repo_.pending(stanza)) return;  // settled already
    (void) open_and_store(stanza, zlib_stream, now);
    repo_.settle_pending(stanza);
    unit.commit();
}

void HistoryReceiver::refused(int64_t stanza, const std::string& why, int64_t now)
{
    (void) now;
    log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp history chunk (stanza %lld) "
        "skipped: %s", inbox_.c_str(), static_cast<long long>(stanza), why.c_str());
    store::UnitOfWork unit(db_);
    repo_.settle_pending(stanza);
    unit.commit();
}

}  // namespace chatwoot::helper
