#include "outbox_reconciliation.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace chatwoot::bridge {

namespace {

using rapidjson::Document;
using rapidjson::Value;

constexpr size_t kConversationsPerPage = 25;   // Chatwoot's default page size
constexpr int kOutgoing = 1;
constexpr int kTemplate = 3;

const Value* member(const Value& v, const char* name)
{
    if (!v.IsObject()) {
        return nullptr;
    }
    auto it = v.FindMember(name);
    return it == v.MemberEnd() ? nullptr : &it->value;
}

int64_t integer_at(const Value& v, const char* name, int64_t fallback = -1)
{
    const Value* m = member(v, name);
    return m != nullptr && m->IsInt64() ? m->GetInt64() : fallback;
}

std::string string_at(const Value& v, const char* name)
{
    const Value* m = member(v, name);
    return m != nullptr && m->IsString() ? std::string(m->GetString(), m->GetStringLength())
                                         : std::string();
}

// What the webhook path would have queued: an agent's public reply (or a
// template) that is not our own post of a WhatsApp message, not failed and
// not deleted.
bool is_agent_reply(const Value& m)
{
    const int64_t type = integer_at(m, "message_type");
    if (type != kOutgoing && type != kTemplate) {
        return false;
    }
    const Value* is_private = member(m, "private");
    if (is_private == nullptr || !is_private->IsBool() || is_private->GetBool()) {
        return false;
    }
    if (string_at(m, "source_id").starts_with("WAID:") || string_at(m, "status") == "failed") {
        return false;
    }
    const Value* attrs = member(m, "content_attributes");
    const Value* deleted = attrs != nullptr ? member(*attrs, "deleted") : nullptr;
    return !(deleted != nullptr && deleted->IsBool() && deleted->GetBool());
}

}  // namespace

OutboxReconciliation::OutboxReconciliation(int64_t account_id, int64_t inbox_id, int64_t since,
                                           rest::Api api, Limits limits)
    : account_id_(account_id), inbox_id_(inbox_id), since_(since), api_(api), limits_(limits)
{
    request_ = api_.inbox_conversations(inbox_id_, page_);
}

void OutboxReconciliation::fail(std::string why)
{
    failure_ = std::move(why);
    state_ = State::failed;
}

void OutboxReconciliation::on_answer(const rest::Classification& c, std::string_view body)
{
    if (state_ != State::request) {
        return;
    }
    if (c.not_found() && !listing_conversations_) {
        next_conversation();   // deleted meanwhile: nothing to send there
        return;
    }
    if (c.outcome != rest::Outcome::success) {
        fail((listing_conversations_ ? "listing conversations: " : "listing messages: ")
             + c.reason);
        return;
    }
    if (listing_conversations_) {
        on_conversations(body);
    } else {
        on_messages(body);
    }
}

void OutboxReconciliation::on_conversations(std::string_view body)
{
    Document doc;
    doc.Parse(body.data(), body.size());
    const Value* data = doc.HasParseError() ? nullptr : member(doc, "data");
    const Value* payload = data != nullptr ? member(*data, "payload") : nullptr;
    if (payload == nullptr || !payload->IsArray()) {
        fail("the conversation list's answer has no data.payload list");
        return;
    }
    bool older_than_since = false;
    for (const auto& conv : payload->GetArray()) {
        // Most recently active first: the first one quiet since before the
        // watermark ends the list.
        if (integer_at(conv, "last_activity_at", 0) < since_) {
            older_than_since = true;
            break;
        }
        const int64_t id = integer_at(conv, "id");
        if (id <= 0 || integer_at(conv, "inbox_id") != inbox_id_) {
            continue;
        }
        // The last message's push data carries the contact_inbox source
        // id, which the reply's chat is read from (CONTRACT 4.4).
        std::string source_id;
        const Value* last = member(conv, "messages");
        if (last != nullptr && last->IsArray() && !last->Empty()) {
            const Value* c = member((*last)[0], "conversation");
            const Value* ci = c != nullptr ? member(*c, "contact_inbox") : nullptr;
            source_id = ci != nullptr ? string_at(*ci, "source_id") : std::string();
        }
        conversations_.push_back({id, std::move(source_id)});
    }
    if (!older_than_since && payload->Size() >= kConversationsPerPage
        && page_ < limits_.max_conversation_pages)
    {
        request_ = api_.inbox_conversations(inbox_id_, ++page_);
        return;
    }
    listing_conversations_ = false;
    next_conversation();
}

void OutboxReconciliation::next_conversation()
{
    pending_.clear();
    message_pages_ = 0;
    if (next_ >= conversations_.size()) {
        state_ = State::done;
        return;
    }
    conversations_seen_++;
    request_ = api_.list_messages(conversations_[next_++].id);
    state_ = State::request;
}

void OutboxReconciliation::on_messages(std::string_view body)
{
    Document doc;
    doc.Parse(body.data(), body.size());
    const Value* payload = doc.HasParseError() ? nullptr : member(doc, "payload");
    if (payload == nullptr || !payload->IsArray()) {
        fail("the message list's answer has no payload list");
        return;
    }
    const int64_t conversation = conversations_[next_ - 1].id;
    std::string source_id = conversations_[next_ - 1].contact_source_id;
    const Value* meta = member(doc, "meta");
    const Value* contact = meta != nullptr ? member(*meta, "contact") : nullptr;
    if (source_id.empty() && contact != nullptr) {
        source_id = string_at(*contact, "identifier");   // ours are the chat JID
    }
    if (source_id.starts_with("bridge:")) {
        // The control conversation: agents' commands, never replies to
        // send (the helper takes them from their webhooks).
        next_conversation();
        return;
    }

    // A page is oldest first; walk it newest first so pending_ stays in
    // newest-first order across pages.
    int64_t oldest_id = -1;
    bool reached_since = false;
    const auto list = payload->GetArray();
    for (auto it = list.end(); it != list.begin();) {
        const Value& m = *--it;
        oldest_id = integer_at(m, "id", oldest_id);
        if (integer_at(m, "created_at", 0) < since_) {
            reached_since = true;
            continue;
        }
        if (!is_agent_reply(m)) {
            continue;
        }
        // The webhook Chatwoot would have sent for it (CONTRACT section 2).
        Document event(rapidjson::kObjectType);
        auto& a = event.GetAllocator();
        event.AddMember("event", "message_created", a);
        // created_at stays out: webhooks carry it as text, REST as a number.
        for (const char* key : {"id", "content", "private", "source_id", "content_type",
                                "content_attributes", "sender", "attachments"}) {
            if (const Value* v = member(m, key)) {
                event.AddMember(Value(key, a), Value(*v, a), a);
            }
        }
        event.AddMember("message_type",
                        integer_at(m, "message_type") == kTemplate ? "template" : "outgoing", a);
        Value account(rapidjson::kObjectType);
        account.AddMember("id", account_id_, a);
        event.AddMember("account", account, a);
        Value conv(rapidjson::kObjectType);
        conv.AddMember("id", conversation, a);
        conv.AddMember("inbox_id", inbox_id_, a);
        if (contact != nullptr && contact->IsObject()) {
            Value meta_out(rapidjson::kObjectType);
            meta_out.AddMember("sender", Value(*contact, a), a);
            conv.AddMember("meta", meta_out, a);
        }
        if (!source_id.empty()) {
            Value ci(rapidjson::kObjectType);
            ci.AddMember("source_id", Value(source_id.c_str(), a), a);
            conv.AddMember("contact_inbox", ci, a);
        }
        event.AddMember("conversation", conv, a);
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        event.Accept(w);
        pending_.emplace_back(buf.GetString(), buf.GetSize());
    }
    if (!reached_since && !list.Empty() && oldest_id > 0
        && ++message_pages_ < limits_.max_message_pages)
    {
        request_ = api_.list_messages(conversation, oldest_id);
        return;
    }
    found_.insert(found_.end(), pending_.rbegin(), pending_.rend());
    next_conversation();
}

}  // namespace chatwoot::bridge
