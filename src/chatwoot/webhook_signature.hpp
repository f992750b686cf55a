// Who may make us send a WhatsApp message: Chatwoot's webhook signature
// (4.12+ account webhooks, 4.13+ API-inbox callbacks), or for older
// Chatwoot a secret token in the URL, the weaker option.
//
//   X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>
//   X-Chatwoot-Timestamp: <unix seconds>
//
// Chatwoot enforces no age itself; we refuse timestamps older than
// kMaxAgeSeconds or further than kMaxAheadSeconds in the future, so a
// captured request can be replayed only inside that window (and the replay
// filter catches it there).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatwoot::webhook {

inline constexpr int64_t kMaxAgeSeconds = 300;
inline constexpr int64_t kMaxAheadSeconds = 60;

// How long the replay filter remembers a key: a request first seen at t
// (its timestamp at most kMaxAheadSeconds later) stays acceptable until its
// timestamp is kMaxAgeSeconds old, so until t + both; "seen" means expiry
// after now, hence the one second more.
inline constexpr int64_t kReplayMemorySeconds = kMaxAgeSeconds + kMaxAheadSeconds + 1;

enum class AuthResult {
    ok,
    missing_signature,     // secret configured, no X-Chatwoot-Signature
    malformed_signature,   // not "sha256=" + 64 hex digits
    bad_signature,         // does not match
    missing_timestamp,
    malformed_timestamp,   // not a plain decimal number
    stale_timestamp,       // older than kMaxAgeSeconds
    future_timestamp,      // further ahead than kMaxAheadSeconds
    missing_token,         // token configured, none in the request
    bad_token,
    not_configured         // neither secret nor token: refuse everything
};

std::string_view auth_result_name(AuthResult r);

using Digest = std::array<unsigned char, 32>;

// HMAC-SHA256(secret, timestamp + "." + body).
Digest signature_digest(std::string_view secret, std::string_view timestamp,
                        std::string_view body);

// "sha256=<lowercase hex>", as Chatwoot sends it (tests and fakes use it).
std::string signature_header(std::string_view secret, std::string_view timestamp,
                             std::string_view body);

struct SignedRequest {
    std::string_view signature;   // the header's value, empty when absent
    std::string_view timestamp;   // likewise
    std::string_view body;
};

// Checks the timestamp window first (cheap), then the HMAC in constant time.
// On ok, *digest holds the verified digest (a replay key no attacker can
// choose).
AuthResult verify_signature(std::string_view secret, const SignedRequest& req,
                            int64_t now, Digest* digest);

// Constant-time comparison of a URL token with the configured one.
AuthResult verify_token(std::string_view expected, std::string_view given);

}  // namespace chatwoot::webhook
