#include "wa/crypto/x25519.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <string>

#include "wa/crypto/openssl_util.hpp"

namespace chatwoot::wa::crypto {

namespace {

Status check_key(ByteView key, const char* what)
{
    if (key.size() != 32)
        return make_error(Errc::malformed, std::string(what) + " is " + std::to_string(key.size()) +
                                               " bytes, want 32");
    return Done{};
}

}  // namespace

Key32 clamp_private_key(Key32 k)
{
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
    return k;
}

Result<KeyPair> x25519_key_pair(ByteView private_key)
{
    if (Status s = check_key(private_key, "X25519 private key"); !s) return s.error();
    KeyPair pair{};
    std::copy(private_key.begin(), private_key.end(), pair.private_key.begin());
    pair.private_key = clamp_private_key(pair.private_key);

    detail::Pkey pkey(EVP_PKEY_new_raw_private_key(
        EVP_PKEY_X25519, nullptr, pair.private_key.data(), pair.private_key.size()));
    if (!pkey) return detail::openssl_error("EVP_PKEY_new_raw_private_key(X25519)");
    std::size_t len = pair.public_key.size();
    if (EVP_PKEY_get_raw_public_key(pkey.get(), pair.public_key.data(), &len) != 1 || len != 32)
        return detail::openssl_error("EVP_PKEY_get_raw_public_key(X25519)");
    return pair;
}

Result<Key32> x25519_public_key(ByteView private_key)
{
    Result<KeyPair> pair = x25519_key_pair(private_key);
    if (!pair) return pair.error();
    OPENSSL_cleanse(pair->private_key.data(), pair->private_key.size());
    return pair->public_key;
}

Result<KeyPair> x25519_generate(const RandomSource& random)
{
    Result<Bytes> seed = random_bytes(random, 32);
    if (!seed) return seed.error();
    Result<KeyPair> pair = x25519_key_pair(*seed);
    OPENSSL_cleanse(seed->data(), seed->size());
    return pair;
}

Result<Key32> x25519_shared(ByteView private_key, ByteView peer_public)
{
    if (Status s = check_key(private_key, "X25519 private key"); !s) return s.error();
    if (Status s = check_key(peer_public, "X25519 peer public key"); !s) return s.error();

    detail::Pkey ours(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(),
                                                   private_key.size()));
    if (!ours) return detail::openssl_error("EVP_PKEY_new_raw_private_key(X25519)");
    detail::Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(),
                                                  peer_public.size()));
    if (!peer) return detail::openssl_error("EVP_PKEY_new_raw_public_key(X25519)");
    detail::PkeyCtx ctx(EVP_PKEY_CTX_new(ours.get(), nullptr));
    if (!ctx) return detail::openssl_error("EVP_PKEY_CTX_new");
    if (EVP_PKEY_derive_init(ctx.get()) != 1 ||
        EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1)
        return detail::openssl_error("EVP_PKEY_derive_init(X25519)");

    Key32 shared{};
    std::size_t len = shared.size();
    // OpenSSL itself refuses an all-zero result; we check again below so the
    // rule does not depend on the library version.
    if (EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1) {
        detail::openssl_error("EVP_PKEY_derive");
        return make_error(Errc::crypto_failure, "X25519 with a small-order peer key");
    }
    static const Key32 zero{};
    if (len != 32 || CRYPTO_memcmp(shared.data(), zero.data(), 32) == 0)
        return make_error(Errc::crypto_failure, "X25519 with a small-order peer key");
    return shared;
}

}  // namespace chatwoot::wa::crypto
