// Command records (include/chatwoot_command.h): the workers' encoder behind
// the C ABI and the helper's decoder.  Both go through the same table of
// fields and the same rules, so that whatever a worker can encode the
// helper can decode, and nothing else.

#include "command_record.hpp"

#include "../chatwoot/webhook_utf8.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <optional>
#include <type_traits>

namespace chatwoot::ipc {

namespace {

enum class Field { device, phone, inbox, what, to, text, assertion, key };

// What a field may hold, beyond being non-empty and within its bound.
enum class Alphabet {
    digits,      // a phone number
    word,        // [a-z0-9_]: a name the import gives meaning to
    line,        // UTF-8 without control characters: names, JIDs
    text,        // UTF-8 without NUL: a message
    json,        // UTF-8 without C0 controls but JSON's white space (tab, LF, CR)
};

struct FieldRule {
    const char* name;
    size_t max;
    Alphabet alphabet;
};

FieldRule rule_of(Field f)
{
    switch (f) {
    case Field::device:
        return {"device", CW_COMMAND_DEVICE_MAX, Alphabet::line};
    case Field::phone:
        return {"phone", CW_COMMAND_PHONE_MAX, Alphabet::digits};
    case Field::inbox:
        return {"inbox", CW_COMMAND_INBOX_MAX, Alphabet::line};
    case Field::what:
        return {"what", CW_COMMAND_WHAT_MAX, Alphabet::word};
    case Field::to:
        return {"to", CW_COMMAND_TO_MAX, Alphabet::line};
    case Field::assertion:
        return {"assertion", CW_COMMAND_ASSERTION_MAX, Alphabet::json};
    case Field::key:
        return {"key", CW_COMMAND_KEY_MAX, Alphabet::line};
    case Field::text:
        break;
    }
    return {"text", CW_COMMAND_TEXT_MAX, Alphabet::text};
}

constexpr size_t kMaxFields = 4;

struct Layout {
    size_t n;
    std::array<Field, kMaxFields> fields;
};

// The fields of each kind (and, for a send, its flags), in record order;
// nullopt for an unknown kind.
std::optional<Layout> layout_of(unsigned kind, unsigned flags = 0)
{
    switch (kind) {
    case CW_COMMAND_PAIR:
        return Layout{1, {Field::device}};
    case CW_COMMAND_PAIR_CODE:
        return Layout{2, {Field::device, Field::phone}};
    case CW_COMMAND_LOGOUT:
        return Layout{1, {Field::device}};
    case CW_COMMAND_IMPORT:
        return Layout{2, {Field::inbox, Field::what}};
    case CW_COMMAND_SEND:
        if (flags & CW_COMMAND_SEND_KEYED) {
            return Layout{4, {Field::inbox, Field::to, Field::text, Field::key}};
        }
        return Layout{3, {Field::inbox, Field::to, Field::text}};
    case CW_COMMAND_PASSKEY:
        return Layout{2, {Field::device, Field::assertion}};
    case CW_COMMAND_PASSKEY_CONFIRM:
        return Layout{1, {Field::device}};
    default:
        return std::nullopt;
    }
}

// A passkey record is bounded by its own fields, and no larger than the
// largest record the decoder (and the ring's sizing) expects.
static_assert(CW_COMMAND_PASSKEY_RECORD_MAX <= CW_COMMAND_RECORD_MAX);

constexpr unsigned kImportFlags = CW_COMMAND_IMPORT_MEDIA | CW_COMMAND_IMPORT_GROUPS;

bool alphabet_ok(Alphabet a, std::string_view v)
{
    switch (a) {
    case Alphabet::digits:
        for (char c : v) {
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    case Alphabet::word:
        for (char c : v) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
                return false;
            }
        }
        return true;
    case Alphabet::line:
        for (char c : v) {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 || u == 0x7f) {
                return false;
            }
        }
        return webhook::valid_utf8(v.data(), v.size());
    case Alphabet::text:
        return std::memchr(v.data(), '\0', v.size()) == nullptr
               && webhook::valid_utf8(v.data(), v.size());
    case Alphabet::json:
        for (char c : v) {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                return false;
            }
        }
        return webhook::valid_utf8(v.data(), v.size());
    }
    return false;
}

// Why a field's value breaks its rule, or nullptr.  Never quotes the value.
const char* field_problem(Field f, std::string_view v, size_t* max)
{
    const FieldRule r = rule_of(f);
    *max = r.max;
    if (v.empty()) {
        return "is empty";
    }
    if (v.size() > r.max) {
        return "is too long";
    }
    if (!alphabet_ok(r.alphabet, v)) {
        switch (r.alphabet) {
        case Alphabet::digits:
            return "is not all digits";
        case Alphabet::word:
            return "is not a lower-case word";
        case Alphabet::line:
            return "is not UTF-8 without control characters";
        case Alphabet::text:
            return "is not UTF-8 without NUL";
        case Alphabet::json:
            return "is not UTF-8 JSON text without control characters";
        }
    }
    return nullptr;
}

// Why a header is not one the kind allows, or nullptr.
const char* header_problem(unsigned kind, unsigned flags, uint64_t days)
{
    if (kind == CW_COMMAND_IMPORT) {
        if ((flags & ~kImportFlags) != 0) {
            return "unknown import flags";
        }
        if (days > CW_COMMAND_DAYS_MAX) {
            return "days over the limit";
        }
        return nullptr;
    }
    if (kind == CW_COMMAND_SEND) {
        if ((flags & ~unsigned{CW_COMMAND_SEND_KEYED}) != 0 || days != 0) {
            return "unknown send flags, or days on a send";
        }
        return nullptr;
    }
    if (flags != 0 || days != 0) {
        return "flags or days on a command that has none";
    }
    return nullptr;
}

// A command about to be written, whichever side describes it.
struct Draft {
    unsigned kind = 0;
    unsigned flags = 0;
    uint64_t days = 0;
    int64_t created_at = 0;
    Layout layout{};
    std::array<std::string_view, kMaxFields> values{};
};

// The record length, or 0 with the reason written (at most size bytes).
size_t checked_length(const Draft& d, char* reason, size_t size)
{
    auto fail = [&](const char* what) {
        if (reason != nullptr && size > 0) {
            std::snprintf(reason, size, "%s", what);
        }
        return size_t{0};
    };
    if (const char* why = header_problem(d.kind, d.flags, d.days)) {
        return fail(why);
    }
    size_t len = CW_COMMAND_HEADER_SIZE;
    for (size_t i = 0; i < d.layout.n; i++) {
        size_t max = 0;
        if (const char* why = field_problem(d.layout.fields[i], d.values[i], &max)) {
            if (reason != nullptr && size > 0) {
                std::snprintf(reason, size, "%s %s (at most %zu bytes)",
                              rule_of(d.layout.fields[i]).name, why, max);
            }
            return 0;
        }
        len += 4 + d.values[i].size();
    }
    return len;
}

void put_le(unsigned char* p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = static_cast<unsigned char>(v >> (8 * i));
    }
}

uint64_t get_le(const unsigned char* p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v |= static_cast<uint64_t>(p[i]) << (8 * i);
    }
    return v;
}

// Writes a draft checked_length() accepted into out[0..len).
void write_record(const Draft& d, unsigned char* out)
{
    out[0] = CW_COMMAND_VERSION;
    out[1] = static_cast<unsigned char>(d.kind);
    put_le(out + 2, d.flags, 2);
    put_le(out + 4, d.days, 4);
    put_le(out + 8, static_cast<uint64_t>(d.created_at), 8);
    unsigned char* p = out + CW_COMMAND_HEADER_SIZE;
    for (size_t i = 0; i < d.layout.n; i++) {
        const std::string_view v = d.values[i];
        put_le(p, v.size(), 4);
        if (!v.empty()) {
            std::memcpy(p + 4, v.data(), v.size());
        }
        p += 4 + v.size();
    }
}

// A draft of a C command; false (reason written) when it cannot be one.
bool draft_of(const cw_command_t& c, Draft& d, char* reason)
{
    auto fail = [&](const char* what) {
        if (reason != nullptr) {
            std::snprintf(reason, CW_COMMAND_REASON_SIZE, "%s", what);
        }
        return false;
    };
    const unsigned send_flags = c.kind == CW_COMMAND_SEND && c.key.len > 0
                                    ? unsigned{CW_COMMAND_SEND_KEYED} : 0u;
    const auto layout = layout_of(static_cast<unsigned>(c.kind), send_flags);
    if (!layout) {
        return fail("unknown command kind");
    }
    d.kind = static_cast<unsigned>(c.kind);
    d.layout = *layout;
    d.created_at = c.now;
    if (d.kind == CW_COMMAND_IMPORT) {
        d.flags = c.flags;
        d.days = c.days;
    }
    if (d.kind == CW_COMMAND_SEND) {
        d.flags = send_flags;
    }
    for (size_t i = 0; i < d.layout.n; i++) {
        const cw_str_t* s = nullptr;
        switch (d.layout.fields[i]) {
        case Field::device:
            s = &c.device;
            break;
        case Field::phone:
            s = &c.phone;
            break;
        case Field::inbox:
            s = &c.inbox;
            break;
        case Field::what:
            s = &c.what;
            break;
        case Field::to:
            s = &c.to;
            break;
        case Field::text:
            s = &c.text;
            break;
        case Field::assertion:
            s = &c.assertion;
            break;
        case Field::key:
            s = &c.key;
            break;
        }
        if (s->data == nullptr && s->len != 0) {
            return fail("a field has a length and no data");
        }
        d.values[i] = s->data == nullptr ? std::string_view()
                                         : std::string_view(s->data, s->len);
    }
    return true;
}

Draft draft_of(const Command& c)
{
    Draft d;
    d.kind = static_cast<unsigned>(c.kind());
    d.layout = *layout_of(d.kind);
    d.created_at = c.created_at;
    std::visit(
        [&](const auto& b) {
            using T = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<T, PairCommand>) {
                d.values = {b.device};
            } else if constexpr (std::is_same_v<T, PairCodeCommand>) {
                d.values = {b.device, b.phone};
            } else if constexpr (std::is_same_v<T, LogoutCommand>) {
                d.values = {b.device};
            } else if constexpr (std::is_same_v<T, ImportCommand>) {
                d.values = {b.inbox, b.what};
                d.days = b.days;
                d.flags = (b.include_media ? CW_COMMAND_IMPORT_MEDIA : 0u)
                          | (b.include_groups ? CW_COMMAND_IMPORT_GROUPS : 0u);
            } else if constexpr (std::is_same_v<T, SendCommand>) {
                if (b.key.empty()) {
                    d.values = {b.inbox, b.to, b.text};
                } else {
                    d.flags = CW_COMMAND_SEND_KEYED;
                    d.layout = *layout_of(d.kind, d.flags);
                    d.values = {b.inbox, b.to, b.text, b.key};
                }
            } else if constexpr (std::is_same_v<T, PasskeyCommand>) {
                d.values = {b.device, b.assertion};
            } else {
                static_assert(std::is_same_v<T, PasskeyConfirmCommand>);
                d.values = {b.device};
            }
        },
        c.body);
    return d;
}

CommandError error_at(CommandErrc code, size_t offset, std::string detail)
{
    return CommandError{code, offset, std::move(detail)};
}

}  // namespace

const char* command_errc_name(CommandErrc code)
{
    switch (code) {
    case CommandErrc::truncated:
        return "truncated";
    case CommandErrc::too_large:
        return "too_large";
    case CommandErrc::unknown_version:
        return "unknown_version";
    case CommandErrc::unknown_kind:
        return "unknown_kind";
    case CommandErrc::bad_header:
        return "bad_header";
    case CommandErrc::bad_field:
        return "bad_field";
    case CommandErrc::trailing_bytes:
        return "trailing_bytes";
    }
    return "unknown";
}

std::string CommandDecoding::reason() const
{
    if (ok()) {
        return {};
    }
    const CommandError& e = error();
    return std::string(command_errc_name(e.code)) + " at " + std::to_string(e.offset)
           + ": " + e.detail;
}

CommandDecoding decode_command(std::span<const unsigned char> r)
{
    const size_t size = r.size();
    if (size > CW_COMMAND_RECORD_MAX) {
        return error_at(CommandErrc::too_large, 0,
                        "record of " + std::to_string(size) + " bytes");
    }
    if (size < 1) {
        return error_at(CommandErrc::truncated, 0, "empty record");
    }
    // The version first: a later version may lay out even the header anew.
    if (r[0] != CW_COMMAND_VERSION) {
        return error_at(CommandErrc::unknown_version, 0,
                        "version " + std::to_string(r[0]));
    }
    if (size < CW_COMMAND_HEADER_SIZE) {
        return error_at(CommandErrc::truncated, size, "header cut short");
    }
    const unsigned kind = r[1];
    const auto flags = static_cast<unsigned>(get_le(r.data() + 2, 2));
    const auto layout = layout_of(kind, kind == CW_COMMAND_SEND ? flags : 0u);
    if (!layout) {
        return error_at(CommandErrc::unknown_kind, 1, "kind " + std::to_string(kind));
    }
    const uint64_t days = get_le(r.data() + 4, 4);
    if (const char* why = header_problem(kind, flags, days)) {
        return error_at(CommandErrc::bad_header, 2, why);
    }

    std::array<std::string_view, kMaxFields> values{};
    size_t off = CW_COMMAND_HEADER_SIZE;
    for (size_t i = 0; i < layout->n; i++) {
        const FieldRule rule = rule_of(layout->fields[i]);
        if (size - off < 4) {
            return error_at(CommandErrc::truncated, off,
                            std::string(rule.name) + " length cut short");
        }
        const uint64_t len = get_le(r.data() + off, 4);
        if (len > rule.max) {
            return error_at(CommandErrc::too_large, off,
                            std::string(rule.name) + " of " + std::to_string(len)
                                + " bytes, at most " + std::to_string(rule.max));
        }
        if (size - off - 4 < len) {
            return error_at(CommandErrc::truncated, off,
                            std::string(rule.name) + " cut short");
        }
        const std::string_view v(reinterpret_cast<const char*>(r.data() + off + 4),
                                 static_cast<size_t>(len));
        size_t max = 0;
        if (const char* why = field_problem(layout->fields[i], v, &max)) {
            return error_at(CommandErrc::bad_field, off, std::string(rule.name) + " " + why);
        }
        values[i] = v;
        off += 4 + static_cast<size_t>(len);
    }
    if (off != size) {
        return error_at(CommandErrc::trailing_bytes, off,
                        std::to_string(size - off) + " bytes after the last field");
    }

    Command c;
    c.created_at = static_cast<int64_t>(get_le(r.data() + 8, 8));
    auto s = [&](size_t i) { return std::string(values[i]); };
    switch (kind) {
    case CW_COMMAND_PAIR:
        c.body = PairCommand{s(0)};
        break;
    case CW_COMMAND_PAIR_CODE:
        c.body = PairCodeCommand{s(0), s(1)};
        break;
    case CW_COMMAND_LOGOUT:
        c.body = LogoutCommand{s(0)};
        break;
    case CW_COMMAND_IMPORT:
        c.body = ImportCommand{s(0), s(1), static_cast<uint32_t>(days),
                               (flags & CW_COMMAND_IMPORT_MEDIA) != 0,
                               (flags & CW_COMMAND_IMPORT_GROUPS) != 0};
        break;
    case CW_COMMAND_SEND:
        c.body = SendCommand{s(0), s(1), s(2), layout->n > 3 ? s(3) : std::string()};
        break;
    case CW_COMMAND_PASSKEY:
        c.body = PasskeyCommand{s(0), s(1)};
        break;
    default:
        c.body = PasskeyConfirmCommand{s(0)};
        break;
    }
    return c;
}

std::optional<unsigned> peek_command_kind(std::span<const unsigned char> record)
{
    if (record.size() < 2) {
        return std::nullopt;
    }
    return record[1];
}

std::optional<std::vector<unsigned char>> encode_command(const Command& command,
                                                         std::string* reason)
{
    const Draft d = draft_of(command);
    char why[CW_COMMAND_REASON_SIZE] = "";
    const size_t len = checked_length(d, why, sizeof why);
    if (len == 0) {
        if (reason != nullptr) {
            *reason = why;
        }
        return std::nullopt;
    }
    std::vector<unsigned char> out(len);
    write_record(d, out.data());
    return out;
}

std::string command_id(uint64_t epoch, uint64_t seq)
{
    char id[CW_COMMAND_ID_SIZE];
    cw_command_id(epoch, seq, id);
    return std::string(id, CW_COMMAND_ID_LEN);
}

DrainedCommandRecord read_command_record(uint64_t epoch, uint64_t seq,
                                         std::span<const unsigned char> record, int64_t now)
{
    DrainedCommandRecord r;
    r.id = command_id(epoch, seq);
    CommandDecoding decoded = decode_command(record);
    if (decoded) {
        r.kind = cw_command_kind_name(decoded.value().kind());
        r.created_at = decoded.value().created_at;
        r.command = std::move(decoded.value());
        return r;
    }
    const auto kind = peek_command_kind(record);
    r.kind = cw_command_kind_name(kind ? *kind : 0);
    r.created_at = now;
    r.failure = "unreadable command: " + decoded.reason();
    return r;
}

}  // namespace chatwoot::ipc

using namespace chatwoot::ipc;

// Nothing below allocates or throws: the checks and the copy work on the
// caller's memory, so noexcept needs no try/catch here.
extern "C" {

size_t cw_command_encoded_len(const cw_command_t* cmd, char* reason) noexcept
{
    Draft d;
    if (!draft_of(*cmd, d, reason)) {
        return 0;
    }
    return checked_length(d, reason, reason != nullptr ? CW_COMMAND_REASON_SIZE : 0);
}

size_t cw_command_encode(const cw_command_t* cmd, unsigned char* buf, size_t cap,
                         char* reason) noexcept
{
    Draft d;
    if (!draft_of(*cmd, d, reason)) {
        return 0;
    }
    const size_t len =
        checked_length(d, reason, reason != nullptr ? CW_COMMAND_REASON_SIZE : 0);
    if (len == 0) {
        return 0;
    }
    if (len > cap) {
        if (reason != nullptr) {
            std::snprintf(reason, CW_COMMAND_REASON_SIZE,
                          "the buffer holds %zu bytes, the record needs %zu", cap, len);
        }
        return 0;
    }
    write_record(d, buf);
    return len;
}

cw_command_rc_t cw_command_push(cw_ring_t* ring, const unsigned char* record, size_t len,
                                char id[CW_COMMAND_ID_SIZE]) noexcept
{
    id[0] = '\0';
    // Only what cw_command_encode wrote goes on the ring: a caller handing
    // anything else is caught here, not by the helper's alert.
    if (len < CW_COMMAND_HEADER_SIZE || record[0] != CW_COMMAND_VERSION) {
        return CW_COMMAND_INVALID;
    }
    uint64_t seq = 0;
    switch (cw_ring_push(ring, CW_RECORD_COMMAND, record, len, &seq)) {
    case CW_RING_OK:
        break;
    case CW_RING_FULL:
        return CW_COMMAND_FULL;
    case CW_RING_TOO_LARGE:
        return CW_COMMAND_TOO_LARGE;
    case CW_RING_CLOSED:
        return CW_COMMAND_CLOSED;
    default:
        return CW_COMMAND_CORRUPT;
    }
    // The same lock covers the push and this read: the epoch is the one the
    // record was pushed under, which the helper reads when it drains it.
    cw_command_id(cw_ring_current(ring)->epoch, seq, id);
    return CW_COMMAND_OK;
}

void cw_command_id(uint64_t epoch, uint64_t seq, char id[CW_COMMAND_ID_SIZE]) noexcept
{
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        id[i] = kHex[(epoch >> (60 - 4 * i)) & 0xf];
        id[16 + i] = kHex[(seq >> (60 - 4 * i)) & 0xf];
    }
    id[CW_COMMAND_ID_LEN] = '\0';
}

const char* cw_command_kind_name(unsigned kind) noexcept
{
    switch (kind) {
    case CW_COMMAND_PAIR:
        return "pair";
    case CW_COMMAND_PAIR_CODE:
        return "pair_code";
    case CW_COMMAND_LOGOUT:
        return "logout";
    case CW_COMMAND_IMPORT:
        return "import";
    case CW_COMMAND_SEND:
        return "send";
    case CW_COMMAND_PASSKEY:
        return "passkey";
    case CW_COMMAND_PASSKEY_CONFIRM:
        return "passkey_confirm";
    default:
        return "unknown";
    }
}

}  // extern "C"
