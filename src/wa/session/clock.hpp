// Time as the session layer sees it: milliseconds on the caller's
// monotonic clock, passed into every call that needs "now".  The layer
// never reads a clock itself, so a test moves time by passing a bigger
// number, and a timer is a deadline the driver arms and reports back.
#pragma once

#include <cstdint>

namespace chatwoot::wa::session {

using Millis = std::int64_t;

inline constexpr Millis seconds(std::int64_t s)
{
    return s * 1000;
}

}  // namespace chatwoot::wa::session
