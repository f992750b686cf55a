#include "wa/media/media_decryptor.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>

#include "wa/crypto/aes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/hmac.hpp"
#include "wa/media/cbc_stream.hpp"
#include "wa/media/media_cipher.hpp"
#include "wa/media/media_keys.hpp"

namespace chatwoot::wa::media {

std::string_view media_fault_name(MediaFault fault)
{
    switch (fault) {
    case MediaFault::too_large: return "too_large";
    case MediaFault::truncated: return "truncated";
    case MediaFault::length: return "length";
    case MediaFault::enc_hash: return "enc_hash";
    case MediaFault::mac: return "mac";
    case MediaFault::padding: return "padding";
    case MediaFault::plain_hash: return "plain_hash";
    }
    return "unknown";
}

std::uint64_t enc_blob_size(std::uint64_t file_length)
{
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    constexpr std::uint64_t overhead = crypto::aes_block_size + media_mac_size;
    if (file_length > max - overhead) return max;
    return file_length / crypto::aes_block_size * crypto::aes_block_size + overhead;
}

namespace {

Result<std::optional<crypto::Digest32>> copy_hash(const std::optional<ByteView>& h,
                                                  const char* name)
{
    if (!h) return std::optional<crypto::Digest32>{};
    if (h->size() != 32)
        return make_error(Errc::malformed, std::string(name) + " is " +
                                               std::to_string(h->size()) + " bytes, want 32");
    crypto::Digest32 d{};
    std::copy(h->begin(), h->end(), d.begin());
    return std::optional<crypto::Digest32>(d);
}

}  // namespace

struct MediaDecryptor::Impl {
    explicit Impl(detail::MediaStreamStart start) : cbc(std::move(start.cbc)), mac(std::move(start.mac)) {}

    enum class State { open, finished, failed };

    detail::CbcStream cbc;
    crypto::HmacSha256 mac;     // over iv || ciphertext
    crypto::Sha256 enc_hash;    // over every body byte
    crypto::Sha256 plain_hash;  // over the plaintext handed out

    // The last body bytes seen: the MAC if the body ends here.
    std::array<std::uint8_t, media_mac_size> tail{};
    std::size_t tail_len = 0;

    std::uint64_t received = 0;
    std::uint64_t ciphertext_len = 0;
    std::uint64_t plain_len = 0;
    std::uint64_t max_enc = 0;                  // from the size cap
    std::optional<std::uint64_t> expected_enc;  // from fileLength

    std::optional<crypto::Digest32> want_enc_sha256;
    std::optional<crypto::Digest32> want_sha256;
    std::optional<std::uint64_t> want_length;

    State state = State::open;
    std::optional<MediaFault> fault;

    Error fail(MediaFault f, Errc code, std::string detail)
    {
        state = State::failed;
        fault = f;
        return make_error(code, "media " + std::string(media_fault_name(f)) + ": " + detail);
    }

    // Ciphertext, now known not to be part of the MAC.
    Status take_ciphertext(ByteView ct, Bytes& plain)
    {
        if (ct.empty()) return Done{};
        mac.update(ct);
        ciphertext_len += ct.size();
        const std::size_t at = plain.size();
        if (Status s = cbc.update(ct, plain); !s) {
            state = State::failed;
            return s;
        }
        ByteView fresh = ByteView(plain).subspan(at);
        plain_hash.update(fresh);
        plain_len += fresh.size();
        return Done{};
    }
};

MediaDecryptor::MediaDecryptor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MediaDecryptor::MediaDecryptor(MediaDecryptor&&) noexcept = default;
MediaDecryptor& MediaDecryptor::operator=(MediaDecryptor&&) noexcept = default;
MediaDecryptor::~MediaDecryptor() = default;

Result<MediaDecryptor> MediaDecryptor::create(ByteView media_key, MediaType type,
                                              const ExpectedMedia& expected,
                                              std::uint64_t max_file_size)
{
    auto enc_sha = copy_hash(expected.file_enc_sha256, "file_enc_sha256");
    if (!enc_sha) return enc_sha.error();
    auto sha = copy_hash(expected.file_sha256, "file_sha256");
    if (!sha) return sha.error();
    if (expected.file_length && *expected.file_length > max_file_size)
        return make_error(Errc::too_large, "media fileLength " +
                                               std::to_string(*expected.file_length) +
                                               " is over the cap of " +
                                               std::to_string(max_file_size));

    auto start = detail::start_media_stream(media_key, type, detail::CbcStream::Direction::decrypt);
    if (!start) return start.error();
    auto impl = std::make_unique<Impl>(std::move(*start));

    impl->max_enc = enc_blob_size(max_file_size);
    if (expected.file_length) impl->expected_enc = enc_blob_size(*expected.file_length);
    impl->want_enc_sha256 = *enc_sha;
    impl->want_sha256 = *sha;
    impl->want_length = expected.file_length;
    return MediaDecryptor(std::move(impl));
}

Status MediaDecryptor::update(ByteView enc, Bytes& plain)
{
    Impl& m = *impl_;
    if (m.state != Impl::State::open)
        return make_error(Errc::wrong_state, m.state == Impl::State::failed
                                                 ? "media decryptor failed earlier"
                                                 : "media decryptor already finished");
    if (enc.empty()) return Done{};
    // Judged before a byte is used: the whole chunk is refused.
    if (enc.size() > m.max_enc - m.received)
        return m.fail(MediaFault::too_large, Errc::too_large,
                      "body over " + std::to_string(m.max_enc) + " bytes (the size cap)");
    if (m.expected_enc && enc.size() > *m.expected_enc - m.received)
        return m.fail(MediaFault::length, Errc::malformed,
                      "body over the " + std::to_string(*m.expected_enc) +
                          " bytes fileLength promises");

    m.enc_hash.update(enc);
    m.received += enc.size();

    // The stream is tail || enc; all of it but its last 10 bytes is
    // ciphertext now, first what the tail held, then the front of enc.
    const std::size_t total = m.tail_len + enc.size();
    if (total <= media_mac_size) {
        std::memcpy(m.tail.data() + m.tail_len, enc.data(), enc.size());
        m.tail_len = total;
        return Done{};
    }
    const std::size_t release = total - media_mac_size;
    const std::size_t from_tail = std::min(m.tail_len, release);
    if (Status s = m.take_ciphertext(ByteView(m.tail).first(from_tail), plain); !s) return s;
    const std::size_t from_enc = release - from_tail;
    if (Status s = m.take_ciphertext(enc.first(from_enc), plain); !s) return s;

    // The new tail: what the old one kept, then the rest of enc; 10 bytes.
    const std::size_t kept = m.tail_len - from_tail;
    std::memmove(m.tail.data(), m.tail.data() + from_tail, kept);
    std::memcpy(m.tail.data() + kept, enc.data() + from_enc, enc.size() - from_enc);
    m.tail_len = media_mac_size;
    return Done{};
}

Result<MediaDigests> MediaDecryptor::finish(Bytes& plain)
{
    Impl& m = *impl_;
    if (m.state != Impl::State::open)
        return make_error(Errc::wrong_state, m.state == Impl::State::failed
                                                 ? "media decryptor failed earlier"
                                                 : "media decryptor already finished");
    m.state = Impl::State::finished;

    constexpr std::uint64_t min_body = crypto::aes_block_size + media_mac_size;
    if (m.received < min_body)
        return m.fail(MediaFault::truncated, Errc::truncated,
                      "body is " + std::to_string(m.received) +
                          " bytes, below one block and the MAC");
    if (m.expected_enc && m.received < *m.expected_enc)
        return m.fail(MediaFault::truncated, Errc::truncated,
                      "body is " + std::to_string(m.received) + " bytes, fileLength needs " +
                          std::to_string(*m.expected_enc));

    MediaDigests out;
    out.file_enc_sha256 = m.enc_hash.finish();
    out.enc_length = m.received;
    if (m.want_enc_sha256 && !crypto::equal_mac(out.file_enc_sha256, *m.want_enc_sha256))
        return m.fail(MediaFault::enc_hash, Errc::bad_mac, "body does not match fileEncSha256");

    const crypto::Digest32 mac = m.mac.finish();
    if (!crypto::equal_mac(ByteView(mac).first(media_mac_size), m.tail))
        return m.fail(MediaFault::mac, Errc::bad_mac, "MAC mismatch");

    if (m.ciphertext_len % crypto::aes_block_size != 0)
        return m.fail(MediaFault::padding, Errc::malformed, "ciphertext is not whole blocks");
    std::array<std::uint8_t, 16> last{};
    Result<std::size_t> n = m.cbc.finish(last);
    if (!n) {
        if (n.error().code == Errc::malformed)
            return m.fail(MediaFault::padding, Errc::malformed, "bad padding");
        m.state = Impl::State::failed;
        return n.error();
    }
    ByteView rest = ByteView(last).first(*n);
    m.plain_hash.update(rest);
    out.file_length = m.plain_len + rest.size();
    out.file_sha256 = m.plain_hash.finish();

    if (m.want_length && out.file_length != *m.want_length)
        return m.fail(MediaFault::length, Errc::malformed,
                      "plaintext is " + std::to_string(out.file_length) +
                          " bytes, fileLength says " + std::to_string(*m.want_length));
    if (m.want_sha256 && !crypto::equal_mac(out.file_sha256, *m.want_sha256))
        return m.fail(MediaFault::plain_hash, Errc::bad_mac,
                      "plaintext does not match fileSha256");

    plain.insert(plain.end(), rest.begin(), rest.end());
    OPENSSL_cleanse(last.data(), last.size());
    return out;
}

std::optional<MediaFault> MediaDecryptor::fault() const
{
    return impl_->fault;
}

std::uint64_t MediaDecryptor::received() const
{
    return impl_->received;
}

}  // namespace chatwoot::wa::media
