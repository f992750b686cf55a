// When to try again after a connection ends: exponential backoff with
// jitter, reset once a connection has stayed up long enough to count as
// stable.  Pure functions: the attempt count and the random draw are
// arguments, so the helper keeps the state and tests pin every number.
//
// The jitter is "equal jitter": half the step is fixed, half is random.
// A fleet of devices that lost the same server at the same moment then
// spreads out instead of coming back in lock-step, and no delay is ever
// near zero (a flapping server is not hammered).
#pragma once

#include <cstdint>
#include <optional>

#include "wa/session/clock.hpp"
#include "wa/session/stream_end.hpp"

namespace chatwoot::wa::session {

struct BackoffPolicy {
    Millis initial = seconds(1);   // the step before the first retry
    Millis max = seconds(120);     // no step grows past this
    Millis stable_after = seconds(60);  // a connection this long resets the count
};

// The delay before retry number `attempt` (0 for the first retry after a
// loss): step = min(max, initial * 2^attempt), then step/2 + random part
// of step/2 chosen by `random32` (any 32-bit value, uniform).
Millis reconnect_delay(const BackoffPolicy& policy, std::uint32_t attempt, std::uint32_t random32);

// The attempt count for the next retry, given the count used to make the
// connection that just ended and how long it was up (nullopt: it never got
// to logged in).  A stable connection starts the count again at 0.
std::uint32_t next_attempt(const BackoffPolicy& policy, std::uint32_t attempt,
                           std::optional<Millis> connected_for);

// The whole decision after a connection ended: nullopt when the helper must
// not reconnect by itself (logged out, replaced, outdated, banned, refused,
// closed by us); 0 for a restart the server asked for (515: the pairing
// just finished, and the phone waits for us); else reconnect_delay().
// `attempt` is the count from next_attempt().
std::optional<Millis> reconnect_after(const BackoffPolicy& policy, const StreamEnd& end,
                                      std::uint32_t attempt, std::uint32_t random32);

}  // namespace chatwoot::wa::session
