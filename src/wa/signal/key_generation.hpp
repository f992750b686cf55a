// Making our keys: identity, registration id, one-time pre-keys, signed
// pre-key.  All randomness comes from the SignalContext's injected source.
//
// Pre-key ids travel as 3 bytes (waweb.md section 1.13) and count up from
// the last one made.  They run 1 .. 0xFFFFFE and then start again at 1, as
// libsignal's own key helper numbers them: 0xFFFFFF is Signal's
// "last resort" id, a key libsignal never deletes after use, so a one-time
// key must not have it.  (whatsmeow and Baileys count on in 32 bits and
// never wrap; at 812 + 50 per refill, neither ever gets near.)
#pragma once

#include <cstdint>
#include <vector>

#include "wa/crypto/keys.hpp"
#include "wa/crypto/signal_context.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/error.hpp"
#include "wa/signal/prekey_bundle.hpp"
#include "wa/signal/protocol_store.hpp"

namespace chatwoot::wa::signal {

inline constexpr std::uint32_t kMaxPreKeyId = 0xFFFFFE;

struct PreKey {
    std::uint32_t id = 0;
    crypto::KeyPair key_pair;

    PreKeyPublic public_part() const { return {id, key_pair.public_key}; }
};

struct SignedPreKey {
    std::uint32_t id = 0;
    crypto::KeyPair key_pair;
    crypto::Signature64 signature{};  // over 0x05 || public key

    SignedPreKeyPublic public_part() const { return {id, key_pair.public_key, signature}; }
};

// A curve25519 pair (32 random bytes, clamped).
Result<crypto::KeyPair> generate_key_pair(const crypto::SignalContext& context);

// 1 .. 16380 from 4 random bytes, as libsignal's key helper makes it.
Result<std::uint32_t> generate_registration_id(const crypto::SignalContext& context);

// An identity key pair and a registration id: what registration creates.
Result<LocalIdentity> generate_local_identity(const crypto::SignalContext& context);

// The id after `id`: 0xFFFFFE is followed by 1.
std::uint32_t next_pre_key_id(std::uint32_t id);

// `count` pre-keys numbered from `first_id` on (wrapping as above).
// Errc::malformed for a first id outside 1 .. kMaxPreKeyId, Errc::too_large
// for a count that would reuse an id.
Result<std::vector<PreKey>> generate_pre_keys(const crypto::SignalContext& context,
                                              std::uint32_t first_id, std::uint32_t count);

// A signed pre-key: a fresh pair and the identity's signature over
// 0x05 || public key (the signature's 64 random bytes also come from the
// context).  Errc::malformed for an id outside 1 .. 0xFFFFFF.
Result<SignedPreKey> generate_signed_pre_key(const crypto::SignalContext& context,
                                             const crypto::KeyPair& identity, std::uint32_t id);

}  // namespace chatwoot::wa::signal
