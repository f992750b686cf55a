#include "wa/history/history_sync.hpp"

#include <utility>

#include "wa/proto/codec.hpp"
#include "wa/proto/history_sync.pb.h"
#include "wa/proto/message.pb.h"

namespace chatwoot::wa::history {

namespace {

// Wrappers that only change how a message is shown (disappearing, view
// once) hold the real content one level down; the phone may stack two.
constexpr int kMaxUnwrap = 4;

const proto::Message* unwrap_one(const proto::Message& m)
{
    const proto::Message_FutureProofMessage* wrapper = nullptr;
    if (m.has_ephemeralmessage()) {
        wrapper = &m.ephemeralmessage();
    } else if (m.has_viewoncemessage()) {
        wrapper = &m.viewoncemessage();
    } else if (m.has_viewoncemessagev2()) {
        wrapper = &m.viewoncemessagev2();
    } else if (m.has_viewoncemessagev2extension()) {
        wrapper = &m.viewoncemessagev2extension();
    }
    if (wrapper == nullptr || !wrapper->has_message()) {
        return nullptr;
    }
    return &wrapper->message();
}

std::optional<std::string> text_of(const proto::Message& message)
{
    const proto::Message* m = &message;
    for (int depth = 0; depth <= kMaxUnwrap; ++depth) {
        if (m->has_conversation()) {
            return m->conversation();
        }
        if (m->has_extendedtextmessage() && m->extendedtextmessage().has_text()) {
            return m->extendedtextmessage().text();
        }
        m = unwrap_one(*m);
        if (m == nullptr) {
            break;
        }
    }
    return std::nullopt;
}

HistorySyncType type_of(const proto::HistorySync& sync)
{
    if (!sync.has_synctype()) {
        return HistorySyncType::unknown;
    }
    const int v = static_cast<int>(sync.synctype());
    if (v < 0 || v > static_cast<int>(HistorySyncType::on_demand)) {
        return HistorySyncType::unknown;
    }
    return static_cast<HistorySyncType>(v);
}

}  // namespace

Result<HistorySyncData> parse_history_sync(ByteView inflated)
{
    auto sync = proto::parse<proto::HistorySync>(inflated);
    if (!sync) {
        return make_error(sync.error().code, "history sync: " + sync.error().detail);
    }

    HistorySyncData out;
    out.type = type_of(*sync);
    out.chunk_order = sync->chunkorder();
    out.progress = sync->progress();

    out.conversations.reserve(static_cast<std::size_t>(sync->conversations_size()));
    for (const proto::Conversation& c : sync->conversations()) {
        HistoryConversation conv;
        conv.jid = c.id();
        conv.name = c.has_name() ? c.name() : c.displayname();
        conv.pn_jid = c.pnjid();
        conv.lid_jid = c.lidjid();
        conv.messages.reserve(static_cast<std::size_t>(c.messages_size()));
        for (const proto::HistorySyncMsg& entry : c.messages()) {
            const proto::WebMessageInfo& info = entry.message();
            if (!entry.has_message() || !info.has_key() || info.key().id().empty()) {
                ++out.skipped_messages;
                continue;
            }
            const proto::MessageKey& key = info.key();
            HistoryMessage m;
            m.chat_jid = key.has_remotejid() ? key.remotejid() : conv.jid;
            m.id = key.id();
            m.from_me = key.fromme();
            m.participant = key.has_participant() ? key.participant() : info.participant();
            m.timestamp = info.messagetimestamp();
            m.push_name = info.pushname();
            if (info.has_message()) {
                m.text = text_of(info.message());
            }
            conv.messages.push_back(std::move(m));
        }
        out.conversations.push_back(std::move(conv));
    }

    for (const proto::Pushname& p : sync->pushnames()) {
        out.push_names.push_back({p.id(), p.pushname()});
    }
    for (const proto::PhoneNumberToLIDMapping& m : sync->phonenumbertolidmappings()) {
        out.jid_mappings.push_back({m.pnjid(), m.lidjid()});
    }
    return out;
}

}  // namespace chatwoot::wa::history
