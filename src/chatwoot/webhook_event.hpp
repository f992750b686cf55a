// Chatwoot webhook bodies -> the events the bridge acts on (worker side).
//
// Sans-I/O: bytes in, a decision out.  The decision says whether the body
// is queued for the helper (with a compact, normalised JSON record), left
// alone on purpose (a private note, an incoming message, our own echo, an
// event the bridge has no use for), or refused as malformed (400) with a
// reason naming what was wrong.
//
// The contract is ../shared/chatwoot/CONTRACT.md section 4 (Chatwoot 4.15):
// message_type is a string in webhooks; conversation ids are display ids;
// `attachments` is absent when a message has none; our own messages come
// back as "incoming" and with source_id "WAID:<whatsapp id>".
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace chatwoot::webhook {

enum class Verdict {
    queue,    // act on it: `record` holds the normalised event
    ignore,   // well-formed, nothing to do: `reason` says why (counted)
    reject    // malformed: answer 400 with `reason`
};

// Why a well-formed event is ignored; each has its own status counter.
enum class IgnoreReason {
    none,
    private_note,        // message_created/updated with "private": true
    not_outgoing,        // message_type incoming/activity: not an agent reply
    own_echo,            // source_id starts with "WAID:": we posted it
    unknown_event,       // an event name the bridge does not use
    not_a_deletion       // message_updated that is not a deletion
};

struct Decision {
    Verdict verdict = Verdict::reject;
    IgnoreReason ignored = IgnoreReason::none;
    // For reject: what was wrong, for the 400 body and the log, e.g.
    // "malformed JSON at offset 17", "missing field conversation.id",
    // "field message_type is not a string".  Short, no body content.
    std::string reason;
    // For queue: the normalised event, compact JSON, see parse() below.
    std::string record;
    // The event name as sent ("message_created"), when there was one.
    std::string event;
};

// Limits that keep hostile bodies cheap: nesting depth and attachment count.
inline constexpr unsigned kMaxDepth = 64;
inline constexpr size_t kMaxAttachments = 32;

// Parses and classifies one webhook body.  Never throws (std::bad_alloc
// aside), never reads past `body`.
//
// Record formats (keys always in this order, absent optional keys omitted,
// strings JSON-escaped, numbers as integers):
//
// message_created, outgoing (or "template"), not private, source_id not
// "WAID:...":
//   {"type":"send","message_id":3022,"conversation_id":15,"inbox_id":7,
//    "account_id":1,"content":"text or omitted when null",
//    "source_id_of_contact":"<conversation.contact_inbox.source_id>",
//    "contact":{"id":42,"identifier":"...","phone_number":"+55..."},
//    "sender":{"id":3,"name":"Ana","type":"user"},
//    "reply_to":{"id":3021,"external_id":"WAID:..."},
//    "attachments":[{"id":55,"file_type":"image","data_url":"...",
//                    "content_type":"image/jpeg","file_size":48213,
//                    "extension":"jpg"}],
//    "created_at":"2026-06-20T10:16:02.118Z"}
//   contact = conversation.meta.sender (id, identifier, phone_number; each
//   omitted when null or missing); sender omitted when null; reply_to only
//   when content_attributes.in_reply_to or in_reply_to_external_id is set
//   (each key only when non-null); attachments only when present.
// message_updated with content_attributes.deleted == true (any message
// type except private; our own echoes included, since deleting a message
// we posted from WhatsApp is an agent's deletion too):
//   {"type":"delete","message_id":3022,"conversation_id":15,"inbox_id":7,
//    "account_id":1,"source_id":"WAID:..."}   (source_id omitted when null)
// conversation_status_changed:
//   {"type":"status","conversation_id":15,"inbox_id":7,"account_id":1,
//    "status":"resolved"}
// conversation_typing_on / conversation_typing_off (is_private true ->
// ignore as private_note):
//   {"type":"typing","conversation_id":15,"inbox_id":7,"account_id":1,
//    "on":true}
//
// Required fields (missing or of the wrong JSON type -> reject, reason
// "missing field <path>" or "field <path> is not a <type>"):
//   all: "event" (string).  The body must be a JSON object.
//   message_*: id (integer), message_type (string), private (bool),
//     conversation.id (integer), inbox.id (integer) or conversation.inbox_id,
//     account.id (integer).  content: string or null.  source_id: string or
//     null.  content_attributes: object, null or absent.  attachments: array
//     of objects when present, each with id (integer) and file_type
//     (string); more than kMaxAttachments -> reject.
//   conversation_status_changed: id (integer: the conversation's display
//     id), inbox_id (integer), status (string, one of open, resolved,
//     pending, snoozed), account.id (integer).
//   typing: conversation.id, conversation.inbox_id (integers); account.id
//     optional (the record's account_id is omitted when absent);
//     is_private optional (bool, default false).
Decision parse(std::string_view body);

// A caller's buffer that a record is written into.  Bytes past its
// capacity are counted, never written: overflowed() then says the record
// did not fit.  Put() makes it an output stream for rapidjson::Writer.
class RecordOut {
public:
    using Ch = char;

    RecordOut(char* data, size_t capacity) : data_(data), cap_(capacity) {}

    void Put(char c)
    {
        if (len_ < cap_) {
            data_[len_] = c;
        }
        len_++;
    }

    void append(const char* s, size_t n)
    {
        if (len_ < cap_) {
            std::memcpy(data_ + len_, s, std::min(n, cap_ - len_));
        }
        len_ += n;
    }

    void Flush() {}

    size_t size() const { return len_; }
    bool overflowed() const { return len_ > cap_; }
    const char* data() const { return data_; }
    // Forgets what was written after the first n bytes.
    void truncate(size_t n) { len_ = std::min(n, len_); }

private:
    char* data_;
    size_t cap_;
    size_t len_ = 0;
};

// The same decision, but a queued record is appended to `out` (which is
// left as it was for the other verdicts) and Decision::record stays empty:
// the worker writes its envelope first, the event after it, into the
// buffer it queues from.  Not reentrant on one thread (the parser's
// buffers are kept per thread).
Decision parse(std::string_view body, RecordOut& out);

std::string_view ignore_reason_name(IgnoreReason r);

}  // namespace chatwoot::webhook
