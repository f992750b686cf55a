// The shared table of recently seen webhook keys.
#include "chatwoot_replay.h"
#include "chatwoot_webhook.h"
#include "chatwoot/webhook_signature.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

struct Table {
    explicit Table(size_t n, uint64_t ttl)
        : mem((cw_replay_footprint(n) + 7) / 8)
    {
        cw_replay_init(get(), n, ttl);
    }
    cw_replay_t* get() { return reinterpret_cast<cw_replay_t*>(mem.data()); }
    std::vector<uint64_t> mem;
};

}  // namespace

TEST(ReplayFilter, RemembersUntilTheTtlRunsOut)
{
    Table t(64, 600);
    EXPECT_EQ(cw_replay_seen(t.get(), 42, 1000), 0);
    cw_replay_remember(t.get(), 42, 1000);
    EXPECT_EQ(cw_replay_seen(t.get(), 42, 1000), 1);
    EXPECT_EQ(cw_replay_seen(t.get(), 42, 1599), 1);
    EXPECT_EQ(cw_replay_seen(t.get(), 42, 1600), 0);
    EXPECT_EQ(cw_replay_seen(t.get(), 43, 1000), 0);
}

TEST(ReplayFilter, KeyZeroIsAnOrdinaryKey)
{
    Table t(64, 600);
    cw_replay_remember(t.get(), 0, 1000);
    EXPECT_EQ(cw_replay_seen(t.get(), 0, 1001), 1);
}

TEST(ReplayFilter, CollidingKeysShareTheProbeWindow)
{
    // Keys equal modulo the table size land on the same first slot.
    Table t(16, 600);
    for (uint64_t k = 0; k < 8; k++) {
        cw_replay_remember(t.get(), 5 + 16 * k, 1000);
    }
    for (uint64_t k = 0; k < 8; k++) {
        EXPECT_EQ(cw_replay_seen(t.get(), 5 + 16 * k, 1001), 1) << k;
    }
    EXPECT_EQ(t.get()->evicted, 0u);
}

TEST(ReplayFilter, WhenFullTheSoonestToExpireGivesWay)
{
    Table t(8, 600);
    for (uint64_t k = 0; k < 8; k++) {
        cw_replay_remember(t.get(), 8 * k, 1000 + k);  // all start at slot 0
    }
    cw_replay_remember(t.get(), 8 * 100, 2000 - 600 + 1);
    EXPECT_EQ(t.get()->evicted, 1u);
    EXPECT_EQ(cw_replay_seen(t.get(), 0, 1500), 0) << "the oldest went";
    for (uint64_t k = 1; k < 8; k++) {
        EXPECT_EQ(cw_replay_seen(t.get(), 8 * k, 1500), 1) << k;
    }
    EXPECT_EQ(cw_replay_seen(t.get(), 800, 1500), 1);
}

TEST(ReplayFilter, ExpiredSlotsAreReusedWithoutEvicting)
{
    Table t(8, 10);
    for (uint64_t k = 0; k < 8; k++) {
        cw_replay_remember(t.get(), 8 * k, 1000);
    }
    cw_replay_remember(t.get(), 8 * 50, 1011);
    EXPECT_EQ(t.get()->evicted, 0u);
    EXPECT_EQ(cw_replay_seen(t.get(), 8 * 50, 1012), 1);
}

TEST(ReplayFilter, ManyRandomKeysInALargeTableAreAllRemembered)
{
    // At a quarter load no key may be lost.
    const size_t n = 1 << 14;
    Table t(n, 600);
    std::mt19937_64 rng(7);
    std::vector<uint64_t> keys(n / 4);
    for (auto& k : keys) {
        k = rng();
        cw_replay_remember(t.get(), k, 1000);
    }
    for (auto k : keys) {
        ASSERT_EQ(cw_replay_seen(t.get(), k, 1001), 1);
    }
    EXPECT_EQ(t.get()->evicted, 0u);
}

TEST(ReplayFilter, EmptyTableRemembersNothingAndDoesNotCrash)
{
    Table t(0, 600);
    cw_replay_remember(t.get(), 1, 1000);
    EXPECT_EQ(cw_replay_seen(t.get(), 1, 1000), 0);
}

TEST(ReplayFilter, RemembersAsLongAsTheSignatureWindowLetsTheRequestIn)
{
    using namespace chatwoot::webhook;
    const std::string secret = "s", body = "{}";
    const int64_t ts = 10'000;
    const std::string stamp = std::to_string(ts);
    const std::string sig = signature_header(secret, stamp, body);
    const SignedRequest req{sig, stamp, body};

    // first seen as early as the window allows, replayed as late as it allows
    const int64_t first = ts - kMaxAheadSeconds, last = ts + kMaxAgeSeconds;
    Digest d;
    ASSERT_EQ(verify_signature(secret, req, first - 1, &d), AuthResult::future_timestamp);
    ASSERT_EQ(verify_signature(secret, req, first, &d), AuthResult::ok);
    ASSERT_EQ(verify_signature(secret, req, last, &d), AuthResult::ok);
    ASSERT_EQ(verify_signature(secret, req, last + 1, &d), AuthResult::stale_timestamp);

    Table t(64, cw_webhook_replay_ttl());
    cw_replay_remember(t.get(), 42, static_cast<uint64_t>(first));
    EXPECT_EQ(cw_replay_seen(t.get(), 42, static_cast<uint64_t>(last)), 1)
        << "the replay filter forgot a request its signature still lets in";
}
