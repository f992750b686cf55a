// cw_webhook_inspect: authentication, content type and parsing of one
// webhook request, in the order that costs an attacker most and us least:
// no secret configured -> refuse; then the signature (a timestamp check
// and one HMAC), and only then the JSON parser.

#include "chatwoot_webhook.h"

#include "webhook_event.hpp"
#include "webhook_signature.hpp"

#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace chatwoot::webhook {

namespace {

std::string_view view(const cw_str_t& s)
{
    return s.data ? std::string_view(s.data, s.len) : std::string_view();
}

void set(cw_webhook_result_t* r, cw_webhook_outcome_t outcome, unsigned status,
         std::string_view reason)
{
    r->outcome = outcome;
    r->status = status;
    size_t n = std::min(reason.size(), sizeof r->reason - 1);
    std::memcpy(r->reason, reason.data(), n);
    r->reason[n] = '\0';
}

uint64_t first_word(const Digest& d)
{
    uint64_t v = 0;
    std::memcpy(&v, d.data(), sizeof v);
    return v;
}

// "application/json", any case, optionally followed by parameters.
bool is_json(std::string_view ct)
{
    constexpr std::string_view json = "application/json";
    if (ct.size() < json.size()) {
        return false;
    }
    for (size_t i = 0; i < json.size(); i++) {
        if (std::tolower(static_cast<unsigned char>(ct[i])) != json[i]) {
            return false;
        }
    }
    ct.remove_prefix(json.size());
    return ct.empty() || ct.front() == ';' || ct.front() == ' ';
}

cw_webhook_outcome_t outcome_of(AuthResult a)
{
    switch (a) {
    case AuthResult::missing_signature:
    case AuthResult::missing_timestamp:
        return CW_WH_REJECTED_UNSIGNED;
    case AuthResult::malformed_timestamp:
    case AuthResult::stale_timestamp:
    case AuthResult::future_timestamp:
        return CW_WH_REJECTED_TIMESTAMP;
    case AuthResult::missing_token:
    case AuthResult::bad_token:
        return CW_WH_REJECTED_TOKEN;
    case AuthResult::not_configured:
        return CW_WH_REJECTED_UNCONFIGURED;
    default:
        return CW_WH_REJECTED_SIGNATURE;
    }
}

cw_webhook_outcome_t outcome_of(IgnoreReason r)
{
    switch (r) {
    case IgnoreReason::private_note:
        return CW_WH_IGNORED_PRIVATE;
    case IgnoreReason::not_outgoing:
        return CW_WH_IGNORED_NOT_OUTGOING;
    case IgnoreReason::own_echo:
        return CW_WH_IGNORED_OWN_ECHO;
    case IgnoreReason::not_a_deletion:
        return CW_WH_IGNORED_NOT_DELETION;
    default:
        return CW_WH_IGNORED_UNKNOWN_EVENT;
    }
}

// The delivery id is not signed, so it only adds a key (the signature's
// digest is the one an attacker cannot choose): a fast, stable hash will do.
// FNV-1a, salted so that it cannot collide with a digest key by design.
uint64_t delivery_key(std::string_view delivery)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ 0x64656c6976657279ULL;  // "delivery"
    for (unsigned char c : delivery) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

// {"inbox":..,"delivery":..,"received_at":..,["accepted_msec":..,]"event":  -- the event
// record (parse() writes it) and the closing brace follow.
void write_envelope(const cw_webhook_request_t& req, RecordOut& out)
{
    rapidjson::Writer<RecordOut> w(out);
    w.StartObject();
    w.Key("inbox");
    w.String(req.inbox.data ? req.inbox.data : "",
             static_cast<rapidjson::SizeType>(req.inbox.len));
    w.Key("delivery");
    if (view(req.delivery).empty()) {
        w.Null();
    } else {
        w.String(req.delivery.data, static_cast<rapidjson::SizeType>(req.delivery.len));
    }
    w.Key("received_at");
    w.Int64(req.now);
    if (req.accepted_msec > 0) {
        // To the millisecond, for the helper's latency histogram.
        w.Key("accepted_msec");
        w.Int64(req.accepted_msec);
    }
    w.Key("event");
    // The writer would put this before the event's value; the event comes
    // from parse(), which writes it on its own.
    out.Put(':');
}

void inspect(const cw_webhook_request_t& req, unsigned char* out, size_t cap,
             cw_webhook_result_t* res)
{
    const std::string_view secret = view(req.secret);
    const std::string_view token = view(req.token);
    const std::string_view body = view(req.body);

    Digest digest{};
    AuthResult auth = AuthResult::not_configured;
    if (!secret.empty()) {
        auth = verify_signature(
            secret, SignedRequest{view(req.signature), view(req.timestamp), body},
            req.now, &digest);
    } else if (!token.empty()) {
        auth = verify_token(token, view(req.given_token));
        // No timestamp in this mode: the body itself is the replay key.
        digest = signature_digest("body", "", body);
    }
    if (auth != AuthResult::ok) {
        set(res, outcome_of(auth), 401, auth_result_name(auth));
        return;
    }
    res->replay_keys[res->replay_keys_n++] = first_word(digest);
    if (!view(req.delivery).empty()) {
        res->replay_keys[res->replay_keys_n++] = delivery_key(view(req.delivery));
    }

    if (!is_json(view(req.content_type))) {
        set(res, CW_WH_REJECTED_CONTENT_TYPE, 415,
            "content type must be application/json");
        return;
    }

    // The record is written once, envelope then event, straight into the
    // caller's buffer.
    RecordOut record(reinterpret_cast<char*>(out), cap);
    write_envelope(req, record);
    Decision d = parse(body, record);
    if (d.verdict == Verdict::reject) {
        set(res, CW_WH_REJECTED_MALFORMED, 400, d.reason);
        return;
    }
    if (d.verdict == Verdict::ignore) {
        set(res, outcome_of(d.ignored), 200, ignore_reason_name(d.ignored));
        return;
    }

    record.Put('}');  // the envelope's
    if (record.overflowed()) {
        set(res, CW_WH_REJECTED_MALFORMED, 500, "normalised event too large");
        return;
    }
    res->record_len = record.size();
    set(res, CW_WH_QUEUED, 202, d.event);
}

}  // namespace

}  // namespace chatwoot::webhook

extern "C" void cw_webhook_inspect(const cw_webhook_request_t* req,
                                   unsigned char* record, size_t record_cap,
                                   cw_webhook_result_t* result) noexcept
{
    *result = cw_webhook_result_t{};
    try {
        chatwoot::webhook::inspect(*req, record, record_cap, result);
    } catch (...) {
        result->replay_keys_n = 0;
        result->record_len = 0;
        chatwoot::webhook::set(result, CW_WH_REJECTED_MALFORMED, 500,
                               "internal error");
    }
}

extern "C" uint64_t cw_webhook_replay_ttl(void) noexcept
{
    return static_cast<uint64_t>(chatwoot::webhook::kReplayMemorySeconds);
}

extern "C" const char* cw_webhook_outcome_name(cw_webhook_outcome_t o) noexcept
{
    switch (o) {
    case CW_WH_QUEUED: return "queued";
    case CW_WH_IGNORED_PRIVATE: return "private";
    case CW_WH_IGNORED_NOT_OUTGOING: return "not_outgoing";
    case CW_WH_IGNORED_OWN_ECHO: return "own_echo";
    case CW_WH_IGNORED_UNKNOWN_EVENT: return "unknown_event";
    case CW_WH_IGNORED_NOT_DELETION: return "not_deletion";
    case CW_WH_REJECTED_UNCONFIGURED: return "unconfigured";
    case CW_WH_REJECTED_UNSIGNED: return "unsigned";
    case CW_WH_REJECTED_SIGNATURE: return "signature";
    case CW_WH_REJECTED_TIMESTAMP: return "timestamp";
    case CW_WH_REJECTED_TOKEN: return "token";
    case CW_WH_REJECTED_CONTENT_TYPE: return "content_type";
    case CW_WH_REJECTED_MALFORMED: return "malformed";
    case CW_WH_REJECTED_REPLAY: return "replay";
    default: return "unknown";
    }
}
