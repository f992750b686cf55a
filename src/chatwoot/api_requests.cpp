#include "api_requests.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace chatwoot::rest {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(Writer& w, std::string_view s)
{
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string finish(const rapidjson::StringBuffer& buf)
{
    return std::string(buf.GetString(), buf.GetSize());
}

// --- reading answers --------------------------------------------------------

using Value = rapidjson::Value;

const Value* member(const Value& obj, const char* name)
{
    if (!obj.IsObject()) {
        return nullptr;
    }
    auto it = obj.FindMember(name);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

// Reads what a field must be, or records why not.
class Reader {
public:
    bool failed() const { return !error.empty(); }

    const Value* object(const Value& v, const char* name)
    {
        const Value* m = member(v, name);
        if (!m || !m->IsObject()) {
            fail(name, "an object");
            return nullptr;
        }
        return m;
    }
    const Value* array(const Value& v, const char* name)
    {
        const Value* m = member(v, name);
        if (!m || !m->IsArray()) {
            fail(name, "an array");
            return nullptr;
        }
        return m;
    }
    int64_t integer(const Value& v, const char* name)
    {
        const Value* m = member(v, name);
        if (!m || !m->IsInt64()) {
            fail(name, "an integer");
            return 0;
        }
        return m->GetInt64();
    }
    // An integer that may be null or absent (then 0).
    int64_t optional_integer(const Value& v, const char* name)
    {
        const Value* m = member(v, name);
        if (!m || m->IsNull()) {
            return 0;
        }
        if (!m->IsInt64()) {
            fail(name, "an integer");
            return 0;
        }
        return m->GetInt64();
    }
    // A string that may be null or absent (then empty).
    std::string optional_string(const Value& v, const char* name)
    {
        const Value* m = member(v, name);
        if (!m || m->IsNull()) {
            return {};
        }
        if (!m->IsString()) {
            fail(name, "a string");
            return {};
        }
        return std::string(m->GetString(), m->GetStringLength());
    }
    std::string string(const Value& v, const char* name)
    {
        const Value* m = member(v, name);
        if (!m || !m->IsString()) {
            fail(name, "a string");
            return {};
        }
        return std::string(m->GetString(), m->GetStringLength());
    }
    bool boolean(const Value& v, const char* name)
    {
        const Value* m = member(v, name);
        if (!m || !m->IsBool()) {
            fail(name, "a boolean");
            return false;
        }
        return m->GetBool();
    }

    std::string error;

private:
    void fail(const char* name, const char* what)
    {
        if (error.empty()) {
            error = std::string("field ") + name + " is not " + what;
        }
    }
};

template <typename T, typename F>
Parsed<T> parse_with(std::string_view body, F&& read)
{
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError()) {
        return {std::nullopt,
                "malformed JSON at offset " + std::to_string(doc.GetErrorOffset())};
    }
    Reader r;
    T value = read(r, static_cast<const Value&>(doc));
    if (r.failed()) {
        return {std::nullopt, r.error};
    }
    return {std::move(value), {}};
}

Contact read_contact(Reader& r, const Value& v)
{
    Contact c;
    c.id = r.integer(v, "id");
    c.name = r.optional_string(v, "name");
    c.identifier = r.optional_string(v, "identifier");
    c.phone_number = r.optional_string(v, "phone_number");
    if (const Value* inboxes = member(v, "contact_inboxes"); inboxes && inboxes->IsArray()) {
        for (const auto& ci : inboxes->GetArray()) {
            const Value* inbox = r.object(ci, "inbox");
            if (!inbox) {
                break;
            }
            c.inboxes.emplace_back(r.integer(*inbox, "id"),
                                   r.optional_string(ci, "source_id"));
        }
    }
    return c;
}

Conversation read_conversation(Reader& r, const Value& v)
{
    Conversation c;
    c.id = r.integer(v, "id");
    c.inbox_id = r.integer(v, "inbox_id");
    c.status = r.string(v, "status");
    if (const Value* meta = member(v, "meta")) {
        if (const Value* sender = member(*meta, "sender"); sender && sender->IsObject()) {
            c.contact_id = r.integer(*sender, "id");
        }
    }
    return c;
}

Inbox read_inbox(Reader& r, const Value& v)
{
    Inbox i;
    i.id = r.integer(v, "id");
    i.name = r.string(v, "name");
    i.channel_type = r.string(v, "channel_type");
    return i;
}

Message read_message(Reader& r, const Value& v)
{
    Message m;
    m.id = r.integer(v, "id");
    m.conversation_id = r.integer(v, "conversation_id");
    m.message_type = static_cast<int>(r.integer(v, "message_type"));
    m.source_id = r.optional_string(v, "source_id");
    m.status = r.optional_string(v, "status");
    m.is_private = r.boolean(v, "private");
    m.created_at = r.optional_integer(v, "created_at");
    return m;
}

}  // namespace

std::string query_escape(std::string_view value)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size());
    for (unsigned char c : value) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~')
        {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string Api::base() const
{
    return "/api/v1/accounts/" + std::to_string(account_);
}

Request Api::profile() const
{
    return {"GET", "/api/v1/profile", {}};
}

Request Api::search_contacts(std::string_view query, int page) const
{
    return {"GET",
            base() + "/contacts/search?q=" + query_escape(query)
                + "&page=" + std::to_string(page) + "&include_contact_inboxes=true",
            {}};
}

Request Api::filter_contacts(std::string_view attribute, std::string_view value) const
{
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("payload");
    w.StartArray();
    w.StartObject();
    w.Key("attribute_key");
    put(w, attribute);
    w.Key("filter_operator");
    w.String("equal_to");
    w.Key("values");
    w.StartArray();
    put(w, value);
    w.EndArray();
    w.Key("query_operator");
    w.Null();
    w.EndObject();
    w.EndArray();
    w.EndObject();
    return {"POST", base() + "/contacts/filter?page=1", finish(buf)};
}

Request Api::create_contact(const NewContact& c) const
{
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("inbox_id");
    w.Int64(c.inbox_id);
    w.Key("source_id");
    put(w, c.source_id);
    w.Key("name");
    put(w, c.name);
    w.Key("identifier");
    put(w, c.identifier);
    if (c.phone_number) {
        w.Key("phone_number");
        put(w, *c.phone_number);
    }
    w.EndObject();
    return {"POST", base() + "/contacts", finish(buf)};
}

Request Api::update_contact(int64_t contact_id, std::string_view name,
                            std::optional<std::string_view> phone_number) const
{
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("name");
    put(w, name);
    if (phone_number) {
        w.Key("phone_number");
        put(w, *phone_number);
    }
    w.EndObject();
    return {"PATCH", base() + "/contacts/" + std::to_string(contact_id), finish(buf)};
}

Request Api::contact_conversations(int64_t contact_id) const
{
    return {"GET", base() + "/contacts/" + std::to_string(contact_id) + "/conversations",
            {}};
}

Request Api::create_conversation(int64_t inbox_id, int64_t contact_id,
                                 std::string_view source_id,
                                 std::string_view status) const
{
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("inbox_id");
    w.Int64(inbox_id);
    w.Key("contact_id");
    w.Int64(contact_id);
    w.Key("source_id");
    put(w, source_id);
    if (!status.empty()) {
        w.Key("status");
        put(w, status);
    }
    w.EndObject();
    return {"POST", base() + "/conversations", finish(buf)};
}

Request Api::toggle_status(int64_t conversation_id, std::string_view status) const
{
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("status");
    put(w, status);
    w.EndObject();
    return {"POST",
            base() + "/conversations/" + std::to_string(conversation_id) + "/toggle_status",
            finish(buf)};
}

Request Api::list_inboxes() const
{
    return {"GET", base() + "/inboxes"};
}

Request Api::inbox_conversations(int64_t inbox_id, int page) const
{
    return {"GET", base() + "/conversations?inbox_id=" + std::to_string(inbox_id)
                       + "&status=all&assignee_type=all&page=" + std::to_string(page)};
}

Request Api::create_api_inbox(std::string_view name, std::string_view webhook_url) const
{
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("name");
    put(w, name);
    w.Key("channel");
    w.StartObject();
    w.Key("type");
    w.String("api");
    w.Key("webhook_url");
    put(w, webhook_url);
    w.EndObject();
    w.EndObject();
    return {"POST", base() + "/inboxes", finish(buf)};
}

Request Api::create_message(int64_t conversation_id, const NewMessage& m) const
{
    std::string path =
        base() + "/conversations/" + std::to_string(conversation_id) + "/messages";
    std::string attributes;
    if (m.in_reply_to_external_id || m.in_reply_to) {
        rapidjson::StringBuffer buf;
        Writer w(buf);
        w.StartObject();
        if (m.in_reply_to) {
            w.Key("in_reply_to");
            w.Int64(*m.in_reply_to);
        }
        if (m.in_reply_to_external_id) {
            w.Key("in_reply_to_external_id");
            put(w, *m.in_reply_to_external_id);
        }
        w.EndObject();
        attributes = finish(buf);
    }
    if (!m.attachments.empty()) {
        Request r("POST", std::move(path));
        r.form = {{"content", m.content},
                  {"message_type", m.message_type},
                  {"private", m.is_private ? "true" : "false"},
                  {"source_id", m.source_id}};
        if (!attributes.empty()) {
            r.form.push_back({"content_attributes", attributes});
        }
        for (const auto& a : m.attachments) {
            r.files.push_back({"attachments[]", a.path, a.mime, a.file_name});
        }
        return r;
    }

    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("content");
    put(w, m.content);
    w.Key("message_type");
    put(w, m.message_type);
    w.Key("private");
    w.Bool(m.is_private);
    w.Key("source_id");
    put(w, m.source_id);
    if (!attributes.empty()) {
        w.Key("content_attributes");
        w.RawValue(attributes.data(), attributes.size(), rapidjson::kObjectType);
    }
    w.EndObject();
    return {"POST", std::move(path), finish(buf)};
}

Request Api::list_messages(int64_t conversation_id, std::optional<int64_t> before) const
{
    std::string path =
        base() + "/conversations/" + std::to_string(conversation_id) + "/messages";
    if (before) {
        path += "?before=" + std::to_string(*before);
    }
    return {"GET", std::move(path), {}};
}

Request Api::delete_message(int64_t conversation_id, int64_t message_id) const
{
    return {"DELETE", base() + "/conversations/" + std::to_string(conversation_id)
                          + "/messages/" + std::to_string(message_id)};
}

Request Api::update_message_status(int64_t conversation_id, int64_t message_id,
                                   std::string_view status,
                                   std::string_view external_error) const
{
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("status");
    put(w, status);
    if (!external_error.empty()) {
        w.Key("external_error");
        put(w, external_error);
    }
    w.EndObject();
    return {"PATCH",
            base() + "/conversations/" + std::to_string(conversation_id) + "/messages/"
                + std::to_string(message_id),
            finish(buf)};
}

Parsed<std::vector<Contact>> parse_contact_list(std::string_view body)
{
    return parse_with<std::vector<Contact>>(body, [](Reader& r, const Value& doc) {
        std::vector<Contact> out;
        if (const Value* payload = r.array(doc, "payload")) {
            for (const auto& c : payload->GetArray()) {
                out.push_back(read_contact(r, c));
            }
        }
        return out;
    });
}

Parsed<Contact> parse_created_contact(std::string_view body)
{
    return parse_with<Contact>(body, [](Reader& r, const Value& doc) {
        const Value* payload = r.object(doc, "payload");
        const Value* contact = payload ? r.object(*payload, "contact") : nullptr;
        return contact ? read_contact(r, *contact) : Contact{};
    });
}

Parsed<std::vector<Conversation>> parse_conversation_list(std::string_view body)
{
    return parse_with<std::vector<Conversation>>(body, [](Reader& r, const Value& doc) {
        std::vector<Conversation> out;
        if (const Value* payload = r.array(doc, "payload")) {
            for (const auto& c : payload->GetArray()) {
                out.push_back(read_conversation(r, c));
            }
        }
        return out;
    });
}

Parsed<Conversation> parse_conversation(std::string_view body)
{
    return parse_with<Conversation>(
        body, [](Reader& r, const Value& doc) { return read_conversation(r, doc); });
}

Parsed<std::string> parse_toggle_status(std::string_view body)
{
    return parse_with<std::string>(body, [](Reader& r, const Value& doc) {
        const Value* payload = r.object(doc, "payload");
        return payload ? r.string(*payload, "current_status") : std::string();
    });
}

Parsed<std::vector<Inbox>> parse_inbox_list(std::string_view body)
{
    return parse_with<std::vector<Inbox>>(body, [](Reader& r, const Value& doc) {
        std::vector<Inbox> out;
        if (const Value* payload = r.array(doc, "payload")) {
            for (const auto& i : payload->GetArray()) {
                out.push_back(read_inbox(r, i));
            }
        }
        return out;
    });
}

Parsed<Inbox> parse_inbox(std::string_view body)
{
    return parse_with<Inbox>(body,
                             [](Reader& r, const Value& doc) { return read_inbox(r, doc); });
}

Parsed<Message> parse_message(std::string_view body)
{
    return parse_with<Message>(
        body, [](Reader& r, const Value& doc) { return read_message(r, doc); });
}

Parsed<Profile> parse_profile(std::string_view body)
{
    return parse_with<Profile>(body, [](Reader& r, const Value& doc) {
        Profile p;
        if (!doc.IsObject()) {
            r.error = "not an object";
            return p;
        }
        p.id = r.integer(doc, "id");
        if (const Value* accounts = r.array(doc, "accounts")) {
            for (const auto& a : accounts->GetArray()) {
                ProfileAccount pa;
                pa.id = r.integer(a, "id");
                pa.name = r.optional_string(a, "name");
                pa.status = r.optional_string(a, "status");
                pa.role = r.optional_string(a, "role");
                p.accounts.push_back(std::move(pa));
            }
        }
        return p;
    });
}

std::string_view check_result_name(CheckResult r)
{
    switch (r) {
    case CheckResult::ok: return "ok";
    case CheckResult::unavailable: return "unavailable";
    case CheckResult::unreachable: return "unreachable";
    case CheckResult::bad_answer: return "bad_answer";
    case CheckResult::no_account_access: return "no_account_access";
    case CheckResult::unauthorized: return "unauthorized";
    }
    return "bad_answer";
}

CheckOutcome check_profile(const Response& r, int64_t account_id)
{
    const Classification c = classify(r);
    if (r.transport_error != TransportError::none
        || r.http_status < 100 || r.http_status > 599)
    {
        return {CheckResult::unreachable, c.reason};
    }
    const int s = r.http_status;
    if (c.cause == Cause::unauthorized) {
        // The result already says so: keep what to fix.
        std::string_view why = c.reason;
        if (why.starts_with("unauthorized: ")) {
            why.remove_prefix(14);
        }
        return {CheckResult::unauthorized, std::string(why)};
    }
    if (c.cause == Cause::throttled || c.cause == Cause::server_error) {
        return {CheckResult::unavailable, c.reason};
    }
    if (s == 404) {
        // Chatwoot routes /api/v1/profile for every installation: a 404
        // is another server, or a URL with a path it does not have.
        return {CheckResult::bad_answer,
                "404 for /api/v1/profile: url is not a Chatwoot installation's base URL"};
    }
    // Other refusals, a redirect, or a profile over the client's cap.
    if (c.outcome != Outcome::success) {
        return {CheckResult::bad_answer, c.reason};
    }
    auto profile = parse_profile(r.body);
    if (!profile) {
        return {CheckResult::bad_answer,
                "the answer to /api/v1/profile is not a Chatwoot profile (" + profile.error
                    + "): url is not a Chatwoot installation's base URL"};
    }
    const std::string account = std::to_string(account_id);
    for (const auto& a : profile.value->accounts) {
        if (a.id != account_id) {
            continue;
        }
        // Absent in older Chatwoots: then only a 401 later would tell.
        if (!a.status.empty() && a.status != "active") {
            return {CheckResult::no_account_access,
                    "account " + account + " is " + a.status};
        }
        return {CheckResult::ok, "account " + account + " reachable"};
    }
    return {CheckResult::no_account_access,
            "the api_token's user is not a member of account " + account};
}

Parsed<std::vector<Message>> parse_message_list(std::string_view body)
{
    return parse_with<std::vector<Message>>(body, [](Reader& r, const Value& doc) {
        std::vector<Message> out;
        if (const Value* payload = r.array(doc, "payload")) {
            for (const auto& m : payload->GetArray()) {
                out.push_back(read_message(r, m));
            }
        }
        return out;
    });
}

}  // namespace chatwoot::rest
