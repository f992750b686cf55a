// X25519 against RFC 7748 section 6.1, and the checks on hostile keys.
#include <gtest/gtest.h>

#include "wa/bytes.hpp"
#include "wa/crypto/x25519.hpp"

namespace chatwoot::wa::crypto {
namespace {

Bytes hex(std::string_view s)
{
    return from_hex(s).value();
}

const char* alice_priv = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const char* alice_pub = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const char* bob_priv = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const char* bob_pub = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const char* shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

TEST(CryptoX25519, Rfc7748PublicKeys)
{
    auto a = x25519_key_pair(hex(alice_priv));
    ASSERT_TRUE(a.ok()) << a.error().detail;
    EXPECT_EQ(to_hex(a->public_key), alice_pub);
    auto b = x25519_key_pair(hex(bob_priv));
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(to_hex(b->public_key), bob_pub);
    EXPECT_EQ(to_hex(x25519_public_key(hex(bob_priv)).value()), bob_pub);
    EXPECT_EQ(x25519_public_key(Bytes(16, 1)).error().code, Errc::malformed);
}

TEST(CryptoX25519, Rfc7748SharedSecretBothWays)
{
    auto ab = x25519_shared(hex(alice_priv), hex(bob_pub));
    auto ba = x25519_shared(hex(bob_priv), hex(alice_pub));
    ASSERT_TRUE(ab.ok() && ba.ok());
    EXPECT_EQ(to_hex(*ab), shared);
    EXPECT_EQ(to_hex(*ba), shared);
}

TEST(CryptoX25519, PrivateKeyIsStoredClamped)
{
    auto a = x25519_key_pair(hex(alice_priv));
    ASSERT_TRUE(a.ok());
    // 0x77 -> 0x70, 0x2a -> 0x6a.
    EXPECT_EQ(to_hex(a->private_key),
              "70076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c6a");
    // The clamped scalar gives the same public key and the same secret.
    EXPECT_EQ(to_hex(x25519_key_pair(a->private_key)->public_key), alice_pub);
    EXPECT_EQ(to_hex(x25519_shared(a->private_key, hex(bob_pub)).value()), shared);
}

TEST(CryptoX25519, GenerateUsesInjectedRandom)
{
    auto p = x25519_generate(replay_random(hex(alice_priv)));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(to_hex(p->public_key), alice_pub);
    auto empty = x25519_generate(replay_random(Bytes(31, 0)));
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error().code, Errc::crypto_failure);
}

TEST(CryptoX25519, WrongLengthsAreMalformed)
{
    EXPECT_EQ(x25519_key_pair(Bytes(31, 1)).error().code, Errc::malformed);
    EXPECT_EQ(x25519_key_pair(Bytes(33, 1)).error().code, Errc::malformed);
    EXPECT_EQ(x25519_shared(hex(alice_priv), Bytes(33, 5)).error().code, Errc::malformed);
    EXPECT_EQ(x25519_shared(Bytes(0), hex(bob_pub)).error().code, Errc::malformed);
}

TEST(CryptoX25519, SmallOrderPeerIsRejected)
{
    // u = 0 and u = 1 are points of small order: the shared secret is zero.
    auto zero = x25519_shared(hex(alice_priv), Bytes(32, 0));
    ASSERT_FALSE(zero.ok());
    EXPECT_EQ(zero.error().code, Errc::crypto_failure);
    Bytes one(32, 0);
    one[0] = 1;
    EXPECT_EQ(x25519_shared(hex(alice_priv), one).error().code, Errc::crypto_failure);
}

}  // namespace
}  // namespace chatwoot::wa::crypto
