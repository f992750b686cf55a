#include "wa/crypto/aes.hpp"

#include <openssl/evp.h>

#include <climits>
#include <string>

#include "wa/crypto/aes_detail.hpp"
#include "wa/crypto/gcm_key.hpp"
#include "wa/crypto/openssl_util.hpp"

namespace chatwoot::wa::crypto {

namespace {

Status check_len(ByteView v, std::size_t want, const char* what)
{
    if (v.size() != want)
        return make_error(Errc::malformed, std::string(what) + " is " + std::to_string(v.size()) +
                                               " bytes, want " + std::to_string(want));
    return Done{};
}

Status check_input(ByteView v)
{
    // EVP update calls take an int length.
    if (v.size() > static_cast<std::size_t>(INT_MAX) - 64)
        return make_error(Errc::too_large, "AES input over 2 GiB");
    return Done{};
}

// One pass of an unauthenticated mode (CBC or CTR) in either direction.
Result<Bytes> run_cipher(const EVP_CIPHER* cipher, bool encrypt, bool padding, ByteView key,
                         ByteView iv, ByteView in, const char* name)
{
    detail::CipherCtx ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return detail::openssl_error("EVP_CIPHER_CTX_new");
    if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key.data(), iv.data(), encrypt ? 1 : 0) != 1)
        return detail::openssl_error(name);
    EVP_CIPHER_CTX_set_padding(ctx.get(), padding ? 1 : 0);
    Bytes out(in.size() + aes_block_size);
    int n = 0;
    int total = 0;
    if (!in.empty() &&
        EVP_CipherUpdate(ctx.get(), out.data(), &n, in.data(), static_cast<int>(in.size())) != 1)
        return detail::openssl_error(name);
    total = n;
    if (EVP_CipherFinal_ex(ctx.get(), out.data() + total, &n) != 1) {
        if (!encrypt && padding) {
            detail::openssl_error(name);  // drop OpenSSL's queued reason
            return make_error(Errc::malformed, std::string(name) + ": bad padding");
        }
        return detail::openssl_error(name);
    }
    total += n;
    out.resize(static_cast<std::size_t>(total));
    return out;
}

}  // namespace

// One-shot forms of GcmKey, for the handshake and the pairing code.
Result<Bytes> aes256_gcm_encrypt(ByteView key, ByteView iv, ByteView plaintext, ByteView aad)
{
    auto k = GcmKey::create(key);
    if (!k) return k.error();
    Bytes out;
    if (Status s = k->encrypt(iv, plaintext, aad, out); !s) return s.error();
    return out;
}

Result<Bytes> aes256_gcm_decrypt(ByteView key, ByteView iv, ByteView ciphertext_and_tag,
                                 ByteView aad)
{
    auto k = GcmKey::create(key);
    if (!k) return k.error();
    Bytes out;
    if (Status s = k->decrypt(iv, ciphertext_and_tag, aad, out); !s) return s.error();
    return out;
}

Result<Bytes> aes256_cbc_encrypt(ByteView key, ByteView iv, ByteView plaintext)
{
    if (Status s = check_len(key, aes_key_size, "AES-CBC key"); !s) return s.error();
    if (Status s = check_len(iv, aes_block_size, "AES-CBC IV"); !s) return s.error();
    if (Status s = check_input(plaintext); !s) return s.error();
    return run_cipher(EVP_aes_256_cbc(), true, true, key, iv, plaintext, "AES-256-CBC encrypt");
}

Result<Bytes> aes256_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext)
{
    if (Status s = check_len(key, aes_key_size, "AES-CBC key"); !s) return s.error();
    if (Status s = check_len(iv, aes_block_size, "AES-CBC IV"); !s) return s.error();
    if (ciphertext.empty()) return make_error(Errc::truncated, "AES-CBC ciphertext is empty");
    if (ciphertext.size() % aes_block_size != 0)
        return make_error(Errc::malformed, "AES-CBC ciphertext length " +
                                               std::to_string(ciphertext.size()) +
                                               " is not a multiple of 16");
    if (Status s = check_input(ciphertext); !s) return s.error();
    return run_cipher(EVP_aes_256_cbc(), false, true, key, iv, ciphertext, "AES-256-CBC decrypt");
}

Result<Bytes> aes256_ctr(ByteView key, ByteView iv, ByteView data)
{
    if (Status s = check_len(key, aes_key_size, "AES-CTR key"); !s) return s.error();
    if (Status s = check_len(iv, aes_block_size, "AES-CTR IV"); !s) return s.error();
    if (Status s = check_input(data); !s) return s.error();
    return run_cipher(EVP_aes_256_ctr(), true, false, key, iv, data, "AES-256-CTR");
}

namespace detail {

Result<Bytes> aes_any_key(AesMode mode, bool encrypt, ByteView key, ByteView iv, ByteView data)
{
    const EVP_CIPHER* cipher = nullptr;
    bool cbc = mode == AesMode::cbc_pkcs7;
    switch (key.size()) {
    case 16: cipher = cbc ? EVP_aes_128_cbc() : EVP_aes_128_ctr(); break;
    case 24: cipher = cbc ? EVP_aes_192_cbc() : EVP_aes_192_ctr(); break;
    case 32: cipher = cbc ? EVP_aes_256_cbc() : EVP_aes_256_ctr(); break;
    default:
        return make_error(Errc::malformed,
                          "AES key is " + std::to_string(key.size()) + " bytes, want 16, 24 or 32");
    }
    if (Status s = check_len(iv, aes_block_size, "AES IV"); !s) return s.error();
    if (Status s = check_input(data); !s) return s.error();
    if (cbc && !encrypt) {
        if (data.empty()) return make_error(Errc::truncated, "AES-CBC ciphertext is empty");
        if (data.size() % aes_block_size != 0)
            return make_error(Errc::malformed, "AES-CBC ciphertext length not a multiple of 16");
    }
    return run_cipher(cipher, encrypt || !cbc, cbc, key, iv, data, cbc ? "AES-CBC" : "AES-CTR");
}

}  // namespace detail

}  // namespace chatwoot::wa::crypto
