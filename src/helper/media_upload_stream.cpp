#include "media_upload_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace chatwoot::helper {

namespace wm = chatwoot::wa::media;

namespace {

wa::Error file_error(const char* what)
{
    return wa::make_error(wa::Errc::wrong_state, std::string(what) + ": " + std::strerror(errno));
}

wa::ByteView key_bytes(std::string_view key)
{
    return {reinterpret_cast<const std::uint8_t*>(key.data()), key.size()};
}

// Fills up to `want` bytes; fewer only at the end of the file.  -1: error.
ssize_t read_full(int fd, std::uint8_t* p, std::size_t want)
{
    std::size_t got = 0;
    while (got < want) {
        const ssize_t r = ::read(fd, p + got, want - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return static_cast<ssize_t>(got);
}

}  // namespace

wa::Result<std::unique_ptr<MediaFileCipher>> MediaFileCipher::open(
    const std::string& path, std::string_view media_key, wm::MediaType type,
    std::optional<std::uint64_t> expected_length)
{
    auto enc = wm::MediaEncryptor::create(key_bytes(media_key), type);
    if (!enc) return enc.error();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return file_error("cannot open the file");
    return std::unique_ptr<MediaFileCipher>(new MediaFileCipher(fd, std::move(*enc), expected_length));
}

MediaFileCipher::MediaFileCipher(int fd, wm::MediaEncryptor enc, std::optional<std::uint64_t> expected)
    : fd_(fd), enc_(std::move(enc)), expected_(expected)
{
}

MediaFileCipher::~MediaFileCipher()
{
    ::close(fd_);
}

wa::Result<bool> MediaFileCipher::step(std::size_t max_plain, wa::Bytes& enc)
{
    if (failed_ || digests_) return wa::make_error(wa::Errc::wrong_state, "the file's pass is over");
    failed_ = true;   // until this step succeeds
    std::size_t want = std::max<std::size_t>(max_plain, 1);
    if (expected_) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, *expected_ - read_));
    buf_.resize(want);
    const ssize_t got = want == 0 ? 0 : read_full(fd_, buf_.data(), want);
    if (got < 0) return file_error("cannot read the file");
    read_ += static_cast<std::uint64_t>(got);
    if (got > 0) {
        if (auto s = enc_.update(wa::ByteView(buf_.data(), static_cast<std::size_t>(got)), enc); !s)
            return s.error();
    }
    bool at_end = static_cast<std::size_t>(got) < want;
    if (expected_) {
        if (at_end) {
            return wa::make_error(wa::Errc::wrong_state,
                                  "the file is shorter than when it was hashed (" + std::to_string(read_)
                                      + " of " + std::to_string(*expected_) + " bytes)");
        }
        if (read_ == *expected_) {
            // The length promised is reached: the file must end here too.
            std::uint8_t probe = 0;
            const ssize_t more = read_full(fd_, &probe, 1);
            if (more < 0) return file_error("cannot read the file");
            if (more > 0) return wa::make_error(wa::Errc::wrong_state, "the file grew since it was hashed");
            at_end = true;
        }
    }
    if (at_end) {
        auto d = enc_.finish(enc);
        if (!d) return d.error();
        digests_ = *d;
        buf_ = wa::Bytes();
    }
    failed_ = false;
    return at_end;
}

EncryptedUploadBody::EncryptedUploadBody(std::string path, std::string media_key, wm::MediaType type,
                                         wm::MediaDigests expected)
    : path_(std::move(path)), key_(std::move(media_key)), type_(type), expected_(expected)
{
}

wa::Result<std::size_t> EncryptedUploadBody::fail(std::string why)
{
    failure_ = std::move(why);
    cipher_.reset();
    pending_ = wa::Bytes();
    return wa::make_error(wa::Errc::wrong_state, failure_);
}

wa::Status EncryptedUploadBody::rewind()
{
    cipher_.reset();
    pending_.clear();
    pending_at_ = 0;
    given_ = 0;
    failure_.clear();
    return wa::Done{};
}

wa::Result<std::size_t> EncryptedUploadBody::read(std::span<char> out)
{
    if (!failure_.empty()) return wa::make_error(wa::Errc::wrong_state, failure_);
    if (out.empty()) return std::size_t{0};
    // A step may make no ciphertext (a few bytes that wait for their
    // block): step again, since 0 would tell curl the body has ended.
    while (pending_at_ == pending_.size() && (!cipher_ || !cipher_->finished())) {
        if (!cipher_) {
            auto c = MediaFileCipher::open(path_, key_, type_, expected_.file_length);
            if (!c) return fail(c.error().detail);
            cipher_ = std::move(*c);
        }
        pending_.clear();
        pending_at_ = 0;
        // About one of curl's buffers of plaintext: its ciphertext is as
        // long, give or take a block, so little waits in pending_.
        auto end = cipher_->step(out.size(), pending_);
        if (!end) return fail(end.error().detail);
        // Checked before the last block and the MAC leave: a blob that is
        // not the one pass 1 hashed never reaches the server whole.
        if (*end && cipher_->digests() != expected_)
            return fail("the file changed since it was hashed");
        if (given_ + pending_.size() > expected_.enc_length)
            return fail("the file's blob is longer than when it was hashed");
    }
    const std::size_t n = std::min(out.size(), pending_.size() - pending_at_);
    std::memcpy(out.data(), pending_.data() + pending_at_, n);
    pending_at_ += n;
    given_ += n;
    return n;
}

}  // namespace chatwoot::helper
