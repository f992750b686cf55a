// Key derivation: HKDF-SHA256 (RFC 5869) and PBKDF2-HMAC-SHA256.
#pragma once

#include <cstddef>
#include <cstdint>

#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::crypto {

// Extract-then-expand.  An empty salt means "no salt" (RFC 5869: a string of
// zeros), which is what WhatsApp's media keys use.  `length` must be 1 ..
// 255*32, else Errc::too_large (0 is Errc::malformed).
Result<Bytes> hkdf_sha256(ByteView salt, ByteView ikm, ByteView info, std::size_t length);

// `iterations` >= 1 and `length` >= 1, else Errc::malformed.
Result<Bytes> pbkdf2_sha256(ByteView password, ByteView salt, std::uint32_t iterations,
                            std::size_t length);

}  // namespace chatwoot::wa::crypto
