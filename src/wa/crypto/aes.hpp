// AES-256 in the three modes the protocol uses.
//
//   GCM  Noise handshake and transport, the pairing-code key bundle.
//   CBC  media files and history blobs (PKCS#7 padding), Signal messages.
//   CTR  the pairing-code ephemeral-key wrap.
//
// Keys are 32 bytes; a wrong key or IV length is Errc::malformed with the
// field named, so a caller's slicing bug shows up as such.
#pragma once

#include <cstddef>

#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::crypto {

inline constexpr std::size_t aes_key_size = 32;
inline constexpr std::size_t aes_block_size = 16;
inline constexpr std::size_t gcm_iv_size = 12;
inline constexpr std::size_t gcm_tag_size = 16;

// ciphertext || 16-byte tag.
Result<Bytes> aes256_gcm_encrypt(ByteView key, ByteView iv, ByteView plaintext, ByteView aad);

// Input is ciphertext || tag.  Shorter than the tag: Errc::truncated; tag
// mismatch (wrong key, nonce, AAD or altered bytes): Errc::bad_mac.
Result<Bytes> aes256_gcm_decrypt(ByteView key, ByteView iv, ByteView ciphertext_and_tag,
                                 ByteView aad);

// PKCS#7-padded CBC; the IV is 16 bytes.
Result<Bytes> aes256_cbc_encrypt(ByteView key, ByteView iv, ByteView plaintext);

// Empty input or a length not a multiple of 16: Errc::truncated / malformed;
// padding that does not check out: Errc::malformed ("bad padding").
Result<Bytes> aes256_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext);

// CTR with a 16-byte initial counter block; the same call encrypts and
// decrypts.
Result<Bytes> aes256_ctr(ByteView key, ByteView iv, ByteView data);

}  // namespace chatwoot::wa::crypto
