#include "message_sender.hpp"

#include "log.hpp"

#include "wa/message/ack.hpp"
#include "wa/message/chat_signals.hpp"
#include "wa/message/fanout.hpp"
#include "wa/message/message_stanza.hpp"
#include "wa/message/outgoing.hpp"
#include "wa/message/privacy_token.hpp"
#include "wa/proto/codec.hpp"
#include "wa/signal/group_cipher.hpp"
#include "wa/signal/padding.hpp"
#include "wa/signal/prekey_bundle.hpp"
#include "wa/signal/prekey_stanzas.hpp"
#include "wa/signal/protocol_context.hpp"
#include "wa/signal/session_cipher.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace chatwoot::helper {

namespace {

namespace ws = wa::session;
namespace wm = wa::message;
using wa::binary::Jid;
using wa::binary::JidKind;
using wa::binary::Node;

// Where another part of the device keeps the NCT salt (app state or
// history sync), for cstokens.
constexpr std::string_view kNctSalt = "nct_salt";

// "0,7,99h" <-> the usync devices.
std::string encode_devices(const std::vector<wm::UsyncDevice>& devices)
{
    std::string out;
    for (const auto& d : devices) {
        if (!out.empty()) out += ',';
        out += std::to_string(d.id);
        if (d.hosted) out += 'h';
    }
    return out;
}

std::optional<std::vector<wm::UsyncDevice>> decode_devices(std::string_view text)
{
    std::vector<wm::UsyncDevice> out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        wm::UsyncDevice d;
        if (!item.empty() && item.back() == 'h') {
            d.hosted = true;
            item.remove_suffix(1);
        }
        if (item.empty() || item.size() > 5) return std::nullopt;
        unsigned v = 0;
        for (char c : item) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + static_cast<unsigned>(c - '0');
        }
        if (v > 0xffff) return std::nullopt;
        d.id = static_cast<std::uint16_t>(v);
        out.push_back(d);
    }
    return out;
}

bool same_user(const Jid& a, const Jid& b)
{
    if (a.user() != b.user()) return false;
    auto lid_like = [](const Jid& j) {
        return j.server() == wa::binary::kServerLid || j.server() == wa::binary::kServerHostedLid;
    };
    return lid_like(a) == lid_like(b);
}

std::optional<Jid> user_jid(std::string_view user, std::string_view server)
{
    return Jid::from_parts(user, server);
}

void add_unique(std::vector<Jid>& v, const Jid& j)
{
    if (std::find(v.begin(), v.end(), j) == v.end()) v.push_back(j);
}

}  // namespace

MessageSender::MessageSender(store::Database& db, store::SignalStore& store, std::string name,
                             wa::crypto::RandomSource random, MessageSenderOptions options)
    : db_(db),
      store_(store),
      state_(db, store.device()),
      name_(std::move(name)),
      random_(std::move(random)),
      options_(options)
{
}

void MessageSender::send(ws::Connection& conn, const OutgoingMessage& message, Device::Done done,
                         ws::Millis now, std::int64_t unix_now) noexcept
{
    bool answered = false;
    auto answer = [&](SendResult r) {
        answered = true;
        done(r);
    };
    try {
        const std::optional<Jid> chat = Jid::parse(message.chat);
        if (!chat || (!chat->is_user() && chat->kind() != JidKind::group)) {
            answer(SendResult{SendResult::Kind::failed, "not a WhatsApp chat: " + message.chat});
            return;
        }
        switch (message.kind) {
        case OutgoingMessage::Kind::typing: {
            auto sent = conn.send_node(wm::chatstate_node(*chat, message.typing_on));
            answer(sent ? SendResult{SendResult::Kind::sent, {}}
                        : SendResult{SendResult::Kind::retry, sent.error().detail});
            return;
        }
        case OutgoingMessage::Kind::read: {
            std::optional<Jid> participant;
            if (chat->kind() == JidKind::group && !message.read_sender.empty())
                participant = Jid::parse(message.read_sender);
            auto node = wm::read_receipt_node(*chat, message.read_ids, participant, unix_now);
            if (!node) {
                answer(SendResult{SendResult::Kind::failed, node.error().detail});
                return;
            }
            auto sent = conn.send_node(*node);
            answer(sent ? SendResult{SendResult::Kind::sent, {}}
                        : SendResult{SendResult::Kind::retry, sent.error().detail});
            return;
        }
        case OutgoingMessage::Kind::text:
        case OutgoingMessage::Kind::revoke:
        case OutgoingMessage::Kind::history_request:
            break;
        }
        if (message.id.empty()) {
            answer(SendResult{SendResult::Kind::failed, "no message id"});
            return;
        }
        if (jobs_.contains(message.id)) {
            answer(SendResult{SendResult::Kind::retry, "this message is being sent already"});
            return;
        }
        Job job;
        job.message = message;
        job.done = std::move(done);
        job.chat = chat;
        answered = true;  // from here on the job's done answers
        jobs_.emplace(message.id, std::move(job));
        advance(conn, message.id, now, unix_now);
    } catch (const std::exception& e) {
        if (!answered) {
            try {
                answer(SendResult{SendResult::Kind::retry, e.what()});
            } catch (...) {
            }
        } else if (jobs_.contains(message.id)) {
            finish(message.id, SendResult{SendResult::Kind::retry, e.what()});
        }
    } catch (...) {
        if (jobs_.contains(message.id)) finish(message.id, SendResult{SendResult::Kind::retry, "failed"});
    }
}

void MessageSender::finish(const std::string& id, SendResult result)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Device::Done done = std::move(it->second.done);
    jobs_.erase(it);
    for (auto i = iqs_.begin(); i != iqs_.end();) {
        if (i->second.what != Asked::token && i->second.what != Asked::group_fetch &&
            i->second.what != Asked::number && i->second.id == id)
            i = iqs_.erase(i);
        else
            ++i;
    }
    try {
        if (done) done(result);
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": a send's outcome failed: %s",
            name_.c_str(), e.what());
    } catch (...) {
    }
}

bool MessageSender::ask(ws::Connection& conn, const std::string& id, Asked what, Node iq,
                        ws::Millis now)
{
    const std::uint64_t cookie = kMessageSenderCookieTag | (next_cookie_++ & 0xffffffffffffULL);
    auto sent = conn.send_iq(std::move(iq), now, cookie, options_.iq_timeout);
    if (!sent) {
        if (what != Asked::token)
            finish(id, SendResult{SendResult::Kind::retry, "WhatsApp query not sent: " +
                                                               sent.error().detail});
        return false;
    }
    iqs_[cookie] = PendingIq{id, what};
    return true;
}

Jid MessageSender::own_device(bool lid) const
{
    const store::OwnJids own = store_.own_jids();
    if (lid && !own.lid.empty())
        if (auto j = Jid::parse(own.lid)) return *j;
    if (auto j = Jid::parse(own.pn)) return *j;
    throw std::runtime_error("our own JID is not known (is the device linked?)");
}

std::optional<std::vector<Jid>> MessageSender::cached_devices(const Jid& user)
{
    auto text = state_.device_list(user.to_string());
    if (!text) return std::nullopt;
    auto devices = decode_devices(*text);
    if (!devices) {
        state_.drop_device_list(user.to_string());
        return std::nullopt;
    }
    return wm::device_jids(user, *devices);
}

std::optional<wm::GroupInfo> MessageSender::cached_group(const Jid& group)
{
    auto text = state_.group_info(group.to_string());
    if (!text) return std::nullopt;
    rapidjson::Document doc;
    doc.Parse(text->c_str(), text->size());
    auto user = [](const rapidjson::Value& o, const char* key) -> std::optional<Jid> {
        auto m = o.FindMember(key);
        if (m == o.MemberEnd() || !m->value.IsString()) return std::nullopt;
        return Jid::parse(std::string_view(m->value.GetString(), m->value.GetStringLength()));
    };
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("participants") ||
        !doc["participants"].IsArray()) {
        state_.drop_group_info(group.to_string());
        return std::nullopt;
    }
    wm::GroupInfo info{group, wm::AddressingMode::pn, {}, {}};
    if (auto subject = doc.FindMember("subject");
        subject != doc.MemberEnd() && subject->value.IsString() &&
        subject->value.GetStringLength() <= wm::kMaxGroupSubject)
        info.subject.assign(subject->value.GetString(), subject->value.GetStringLength());
    if (doc.HasMember("addressing_mode") && doc["addressing_mode"].IsString() &&
        std::string_view(doc["addressing_mode"].GetString()) == "lid")
        info.addressing_mode = wm::AddressingMode::lid;
    for (const auto& p : doc["participants"].GetArray()) {
        if (!p.IsObject()) continue;
        auto jid = user(p, "jid");
        if (!jid) continue;
        info.participants.push_back(wm::GroupParticipant{*jid, user(p, "lid"), user(p, "phone_number")});
    }
    return info;
}

void MessageSender::keep_group(const wm::GroupInfo& info, std::int64_t unix_now)
{
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("addressing_mode");
    w.String(std::string(wm::addressing_mode_name(info.addressing_mode)).c_str());
    // Always there, even empty: the receive path asks again for an entry
    // without it (kept before subjects were).
    w.Key("subject");
    w.String(info.subject.data(), static_cast<rapidjson::SizeType>(info.subject.size()));
    w.Key("participants");
    w.StartArray();
    for (const auto& p : info.participants) {
        w.StartObject();
        w.Key("jid");
        w.String(p.jid.to_string().c_str());
        if (p.lid) {
            w.Key("lid");
            w.String(p.lid->to_string().c_str());
        }
        if (p.phone_number) {
            w.Key("phone_number");
            w.String(p.phone_number->to_string().c_str());
        }
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    state_.put_group_info(info.jid.to_string(), std::string_view(buf.GetString(), buf.GetSize()),
                          unix_now);
    // What members know of the group's PN <-> LID pairs is ours too.
    for (const auto& p : info.participants)
        if (p.lid && p.phone_number) store_.map_lid(p.phone_number->user(), p.lid->user());
}

// One Signal session per device, whichever form (PN or LID) a stanza names
// it by: the LID's when there is one, else the PN's, and a new one goes
// under the LID when we know it (waweb-2026.md 4: two ratchets for one
// device break both).  The receive side picks the same way
// (wa/message/decrypt).
std::pair<std::optional<Jid>, std::optional<Jid>> MessageSender::session_candidates(const Jid& device)
{
    std::optional<Jid> lid;
    std::optional<Jid> pn;
    if (device.kind() == JidKind::lid) {
        lid = device;
        if (auto user = store_.pn_for_lid(device.user()))
            pn = Jid::from_parts(*user, wa::binary::kServerPhone, 0, device.device());
    } else if (device.kind() == JidKind::phone_number) {
        pn = device;
        if (auto user = store_.lid_for_pn(device.user()))
            lid = Jid::from_parts(*user, wa::binary::kServerLid, 0, device.device());
    }
    return {lid, pn};
}

Jid MessageSender::session_jid(wa::signal::ProtocolContext& ctx, const Jid& device)
{
    if (device.kind() != JidKind::lid && device.kind() != JidKind::phone_number) return device;
    const auto [lid, pn] = session_candidates(device);
    auto has = [&](const std::optional<Jid>& j) {
        if (!j) return false;
        auto address = wa::signal::address_of(*j);
        if (!address) return false;
        auto h = wa::signal::has_session(ctx, *address);
        return h && *h;
    };
    if (has(lid)) return *lid;
    if (has(pn)) return *pn;
    return lid ? *lid : device;
}

// session_jid and the check of the address it chose, in one pass: each
// has_session reads and parses a whole session record, and a send used to
// make four to six of them per device (here, then again in transmit) for
// the one libsignal makes itself.
wa::Result<std::optional<Jid>> MessageSender::established_session(wa::signal::ProtocolContext& ctx,
                                                                  const Jid& device)
{
    std::optional<Jid> lid, pn;
    if (device.kind() == JidKind::lid || device.kind() == JidKind::phone_number)
        std::tie(lid, pn) = session_candidates(device);
    else
        lid = device;  // neither form: its own address only
    for (const std::optional<Jid>& j : {lid, pn}) {
        if (!j) continue;
        auto address = wa::signal::address_of(*j);
        if (!address) continue;
        auto h = wa::signal::has_session(ctx, *address);
        if (!h) return h.error();
        if (*h) return std::optional<Jid>(*j);
    }
    return std::optional<Jid>();
}

std::string MessageSender::quoted_author(const Job& job)
{
    std::optional<store::SendStateRepository::QuotedAuthor> author;
    try {
        author = state_.quoted_author(*job.message.quoted);
    } catch (const std::exception& e) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": quoted message's author: %s",
            name_.c_str(), e.what());
    }
    const bool group = job.chat->kind() == JidKind::group;
    if (author && !author->ours) return author->jid;
    if (author && author->ours) {
        const store::OwnJids own = store_.own_jids();
        const bool lid_side = group ? job.group && job.group->addressing_mode == wm::AddressingMode::lid
                                    : job.target && job.target->kind() == JidKind::lid;
        auto own_user = [](const std::string& jid) {
            auto j = Jid::parse(jid);
            return j ? j->without_device().to_string() : std::string();
        };
        return own_user(lid_side && !own.lid.empty() ? own.lid : own.pn);
    }
    // Never seen here: a DM's is most likely the contact's.
    return group ? std::string() : job.chat->without_device().to_string();
}


wa::proto::Message MessageSender::content(const Job& job)
{
    const OutgoingMessage& m = job.message;
    if (m.kind == OutgoingMessage::Kind::revoke) return wm::revoke_message(*job.chat, m.revoked_id);
    std::optional<wm::Quote> quote;
    if (m.quoted && !m.quoted->empty()) {
        wm::Quote q;
        q.id = *m.quoted;
        // The clients need the quoted message's author to draw the quote
        // (in a group, whose it was): as the store knows it, in the form
        // the chat uses when it is ours.
        q.sender = m.quoted_sender;
        if (q.sender.empty()) q.sender = quoted_author(job);
        quote = std::move(q);
    }
    if (m.media) {
        // Checked by transmit() before: a kind media_message() knows.
        auto media = wm::media_message(*m.media, m.text, quote);
        return media ? std::move(*media) : wa::proto::Message();
    }
    return wm::text_message(m.text, quote);
}

void MessageSender::advance(ws::Connection& conn, const std::string& id, ws::Millis now,
                            std::int64_t unix_now)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = it->second;
    if (job.message.kind == OutgoingMessage::Kind::history_request) {
        advance_peer(conn, id, now);
        return;
    }
    const Jid chat = *job.chat;
    const bool group = chat.kind() == JidKind::group;

    // 1. Who: the contact's LID, or the group's members.
    if (!group && !job.target) {
        if (chat.kind() == JidKind::lid) {
            job.target = chat.without_device();
            if (auto pn = store_.pn_for_lid(chat.user()))
                job.pn = user_jid(*pn, wa::binary::kServerPhone);
        } else if (chat.kind() == JidKind::phone_number) {
            if (auto lid = store_.lid_for_pn(chat.user())) {
                job.target = user_jid(*lid, wa::binary::kServerLid);
                job.pn = chat.without_device();
            } else if (!job.looked_up) {
                ask(conn, id, Asked::lookup, wm::lookup_query(id, chat.without_device()), now);
                return;
            } else {
                job.target = chat.without_device();  // on WhatsApp, no LID given
            }
        } else {
            finish(id, SendResult{SendResult::Kind::failed, "cannot send to " + chat.to_string()});
            return;
        }
        if (!job.target) {
            finish(id, SendResult{SendResult::Kind::failed, "not a WhatsApp chat: " + chat.to_string()});
            return;
        }
    }
    if (group && !job.group) {
        job.group = cached_group(chat);
        if (!job.group) {
            if (!job.group_asked) {
                job.group_asked = true;
                ask(conn, id, Asked::group, wm::group_info_query(chat), now);
            } else {
                finish(id, SendResult{SendResult::Kind::retry, "the group's members are not known"});
            }
            return;
        }
    }

    // 2. Their devices and ours.
    const bool lid_side = group ? job.group->addressing_mode == wm::AddressingMode::lid
                                : job.target->kind() == JidKind::lid;
    const Jid own = own_device(lid_side);
    const Jid own_user = own.without_device();
    std::vector<Jid> users;
    if (group) {
        for (const auto& p : job.group->participants) add_unique(users, p.jid);
    } else {
        users.push_back(*job.target);
    }
    add_unique(users, own_user);

    std::vector<Jid> missing;
    std::vector<Jid> theirs, ours;
    for (const Jid& u : users) {
        auto devices = cached_devices(u);
        if (!devices) {
            missing.push_back(u);
            if (!job.devices_asked) continue;
            devices = std::vector<Jid>{u};  // usync did not say: the main device
        }
        for (const Jid& d : *devices) (same_user(d, own_user) ? ours : theirs).push_back(d);
    }
    if (!missing.empty() && !job.devices_asked) {
        job.devices_asked = true;
        ask(conn, id, Asked::devices, wm::devices_query(id, missing), now);
        return;
    }
    job.users.clear();
    for (const Jid& u : users) job.users.push_back(u.to_string());

    std::vector<Jid> recipients;
    if (group) {
        std::vector<Jid> all = theirs;
        all.insert(all.end(), ours.begin(), ours.end());
        recipients = wm::group_fanout(all, own);
    } else {
        recipients = wm::dm_fanout(theirs, ours, own);
    }
    std::erase_if(recipients, [&](const Jid& d) { return job.unreachable.contains(d.to_string()); });

    // 3. Sessions for every device the 1:1 layer must reach.
    auto ctx = wa::signal::ProtocolContext::create(random_, store_);
    if (!ctx) {
        finish(id, SendResult{SendResult::Kind::retry, ctx.error().detail});
        return;
    }
    std::vector<Jid> no_session;
    std::map<std::string, Jid> sessions;  // device -> the address its session is kept under
    for (const Jid& d : recipients) {
        if (group && state_.holds_sender_key(chat.to_string(), d.to_string())) continue;
        auto found = established_session(*ctx, d);
        if (!found) {
            finish(id, SendResult{SendResult::Kind::retry, found.error().detail});
            return;
        }
        if (*found) {
            sessions.emplace(d.to_string(), **found);
        } else if (wa::signal::address_of(session_jid(*ctx, d))) {
            no_session.push_back(d);
        }
    }
    if (!no_session.empty()) {
        if (!job.bundles_asked) {
            job.bundles_asked = true;
            ask(conn, id, Asked::bundles, wa::signal::prekey_fetch_iq("", no_session), now);
            return;
        }
        for (const Jid& d : no_session) job.unreachable.insert(d.to_string());
        std::erase_if(recipients,
                      [&](const Jid& d) { return job.unreachable.contains(d.to_string()); });
    }
    const bool reaches_them = std::any_of(recipients.begin(), recipients.end(), [&](const Jid& d) {
        return !same_user(d, own_user);
    });
    if (!group && !reaches_them) {
        finish(id, SendResult{SendResult::Kind::retry, "no device of the contact can be reached now"});
        return;
    }

    // 4. Encrypt, commit, transmit.
    if (auto failed = transmit(conn, job, id, recipients, sessions, unix_now)) {
        finish(id, *failed);
        return;
    }
    job.ack_deadline = now + options_.ack_timeout;
}

void MessageSender::advance_peer(ws::Connection& conn, const std::string& id, ws::Millis now)
{
    Job& job = jobs_.at(id);
    // Our phone is device 0 of our own account.  The stanza names our user
    // in its phone-number form, as the clients address peer messages; the
    // session is whichever form the store keeps the phone's under.
    const Jid to = own_device(false).without_device();
    const Jid phone = own_device(true).without_device();
    job.target = to;
    job.resent = true;  // no device set, so no phash to disagree with

    auto ctx = wa::signal::ProtocolContext::create(random_, store_);
    if (!ctx) {
        finish(id, SendResult{SendResult::Kind::retry, ctx.error().detail});
        return;
    }
    auto found = established_session(*ctx, phone);
    if (!found) {
        finish(id, SendResult{SendResult::Kind::retry, found.error().detail});
        return;
    }
    if (!*found) {
        if (!job.bundles_asked) {
            job.bundles_asked = true;
            ask(conn, id, Asked::bundles, wa::signal::prekey_fetch_iq("", std::vector<Jid>{phone}), now);
            return;
        }
        finish(id, SendResult{SendResult::Kind::retry, "no session with our phone"});
        return;
    }
    auto address = wa::signal::address_of(**found);
    if (!address) {
        finish(id, SendResult{SendResult::Kind::failed, address.error().detail});
        return;
    }
    const OutgoingMessage::HistoryAsk& h = job.message.history;
    const wa::Bytes plain = wa::proto::serialize(wm::history_request_message(wm::HistoryOnDemand{
        *job.chat, h.oldest_id, h.oldest_from_me, h.oldest_timestamp_ms, h.count}));
    auto padded = wa::signal::pad_message(plain, random_);
    if (!padded) {
        finish(id, SendResult{SendResult::Kind::retry, padded.error().detail});
        return;
    }
    // The ratchet step commits before the stanza leaves, as for any send.
    store::UnitOfWork unit(db_);
    auto enc = wa::signal::encrypt(*ctx, *address, *padded);
    if (!enc) {
        finish(id, SendResult{SendResult::Kind::retry, enc.error().detail});
        return;
    }
    wa::Bytes identity;
    if (auto adv = store_.adv_identity()) identity = std::move(*adv);
    auto node = wm::build_peer_stanza(id, to, *enc, identity);
    if (!node) {
        finish(id, SendResult{SendResult::Kind::failed, node.error().detail});
        return;
    }
    unit.commit();
    db_.after_commit([&conn, node = std::move(*node)] { (void) conn.send_node(node); });
    job.ack_deadline = now + options_.ack_timeout;
}

std::optional<SendResult> MessageSender::transmit(ws::Connection& conn, Job& job,
                                                  const std::string& id,
                                                  const std::vector<Jid>& devices,
                                                  const std::map<std::string, Jid>& sessions,
                                                  std::int64_t unix_now)
{
    const Jid chat = *job.chat;
    const bool group = chat.kind() == JidKind::group;
    const bool lid_side = group ? job.group->addressing_mode == wm::AddressingMode::lid
                                : job.target->kind() == JidKind::lid;
    const Jid own = own_device(lid_side);
    if (job.message.media) {
        auto check = wm::media_message(*job.message.media, {}, {});
        if (!check) return SendResult{SendResult::Kind::failed, check.error().detail};
    }
    const wa::proto::Message message = content(job);
    const wa::Bytes plain = wa::proto::serialize(message);

    auto ctx = wa::signal::ProtocolContext::create(random_, store_);
    if (!ctx) return SendResult{SendResult::Kind::retry, ctx.error().detail};
    auto retry = [](const wa::Error& e) { return SendResult{SendResult::Kind::retry, e.detail}; };

    // Every ratchet advance below commits with the recent send, or none.
    store::UnitOfWork unit(db_);
    wm::MessageStanza st{id, group ? chat : *job.target};
    if (job.message.media) {
        st.type = "media";
        st.mediatype = std::string(wm::media_enc_type(*job.message.media));
    }

    auto encrypt_to = [&](const Jid& d, wa::ByteView payload) -> std::optional<wa::Error> {
        // Found in step 3 of this same call: nothing ran in between.
        const auto known = sessions.find(d.to_string());
        auto address = wa::signal::address_of(known != sessions.end() ? known->second
                                                                      : session_jid(*ctx, d));
        if (!address) return std::nullopt;
        auto padded = wa::signal::pad_message(payload, random_);
        if (!padded) return padded.error();
        auto enc = wa::signal::encrypt(*ctx, *address, *padded);
        if (!enc) {
            if (enc.error().code == wa::Errc::not_found) return std::nullopt;  // no session after all
            return enc.error();
        }
        st.participants.push_back(wm::DeviceEnc{d, std::move(*enc)});
        return std::nullopt;
    };

    if (group) {
        auto own_address = wa::signal::address_of(own);
        if (!own_address) return retry(own_address.error());
        const wa::signal::SenderKeyName ours{chat.to_string(), *own_address};
        auto skdm = wa::signal::create_sender_key_distribution(*ctx, ours);
        if (!skdm) return retry(skdm.error());
        const wa::Bytes skdm_plain = wa::proto::serialize(wm::sender_key_message(chat, *skdm));
        auto padded = wa::signal::pad_message(plain, random_);
        if (!padded) return retry(padded.error());
        auto skmsg = wa::signal::group_encrypt(*ctx, ours, *padded);
        if (!skmsg) return retry(skmsg.error());
        for (const Jid& d : devices) {
            if (state_.holds_sender_key(chat.to_string(), d.to_string())) continue;
            if (auto e = encrypt_to(d, skdm_plain)) return retry(*e);
            state_.add_sender_key_holder(chat.to_string(), d.to_string());
        }
        st.skmsg = std::move(*skmsg);
        st.addressing_mode = job.group->addressing_mode;
    } else {
        const wa::Bytes dsm_plain = wa::proto::serialize(wm::device_sent_message(*job.target, message));
        for (const Jid& d : devices)
            if (auto e = encrypt_to(d, same_user(d, own) ? wa::ByteView(dsm_plain) : wa::ByteView(plain)))
                return retry(*e);
        if (job.target->kind() == JidKind::lid) {
            st.peer_recipient_pn = job.pn;
            auto token = state_.privacy_token(job.target->to_string());
            if (token && !token->token.empty() && wm::tctoken_valid(token->t, unix_now)) {
                st.tctoken = wa::Bytes(token->token.begin(), token->token.end());
            } else if (auto salt = store_.value(kNctSalt); salt && !salt->empty()) {
                st.cstoken = wm::cstoken(*salt, *job.target);
            }
        }
    }
    job.phash = wm::participant_hash(devices);
    if (group) st.phash = job.phash;
    if (auto identity = store_.adv_identity()) st.device_identity = std::move(*identity);

    auto node = wm::build_message_stanza(st);
    if (!node) return SendResult{SendResult::Kind::failed, node.error().detail};
    state_.put_recent_send(id, chat.to_string(), plain, unix_now);
    unit.commit();
    // The ciphertext leaves once its ratchet step is durable: now, or when
    // the caller's batch of sends commits (one fsync for all of them).  A
    // connection that cannot take it is a lost connection, which fails the
    // send for a retry (connection_lost) like any in flight.  The
    // connection outlives the batch: LiveDevice pumps, and so closes,
    // only with no unit of work open.
    db_.after_commit([&conn, node = std::move(*node)] { (void) conn.send_node(node); });
    return std::nullopt;
}

std::optional<SendResult> MessageSender::take_lookup(Job& job, const Node& answer,
                                                     std::int64_t unix_now)
{
    job.looked_up = true;
    auto users = wm::parse_usync(answer);
    if (!users) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp number lookup unreadable: %s",
            name_.c_str(), users.error().detail.c_str());
        return SendResult{SendResult::Kind::retry, "WhatsApp's number lookup was unreadable"};
    }
    const Jid pn = job.chat->without_device();
    for (const auto& u : *users) {
        if (u.jid.user() != pn.user()) continue;
        if (u.on_whatsapp == false) return SendResult{SendResult::Kind::failed, std::string(kNotOnWhatsApp)};
        if (u.lid) store_.map_lid(pn.user(), u.lid->user());
        if (u.devices) {
            const std::string list = encode_devices(*u.devices);
            state_.put_device_list(pn.to_string(), list, unix_now);
            if (u.lid) state_.put_device_list(u.lid->to_string(), list, unix_now);
        }
        return std::nullopt;
    }
    // Not in the answer at all: the server does not know the number.
    return SendResult{SendResult::Kind::failed, std::string(kNotOnWhatsApp)};
}

void MessageSender::take_devices(const Node& answer, std::int64_t unix_now)
{
    auto users = wm::parse_usync(answer);
    if (!users) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp device lists unreadable: %s",
            name_.c_str(), users.error().detail.c_str());
        return;
    }
    store::UnitOfWork unit(db_);
    for (const auto& u : *users)
        if (u.devices) state_.put_device_list(u.jid.to_string(), encode_devices(*u.devices), unix_now);
    unit.commit();
}

void MessageSender::take_bundles(Job& job, const Node& answer)
{
    const Node* list = answer.child("list");
    const wa::binary::Children* users = list ? list->children() : nullptr;
    if (users == nullptr) return;
    auto ctx = wa::signal::ProtocolContext::create(random_, store_);
    if (!ctx) return;
    store::UnitOfWork unit(db_);
    for (const Node& u : *users) {
        auto bundle = wa::signal::parse_prekey_user(u);
        if (!bundle) {
            if (auto jid = u.attr("jid")) job.unreachable.insert(std::string(*jid));
            log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp bundle: %s",
                name_.c_str(), bundle.error().detail.c_str());
            continue;
        }
        auto address = wa::signal::address_of(session_jid(*ctx, bundle->jid));
        if (!address) continue;
        if (auto s = wa::signal::process_prekey_bundle(*ctx, *address, bundle->bundle); !s) {
            if (s.error().code == wa::Errc::store_failure) throw std::runtime_error(s.error().detail);
            job.unreachable.insert(bundle->jid.to_string());
            log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp bundle of %s refused: %s",
                name_.c_str(), bundle->jid.to_string().c_str(), s.error().detail.c_str());
        }
    }
    unit.commit();
}

bool MessageSender::on_iq_answered(ws::Connection& conn, const ws::IqOutcome& outcome,
                                   ws::Millis now, std::int64_t unix_now)
{
    if ((outcome.cookie & (0xffffULL << 48)) != kMessageSenderCookieTag) return false;
    auto pending = iqs_.find(outcome.cookie);
    if (pending == iqs_.end()) return true;  // its send ended meanwhile
    const PendingIq asked = pending->second;
    iqs_.erase(pending);
    if (asked.what == Asked::number) {
        NumberCheck how = NumberCheck::unknown;
        try {
            if (outcome.kind == ws::IqOutcome::Kind::result) {
                how = take_number(asked.id, outcome.response, unix_now);
            }
        } catch (const std::exception& e) {
            log(LogLevel::error, "chatwoot helper: inbox \"%s\": a number look-up's answer "
                "not kept: %s", name_.c_str(), e.what());
        }
        checked(asked.id, how);
        return true;
    }
    if (asked.what == Asked::group_fetch) {
        wm::GroupInfoFetch how = wm::GroupInfoFetch::failed;
        try {
            if (outcome.kind == ws::IqOutcome::Kind::result) {
                auto info = wm::parse_group_info(outcome.response);
                if (info) {
                    store::UnitOfWork unit(db_);
                    keep_group(*info, unix_now);
                    unit.commit();
                    how = wm::GroupInfoFetch::cached;
                } else {
                    log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp group info of %s "
                        "unreadable: %s", name_.c_str(), asked.id.c_str(), info.error().detail.c_str());
                }
            } else {
                log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp group info of %s not "
                    "given (%s)", name_.c_str(), asked.id.c_str(),
                    std::string(ws::iq_outcome_name(outcome.kind)).c_str());
            }
        } catch (const std::exception& e) {
            log(LogLevel::error, "chatwoot helper: inbox \"%s\": WhatsApp group info of %s not "
                "kept: %s", name_.c_str(), asked.id.c_str(), e.what());
        }
        fetched(asked.id, how);
        return true;
    }
    try {
        if (asked.what == Asked::token) {
            if (outcome.kind == ws::IqOutcome::Kind::result) state_.token_issued(asked.id, unix_now);
            return true;
        }
        auto it = jobs_.find(asked.id);
        if (it == jobs_.end()) return true;
        Job& job = it->second;
        if (outcome.kind != ws::IqOutcome::Kind::result) {
            // A group we are not in answers an error: that will not change.
            if (asked.what == Asked::group && outcome.kind == ws::IqOutcome::Kind::error &&
                (outcome.error.code == 403 || outcome.error.code == 404)) {
                finish(asked.id, SendResult{SendResult::Kind::failed,
                                            "we are not a member of this WhatsApp group"});
                return true;
            }
            finish(asked.id, SendResult{SendResult::Kind::retry,
                                        "WhatsApp did not answer our query (" +
                                            std::string(ws::iq_outcome_name(outcome.kind)) + ")"});
            return true;
        }
        switch (asked.what) {
        case Asked::lookup:
            if (auto r = take_lookup(job, outcome.response, unix_now)) {
                finish(asked.id, *r);
                return true;
            }
            break;
        case Asked::group: {
            auto info = wm::parse_group_info(outcome.response);
            if (!info) {
                finish(asked.id, SendResult{SendResult::Kind::retry, info.error().detail});
                return true;
            }
            keep_group(*info, unix_now);
            job.group = std::move(*info);
            break;
        }
        case Asked::devices:
            take_devices(outcome.response, unix_now);
            break;
        case Asked::bundles:
            take_bundles(job, outcome.response);
            break;
        case Asked::token:
        case Asked::group_fetch:
        case Asked::number:
            break;
        }
        advance(conn, asked.id, now, unix_now);
    } catch (const std::exception& e) {
        finish(asked.id, SendResult{SendResult::Kind::retry, e.what()});
    }
    return true;
}

void MessageSender::issue_token(ws::Connection& conn, const Job& job, ws::Millis now,
                                std::int64_t unix_now)
{
    if (!job.target || job.target->kind() != JidKind::lid) return;
    const std::string lid = job.target->to_string();
    auto token = state_.privacy_token(lid);
    if (!wm::should_issue_token(token ? token->issued : std::nullopt, unix_now)) return;
    std::vector<wm::TokenGrant> grants{{*job.target, unix_now}};
    ask(conn, lid, Asked::token, wm::privacy_token_issue_iq(grants), now);
}

bool MessageSender::on_ack(ws::Connection& conn, const Node& ack, ws::Millis now,
                           std::int64_t unix_now)
{
    auto parsed = wm::parse_message_ack(ack);
    if (!parsed) return false;
    auto it = jobs_.find(parsed->id);
    if (it == jobs_.end() || !it->second.ack_deadline) return false;
    Job& job = it->second;
    const std::string id = parsed->id;
    try {
        if (parsed->error) {
            const int code = *parsed->error;
            if (code == wm::kAckReachoutRestricted || code == wm::kAckLimitedBusiness) {
                log(LogLevel::warn,
                    "chatwoot helper: inbox \"%s\": WhatsApp refused message %s with %d "
                    "(first-contact limit); not retried", name_.c_str(), id.c_str(), code);
                finish(id, SendResult{SendResult::Kind::failed, std::string(kFirstMessageRefused)});
            } else if (code >= 500) {
                finish(id, SendResult{SendResult::Kind::retry,
                                      "WhatsApp could not take the message now (error " +
                                          std::to_string(code) + ")"});
            } else {
                finish(id, SendResult{SendResult::Kind::failed,
                                      "WhatsApp refused the message (error " + std::to_string(code) + ")"});
            }
            return true;
        }
        if (parsed->phash && *parsed->phash != job.phash && !job.resent) {
            // Our device set was stale: look again and send once more,
            // same id (the devices that had it drop the repeat).
            log(LogLevel::info,
                "chatwoot helper: inbox \"%s\": WhatsApp says message %s missed devices; "
                "sending again", name_.c_str(), id.c_str());
            store::UnitOfWork unit(db_);
            for (const auto& u : job.users) state_.drop_device_list(u);
            if (job.group) state_.drop_group_info(job.chat->to_string());
            unit.commit();
            job.resent = true;
            job.ack_deadline.reset();
            job.devices_asked = job.bundles_asked = job.group_asked = false;
            job.group.reset();
            job.unreachable.clear();
            advance(conn, id, now, unix_now);
            return true;
        }
        issue_token(conn, job, now, unix_now);
        finish(id, SendResult{SendResult::Kind::sent, {}});
    } catch (const std::exception& e) {
        finish(id, SendResult{SendResult::Kind::retry, e.what()});
    }
    return true;
}

MessageSender::RetryAnswer MessageSender::on_retry_receipt(ws::Connection& conn, const Node& receipt,
                                                           std::int64_t unix_now)
{
    auto parsed = wm::parse_retry_receipt(receipt);
    if (!parsed) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp retry receipt unreadable: %s",
            name_.c_str(), parsed.error().detail.c_str());
        return RetryAnswer::done;
    }
    const wm::RetryReceipt& r = *parsed;
    try {
        auto recent = state_.recent_send(r.id);
        if (!recent) {
            log(LogLevel::info,
                "chatwoot helper: inbox \"%s\": WhatsApp retry for %s: not one of our recent sends",
                name_.c_str(), r.id.c_str());
            return RetryAnswer::done;
        }
        auto message = wa::proto::parse<wa::proto::Message>(recent->message);
        auto chat = Jid::parse(recent->chat);
        if (!message || !chat) return RetryAnswer::done;
        auto ctx = wa::signal::ProtocolContext::create(random_, store_);
        if (!ctx) return RetryAnswer::later;
        // One session per device (session_jid): a receipt naming the
        // device by its PN must not start a second session beside the LID
        // one our next message would use (waweb-2026.md 4).
        const Jid device = session_jid(*ctx, r.device);
        auto address = wa::signal::address_of(device);
        if (!address) return RetryAnswer::done;

        store::UnitOfWork unit(db_);
        if (r.bundle) {
            // Its keys: a fresh session, whatever we had.
            if (auto s = wa::signal::process_prekey_bundle(*ctx, *address, r.bundle->bundle); !s) {
                if (s.error().code == wa::Errc::store_failure) return RetryAnswer::later;
                log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp retry keys of %s refused: %s",
                    name_.c_str(), r.device.to_string().c_str(), s.error().detail.c_str());
                return RetryAnswer::done;
            }
        }
        wa::proto::Message payload = *message;
        const store::OwnJids own = store_.own_jids();
        const bool ours = (!own.lid.empty() && Jid::parse(own.lid) && same_user(r.device, *Jid::parse(own.lid))) ||
                          (!own.pn.empty() && Jid::parse(own.pn) && same_user(r.device, *Jid::parse(own.pn)));
        if (chat->kind() == JidKind::group) {
            // The device may have lost our sender key too: it comes along.
            const Jid own_dev = own_device(r.device.kind() == JidKind::lid);
            if (auto own_address = wa::signal::address_of(own_dev)) {
                const wa::signal::SenderKeyName name{chat->to_string(), *own_address};
                if (auto skdm = wa::signal::create_sender_key_distribution(*ctx, name))
                    payload.MergeFrom(wm::sender_key_message(*chat, *skdm));
            }
        } else if (ours) {
            payload = wm::device_sent_message(*chat, *message);
        }
        const wa::Bytes plain = wa::proto::serialize(payload);
        auto padded = wa::signal::pad_message(plain, random_);
        if (!padded) return RetryAnswer::later;
        auto enc = wa::signal::encrypt(*ctx, *address, *padded);
        if (!enc) {
            if (enc.error().code == wa::Errc::store_failure) return RetryAnswer::later;
            log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp retry for %s to %s not "
                "answered: %s", name_.c_str(), r.id.c_str(), r.device.to_string().c_str(),
                enc.error().detail.c_str());
            return RetryAnswer::done;
        }
        const wa::Bytes identity = store_.adv_identity().value_or(wa::Bytes{});
        wa::Result<Node> node = wa::make_error(wa::Errc::wrong_state, "not built");
        if (r.from.kind() == JidKind::group) {
            // The one device, its enc straight in the message (whatsmeow's
            // form): the other members have the skmsg already.
            node = wm::build_retry_stanza(r.id, r.from, device, *enc, r.count, identity,
                                          wm::sent_media_type(*message));
        } else {
            // A DM goes as it went the first time, to the chat, with only
            // this device in <participants>.
            wm::MessageStanza st{r.id, ours ? chat->without_device() : device.without_device()};
            st.participants.push_back(wm::DeviceEnc{device, std::move(*enc)});
            st.device_identity = identity;
            st.retry_count = r.count;
            if (auto media = wm::sent_media_type(*message)) {
                st.type = "media";
                st.mediatype = std::move(*media);
            }
            node = wm::build_message_stanza(st);
        }
        if (!node) return RetryAnswer::done;
        unit.commit();
        db_.after_commit([&conn, node = std::move(*node)] { (void) conn.send_node(node); });
        log(LogLevel::info, "chatwoot helper: inbox \"%s\": WhatsApp message %s sent again to %s "
            "(retry %u)", name_.c_str(), r.id.c_str(), r.device.to_string().c_str(), r.count);
        return RetryAnswer::resent;
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": WhatsApp retry for %s failed: %s",
            name_.c_str(), r.id.c_str(), e.what());
        return RetryAnswer::later;
    }
}

void MessageSender::on_timer(ws::Millis now)
{
    std::vector<std::string> overdue;
    for (const auto& [id, job] : jobs_)
        if (job.ack_deadline && *job.ack_deadline <= now) overdue.push_back(id);
    for (const auto& id : overdue)
        finish(id, SendResult{SendResult::Kind::retry, "WhatsApp did not acknowledge the message in time"});
}

std::optional<ws::Millis> MessageSender::next_deadline() const
{
    std::optional<ws::Millis> at;
    for (const auto& [id, job] : jobs_)
        if (job.ack_deadline && (!at || *job.ack_deadline < *at)) at = job.ack_deadline;
    return at;
}

void MessageSender::connection_lost()
{
    iqs_.clear();
    std::vector<std::string> ids;
    for (const auto& [id, job] : jobs_) ids.push_back(id);
    for (const auto& id : ids)
        finish(id, SendResult{SendResult::Kind::retry, "the WhatsApp connection was lost"});
    std::vector<std::string> groups;
    for (const auto& [group, waiters] : group_fetches_) groups.push_back(group);
    for (const auto& group : groups) fetched(group, wm::GroupInfoFetch::lost);
    std::vector<std::string> numbers;
    for (const auto& [pn, waiters] : number_checks_) numbers.push_back(pn);
    for (const auto& pn : numbers) checked(pn, NumberCheck::unknown);
}

std::optional<wm::GroupInfo> MessageSender::group_info(const Jid& group)
{
    return cached_group(group.without_device());
}

bool MessageSender::fetch_group(ws::Connection& conn, const Jid& group, GroupFetched done,
                                ws::Millis now)
{
    const Jid g = group.without_device();
    if (g.kind() != JidKind::group) return false;
    const std::string key = g.to_string();
    if (auto out = group_fetches_.find(key); out != group_fetches_.end()) {
        out->second.push_back(std::move(done));
        return true;
    }
    const std::uint64_t cookie = kMessageSenderCookieTag | (next_cookie_++ & 0xffffffffffffULL);
    if (!conn.send_iq(wm::group_info_query(g), now, cookie, options_.iq_timeout)) return false;
    iqs_[cookie] = PendingIq{key, Asked::group_fetch};
    group_fetches_[key].push_back(std::move(done));
    return true;
}

void MessageSender::fetched(const std::string& group, wm::GroupInfoFetch how)
{
    auto it = group_fetches_.find(group);
    if (it == group_fetches_.end()) return;
    // Taken out first: a waiter may ask again at once.
    std::vector<GroupFetched> waiters = std::move(it->second);
    group_fetches_.erase(it);
    for (auto& done : waiters) {
        try {
            if (done) done(how);
        } catch (const std::exception& e) {
            log(LogLevel::error, "chatwoot helper: inbox \"%s\": a group info's outcome failed: %s",
                name_.c_str(), e.what());
        } catch (...) {
        }
    }
}

bool MessageSender::check_number(ws::Connection& conn, const Jid& pn, Device::NumberDone done,
                                 ws::Millis now, std::int64_t unix_now)
{
    (void) unix_now;
    const Jid p = pn.without_device();
    if (p.kind() != JidKind::phone_number) return false;
    if (store_.lid_for_pn(p.user())) {
        done(NumberCheck::on_whatsapp);   // someone WhatsApp told us of
        return true;
    }
    const std::string key = p.to_string();
    if (auto out = number_checks_.find(key); out != number_checks_.end()) {
        out->second.push_back(std::move(done));
        return true;
    }
    const std::uint64_t cookie = kMessageSenderCookieTag | (next_cookie_++ & 0xffffffffffffULL);
    const std::string sid = "number-" + std::to_string(cookie & 0xffffffffffffULL);
    if (!conn.send_iq(wm::lookup_query(sid, p), now, cookie, options_.iq_timeout)) return false;
    iqs_[cookie] = PendingIq{key, Asked::number};
    number_checks_[key].push_back(std::move(done));
    return true;
}

NumberCheck MessageSender::take_number(const std::string& pn, const Node& answer,
                                       std::int64_t unix_now)
{
    auto users = wm::parse_usync(answer);
    auto jid = Jid::parse(pn);
    if (!users || !jid) {
        log(LogLevel::warn, "chatwoot helper: inbox \"%s\": WhatsApp number lookup unreadable",
            name_.c_str());
        return NumberCheck::unknown;
    }
    for (const auto& u : *users) {
        if (u.jid.user() != jid->user()) continue;
        if (u.on_whatsapp == false) return NumberCheck::not_on_whatsapp;
        store::UnitOfWork unit(db_);
        if (u.lid) store_.map_lid(jid->user(), u.lid->user());
        if (u.devices) {
            const std::string list = encode_devices(*u.devices);
            state_.put_device_list(pn, list, unix_now);
            if (u.lid) state_.put_device_list(u.lid->to_string(), list, unix_now);
        }
        unit.commit();
        return NumberCheck::on_whatsapp;
    }
    // Not in the answer at all: the server does not know the number.
    return NumberCheck::not_on_whatsapp;
}

void MessageSender::checked(const std::string& pn, NumberCheck how)
{
    auto it = number_checks_.find(pn);
    if (it == number_checks_.end()) return;
    std::vector<Device::NumberDone> waiters = std::move(it->second);
    number_checks_.erase(it);
    for (auto& done : waiters) {
        try {
            if (done) done(how);
        } catch (const std::exception& e) {
            log(LogLevel::error, "chatwoot helper: inbox \"%s\": a number check's outcome "
                "failed: %s", name_.c_str(), e.what());
        } catch (...) {
        }
    }
}

void MessageSender::devices_changed(const Jid& user)
{
    // The list is cached under the LID for DMs and under either form for
    // groups: both go.
    const Jid u = user.without_device();
    state_.drop_device_list(u.to_string());
    std::optional<std::string> other;
    if (u.kind() == JidKind::phone_number) {
        if (auto lid = store_.lid_for_pn(u.user())) other = *lid + "@" + std::string(wa::binary::kServerLid);
    } else if (u.kind() == JidKind::lid) {
        if (auto pn = store_.pn_for_lid(u.user())) other = *pn + "@" + std::string(wa::binary::kServerPhone);
    }
    if (other) state_.drop_device_list(*other);
}

}  // namespace chatwoot::helper
