// An upload's encryption read from its file a slice at a time (issue 11,
// Chatwoot -> WhatsApp), for the two passes MediaUploader makes over it:
//
//  1. the hashing pass: the upload URL carries base64url(fileEncSha256),
//     so the blob's sums must be known before its first byte goes.  The
//     file is encrypted in slices and the ciphertext thrown away; nothing
//     is written, nothing held but one slice.
//  2. the body: curl asks for the request body as it sends it; the file is
//     encrypted again with the same key and IV (AES-CBC is deterministic:
//     the same bytes as pass 1) straight into curl's buffer.  Its sums are
//     checked against pass 1's before the last block and the MAC go out: a
//     file changed in between ends the transfer instead of sending a blob
//     that matches neither its URL nor its message.
//
// Both read the media store's file with plain read(2) on the helper's
// loop, a bounded amount per call (a local disk, as every other file the
// helper reads).
#pragma once

#include "../wa/bytes.hpp"
#include "../wa/error.hpp"
#include "../wa/media/media_encryptor.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace chatwoot::helper {

// One pass of MediaEncryptor over a file.
class MediaFileCipher {
public:
    // Opens `path` and starts the encryptor.  With `expected_length` the
    // pass reads that many bytes and no more (pass 2: the Content-Length
    // was promised) and then checks that the file ends there.
    static wa::Result<std::unique_ptr<MediaFileCipher>> open(
        const std::string& path, std::string_view media_key, wa::media::MediaType type,
        std::optional<std::uint64_t> expected_length = std::nullopt);

    ~MediaFileCipher();
    MediaFileCipher(const MediaFileCipher&) = delete;
    MediaFileCipher& operator=(const MediaFileCipher&) = delete;

    // Reads up to `max_plain` bytes and appends their ciphertext to `enc`;
    // at the end of the file also the padded last block and the MAC.
    // Returns true once that end was reached (digests() holds the sums);
    // a read error, a file longer or shorter than expected_length, or a
    // call after the end: an error (Errc::wrong_state).
    wa::Result<bool> step(std::size_t max_plain, wa::Bytes& enc);

    bool finished() const { return digests_.has_value(); }
    const wa::media::MediaDigests& digests() const { return *digests_; }

private:
    MediaFileCipher(int fd, wa::media::MediaEncryptor enc, std::optional<std::uint64_t> expected);

    int fd_;
    wa::media::MediaEncryptor enc_;
    std::optional<std::uint64_t> expected_;
    std::uint64_t read_ = 0;
    wa::Bytes buf_;
    std::optional<wa::media::MediaDigests> digests_;
    bool failed_ = false;
};

// Pass 2: the enc blob of a file whose sums pass 1 gave, produced as it is
// asked for.  size() is the Content-Length, known before the first byte.
class EncryptedUploadBody {
public:
    EncryptedUploadBody(std::string path, std::string media_key, wa::media::MediaType type,
                        wa::media::MediaDigests expected);

    std::uint64_t size() const { return expected_.enc_length; }

    // Copies the next bytes of the blob into `out`: how many (0 once the
    // whole blob was given), or an error that must end the transfer: the
    // file cannot be read, or it is not the file pass 1 hashed (failure()
    // then says so).  Never gives more than size() bytes in all.
    wa::Result<std::size_t> read(std::span<char> out);

    // Back to the first byte (curl sends again on a new connection).
    wa::Status rewind();

    // Why the last read failed; empty while it has not.
    const std::string& failure() const { return failure_; }

private:
    wa::Result<std::size_t> fail(std::string why);

    std::string path_;
    std::string key_;
    wa::media::MediaType type_;
    wa::media::MediaDigests expected_;
    std::unique_ptr<MediaFileCipher> cipher_;
    wa::Bytes pending_;          // ciphertext made but not yet handed over
    std::size_t pending_at_ = 0;
    std::uint64_t given_ = 0;
    std::string failure_;
};

}  // namespace chatwoot::helper
