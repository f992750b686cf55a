// The curve25519 signature scheme WhatsApp uses everywhere (certificate
// chain, ADV identities, signed prekeys, sender keys): an X25519 key pair
// signs Ed25519-style, with the Edwards sign bit carried in the top bit of
// the signature.  It is Signal's classic scheme; we reach it through
// libsignal-protocol-c's public curve_calculate_signature /
// curve_verify_signature.
//
// Keys are raw 32-byte Montgomery values as WhatsApp sends them; a 33-byte
// public key with the 0x05 type prefix is accepted as well.
#pragma once

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/random.hpp"
#include "wa/crypto/signal_context.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::crypto {

inline constexpr std::uint8_t djb_key_type = 0x05;

// Signs `message`; the 64 random bytes that make the nonce come from the
// context's RandomSource.  A private key other than 32 bytes is
// Errc::malformed; a random source that fails is Errc::crypto_failure.
Result<Signature64> curve_sign(const SignalContext& context, ByteView private_key,
                               ByteView message);

// The same with a context made for this one call.
Result<Signature64> curve_sign(const RandomSource& random, ByteView private_key, ByteView message);

// Done when `signature` is valid for `message` under `public_key`.
// Errc::bad_signature when it is not; Errc::malformed for a key that is not
// 32 bytes (or 33 with the 0x05 prefix) or a signature that is not 64.
Status curve_verify(ByteView public_key, ByteView message, ByteView signature);

}  // namespace chatwoot::wa::crypto
