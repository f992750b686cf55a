// How long a new helper waits before it starts, from what the previous one
// left in shared memory.  Pure arithmetic, so it is unit-tested without
// nginx: nginx's master respawns a dead helper at once and forever, and only
// this keeps a crash loop from hammering Chatwoot or WhatsApp.
#pragma once

#include <algorithm>
#include <cstdint>

namespace chatwoot::helper {

struct CrashBackoffPolicy {
    uint64_t young_msec = 10000;   // dying sooner than this after starting
    uint64_t first_msec = 100;     // the first wait, doubled per crash
    uint64_t max_msec = 30000;
};

// What the previous helper left behind.
struct PreviousHelper {
    uint64_t pid = 0;             // 0: there was none
    uint64_t started_at_msec = 0; // monotonic, when its own wait ended
    uint64_t fast_crashes = 0;    // young crashes in a row before it
    bool exited_cleanly = false;  // it left through exit() (reload, stop)
    bool alive = false;           // still running (a reload's old helper)
};

struct BackoffDecision {
    uint64_t fast_crashes;       // to store for the next helper
    uint64_t delay_msec;         // wait this long before starting
    uint64_t started_at_msec;    // to store: when the wait ends
};

constexpr BackoffDecision decide_backoff(const PreviousHelper& prev,
                                         uint64_t now_msec,
                                         const CrashBackoffPolicy& policy = {})
{
    // Measured from the end of the previous helper's own wait, which may
    // still lie ahead of `now` when it was killed while waiting.
    const bool crashed_young = prev.pid != 0 && !prev.exited_cleanly
                               && !prev.alive
                               && now_msec < prev.started_at_msec
                                                 + policy.young_msec;
    const uint64_t crashes = crashed_young ? prev.fast_crashes + 1 : 0;
    uint64_t delay = 0;
    if (crashes > 0) {
        const uint64_t shift = std::min<uint64_t>(crashes - 1, 20);
        delay = std::min(policy.first_msec << shift, policy.max_msec);
    }
    return BackoffDecision{crashes, delay, now_msec + delay};
}

}  // namespace chatwoot::helper
