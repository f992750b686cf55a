// Per-inbox counters in the zone: see inbox_stats.hpp.

#include "inbox_stats.hpp"

#include "snapshot.hpp"

#include <array>
#include <cstring>

namespace chatwoot::ipc {

namespace {

constexpr std::array<uint64_t, CW_LATENCY_BUCKETS - 1> kBoundsMs{CW_LATENCY_BOUNDS_MS};

static_assert(sizeof(cw_inbox_stats_t) % sizeof(uint64_t) == 0);
static_assert(sizeof(cw_bridge_stats_t) % sizeof(uint64_t) == 0,
              "the status location sums the slots word by word");

}  // namespace

cw_inbox_stats_t* claim_inbox_slot(cw_inbox_stats_area_t& area, std::string_view name) noexcept
{
    uint64_t used = __atomic_load_n(&area.used, __ATOMIC_ACQUIRE);
    if (used > CW_INBOX_SLOTS) {
        used = CW_INBOX_SLOTS;   // scribbled over: what is there stays readable
    }
    for (uint64_t i = 0; i < used; i++) {
        cw_inbox_stats_t& s = area.slot[i];
        if (std::string_view(s.name, strnlen(s.name, sizeof s.name)) == name) {
            return &s;
        }
    }
    if (used == CW_INBOX_SLOTS || name.size() >= sizeof area.slot[0].name) {
        return nullptr;
    }
    // The name first, the count after (release): a reader that sees the
    // slot counted sees its name whole.
    cw_inbox_stats_t& s = area.slot[used];
    std::memset(&s, 0, sizeof s);
    copy_text(s.name, name);
    __atomic_store_n(&area.used, used + 1, __ATOMIC_RELEASE);
    return &s;
}

cw_api_class_t api_class(long http_status) noexcept
{
    switch (http_status / 100) {
    case 1:
        return CW_API_1XX;
    case 2:
        return CW_API_2XX;
    case 3:
        return CW_API_3XX;
    case 4:
        return CW_API_4XX;
    case 5:
        return CW_API_5XX;
    default:
        return CW_API_NONE;
    }
}

std::optional<std::chrono::microseconds> elapsed_since(std::optional<int64_t> unix_usec) noexcept
{
    if (!unix_usec) {
        return std::nullopt;
    }
    const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    // A clock set back meanwhile counts as no time, not as a huge one.
    return std::chrono::microseconds(now > *unix_usec ? now - *unix_usec : 0);
}

void observe_latency(cw_latency_t* h, std::optional<std::chrono::microseconds> elapsed) noexcept
{
    if (h == nullptr || !elapsed) {
        return;
    }
    const uint64_t usec = elapsed->count() > 0 ? static_cast<uint64_t>(elapsed->count()) : 0;
    size_t b = 0;
    while (b < kBoundsMs.size() && usec > kBoundsMs[b] * 1000) {
        b++;
    }
    cw_add(&h->bucket[b], 1);
    cw_add(&h->sum_usec, usec);
}

}  // namespace chatwoot::ipc
