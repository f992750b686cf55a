// When this process filed a message, to the microsecond, for the latency
// histograms of the metrics location: a WhatsApp message's row (from the
// device's commit to Chatwoot's answer) and an agent's message (from its
// webhook's arrival at nginx, which the queued record carries, to
// WhatsApp's ack).  The store keeps
// times in whole seconds, too coarse for buckets of 5 ms; these marks live
// in memory only, so a row an earlier helper filed has none (the caller
// then uses the row's own seconds, or leaves it out).
//
// A fixed table indexed by row id (no allocation, nothing to destroy at
// exit): an id whose slot an id 16384 further took has lost its mark.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace chatwoot::store {

class FiledClock {
public:
    static constexpr size_t kSlots = 16384;

    void mark(int64_t id, int64_t unix_usec) noexcept;
    // The mark of id, forgotten as it is read; nullopt when none.
    std::optional<int64_t> take(int64_t id) noexcept;

private:
    struct Entry {
        int64_t row_id;
        int64_t unix_usec;
    };
    std::array<Entry, kSlots> entries_{};
};

// Now, in unix microseconds.
int64_t unix_usec_now() noexcept;

// The marks of wa_inbound rows (by id) and of agents' messages to send (by
// their Chatwoot message id, which their outbox entries keep).
FiledClock& wa_inbound_filed() noexcept;
FiledClock& agent_message_filed() noexcept;

}  // namespace chatwoot::store
