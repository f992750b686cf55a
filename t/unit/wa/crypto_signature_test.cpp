// The curve25519 signature scheme against the vector made with
// curve25519-js (section `signature`): with the same 64 random bytes our
// signature must be identical, and it must verify.
#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/curve_signature.hpp"
#include "wa/crypto/x25519.hpp"

namespace chatwoot::wa::crypto {
namespace {

using test::vector_hex;
using test::vector_section;

struct SignatureVector {
    Bytes priv = vector_hex(vector_section("signature"), "identity_priv");
    Bytes pub = vector_hex(vector_section("signature"), "identity_pub");
    Bytes message = vector_hex(vector_section("signature"), "message");
    Bytes random64 = vector_hex(vector_section("signature"), "random64");
    Bytes expected = vector_hex(vector_section("signature"), "signature_with_random");
};

TEST(CryptoSignature, VectorKeyPairMatches)
{
    SignatureVector v;
    EXPECT_EQ(to_bytes(x25519_key_pair(v.priv).value().public_key), v.pub);
}

TEST(CryptoSignature, SignWithInjectedRandomIsBitExact)
{
    SignatureVector v;
    auto ctx = SignalContext::create(replay_random(v.random64));
    ASSERT_TRUE(ctx.ok());
    auto sig = curve_sign(*ctx, v.priv, v.message);
    ASSERT_TRUE(sig.ok()) << sig.error().detail;
    EXPECT_EQ(to_hex(*sig), to_hex(v.expected));
}

TEST(CryptoSignature, OneShotContextOverloadGivesSameBytes)
{
    SignatureVector v;
    auto sig = curve_sign(replay_random(v.random64), v.priv, v.message);
    ASSERT_TRUE(sig.ok());
    EXPECT_EQ(to_bytes(*sig), v.expected);
}

TEST(CryptoSignature, VectorSignatureVerifies)
{
    SignatureVector v;
    ASSERT_TRUE(vector_section("signature")["verifies"].GetBool());
    Status s = curve_verify(v.pub, v.message, v.expected);
    EXPECT_TRUE(s.ok()) << s.error().detail;
    // The 0x05-prefixed form of the key is the same key.
    EXPECT_TRUE(curve_verify(concat({Bytes{0x05}, v.pub}), v.message, v.expected).ok());
}

TEST(CryptoSignature, AnyFlippedBitFailsVerification)
{
    SignatureVector v;
    for (std::size_t bit = 0; bit < 64 * 8; bit += 37) {
        Bytes sig = v.expected;
        sig[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        Status s = curve_verify(v.pub, v.message, sig);
        ASSERT_FALSE(s.ok()) << "bit " << bit;
        EXPECT_EQ(s.error().code, Errc::bad_signature) << "bit " << bit;
    }
    Bytes msg = v.message;
    msg.back() ^= 0x01;
    EXPECT_EQ(curve_verify(v.pub, msg, v.expected).error().code, Errc::bad_signature);
    Bytes other_pub = v.pub;
    other_pub[3] ^= 0x10;
    EXPECT_EQ(curve_verify(other_pub, v.message, v.expected).error().code, Errc::bad_signature);
}

TEST(CryptoSignature, FreshSignaturesVerifyAndDependOnRandom)
{
    SignatureVector v;
    auto a = curve_sign(seeded_random(as_bytes("a")), v.priv, as_bytes("hello"));
    auto b = curve_sign(seeded_random(as_bytes("b")), v.priv, as_bytes("hello"));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NE(*a, *b);
    EXPECT_TRUE(curve_verify(v.pub, as_bytes("hello"), *a).ok());
    EXPECT_TRUE(curve_verify(v.pub, as_bytes("hello"), *b).ok());
    auto empty = curve_sign(seeded_random(as_bytes("c")), v.priv, {});
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(curve_verify(v.pub, {}, *empty).ok());
}

TEST(CryptoSignature, WrongLengthsAreMalformed)
{
    SignatureVector v;
    EXPECT_EQ(curve_verify(Bytes(31, 1), v.message, v.expected).error().code, Errc::malformed);
    EXPECT_EQ(curve_verify(concat({Bytes{0x06}, v.pub}), v.message, v.expected).error().code,
              Errc::malformed);
    EXPECT_EQ(curve_verify(v.pub, v.message, Bytes(63, 0)).error().code, Errc::malformed);
    EXPECT_EQ(curve_verify(v.pub, v.message, Bytes(65, 0)).error().code, Errc::malformed);
    EXPECT_EQ(curve_sign(seeded_random({}), Bytes(33, 1), v.message).error().code, Errc::malformed);
}

TEST(CryptoSignature, ExhaustedRandomIsCryptoFailure)
{
    SignatureVector v;
    auto sig = curve_sign(replay_random(Bytes(63, 0)), v.priv, v.message);
    ASSERT_FALSE(sig.ok());
    EXPECT_EQ(sig.error().code, Errc::crypto_failure);
    EXPECT_NE(sig.error().detail.find("exhausted"), std::string::npos);
}

}  // namespace
}  // namespace chatwoot::wa::crypto
