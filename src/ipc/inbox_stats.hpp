// The helper's side of the per-inbox counters (cw_inbox_stats_area_t in
// include/chatwoot_shared.h): claiming an inbox's slot, counting answers by
// status class, observing how long a message took.  Atomic adds only: the
// workers read the same words at any time.
#pragma once

#include "chatwoot_shared.h"

#include <chrono>
#include <optional>
#include <string_view>

namespace chatwoot::ipc {

// The slot named `name`: the one an earlier helper of this zone claimed
// (counters carry on across helper restarts and reloads), else a new one.
// nullptr when every slot is taken (the zone's totals still count).  The
// lock-holding helper is the only writer of names.
cw_inbox_stats_t* claim_inbox_slot(cw_inbox_stats_area_t& area, std::string_view name) noexcept;

// The class of an HTTP status (0: no answer).
cw_api_class_t api_class(long http_status) noexcept;

// From unix_usec (a filing time) to now; nullopt when not known.
std::optional<std::chrono::microseconds> elapsed_since(std::optional<int64_t> unix_usec) noexcept;

// One message's time into its histogram; nothing for an unknown time (a
// message an earlier helper took in) or a null histogram.
void observe_latency(cw_latency_t* histogram,
                     std::optional<std::chrono::microseconds> elapsed) noexcept;

}  // namespace chatwoot::ipc
