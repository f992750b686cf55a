// The snapshot the helper publishes for the workers
// (include/chatwoot_snapshot.h), made from what the runtimes and the
// command desk know.  Pure: the shell publishes it on a timer and after
// each command, so a poll sees an outcome without waiting for the helper.
#pragma once

#include "chatwoot_snapshot.h"
#include "command_desk.hpp"
#include "device.hpp"

#include "../store/import_job_repository.hpp"

#include <cstdint>
#include <deque>
#include <span>
#include <string>

namespace chatwoot::helper {

struct DeviceView {
    std::string name;          // the device (named like its inbox block)
    std::string inbox;
    DeviceStatus status;
    int64_t state_since = 0;   // unix seconds
    uint64_t qr_serial = 0;    // counts the QR texts shown: a page reloads its image on a change
};

struct SnapshotFacts {
    std::span<const DeviceView> devices;
    const std::deque<CommandOutcome>* commands = nullptr;
    std::span<const store::ImportJobRow> imports;   // active first, then newest
    cw_snapshot_counters_t counters{};
    int64_t now = 0;
    uint64_t pid = 0;
};

// Fills `out` (zeroed first); what does not fit its arrays is left out.
void build_snapshot(const SnapshotFacts& facts, cw_snapshot_t& out) noexcept;

}  // namespace chatwoot::helper
