#include "wa/session/reconnect_policy.hpp"

#include <algorithm>
#include <limits>

namespace chatwoot::wa::session {

Millis reconnect_delay(const BackoffPolicy& policy, std::uint32_t attempt, std::uint32_t random32)
{
    const Millis cap = std::max<Millis>(policy.max, 1);
    Millis step = std::clamp<Millis>(policy.initial, 1, cap);
    // Doubling stops at the cap, so no shift can overflow.
    for (std::uint32_t i = 0; i < attempt && step < cap; ++i) {
        step = std::min(cap, step * 2);
    }
    const Millis half = step / 2;
    const Millis spread = step - half;  // the random part, [0, spread]
    const auto r = static_cast<long double>(random32) /
                   static_cast<long double>(std::numeric_limits<std::uint32_t>::max());
    return half + static_cast<Millis>(r * static_cast<long double>(spread));
}

std::uint32_t next_attempt(const BackoffPolicy& policy, std::uint32_t attempt,
                           std::optional<Millis> connected_for)
{
    if (connected_for && *connected_for >= policy.stable_after) {
        return 0;
    }
    return attempt == std::numeric_limits<std::uint32_t>::max() ? attempt : attempt + 1;
}

std::optional<Millis> reconnect_after(const BackoffPolicy& policy, const StreamEnd& end,
                                      std::uint32_t attempt, std::uint32_t random32)
{
    if (!end.reconnect()) {
        return std::nullopt;
    }
    if (end.kind == EndKind::restart_required) {
        return 0;
    }
    return reconnect_delay(policy, attempt, random32);
}

}  // namespace chatwoot::wa::session
