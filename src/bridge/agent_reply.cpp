#include "agent_reply.hpp"

#include "jid.hpp"
#include "whatsapp_markdown.hpp"

#include <rapidjson/document.h>

namespace chatwoot::bridge {

namespace {

std::string string_at(const rapidjson::Value& obj, const char* key)
{
    if (!obj.IsObject()) {
        return {};
    }
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsString()) {
        return {};
    }
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

}  // namespace

std::optional<AgentReply> agent_reply(std::string_view record,
                                      const SignatureOptions& signature,
                                      std::string* error)
{
    rapidjson::Document doc;
    doc.Parse(record.data(), record.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("event")) {
        *error = "not a queued webhook record";
        return std::nullopt;
    }
    const rapidjson::Value& event = doc["event"];

    auto jid = Jid::parse(string_at(event, "source_id_of_contact"));
    if (!jid || jid->has_device()) {
        *error = "the conversation's contact is no WhatsApp chat";
        return std::nullopt;
    }

    AgentReply reply;
    reply.chat = jid->to_string();
    reply.text = chatwoot_to_whatsapp(string_at(event, "content"));

    // Attachments go as their links until media sending lands.
    if (event.HasMember("attachments") && event["attachments"].IsArray()) {
        for (const auto& a : event["attachments"].GetArray()) {
            std::string url = string_at(a, "data_url");
            if (!url.empty()) {
                reply.text += reply.text.empty() ? url : "\n" + url;
            }
        }
    }
    if (reply.text.empty()) {
        *error = "the reply has neither text nor attachments";
        return std::nullopt;
    }

    if (signature.enabled && event.HasMember("sender")) {
        std::string name = string_at(event["sender"], "name");
        if (!name.empty()) {
            reply.text = "*" + name + ":*" + signature.delimiter + reply.text;
        }
    }

    if (event.HasMember("reply_to")) {
        std::string quoted = string_at(event["reply_to"], "external_id");
        if (quoted.starts_with("WAID:") && quoted.size() > 5) {
            reply.quoted = quoted.substr(5);
        }
    }
    return reply;
}

}  // namespace chatwoot::bridge
