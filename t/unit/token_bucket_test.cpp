// The token bucket that keeps the helper under Chatwoot's limits
// (CONTRACT.md section 7), over simulated monotonic time: exact counts,
// bursts, idling, exact waits, and clocks that misbehave.
#include "chatwoot/token_bucket.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

using chatwoot::rest::TokenBucket;
using namespace std::chrono_literals;
using Rate = TokenBucket::Rate;
using TimePoint = TokenBucket::TimePoint;
using Duration = TokenBucket::Duration;

namespace {

const TimePoint t0 = TimePoint(1000h);

// Takes tokens at every `step` from `from` to `to` inclusive, as a sender
// polling a busy queue would; returns how many it got.
uint64_t takes_over(TokenBucket& b, TimePoint from, TimePoint to, Duration step)
{
    uint64_t n = 0;
    for (TimePoint t = from; t <= to; t += step)
        while (b.try_take(t))
            n++;
    return n;
}

}  // namespace

TEST(TokenBucket, RateZeroIsUnlimited)
{
    TokenBucket b(Rate::unlimited(), 1);
    EXPECT_TRUE(b.unlimited());
    for (int i = 0; i < 100000; i++)
        ASSERT_TRUE(b.try_take(t0));
    EXPECT_EQ(b.wait_time(t0), Duration::zero());
    EXPECT_EQ(b.available(t0), std::numeric_limits<uint64_t>::max());
    EXPECT_TRUE(TokenBucket(Rate{5, 0s}, 1).unlimited());
    EXPECT_TRUE(TokenBucket(Rate{5, -1s}, 1).unlimited());
}

TEST(TokenBucket, StartsFullWithTheBurst)
{
    TokenBucket b(Rate::per_second(1), 5);
    EXPECT_EQ(b.available(t0), 5u);
    for (int i = 0; i < 5; i++)
        EXPECT_TRUE(b.try_take(t0)) << i;
    EXPECT_FALSE(b.try_take(t0));
    EXPECT_EQ(b.available(t0), 0u);
}

TEST(TokenBucket, BurstZeroIsOne)
{
    TokenBucket b(Rate::per_second(10), 0);
    EXPECT_EQ(b.burst(), 1u);
    EXPECT_TRUE(b.try_take(t0));
    EXPECT_FALSE(b.try_take(t0));
}

TEST(TokenBucket, ExactCountOverSimulatedTime)
{
    // 10/s, burst 1, polled every ms for 10 s: the first token plus one per
    // 100 ms, the last arriving exactly at t0 + 10 s.
    TokenBucket b(Rate::per_second(10), 1);
    EXPECT_EQ(takes_over(b, t0, t0 + 10s, 1ms), 101u);
    // Polled coarsely (every 250 ms, burst 1) the bucket cannot hold what
    // accrues between polls: one per poll, 41 polls.
    TokenBucket c(Rate::per_second(10), 1);
    EXPECT_EQ(takes_over(c, t0, t0 + 10s, 250ms), 41u);
    // With a burst of 3 it can: the same 101 as fine polling.
    TokenBucket d(Rate::per_second(10), 3);
    EXPECT_EQ(takes_over(d, t0, t0 + 10s, 250ms), 3u + 100u);
}

TEST(TokenBucket, ChatwootsPerMinuteLimitsAreExact)
{
    // Flood guard: 200 messages a minute per conversation, one every 300 ms.
    TokenBucket conv(Rate::per_minute(200), 1);
    EXPECT_TRUE(conv.try_take(t0));
    EXPECT_EQ(conv.wait_time(t0), 300ms);
    EXPECT_EQ(takes_over(conv, t0 + 1ms, t0 + 60s, 1ms), 200u);
    // Rack::Attack's default 3000 a minute per IP: one every 20 ms, and
    // over an hour exactly 3000 a minute (plus the initial burst).
    TokenBucket ip(Rate::per_minute(3000), 50);
    EXPECT_EQ(takes_over(ip, t0, t0 + 1h, 10ms), 50u + 3000u * 60u);
}

TEST(TokenBucket, FractionalIntervalsDoNotDrift)
{
    // 3/s is one every 333.33... ms: exactly 3 in any whole second, at
    // 333333334 ns, 666666667 ns and 1 s after the drain.
    TokenBucket b(Rate::per_second(3), 3);
    for (int i = 0; i < 3; i++)
        ASSERT_TRUE(b.try_take(t0));
    EXPECT_EQ(b.available(t0 + 1s - 1ns), 2u);
    EXPECT_EQ(b.available(t0 + 1s), 3u);
    EXPECT_EQ(b.wait_time(t0), Duration(333333334));
    // Over 100000 s, polled every 250 ms (0.75 tokens per poll, so the
    // burst of 3 never caps): exactly 3 per second, not a token more or less.
    TokenBucket c(Rate::per_second(3), 3);
    const uint64_t n = takes_over(c, t0, t0 + 100000s, 250ms);
    EXPECT_EQ(n, 3u + 300000u);
}

TEST(TokenBucket, LongIdleDoesNotAccumulateMoreThanTheBurst)
{
    TokenBucket b(Rate::per_second(100), 4);
    for (int i = 0; i < 4; i++)
        ASSERT_TRUE(b.try_take(t0));
    for (Duration idle : {Duration(1h), Duration(24h * 365 * 100)}) {
        const TimePoint later = t0 + idle;
        EXPECT_EQ(b.available(later), 4u);
        int got = 0;
        while (b.try_take(later))
            got++;
        EXPECT_EQ(got, 4);
    }
}

TEST(TokenBucket, WaitTimeIsExact)
{
    TokenBucket b(Rate::per_second(10), 1);
    EXPECT_EQ(b.wait_time(t0), Duration::zero());  // full
    ASSERT_TRUE(b.try_take(t0));
    EXPECT_EQ(b.wait_time(t0), 100ms);
    EXPECT_EQ(b.wait_time(t0 + 30ms), 70ms);
    EXPECT_EQ(b.wait_time(t0 + 100ms), Duration::zero());
    EXPECT_EQ(b.wait_time(t0 + 5s), Duration::zero());
    // wait_time is a promise: one nanosecond early fails, on time succeeds.
    const TimePoint ready = t0 + 30ms + b.wait_time(t0 + 30ms);
    EXPECT_FALSE(b.try_take(ready - 1ns));
    EXPECT_TRUE(b.try_take(ready));
    EXPECT_EQ(b.wait_time(ready), 100ms);
}

TEST(TokenBucket, WaitTimeKeepsItsPromiseForOddRates)
{
    for (Rate r : {Rate::per_second(3), Rate::per_minute(7), Rate{13, 1s + 1ns},
                   Rate{1, 3h}, Rate::per_second(1000000)}) {
        TokenBucket b(r, 2);
        TimePoint now = t0;
        for (int i = 0; i < 50; i++) {
            const Duration w = b.wait_time(now);
            ASSERT_GE(w, Duration::zero());
            if (w > Duration::zero()) {
                ASSERT_FALSE(b.try_take(now + w - 1ns)) << i;
            }
            now += w;
            ASSERT_TRUE(b.try_take(now)) << i;
        }
    }
}

TEST(TokenBucket, TimeGoingBackwardsGrantsNothingAndBreaksNothing)
{
    TokenBucket b(Rate::per_second(10), 1);
    ASSERT_TRUE(b.try_take(t0 + 10s));
    // Earlier than the last refill: nothing accrues, and the wait counts
    // the way back to t0 + 10 s as well.
    EXPECT_FALSE(b.try_take(t0));
    EXPECT_EQ(b.available(t0), 0u);
    EXPECT_EQ(b.wait_time(t0), 10s + 100ms);
    EXPECT_EQ(b.wait_time(t0 + 10s), 100ms);
    // Back and forth across the same stretch grants it once.
    EXPECT_FALSE(b.try_take(t0 + 10s + 50ms));
    EXPECT_FALSE(b.try_take(t0 + 5s));
    EXPECT_FALSE(b.try_take(t0 + 10s + 99ms));
    EXPECT_TRUE(b.try_take(t0 + 10s + 100ms));
    EXPECT_FALSE(b.try_take(t0 + 10s + 100ms));
}

TEST(TokenBucket, ExtremeTimePointsDoNotOverflow)
{
    TokenBucket b(Rate::per_second(10), 2);
    ASSERT_TRUE(b.try_take(TimePoint::min()));
    ASSERT_TRUE(b.try_take(TimePoint::min()));
    EXPECT_FALSE(b.try_take(TimePoint::min()));
    // From the start of the clock to its end: refilled, but only to 2.
    EXPECT_EQ(b.available(TimePoint::max()), 2u);
    ASSERT_TRUE(b.try_take(TimePoint::max()));
    ASSERT_TRUE(b.try_take(TimePoint::max()));
    EXPECT_FALSE(b.try_take(TimePoint::max()));
    EXPECT_EQ(b.wait_time(TimePoint::max()), 100ms);
    // And all the way back: a wait that does not fit saturates.
    EXPECT_EQ(b.wait_time(TimePoint::min()), Duration::max());
    EXPECT_FALSE(b.try_take(TimePoint::min()));

    // Several tokens per period: elapsed time times the rate would wrap
    // 64 bits here, and must still just fill the bucket.
    TokenBucket c(Rate::per_second(3), 5);
    for (int i = 0; i < 5; i++)
        ASSERT_TRUE(c.try_take(TimePoint::min()));
    EXPECT_EQ(c.available(TimePoint::max()), 5u);
    EXPECT_EQ(c.available(TimePoint::min() + 700ms), 2u);
    // 3 * this elapsed time is 2^64 + 2: wrapped, it would look like 2 ns.
    const Duration wraps(6148914691236517206);
    EXPECT_EQ(c.available(TimePoint::min() + wraps), 5u);
}

TEST(TokenBucket, ExtremeSettingsStayWithinBounds)
{
    // A slow rate: one per 3 hours, burst clamped nowhere near.
    TokenBucket slow(Rate{1, 3h}, 1000);
    EXPECT_EQ(slow.burst(), 1000u);
    // A huge burst on a long period is clamped so credit fits in 62 bits.
    TokenBucket big(Rate{1, 3h}, std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(big.burst(), TokenBucket::kMaxCreditNs
                               / uint64_t(Duration(3h).count()));
    EXPECT_TRUE(big.try_take(t0));
    // Faster than one per nanosecond is no limit at all.
    TokenBucket fast(Rate{std::numeric_limits<uint64_t>::max(), 1ns}, 1);
    EXPECT_TRUE(fast.unlimited());
    // Slower than one per ~39 hours is held at one per ~39 hours.
    TokenBucket glacial(Rate{1, 24h * 365}, 1);
    EXPECT_FALSE(glacial.unlimited());
    ASSERT_TRUE(glacial.try_take(t0));
    EXPECT_EQ(glacial.wait_time(t0), Duration(int64_t(TokenBucket::kMaxPerNs)));
    // Reduced to lowest terms before any bound applies: 1000 per 100 hours
    // is exactly one per 6 minutes, although 100 h is past kMaxPerNs.
    TokenBucket reduced(Rate{1000, 100h}, 1);
    ASSERT_TRUE(reduced.try_take(t0));
    EXPECT_EQ(reduced.wait_time(t0), 6min);
    // A very high but representable rate: a billion per second.
    TokenBucket quick(Rate::per_second(1000000000), 1);
    ASSERT_TRUE(quick.try_take(t0));
    EXPECT_EQ(quick.wait_time(t0), 1ns);
    EXPECT_EQ(takes_over(quick, t0 + 1ns, t0 + 1000ns, 1ns), 1000u);
}
