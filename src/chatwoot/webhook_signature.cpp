#include "webhook_signature.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <charconv>
#include <memory>
#include <stdexcept>

namespace chatwoot::webhook {

namespace {

struct MacDeleter {
    void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
};
struct MacCtxDeleter {
    void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};

// Fetched once per process: fetching resolves a provider, which is the
// expensive part of an HMAC over a small body.
EVP_MAC* hmac_algorithm()
{
    static const std::unique_ptr<EVP_MAC, MacDeleter> mac(
        EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) {
        throw std::runtime_error("OpenSSL has no HMAC");
    }
    return mac.get();
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool parse_signature(std::string_view header, Digest* out)
{
    constexpr std::string_view prefix = "sha256=";
    if (header.size() != prefix.size() + 64 || !header.starts_with(prefix)) {
        return false;
    }
    header.remove_prefix(prefix.size());
    for (size_t i = 0; i < out->size(); i++) {
        int hi = hex_value(header[2 * i]);
        int lo = hex_value(header[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        (*out)[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return true;
}

}  // namespace

std::string_view auth_result_name(AuthResult r)
{
    switch (r) {
    case AuthResult::ok: return "ok";
    case AuthResult::missing_signature: return "missing signature";
    case AuthResult::malformed_signature: return "malformed signature";
    case AuthResult::bad_signature: return "bad signature";
    case AuthResult::missing_timestamp: return "missing timestamp";
    case AuthResult::malformed_timestamp: return "malformed timestamp";
    case AuthResult::stale_timestamp: return "stale timestamp";
    case AuthResult::future_timestamp: return "timestamp in the future";
    case AuthResult::missing_token: return "missing token";
    case AuthResult::bad_token: return "bad token";
    case AuthResult::not_configured: return "webhook authentication not configured";
    }
    return "unknown";
}

namespace {

// HMAC contexts keyed with one secret, kept per thread: keying a fresh
// context looks the digest up by name and hashes the key, which costs more
// than the MAC of a small body.  A copy of the keyed context does neither.
class KeyedMac {
public:
    EVP_MAC_CTX* for_secret(std::string_view secret)
    {
        if (!keyed_ || secret != secret_) {
            keyed_.reset(new_keyed(secret));
            secret_.assign(secret);
        }
        return keyed_.get();
    }

private:
    static EVP_MAC_CTX* new_keyed(std::string_view secret)
    {
        std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(
            EVP_MAC_CTX_new(hmac_algorithm()));
        char digest_name[] = "SHA256";
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name,
                                             0),
            OSSL_PARAM_construct_end(),
        };
        if (!ctx
            || EVP_MAC_init(ctx.get(),
                            reinterpret_cast<const unsigned char*>(secret.data()),
                            secret.size(), params) != 1)
        {
            throw std::runtime_error("HMAC-SHA256 init failed");
        }
        return ctx.release();
    }

    std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> keyed_;
    std::string secret_;
};

}  // namespace

Digest signature_digest(std::string_view secret, std::string_view timestamp,
                        std::string_view body)
{
    thread_local KeyedMac cache;
    std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(
        EVP_MAC_CTX_dup(cache.for_secret(secret)));
    if (!ctx) {
        throw std::runtime_error("EVP_MAC_CTX_dup failed");
    }
    Digest out{};
    size_t len = 0;
    if (EVP_MAC_update(ctx.get(),
                       reinterpret_cast<const unsigned char*>(timestamp.data()),
                       timestamp.size()) != 1
        || EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>("."), 1) != 1
        || EVP_MAC_update(ctx.get(),
                          reinterpret_cast<const unsigned char*>(body.data()),
                          body.size()) != 1
        || EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1
        || len != out.size())
    {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return out;
}

std::string signature_header(std::string_view secret, std::string_view timestamp,
                             std::string_view body)
{
    static constexpr char hex[] = "0123456789abcdef";
    Digest d = signature_digest(secret, timestamp, body);
    std::string out = "sha256=";
    for (unsigned char b : d) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

AuthResult verify_signature(std::string_view secret, const SignedRequest& req,
                            int64_t now, Digest* digest)
{
    if (req.signature.empty()) {
        return AuthResult::missing_signature;
    }
    if (req.timestamp.empty()) {
        return AuthResult::missing_timestamp;
    }
    int64_t ts = 0;
    const char* end = req.timestamp.data() + req.timestamp.size();
    auto [p, ec] = std::from_chars(req.timestamp.data(), end, ts);
    if (ec != std::errc() || p != end || req.timestamp.size() > 12
        || req.timestamp.front() == '-')
    {
        return AuthResult::malformed_timestamp;
    }
    if (ts < now - kMaxAgeSeconds) {
        return AuthResult::stale_timestamp;
    }
    if (ts > now + kMaxAheadSeconds) {
        return AuthResult::future_timestamp;
    }
    Digest given{};
    if (!parse_signature(req.signature, &given)) {
        return AuthResult::malformed_signature;
    }
    Digest expected = signature_digest(secret, req.timestamp, req.body);
    if (CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
        return AuthResult::bad_signature;
    }
    if (digest != nullptr) {
        *digest = expected;
    }
    return AuthResult::ok;
}

AuthResult verify_token(std::string_view expected, std::string_view given)
{
    if (given.empty()) {
        return AuthResult::missing_token;
    }
    // Compare digests, so neither the length nor the content of the
    // configured token leaks through timing.
    Digest a = signature_digest("token", "", expected);
    Digest b = signature_digest("token", "", given);
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0 ? AuthResult::ok
                                                            : AuthResult::bad_token;
}

}  // namespace chatwoot::webhook
