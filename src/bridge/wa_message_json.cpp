#include "wa_message_json.hpp"

#include "jid.hpp"

#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace chatwoot::bridge {

namespace {

constexpr size_t kMaxText = 65536;
constexpr size_t kMaxId = 128;
constexpr size_t kMaxAttachments = 16;
constexpr size_t kMaxPath = 4096;
constexpr size_t kMaxTargets = 256;

const char* kind_name(WaMessage::Kind k)
{
    switch (k) {
    case WaMessage::Kind::reaction: return "reaction";
    case WaMessage::Kind::revoke: return "revoke";
    case WaMessage::Kind::edit: return "edit";
    case WaMessage::Kind::read: return "read";
    case WaMessage::Kind::message: break;
    }
    return "message";
}

bool read_string(const rapidjson::Value& doc, const char* key, bool required,
                 size_t max, std::string* out, std::string* error)
{
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || it->value.IsNull()) {
        if (required) {
            *error = std::string("missing field ") + key;
            return false;
        }
        return true;
    }
    if (!it->value.IsString()) {
        *error = std::string("field ") + key + " is not a string";
        return false;
    }
    if (it->value.GetStringLength() > max) {
        *error = std::string("field ") + key + " is too long";
        return false;
    }
    out->assign(it->value.GetString(), it->value.GetStringLength());
    return true;
}

std::string to_hex(std::string_view bytes)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

bool from_hex(std::string_view hex, std::string* out)
{
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    if (hex.size() % 2 != 0) return false;
    out->clear();
    for (size_t i = 0; i < hex.size(); i += 2) {
        const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out->push_back(static_cast<char>(hi * 16 + lo));
    }
    return true;
}

// "media": the download's facts; byte fields in lower-case hex, a key of 32
// bytes, hashes of 32 bytes or none.
bool read_media(const rapidjson::Value& doc, std::optional<WaMedia>* out, std::string* error)
{
    auto it = doc.FindMember("media");
    if (it == doc.MemberEnd() || it->value.IsNull()) {
        return true;
    }
    if (!it->value.IsObject()) {
        *error = "field media is not an object";
        return false;
    }
    const auto& v = it->value;
    WaMedia m;
    std::string key, sha, enc;
    if (!read_string(v, "type", true, 32, &m.type, error)
        || !read_string(v, "key", true, 64, &key, error)
        || !read_string(v, "sha256", false, 64, &sha, error)
        || !read_string(v, "enc_sha256", false, 64, &enc, error)
        || !read_string(v, "direct_path", false, kMaxPath, &m.direct_path, error)
        || !read_string(v, "url", false, kMaxPath, &m.url, error)
        || !read_string(v, "mime", false, 256, &m.mimetype, error)
        || !read_string(v, "name", false, 1024, &m.file_name, error)
        || !read_string(v, "caption", false, kMaxText, &m.caption, error))
    {
        return false;
    }
    if (!from_hex(key, &m.media_key) || m.media_key.size() != 32
        || !from_hex(sha, &m.file_sha256) || (!sha.empty() && m.file_sha256.size() != 32)
        || !from_hex(enc, &m.file_enc_sha256) || (!enc.empty() && m.file_enc_sha256.size() != 32))
    {
        *error = "field media holds a key or hash that is not 32 bytes of hex";
        return false;
    }
    if (auto len = v.FindMember("length"); len != v.MemberEnd() && !len->value.IsNull()) {
        if (!len->value.IsUint64()) {
            *error = "field media.length is not a size";
            return false;
        }
        m.file_length = len->value.GetUint64();
    }
    *out = std::move(m);
    return true;
}

bool read_attachments(const rapidjson::Value& doc, std::vector<rest::Attachment>* out,
                      std::string* error)
{
    auto it = doc.FindMember("attachments");
    if (it == doc.MemberEnd() || it->value.IsNull()) {
        return true;
    }
    if (!it->value.IsArray() || it->value.Size() > kMaxAttachments) {
        *error = "field attachments is not an array of at most 16 objects";
        return false;
    }
    for (const auto& a : it->value.GetArray()) {
        if (!a.IsObject()) {
            *error = "an attachment is not an object";
            return false;
        }
        rest::Attachment att;
        if (!read_string(a, "file", true, kMaxPath, &att.path, error)
            || !read_string(a, "mime", true, 255, &att.mime, error)
            || !read_string(a, "name", false, 255, &att.file_name, error))
        {
            *error = "attachment: " + *error;
            return false;
        }
        // A mime type is "type/subtype" and must not break the multipart
        // header it is written into.
        if (att.path.empty() || att.mime.find('/') == std::string::npos
            || att.mime.find_first_of("\r\n\"") != std::string::npos
            || att.file_name.find_first_of("\r\n\"/") != std::string::npos)
        {
            *error = "attachment: bad file, mime or name";
            return false;
        }
        if (att.file_name.empty()) {
            att.file_name = att.path.substr(att.path.find_last_of('/') + 1);
        }
        out->push_back(std::move(att));
    }
    return true;
}

}  // namespace

std::optional<WaMessage> parse_wa_message(std::string_view json, std::string* error)
{
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
    if (doc.HasParseError() || !doc.IsObject()) {
        *error = "not a JSON object";
        return std::nullopt;
    }
    WaMessage m;
    std::string reply;
    std::string kind;
    if (!read_string(doc, "kind", false, 16, &kind, error)) {
        return std::nullopt;
    }
    if (kind.empty() || kind == "message") {
        m.kind = WaMessage::Kind::message;
    } else if (kind == "reaction") {
        m.kind = WaMessage::Kind::reaction;
    } else if (kind == "revoke") {
        m.kind = WaMessage::Kind::revoke;
    } else if (kind == "edit") {
        m.kind = WaMessage::Kind::edit;
    } else if (kind == "read") {
        m.kind = WaMessage::Kind::read;
    } else {
        *error = "field kind is not a known kind";
        return std::nullopt;
    }
    const bool plain = m.kind == WaMessage::Kind::message;
    if (!read_string(doc, "id", true, kMaxId, &m.id, error)
        || !read_string(doc, "chat", true, kMaxJidLength, &m.chat, error)
        || !read_attachments(doc, &m.attachments, error)
        || !read_media(doc, &m.media, error)
        || !read_string(doc, "text", plain && m.attachments.empty(), kMaxText, &m.text, error)
        || !read_string(doc, "target", !plain && m.kind != WaMessage::Kind::read, kMaxId,
                        &m.target, error)
        || !read_string(doc, "sender", false, kMaxJidLength, &m.sender, error)
        || !read_string(doc, "push_name", false, 256, &m.push_name, error)
        || !read_string(doc, "wa_chat", false, kMaxJidLength, &m.wa_chat, error)
        || !read_string(doc, "wa_sender", false, kMaxJidLength, &m.wa_sender, error)
        || !read_string(doc, "chat_name", false, 256, &m.chat_name, error)
        || !read_string(doc, "reply_to", false, kMaxId, &reply, error))
    {
        return std::nullopt;
    }
    if (m.id.empty()) {
        *error = "field id is empty";
        return std::nullopt;
    }
    auto jid = Jid::parse(m.chat);
    if (!jid || jid->has_device()) {
        *error = "field chat is not a chat JID";
        return std::nullopt;
    }
    m.chat = jid->to_string();
    if (m.sender.empty()) {
        m.sender = m.chat;
    }
    if (!reply.empty()) {
        m.reply_to = reply;
    }
    if (m.kind == WaMessage::Kind::read) {
        auto it = doc.FindMember("targets");
        if (it == doc.MemberEnd() || !it->value.IsArray() || it->value.Empty()
            || it->value.Size() > kMaxTargets)
        {
            *error = "field targets is not an array of 1 to 256 ids";
            return std::nullopt;
        }
        for (const auto& v : it->value.GetArray()) {
            if (!v.IsString() || v.GetStringLength() == 0 || v.GetStringLength() > kMaxId) {
                *error = "field targets holds something other than an id";
                return std::nullopt;
            }
            m.targets.emplace_back(v.GetString(), v.GetStringLength());
        }
    }
    if (auto it = doc.FindMember("t"); it != doc.MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsInt64() || it->value.GetInt64() < 0) {
            *error = "field t is not a timestamp";
            return std::nullopt;
        }
        m.timestamp = it->value.GetInt64();
    }
    if (auto it = doc.FindMember("from_me"); it != doc.MemberEnd()) {
        if (!it->value.IsBool()) {
            *error = "field from_me is not a boolean";
            return std::nullopt;
        }
        m.from_me = it->value.GetBool();
    }
    return m;
}

std::string to_json(const WaMessage& m)
{
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&](const char* key, const std::string& v) {
        w.Key(key);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    if (m.kind != WaMessage::Kind::message) {
        w.Key("kind");
        w.String(kind_name(m.kind));
    }
    str("id", m.id);
    str("chat", m.chat);
    str("sender", m.sender);
    str("push_name", m.push_name);
    str("chat_name", m.chat_name);
    w.Key("from_me");
    w.Bool(m.from_me);
    str("text", m.text);
    w.Key("reply_to");
    if (m.reply_to) {
        w.String(m.reply_to->data(), static_cast<rapidjson::SizeType>(m.reply_to->size()));
    } else {
        w.Null();
    }
    if (!m.wa_chat.empty() && m.wa_chat != m.chat) {
        str("wa_chat", m.wa_chat);
    }
    if (!m.wa_sender.empty() && m.wa_sender != m.sender) {
        str("wa_sender", m.wa_sender);
    }
    if (!m.target.empty()) {
        str("target", m.target);
    }
    if (!m.targets.empty()) {
        w.Key("targets");
        w.StartArray();
        for (const auto& t : m.targets) {
            w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
        }
        w.EndArray();
    }
    if (m.timestamp != 0) {
        w.Key("t");
        w.Int64(m.timestamp);
    }
    if (!m.attachments.empty()) {
        w.Key("attachments");
        w.StartArray();
        for (const auto& a : m.attachments) {
            w.StartObject();
            str("file", a.path);
            str("mime", a.mime);
            str("name", a.file_name);
            w.EndObject();
        }
        w.EndArray();
    }
    if (m.media) {
        const WaMedia& d = *m.media;
        w.Key("media");
        w.StartObject();
        str("type", d.type);
        str("key", to_hex(d.media_key));
        if (!d.file_sha256.empty()) str("sha256", to_hex(d.file_sha256));
        if (!d.file_enc_sha256.empty()) str("enc_sha256", to_hex(d.file_enc_sha256));
        if (d.file_length) {
            w.Key("length");
            w.Uint64(*d.file_length);
        }
        if (!d.direct_path.empty()) str("direct_path", d.direct_path);
        if (!d.url.empty()) str("url", d.url);
        if (!d.mimetype.empty()) str("mime", d.mimetype);
        if (!d.file_name.empty()) str("name", d.file_name);
        if (!d.caption.empty()) str("caption", d.caption);
        w.EndObject();
    }
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace chatwoot::bridge
