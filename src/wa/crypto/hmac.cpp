#include "wa/crypto/hmac.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "wa/crypto/openssl_util.hpp"

namespace chatwoot::wa::crypto {

namespace {

// OpenSSL dislikes a null key pointer even for an empty key.
const std::uint8_t* key_ptr(ByteView key)
{
    static const std::uint8_t empty = 0;
    return key.empty() ? &empty : key.data();
}

}  // namespace

Digest32 hmac_sha256(ByteView key, ByteView data)
{
    HmacSha256 mac(key);
    mac.update(data);
    return mac.finish();
}

bool equal_mac(ByteView a, ByteView b)
{
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct HmacSha256::Impl {
    detail::MacCtx ctx;
};

namespace {

// A context with HMAC and SHA-256 chosen and no key, made once and copied
// for each key.  Fetching the algorithm and parsing the digest name for
// every MAC took most of the time of a short HMAC (provider look-ups under
// locks), and libsignal makes many: every HKDF, and every sender message
// key a group record holds is derived anew each time the record is loaded.
// Never freed: a static with a destructor could run after OpenSSL's own
// clean-up at exit.
const EVP_MAC_CTX* hmac_sha256_prototype()
{
    static const EVP_MAC_CTX* const prototype = [] {
        detail::Mac mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
        if (!mac) detail::openssl_fatal("EVP_MAC_fetch(HMAC)");
        detail::MacCtx ctx(EVP_MAC_CTX_new(mac.get()));
        if (!ctx) detail::openssl_fatal("EVP_MAC_CTX_new");
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_MAC_CTX_set_params(ctx.get(), params) != 1)
            detail::openssl_fatal("EVP_MAC_CTX_set_params(HMAC-SHA256)");
        return ctx.release();
    }();
    return prototype;
}

}  // namespace

HmacSha256::HmacSha256(ByteView key) : impl_(std::make_unique<Impl>())
{
    // EVP_MAC_CTX_dup only reads its argument.
    impl_->ctx.reset(EVP_MAC_CTX_dup(hmac_sha256_prototype()));
    if (!impl_->ctx) detail::openssl_fatal("EVP_MAC_CTX_dup");
    if (EVP_MAC_init(impl_->ctx.get(), key_ptr(key), key.size(), nullptr) != 1)
        detail::openssl_fatal("EVP_MAC_init(HMAC-SHA256)");
}

void HmacSha256::rekey(ByteView key)
{
    if (EVP_MAC_init(impl_->ctx.get(), key_ptr(key), key.size(), nullptr) != 1)
        detail::openssl_fatal("EVP_MAC_init(HMAC-SHA256)");
}

HmacSha256::~HmacSha256() = default;
HmacSha256::HmacSha256(HmacSha256&&) noexcept = default;
HmacSha256& HmacSha256::operator=(HmacSha256&&) noexcept = default;

void HmacSha256::update(ByteView data)
{
    if (EVP_MAC_update(impl_->ctx.get(), data.data(), data.size()) != 1)
        detail::openssl_fatal("EVP_MAC_update(HMAC-SHA256)");
}

Digest32 HmacSha256::finish()
{
    Digest32 out{};
    std::size_t len = 0;
    if (EVP_MAC_final(impl_->ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size())
        detail::openssl_fatal("EVP_MAC_final(HMAC-SHA256)");
    // A null key re-initialises with the key already set.
    if (EVP_MAC_init(impl_->ctx.get(), nullptr, 0, nullptr) != 1)
        detail::openssl_fatal("EVP_MAC_init(HMAC-SHA256 restart)");
    return out;
}

}  // namespace chatwoot::wa::crypto
