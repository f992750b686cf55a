#include "wa/crypto/gcm_key.hpp"

#include <openssl/evp.h>

#include <climits>
#include <string>

#include "wa/crypto/aes.hpp"
#include "wa/crypto/openssl_util.hpp"

namespace chatwoot::wa::crypto {

void GcmKey::CtxFree::operator()(evp_cipher_ctx_st* ctx) const noexcept
{
    EVP_CIPHER_CTX_free(ctx);
}

namespace {

Status check_sizes(ByteView iv, ByteView data, ByteView aad)
{
    if (iv.size() != gcm_iv_size)
        return make_error(Errc::malformed, "AES-GCM nonce is " + std::to_string(iv.size()) +
                                               " bytes, want 12");
    // EVP update calls take an int length.
    if (data.size() > static_cast<std::size_t>(INT_MAX) - 64 ||
        aad.size() > static_cast<std::size_t>(INT_MAX))
        return make_error(Errc::too_large, "AES input over 2 GiB");
    return Done{};
}

}  // namespace

Result<GcmKey> GcmKey::create(ByteView key)
{
    if (key.size() != aes_key_size)
        return make_error(Errc::malformed, "AES-GCM key is " + std::to_string(key.size()) +
                                               " bytes, want 32");
    Ctx enc(EVP_CIPHER_CTX_new());
    Ctx dec(EVP_CIPHER_CTX_new());
    if (!enc || !dec) return detail::openssl_error("EVP_CIPHER_CTX_new");
    if (EVP_EncryptInit_ex(enc.get(), EVP_aes_256_gcm(), nullptr, key.data(), nullptr) != 1 ||
        EVP_DecryptInit_ex(dec.get(), EVP_aes_256_gcm(), nullptr, key.data(), nullptr) != 1)
        return detail::openssl_error("EVP_CipherInit_ex(AES-256-GCM)");
    return GcmKey(std::move(enc), std::move(dec));
}

Status GcmKey::encrypt(ByteView iv, ByteView plaintext, ByteView aad, Bytes& out)
{
    if (Status s = check_sizes(iv, plaintext, aad); !s) return s;
    EVP_CIPHER_CTX* ctx = enc_.get();
    if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv.data()) != 1)
        return detail::openssl_error("EVP_EncryptInit_ex(GCM nonce)");
    int n = 0;
    if (!aad.empty() &&
        EVP_EncryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1)
        return detail::openssl_error("EVP_EncryptUpdate(GCM AAD)");
    const std::size_t at = out.size();
    out.resize(at + plaintext.size() + gcm_tag_size);
    int total = 0;
    if (!plaintext.empty()) {
        if (EVP_EncryptUpdate(ctx, out.data() + at, &n, plaintext.data(),
                              static_cast<int>(plaintext.size())) != 1)
            return detail::openssl_error("EVP_EncryptUpdate(AES-256-GCM)");
        total = n;
    }
    if (EVP_EncryptFinal_ex(ctx, out.data() + at + total, &n) != 1)
        return detail::openssl_error("EVP_EncryptFinal_ex(AES-256-GCM)");
    total += n;
    if (static_cast<std::size_t>(total) != plaintext.size())
        return make_error(Errc::crypto_failure, "AES-256-GCM output length");
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(gcm_tag_size),
                            out.data() + at + total) != 1)
        return detail::openssl_error("EVP_CTRL_GCM_GET_TAG");
    return Done{};
}

Status GcmKey::decrypt(ByteView iv, ByteView ciphertext_and_tag, ByteView aad, Bytes& out)
{
    out.clear();
    if (Status s = check_sizes(iv, ciphertext_and_tag, aad); !s) return s;
    if (ciphertext_and_tag.size() < gcm_tag_size)
        return make_error(Errc::truncated, "AES-GCM input shorter than its 16-byte tag");
    ByteView ct = ciphertext_and_tag.first(ciphertext_and_tag.size() - gcm_tag_size);
    // OpenSSL wants a writable tag buffer.
    std::uint8_t tag[gcm_tag_size];
    std::copy(ciphertext_and_tag.end() - static_cast<std::ptrdiff_t>(gcm_tag_size),
              ciphertext_and_tag.end(), tag);

    EVP_CIPHER_CTX* ctx = dec_.get();
    if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, iv.data()) != 1)
        return detail::openssl_error("EVP_DecryptInit_ex(GCM nonce)");
    int n = 0;
    if (!aad.empty() &&
        EVP_DecryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1)
        return detail::openssl_error("EVP_DecryptUpdate(GCM AAD)");
    out.resize(ct.size() + aes_block_size);
    int total = 0;
    if (!ct.empty()) {
        if (EVP_DecryptUpdate(ctx, out.data(), &n, ct.data(), static_cast<int>(ct.size())) != 1) {
            out.clear();
            return detail::openssl_error("EVP_DecryptUpdate(AES-256-GCM)");
        }
        total = n;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(gcm_tag_size), tag) != 1) {
        out.clear();
        return detail::openssl_error("EVP_CTRL_GCM_SET_TAG");
    }
    if (EVP_DecryptFinal_ex(ctx, out.data() + total, &n) != 1) {
        out.clear();
        detail::openssl_error("EVP_DecryptFinal_ex");  // drop the queued reason
        return make_error(Errc::bad_mac, "AES-GCM tag mismatch");
    }
    total += n;
    out.resize(static_cast<std::size_t>(total));
    return Done{};
}

}  // namespace chatwoot::wa::crypto
