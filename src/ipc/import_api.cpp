// The history import API's body and answers (include/chatwoot_import.h):
// worker side, from the helper's snapshot, never waiting for the helper.

#include "chatwoot_import.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "chatwoot/webhook_utf8.hpp"

namespace {

std::string_view view(cw_str_t s)
{
    return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.len);
}

// A snapshot's char array up to its NUL, never past the array.
std::string_view field(const char* s, size_t cap)
{
    return std::string_view(s, strnlen(s, cap));
}

// A JSON string; a text that is not UTF-8 has its high bytes replaced, so
// the document stays valid whatever the buffer held.
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

void append_or_null(std::string& out, std::string_view s)
{
    if (s.empty()) {
        out += "null";
    } else {
        append_string(out, s);
    }
}

void append_time(std::string& out, const char* key, uint64_t t)
{
    out += ",\"";
    out += key;
    out += "\":";
    out += t == 0 ? std::string("null") : std::to_string(t);
}

void append_count(std::string& out, const char* key, uint64_t n)
{
    out += ",\"";
    out += key;
    out += "\":" + std::to_string(n);
}

size_t emit(const std::string& json, char* buf, size_t size)
{
    if (json.size() > size) {
        return 0;
    }
    std::memcpy(buf, json.data(), json.size());
    return json.size();
}

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

bool active(const cw_snapshot_import_t& j)
{
    return j.state == CW_IMPORT_QUEUED || j.state == CW_IMPORT_RUNNING
           || j.state == CW_IMPORT_PAUSED;
}

// Messages a second since the job started: up to its end, or to the
// snapshot's time while it runs.
std::string rate(const cw_snapshot_import_t& j, uint64_t now)
{
    const uint64_t end = j.finished_at != 0 ? j.finished_at : now;
    if (j.started_at == 0 || end <= j.started_at) {
        return "0";
    }
    const double r = static_cast<double>(j.messages_done + j.messages_skipped
                                         + j.messages_failed)
                     / static_cast<double>(end - j.started_at);
    char out[32];
    std::snprintf(out, sizeof out, "%.1f", r);
    return out;
}

void append_job(std::string& out, const cw_snapshot_import_t& j, uint64_t now)
{
    const std::string_view inbox = field(j.inbox, sizeof j.inbox);
    out += "{\"id\":";
    append_string(out, field(j.id, sizeof j.id));
    out += ",\"inbox\":";
    append_string(out, inbox);
    out += ",\"device_id\":";   // go-whatsapp-web-multidevice's name for it
    append_string(out, inbox);
    out += ",\"what\":";
    append_string(out, field(j.what, sizeof j.what));
    append_count(out, "days", j.days);
    out += ",\"include_media\":";
    out += (j.flags & CW_COMMAND_IMPORT_MEDIA) ? "true" : "false";
    out += ",\"include_groups\":";
    out += (j.flags & CW_COMMAND_IMPORT_GROUPS) ? "true" : "false";
    out += ",\"state\":\"";
    out += cw_import_state_name(j.state);
    out += "\",\"status\":\"";
    out += cw_import_state_name(j.state);
    out += '"';
    append_count(out, "chats_total", j.chats_total);
    append_count(out, "chats_done", j.chats_done);
    append_count(out, "chats_failed", j.chats_failed);
    append_count(out, "messages_total", j.messages_total);
    append_count(out, "messages_done", j.messages_done);
    append_count(out, "messages_skipped", j.messages_skipped);
    append_count(out, "messages_failed", j.messages_failed);
    append_count(out, "contacts_done", j.contacts_done);
    out += ",\"current_chat\":";
    append_or_null(out, field(j.current_chat, sizeof j.current_chat));
    append_time(out, "created_at", j.created_at);
    append_time(out, "started_at", j.started_at);
    append_time(out, "finished_at", j.finished_at);
    append_time(out, "updated_at", j.updated_at);
    out += ",\"rate\":" + rate(j, now);
    out += ",\"last_error\":";
    append_or_null(out, field(j.error, sizeof j.error));
    out += '}';
}

// A job not in the slots yet (or refused), from its command.
void append_command_job(std::string& out, std::string_view id, const char* state,
                        std::string_view error)
{
    out += "{\"id\":";
    append_string(out, id);
    out += ",\"state\":\"";
    out += state;
    out += "\",\"status\":\"";
    out += state;
    out += "\",\"last_error\":";
    append_or_null(out, error);
    out += '}';
}

// A boolean: JSON's, or 0/1 and "true"/"false" as form-minded scripts send.
bool read_bool(const rapidjson::Value& v, bool* out)
{
    if (v.IsBool()) {
        *out = v.GetBool();
        return true;
    }
    if (v.IsInt64() && (v.GetInt64() == 0 || v.GetInt64() == 1)) {
        *out = v.GetInt64() == 1;
        return true;
    }
    if (v.IsString()) {
        const std::string_view s(v.GetString(), v.GetStringLength());
        if (s == "true" || s == "false") {
            *out = s == "true";
            return true;
        }
    }
    return false;
}

void say(char reason[CW_COMMAND_REASON_SIZE], std::string_view why)
{
    const size_t n = std::min(why.size(), static_cast<size_t>(CW_COMMAND_REASON_SIZE - 1));
    std::memcpy(reason, why.data(), n);
    reason[n] = '\0';
}

bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-';
}

}  // namespace

extern "C" int cw_import_parse(const char* body, size_t len, cw_import_request_t* req,
                               char reason[CW_COMMAND_REASON_SIZE]) noexcept
{
    std::memset(req, 0, sizeof *req);
    std::memcpy(req->what, "messages", sizeof "messages");
    req->days = CW_IMPORT_DEFAULT_DAYS;
    req->flags = CW_COMMAND_IMPORT_MEDIA | CW_COMMAND_IMPORT_GROUPS;
    reason[0] = '\0';
    try {
        if (len > CW_IMPORT_BODY_MAX) {
            say(reason, "body too large");
            return -1;
        }
        size_t i = 0;
        while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r'
                           || body[i] == '\n')) {
            i++;
        }
        if (i == len) {
            return 0;   // no body: every default
        }
        rapidjson::Document doc;
        doc.Parse(body, len);
        if (doc.HasParseError()) {
            say(reason, "body is not JSON");
            return -1;
        }
        if (!doc.IsObject()) {
            say(reason, "body must be a JSON object");
            return -1;
        }
        bool inbox_seen = false, days_seen = false;
        for (const auto& m : doc.GetObject()) {
            const std::string_view key(m.name.GetString(), m.name.GetStringLength());
            const rapidjson::Value& v = m.value;
            if (key == "inbox" || key == "device_id") {
                const std::string_view name = v.IsString()
                    ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
                bool ok = v.IsString() && !name.empty() && name.size() <= CW_COMMAND_INBOX_MAX;
                for (char c : name) ok = ok && name_char(c);
                if (!ok) {
                    say(reason, "\"" + std::string(key) + "\" must be an inbox's name");
                    return -1;
                }
                if (inbox_seen && name != req->inbox) {
                    say(reason, "\"inbox\" and \"device_id\" name different inboxes");
                    return -1;
                }
                inbox_seen = true;
                std::memcpy(req->inbox, name.data(), name.size());
                req->inbox[name.size()] = '\0';
            } else if (key == "what") {
                const std::string_view w = v.IsString()
                    ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
                if (w != "messages" && w != "contacts" && w != "all") {
                    say(reason, "\"what\" must be \"messages\", \"contacts\" or \"all\"");
                    return -1;
                }
                std::memcpy(req->what, w.data(), w.size());
                req->what[w.size()] = '\0';
            } else if (key == "days" || key == "days_limit") {
                if (!v.IsInt64() || v.GetInt64() < 0 || v.GetInt64() > CW_COMMAND_DAYS_MAX) {
                    say(reason, "\"" + std::string(key) + "\" must be a whole number from 0 to "
                                    + std::to_string(CW_COMMAND_DAYS_MAX));
                    return -1;
                }
                const auto d = static_cast<uint32_t>(v.GetInt64());
                if (days_seen && d != req->days) {
                    say(reason, "\"days\" and \"days_limit\" differ");
                    return -1;
                }
                days_seen = true;
                req->days = d;
                req->days_given = 1;
            } else if (key == "include_media" || key == "include_groups") {
                bool on = false;
                if (!read_bool(v, &on)) {
                    say(reason, "\"" + std::string(key) + "\" must be true or false");
                    return -1;
                }
                const unsigned flag = key == "include_media" ? CW_COMMAND_IMPORT_MEDIA
                                                             : CW_COMMAND_IMPORT_GROUPS;
                req->flags = on ? (req->flags | flag) : (req->flags & ~flag);
            } else {
                // Named only when it is short and printable: never a
                // client's long text in our answer or log.
                bool printable = key.size() <= 32;
                for (char c : key) printable = printable && name_char(c);
                say(reason, printable ? "unknown key \"" + std::string(key) + "\""
                                      : std::string("unknown key"));
                return -1;
            }
        }
        return 0;
    } catch (...) {
        say(reason, "out of memory");
        return -1;
    }
}

extern "C" const cw_snapshot_import_t* cw_import_active(const cw_snapshot_t* snap,
                                                       cw_str_t inbox) noexcept
{
    const std::string_view want = view(inbox);
    const size_t n = snap->imports_n < CW_SNAPSHOT_IMPORTS ? snap->imports_n
                                                           : CW_SNAPSHOT_IMPORTS;
    for (size_t i = 0; i < n; i++) {
        const cw_snapshot_import_t& j = snap->imports[i];
        if (active(j) && field(j.inbox, sizeof j.inbox) == want) {
            return &j;
        }
    }
    return nullptr;
}

extern "C" size_t cw_import_render_list(const cw_snapshot_t* snap, char* buf,
                                        size_t size) noexcept
{
    try {
        const size_t n = snap->imports_n < CW_SNAPSHOT_IMPORTS ? snap->imports_n
                                                               : CW_SNAPSHOT_IMPORTS;
        std::string out = "{\"imports\":[";
        for (size_t i = 0; i < n; i++) {
            if (i > 0) out += ',';
            append_job(out, snap->imports[i], snap->published_at);
        }
        out += "]}";
        return emit(out, buf, size);
    } catch (...) {
        return 0;
    }
}

extern "C" size_t cw_import_render_one(const cw_snapshot_t* snap, cw_str_t id,
                                       uint64_t ring_epoch, uint64_t ring_next_seq,
                                       char* buf, size_t size) noexcept
{
    try {
        const std::string_view want = view(id);
        uint64_t epoch = 0, seq = 0;
        if (!parse_id(want, &epoch, &seq)) {
            return 0;
        }
        std::string out;
        const size_t n = snap->imports_n < CW_SNAPSHOT_IMPORTS ? snap->imports_n
                                                               : CW_SNAPSHOT_IMPORTS;
        for (size_t i = 0; i < n; i++) {
            if (field(snap->imports[i].id, sizeof snap->imports[i].id) == want) {
                append_job(out, snap->imports[i], snap->published_at);
                return emit(out, buf, size);
            }
        }
        // Its command: refused (failed, with why), or not taken yet.
        const size_t nc = snap->commands_n < CW_SNAPSHOT_COMMANDS ? snap->commands_n
                                                                  : CW_SNAPSHOT_COMMANDS;
        uint64_t oldest_seq = UINT64_MAX;   // of this epoch, among those shown
        for (size_t i = 0; i < nc; i++) {
            const cw_snapshot_command_t& c = snap->commands[i];
            const std::string_view cid = field(c.id, sizeof c.id);
            uint64_t ce = 0, cs = 0;
            if (parse_id(cid, &ce, &cs) && ce == epoch && cs < oldest_seq) {
                oldest_seq = cs;
            }
            if (cid != want) {
                continue;
            }
            if (c.kind != CW_COMMAND_IMPORT || c.state == CW_COMMAND_DONE) {
                return 0;   // not an import, or filed and aged out of the job slots
            }
            if (c.state == CW_COMMAND_FAILED) {
                append_command_job(out, want, "failed", field(c.reason, sizeof c.reason));
            } else {
                append_command_job(out, want, "queued", {});
            }
            return emit(out, buf, size);
        }
        // Handed out by this ring and not published yet: queued.  (The
        // helper settles a command as it drains it: one older than a full
        // window of outcomes is long settled, and aged out.)
        const bool issued = epoch == ring_epoch && seq >= 1 && seq < ring_next_seq;
        const bool aged_out = nc >= CW_SNAPSHOT_COMMANDS && oldest_seq != UINT64_MAX
                              && seq < oldest_seq;
        if (issued && !aged_out) {
            append_command_job(out, want, "queued", {});
            return emit(out, buf, size);
        }
        return 0;
    } catch (...) {
        return 0;
    }
}

extern "C" size_t cw_import_render_conflict(const cw_snapshot_import_t* job, char* buf,
                                            size_t size) noexcept
{
    try {
        std::string out = "{\"error\":";
        append_string(out, "inbox \"" + std::string(field(job->inbox, sizeof job->inbox))
                               + "\" has an import " + cw_import_state_name(job->state)
                               + " already");
        out += ",\"id\":";
        append_string(out, field(job->id, sizeof job->id));
        out += '}';
        return emit(out, buf, size);
    } catch (...) {
        return 0;
    }
}
