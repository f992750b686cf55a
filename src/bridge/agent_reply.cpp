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

// The file name an ActiveStorage URL ends in (".../redirect/<signed id>/<name>"),
// percent-decoded, without its query; "attachment" when there is none.
std::string attachment_file_name(const std::string& url)
{
    std::string path = url.substr(0, url.find_first_of("?#"));
    const auto slash = path.rfind('/');
    std::string raw = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string name;
    for (size_t i = 0; i < raw.size(); i++) {
        auto hex = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
            name += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
            i += 2;
        } else {
            name += raw[i];
        }
    }
    // Never a path: WhatsApp shows the name, the media store never uses it.
    for (char& c : name) {
        if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
    }
    if (name.empty() || name == "." || name == "..") name = "attachment";
    return name.substr(0, 255);
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
    reply.caption = reply.text;

    if (event.HasMember("attachments") && event["attachments"].IsArray()) {
        for (const auto& a : event["attachments"].GetArray()) {
            std::string url = string_at(a, "data_url");
            if (url.empty()) {
                continue;
            }
            // The links, for a device that sends no media.
            reply.text += reply.text.empty() ? url : "\n" + url;
            const std::string type = string_at(a, "file_type");
            if (type == "image" || type == "audio" || type == "video" || type == "file") {
                AgentAttachment att;
                att.data_url = url;
                att.file_type = type;
                att.content_type = string_at(a, "content_type");
                att.file_name = attachment_file_name(url);
                if (a.HasMember("file_size") && a["file_size"].IsInt64()) {
                    att.file_size = a["file_size"].GetInt64();
                }
                reply.attachments.push_back(std::move(att));
            } else {
                // A location, a share, ...: no file to send, its link is text.
                reply.caption += reply.caption.empty() ? url : "\n" + url;
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
            // Attachments alone still say who sent them.
            reply.caption = reply.caption.empty()
                                ? "*" + name + ":*"
                                : "*" + name + ":*" + signature.delimiter + reply.caption;
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
