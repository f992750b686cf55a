#include "webhook_signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <charconv>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>

namespace chatwoot::webhook {

namespace {

struct MdDeleter {
    void operator()(EVP_MD* m) const noexcept { EVP_MD_free(m); }
};
struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// Fetched once per process: fetching resolves a provider, which costs more
// than the hash of a small body.
EVP_MD* sha256()
{
    static const std::unique_ptr<EVP_MD, MdDeleter> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
    if (!md) {
        throw std::runtime_error("OpenSSL has no SHA256");
    }
    return md.get();
}

MdCtx new_ctx()
{
    MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx) {
        throw std::runtime_error("EVP_MD_CTX_new failed");
    }
    return ctx;
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

constexpr size_t kBlock = 64;  // SHA-256's block size

// A block of key material, wiped when it goes out of scope, on every path
// out, exceptions included.
struct KeyBlock {
    unsigned char bytes[kBlock] = {};
    KeyBlock() = default;
    KeyBlock(const KeyBlock&) = delete;
    KeyBlock& operator=(const KeyBlock&) = delete;
    ~KeyBlock() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

// HMAC-SHA256 (RFC 2104) keyed with one secret, kept per thread: the
// digest states after the key's inner and outer pad blocks are computed
// once, so a MAC costs a copy of each and the hash of the message, with
// no provider look-up and no new context per request.
class KeyedMac {
public:
    KeyedMac() = default;
    KeyedMac(const KeyedMac&) = delete;
    KeyedMac& operator=(const KeyedMac&) = delete;
    // The contexts wipe their states when freed (EVP_MD_CTX_free); the
    // copy of the secret kept to notice a new key is ours to wipe.
    ~KeyedMac() { forget_secret(); }

    void key(std::string_view secret)
    {
        if (inner_ && secret == secret_) {
            return;
        }
        inner_.reset();
        forget_secret();
        KeyBlock k;
        if (secret.size() > kBlock) {
            unsigned int n = 0;
            if (EVP_Digest(secret.data(), secret.size(), k.bytes, &n, sha256(), nullptr)
                != 1)
            {
                throw std::runtime_error("SHA256 failed");
            }
        } else if (!secret.empty()) {
            std::memcpy(k.bytes, secret.data(), secret.size());
        }
        MdCtx inner = padded(k, 0x36);
        MdCtx outer = padded(k, 0x5c);
        if (!work_) {
            work_ = new_ctx();
        }
        // Reserved first, so that the assignment never moves the bytes to
        // a new buffer and leaves a copy behind in the old one.
        secret_.reserve(secret.size());
        secret_.assign(secret);
        outer_ = std::move(outer);
        inner_ = std::move(inner);
    }

    Digest mac(std::initializer_list<std::string_view> parts)
    {
        unsigned char inner_hash[32];
        unsigned int n = 0;
        bool ok = EVP_MD_CTX_copy_ex(work_.get(), inner_.get()) == 1;
        for (std::string_view part : parts) {
            ok = ok && EVP_DigestUpdate(work_.get(), part.data(), part.size()) == 1;
        }
        ok = ok && EVP_DigestFinal_ex(work_.get(), inner_hash, &n) == 1 && n == sizeof inner_hash;
        Digest out{};
        ok = ok && EVP_MD_CTX_copy_ex(work_.get(), outer_.get()) == 1
             && EVP_DigestUpdate(work_.get(), inner_hash, sizeof inner_hash) == 1
             && EVP_DigestFinal_ex(work_.get(), out.data(), &n) == 1 && n == out.size();
        if (!ok) {
            throw std::runtime_error("HMAC-SHA256 failed");
        }
        return out;
    }

private:
    // Wipes the kept copy of the secret, its whole buffer: a shorter key
    // assigned later would leave the old one's tail behind.
    void forget_secret() noexcept
    {
        secret_.resize(secret_.capacity());
        OPENSSL_cleanse(secret_.data(), secret_.size());
        secret_.clear();
    }

    static MdCtx padded(const KeyBlock& k, unsigned char pad)
    {
        KeyBlock block;
        for (size_t i = 0; i < kBlock; i++) {
            block.bytes[i] = static_cast<unsigned char>(k.bytes[i] ^ pad);
        }
        MdCtx ctx = new_ctx();
        const bool ok = EVP_DigestInit_ex(ctx.get(), sha256(), nullptr) == 1
                        && EVP_DigestUpdate(ctx.get(), block.bytes, sizeof block.bytes) == 1;
        if (!ok) {
            throw std::runtime_error("HMAC-SHA256 init failed");
        }
        return ctx;
    }

    MdCtx inner_;
    MdCtx outer_;
    MdCtx work_;
    std::string secret_;
};

}  // namespace

Digest signature_digest(std::string_view secret, std::string_view timestamp,
                        std::string_view body)
{
    thread_local KeyedMac cache;
    cache.key(secret);
    return cache.mac({timestamp, ".", body});
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
