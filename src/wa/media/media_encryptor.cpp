#include "wa/media/media_encryptor.hpp"

#include <array>

#include "wa/crypto/hash.hpp"
#include "wa/crypto/hmac.hpp"
#include "wa/media/cbc_stream.hpp"
#include "wa/media/media_cipher.hpp"
#include "wa/media/media_keys.hpp"

namespace chatwoot::wa::media {

struct MediaEncryptor::Impl {
    explicit Impl(detail::MediaStreamStart start) : cbc(std::move(start.cbc)), mac(std::move(start.mac)) {}

    detail::CbcStream cbc;
    crypto::HmacSha256 mac;     // over iv || ciphertext
    crypto::Sha256 enc_hash;    // over ciphertext || MAC
    crypto::Sha256 plain_hash;  // over the plaintext
    std::uint64_t plain_len = 0;
    std::uint64_t enc_len = 0;
    bool open = true;

    // Ciphertext just appended to `enc` at `at`.
    void took(const Bytes& enc, std::size_t at)
    {
        ByteView fresh = ByteView(enc).subspan(at);
        mac.update(fresh);
        enc_hash.update(fresh);
        enc_len += fresh.size();
    }
};

MediaEncryptor::MediaEncryptor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MediaEncryptor::MediaEncryptor(MediaEncryptor&&) noexcept = default;
MediaEncryptor& MediaEncryptor::operator=(MediaEncryptor&&) noexcept = default;
MediaEncryptor::~MediaEncryptor() = default;

Result<MediaEncryptor> MediaEncryptor::create(ByteView media_key, MediaType type)
{
    auto start = detail::start_media_stream(media_key, type, detail::CbcStream::Direction::encrypt);
    if (!start) return start.error();
    return MediaEncryptor(std::make_unique<Impl>(std::move(*start)));
}

Status MediaEncryptor::update(ByteView plain, Bytes& enc)
{
    Impl& m = *impl_;
    if (!m.open) return make_error(Errc::wrong_state, "media encryptor finished or failed");
    m.plain_hash.update(plain);
    m.plain_len += plain.size();
    const std::size_t at = enc.size();
    if (Status s = m.cbc.update(plain, enc); !s) {
        m.open = false;
        return s;
    }
    m.took(enc, at);
    return Done{};
}

Result<MediaDigests> MediaEncryptor::finish(Bytes& enc)
{
    Impl& m = *impl_;
    if (!m.open) return make_error(Errc::wrong_state, "media encryptor finished or failed");
    m.open = false;
    std::array<std::uint8_t, 16> last{};
    Result<std::size_t> n = m.cbc.finish(last);
    if (!n) return n.error();
    const std::size_t at = enc.size();
    enc.insert(enc.end(), last.begin(), last.begin() + static_cast<std::ptrdiff_t>(*n));
    m.took(enc, at);

    const crypto::Digest32 mac = m.mac.finish();
    ByteView tag = ByteView(mac).first(media_mac_size);
    enc.insert(enc.end(), tag.begin(), tag.end());
    m.enc_hash.update(tag);
    m.enc_len += tag.size();

    MediaDigests out;
    out.file_sha256 = m.plain_hash.finish();
    out.file_enc_sha256 = m.enc_hash.finish();
    out.file_length = m.plain_len;
    out.enc_length = m.enc_len;
    return out;
}

}  // namespace chatwoot::wa::media
