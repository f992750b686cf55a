// A peer device's published keys, and starting a session from them.
//
// To write to a device we have no session with, we fetch its bundle
// (waweb.md section 1.13): registration id, identity key, signed pre-key
// with its signature, and usually one one-time pre-key.  X3DH over the
// bundle gives a session whose first messages are pkmsg.
#pragma once

#include <cstdint>
#include <optional>

#include "wa/crypto/keys.hpp"
#include "wa/error.hpp"
#include "wa/signal/address.hpp"

namespace chatwoot::wa::signal {

class ProtocolContext;

struct PreKeyPublic {
    std::uint32_t id = 0;
    crypto::Key32 public_key{};

    bool operator==(const PreKeyPublic&) const = default;
};

struct SignedPreKeyPublic {
    std::uint32_t id = 0;
    crypto::Key32 public_key{};
    crypto::Signature64 signature{};  // by the identity key, over 0x05 || public_key

    bool operator==(const SignedPreKeyPublic&) const = default;
};

struct PreKeyBundle {
    std::uint32_t registration_id = 0;
    crypto::Key32 identity_key{};
    std::optional<PreKeyPublic> pre_key;  // the server may have run out
    SignedPreKeyPublic signed_pre_key;

    bool operator==(const PreKeyBundle&) const = default;
};

// Starts (or restarts) the session with `address` from its bundle; the next
// encrypt() to it gives a pkmsg.  The signed pre-key's signature is checked
// first: Errc::bad_signature when it does not verify.  The base key comes
// from the context's random source.
Status process_prekey_bundle(ProtocolContext& context, const Address& address,
                             const PreKeyBundle& bundle);

}  // namespace chatwoot::wa::signal
