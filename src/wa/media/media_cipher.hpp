// Encryption and verified decryption of a media file.
//
// The encrypted body ("enc blob") is AES-256-CBC(cipherKey, iv, plaintext)
// with PKCS#7 padding, followed by the first 10 bytes of
// HMAC-SHA256(macKey, iv || ciphertext).  The message that carries the media
// also names SHA-256 of the plaintext (fileSha256) and of the enc blob
// (fileEncSha256).
//
// Decryption authenticates before it decrypts: the enc-blob hash and the MAC
// are checked first, so a forged or corrupted body never reaches the CBC
// padding check.
#pragma once

#include <cstdint>
#include <optional>

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/error.hpp"
#include "wa/media/media_type.hpp"

namespace chatwoot::wa::media {

inline constexpr std::size_t media_mac_size = 10;

struct EncryptedMedia {
    Bytes enc_blob;                    // ciphertext || 10-byte MAC: the upload body
    crypto::Digest32 file_sha256;      // SHA-256(plaintext)
    crypto::Digest32 file_enc_sha256;  // SHA-256(enc_blob)
    std::uint64_t file_length = 0;     // plaintext length
};

// A media key that is not 32 bytes: Errc::malformed.
Result<EncryptedMedia> encrypt_media(ByteView media_key, MediaType type, ByteView plaintext);

// The hashes the message promised; a hash left out is not checked (the MAC
// still is).  A given hash that is not 32 bytes is Errc::malformed.
struct ExpectedHashes {
    std::optional<ByteView> file_enc_sha256 = std::nullopt;
    std::optional<ByteView> file_sha256 = std::nullopt;
};

// Errors, in the order they are checked:
//   media key not 32 bytes, or a bad expected-hash length  Errc::malformed
//   blob shorter than one block plus the MAC               Errc::truncated
//   SHA-256(blob) differs from file_enc_sha256             Errc::bad_mac
//   MAC mismatch (wrong key, type or altered bytes)        Errc::bad_mac
//   ciphertext not whole blocks, or bad padding            Errc::malformed
//   SHA-256(plaintext) differs from file_sha256            Errc::bad_mac
Result<Bytes> decrypt_media(ByteView media_key, MediaType type, ByteView enc_blob,
                            const ExpectedHashes& expected = {});

}  // namespace chatwoot::wa::media
