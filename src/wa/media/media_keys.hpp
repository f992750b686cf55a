// Expansion of a 32-byte media key into the keys that encrypt one file.
//
// HKDF-SHA256(mediaKey, no salt, "WhatsApp <X> Keys", 112 bytes) splits as
// iv [0,16), cipher key [16,48), MAC key [48,80), ref key [80,112).  The ref
// key is unused by the protocol today; we keep it so the split is complete.
#pragma once

#include <array>
#include <cstdint>

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"
#include "wa/media/media_type.hpp"

namespace chatwoot::wa::media {

inline constexpr std::size_t media_key_size = 32;
inline constexpr std::size_t media_expanded_size = 112;

struct MediaKeys {
    std::array<std::uint8_t, 16> iv;
    crypto::Key32 cipher_key;
    crypto::Key32 mac_key;
    crypto::Key32 ref_key;
};

// A media key that is not 32 bytes: Errc::malformed.
Result<MediaKeys> expand_media_key(ByteView media_key, MediaType type);

// A fresh media key for an upload.
Result<crypto::Key32> new_media_key(const crypto::RandomSource& random);

}  // namespace chatwoot::wa::media
