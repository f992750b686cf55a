// Chatwoot webhook bodies -> Decision.  The record formats and required
// fields are in webhook_event.hpp; what Chatwoot actually sends is in
// ../shared/chatwoot/CONTRACT.md section 4.
//
// The body is parsed into a RapidJSON DOM through a guard that bounds the
// nesting depth and refuses strings that are not valid UTF-8, so nothing
// after it needs to be careful about hostile shapes: every lookup is by a
// fixed path, every value is type-checked before it is read, and the
// record's strings are escaped exactly as rapidjson::Writer escapes them.
//
// Speed (this runs in the nginx worker for every webhook): a body that is
// valid UTF-8 as a whole, the usual case, is parsed in situ from a copy
// kept per thread, into a DOM whose memory is a buffer kept per thread,
// without RapidJSON's byte-by-byte encoding validation (a check of the
// whole body, eight bytes at a time, has already said it would pass).
// Any other body takes the original path (a copying parse that validates
// each string), so that its error and offset are exactly what they were.

// Not RAPIDJSON_SSE2: RapidJSON 1.1.0's SSE2 string scanners let raw
// control characters 0x1A-0x1F through (they test for <= 0x19).

#include "webhook_event.hpp"
#include "webhook_utf8.hpp"

#include <rapidjson/document.h>
#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>
#include <optional>
#include <utility>
#include <vector>

namespace chatwoot::webhook {

namespace {

// RapidJSON's own allocators return null when memory runs out, and the code
// that called them then writes through the null pointer.  Throwing instead
// turns that into the one exception parse() may let out.
class ThrowingAllocator {
public:
    [[maybe_unused]] static constexpr bool kNeedFree = true;  // Allocator concept

    void* Malloc(size_t size)
    {
        return size == 0 ? nullptr : checked(std::malloc(size));
    }

    void* Realloc(void* original, size_t /*original_size*/, size_t new_size)
    {
        if (new_size == 0) {
            std::free(original);
            return nullptr;
        }
        // On failure `original` is still owned by the caller, who frees it
        // while the exception unwinds.
        return checked(std::realloc(original, new_size));
    }

    static void Free(void* p) noexcept { std::free(p); }

private:
    static void* checked(void* p)
    {
        if (p == nullptr) {
            throw std::bad_alloc();
        }
        return p;
    }
};

using Pool = rapidjson::MemoryPoolAllocator<ThrowingAllocator>;
using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Pool, ThrowingAllocator>;
using Value = Document::ValueType;
using JsonReader =
    rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, ThrowingAllocator>;

// Bytes after the NUL that ends the in-situ copy of a body: the string scan
// below reads eight bytes at a time.
constexpr size_t kTextPadding = 16;

constexpr uint64_t kOnes = 0x0101010101010101ULL;

// Nonzero when a byte of w ends a run of plain string bytes: a quote, a
// backslash or a control character (< 0x20; the test is exact for "any").
inline uint64_t string_stops(uint64_t w)
{
    const auto zero_byte = [](uint64_t x) { return (x - kOnes) & ~x & kHighBits; };
    const uint64_t control = (w - kOnes * 0x20) & ~w & kHighBits;
    return control | zero_byte(w ^ (kOnes * '"')) | zero_byte(w ^ (kOnes * '\\'));
}

}  // namespace

}  // namespace chatwoot::webhook

namespace rapidjson {

// The fast path's in-situ string scan, for this file's reader only.
// RapidJSON calls it where a run of plain string bytes may start and then
// handles the byte it stops at (an escape, the closing quote, an error) as
// always; its own version is byte by byte (the SSE2 one lets 0x1A-0x1F
// through).  This one goes eight bytes at a time and reads up to seven
// bytes past the string, which the body's copy has (kTextPadding).
template <>
template <>
inline void
GenericReader<UTF8<>, UTF8<>, chatwoot::webhook::ThrowingAllocator>::ScanCopyUnescapedString(
    InsituStringStream& is, InsituStringStream& os)
{
    (void)os;  // the same stream: strings are decoded where they are
    char* p = is.src_;
    char* q = is.dst_;
    for (;;) {
        uint64_t w;
        std::memcpy(&w, p, sizeof w);
        if (chatwoot::webhook::string_stops(w) != 0) {
            break;
        }
        if (q != p) {
            std::memcpy(q, &w, sizeof w);
        }
        p += sizeof w;
        q += sizeof w;
    }
    for (;;) {
        const auto c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\' || c < 0x20) {
            break;
        }
        *q++ = *p++;
    }
    is.src_ = p;
    is.dst_ = q;
}

}  // namespace rapidjson

namespace chatwoot::webhook {

namespace {

// Iterative: the parser keeps its own heap stack instead of recursing, so
// depth costs no machine stack even before the guard stops it.
// ValidateEncoding: raw bytes inside strings must be UTF-8.  No
// StopWhenDone: anything but whitespace after the value is an error.
constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

// \uDC00 alone passes RapidJSON's escape decoding and comes out as the
// bytes of a surrogate, which is not UTF-8; raw bytes were checked already,
// so this catches escapes only (the fast path skips it for a body without
// any \u), but checking every string keeps it simple.
bool valid_string(const char* s, size_t n)
{
    // The same verdict as RapidJSON's UTF8<>::Validate over the string
    // (webhook_utf8.hpp); ASCII, by far the most common, in one pass.
    return is_ascii(s, n) || valid_utf8(s, n);
}

enum class Stop { none, too_deep, bad_string };

// Sits between the reader and the DOM: forwards every SAX event, and
// stops the parse (handler returns false) on the 65th nested container or
// on a string that is not UTF-8.
template <typename Next>
class Guard {
public:
    // check_strings false: every string is known to be UTF-8 already.
    Guard(Next& next, bool check_strings) : next_(next), check_strings_(check_strings) {}

    Stop stop() const { return stop_; }

    bool Null() { return next_.Null(); }
    bool Bool(bool b) { return next_.Bool(b); }
    bool Int(int i) { return next_.Int(i); }
    bool Uint(unsigned u) { return next_.Uint(u); }
    bool Int64(int64_t i) { return next_.Int64(i); }
    bool Uint64(uint64_t u) { return next_.Uint64(u); }
    bool Double(double d) { return next_.Double(d); }

    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy)
    {
        return next_.RawNumber(s, n, copy);
    }

    bool String(const char* s, rapidjson::SizeType n, bool copy)
    {
        return checked_string(s, n) && next_.String(s, n, copy);
    }

    bool Key(const char* s, rapidjson::SizeType n, bool copy)
    {
        return checked_string(s, n) && next_.Key(s, n, copy);
    }

    bool StartObject() { return enter() && next_.StartObject(); }
    bool StartArray() { return enter() && next_.StartArray(); }

    bool EndObject(rapidjson::SizeType n)
    {
        depth_--;
        return next_.EndObject(n);
    }

    bool EndArray(rapidjson::SizeType n)
    {
        depth_--;
        return next_.EndArray(n);
    }

private:
    bool enter()
    {
        if (++depth_ > kMaxDepth) {
            stop_ = Stop::too_deep;
            return false;
        }
        return true;
    }

    bool checked_string(const char* s, rapidjson::SizeType n)
    {
        if (check_strings_ && !valid_string(s, n)) {
            stop_ = Stop::bad_string;
            return false;
        }
        return true;
    }

    Next& next_;
    bool check_strings_;
    unsigned depth_ = 0;
    Stop stop_ = Stop::none;
};

std::string malformed_at(size_t offset)
{
    return "malformed JSON at offset " + std::to_string(offset);
}

// The fast path, for a body that is valid UTF-8 as a whole: in situ
// (strings are decoded in the copy of the body and the DOM points into
// it), recursive (RapidJSON's faster parser: the guard stops it at
// kMaxDepth + 1 levels, so it recurses no deeper than that), and without
// ValidateEncoding (every string's raw bytes are valid when the whole body
// is: a string starts and ends at an ASCII quote, which no multi-byte
// sequence contains).  Whatever it does not accept goes through the
// original parse again, so that every refusal and its reason are exactly
// what kParseFlags gives.
constexpr unsigned kFastFlags = rapidjson::kParseInsituFlag;

// The first block of DOM memory: a 1.2 KB webhook takes about 4 KB, a
// large one gets more blocks from malloc for the duration of its parse.
constexpr size_t kPoolBytes = 32 * 1024;
constexpr size_t kPoolChunkBytes = 64 * 1024;
// The copy of a larger body than this is not kept after its parse.
constexpr size_t kKeepTextBytes = 64 * 1024;

// What one parse leaves for the next on the same thread (nginx workers
// have one): the in-situ copy of the body, the DOM's first block and the
// fast path's reader.
struct Scratch {
    ThrowingAllocator base;
    std::vector<char> text;
    std::vector<char> pool = std::vector<char>(kPoolBytes);
    JsonReader reader{&base, 1024};
};

Scratch& scratch()
{
    thread_local Scratch s;
    return s;
}

// Fills `doc` from the stream, or returns why it could not.
template <unsigned kFlags, typename Stream>
std::optional<std::string> parse_stream(Stream& in, size_t size, JsonReader& reader,
                                        Document& doc, bool check_strings = true)
{
    Stop stop = Stop::none;
    auto generate = [&](Document& handler) {
        Guard<Document> guard(handler, check_strings);
        const bool ok = !reader.Parse<kFlags>(in, guard).IsError();
        stop = guard.stop();
        return ok;
    };
    doc.Populate(generate);

    if (stop == Stop::too_deep) {
        return "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels";
    }
    if (reader.HasParseError()) {
        return malformed_at(reader.GetErrorOffset());
    }
    // Both streams show a NUL byte the same way as the end of input, so
    // RapidJSON takes "{}\0junk" for a complete document: only the
    // position where it stopped tells the two apart.
    if (in.Tell() != size) {
        return malformed_at(in.Tell());
    }
    return std::nullopt;
}

// Fills `doc` from `body`, or returns why it could not.  The DOM may point
// into s.text until the next parse.
std::optional<std::string> parse_json(std::string_view body, Document& doc, Scratch& s)
{
    if (valid_utf8(body.data(), body.size())) {
        s.text.assign(body.begin(), body.end());
        s.text.resize(body.size() + kTextPadding, '\0');
        rapidjson::InsituStringStream in(s.text.data());
        // Decoded strings can only be invalid through a \u escape (a lone
        // surrogate): without any, the guard need not look at them.
        const bool escapes = body.find("\\u") != std::string_view::npos;
        if (!parse_stream<kFastFlags>(in, body.size(), s.reader, doc, escapes)) {
            return std::nullopt;
        }
    }
    // Refused: the original parse says why.  MemoryStream is bounded by
    // the length we give it, never by a NUL.
    rapidjson::MemoryStream in(body.empty() ? "" : body.data(), body.size());
    JsonReader reader;
    return parse_stream<kParseFlags>(in, body.size(), reader, doc);
}

enum class Kind { integer, string, boolean, object, array, any };

// required: present and not null.  nullable: present, null allowed.
// optional: absent and null both mean "not given".
enum class Need { required, nullable, optional };

bool has_kind(const Value& v, Kind kind)
{
    switch (kind) {
    case Kind::integer: return v.IsInt64();
    case Kind::string: return v.IsString();
    case Kind::boolean: return v.IsBool();
    case Kind::object: return v.IsObject();
    case Kind::array: return v.IsArray();
    case Kind::any: return true;
    }
    return false;
}

std::string_view kind_name(Kind kind)
{
    switch (kind) {
    case Kind::integer: return "an integer";
    case Kind::string: return "a string";
    case Kind::boolean: return "a boolean";
    case Kind::object: return "an object";
    case Kind::array: return "an array";
    case Kind::any: return "a value";
    }
    return "a value";
}

// Typed look-ups by dotted path ("conversation.meta.sender") that keep the
// first problem, so a handler reads every field it needs and checks once.
// After a problem every look-up answers nullptr.
class Fields {
public:
    // `where` names `base` in messages ("attachments[2]"); empty for the
    // body itself.  Returns nullptr when the value is absent or null, or on
    // a problem.
    const Value* get(const Value& base, std::string_view path, Kind kind, Need need,
                     std::string_view where = {})
    {
        if (failed()) {
            return nullptr;
        }
        const Value* node = &base;
        size_t start = 0;
        for (;;) {
            const size_t dot = path.find('.', start);
            const bool leaf = dot == std::string_view::npos;
            const std::string_view so_far = path.substr(0, leaf ? path.size() : dot);
            const std::string_view key = so_far.substr(start);

            const Value* member = nullptr;
            if (!find_unique(*node, key, &member)) {
                fail("duplicate field " + name(where, so_far));
                return nullptr;
            }
            if (member == nullptr || member->IsNull()) {
                const bool null_leaf = leaf && member != nullptr;
                if (need == Need::required || (need == Need::nullable && !null_leaf)) {
                    fail("missing field " + name(where, path));
                }
                return nullptr;
            }
            const Kind expected = leaf ? kind : Kind::object;
            if (!has_kind(*member, expected)) {
                fail("field " + name(where, so_far) + " is not "
                     + std::string(kind_name(expected)));
                return nullptr;
            }
            if (leaf) {
                return member;
            }
            node = member;
            start = dot + 1;
        }
    }

    void fail(std::string reason)
    {
        if (error_.empty()) {
            error_ = std::move(reason);
        }
    }

    bool failed() const { return !error_.empty(); }
    std::string& error() { return error_; }

private:
    static std::string name(std::string_view where, std::string_view path)
    {
        std::string out(where);
        if (!out.empty()) {
            out += '.';
        }
        out += path;
        return out;
    }

    // A key given twice is refused rather than resolved: a reader that
    // takes the last one would see a different event than we do.
    static bool find_unique(const Value& object, std::string_view key, const Value** found)
    {
        for (const auto& m : object.GetObject()) {
            if (std::string_view(m.name.GetString(), m.name.GetStringLength()) == key) {
                if (*found != nullptr) {
                    return false;
                }
                *found = &m.value;
            }
        }
        return true;
    }

    std::string error_;
};

std::string_view text(const Value& v)
{
    return {v.GetString(), v.GetStringLength()};
}

// The normalised record: one compact JSON object, written in call order
// into the caller's buffer, byte for byte what rapidjson::Writer wrote
// (keys are constants without anything to escape; strings are escaped as
// its WriteString does; integers in decimal), without its per-byte stream
// calls.
class Record {
public:
    explicit Record(RecordOut& out) : out_(out) { open('{'); }

    struct Pair {
        const char* key;
        const Value* value;
    };

    void put_text(const char* key, std::string_view s)
    {
        write_key(key);
        write_string(s);
    }

    void put_bool(const char* key, bool b)
    {
        write_key(key);
        write_raw(b ? "true" : "false");
    }

    // A scalar taken from the body (integer, string or boolean), as is.
    void put(const char* key, const Value& v)
    {
        write_key(key);
        write_value(v);
    }

    // Omitted when the body had no value (absent or null).
    void maybe(const char* key, const Value* v)
    {
        if (v != nullptr) {
            put(key, *v);
        }
    }

    // A nested object of optional scalars; omitted when none is given.
    void object(const char* key, std::initializer_list<Pair> pairs)
    {
        bool any = false;
        for (const Pair& p : pairs) {
            any = any || p.value != nullptr;
        }
        if (!any) {
            return;
        }
        write_key(key);
        write_object(pairs);
    }

    // An object as the next element of the array being written.
    void object(std::initializer_list<Pair> pairs)
    {
        separate();
        write_object(pairs);
    }

    void start_array(const char* key)
    {
        write_key(key);
        open('[');
    }

    void end_array() { close(']'); }

    void finish() { close('}'); }

private:
    // A comma before every member or element but the first of its container.
    void separate()
    {
        if (first_[depth_]) {
            first_[depth_] = false;
        } else {
            out_.Put(',');
        }
    }

    void open(char c)
    {
        out_.Put(c);
        first_[++depth_] = true;
    }

    void close(char c)
    {
        depth_--;
        out_.Put(c);
    }

    void write_object(std::initializer_list<Pair> pairs)
    {
        open('{');
        for (const Pair& p : pairs) {
            maybe(p.key, p.value);
        }
        close('}');
    }

    void write_key(const char* key)
    {
        separate();
        out_.Put('"');
        out_.append(key, std::strlen(key));
        out_.append("\":", 2);
    }

    void write_raw(std::string_view s) { out_.append(s.data(), s.size()); }

    void write_value(const Value& v)
    {
        char digits[24];
        if (v.IsString()) {
            write_string(text(v));
        } else if (v.IsInt64()) {
            const auto r = std::to_chars(digits, digits + sizeof digits, v.GetInt64());
            out_.append(digits, static_cast<size_t>(r.ptr - digits));
        } else if (v.IsUint64()) {
            const auto r = std::to_chars(digits, digits + sizeof digits, v.GetUint64());
            out_.append(digits, static_cast<size_t>(r.ptr - digits));
        } else if (v.IsBool()) {
            write_raw(v.GetBool() ? "true" : "false");
        } else {
            // Not a kind any caller puts (they check it first); written
            // the way it always was.
            rapidjson::Writer<RecordOut, rapidjson::UTF8<>, rapidjson::UTF8<>, ThrowingAllocator> w(
                out_);
            v.Accept(w);
        }
    }

    // rapidjson::Writer's escaping (UTF-8 in and out, default flags): \"
    // and \\, the short forms \b \t \n \f \r, \u00XX (upper-case hex) for
    // the other control characters, every other byte as it is.
    void write_string(std::string_view s)
    {
        static constexpr char hex[] = "0123456789ABCDEF";
        out_.Put('"');
        size_t run = 0;  // where the bytes not yet written start
        for (size_t i = 0; i < s.size(); i++) {
            const auto c = static_cast<unsigned char>(s[i]);
            const char e = kEscape[c];
            if (e == 0) {
                continue;
            }
            out_.append(s.data() + run, i - run);
            out_.Put('\\');
            out_.Put(e);
            if (e == 'u') {
                out_.Put('0');
                out_.Put('0');
                out_.Put(hex[c >> 4]);
                out_.Put(hex[c & 15]);
            }
            run = i + 1;
        }
        out_.append(s.data() + run, s.size() - run);
        out_.Put('"');
    }

    static constexpr std::array<char, 256> kEscape = [] {
        std::array<char, 256> t{};
        for (int c = 0; c < 0x20; c++) {
            t[c] = 'u';
        }
        t['\b'] = 'b';
        t['\t'] = 't';
        t['\n'] = 'n';
        t['\f'] = 'f';
        t['\r'] = 'r';
        t['"'] = '"';
        t['\\'] = '\\';
        return t;
    }();

    RecordOut& out_;
    std::array<bool, kMaxDepth + 1> first_{};
    int depth_ = -1;
};

Decision rejected(Decision d, std::string reason)
{
    d.verdict = Verdict::reject;
    d.reason = std::move(reason);
    return d;
}

Decision ignored(Decision d, IgnoreReason why)
{
    d.verdict = Verdict::ignore;
    d.ignored = why;
    d.reason = ignore_reason_name(why);
    return d;
}

// The record itself is in the caller's string already.
Decision queued(Decision d)
{
    d.verdict = Verdict::queue;
    return d;
}

// --- message_created / message_updated ---------------------------------

// What every message event must carry, checked before it is classified
// so that a malformed body is refused whatever it turns out to be.
struct Message {
    const Value* id = nullptr;
    const Value* conversation_id = nullptr;
    const Value* inbox_id = nullptr;
    const Value* account_id = nullptr;
    const Value* content = nullptr;      // nullptr when JSON null
    const Value* source_id = nullptr;    // nullptr when JSON null
    const Value* attributes = nullptr;   // content_attributes, when given
    const Value* attachments = nullptr;  // when given
    std::string_view type;
    bool is_private = false;
};

// Webhooks carry the inbox as a top-level object; the conversation's
// inbox_id is the same number, used when the former is missing.
const Value* message_inbox_id(const Value& root, Fields& f)
{
    const Value* id = f.get(root, "inbox.id", Kind::integer, Need::optional);
    if (id == nullptr) {
        id = f.get(root, "conversation.inbox_id", Kind::integer, Need::optional);
    }
    if (id == nullptr) {
        f.fail("missing field inbox.id");
    }
    return id;
}

std::string attachment_name(rapidjson::SizeType i)
{
    return "attachments[" + std::to_string(i) + "]";
}

void check_attachments(const Value* list, Fields& f)
{
    if (list == nullptr || f.failed()) {
        return;
    }
    // Counted before anything is looked at, so a huge list costs nothing.
    if (list->Size() > kMaxAttachments) {
        f.fail("too many attachments");
        return;
    }
    for (rapidjson::SizeType i = 0; i < list->Size() && !f.failed(); i++) {
        const Value& a = (*list)[i];
        const std::string where = attachment_name(i);
        if (!a.IsObject()) {
            f.fail("field " + where + " is not an object");
            return;
        }
        f.get(a, "id", Kind::integer, Need::required, where);
        f.get(a, "file_type", Kind::string, Need::required, where);
    }
}

Message read_message(const Value& root, Fields& f)
{
    Message m;
    m.id = f.get(root, "id", Kind::integer, Need::required);
    const Value* type = f.get(root, "message_type", Kind::string, Need::required);
    const Value* is_private = f.get(root, "private", Kind::boolean, Need::required);
    m.conversation_id = f.get(root, "conversation.id", Kind::integer, Need::required);
    m.inbox_id = message_inbox_id(root, f);
    m.account_id = f.get(root, "account.id", Kind::integer, Need::required);
    m.content = f.get(root, "content", Kind::string, Need::nullable);
    m.source_id = f.get(root, "source_id", Kind::string, Need::nullable);
    m.attributes = f.get(root, "content_attributes", Kind::object, Need::optional);
    m.attachments = f.get(root, "attachments", Kind::array, Need::optional);
    check_attachments(m.attachments, f);
    if (!f.failed()) {
        m.type = text(*type);
        m.is_private = is_private->GetBool();
    }
    return m;
}

void write_contact(Record& r, const Value& root, Fields& f)
{
    constexpr std::string_view where = "conversation.meta.sender";
    const Value* contact = f.get(root, where, Kind::object, Need::optional);
    if (contact == nullptr) {
        return;
    }
    r.object("contact",
             {{"id", f.get(*contact, "id", Kind::integer, Need::optional, where)},
              {"identifier", f.get(*contact, "identifier", Kind::string, Need::optional, where)},
              {"phone_number",
               f.get(*contact, "phone_number", Kind::string, Need::optional, where)}});
}

void write_sender(Record& r, const Value& root, Fields& f)
{
    constexpr std::string_view where = "sender";
    const Value* sender = f.get(root, where, Kind::object, Need::optional);
    if (sender == nullptr) {
        return;
    }
    r.object("sender", {{"id", f.get(*sender, "id", Kind::integer, Need::optional, where)},
                        {"name", f.get(*sender, "name", Kind::string, Need::optional, where)},
                        {"type", f.get(*sender, "type", Kind::string, Need::optional, where)}});
}

void write_reply_to(Record& r, const Message& m, Fields& f)
{
    constexpr std::string_view where = "content_attributes";
    if (m.attributes == nullptr) {
        return;
    }
    // Chatwoot nulls both keys when the quoted message is not found.
    r.object("reply_to",
             {{"id", f.get(*m.attributes, "in_reply_to", Kind::integer, Need::optional, where)},
              {"external_id", f.get(*m.attributes, "in_reply_to_external_id", Kind::string,
                                    Need::optional, where)}});
}

void write_attachments(Record& r, const Message& m, Fields& f)
{
    // An empty list says nothing the absent key does not.
    if (m.attachments == nullptr || m.attachments->Empty()) {
        return;
    }
    r.start_array("attachments");
    for (rapidjson::SizeType i = 0; i < m.attachments->Size(); i++) {
        const Value& a = (*m.attachments)[i];
        const std::string where = attachment_name(i);
        r.object({{"id", f.get(a, "id", Kind::integer, Need::required, where)},
                  {"file_type", f.get(a, "file_type", Kind::string, Need::required, where)},
                  {"data_url", f.get(a, "data_url", Kind::string, Need::optional, where)},
                  {"content_type", f.get(a, "content_type", Kind::string, Need::optional, where)},
                  {"file_size", f.get(a, "file_size", Kind::integer, Need::optional, where)},
                  {"extension", f.get(a, "extension", Kind::string, Need::optional, where)}});
    }
    r.end_array();
}

// The caller discards the record when `f` has failed: a field read here
// may still turn out to be of the wrong type.
// The head every message record starts with: what to do, and to which
// message in which conversation, inbox and account.
void put_message_head(Record& r, std::string_view type, const Message& m)
{
    r.put_text("type", type);
    r.put("message_id", *m.id);
    r.put("conversation_id", *m.conversation_id);
    r.put("inbox_id", *m.inbox_id);
    r.put("account_id", *m.account_id);
}

void send_record(const Value& root, const Message& m, Fields& f, RecordOut& out)
{
    Record r(out);
    put_message_head(r, "send", m);
    r.maybe("content", m.content);
    r.maybe("source_id_of_contact", f.get(root, "conversation.contact_inbox.source_id",
                                          Kind::string, Need::optional));
    write_contact(r, root, f);
    write_sender(r, root, f);
    write_reply_to(r, m, f);
    write_attachments(r, m, f);
    r.maybe("created_at", f.get(root, "created_at", Kind::string, Need::optional));
    r.finish();
}

void delete_record(const Message& m, RecordOut& out)
{
    Record r(out);
    put_message_head(r, "delete", m);
    r.maybe("source_id", m.source_id);
    r.finish();
}

// Our own messages come back with the WhatsApp id we gave them.
bool is_own_echo(const Message& m)
{
    return m.source_id != nullptr && text(*m.source_id).starts_with("WAID:");
}

Decision on_message_created(const Value& root, Decision d, RecordOut& out)
{
    Fields f;
    const Message m = read_message(root, f);
    if (f.failed()) {
        return rejected(std::move(d), std::move(f.error()));
    }
    if (m.is_private) {
        return ignored(std::move(d), IgnoreReason::private_note);
    }
    // Anything but the two kinds an agent sends (including a type this
    // code does not know yet) is not a reply to deliver.
    if (m.type != "outgoing" && m.type != "template") {
        return ignored(std::move(d), IgnoreReason::not_outgoing);
    }
    if (is_own_echo(m)) {
        return ignored(std::move(d), IgnoreReason::own_echo);
    }
    send_record(root, m, f, out);
    if (f.failed()) {
        return rejected(std::move(d), std::move(f.error()));
    }
    return queued(std::move(d));
}

Decision on_message_updated(const Value& root, Decision d, RecordOut& out)
{
    Fields f;
    const Message m = read_message(root, f);
    const Value* deleted = m.attributes == nullptr
        ? nullptr
        : f.get(*m.attributes, "deleted", Kind::boolean, Need::optional, "content_attributes");
    if (f.failed()) {
        return rejected(std::move(d), std::move(f.error()));
    }
    if (m.is_private) {
        return ignored(std::move(d), IgnoreReason::private_note);
    }
    if (deleted == nullptr || !deleted->GetBool()) {
        return ignored(std::move(d), IgnoreReason::not_a_deletion);
    }
    delete_record(m, out);
    return queued(std::move(d));
}

// --- conversation events -------------------------------------------------

bool known_status(std::string_view s)
{
    return s == "open" || s == "resolved" || s == "pending" || s == "snoozed";
}

// The body is the conversation itself (CONTRACT.md 4.5): `id` is its
// display id.  changed_attributes is normally null and is not read.
Decision on_status_changed(const Value& root, Decision d, RecordOut& out)
{
    Fields f;
    const Value* id = f.get(root, "id", Kind::integer, Need::required);
    const Value* inbox_id = f.get(root, "inbox_id", Kind::integer, Need::required);
    const Value* status = f.get(root, "status", Kind::string, Need::required);
    const Value* account_id = f.get(root, "account.id", Kind::integer, Need::required);
    if (!f.failed() && !known_status(text(*status))) {
        // Not echoed: the reason goes back in a 400 and into the log.
        f.fail("field status has an unknown value");
    }
    if (f.failed()) {
        return rejected(std::move(d), std::move(f.error()));
    }
    Record r(out);
    r.put_text("type", "status");
    r.put("conversation_id", *id);
    r.put("inbox_id", *inbox_id);
    r.put("account_id", *account_id);
    r.put("status", *status);
    r.finish();
    return queued(std::move(d));
}

// Chatwoot copies is_private from the agent's request "as given" (CONTRACT
// 4.6), so a form-encoded request leaves the string "true" in the body.
// Reading that as false would show a private note's typing to the contact.
std::optional<bool> typing_is_private(const Value& root, Fields& f)
{
    const Value* v = f.get(root, "is_private", Kind::any, Need::optional);
    if (v == nullptr) {
        return false;
    }
    if (v->IsBool()) {
        return v->GetBool();
    }
    if (v->IsString() && (text(*v) == "true" || text(*v) == "false")) {
        return text(*v) == "true";
    }
    f.fail("field is_private is not a boolean");
    return std::nullopt;
}

// The typing body has no account of its own: the account is inside the
// conversation object (CONTRACT.md 4.2, 4.6).  A top-level one wins.
const Value* typing_account_id(const Value& root, Fields& f)
{
    const Value* id = f.get(root, "account.id", Kind::integer, Need::optional);
    if (id == nullptr) {
        id = f.get(root, "conversation.account.id", Kind::integer, Need::optional);
    }
    return id;
}

Decision on_typing(const Value& root, Decision d, bool on, RecordOut& out)
{
    Fields f;
    const Value* id = f.get(root, "conversation.id", Kind::integer, Need::required);
    const Value* inbox_id = f.get(root, "conversation.inbox_id", Kind::integer, Need::required);
    const Value* account_id = typing_account_id(root, f);
    const std::optional<bool> is_private = typing_is_private(root, f);
    if (f.failed()) {
        return rejected(std::move(d), std::move(f.error()));
    }
    if (*is_private) {
        return ignored(std::move(d), IgnoreReason::private_note);
    }
    Record r(out);
    r.put_text("type", "typing");
    r.put("conversation_id", *id);
    r.put("inbox_id", *inbox_id);
    r.maybe("account_id", account_id);
    r.put_bool("on", on);
    r.finish();
    return queued(std::move(d));
}

Decision classify(const Document& doc, RecordOut& out)
{
    if (!doc.IsObject()) {
        return rejected(Decision{}, "body is not a JSON object");
    }
    Fields f;
    const Value* event = f.get(doc, "event", Kind::string, Need::required);
    if (event == nullptr) {
        return rejected(Decision{}, std::move(f.error()));
    }

    Decision d;
    d.event = text(*event);
    const std::string_view name = text(*event);
    if (name == "message_created") {
        return on_message_created(doc, std::move(d), out);
    }
    if (name == "message_updated") {
        return on_message_updated(doc, std::move(d), out);
    }
    if (name == "conversation_status_changed") {
        return on_status_changed(doc, std::move(d), out);
    }
    if (name == "conversation_typing_on" || name == "conversation_typing_off") {
        return on_typing(doc, std::move(d), name == "conversation_typing_on", out);
    }
    return ignored(std::move(d), IgnoreReason::unknown_event);
}

}  // namespace

Decision parse(std::string_view body, RecordOut& out)
{
    Scratch& s = scratch();
    const size_t start = out.size();
    Decision d;
    {
        Pool pool(s.pool.data(), s.pool.size(), kPoolChunkBytes, &s.base);
        Document doc(&pool, 1024, &s.base);
        if (std::optional<std::string> problem = parse_json(body, doc, s)) {
            d = rejected(Decision{}, std::move(*problem));
        } else {
            d = classify(doc, out);
        }
    }
    if (s.text.capacity() > kKeepTextBytes) {
        std::vector<char>().swap(s.text);
    }
    if (d.verdict != Verdict::queue) {
        out.truncate(start);  // a record refused half-way is not left behind
    }
    return d;
}

Decision parse(std::string_view body)
{
    // The record is never longer than the body plus its own keys (strings
    // and numbers only get shorter); a bigger buffer is tried if it was.
    std::string buf(body.size() + 4096, '\0');
    for (;;) {
        RecordOut out(buf.data(), buf.size());
        Decision d = parse(body, out);
        if (!out.overflowed()) {
            d.record.assign(out.data(), out.size());
            return d;
        }
        buf.resize(2 * out.size());
    }
}

std::string_view ignore_reason_name(IgnoreReason r)
{
    switch (r) {
    case IgnoreReason::none: return "none";
    case IgnoreReason::private_note: return "private_note";
    case IgnoreReason::not_outgoing: return "not_outgoing";
    case IgnoreReason::own_echo: return "own_echo";
    case IgnoreReason::unknown_event: return "unknown_event";
    case IgnoreReason::not_a_deletion: return "not_a_deletion";
    }
    return "none";
}

}  // namespace chatwoot::webhook
