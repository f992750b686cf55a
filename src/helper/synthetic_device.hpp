// A WhatsApp device made of files, for tests and demos: every *.json file
// in its directory is one incoming message (bridge/wa_message_json.hpp),
// taken in name order.  Each file is committed to the store before it is
// removed, so a crash in between only makes the store see it twice, which
// it ignores (one row per WhatsApp id).  The real multi-device session will
// hand its messages over the same way, into the same table.
#pragma once

#include "../bridge/intake_filter.hpp"
#include "../store/sqlite_handle.hpp"
#include "../store/wa_inbound_repository.hpp"

#include <cstdint>
#include <string>

namespace chatwoot::helper {

class SyntheticDevice {
public:
    SyntheticDevice(std::string inbox, std::string dir, store::Database& db,
                    store::WaInboundRepository& inbound, bridge::IntakeFilter filter)
        : inbox_(std::move(inbox)),
          dir_(std::move(dir)),
          db_(db),
          inbound_(inbound),
          filter_(std::move(filter))
    {
    }

    // Takes what is there now; returns how many messages were new.
    size_t poll(int64_t now);

    const std::string& inbox() const { return inbox_; }

private:
    std::string inbox_;
    std::string dir_;
    store::Database& db_;
    store::WaInboundRepository& inbound_;
    bridge::IntakeFilter filter_;
};

}  // namespace chatwoot::helper
