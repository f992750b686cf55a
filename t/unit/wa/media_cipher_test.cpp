// Media encryption against every `media[]` vector (Baileys' encryptor,
// cross-checked with node:crypto): key split, enc blob, hashes, and
// decryption back to `media_plaintext`; then the failures a corrupted or
// forged download must produce.
#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/media/media_cipher.hpp"
#include "wa/media/media_keys.hpp"

namespace chatwoot::wa::media {
namespace {

using test::vector_hex;
using test::vector_section;
using test::vector_string;

Bytes plaintext()
{
    ByteView p = as_bytes(vector_string(test::vectors(), "media_plaintext"));
    return Bytes(p.begin(), p.end());
}

MediaType type_of(const rapidjson::Value& v)
{
    auto t = media_type_from_name(vector_string(v, "type"));
    EXPECT_TRUE(t.has_value()) << vector_string(v, "type");
    return t.value_or(MediaType::image);
}

TEST(MediaVectors, CoverAllNineTypes)
{
    EXPECT_EQ(vector_section("media").Size(), 9u);
}

TEST(MediaVectors, InfoAndKeySplit)
{
    for (const auto& v : vector_section("media").GetArray()) {
        SCOPED_TRACE(vector_string(v, "type"));
        MediaType type = type_of(v);
        EXPECT_EQ(hkdf_info(type), vector_string(v, "hkdf_info"));
        auto keys = expand_media_key(vector_hex(v, "media_key"), type);
        ASSERT_TRUE(keys.ok()) << keys.error().detail;
        EXPECT_EQ(to_hex(keys->iv), vector_string(v, "iv"));
        EXPECT_EQ(to_hex(keys->cipher_key), vector_string(v, "cipher_key"));
        EXPECT_EQ(to_hex(keys->mac_key), vector_string(v, "mac_key"));
    }
}

TEST(MediaVectors, EncryptIsByteExact)
{
    Bytes plain = plaintext();
    for (const auto& v : vector_section("media").GetArray()) {
        SCOPED_TRACE(vector_string(v, "type"));
        auto enc = encrypt_media(vector_hex(v, "media_key"), type_of(v), plain);
        ASSERT_TRUE(enc.ok()) << enc.error().detail;
        EXPECT_EQ(to_hex(enc->enc_blob), vector_string(v, "enc_blob"));
        EXPECT_EQ(to_hex(enc->file_enc_sha256), vector_string(v, "file_enc_sha256"));
        EXPECT_EQ(to_hex(enc->file_sha256), vector_string(v, "plaintext_sha256"));
        EXPECT_EQ(enc->file_length, plain.size());
    }
}

TEST(MediaVectors, DecryptBackToPlaintext)
{
    Bytes plain = plaintext();
    for (const auto& v : vector_section("media").GetArray()) {
        SCOPED_TRACE(vector_string(v, "type"));
        Bytes enc_sha = vector_hex(v, "file_enc_sha256");
        Bytes sha = vector_hex(v, "plaintext_sha256");
        auto out = decrypt_media(vector_hex(v, "media_key"), type_of(v), vector_hex(v, "enc_blob"),
                                 {.file_enc_sha256 = enc_sha, .file_sha256 = sha});
        ASSERT_TRUE(out.ok()) << out.error().detail;
        EXPECT_EQ(*out, plain);
    }
}

struct Image {
    const rapidjson::Value& v = vector_section("media")[0];
    Bytes key = vector_hex(v, "media_key");
    Bytes blob = vector_hex(v, "enc_blob");
    Bytes enc_sha = vector_hex(v, "file_enc_sha256");
    Bytes sha = vector_hex(v, "plaintext_sha256");
};

TEST(MediaDecrypt, AlteredMacOrCiphertextIsBadMac)
{
    Image img;
    ASSERT_EQ(vector_string(img.v, "type"), "image");
    Bytes bad_mac = img.blob;
    bad_mac.back() ^= 0x01;
    auto r1 = decrypt_media(img.key, MediaType::image, bad_mac);
    ASSERT_FALSE(r1.ok());
    EXPECT_EQ(r1.error().code, Errc::bad_mac);
    EXPECT_NE(r1.error().detail.find("MAC"), std::string::npos);

    Bytes bad_ct = img.blob;
    bad_ct[5] ^= 0x40;
    EXPECT_EQ(decrypt_media(img.key, MediaType::image, bad_ct).error().code, Errc::bad_mac);
}

TEST(MediaDecrypt, MacIsCheckedBeforeDecryption)
{
    // Drop the last ciphertext block but keep the MAC: decrypting first
    // would report bad padding; checking the MAC first reports bad_mac.
    Image img;
    Bytes cut(img.blob.begin(), img.blob.end() - 10 - 16);
    cut.insert(cut.end(), img.blob.end() - 10, img.blob.end());
    EXPECT_EQ(decrypt_media(img.key, MediaType::image, cut).error().code, Errc::bad_mac);
    // A ciphertext that is not whole blocks is also caught by the MAC first.
    Bytes odd(img.blob.begin(), img.blob.end() - 10 - 3);
    odd.insert(odd.end(), img.blob.end() - 10, img.blob.end());
    EXPECT_EQ(decrypt_media(img.key, MediaType::image, odd).error().code, Errc::bad_mac);
}

TEST(MediaDecrypt, WrongKeyOrTypeIsBadMac)
{
    Image img;
    Bytes other = img.key;
    other[0] ^= 1;
    EXPECT_EQ(decrypt_media(other, MediaType::image, img.blob).error().code, Errc::bad_mac);
    // The same bytes under another key family.
    EXPECT_EQ(decrypt_media(img.key, MediaType::video, img.blob).error().code, Errc::bad_mac);
    // sticker shares the image family: same keys, decrypts.
    EXPECT_TRUE(decrypt_media(img.key, MediaType::sticker, img.blob).ok());
}

TEST(MediaDecrypt, TruncatedBlob)
{
    Image img;
    for (std::size_t n : {0u, 1u, 10u, 25u}) {
        auto r = decrypt_media(img.key, MediaType::image, ByteView(img.blob).first(n));
        ASSERT_FALSE(r.ok()) << n;
        EXPECT_EQ(r.error().code, Errc::truncated) << n;
    }
    // 26 bytes is long enough to be judged by its MAC.
    EXPECT_EQ(decrypt_media(img.key, MediaType::image, ByteView(img.blob).first(26)).error().code,
              Errc::bad_mac);
}

TEST(MediaDecrypt, WrongEncSha256)
{
    Image img;
    Bytes wrong = img.enc_sha;
    wrong[31] ^= 0x80;
    auto r = decrypt_media(img.key, MediaType::image, img.blob, {.file_enc_sha256 = wrong});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::bad_mac);
    EXPECT_NE(r.error().detail.find("file_enc_sha256"), std::string::npos);
}

TEST(MediaDecrypt, WrongFileSha256)
{
    Image img;
    Bytes wrong = img.sha;
    wrong[0] ^= 0x01;
    auto r = decrypt_media(img.key, MediaType::image, img.blob, {.file_sha256 = wrong});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::bad_mac);
    EXPECT_NE(r.error().detail.find("file_sha256"), std::string::npos);
}

TEST(MediaDecrypt, BadLengthsAreMalformed)
{
    Image img;
    EXPECT_EQ(decrypt_media(Bytes(31, 0), MediaType::image, img.blob).error().code,
              Errc::malformed);
    EXPECT_EQ(decrypt_media(img.key, MediaType::image, img.blob, {.file_enc_sha256 = Bytes(31, 0)})
                  .error()
                  .code,
              Errc::malformed);
    EXPECT_EQ(encrypt_media(Bytes(33, 0), MediaType::image, {}).error().code, Errc::malformed);
    EXPECT_EQ(expand_media_key(Bytes(16, 0), MediaType::audio).error().code, Errc::malformed);
}

TEST(MediaRoundTrip, EmptyAndBlockAlignedPlaintexts)
{
    auto key = new_media_key(crypto::seeded_random(as_bytes("media")));
    ASSERT_TRUE(key.ok());
    for (std::size_t n : {0u, 15u, 16u, 17u, 4096u}) {
        Bytes plain(n, static_cast<std::uint8_t>(n));
        auto enc = encrypt_media(*key, MediaType::document, plain);
        ASSERT_TRUE(enc.ok());
        EXPECT_EQ(enc->enc_blob.size(), (n / 16 + 1) * 16 + 10);
        auto dec = decrypt_media(
            *key, MediaType::document, enc->enc_blob,
            {.file_enc_sha256 = enc->file_enc_sha256, .file_sha256 = enc->file_sha256});
        ASSERT_TRUE(dec.ok()) << n;
        EXPECT_EQ(*dec, plain);
    }
}

TEST(MediaKeys, NewMediaKeyUsesInjectedRandom)
{
    Bytes script(32, 0xab);
    auto key = new_media_key(crypto::replay_random(script));
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(crypto::to_bytes(*key), script);
    EXPECT_EQ(new_media_key(crypto::replay_random(Bytes(5, 0))).error().code, Errc::crypto_failure);
}

}  // namespace
}  // namespace chatwoot::wa::media
