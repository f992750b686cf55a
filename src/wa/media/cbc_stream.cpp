#include "wa/media/cbc_stream.hpp"

#include "wa/crypto/openssl_util.hpp"
#include "wa/media/media_keys.hpp"

#include <openssl/crypto.h>

#include <openssl/evp.h>

#include <algorithm>
#include <string>

namespace chatwoot::wa::media::detail {

namespace {

// OpenSSL takes int lengths; a download chunk is far below this, but a
// caller may hand a whole file.
constexpr std::size_t max_piece = std::size_t{1} << 20;

}  // namespace

void CbcStream::CtxFree::operator()(evp_cipher_ctx_st* ctx) const noexcept
{
    EVP_CIPHER_CTX_free(ctx);
}

Result<CbcStream> CbcStream::create(Direction direction, const crypto::Key32& key,
                                    std::span<const std::uint8_t, 16> iv)
{
    Ctx ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return crypto::detail::openssl_error("EVP_CIPHER_CTX_new");
    const int enc = direction == Direction::encrypt ? 1 : 0;
    if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv.data(), enc) != 1)
        return crypto::detail::openssl_error("EVP_CipherInit_ex(AES-256-CBC)");
    EVP_CIPHER_CTX_set_padding(ctx.get(), 1);
    return CbcStream(std::move(ctx));
}

Status CbcStream::update(ByteView in, Bytes& out)
{
    while (!in.empty()) {
        const std::size_t n = std::min(in.size(), max_piece);
        const std::size_t at = out.size();
        out.resize(at + n + EVP_MAX_BLOCK_LENGTH);
        int written = 0;
        if (EVP_CipherUpdate(ctx_.get(), out.data() + at, &written, in.data(),
                             static_cast<int>(n)) != 1) {
            out.resize(at);
            return crypto::detail::openssl_error("EVP_CipherUpdate(AES-256-CBC)");
        }
        out.resize(at + static_cast<std::size_t>(written));
        in = in.subspan(n);
    }
    return Done{};
}

Result<std::size_t> CbcStream::finish(std::array<std::uint8_t, 16>& last)
{
    // EVP_CipherFinal_ex writes at most one block here (AES, padding on).
    int written = 0;
    if (EVP_CipherFinal_ex(ctx_.get(), last.data(), &written) != 1) {
        const bool decrypting = EVP_CIPHER_CTX_is_encrypting(ctx_.get()) == 0;
        Error e = crypto::detail::openssl_error("EVP_CipherFinal_ex(AES-256-CBC)");
        if (decrypting)
            return make_error(Errc::malformed, "ciphertext not whole blocks or bad padding");
        return e;
    }
    return static_cast<std::size_t>(written);
}

Result<MediaStreamStart> start_media_stream(ByteView media_key, MediaType type,
                                            CbcStream::Direction direction)
{
    Result<MediaKeys> keys = expand_media_key(media_key, type);
    if (!keys) return keys.error();
    auto cbc = CbcStream::create(direction, keys->cipher_key, keys->iv);
    if (!cbc) {
        OPENSSL_cleanse(&*keys, sizeof(MediaKeys));
        return cbc.error();
    }
    MediaStreamStart start{std::move(*cbc), crypto::HmacSha256(keys->mac_key)};
    start.mac.update(keys->iv);
    OPENSSL_cleanse(&*keys, sizeof(MediaKeys));
    return start;
}

}  // namespace chatwoot::wa::media::detail
