// The helper reads every queued record with RapidJSON's SAX reader: the
// whole record must still be well-formed JSON (bytes from shared memory are
// not trusted for having come from a worker), but no DOM is built and only
// the few keys below are kept.  What it accepts is what the DOM lookups it
// replaces accepted: the first "inbox" (a string), "delivery" (a string or
// null) and "event" (an object) of the top-level object, and in that event
// object the first "type" (a string), "conversation_id" and "message_id"
// (64-bit integers), and "on" (a boolean: typing).  It is stricter in two ways a worker's record never
// needs: bytes after a NUL (which a worker escapes) and nesting deeper than
// kMaxDepth make it refuse.

#include "webhook_record.hpp"

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <limits>
#include <new>
#include <vector>

namespace chatwoot::webhook {

namespace {

// A record is four levels deep at most (envelope, event, attachments, an
// attachment); the bound keeps the recursive reader's stack small.
constexpr unsigned kMaxDepth = 64;

// The copy of a larger record than this is not kept after its reading.
constexpr size_t kKeepTextBytes = 64 * 1024;

class RecordReader {
public:
    explicit RecordReader(QueuedWebhook& out) : out_(out) {}

    // Everything the caller checks after a successful parse.
    bool complete() const
    {
        return seen_inbox_ && seen_delivery_ && seen_event_ && seen_type_ && seen_conversation_;
    }

    bool Null() { return value(Type::null); }
    bool Bool(bool b)
    {
        const Slot slot = slot_;
        if (!value(Type::boolean)) {
            return false;
        }
        if (slot == Slot::on) {
            out_.typing_on = b;
        }
        return true;
    }
    bool Int(int i) { return integer(i); }
    bool Uint(unsigned u) { return integer(u); }
    bool Int64(int64_t i) { return integer(i); }
    bool Uint64(uint64_t u)
    {
        // What rapidjson::Value::IsInt64() says of an unsigned number.
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return value(Type::other);
        }
        return integer(static_cast<int64_t>(u));
    }
    bool Double(double) { return value(Type::other); }
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return value(Type::other); }

    bool String(const char* s, rapidjson::SizeType n, bool)
    {
        const Slot slot = slot_;
        if (!value(Type::string)) {
            return false;
        }
        switch (slot) {
        case Slot::inbox: out_.inbox.assign(s, n); break;
        case Slot::delivery: out_.delivery.assign(s, n); break;
        case Slot::type: out_.action.assign(s, n); break;
        case Slot::contact: out_.contact_source_id.assign(s, n); break;
        default: break;
        }
        return true;
    }

    bool Key(const char* s, rapidjson::SizeType n, bool)
    {
        const std::string_view key(s, n);
        slot_ = Slot::other;
        if (depth_ == 1) {
            if (key == "inbox") {
                slot_ = first(seen_inbox_, Slot::inbox);
            } else if (key == "delivery") {
                slot_ = first(seen_delivery_, Slot::delivery);
            } else if (key == "event") {
                slot_ = first(seen_event_, Slot::event);
            } else if (key == "accepted_msec") {
                slot_ = first(seen_accepted_, Slot::accepted);
            }
        } else if (depth_ == 2 && in_event_) {
            if (key == "type") {
                slot_ = first(seen_type_, Slot::type);
            } else if (key == "conversation_id") {
                slot_ = first(seen_conversation_, Slot::conversation);
            } else if (key == "message_id") {
                slot_ = first(seen_message_, Slot::message);
            } else if (key == "on") {
                slot_ = first(seen_on_, Slot::on);
            } else if (key == "source_id_of_contact") {
                slot_ = first(seen_contact_, Slot::contact);
            }
        }
        return true;
    }

    bool StartObject()
    {
        const bool event = slot_ == Slot::event;
        if (depth_ > 0 && !value(Type::object)) {
            return false;
        }
        if (++depth_ > kMaxDepth) {
            return false;
        }
        in_event_ = in_event_ || event;
        return true;
    }

    bool EndObject(rapidjson::SizeType)
    {
        if (--depth_ == 1) {
            in_event_ = false;
        }
        return true;
    }

    bool StartArray()
    {
        // The top level must be an object.
        if (depth_ == 0 || !value(Type::other)) {
            return false;
        }
        return ++depth_ <= kMaxDepth;
    }

    bool EndArray(rapidjson::SizeType)
    {
        --depth_;
        return true;
    }

private:
    enum class Slot {
        other, inbox, delivery, event, type, conversation, message, on, accepted, contact
    };
    enum class Type { null, string, integer, boolean, object, other };

    // Only a key's first occurrence counts, as with FindMember.
    static Slot first(bool& seen, Slot slot)
    {
        if (seen) {
            return Slot::other;
        }
        seen = true;
        return slot;
    }

    // The value of the key just read: false (stop, refuse the record) when
    // it is one we read and of the wrong type.
    bool value(Type type)
    {
        if (depth_ == 0) {
            return false;  // a scalar at the top level
        }
        const Slot slot = slot_;
        slot_ = Slot::other;
        switch (slot) {
        case Slot::other: return true;
        case Slot::inbox:
        case Slot::type: return type == Type::string;
        case Slot::contact: return type == Type::string || type == Type::null;
        case Slot::delivery: return type == Type::string || type == Type::null;
        case Slot::event: return type == Type::object;
        case Slot::conversation:
        case Slot::message:
        case Slot::accepted: return type == Type::integer;
        case Slot::on: return type == Type::boolean;
        }
        return false;
    }

    bool integer(int64_t v)
    {
        const Slot slot = slot_;
        if (!value(Type::integer)) {
            return false;
        }
        if (slot == Slot::conversation) {
            out_.conversation_id = v;
        } else if (slot == Slot::message) {
            out_.message_id = v;
        } else if (slot == Slot::accepted) {
            out_.accepted_msec = v;
        }
        return true;
    }

    QueuedWebhook& out_;
    unsigned depth_ = 0;
    bool in_event_ = false;
    Slot slot_ = Slot::other;
    bool seen_inbox_ = false;
    bool seen_delivery_ = false;
    bool seen_event_ = false;
    bool seen_type_ = false;
    bool seen_conversation_ = false;
    bool seen_message_ = false;
    bool seen_on_ = false;
    bool seen_accepted_ = false;
    bool seen_contact_ = false;
};

// The reader's buffers, made once per thread and never destroyed: the
// helper's last drain reads records from an atexit hook, and exit() has
// already run the destructors of thread_local objects by then (a vector
// written after its destructor corrupted the heap).
struct Scratch {
    std::vector<char> text;
    rapidjson::Reader reader;  // keeps its stack between records
};

Scratch& scratch()
{
    alignas(Scratch) thread_local unsigned char storage[sizeof(Scratch)];
    thread_local Scratch* s = new (storage) Scratch();
    return *s;
}

}  // namespace

std::optional<QueuedWebhook> read_queued_webhook(std::string_view record)
{
    QueuedWebhook q;
    RecordReader handler(q);
    // Parsed in situ from a copy this thread keeps: strings are not copied
    // again on their way to the handler.  The copy's NUL is the end of
    // input; the position the reader stopped at tells a NUL inside apart.
    std::vector<char>& text = scratch().text;
    text.assign(record.begin(), record.end());
    text.push_back('\0');
    rapidjson::InsituStringStream in(text.data());
    rapidjson::Reader& reader = scratch().reader;
    const bool ok = !reader.Parse<rapidjson::kParseInsituFlag>(in, handler).IsError()
                    && in.Tell() == record.size() && handler.complete();
    if (text.capacity() > kKeepTextBytes) {
        std::vector<char>().swap(text);
    }
    if (!ok) {
        return std::nullopt;
    }
    if ((q.action == "send" || q.action == "delete") && !q.message_id) {
        return std::nullopt;
    }
    return q;
}

std::string make_queued_webhook(std::string_view inbox, std::string_view delivery,
                                int64_t received_at, std::string_view event_record)
{
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("inbox");
    w.String(inbox.data(), static_cast<rapidjson::SizeType>(inbox.size()));
    w.Key("delivery");
    if (delivery.empty()) {
        w.Null();
    } else {
        w.String(delivery.data(), static_cast<rapidjson::SizeType>(delivery.size()));
    }
    w.Key("received_at");
    w.Int64(received_at);
    w.Key("event");
    w.RawValue(event_record.data(), event_record.size(), rapidjson::kObjectType);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace chatwoot::webhook
