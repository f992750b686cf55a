#include "send_desk.hpp"

#include "../log.hpp"

#include "chatwoot_ring.h"

#include "../../bridge/chat_identity.hpp"
#include "../../bridge/forward_job.hpp"
#include "../../bridge/wa_message_json.hpp"
#include "../../chatwoot/webhook_record.hpp"
#include "../../ipc/snapshot.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstring>

namespace chatwoot::helper {

namespace {

constexpr size_t kOpenPerPass = 256;

uint64_t public_state(std::string_view state)
{
    if (state == "sent") {
        return CW_SEND_SENT;
    }
    if (state == "failed") {
        return CW_SEND_FAILED;
    }
    return CW_SEND_QUEUED;
}

// The ring position an id names (cw_command_id), for the table's marker.
bool id_position(std::string_view id, uint64_t* epoch, uint64_t* seq)
{
    if (id.size() != CW_COMMAND_ID_LEN) {
        return false;
    }
    uint64_t v[2] = {0, 0};
    for (size_t i = 0; i < id.size(); i++) {
        const char c = id[i];
        const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            return false;
        }
        v[i / 16] = (v[i / 16] << 4) | static_cast<uint64_t>(d);
    }
    *epoch = v[0];
    *seq = v[1];
    return true;
}

std::string user_of(std::string_view jid)
{
    return std::string(jid.substr(0, jid.find('@')));
}

}  // namespace

SendDesk::SendDesk(store::Database& db, store::InboundEventRepository& inbound,
                   store::OutboxRepository& outbox, store::WaInboundRepository& wa_inbound,
                   FindInbox find_inbox, Clock clock)
    : db_(db),
      inbound_(inbound),
      outbox_(outbox),
      wa_inbound_(wa_inbound),
      sends_(db),
      marks_(db),
      find_inbox_(std::move(find_inbox)),
      clock_(std::move(clock)),
      self_(std::make_shared<SendDesk*>(this))
{
}

SendDesk::~SendDesk() = default;

std::string SendDesk::readable(std::string_view failure)
{
    if (failure == "DEVICE_NOT_AVAILABLE") {
        return "the WhatsApp device was not connected in time (device_timeout)";
    }
    if (failure.empty()) {
        return "failed";
    }
    return std::string(failure);
}

std::string SendDesk::identity(const std::string& inbox, const std::string& to)
{
    const bool pn = to.ends_with("@s.whatsapp.net");
    const bool lid = to.ends_with("@lid");
    if (!pn && !lid) {
        return to;   // a group is its own chat
    }
    bridge::ChatForms forms;
    forms.arrived = to;
    if (pn) {
        forms.pn = to;
        if (auto l = sends_.lid_for_pn(inbox, user_of(to))) forms.lid = *l + "@lid";
    } else {
        forms.lid = to;
        if (auto p = sends_.pn_for_lid(inbox, user_of(to))) forms.pn = *p + "@s.whatsapp.net";
    }
    if (forms.pn) forms.pn_has_chat = wa_inbound_.has_chat(inbox, *forms.pn);
    if (forms.lid) forms.lid_has_chat = wa_inbound_.has_chat(inbox, *forms.lid);
    return bridge::chat_identity(forms);
}

std::optional<std::string> SendDesk::take(const std::string& id, const ipc::SendCommand& c,
                                          int64_t created_at)
{
    if (sends_.find(id)) {
        return std::nullopt;   // taken by an earlier helper
    }
    const int64_t now = clock_();
    store::ApiSend s;
    s.id = id;
    s.inbox = c.inbox;
    s.chat = c.to;
    s.text = c.text;
    s.idem_key = c.key;
    s.created_at = created_at > 0 ? created_at : now;
    s.updated_at = now;
    if (!c.key.empty()) {
        if (auto first = sends_.first_with_key(c.key, now - kKeyTtl)) {
            s.duplicate_of = first->id;
            store::UnitOfWork unit(db_);
            sends_.add(s);
            unit.commit();
            log(LogLevel::info,
                "chatwoot helper: send %s repeats the idempotency key of send %s: nothing "
                "is sent again",
                id.c_str(), first->id.c_str());
            return std::nullopt;
        }
    }
    SendInbox* inbox = find_inbox_(c.inbox);
    if (inbox == nullptr) {
        // A worker only names its location's inbox: a configuration that
        // changed under it.  Failed, never left hanging.
        s.state = "failed";
        s.reason = "no inbox named \"" + c.inbox + "\"";
        store::UnitOfWork unit(db_);
        sends_.add(s);
        unit.commit();
        return std::nullopt;
    }
    {
        store::UnitOfWork unit(db_);
        sends_.add(s);
        unit.commit();
    }
    if (auto filed = sends_.find(id); filed && inbox->ready()) {
        start(*filed, *inbox);
    }
    return std::nullopt;
}

bool SendDesk::start(store::ApiSend& s, SendInbox& inbox)
{
    if (!inbox.has_device()) {
        settle(s, "failed", "the inbox \"" + s.inbox + "\" has no WhatsApp device");
        return true;
    }
    if (!s.chat.ends_with("@s.whatsapp.net") || checked_.contains(s.id)) {
        return file_for_chatwoot(s, inbox);
    }
    if (auto it = checking_.find(s.id); it != checking_.end()) {
        if (clock_() - it->second < kCheckWait) {
            return false;
        }
        // No answer in time: the send path looks the number up again.
        checking_.erase(it);
        checked_.insert(s.id);
        return file_for_chatwoot(s, inbox);
    }
    checking_.emplace(s.id, clock_());
    std::weak_ptr<SendDesk*> weak = self_;
    inbox.check_number(s.chat, [weak, id = s.id](NumberCheck how) {
        if (auto self = weak.lock()) {
            (*self)->on_checked(id, how);
        }
    });
    return true;
}

void SendDesk::on_checked(const std::string& id, NumberCheck how)
{
    try {
        if (checking_.erase(id) == 0) {
            return;   // given up on already
        }
        auto s = sends_.find(id);
        if (!s || s->state != "queued") {
            return;
        }
        if (how == NumberCheck::not_on_whatsapp) {
            settle(*s, "failed", std::string(kNotOnWhatsApp));
            return;
        }
        checked_.insert(id);
        SendInbox* inbox = find_inbox_(s->inbox);
        if (inbox != nullptr && inbox->ready()) {
            file_for_chatwoot(*s, *inbox);
        }
    } catch (const std::exception& e) {
        // The row stays queued: the next pass files it (checked_ holds).
        log(LogLevel::error, "chatwoot helper: send %s: %s", id.c_str(), e.what());
    }
}

bool SendDesk::file_for_chatwoot(store::ApiSend& s, SendInbox& inbox)
{
    std::string wa_id = inbox.new_message_id();
    if (wa_id.empty()) {
        return false;
    }
    const int64_t now = clock_();
    bridge::WaMessage m;
    m.id = wa_id;
    m.chat = identity(s.inbox, s.chat);
    m.from_me = true;
    m.text = s.text;
    m.timestamp = now;
    store::UnitOfWork unit(db_);
    wa_inbound_.add(s.inbox, m.id, m.chat, bridge::to_json(m), now);
    s.chat = m.chat;
    s.wa_id = wa_id;
    s.state = "posting";
    s.updated_at = now;
    sends_.update(s);
    unit.commit();
    log(LogLevel::info, "chatwoot helper: send %s goes as WhatsApp message %s",
        s.id.c_str(), s.wa_id.c_str());
    inbox.forward(s.chat);
    return true;
}

std::string SendDesk::outbox_record(const store::ApiSend& s, SendInbox& inbox,
                                    int64_t conversation_id, int64_t message_id)
{
    // The record a message_created webhook of this message would have made
    // (webhook_event.hpp), without a sender: an application signs nothing.
    bridge::WaMessage m;
    m.id = s.wa_id;
    m.chat = s.chat;
    m.from_me = true;
    m.text = s.text;
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("type");
    w.String("send");
    w.Key("message_id");
    w.Int64(message_id);
    w.Key("conversation_id");
    w.Int64(conversation_id);
    w.Key("inbox_id");
    w.Int64(inbox.inbox_id());
    w.Key("account_id");
    w.Int64(inbox.account_id());
    const std::string content = bridge::ForwardJob::chatwoot_content(m);
    w.Key("content");
    w.String(content.data(), static_cast<rapidjson::SizeType>(content.size()));
    w.Key("source_id_of_contact");
    w.String(s.chat.data(), static_cast<rapidjson::SizeType>(s.chat.size()));
    w.EndObject();
    return webhook::make_queued_webhook(
        s.inbox, store::ReconciliationRepository::delivery_id(s.inbox, message_id), clock_(),
        std::string_view(sb.GetString(), sb.GetSize()));
}

void SendDesk::settle(store::ApiSend& s, std::string state, std::string reason)
{
    s.state = std::move(state);
    s.reason = std::move(reason);
    s.updated_at = clock_();
    sends_.update(s);
    if (s.state == "failed") {
        log(LogLevel::info, "chatwoot helper: send %s failed: %s", s.id.c_str(),
            s.reason.c_str());
    } else {
        log(LogLevel::info, "chatwoot helper: send %s is %s", s.id.c_str(), s.state.c_str());
    }
}

bool SendDesk::step(store::ApiSend& s)
{
    SendInbox* inbox = find_inbox_(s.inbox);
    if (s.state == "queued") {
        return inbox != nullptr && inbox->ready() && start(s, *inbox);
    }
    checked_.erase(s.id);
    if (s.state == "posting") {
        auto f = sends_.forwarded(s.inbox, s.wa_id);
        if (!f || f->state == "pending") {
            return false;
        }
        if (f->state != "posted" || !f->chatwoot_message_id) {
            settle(s, "failed",
                   "Chatwoot did not take the message: "
                       + (f->failure.empty() ? std::string("refused") : f->failure));
            return true;
        }
        const auto conversation = sends_.conversation_of(s.inbox, s.chat);
        if (inbox == nullptr || !conversation) {
            return false;   // the runtime is down; it comes back
        }
        const int64_t message_id = *f->chatwoot_message_id;
        store::ReconciledReply r;
        r.message_id = message_id;
        r.action = "send";
        r.conversation_id = *conversation;
        r.kind = CW_RECORD_WEBHOOK;
        r.record = outbox_record(s, *inbox, *conversation, message_id);
        store::UnitOfWork unit(db_);
        marks_.file_replies(inbound_, outbox_, s.inbox, std::span(&r, 1), clock_());
        const auto entry = sends_.outbox_entry(s.inbox, message_id);
        if (!entry) {
            return false;   // rolled back: tried again on the next pass
        }
        // In flight under the id the message was posted with: the sender
        // sends it as it resends after a crash, never under a new id.
        outbox_.begin_send(*entry, s.wa_id);
        s.outbox_id = entry;
        s.chatwoot_message_id = message_id;
        s.state = "sending";
        s.updated_at = clock_();
        sends_.update(s);
        unit.commit();
        inbox->wake_outbox();
        return true;
    }
    if (s.state == "sending" && s.outbox_id) {
        auto o = sends_.outbox_facts(*s.outbox_id);
        if (!o) {
            settle(s, "failed", "the outbox entry is gone");
            return true;
        }
        if (o->state == "sent") {
            settle(s, "sent");
            return true;
        }
        if (o->state == "failed") {
            settle(s, "failed", readable(o->failure));
            return true;
        }
    }
    return false;
}

bool SendDesk::advance()
{
    bool moved = false;
    for (auto& s : sends_.open(kOpenPerPass)) {
        try {
            moved = step(s) || moved;
        } catch (const std::exception& e) {
            // One send's trouble (the store busy) holds no other back; the
            // next pass tries again.
            log(LogLevel::error, "chatwoot helper: send %s: %s", s.id.c_str(), e.what());
        }
    }
    return moved;
}

void SendDesk::publish(cw_send_table_t* table)
{
    auto rows = sends_.recent(CW_SEND_SLOTS);
    std::unordered_map<std::string, const store::ApiSend*> by_id;
    for (const auto& r : rows) {
        by_id.emplace(r.id, &r);
    }
    std::optional<store::ApiSend> older;   // a duplicate's first, past the window
    for (const auto& r : rows) {
        const store::ApiSend* shown = &r;
        if (!r.duplicate_of.empty()) {
            auto it = by_id.find(r.duplicate_of);
            if (it != by_id.end()) {
                shown = it->second;
            } else if ((older = sends_.find(r.duplicate_of))) {
                shown = &*older;
            }
        }
        cw_send_slot_t slot{};
        slot.state = public_state(shown->state);
        slot.created_at = static_cast<uint64_t>(r.created_at);
        slot.updated_at = static_cast<uint64_t>(std::max(r.updated_at, shown->updated_at));
        slot.chatwoot_message_id =
            static_cast<uint64_t>(shown->chatwoot_message_id.value_or(0));
        ipc::copy_text(slot.id, sizeof slot.id, r.id);
        ipc::copy_text(slot.wa_id, sizeof slot.wa_id, shown->wa_id);
        ipc::copy_text(slot.reason, sizeof slot.reason, shown->reason);
        std::string key(reinterpret_cast<const char*>(&slot), sizeof slot);
        auto& last = shown_[r.row];
        if (last == key) {
            continue;
        }
        cw_send_publish(table, static_cast<size_t>(r.row) % CW_SEND_SLOTS, &slot);
        last = std::move(key);
    }
    // Rows that left the window no longer need remembering.
    if (shown_.size() > 2 * CW_SEND_SLOTS && !rows.empty()) {
        const int64_t oldest = rows.back().row;
        std::erase_if(shown_, [&](const auto& kv) { return kv.first < oldest; });
    }
    if (!rows.empty()) {
        uint64_t epoch = 0, seq = 0;
        if (id_position(rows.front().id, &epoch, &seq)) {
            cw_send_taken(table, epoch, seq);
        }
    }
}

}  // namespace chatwoot::helper
