// Internal to wa_media: AES-256-CBC with PKCS#7 padding over data that
// arrives in pieces, for the streaming media encryptor and decryptor.
//
// OpenSSL's EVP context does the block bookkeeping: encrypting, it keeps a
// partial block until more input (or the end) completes it; decrypting, it
// also keeps the last whole block back, since only the end of the stream
// says whether that block carries the padding.  What this class adds is
// RAII for the context, an int-sized loop for OpenSSL's lengths, and the
// layer's Result values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "wa/bytes.hpp"
#include "wa/crypto/hmac.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/error.hpp"
#include "wa/media/media_type.hpp"

struct evp_cipher_ctx_st;

namespace chatwoot::wa::media::detail {

class CbcStream {
public:
    enum class Direction { encrypt, decrypt };

    static Result<CbcStream> create(Direction direction, const crypto::Key32& key,
                                    std::span<const std::uint8_t, 16> iv);

    // Appends the output `in` completes to `out`: at most in.size() + 16
    // bytes (a block held back by an earlier call may come out now).
    Status update(ByteView in, Bytes& out);

    // The end of the stream, into `last`; returns how many bytes it holds.
    // Encrypting: the padded last block, always 16.  Decrypting: the last
    // block without its padding, 0..15; Errc::malformed when the input was
    // not whole blocks or the padding does not check out.
    Result<std::size_t> finish(std::array<std::uint8_t, 16>& last);

private:
    struct CtxFree {
        void operator()(evp_cipher_ctx_st* ctx) const noexcept;
    };
    using Ctx = std::unique_ptr<evp_cipher_ctx_st, CtxFree>;

    explicit CbcStream(Ctx ctx) : ctx_(std::move(ctx)) {}

    Ctx ctx_;
};

// What the streaming encryptor and decryptor both start from: the media
// key expanded for its type, the CBC stream under its cipher key and IV,
// and the MAC under its MAC key, already fed the IV.  The expanded keys are
// wiped once the contexts hold their own copies.
struct MediaStreamStart {
    CbcStream cbc;
    crypto::HmacSha256 mac;
};
Result<MediaStreamStart> start_media_stream(ByteView media_key, MediaType type,
                                            CbcStream::Direction direction);

}  // namespace chatwoot::wa::media::detail
