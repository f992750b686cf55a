// HKDF (RFC 5869 appendix A) and PBKDF2-HMAC-SHA256 (RFC 7914 section 11
// style answers for SHA-256, as widely published).
#include <gtest/gtest.h>

#include "wa/bytes.hpp"
#include "wa/crypto/kdf.hpp"

namespace chatwoot::wa::crypto {
namespace {

Bytes hex(std::string_view s)
{
    return from_hex(s).value();
}

TEST(CryptoHkdf, Rfc5869Case1)
{
    Bytes ikm(22, 0x0b);
    auto okm = hkdf_sha256(hex("000102030405060708090a0b0c"), ikm, hex("f0f1f2f3f4f5f6f7f8f9"), 42);
    ASSERT_TRUE(okm.ok()) << okm.error().detail;
    EXPECT_EQ(
        to_hex(*okm),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(CryptoHkdf, Rfc5869Case3NoSaltNoInfo)
{
    Bytes ikm(22, 0x0b);
    auto okm = hkdf_sha256({}, ikm, {}, 42);
    ASSERT_TRUE(okm.ok());
    EXPECT_EQ(
        to_hex(*okm),
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(CryptoHkdf, EmptyIkmIsAllowed)
{
    // The Noise split derives from the chaining key with no input material.
    auto a = hkdf_sha256(Bytes(32, 1), {}, {}, 64);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->size(), 64u);
    auto b = hkdf_sha256(Bytes(32, 2), {}, {}, 64);
    ASSERT_TRUE(b.ok());
    EXPECT_NE(*a, *b);
}

TEST(CryptoHkdf, PrefixStableAcrossLengths)
{
    auto short_ = hkdf_sha256(as_bytes("salt"), as_bytes("ikm"), as_bytes("info"), 20);
    auto long_ = hkdf_sha256(as_bytes("salt"), as_bytes("ikm"), as_bytes("info"), 112);
    ASSERT_TRUE(short_.ok() && long_.ok());
    EXPECT_EQ(*short_, Bytes(long_->begin(), long_->begin() + 20));
}

TEST(CryptoHkdf, RejectsBadLengths)
{
    auto zero = hkdf_sha256({}, as_bytes("k"), {}, 0);
    ASSERT_FALSE(zero.ok());
    EXPECT_EQ(zero.error().code, Errc::malformed);
    auto max = hkdf_sha256({}, as_bytes("k"), {}, 255 * 32);
    ASSERT_TRUE(max.ok());
    EXPECT_EQ(max->size(), 8160u);
    auto over = hkdf_sha256({}, as_bytes("k"), {}, 255 * 32 + 1);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().code, Errc::too_large);
}

TEST(CryptoPbkdf2, KnownAnswers)
{
    auto c1 = pbkdf2_sha256(as_bytes("password"), as_bytes("salt"), 1, 32);
    ASSERT_TRUE(c1.ok());
    EXPECT_EQ(to_hex(*c1), "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    auto c2 = pbkdf2_sha256(as_bytes("password"), as_bytes("salt"), 2, 32);
    ASSERT_TRUE(c2.ok());
    EXPECT_EQ(to_hex(*c2), "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
    auto c4096 = pbkdf2_sha256(as_bytes("password"), as_bytes("salt"), 4096, 32);
    ASSERT_TRUE(c4096.ok());
    EXPECT_EQ(to_hex(*c4096), "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
}

TEST(CryptoPbkdf2, RejectsZeroIterationsAndLength)
{
    auto it0 = pbkdf2_sha256(as_bytes("p"), as_bytes("s"), 0, 32);
    ASSERT_FALSE(it0.ok());
    EXPECT_EQ(it0.error().code, Errc::malformed);
    auto len0 = pbkdf2_sha256(as_bytes("p"), as_bytes("s"), 1, 0);
    ASSERT_FALSE(len0.ok());
    EXPECT_EQ(len0.error().code, Errc::malformed);
}

}  // namespace
}  // namespace chatwoot::wa::crypto
