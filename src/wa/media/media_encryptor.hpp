// Streaming encryption of a media file for upload.
//
// The same enc blob as encrypt_media() (media_cipher.hpp), byte for byte,
// without the file in memory: plaintext goes in as it is read, ciphertext
// comes out as it can be sent, and finish() adds the last padded block and
// the 10-byte MAC and says what the message must carry (fileSha256,
// fileEncSha256, fileLength).  The upload's Content-Length is known before
// the first byte: enc_blob_size(file length) (media_decryptor.hpp).
#pragma once

#include <memory>

#include "wa/bytes.hpp"
#include "wa/error.hpp"
#include "wa/media/media_decryptor.hpp"
#include "wa/media/media_type.hpp"

namespace chatwoot::wa::media {

class MediaEncryptor {
public:
    // A media key that is not 32 bytes: Errc::malformed.
    static Result<MediaEncryptor> create(ByteView media_key, MediaType type);

    MediaEncryptor(MediaEncryptor&&) noexcept;
    MediaEncryptor& operator=(MediaEncryptor&&) noexcept;
    ~MediaEncryptor();

    // Appends the ciphertext `plain` completes to `enc`: whole blocks only,
    // at most plain.size() + 15 bytes.  After finish() (or a failure):
    // Errc::wrong_state.
    Status update(ByteView plain, Bytes& enc);

    // Appends the last block (with its PKCS#7 padding) and the MAC to
    // `enc`, and returns the file's sums.  A second call: Errc::wrong_state.
    Result<MediaDigests> finish(Bytes& enc);

private:
    struct Impl;
    explicit MediaEncryptor(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace chatwoot::wa::media
