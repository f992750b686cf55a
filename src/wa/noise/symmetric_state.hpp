// The Noise symmetric state (Noise spec section 5.2) as WhatsApp runs it
// (waweb.md 1.3): SHA-256, HKDF-SHA256, AES-256-GCM with the nonce
// 8 zero bytes || u32be(counter) and the handshake hash as AAD.
//
// Both ends of a handshake hold one; the client handshake uses it, and
// tests play the server with it.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::noise {

// "Noise_XX_25519_AESGCM_SHA256" padded with NULs to 32 bytes: exactly a
// hash length, so it is used as the initial h and ck as is, not hashed.
inline constexpr std::array<std::uint8_t, 32> noise_protocol_name{
    'N', 'o', 'i', 's', 'e', '_', 'X', 'X', '_', '2', '5', '5', '1', '9', '_', 'A',
    'E', 'S', 'G', 'C', 'M', '_', 'S', 'H', 'A', '2', '5', '6', 0,   0,   0,   0};

// The AES-GCM nonce for message number `counter` of a cipher state.
std::array<std::uint8_t, 12> noise_nonce(std::uint32_t counter);

class SymmetricState {
public:
    SymmetricState();

    // h = SHA-256(h || data)
    void mix_hash(ByteView data);

    // ck, k = HKDF-SHA256(salt = ck, ikm), 64 bytes; the nonce restarts.
    Status mix_key(ByteView input_key_material);

    // AES-GCM under k with AAD = h, then mix_hash(ciphertext).  Before the
    // first mix_key there is no key: Errc::wrong_state.
    Result<Bytes> encrypt_and_hash(ByteView plaintext);

    // The reverse; a tag that does not verify is Errc::bad_mac and leaves
    // h unchanged.
    Result<Bytes> decrypt_and_hash(ByteView ciphertext);

    // HKDF-SHA256(salt = ck, empty ikm), 64 bytes: the initiator's sending
    // key first, its receiving key second.
    Result<std::pair<crypto::Key32, crypto::Key32>> split() const;

    const crypto::Digest32& handshake_hash() const { return h_; }

private:
    crypto::Digest32 h_;
    crypto::Key32 ck_;
    crypto::Key32 k_{};
    bool has_key_ = false;
    std::uint32_t nonce_ = 0;
};

}  // namespace chatwoot::wa::noise
