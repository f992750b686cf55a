// Streaming verify-then-decrypt of a downloaded media body.
//
// The body ("enc blob") is AES-256-CBC(cipherKey, iv, plaintext) with
// PKCS#7 padding, then the first 10 bytes of HMAC-SHA256(macKey, iv || ct)
// (media_cipher.hpp).  A download arrives in chunks of any size, and a
// 64 MB video must not sit in memory, so this decrypts as the bytes come:
//
//   - every byte goes into SHA-256 (fileEncSha256);
//   - the last 10 bytes seen are held back, since only the end of the body
//     says which 10 are the MAC; everything before them is ciphertext and
//     goes into the HMAC and through AES-CBC;
//   - CBC holds back its last block until finish(), which alone can check
//     the PKCS#7 padding.
//
// So the plaintext handed out by update() is NOT yet authenticated: the
// caller writes it only to a temporary file and keeps that file only when
// finish() succeeds (then nothing unverified ever reaches Chatwoot).  The
// last plaintext block is handed out by finish() only after every check has
// passed.  State is fixed-size whatever the body's length: the hashes, the
// cipher context, 10 held-back bytes; output goes to the caller's buffer,
// at most the input's size plus one block per call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/error.hpp"
#include "wa/media/media_type.hpp"

namespace chatwoot::wa::media {

// What a media message promised about its file; anything left out is not
// checked (the MAC always is).  A given hash must be 32 bytes.
struct ExpectedMedia {
    std::optional<ByteView> file_enc_sha256 = std::nullopt;
    std::optional<ByteView> file_sha256 = std::nullopt;
    std::optional<std::uint64_t> file_length = std::nullopt;  // plaintext bytes
};

// The sums of a file that passed every check (or that was just encrypted).
struct MediaDigests {
    crypto::Digest32 file_sha256{};      // SHA-256(plaintext)
    crypto::Digest32 file_enc_sha256{};  // SHA-256(enc blob)
    std::uint64_t file_length = 0;       // plaintext bytes
    std::uint64_t enc_length = 0;        // enc blob bytes

    bool operator==(const MediaDigests&) const = default;
};

// Which check a body failed, for the note the caller writes into Chatwoot
// ("file too large", "media damaged in transit", ...).
enum class MediaFault {
    too_large,   // more bytes than a file of the size cap encrypts to
    truncated,   // ended before one block and the MAC, or before the size
                 // fileLength promises
    length,      // more bytes than fileLength promises, or a plaintext of
                 // another length
    enc_hash,    // SHA-256 of the body is not fileEncSha256
    mac,         // the HMAC over iv || ciphertext does not match
    padding,     // ciphertext not whole blocks, or bad PKCS#7 padding
    plain_hash,  // SHA-256 of the plaintext is not fileSha256
};

std::string_view media_fault_name(MediaFault fault);

// The size of the enc blob for a file of `file_length` bytes: the
// plaintext padded to whole blocks (always at least one byte of padding)
// plus the MAC.  Saturates at UINT64_MAX instead of wrapping.
std::uint64_t enc_blob_size(std::uint64_t file_length);

class MediaDecryptor {
public:
    // `max_file_size` is the size cap (whatsapp_media_max): update() stops
    // as soon as more bytes arrive than a file of that size encrypts to.
    // Errc::malformed for a media key that is not 32 bytes or an expected
    // hash that is not 32 bytes; Errc::too_large when the message already
    // promises a file_length over the cap (no need to download it).
    static Result<MediaDecryptor> create(ByteView media_key, MediaType type,
                                         const ExpectedMedia& expected,
                                         std::uint64_t max_file_size);

    MediaDecryptor(MediaDecryptor&&) noexcept;
    MediaDecryptor& operator=(MediaDecryptor&&) noexcept;
    ~MediaDecryptor();

    // Takes the next bytes of the body and appends the plaintext they
    // complete to `plain` (unverified, see above).  A chunk that would take
    // the body over the cap is refused whole: Errc::too_large
    // (MediaFault::too_large); over fileLength's size: Errc::malformed
    // (MediaFault::length).  After any failure, or after finish(), every
    // call is Errc::wrong_state.
    Status update(ByteView enc, Bytes& plain);

    // Ends the body.  Checks, in this order, and says which failed:
    //   shorter than a block and the MAC, or than fileLength's size
    //                                          Errc::truncated  truncated
    //   SHA-256(body) != fileEncSha256         Errc::bad_mac    enc_hash
    //   MAC mismatch                           Errc::bad_mac    mac
    //   ciphertext not whole blocks, bad PKCS#7 padding
    //                                          Errc::malformed  padding
    //   plaintext length != fileLength         Errc::malformed  length
    //   SHA-256(plaintext) != fileSha256       Errc::bad_mac    plain_hash
    // The MAC is checked before the padding, so a forged body is reported
    // as such, never as a padding oracle.  Only when all pass is the last
    // plaintext (up to 15 bytes) appended to `plain`.
    Result<MediaDigests> finish(Bytes& plain);

    // The check that failed, once one has.
    std::optional<MediaFault> fault() const;
    // Body bytes taken so far.
    std::uint64_t received() const;

private:
    struct Impl;
    explicit MediaDecryptor(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace chatwoot::wa::media
