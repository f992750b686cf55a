// Internal to wa_crypto: AES with any standard key size, for the libsignal
// provider, whose interface lets the caller choose 128-, 192- or 256-bit
// keys.  The public API (aes.hpp) stays AES-256 only.
#pragma once

#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::crypto::detail {

enum class AesMode { cbc_pkcs7, ctr };

Result<Bytes> aes_any_key(AesMode mode, bool encrypt, ByteView key, ByteView iv, ByteView data);

}  // namespace chatwoot::wa::crypto::detail
