#include "wa/message/privacy_token.hpp"

#include "wa/crypto/hmac.hpp"

namespace chatwoot::wa::message {

std::int64_t token_bucket(std::int64_t unix_seconds)
{
    // floor, also for (impossible, hostile) negative times
    std::int64_t q = unix_seconds / kTokenBucketSeconds;
    if (unix_seconds % kTokenBucketSeconds < 0) --q;
    return q;
}

bool tctoken_valid(std::int64_t t, std::int64_t now)
{
    return t >= (token_bucket(now) - kTokenBuckets) * kTokenBucketSeconds;
}

bool should_issue_token(std::optional<std::int64_t> last_issued, std::int64_t now)
{
    return !last_issued || token_bucket(*last_issued) < token_bucket(now);
}

Bytes cstoken(ByteView nct_salt, const binary::Jid& lid)
{
    const std::string text = lid.user() + "@lid";
    const auto mac = crypto::hmac_sha256(nct_salt, as_bytes(text));
    return Bytes(mac.begin(), mac.end());
}

binary::Node privacy_token_issue_iq(std::span<const TokenGrant> grants)
{
    binary::Children tokens;
    for (const TokenGrant& g : grants) {
        binary::Node token("token");
        token.set_attr("jid", g.jid.without_device());
        token.set_attr("t", std::to_string(g.t));
        token.set_attr("type", "trusted_contact");
        tokens.push_back(std::move(token));
    }
    binary::Node iq("iq");
    iq.set_attr("xmlns", "privacy");
    iq.set_attr("type", "set");
    iq.set_attr("to", binary::server_jid());
    iq.content = binary::Children{binary::Node("tokens", {}, std::move(tokens))};
    return iq;
}

}  // namespace chatwoot::wa::message
