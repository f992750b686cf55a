// Unit tests of the helper's per-inbox counters (src/ipc/inbox_stats.cpp)
// and the in-memory filing times behind the latency histograms
// (src/store/filed_clock.cpp).

#include "ipc/inbox_stats.hpp"
#include "store/filed_clock.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

namespace {

using chatwoot::ipc::api_class;
using chatwoot::ipc::claim_inbox_slot;
using chatwoot::ipc::elapsed_since;
using chatwoot::ipc::observe_latency;
using std::chrono::microseconds;

std::unique_ptr<cw_inbox_stats_area_t> empty_area()
{
    auto a = std::make_unique<cw_inbox_stats_area_t>();
    std::memset(a.get(), 0, sizeof *a);
    return a;
}

TEST(InboxStats, ASlotIsClaimedOnceByNameAndKeptForTheNextHelper)
{
    auto area = empty_area();
    cw_inbox_stats_t* support = claim_inbox_slot(*area, "support");
    ASSERT_NE(support, nullptr);
    support->bridge.whatsapp_posted = 5;
    cw_inbox_stats_t* sales = claim_inbox_slot(*area, "sales");
    ASSERT_NE(sales, nullptr);
    EXPECT_NE(sales, support);
    EXPECT_EQ(area->used, 2u);
    // A helper started later (a restart, a reload) finds the same slot,
    // counters and all.
    EXPECT_EQ(claim_inbox_slot(*area, "support"), support);
    EXPECT_EQ(support->bridge.whatsapp_posted, 5u);
    EXPECT_STREQ(area->slot[1].name, "sales");
}

TEST(InboxStats, NoSlotWhenAllAreTakenOrTheNameIsTooLong)
{
    auto area = empty_area();
    for (int i = 0; i < CW_INBOX_SLOTS; i++) {
        ASSERT_NE(claim_inbox_slot(*area, "inbox" + std::to_string(i)), nullptr);
    }
    EXPECT_EQ(claim_inbox_slot(*area, "one more"), nullptr);
    EXPECT_NE(claim_inbox_slot(*area, "inbox7"), nullptr);
    auto fresh = empty_area();
    EXPECT_EQ(claim_inbox_slot(*fresh, std::string(CW_SNAPSHOT_NAME_SIZE, 'x')), nullptr);
    EXPECT_EQ(fresh->used, 0u);
}

TEST(InboxStats, StatusClasses)
{
    EXPECT_EQ(api_class(0), CW_API_NONE);
    EXPECT_EQ(api_class(101), CW_API_1XX);
    EXPECT_EQ(api_class(200), CW_API_2XX);
    EXPECT_EQ(api_class(302), CW_API_3XX);
    EXPECT_EQ(api_class(429), CW_API_4XX);
    EXPECT_EQ(api_class(503), CW_API_5XX);
    EXPECT_EQ(api_class(999), CW_API_NONE);
}

TEST(InboxStats, LatenciesGoToTheFirstBucketTheyFitAndAddToTheSum)
{
    cw_latency_t h{};
    observe_latency(&h, microseconds(5000));       // exactly 5 ms: le="0.005"
    observe_latency(&h, microseconds(5001));       // just over: le="0.01"
    observe_latency(&h, microseconds(60'000'000)); // le="60"
    observe_latency(&h, microseconds(90'000'000)); // +Inf
    observe_latency(&h, std::nullopt);             // unknown: not counted
    observe_latency(nullptr, microseconds(1));     // no histogram: nothing
    EXPECT_EQ(h.bucket[0], 1u);
    EXPECT_EQ(h.bucket[1], 1u);
    EXPECT_EQ(h.bucket[12], 1u);
    EXPECT_EQ(h.bucket[13], 1u);
    EXPECT_EQ(h.sum_usec, 5000u + 5001u + 60'000'000u + 90'000'000u);
}

TEST(InboxStats, ElapsedSinceAFilingTime)
{
    EXPECT_FALSE(elapsed_since(std::nullopt));
    const int64_t now = chatwoot::store::unix_usec_now();
    const auto e = elapsed_since(now - 250'000);
    ASSERT_TRUE(e);
    EXPECT_GE(e->count(), 250'000);
    EXPECT_LT(e->count(), 60'000'000);
    EXPECT_EQ(elapsed_since(now + 3'600'000'000)->count(), 0);   // clock set back
}

TEST(FiledClock, AMarkIsReadOnceAndLostToAnIdThatTakesItsSlot)
{
    chatwoot::store::FiledClock clock;
    clock.mark(7, 1000);
    clock.mark(8, 2000);
    EXPECT_EQ(clock.take(7), 1000);
    EXPECT_FALSE(clock.take(7));
    clock.mark(8 + chatwoot::store::FiledClock::kSlots, 3000);
    EXPECT_FALSE(clock.take(8));
    EXPECT_EQ(clock.take(8 + chatwoot::store::FiledClock::kSlots), 3000);
    EXPECT_FALSE(clock.take(0));
    EXPECT_FALSE(clock.take(-1));
}

}  // namespace
