#include "message_receiver.hpp"

#include "log.hpp"

#include "../bridge/chat_identity.hpp"
#include "../bridge/wa_content.hpp"
#include "../bridge/wa_message_json.hpp"

#include "wa/binary/decoder.hpp"
#include "wa/message/decrypt.hpp"
#include "wa/message/receipts.hpp"
#include "wa/signal/protocol_context.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <memory>
#include <ctime>
#include <stdexcept>

namespace chatwoot::helper {

namespace {

namespace msg = wa::message;
using wa::binary::Jid;
using wa::binary::JidKind;
using wa::binary::Node;

constexpr std::size_t kBatch = 64;

// bridge::WaMessage's chat_name bound (wa_message_json.cpp).
constexpr std::size_t kMaxChatName = 256;

// Group names kept in memory: more groups than that only costs a read.
constexpr std::size_t kMaxNamesKept = 4096;

// At most `max` bytes, cut before a UTF-8 character, not inside one.
std::string clip_utf8(std::string_view s, std::size_t max)
{
    if (s.size() <= max) return std::string(s);
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
    return std::string(s.substr(0, n));
}

// The subject in the send path's cached group info (message_sender.cpp);
// nullopt when the entry has no subject field (kept before subjects were,
// or unreadable): then it is asked again.
std::optional<std::string> cached_subject(const std::string& json)
{
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
    auto m = doc.FindMember("subject");
    if (m == doc.MemberEnd() || !m->value.IsString()) return std::nullopt;
    return clip_utf8(std::string_view(m->value.GetString(), m->value.GetStringLength()), kMaxChatName);
}

// The receipt column: "" plain, "inactive", "sender", "peer_msg", or
// "retry" (its count is the stanza's plus one, read again when it goes).
constexpr std::string_view kRetry = "retry";

std::string utc(int64_t t)
{
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

}  // namespace

std::optional<bridge::WaMessage> to_wa_message(const msg::MessageEnvelope& env,
                                               const msg::Content& c, std::string chat,
                                               std::string sender)
{
    bridge::WaMessage m;
    m.id = env.id;
    m.chat = std::move(chat);
    m.sender = std::move(sender);
    m.wa_chat = env.chat.without_device().to_string();
    m.wa_sender = env.sender.without_device().to_string();
    m.push_name = env.push_name;
    m.from_me = env.from_me;
    m.timestamp = env.timestamp;
    m.reply_to = c.reply_to;
    using K = msg::Content::Kind;
    switch (c.kind) {
    case K::text:
        if (c.text.empty()) return std::nullopt;
        m.text = c.text;
        break;
    case K::reaction:
    case K::revoke:
    case K::edit:
        // About another message: the emoji, nothing, or the new text.
        m.kind = c.kind == K::reaction ? bridge::WaMessage::Kind::reaction
                 : c.kind == K::revoke ? bridge::WaMessage::Kind::revoke
                                       : bridge::WaMessage::Kind::edit;
        m.target = c.target;
        m.text = c.kind == K::revoke ? std::string() : c.text;
        break;
    case K::location:
        m.text = bridge::location_text({c.location->latitude, c.location->longitude,
                                        c.location->name, c.location->address, c.location->live});
        break;
    case K::contacts: {
        std::vector<bridge::ContactCardText> cards;
        for (const auto& card : c.contacts) cards.push_back({card.display_name, card.vcard});
        m.text = bridge::contact_cards_text(cards);
        break;
    }
    case K::placeholder:
        m.text = bridge::placeholder_text(c.placeholder, c.caption);
        if (c.view_once) {
            // WhatsApp shows view-once media on the recipient's phone only.
            m.text = "[view-once " + c.placeholder
                     + " received: not shown here, as WhatsApp allows it on the phone only]";
        }
        // The download's facts go into the row with the message, so its
        // file can be fetched (again, after a crash) from the row alone.
        // Only media with a key: without one nothing could be decrypted.
        if (c.media && c.media->media_key.size() == 32) {
            const auto& r = *c.media;
            m.media = bridge::WaMedia{r.type, r.media_key, r.file_sha256.size() == 32 ? r.file_sha256 : "",
                                      r.file_enc_sha256.size() == 32 ? r.file_enc_sha256 : "",
                                      r.file_length, r.direct_path, r.url, r.mimetype, r.file_name,
                                      c.caption};
        }
        break;
    }
    return m;
}

MessageReceiver::MessageReceiver(Options options, store::Database& db, store::SignalStore& signal,
                                 wa::session::PreKeyKeeper& keeper,
                                 wa::crypto::RandomSource random)
    : options_(std::move(options)),
      db_(db),
      signal_(signal),
      keeper_(keeper),
      random_(std::move(random)),
      stanzas_(db),
      inbound_(db),
      outbox_(db),
      drop_devices_(db.prepare("DELETE FROM wa_device_lists WHERE device = ?1 AND user = ?2")),
      put_token_(db.prepare(
          "INSERT INTO wa_privacy_tokens (device, lid, token, t) VALUES (?1, ?2, ?3, ?4)"
          " ON CONFLICT (device, lid) DO UPDATE SET token = excluded.token, t = excluded.t"
          " WHERE excluded.t >= wa_privacy_tokens.t")),
      // A history notification whose chunk is being downloaded owes its
      // receipt until the chunk is stored: a redelivery gets none before.
      handled_(db.prepare("SELECT count(*) FROM wa_stanzas WHERE device = ?1 AND stanza_key = ?2"
                          " AND done_at IS NOT NULL AND receipt IS NULL"
                          " AND id NOT IN (SELECT stanza FROM history_pending)")),
      stored_(db.prepare("SELECT count(*) FROM wa_inbound WHERE inbox = ?1 AND wa_id = ?2")),
      groups_(db, options_.inbox),
      history_(options_.inbox, db, signal)
{
}

msg::OwnAccount MessageReceiver::own()
{
    store::OwnJids jids = signal_.own_jids();
    msg::OwnAccount own;
    if (auto pn = Jid::parse(jids.pn)) own.pn_user = pn->user();
    if (auto lid = Jid::parse(jids.lid)) own.lid_user = lid->user();
    return own;
}

// One chat per person (bridge/chat_identity.hpp): groups are their own.
std::string MessageReceiver::chat_for(const Jid& chat)
{
    const Jid bare = chat.without_device();
    if (bare.kind() != JidKind::phone_number && bare.kind() != JidKind::lid) return bare.to_string();
    bridge::ChatForms forms;
    forms.arrived = bare.to_string();
    if (bare.kind() == JidKind::phone_number) {
        forms.pn = forms.arrived;
        if (auto lid = signal_.lid_for_pn(bare.user())) forms.lid = *lid + "@lid";
    } else {
        forms.lid = forms.arrived;
        if (auto pn = signal_.pn_for_lid(bare.user())) forms.pn = *pn + "@s.whatsapp.net";
    }
    if (forms.pn) forms.pn_has_chat = inbound_.has_chat(options_.inbox, *forms.pn);
    if (forms.lid) forms.lid_has_chat = inbound_.has_chat(options_.inbox, *forms.lid);
    return bridge::chat_identity(forms);
}

// A group member as agents know them: the phone number when mapped.
std::string MessageReceiver::display_jid(const Jid& user)
{
    const Jid bare = user.without_device();
    if (bare.kind() == JidKind::lid)
        if (auto pn = signal_.pn_for_lid(bare.user())) return *pn + "@s.whatsapp.net";
    return bare.to_string();
}

bool MessageReceiver::add_row(const bridge::WaMessage& m, int64_t now,
                              std::vector<std::string>& chats)
{
    if (m.from_me && outbox_.is_our_send(options_.inbox, m.id)) return false;  // our echo
    if (!options_.intake.accepts(m)) {
        log(LogLevel::debug, "chatwoot helper: inbox \"%s\" ignores chat %s",
            options_.inbox.c_str(), m.chat.c_str());
        return false;
    }
    // One row per WhatsApp id: a message filed again (a resend after our
    // retry receipt, a second content part) adds nothing.
    if (!inbound_.add(options_.inbox, m.id, m.chat, bridge::to_json(m), now)) return false;
    if (std::find(chats.begin(), chats.end(), m.chat) == chats.end()) chats.push_back(m.chat);
    return true;
}

std::size_t MessageReceiver::drain(const Send& send, DeviceEvents* events, int64_t now)
{
    std::size_t handled = 0;
    try {
        flush_receipts_gone();
        std::vector<int64_t> sent;
        for (const auto& owed : stanzas_.owed_receipts(options_.inbox, kBatch)) {
            auto node = wa::binary::decode_node(owed.node);
            // One that does not decode has nothing to address it to.
            if (!node || send_receipt(*node, owed.tag, send, now)) sent.push_back(owed.id);
        }
        receipts_sent(sent);
        for (;;) {
            // One commit for the batch (each stanza in a savepoint of its
            // own): a commit is an fsync, and one per message would bound
            // the receive rate by the disk.  Receipts and the runtime's
            // news go after the batch's commit, never before.
            auto filed = std::make_shared<Filed>();
            {
                store::UnitOfWork batch(db_);
                *filed = file_kept(now);
                batch.commit();
            }
            // Right after that commit (or a caller's, if one is open).
            db_.after_commit([this, filed, send, events, now] { deliver(*filed, send, events, now); });
            handled += filed->handled;
            if (filed->complete || filed->handled == 0) break;
        }
        // A drain is rare (a login, a backlog): its receipts are marked now.
        if (db_.unit_depth() == 0) flush_receipts_gone();
    } catch (const std::exception& e) {
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": WhatsApp messages wait in the store (%s); tried "
            "again with the next one",
            options_.inbox.c_str(), e.what());
    }
    return handled;
}

MessageReceiver::Filed MessageReceiver::file_kept(int64_t now)
{
    mark_receipts_gone();
    Filed filed;
    const auto rows = stanzas_.oldest(options_.inbox, kBatch);
    for (const auto& row : rows) {
        try {
            const Step step = handle(row, filed.after, now);
            if (step == Step::waits) {
                // Its group's info is on the way: this stanza and the ones
                // after it wait for the drain its answer starts (nothing
                // to try again before that).
                return filed;
            }
            if (step == Step::left) continue;
        } catch (const std::exception& e) {
            // This stanza's savepoint is undone; what came before it
            // commits, the rest waits for the next drain.
            log(LogLevel::error,
                "chatwoot helper: inbox \"%s\": a WhatsApp message waits in the store (%s); "
                "tried again with the next one",
                options_.inbox.c_str(), e.what());
            filed.complete = false;
            return filed;
        }
        ++filed.handled;
    }
    filed.complete = rows.size() < kBatch;
    return filed;
}

void MessageReceiver::deliver(const Filed& filed, const Send& send, DeviceEvents* events,
                              int64_t now)
{
    std::vector<int64_t> sent;
    for (const After& a : filed.after) {
        try {
            if (a.receipt && send_receipt(a.node, *a.receipt, send, now)) sent.push_back(a.row_id);
        } catch (const std::exception& e) {
            // Still owed in the store: it goes with the next drain.
            log(LogLevel::error, "chatwoot helper: inbox \"%s\": a WhatsApp receipt waits (%s)",
                options_.inbox.c_str(), e.what());
        }
    }
    try {
        receipts_sent(sent);
    } catch (const std::exception& e) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp receipts sent but still marked "
            "owed (%s); they go again", options_.inbox.c_str(), e.what());
    }
    if (events != nullptr)
        for (const After& a : filed.after)
            for (const std::string& chat : a.chats) events->inbound(chat);
    if (history_download_hook &&
        std::any_of(filed.after.begin(), filed.after.end(), [](const After& a) { return a.history_download; })) {
        try {
            history_download_hook();
        } catch (const std::exception& e) {
            // The rows wait in history_pending: the next login fetches them.
            log(LogLevel::error, "chatwoot helper: inbox \"%s\": a WhatsApp history download "
                "waits (%s)", options_.inbox.c_str(), e.what());
        }
    }
}

MessageReceiver::Step MessageReceiver::handle(const store::WaStanzaRepository::Kept& row,
                                              std::vector<After>& after, int64_t now)
{
    auto decoded = wa::binary::decode_node(row.node);
    if (!decoded) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": a kept WhatsApp stanza does not "
            "decode (%s); set aside", options_.inbox.c_str(), decoded.error().detail.c_str());
        stanzas_.done(row.id, now, std::nullopt);
        return Step::handled;
    }
    const Node& node = *decoded;
    if (row.tag == "receipt") {
        // Someone's retry receipt for our message: the send path's.
        if (retry_receipt_hook) return retry_receipt_hook(row.id, node) ? Step::handled : Step::left;
        stanzas_.done(row.id, now, std::nullopt);  // handled where it came in
        return Step::handled;
    }
    if (row.tag != "message") {
        stanzas_.done(row.id, now, std::nullopt);
        return Step::handled;
    }
    // throws on a store failure: nothing kept
    Outcome outcome = file(row.id, node, row.node, now);
    if (outcome.waits) return Step::waits;
    if (outcome.receipt || !outcome.chats.empty() || outcome.history_download)
        after.push_back(After{row.id, node, std::move(outcome.receipt), std::move(outcome.chats),
                              outcome.history_download});
    return Step::handled;
}

std::optional<std::string> MessageReceiver::group_name(const Jid& group)
{
    const std::string key = group.without_device().to_string();
    // Known this run: the cache entry (a whole member list) is not read
    // again for every message; the name only matters when the contact is
    // made, so one that changed later does no harm.
    if (auto known = names_.find(key); known != names_.end()) return known->second;
    if (auto info = groups_.group_info(key)) {
        if (auto subject = cached_subject(*info)) {
            if (names_.size() >= kMaxNamesKept) names_.clear();
            names_.emplace(key, *subject);
            return subject;
        }
    }
    // Why filing without the name is safe: the name is only the one the
    // group's Chatwoot contact gets when it is created; an agent can
    // rename it, and the message itself is whole.  Waiting instead on a
    // group WhatsApp will not describe (we left it: 403/404; no answer)
    // would hold every message behind it for good.
    if (unnamed_.contains(key)) return std::string();
    if (!group_info_hook) return std::string();
    if (asking_.contains(key)) return std::nullopt;
    asking_.insert(key);
    bool asked = false;
    try {
        asked = group_info_hook(group.without_device(), [this, key](msg::GroupInfoFetch how) {
            asking_.erase(key);
            if (how == msg::GroupInfoFetch::failed) {
                log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp did not describe group "
                    "%s; its messages go without its subject", options_.inbox.c_str(), key.c_str());
                unnamed_.insert(key);
            }
        });
    } catch (...) {
        asking_.erase(key);
        throw;
    }
    if (!asked) asking_.erase(key);  // no connection: the next drain asks
    return std::nullopt;
}

MessageReceiver::Outcome MessageReceiver::file(int64_t row_id, const Node& node,
                                               std::span<const unsigned char> bytes, int64_t now)
{
    Outcome out;
    auto env = msg::parse_envelope(node, own());
    if (!env) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp message not understood "
            "(%s); set aside", options_.inbox.c_str(), env.error().detail.c_str());
        stanzas_.done(row_id, now, std::nullopt);
        return out;
    }

    // A group is one contact named after its subject: its info first,
    // before anything is decrypted (a stanza that waits has changed
    // nothing).  Not for groups the inbox ignores, nor our own phone's
    // peer messages, which file nothing.
    std::string chat_name;
    if (env->chat.kind() == JidKind::group && !env->peer) {
        bridge::WaMessage probe;
        probe.chat = env->chat.without_device().to_string();
        if (options_.intake.accepts(probe)) {
            auto name = group_name(env->chat);
            if (!name) {
                out.waits = true;
                return out;
            }
            chat_name = std::move(*name);
        }
    }

    // The sender's other form from the store when the stanza does not name
    // it: decryption tries the session under it too.
    {
        const Jid bare = env->sender.without_device();
        const bool named = std::any_of(env->lid_pairs.begin(), env->lid_pairs.end(),
                                       [&](const msg::LidPair& p) { return p.pn == bare || p.lid == bare; });
        if (!named && bare.kind() == JidKind::lid) {
            if (auto pn = signal_.pn_for_lid(bare.user()))
                if (auto j = Jid::from_parts(*pn, wa::binary::kServerPhone))
                    env->lid_pairs.push_back({*j, bare});
        } else if (!named && bare.kind() == JidKind::phone_number) {
            if (auto lid = signal_.lid_for_pn(bare.user()))
                if (auto j = Jid::from_parts(*lid, wa::binary::kServerLid))
                    env->lid_pairs.push_back({bare, *j});
        }
    }

    store::UnitOfWork unit(db_);
    auto context = wa::signal::ProtocolContext::create(random_, signal_);
    if (!context) throw std::runtime_error("signal context: " + context.error().detail);
    msg::Decrypted decrypted = msg::decrypt(*context, *env);
    if (decrypted.store_failed()) {
        for (const auto& f : decrypted.failures)
            if (f.failure == msg::DecryptFailure::store) throw std::runtime_error(f.detail);
    }

    for (const msg::LidPair& pair : env->lid_pairs) signal_.map_lid(pair.pn.user(), pair.lid.user());

    // Our phone's history sync chunk: stored (or its download filed) in
    // this unit; the stanza owes hist_sync, not a delivery receipt.
    for (const auto& m : decrypted.messages) {
        const auto* note = HistoryReceiver::notification_in(m);
        if (note == nullptr) continue;
        auto taken = history_.take(row_id, bytes, *env, *note, own(), now);
        if (taken.receipt || taken.download) {
            out.receipt = std::move(taken.receipt);
            out.history_download = taken.download;
            stanzas_.done(row_id, now, out.receipt ? std::optional<std::string_view>(*out.receipt)
                                                    : std::nullopt);
            unit.commit();
            return out;
        }
        break;  // refused (not our phone): an ordinary stanza from here on
    }

    std::string chat = chat_for(env->chat);
    const std::string sender = display_jid(env->sender);
    std::vector<bridge::WaMessage> rows;
    bool unsupported = false;
    for (const auto& m : decrypted.messages) {
        auto content = msg::extract_content(m);
        if (!content) continue;
        std::string row_chat = chat;
        // Our phone's DM mirrored to us names its chat inside.
        if (env->from_me && !content->destination.empty())
            if (auto dest = Jid::parse(content->destination)) row_chat = chat_for(*dest);
        if (auto wm = to_wa_message(*env, *content, std::move(row_chat), sender)) {
            wm->chat_name = chat_name;
            rows.push_back(std::move(*wm));
        }
    }
    for (const auto& f : decrypted.failures) {
        if (f.failure == msg::DecryptFailure::unsupported) unsupported = true;
        log(f.failure == msg::DecryptFailure::duplicate ? LogLevel::info : LogLevel::warn,
            "chatwoot helper: inbox \"%s\": WhatsApp message %s from %s: %s %s (%s)",
            options_.inbox.c_str(), env->id.c_str(), env->sender.to_string().c_str(),
            std::string(msg::enc_type_name(f.type)).c_str(),
            std::string(msg::decrypt_failure_name(f.failure)).c_str(), f.detail.c_str());
    }

    const int next_retry = env->retry_count() + 1;
    const bool wants_retry = rows.empty() && decrypted.wants_retry();
    if (wants_retry && next_retry < msg::kMaxRetries) {
        out.receipt = std::string(kRetry);
    } else {
        // A message of its own that says what came, when nothing else will.
        auto say = [&](std::string text) {
            bridge::WaMessage m;
            m.id = env->id;
            m.chat = chat;
            m.sender = sender;
            m.push_name = env->push_name;
            m.from_me = env->from_me;
            m.timestamp = env->timestamp;
            m.text = std::move(text);
            m.chat_name = chat_name;
            rows.push_back(std::move(m));
        };
        if (wants_retry) {
            // Given up: the agents see that something came.
            ++undecryptable_;
            say(bridge::undecryptable_text());
        } else if (rows.empty() && unsupported) {
            say(bridge::placeholder_text("message", ""));
        }
        out.receipt = msg::delivery_receipt_type(node, env->from_me, options_.passive);
    }
    // Our own phone's peer messages (app state keys, history sync) are the
    // session's; a row for them would be a note to self nobody asked for.
    if (!env->peer)
        for (const auto& m : rows) add_row(m, now, out.chats);
    stanzas_.done(row_id, now, out.receipt ? std::optional<std::string_view>(*out.receipt)
                                            : std::nullopt);
    unit.commit();
    return out;
}

Node MessageReceiver::build_receipt(const Node& node, std::string_view receipt, int64_t now)
{
    if (receipt != kRetry) return msg::delivery_receipt(node, receipt);
    auto env = msg::parse_envelope(node, own());
    const int count = (env ? env->retry_count() : 0) + 1;
    std::optional<msg::RetryKeys> keys;
    auto identity = signal_.local_identity();
    if (!identity) throw std::runtime_error("local identity: " + identity.error().detail);
    if (count >= 2) {
        // A fresh one-time pre-key, so that the sender can start a new
        // session with us; marked uploaded so no upload hands it out again.
        auto batch = keeper_.prepare_upload(1);
        auto adv = signal_.adv_identity();
        if (batch && !batch->pre_keys.empty() && adv) {
            msg::RetryKeys k;
            k.identity = identity->key_pair.public_key;
            k.pre_key = batch->pre_keys.front().public_part();
            k.signed_pre_key = batch->signed_pre_key.public_part();
            k.device_identity = *adv;
            const std::uint32_t id = k.pre_key.id;
            (void) keeper_.mark_uploaded(std::span<const std::uint32_t>(&id, 1));
            keys = std::move(k);
        }
    }
    return msg::retry_receipt(node, count, identity->registration_id, now, keys);
}

bool MessageReceiver::send_receipt(const Node& node, std::string_view receipt, const Send& send,
                                   int64_t now)
{
    if (!send) return false;
    // Our phone's history chunk is a message from a device of ours like any
    // other: it gets its delivery receipt (peer_msg) as WhatsApp Web's
    // clients send it, then hist_sync, which tells the phone the chunk is
    // stored.  A crash in between sends both again.
    if (receipt == "hist_sync"
        && !send(msg::delivery_receipt(node, msg::delivery_receipt_type(node, true, options_.passive))))
    {
        return false;
    }
    const Node out = build_receipt(node, receipt, now);
    return send(out);
}

// Receipts gone are no longer owed, but the store hears of it with the
// next unit of work that files stanzas, not in a commit of its own (one a
// batch was a tenth of the receive path): a crash before that sends them
// again, which WhatsApp takes.
void MessageReceiver::receipts_sent(const std::vector<int64_t>& row_ids)
{
    receipts_gone_.insert(receipts_gone_.end(), row_ids.begin(), row_ids.end());
}

// Inside the caller's unit of work; if it rolls back, the receipts are
// owed again in the store, and go again.
void MessageReceiver::mark_receipts_gone()
{
    for (int64_t id : receipts_gone_) stanzas_.receipt_sent(id);
    receipts_gone_.clear();
}

// Outside a filing: the marks in a commit of their own (not waiting for the
// disk), before the store is asked what is owed.
void MessageReceiver::flush_receipts_gone()
{
    if (receipts_gone_.empty()) return;
    store::RelaxedSync relaxed(db_);
    store::UnitOfWork unit(db_);
    mark_receipts_gone();
    unit.commit();
}

void MessageReceiver::redelivered(std::string_view stanza_key, const Node& node, const Send& send,
                                  int64_t now)
{
    if (node.tag != "message") return;
    try {
        flush_receipts_gone();   // the look-up below reads the marks
        handled_.bind(1, options_.inbox).bind(2, stanza_key);
        if (handled_.scalar() == 0) return;  // not handled yet, or its receipt still owed
        auto env = msg::parse_envelope(node, own());
        if (!env) return;
        stored_.bind(1, options_.inbox).bind(2, env->id);
        const bool stored = stored_.scalar() != 0;
        const bool retry = !stored && !env->from_me && !env->encs.empty() &&
                           env->retry_count() + 1 < msg::kMaxRetries;
        const std::string type =
            retry ? std::string(kRetry)
                  : msg::delivery_receipt_type(node, env->from_me, options_.passive);
        if (send) (void) send(build_receipt(node, type, now));
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": no receipt for a redelivered WhatsApp "
            "message (%s)", options_.inbox.c_str(), e.what());
    }
}

void MessageReceiver::on_receipt(const Node& node, DeviceEvents* events, int64_t now)
{
    auto r = msg::parse_receipt(node);
    if (!r) return;
    if (r->kind != msg::ReceiptEvent::Kind::read && r->kind != msg::ReceiptEvent::Kind::played)
        return;
    try {
        store::UnitOfWork unit(db_);
        bridge::WaMessage m;
        m.kind = bridge::WaMessage::Kind::read;
        const bool group = r->from.kind() == JidKind::group;
        m.chat = chat_for(r->from);
        const Jid& reader = group && r->participant ? *r->participant : r->from;
        m.sender = display_jid(reader);
        m.targets = r->ids;
        m.timestamp = r->timestamp;
        // A read has no WhatsApp id of its own: its first target, reader
        // and time name it (the same receipt again adds nothing).
        m.id = "read:" + r->ids.front() + ":" + reader.without_device().to_string() + ":" +
               std::to_string(r->timestamp);
        std::vector<std::string> chats;
        if (options_.intake.accepts(m)) {
            if (inbound_.add(options_.inbox, m.id, m.chat, bridge::to_json(m), now))
                chats.push_back(m.chat);
        }
        unit.commit();
        if (events != nullptr)
            for (const auto& chat : chats) events->inbound(chat);
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": a WhatsApp read receipt is lost (%s)",
            options_.inbox.c_str(), e.what());
    }
}

namespace {

const char* group_change_name(msg::GroupChanged::Kind k)
{
    using K = msg::GroupChanged::Kind;
    switch (k) {
    case K::add: return "add";
    case K::remove: return "remove";
    case K::promote: return "promote";
    case K::demote: return "demote";
    case K::leave: return "leave";
    case K::modify: return "modify";
    case K::subject: return "subject";
    case K::description: return "description";
    case K::settings: return "settings";
    case K::ephemeral: return "ephemeral";
    case K::other: break;
    }
    return "other";
}

}  // namespace

// Whatever changed, the cached info (members, addressing mode, subject) is
// stale: the next send and the next received message fetch it again.  When
// members went, the holders of our sender key are forgotten and so is the
// key itself: the next group message distributes a new one to the members
// that remain, and a removed member, who still has the old key, cannot read
// it (forgetting the holders alone would send the same key again).
void MessageReceiver::group_changed(const msg::GroupChanged& g)
{
    const std::string key = g.group.to_string();
    bool renewed = false;
    {
        store::UnitOfWork unit(db_);
        groups_.drop_group_info(key);
        if (g.members_went()) {
            groups_.drop_sender_key_holders(key);
            const store::OwnJids own = signal_.own_jids();
            for (const std::string* form : {&own.pn, &own.lid}) {
                auto jid = Jid::parse(*form);
                if (!jid) continue;
                auto address = wa::signal::address_of(*jid);
                if (!address) continue;
                auto gone = signal_.delete_sender_key(wa::signal::SenderKeyName{key, *address});
                if (!gone) throw std::runtime_error(gone.error().detail);
                renewed = renewed || *gone;
            }
        }
        unit.commit();
    }
    names_.erase(key);
    unnamed_.erase(key);
    std::string kinds;
    for (auto k : g.kinds) kinds += std::string(kinds.empty() ? "" : ", ") + group_change_name(k);
    log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp group %s changed (%s): its cached "
        "info dropped%s", options_.inbox.c_str(), key.c_str(), kinds.c_str(),
        g.members_went() ? (renewed ? "; our sender key renewed for the next message"
                                    : "; our sender key goes to every member again")
                         : "");
}

// A contact's identity changed (a reinstall): our sessions with its devices
// are useless, under either form of its JID, and so is its cached device
// list; it holds none of our sender keys any more.  The next send fetches
// its devices and bundles and starts new sessions (pkmsg).
void MessageReceiver::identity_changed(const Jid& user)
{
    const Jid bare = user.without_device();
    std::vector<Jid> forms{bare};
    if (bare.kind() == JidKind::phone_number) {
        if (auto lid = signal_.lid_for_pn(bare.user()))
            if (auto j = Jid::parse(*lid + "@lid")) forms.push_back(*j);
    } else if (bare.kind() == JidKind::lid) {
        if (auto pn = signal_.pn_for_lid(bare.user()))
            if (auto j = Jid::parse(*pn + "@s.whatsapp.net")) forms.push_back(*j);
    }
    // Its hosted devices (servers hosted and hosted.lid, the same user)
    // were reinstalled along with it: their sessions go too.
    std::vector<std::string> names;
    for (const Jid& form : forms) {
        const bool lid = form.kind() == JidKind::lid;
        for (const std::string& text : {form.to_string(), form.user() + (lid ? "@hosted.lid" : "@hosted")})
            if (auto j = Jid::parse(text))
                if (auto address = wa::signal::address_of(*j)) names.push_back(address->name);
    }
    std::size_t dropped = 0;
    {
        store::UnitOfWork unit(db_);
        for (const std::string& name : names) {
            auto n = signal_.delete_all_sessions(name);
            if (!n) throw std::runtime_error(n.error().detail);
            dropped += *n;
        }
        for (const Jid& form : forms) {
            drop_devices_.bind(1, options_.inbox).bind(2, form.to_string()).run();
            groups_.drop_sender_key_holder_user(form.to_string());
        }
        unit.commit();
    }
    log(LogLevel::info, "chatwoot helper: inbox \"%s\": the WhatsApp identity of %s changed: %zu "
        "session(s) dropped; the next message starts new ones", options_.inbox.c_str(),
        bare.to_string().c_str(), dropped);
}

std::optional<std::string> MessageReceiver::on_notification(const Node& node, int64_t now)
{
    (void) now;
    auto parsed = msg::parse_notification(node);
    if (!parsed) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp notification not understood: %s",
            options_.inbox.c_str(), parsed.error().detail.c_str());
        return std::nullopt;
    }
    try {
        if (auto* d = std::get_if<msg::DevicesChanged>(&*parsed)) {
            // The cached list is stale: the next send asks again.
            store::UnitOfWork unit(db_);
            drop_devices_.bind(1, options_.inbox).bind(2, d->user.to_string()).run();
            if (d->lid) {
                drop_devices_.bind(1, options_.inbox).bind(2, d->lid->to_string()).run();
                if (d->user.kind() == JidKind::phone_number) signal_.map_lid(d->user.user(), d->lid->user());
            }
            unit.commit();
        } else if (auto* g = std::get_if<msg::GroupChanged>(&*parsed)) {
            group_changed(*g);
        } else if (auto* i = std::get_if<msg::IdentityChanged>(&*parsed)) {
            identity_changed(i->user);
        } else if (auto* p = std::get_if<msg::PrivacyTokens>(&*parsed)) {
            std::optional<std::string> lid;
            if (auto l = p->lid()) lid = l->to_string();
            else if (p->from.kind() == JidKind::phone_number)
                if (auto mapped = signal_.lid_for_pn(p->from.user())) lid = *mapped + "@lid";
            if (!lid) {
                log(LogLevel::info, "chatwoot helper: inbox \"%s\": a privacy token from %s with "
                    "no LID known; not kept", options_.inbox.c_str(), p->from.to_string().c_str());
                return std::nullopt;
            }
            store::UnitOfWork unit(db_);
            if (p->sender_lid && p->from.kind() == JidKind::phone_number)
                signal_.map_lid(p->from.user(), p->sender_lid->user());
            for (const auto& t : p->tokens) {
                if (t.type != "trusted_contact") continue;
                put_token_.bind(1, options_.inbox).bind(2, *lid)
                    .bind_blob(3, std::span<const unsigned char>(t.token.data(), t.token.size()))
                    .bind(4, t.timestamp).run();
            }
            unit.commit();
        } else if (auto* lock = std::get_if<msg::ReachoutTimelock>(&*parsed)) {
            if (!lock->active) {
                log(LogLevel::notice, "chatwoot helper: inbox \"%s\": WhatsApp lifted the "
                    "reach-out time lock", options_.inbox.c_str());
                return std::string();
            }
            std::string text = "WhatsApp restricts messages to new contacts (reach-out time lock";
            if (!lock->enforcement_type.empty()) text += ", " + lock->enforcement_type;
            text += ")";
            if (lock->ends_at > 0) text += " until " + utc(lock->ends_at);
            log(LogLevel::warn, "chatwoot helper: inbox \"%s\": %s", options_.inbox.c_str(),
                text.c_str());
            return text;
        } else if (auto* cap = std::get_if<msg::NewChatCapping>(&*parsed)) {
            if (cap->status.empty() || cap->status == "NONE") return std::string();
            std::string text = "WhatsApp caps new chats (" + cap->status;
            if (cap->total > 0) text += ", " + std::to_string(cap->used) + " of " +
                                        std::to_string(cap->total) + " used";
            text += ")";
            if (cap->cycle_ends_at > 0) text += " until " + utc(cap->cycle_ends_at);
            log(LogLevel::warn, "chatwoot helper: inbox \"%s\": %s", options_.inbox.c_str(),
                text.c_str());
            return text;
        }
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": a WhatsApp notification was not "
            "stored (%s)", options_.inbox.c_str(), e.what());
    }
    return std::nullopt;
}

}  // namespace chatwoot::helper
