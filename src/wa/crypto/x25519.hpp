// X25519 (RFC 7748) with raw 32-byte keys, as WhatsApp puts them on the wire.
//
// Private keys are kept clamped (bits 0-2 cleared, bit 255 cleared, bit 254
// set), as Signal's Curve25519 key generation stores them; X25519 clamps
// again internally, so a clamped and an unclamped scalar give the same
// public key.
#pragma once

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::crypto {

struct KeyPair {
    Key32 private_key;  // clamped
    Key32 public_key;
};

Key32 clamp_private_key(Key32 private_key);

// The pair for a given 32-byte private key (clamped first).  A length other
// than 32: Errc::malformed.
Result<KeyPair> x25519_key_pair(ByteView private_key);

// Just the public half of x25519_key_pair.
Result<Key32> x25519_public_key(ByteView private_key);

// A fresh pair from 32 bytes of `random`.
Result<KeyPair> x25519_generate(const RandomSource& random);

// X25519(private, peer).  Wrong lengths: Errc::malformed; an all-zero result
// (the peer sent a small-order point): Errc::crypto_failure.
Result<Key32> x25519_shared(ByteView private_key, ByteView peer_public);

}  // namespace chatwoot::wa::crypto
