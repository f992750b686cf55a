// The streaming media encryptor: byte-identical to the `media[]` vectors
// (Baileys' encryptor) however the plaintext is cut, byte-identical to the
// whole-buffer encrypt_media() for the same key on sizes around the block
// boundaries, its sums as the decryptor computes them, and the Content-
// Length enc_blob_size() announces before the first byte.
#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/random.hpp"
#include "wa/media/media_cipher.hpp"
#include "wa/media/media_decryptor.hpp"
#include "wa/media/media_encryptor.hpp"
#include "wa/media/media_keys.hpp"

namespace chatwoot::wa::media {
namespace {

using test::vector_hex;
using test::vector_section;
using test::vector_string;

// Encrypts `plain` cut every `step` bytes (0: in one piece).
struct Sealed {
    Bytes enc;
    MediaDigests digests;
};

Sealed seal(ByteView key, MediaType type, ByteView plain, std::size_t step)
{
    auto e = MediaEncryptor::create(key, type);
    EXPECT_TRUE(e.ok());
    if (!e) return {};
    Sealed out;
    if (step == 0) step = plain.size() + 1;
    for (std::size_t at = 0; at < plain.size(); at += step) {
        const std::size_t n = std::min(step, plain.size() - at);
        const std::size_t before = out.enc.size();
        EXPECT_TRUE(e->update(plain.subspan(at, n), out.enc).ok());
        // Whole blocks only, at most the input plus a held block.
        EXPECT_EQ((out.enc.size() - before) % 16, 0u);
        EXPECT_LE(out.enc.size() - before, n + 15);
    }
    auto d = e->finish(out.enc);
    EXPECT_TRUE(d.ok());
    if (d) out.digests = *d;
    return out;
}

TEST(MediaEncryptor, EveryVectorInEveryEqualChunking)
{
    ByteView plain = as_bytes(vector_string(test::vectors(), "media_plaintext"));
    for (const auto& v : vector_section("media").GetArray()) {
        SCOPED_TRACE(vector_string(v, "type"));
        auto type = media_type_from_name(vector_string(v, "type"));
        ASSERT_TRUE(type.has_value());
        const std::string want(vector_string(v, "enc_blob"));
        for (std::size_t step = 0; step <= plain.size(); ++step) {
            Sealed s = seal(vector_hex(v, "media_key"), *type, plain, step);
            ASSERT_EQ(to_hex(s.enc), want) << "step " << step;
            EXPECT_EQ(to_hex(s.digests.file_enc_sha256), vector_string(v, "file_enc_sha256"));
            EXPECT_EQ(to_hex(s.digests.file_sha256), vector_string(v, "plaintext_sha256"));
            EXPECT_EQ(s.digests.file_length, plain.size());
            EXPECT_EQ(s.digests.enc_length, s.enc.size());
        }
    }
}

TEST(MediaEncryptor, SameBytesAsTheWholeBufferEncrypt)
{
    auto key = new_media_key(crypto::seeded_random(as_bytes("enc")));
    ASSERT_TRUE(key.ok());
    auto data = crypto::random_bytes(crypto::seeded_random(as_bytes("data")), 70000);
    ASSERT_TRUE(data.ok());
    for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 33u, 4095u, 4096u, 65536u, 70000u}) {
        ByteView plain = ByteView(*data).first(n);
        auto whole = encrypt_media(*key, MediaType::document, plain);
        ASSERT_TRUE(whole.ok());
        for (std::size_t step : {0u, 1u, 7u, 16u, 1000u, 16384u}) {
            Sealed s = seal(*key, MediaType::document, plain, step);
            ASSERT_EQ(s.enc, whole->enc_blob) << n << " / " << step;
            EXPECT_EQ(s.digests.file_sha256, whole->file_sha256);
            EXPECT_EQ(s.digests.file_enc_sha256, whole->file_enc_sha256);
            EXPECT_EQ(s.digests.file_length, whole->file_length);
            EXPECT_EQ(s.digests.enc_length, enc_blob_size(n)) << n;
        }
    }
}

TEST(MediaEncryptor, RoundTripsThroughTheStreamingDecryptor)
{
    auto key = new_media_key(crypto::seeded_random(as_bytes("round")));
    ASSERT_TRUE(key.ok());
    Bytes plain(100000, 0);
    for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<std::uint8_t>(i * 7);
    Sealed s = seal(*key, MediaType::ptt, plain, 3000);
    auto d = MediaDecryptor::create(*key, MediaType::audio,
                                    {.file_enc_sha256 = s.digests.file_enc_sha256,
                                     .file_sha256 = s.digests.file_sha256,
                                     .file_length = s.digests.file_length},
                                    plain.size());
    ASSERT_TRUE(d.ok());
    Bytes out;
    ASSERT_TRUE(d->update(s.enc, out).ok());
    auto r = d->finish(out);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(out, plain);
    EXPECT_EQ(*r, s.digests);
}

TEST(MediaEncryptor, EncBlobSize)
{
    EXPECT_EQ(enc_blob_size(0), 26u);
    EXPECT_EQ(enc_blob_size(15), 26u);
    EXPECT_EQ(enc_blob_size(16), 42u);
    EXPECT_EQ(enc_blob_size(64u << 20), (64u << 20) + 26u);
    EXPECT_EQ(enc_blob_size(UINT64_MAX), UINT64_MAX);
    // ...ffe5 rounds down to ...ffe0, plus 26.
    EXPECT_EQ(enc_blob_size(UINT64_MAX - 26), UINT64_MAX - 5);
}

TEST(MediaEncryptor, BadKeyAndFinishedIsFinal)
{
    EXPECT_EQ(MediaEncryptor::create(Bytes(16, 1), MediaType::image).error().code,
              Errc::malformed);
    auto e = MediaEncryptor::create(Bytes(32, 1), MediaType::image);
    ASSERT_TRUE(e.ok());
    Bytes enc;
    ASSERT_TRUE(e->finish(enc).ok());
    EXPECT_EQ(enc.size(), 26u);
    EXPECT_EQ(e->update(as_bytes("x"), enc).error().code, Errc::wrong_state);
    EXPECT_EQ(e->finish(enc).error().code, Errc::wrong_state);
    EXPECT_EQ(enc.size(), 26u);
}

}  // namespace
}  // namespace chatwoot::wa::media
