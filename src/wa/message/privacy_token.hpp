// Trusted-contact tokens (waweb-2026.md 3): what lets a DM through to a
// contact under WhatsApp's reach-out rules (error 463 without one).
//
//   validity   a token issued at t is good while t >= (bucket(now) - 3) * 604800,
//              bucket(x) = floor(x / 604800): about four weeks
//   re-issue   after a DM, ours goes to the contact again when the bucket
//              moved past our last issue
//   fallback   without a valid token: <cstoken> = HMAC-SHA256(NCT salt, "<lid>@lid")
//
//   <iq xmlns="privacy" type="set" to="@s.whatsapp.net">
//     <tokens><token jid="<lid>@lid" t="<unix>" type="trusted_contact"/></tokens>
//   </iq>
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"

namespace chatwoot::wa::message {

inline constexpr std::int64_t kTokenBucketSeconds = 604800;
inline constexpr std::int64_t kTokenBuckets = 3;

std::int64_t token_bucket(std::int64_t unix_seconds);

// Whether a token issued at `t` may still be sent at `now`.
bool tctoken_valid(std::int64_t t, std::int64_t now);

// Whether ours should go to the contact again (never issued, or issued in
// an earlier bucket).
bool should_issue_token(std::optional<std::int64_t> last_issued, std::int64_t now);

// HMAC-SHA256(salt, "<lid user>@lid"); `lid` is the contact's LID (its
// device, if any, is not part of it).
Bytes cstoken(ByteView nct_salt, const binary::Jid& lid);

struct TokenGrant {
    binary::Jid jid;   // the contact's LID
    std::int64_t t = 0;
};

binary::Node privacy_token_issue_iq(std::span<const TokenGrant> grants);

}  // namespace chatwoot::wa::message
