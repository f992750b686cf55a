// The helper's crash-loop backoff, as a sequence of helpers would live it.
#include "helper/crash_backoff.hpp"

#include <gtest/gtest.h>

#include <vector>

using chatwoot::helper::BackoffDecision;
using chatwoot::helper::decide_backoff;
using chatwoot::helper::PreviousHelper;

namespace {

// Plays helpers that each die `lifetime` ms after their wait ends, the next
// one starting right away (as nginx's master respawns), and returns the
// waits they chose.
std::vector<uint64_t> crash_loop(int helpers, uint64_t lifetime)
{
    std::vector<uint64_t> waits;
    PreviousHelper prev;
    uint64_t now = 1000000;
    for (int i = 0; i < helpers; i++) {
        BackoffDecision d = decide_backoff(prev, now);
        waits.push_back(d.delay_msec);
        prev = PreviousHelper{uint64_t(100 + i), d.started_at_msec,
                              d.fast_crashes, false, false};
        now = d.started_at_msec + lifetime;
    }
    return waits;
}

}  // namespace

TEST(CrashBackoff, FirstHelperStartsAtOnce)
{
    BackoffDecision d = decide_backoff(PreviousHelper{}, 5000);
    EXPECT_EQ(d.delay_msec, 0u);
    EXPECT_EQ(d.fast_crashes, 0u);
    EXPECT_EQ(d.started_at_msec, 5000u);
}

TEST(CrashBackoff, InstantCrashesDoubleUpToTheCapAndStayThere)
{
    EXPECT_EQ(crash_loop(13, 0),
              (std::vector<uint64_t>{0, 100, 200, 400, 800, 1600, 3200, 6400,
                                     12800, 25600, 30000, 30000, 30000}));
}

TEST(CrashBackoff, YoungIsMeasuredFromTheEndOfTheWait)
{
    // After a 12.8 s wait, a crash 1 s later is still young.
    PreviousHelper prev{7, 50000, 8, false, false};
    BackoffDecision d = decide_backoff(prev, 51000);
    EXPECT_EQ(d.fast_crashes, 9u);
    EXPECT_EQ(d.delay_msec, 25600u);
}

TEST(CrashBackoff, KilledWhileWaitingCountsAsYoung)
{
    // The previous helper's wait would have ended in the future.
    PreviousHelper prev{7, 90000, 3, false, false};
    BackoffDecision d = decide_backoff(prev, 80000);
    EXPECT_EQ(d.fast_crashes, 4u);
    EXPECT_EQ(d.delay_msec, 800u);
}

TEST(CrashBackoff, ALongLifeResetsTheCount)
{
    EXPECT_EQ(crash_loop(4, 10000), (std::vector<uint64_t>{0, 0, 0, 0}));
    PreviousHelper prev{7, 1000, 6, false, false};
    EXPECT_EQ(decide_backoff(prev, 1000 + 10000).delay_msec, 0u);
    EXPECT_EQ(decide_backoff(prev, 1000 + 9999).delay_msec, 6400u);
}

TEST(CrashBackoff, ReloadsAndCleanExitsAreNoCrashes)
{
    PreviousHelper alive{7, 1000, 5, false, true};
    EXPECT_EQ(decide_backoff(alive, 1001).delay_msec, 0u);
    EXPECT_EQ(decide_backoff(alive, 1001).fast_crashes, 0u);
    PreviousHelper clean{7, 1000, 5, true, false};
    EXPECT_EQ(decide_backoff(clean, 1001).delay_msec, 0u);
}
