// Chatwoot's application API as requests and parsed answers, sans-I/O: the
// helper's REST client sends these and feeds the answers back.  Shapes are
// Chatwoot 4.15's (../shared/chatwoot/CONTRACT.md section 5): conversation
// ids are display ids; message_type is an integer in REST answers.
#pragma once

#include "retry_policy.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatwoot::rest {

// A multipart/form-data text field.
struct FormField {
    std::string name;
    std::string value;
};

// A file sent as a multipart part, read from disk while the request goes
// out (media can be large: it is never held in memory whole).
struct FilePart {
    std::string field;       // "attachments[]"
    std::string path;        // absolute
    std::string mime;        // its Content-Type; Chatwoot derives file_type from it
    std::string file_name;   // what agents see
};

struct Request {
    Request() = default;
    Request(std::string m, std::string p, std::string b = {})
        : method(std::move(m)), path(std::move(p)), body(std::move(b))
    {
    }

    std::string method;   // GET, POST, PATCH, DELETE
    std::string path;     // absolute, with the query, e.g. /api/v1/accounts/1/...
    std::string body;     // JSON, empty for GET and DELETE and for multipart
    // When files is not empty the request is multipart/form-data made of
    // form and files, and body is empty.
    std::vector<FormField> form;
    std::vector<FilePart> files;
};

struct NewContact {
    std::string name;
    std::string identifier;                  // the chat JID
    std::optional<std::string> phone_number; // +E.164, phone-number chats only
    int64_t inbox_id = 0;
    std::string source_id;                   // the contact_inbox source id
};

struct Attachment {
    std::string path;        // the bytes, in the helper's media directory
    std::string mime;
    std::string file_name;
};

struct NewMessage {
    std::string content;
    std::string message_type = "incoming";   // incoming, outgoing, template
    bool is_private = false;
    std::string source_id;                   // "WAID:<whatsapp id>"
    std::optional<std::string> in_reply_to_external_id;
    // The quoted message by Chatwoot id: for messages that have no source id
    // (an agent's reply); Chatwoot then looks by id, not by source id.
    std::optional<int64_t> in_reply_to;
    std::vector<Attachment> attachments;     // sent as multipart attachments[]
};

class Api {
public:
    explicit Api(int64_t account_id) : account_(account_id) {}

    Request profile() const;
    Request list_inboxes() const;
    // Every status, most recently active first (Chatwoot's default order).
    Request inbox_conversations(int64_t inbox_id, int page) const;
    // An API channel inbox whose callback is webhook_url (administrators only).
    Request create_api_inbox(std::string_view name, std::string_view webhook_url) const;
    Request search_contacts(std::string_view query, int page = 1) const;
    // POST contacts/filter with one equal_to condition.
    Request filter_contacts(std::string_view attribute, std::string_view value) const;
    Request create_contact(const NewContact& contact) const;
    // PATCH contacts/{id}: its name, and its phone when given.
    Request update_contact(int64_t contact_id, std::string_view name,
                           std::optional<std::string_view> phone_number) const;
    Request contact_conversations(int64_t contact_id) const;
    // Empty status: Chatwoot's default (open).
    Request create_conversation(int64_t inbox_id, int64_t contact_id,
                                std::string_view source_id,
                                std::string_view status = {}) const;
    Request toggle_status(int64_t conversation_id, std::string_view status) const;
    // JSON, or multipart/form-data when the message has attachments
    // (content_attributes then travels as a JSON string, as Chatwoot reads it).
    Request create_message(int64_t conversation_id, const NewMessage& message) const;
    // A page of kMessagesPerPage, oldest first: the newest ones, or those
    // older than the message `before`.
    Request list_messages(int64_t conversation_id,
                          std::optional<int64_t> before = std::nullopt) const;
    // DELETE: Chatwoot keeps the message as "This message was deleted"
    // (content_attributes {"deleted":true}) and fires message_updated.
    Request delete_message(int64_t conversation_id, int64_t message_id) const;
    // Not in Chatwoot's swagger, but in its code since 4.2 (API inboxes only).
    Request update_message_status(int64_t conversation_id, int64_t message_id,
                                  std::string_view status,
                                  std::string_view external_error = {}) const;

private:
    std::string base() const;
    int64_t account_;
};

// Parsed answers: a value, or what was wrong with the body (never the body).
template <typename T>
struct Parsed {
    std::optional<T> value;
    std::string error;
    explicit operator bool() const { return value.has_value(); }
};

struct Contact {
    int64_t id = 0;
    std::string name;
    std::string identifier;     // empty when null
    std::string phone_number;   // empty when null
    std::vector<std::pair<int64_t, std::string>> inboxes;  // (inbox id, source id)
};

struct Conversation {
    int64_t id = 0;             // display id
    int64_t inbox_id = 0;
    std::string status;         // open, resolved, pending, snoozed
    int64_t contact_id = 0;     // meta.sender.id, 0 when absent
};

struct Inbox {
    int64_t id = 0;
    std::string name;
    std::string channel_type;   // "Channel::Api" for API inboxes
};

struct Message {
    int64_t id = 0;
    int64_t conversation_id = 0;
    int message_type = 0;       // 0 incoming, 1 outgoing, 2 activity, 3 template
    std::string source_id;      // empty when null
    std::string status;
    bool is_private = false;
    int64_t created_at = 0;     // Unix seconds, Chatwoot's clock; 0 when absent
};

// Messages a page of GET .../messages holds (Chatwoot's MessageFinder):
// the newest without `before`, the ones just older than `before` with it.
inline constexpr size_t kMessagesPerPage = 20;

// {"meta":{...},"payload":[contact,...]}: search, filter, list.
Parsed<std::vector<Contact>> parse_contact_list(std::string_view body);
// {"payload":{"contact":{...},"contact_inbox":{...}}}: create.
Parsed<Contact> parse_created_contact(std::string_view body);
// {"payload":[conversation,...]}: a contact's conversations.
Parsed<std::vector<Conversation>> parse_conversation_list(std::string_view body);
// A conversation object, unwrapped: create, show.
Parsed<Conversation> parse_conversation(std::string_view body);
// {"meta":{},"payload":{"success":true,"conversation_id":15,"current_status":"resolved",...}}
Parsed<std::string> parse_toggle_status(std::string_view body);
// A message object, unwrapped: create, update, delete.
Parsed<Message> parse_message(std::string_view body);

// {"payload":[inbox,...]}
Parsed<std::vector<Inbox>> parse_inbox_list(std::string_view body);

// A created inbox: the inbox object, not wrapped.
Parsed<Inbox> parse_inbox(std::string_view body);
// {"meta":{...},"payload":[message,...]}: list, oldest first.
Parsed<std::vector<Message>> parse_message_list(std::string_view body);

// GET /api/v1/profile: the token's user and the accounts it belongs to.
struct ProfileAccount {
    int64_t id = 0;
    std::string name;
    std::string status;        // "active", "suspended"
    std::string role;          // "administrator", "agent"
};
struct Profile {
    int64_t id = 0;            // the user
    std::vector<ProfileAccount> accounts;
};
Parsed<Profile> parse_profile(std::string_view body);

// What the periodic check of an inbox's Chatwoot found, worst last: the
// order ranks inboxes when status shows one word for all of them.
enum class CheckResult {
    ok,
    unavailable,        // an answer, but not from a working Chatwoot now: 5xx, 429, 408
    unreachable,        // no HTTP answer at all: DNS, connect, TLS, timeout
    bad_answer,         // not Chatwoot's API at that URL: 404, a redirect, not a profile
    no_account_access,  // the token works, but not for the inbox's account
    unauthorized        // the token is refused: 401, 403
};
std::string_view check_result_name(CheckResult r);

struct CheckOutcome {
    CheckResult result = CheckResult::bad_answer;
    // For the log: what was wrong and what to fix; never the body.
    std::string reason;
};

// Judges the answer to Api::profile() for the inbox's account: the URL
// reaches Chatwoot's API, the token is accepted, and the account is among
// the token's accounts and active.  Sans-I/O: the curl adapter fills r.
CheckOutcome check_profile(const Response& r, int64_t account_id);

// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
std::string query_escape(std::string_view value);

}  // namespace chatwoot::rest
