// The injected random sources behave as documented.
#include <gtest/gtest.h>

#include "wa/bytes.hpp"
#include "wa/crypto/random.hpp"

namespace chatwoot::wa::crypto {
namespace {

TEST(CryptoRandom, ReplayHandsOutScriptThenFails)
{
    RandomSource r = replay_random(Bytes{1, 2, 3, 4, 5});
    EXPECT_EQ(random_bytes(r, 2).value(), (Bytes{1, 2}));
    RandomSource copy = r;  // copies share the position
    EXPECT_EQ(random_bytes(copy, 2).value(), (Bytes{3, 4}));
    auto over = random_bytes(r, 2);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().code, Errc::crypto_failure);
    EXPECT_EQ(random_bytes(r, 1).value(), (Bytes{5}));
}

TEST(CryptoRandom, SeededIsDeterministicAndSeedDependent)
{
    Bytes a = random_bytes(seeded_random(as_bytes("seed")), 100).value();
    Bytes b = random_bytes(seeded_random(as_bytes("seed")), 100).value();
    Bytes c = random_bytes(seeded_random(as_bytes("seeD")), 100).value();
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    // Reading in pieces gives the same stream.
    RandomSource r = seeded_random(as_bytes("seed"));
    Bytes p1 = random_bytes(r, 33).value();
    Bytes p2 = random_bytes(r, 67).value();
    EXPECT_EQ(concat({p1, p2}), a);
}

TEST(CryptoRandom, SystemRandomFillsAndDiffers)
{
    RandomSource r = system_random();
    Bytes a = random_bytes(r, 32).value();
    Bytes b = random_bytes(r, 32).value();
    EXPECT_NE(a, b);
}

TEST(CryptoRandom, MissingSourceIsAnError)
{
    RandomSource none;
    EXPECT_EQ(random_bytes(none, 1).error().code, Errc::wrong_state);
}

}  // namespace
}  // namespace chatwoot::wa::crypto
