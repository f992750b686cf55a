// An upload's two passes over its file (helper/media_upload_stream.hpp):
// the hashing pass in slices gives the sums of the one-shot encrypt_media()
// for every size around a block and a slice; the body produced for curl, in
// buffers of any size, is the one-shot blob byte for byte, from the start
// again after a rewind; a file truncated, changed or grown between the
// passes ends the body before its last block and MAC.
#include "helper/media_upload_stream.hpp"

#include "wa/media/media_cipher.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

using namespace chatwoot;
using namespace chatwoot::helper;
namespace wm = chatwoot::wa::media;
namespace fs = std::filesystem;

namespace {

constexpr size_t kSlice = 4096;

std::string plain_of(size_t n, unsigned seed = 7)
{
    std::string s(n, '\0');
    uint32_t x = seed;
    for (auto& c : s) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

class MediaUploadStreamTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() / ("media_upload_stream_test_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        path_ = (dir_ / "file").string();
        key_ = std::string(32, '\x5a');
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& bytes)
    {
        std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
    }

    wm::EncryptedMedia one_shot(const std::string& plain, wm::MediaType type = wm::MediaType::document)
    {
        auto e = wm::encrypt_media(wa::as_bytes(key_), type, wa::as_bytes(plain));
        EXPECT_TRUE(e.ok());
        return *e;
    }

    // Pass 1 to its end; how many steps it took.
    std::pair<wm::MediaDigests, int> hash(size_t slice, wm::MediaType type = wm::MediaType::document)
    {
        auto c = MediaFileCipher::open(path_, key_, type);
        EXPECT_TRUE(c.ok());
        int steps = 0;
        wa::Bytes scratch;
        for (;;) {
            scratch.clear();
            auto end = (*c)->step(slice, scratch);
            EXPECT_TRUE(end.ok()) << end.error().detail;
            steps++;
            if (!end || *end) break;
            EXPECT_LE(scratch.size(), slice + 15);
        }
        return {(*c)->digests(), steps};
    }

    // Pass 2 as curl would pull it, `chunk` bytes at a time; stops at the
    // end or the first error (false).
    std::pair<std::string, bool> pull(EncryptedUploadBody& body, size_t chunk)
    {
        std::string out;
        std::string buf(chunk, '\0');
        for (;;) {
            auto n = body.read(std::span<char>(buf));
            if (!n) return {out, false};
            if (*n == 0) return {out, true};
            out.append(buf.data(), *n);
        }
    }

    fs::path dir_;
    std::string path_;
    std::string key_;
};

TEST_F(MediaUploadStreamTest, SlicedSumsAndBodyAreTheOneShotOnesForEverySize)
{
    for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, kSlice, kSlice + 1,
                     10 * kSlice + 5, 64 * kSlice}) {
        SCOPED_TRACE("size " + std::to_string(n));
        const std::string plain = plain_of(n, static_cast<unsigned>(n));
        write(plain);
        const auto ref = one_shot(plain);
        auto [d, steps] = hash(kSlice);
        EXPECT_EQ(d.file_sha256, ref.file_sha256);
        EXPECT_EQ(d.file_enc_sha256, ref.file_enc_sha256);
        EXPECT_EQ(d.file_length, n);
        EXPECT_EQ(d.enc_length, ref.enc_blob.size());
        EXPECT_EQ(d.enc_length, wm::enc_blob_size(n));
        // A slice per step, and the end seen in the step that reads it.
        EXPECT_EQ(steps, static_cast<int>(n / kSlice + 1));

        for (size_t chunk : {size_t{1}, size_t{7}, size_t{16}, size_t{1000}, size_t{65536}}) {
            EncryptedUploadBody body(path_, key_, wm::MediaType::document, d);
            EXPECT_EQ(body.size(), ref.enc_blob.size());
            auto [bytes, ok] = pull(body, chunk);
            ASSERT_TRUE(ok) << body.failure();
            EXPECT_EQ(bytes, std::string(wa::as_chars(ref.enc_blob))) << "chunk " << chunk;
        }
    }
}

TEST_F(MediaUploadStreamTest, TheKeyFamilyFollowsTheType)
{
    const std::string plain = plain_of(5000);
    write(plain);
    EXPECT_EQ(hash(kSlice, wm::MediaType::image).first.file_enc_sha256,
              one_shot(plain, wm::MediaType::image).file_enc_sha256);
    EXPECT_NE(hash(kSlice, wm::MediaType::image).first.file_enc_sha256,
              hash(kSlice, wm::MediaType::audio).first.file_enc_sha256);
}

TEST_F(MediaUploadStreamTest, ARewindStartsTheSameBytesAgain)
{
    const std::string plain = plain_of(3 * kSlice + 9);
    write(plain);
    const auto ref = one_shot(plain);
    EncryptedUploadBody body(path_, key_, wm::MediaType::document, hash(kSlice).first);
    std::string buf(5000, '\0');
    auto n = body.read(std::span<char>(buf));
    ASSERT_TRUE(n.ok());
    ASSERT_GT(*n, 0u);
    ASSERT_TRUE(body.rewind().ok());
    auto [bytes, ok] = pull(body, 4096);
    ASSERT_TRUE(ok);
    EXPECT_EQ(bytes, std::string(wa::as_chars(ref.enc_blob)));
}

// What curl was given of the blob: never its last block and MAC.
void expect_cut_before_the_tail(const std::string& given, uint64_t size)
{
    EXPECT_LE(given.size() + 16 + wm::media_mac_size, size);
}

TEST_F(MediaUploadStreamTest, AFileTruncatedBetweenThePassesEndsTheBody)
{
    const std::string plain = plain_of(10 * kSlice);
    write(plain);
    const auto d = hash(kSlice).first;
    write(plain.substr(0, 6 * kSlice + 3));
    EncryptedUploadBody body(path_, key_, wm::MediaType::document, d);
    auto [given, ok] = pull(body, 4096);
    EXPECT_FALSE(ok);
    EXPECT_NE(body.failure().find("shorter"), std::string::npos) << body.failure();
    expect_cut_before_the_tail(given, body.size());
    // It stays failed until rewound.
    std::string buf(16, '\0');
    EXPECT_FALSE(body.read(std::span<char>(buf)).ok());
}

TEST_F(MediaUploadStreamTest, AFileTruncatedToNothingEndsTheBodyAtOnce)
{
    write(plain_of(100));
    const auto d = hash(kSlice).first;
    write("");
    EncryptedUploadBody body(path_, key_, wm::MediaType::document, d);
    auto [given, ok] = pull(body, 4096);
    EXPECT_FALSE(ok);
    EXPECT_TRUE(given.empty());
}

TEST_F(MediaUploadStreamTest, AFileChangedInPlaceEndsTheBodyBeforeItsMac)
{
    std::string plain = plain_of(5 * kSlice + 100);
    write(plain);
    const auto d = hash(kSlice).first;
    plain[2 * kSlice] ^= 1;   // same length, one bit
    write(plain);
    EncryptedUploadBody body(path_, key_, wm::MediaType::document, d);
    auto [given, ok] = pull(body, 65536);
    EXPECT_FALSE(ok);
    EXPECT_NE(body.failure().find("changed"), std::string::npos) << body.failure();
    expect_cut_before_the_tail(given, body.size());
}

TEST_F(MediaUploadStreamTest, AFileThatGrewEndsTheBodyWithinItsLength)
{
    const std::string plain = plain_of(2 * kSlice);
    write(plain);
    const auto d = hash(kSlice).first;
    write(plain + "more");
    EncryptedUploadBody body(path_, key_, wm::MediaType::document, d);
    auto [given, ok] = pull(body, 1000);
    EXPECT_FALSE(ok);
    EXPECT_NE(body.failure().find("grew"), std::string::npos) << body.failure();
    expect_cut_before_the_tail(given, body.size());
}

TEST_F(MediaUploadStreamTest, AMissingFileOrBadKeyIsAReasonNotACrash)
{
    auto c = MediaFileCipher::open((dir_ / "absent").string(), key_, wm::MediaType::image);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().detail.find("cannot open"), std::string::npos);
    write("x");
    EXPECT_FALSE(MediaFileCipher::open(path_, "short key", wm::MediaType::image).ok());

    wm::MediaDigests d;
    d.file_length = 1;
    d.enc_length = wm::enc_blob_size(1);
    EncryptedUploadBody body((dir_ / "absent").string(), key_, wm::MediaType::image, d);
    auto [given, ok] = pull(body, 100);
    EXPECT_FALSE(ok);
    EXPECT_TRUE(given.empty());
    EXPECT_FALSE(body.failure().empty());
}

TEST_F(MediaUploadStreamTest, AStepAfterTheEndIsRefused)
{
    write(plain_of(10));
    auto c = MediaFileCipher::open(path_, key_, wm::MediaType::image);
    ASSERT_TRUE(c.ok());
    wa::Bytes out;
    auto end = (*c)->step(kSlice, out);
    ASSERT_TRUE(end.ok());
    EXPECT_TRUE(*end);
    EXPECT_EQ(out.size(), wm::enc_blob_size(10));
    EXPECT_FALSE((*c)->step(kSlice, out).ok());
}

}  // namespace
