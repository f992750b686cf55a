// The devices API's decisions (include/chatwoot_devices.h): routes, the JSON
// of devices and commands read from the helper's snapshot, the pair-code
// body and answers, and the login page with its Content-Security-Policy.
// Device JSON leaves out the QR text and the pair code: the QR is served
// only as the <name>/qr image, on its own, the code only by <name>/pair-code.

#include "chatwoot_devices.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "chatwoot/webhook_utf8.hpp"
#include "ipc/login_page.hpp"

namespace {

std::string_view view(cw_str_t s)
{
    return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.len);
}

cw_str_t str(std::string_view v)
{
    return cw_str_t{v.data(), v.size()};
}

// A snapshot's char array up to its NUL (the writer's NUL may be missing
// in a buffer scribbled over: never past the array).
std::string_view field(const char* s, size_t cap)
{
    return std::string_view(s, strnlen(s, cap));
}

// A JSON string; bytes of a text that is not UTF-8 become U+FFFD, so the
// document stays valid whatever the buffer held.
void append_string(std::string& out, std::string_view s)
{
    const bool utf8 = chatwoot::webhook::valid_utf8(s.data(), s.size());
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            out += esc;
        } else if (c >= 0x80 && !utf8) {
            out += "\\ufffd";
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

// A string, or null when empty (not known, or not the case).
void append_or_null(std::string& out, std::string_view s)
{
    if (s.empty()) {
        out += "null";
    } else {
        append_string(out, s);
    }
}

void append_number_or_null(std::string& out, uint64_t n)
{
    out += n == 0 ? std::string("null") : std::to_string(n);
}

bool qr_pending(const cw_snapshot_device_t& d)
{
    return d.state == CW_DEVICE_PAIRING_QR && d.qr[0] != '\0';
}

void append_device(std::string& out, const cw_snapshot_device_t& d)
{
    out += "{\"name\":";
    append_string(out, field(d.name, sizeof d.name));
    out += ",\"inbox\":";
    append_string(out, field(d.inbox, sizeof d.inbox));
    out += ",\"state\":\"";
    out += cw_device_state_name(d.state);
    out += "\",\"state_since\":";
    append_number_or_null(out, d.state_since);
    out += ",\"pn_jid\":";
    append_or_null(out, field(d.pn_jid, sizeof d.pn_jid));
    out += ",\"lid\":";
    append_or_null(out, field(d.lid, sizeof d.lid));
    out += ",\"push_name\":";
    append_or_null(out, field(d.push_name, sizeof d.push_name));
    out += ",\"connected_since\":";
    append_number_or_null(out, d.connected_since);
    out += ",\"reconnects\":" + std::to_string(d.reconnects);
    out += ",\"error\":";
    append_or_null(out, field(d.error, sizeof d.error));
    out += ",\"restriction\":";
    append_or_null(out, field(d.restriction, sizeof d.restriction));
    out += ",\"qr_pending\":";
    out += qr_pending(d) ? "true" : "false";
    out += ",\"qr_serial\":" + std::to_string(d.qr_serial);
    out += '}';
}

// The code to type on the phone, when the device shows one now.
std::string_view pair_code_of(const cw_snapshot_device_t& d)
{
    return d.state == CW_DEVICE_PAIRING_CODE ? field(d.pair_code, sizeof d.pair_code)
                                             : std::string_view();
}

size_t emit(const std::string& json, char* buf, size_t size)
{
    if (json.size() > size) {
        return 0;
    }
    std::memcpy(buf, json.data(), json.size());
    return json.size();
}

bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-';
}

bool is_name(std::string_view s)
{
    if (s.empty() || s.size() > CW_COMMAND_DEVICE_MAX) {
        return false;
    }
    for (char c : s) {
        if (!is_name_char(c)) {
            return false;
        }
    }
    return true;
}

// An id as cw_command_id() writes it: 16 hex digits of epoch, 16 of seq.
bool parse_id(std::string_view id, uint64_t* epoch, uint64_t* seq)
{
    if (id.size() != CW_COMMAND_ID_LEN) {
        return false;
    }
    uint64_t parts[2] = {0, 0};
    for (size_t i = 0; i < CW_COMMAND_ID_LEN; i++) {
        const char c = id[i];
        unsigned v;
        if (c >= '0' && c <= '9') {
            v = static_cast<unsigned>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v = static_cast<unsigned>(c - 'a' + 10);
        } else {
            return false;
        }
        parts[i / 16] = parts[i / 16] << 4 | v;
    }
    *epoch = parts[0];
    *seq = parts[1];
    return true;
}

}  // namespace

extern "C" void cw_devices_route(cw_str_t path, cw_devices_route_t* route) noexcept
{
    std::string_view p = view(path);
    *route = cw_devices_route_t{CW_DEVICES_NOT_FOUND, cw_str_t{nullptr, 0}, 1, 0, "GET, HEAD"};

    if (p.empty()) {
        route->endpoint = CW_DEVICES_LIST;
        return;
    }
    const size_t slash = p.find('/');
    const std::string_view first = p.substr(0, slash);
    if (!is_name(first)) {
        return;
    }
    if (slash == std::string_view::npos) {
        route->endpoint = CW_DEVICES_ONE;
        route->name = str(first);
        return;
    }
    const std::string_view rest = p.substr(slash + 1);

    struct Action {
        std::string_view word;
        unsigned endpoint;
        bool get;
        bool post;
        const char* allow;
    };
    static constexpr Action kActions[] = {
        {"qr", CW_DEVICES_QR, true, false, "GET, HEAD"},
        {"login", CW_DEVICES_LOGIN, true, false, "GET, HEAD"},
        {"pair", CW_DEVICES_PAIR, false, true, "POST"},
        // POST asks for a code, GET polls for it
        {"pair-code", CW_DEVICES_PAIR_CODE, true, true, "GET, HEAD, POST"},
        {"logout", CW_DEVICES_LOGOUT, false, true, "POST"},
        // GET shows the ceremony's step, POST hands in the assertion
        {"passkey", CW_DEVICES_PASSKEY, true, true, "GET, HEAD, POST"},
        {"passkey/confirm", CW_DEVICES_PASSKEY_CONFIRM, false, true, "POST"},
    };
    for (const Action& a : kActions) {
        if (rest == a.word) {
            route->endpoint = a.endpoint;
            route->name = str(first);
            route->get = a.get ? 1 : 0;
            route->post = a.post ? 1 : 0;
            route->allow = a.allow;
            return;
        }
    }
    // "commands/<id>": a device may be called "commands" too; its actions
    // are matched above, and ids are never one of those words.
    if (first == "commands" && !rest.empty() && rest.find('/') == std::string_view::npos) {
        route->endpoint = CW_DEVICES_COMMAND;
        route->name = str(rest);
    }
}

extern "C" const cw_snapshot_device_t* cw_devices_find(const cw_snapshot_t* snap,
                                                       cw_str_t name) noexcept
{
    const std::string_view want = view(name);
    const size_t n = snap->devices_n < CW_SNAPSHOT_DEVICES ? snap->devices_n
                                                           : CW_SNAPSHOT_DEVICES;
    for (size_t i = 0; i < n; i++) {
        const cw_snapshot_device_t& d = snap->devices[i];
        if (!want.empty() && field(d.name, sizeof d.name) == want) {
            return &d;
        }
    }
    return nullptr;
}

extern "C" size_t cw_devices_render_list(const cw_snapshot_t* snap, char* buf,
                                         size_t size) noexcept
{
    try {
        std::string out = "{\"devices\":[";
        const size_t n = snap->devices_n < CW_SNAPSHOT_DEVICES ? snap->devices_n
                                                               : CW_SNAPSHOT_DEVICES;
        for (size_t i = 0; i < n; i++) {
            if (i != 0) {
                out += ',';
            }
            append_device(out, snap->devices[i]);
        }
        out += "]}";
        return emit(out, buf, size);
    } catch (...) {
        return 0;
    }
}

extern "C" size_t cw_devices_render_device(const cw_snapshot_device_t* device, char* buf,
                                           size_t size) noexcept
{
    try {
        std::string out;
        append_device(out, *device);
        return emit(out, buf, size);
    } catch (...) {
        return 0;
    }
}

extern "C" int cw_devices_qr_pending(const cw_snapshot_device_t* device) noexcept
{
    return qr_pending(*device) ? 1 : 0;
}

extern "C" size_t cw_devices_render_command(const cw_snapshot_t* snap, cw_str_t id,
                                            uint64_t ring_epoch, uint64_t ring_next_seq,
                                            char* buf, size_t size) noexcept
{
    try {
        const std::string_view want = view(id);
        uint64_t epoch = 0;
        uint64_t seq = 0;
        if (!parse_id(want, &epoch, &seq)) {
            return 0;
        }
        const size_t n = snap->commands_n < CW_SNAPSHOT_COMMANDS ? snap->commands_n
                                                                 : CW_SNAPSHOT_COMMANDS;
        std::string out;
        uint64_t oldest_seq = UINT64_MAX;   // of this epoch, among those shown
        for (size_t i = 0; i < n; i++) {
            const cw_snapshot_command_t& c = snap->commands[i];
            const std::string_view cid = field(c.id, sizeof c.id);
            uint64_t ce = 0;
            uint64_t cs = 0;
            if (parse_id(cid, &ce, &cs) && ce == epoch && cs < oldest_seq) {
                oldest_seq = cs;
            }
            if (cid != want) {
                continue;
            }
            out = "{\"id\":";
            append_string(out, cid);
            out += ",\"kind\":\"";
            out += cw_command_kind_name(static_cast<unsigned>(c.kind));
            out += "\",\"state\":\"";
            out += cw_command_state_name(c.state);
            out += "\",\"created_at\":" + std::to_string(c.created_at);
            out += ",\"updated_at\":" + std::to_string(c.updated_at);
            if (c.state == CW_COMMAND_FAILED) {
                out += ",\"reason\":";
                append_string(out, field(c.reason, sizeof c.reason));
            }
            out += '}';
            return emit(out, buf, size);
        }
        // Not published: pending when this ring handed the id out and the
        // snapshot's window still reaches back to it.  The helper settles a
        // command as it drains it, so one that fell out of a full window is
        // long settled: aged out.
        const bool issued = epoch == ring_epoch && seq >= 1 && seq < ring_next_seq;
        const bool aged_out = n >= CW_SNAPSHOT_COMMANDS && oldest_seq != UINT64_MAX
                              && seq < oldest_seq;
        if (!issued || aged_out) {
            return 0;
        }
        out = "{\"id\":";
        append_string(out, want);
        out += ",\"state\":\"pending\"}";
        return emit(out, buf, size);
    } catch (...) {
        return 0;
    }
}

extern "C" size_t cw_devices_render_accepted(const char* id, char* buf, size_t size) noexcept
{
    try {
        std::string out = "{\"id\":";
        append_string(out, field(id, CW_COMMAND_ID_SIZE));
        out += '}';
        return emit(out, buf, size);
    } catch (...) {
        return 0;
    }
}

extern "C" size_t cw_devices_render_code_accepted(const char* id,
                                                  const cw_snapshot_device_t* device,
                                                  char* buf, size_t size) noexcept
{
    try {
        std::string out = "{\"id\":";
        append_string(out, field(id, CW_COMMAND_ID_SIZE));
        out += ",\"code\":";
        append_or_null(out, device != nullptr ? pair_code_of(*device) : std::string_view());
        out += '}';
        return emit(out, buf, size);
    } catch (...) {
        return 0;
    }
}

extern "C" size_t cw_devices_render_pair_code(const cw_snapshot_device_t* device, char* buf,
                                              size_t size, unsigned* status) noexcept
{
    try {
        const cw_snapshot_device_t& d = *device;
        const std::string_view state = cw_device_state_name(d.state);
        std::string out;
        if (d.state != CW_DEVICE_PAIRING_CODE) {
            *status = 409;
            out = "{\"error\":\"device is not pairing by code: it is ";
            out += state;
            out += "\",\"code\":null";
        } else {
            const std::string_view code = pair_code_of(d);
            *status = code.empty() ? 202 : 200;
            out = "{\"code\":";
            append_or_null(out, code);
        }
        out += ",\"state\":\"";
        out += state;
        out += "\"}";
        return emit(out, buf, size);
    } catch (...) {
        return 0;
    }
}

extern "C" size_t cw_devices_render_passkey(const cw_snapshot_device_t* device, char* buf,
                                            size_t size, unsigned* status) noexcept
{
    try {
        const cw_snapshot_device_t& d = *device;
        const bool ceremony = d.state == CW_DEVICE_PASSKEY;
        // The options as the helper published them, written again by a
        // JSON writer: an object, valid, whatever the buffer held.
        std::string options;
        if (ceremony) {
            const std::string_view text = field(d.passkey_options, sizeof d.passkey_options);
            rapidjson::Document doc;
            doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
            if (!text.empty() && !doc.HasParseError() && doc.IsObject()) {
                rapidjson::StringBuffer sb;
                rapidjson::Writer<rapidjson::StringBuffer> w(sb);
                doc.Accept(w);
                options.assign(sb.GetString(), sb.GetSize());
            }
        }
        const std::string_view code =
            ceremony ? field(d.pair_code, sizeof d.pair_code) : std::string_view();
        const char* step = !options.empty() ? "\"assertion\""
                           : !code.empty()  ? "\"confirm\""
                                            : "null";
        std::string out = "{";
        if (!ceremony) {
            *status = 409;
            out += "\"error\":\"device is not in a passkey ceremony: it is ";
            out += cw_device_state_name(d.state);
            out += "\",";
        } else {
            *status = 200;
        }
        out += "\"state\":\"";
        out += cw_device_state_name(d.state);
        out += "\",\"step\":";
        out += ceremony ? step : "null";
        out += ",\"options\":";
        out += options.empty() ? "null" : options;
        out += ",\"code\":";
        append_or_null(out, code);
        out += ",\"expires_at\":";
        append_number_or_null(out, ceremony ? d.passkey_expires_at : 0);
        out += '}';
        return emit(out, buf, size);
    } catch (...) {
        return 0;
    }
}

extern "C" int cw_devices_parse_passkey(const char* body, size_t len,
                                        const char** reason) noexcept
{
    try {
        if (len > CW_DEVICES_PASSKEY_BODY_MAX) {
            *reason = "body too large: an assertion is at most 64 KiB";
            return -1;
        }
        if (len == 0) {
            *reason = "empty body: paste the JSON the snippet printed";
            return -1;
        }
        rapidjson::Document doc;
        doc.Parse<rapidjson::kParseValidateEncodingFlag>(body, len);
        if (doc.HasParseError()) {
            *reason = "body is not JSON: paste the whole text the snippet printed";
            return -1;
        }
        if (!doc.IsObject()) {
            *reason = "body must be a JSON object: the PublicKeyCredential the snippet printed";
            return -1;
        }
        return 0;
    } catch (...) {
        *reason = "out of memory";
        return -1;
    }
}

extern "C" int cw_devices_parse_pair_code(const char* body, size_t len,
                                          char digits[CW_COMMAND_PHONE_MAX + 1],
                                          const char** reason) noexcept
{
    digits[0] = '\0';
    try {
        if (len > CW_DEVICES_BODY_MAX) {
            *reason = "body too large";
            return -1;
        }
        rapidjson::Document doc;
        doc.Parse(body, len);
        if (doc.HasParseError()) {
            *reason = "body is not JSON";
            return -1;
        }
        if (!doc.IsObject()) {
            *reason = "body must be a JSON object with \"phone\"";
            return -1;
        }
        auto it = doc.FindMember("phone");
        if (it == doc.MemberEnd() || !it->value.IsString()) {
            *reason = "\"phone\" must be a string, e.g. \"+5511999999999\"";
            return -1;
        }
        const std::string_view phone(it->value.GetString(), it->value.GetStringLength());
        // E.164: a country code and the number, 8 to 15 digits in all
        bool ok = phone.size() >= 9 && phone.size() <= 16 && phone[0] == '+' && phone[1] != '0';
        for (size_t i = 1; ok && i < phone.size(); i++) {
            ok = phone[i] >= '0' && phone[i] <= '9';
        }
        if (!ok) {
            *reason = "\"phone\" must be \"+\" and 8 to 15 digits, e.g. \"+5511999999999\"";
            return -1;
        }
        std::memcpy(digits, phone.data() + 1, phone.size() - 1);
        digits[phone.size() - 1] = '\0';
        return 0;
    } catch (...) {
        *reason = "out of memory";
        return -1;
    }
}

extern "C" cw_str_t cw_devices_login_page(void) noexcept
{
    return str(chatwoot::ipc::login_page());
}

extern "C" const char* cw_devices_login_csp(void) noexcept
{
    try {
        // made once per process from the page (static), then only read
        static const std::string csp =
            chatwoot::ipc::content_security_policy(chatwoot::ipc::login_page());
        return csp.c_str();
    } catch (...) {
        return nullptr;
    }
}
