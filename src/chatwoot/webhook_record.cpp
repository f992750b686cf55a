#include "webhook_record.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace chatwoot::webhook {

namespace {

const rapidjson::Value* member(const rapidjson::Value& obj, const char* name)
{
    auto it = obj.FindMember(name);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

std::optional<QueuedWebhook> read_queued_webhook(std::string_view record)
{
    rapidjson::Document doc;
    doc.Parse(record.data(), record.size());
    if (doc.HasParseError() || !doc.IsObject()) {
        return std::nullopt;
    }
    const auto* inbox = member(doc, "inbox");
    const auto* delivery = member(doc, "delivery");
    const auto* event = member(doc, "event");
    if (!inbox || !inbox->IsString() || !delivery
        || !(delivery->IsString() || delivery->IsNull()) || !event
        || !event->IsObject())
    {
        return std::nullopt;
    }
    const auto* type = member(*event, "type");
    const auto* conversation = member(*event, "conversation_id");
    if (!type || !type->IsString() || !conversation || !conversation->IsInt64()) {
        return std::nullopt;
    }

    QueuedWebhook q;
    q.inbox.assign(inbox->GetString(), inbox->GetStringLength());
    if (delivery->IsString()) {
        q.delivery.assign(delivery->GetString(), delivery->GetStringLength());
    }
    q.action.assign(type->GetString(), type->GetStringLength());
    q.conversation_id = conversation->GetInt64();
    if (const auto* id = member(*event, "message_id")) {
        if (!id->IsInt64()) {
            return std::nullopt;
        }
        q.message_id = id->GetInt64();
    }
    if ((q.action == "send" || q.action == "delete") && !q.message_id) {
        return std::nullopt;
    }
    return q;
}

}  // namespace chatwoot::webhook
