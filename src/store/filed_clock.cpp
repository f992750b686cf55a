// In-memory filing times for the latency histograms: see filed_clock.hpp.

#include "filed_clock.hpp"

#include <chrono>
#include <type_traits>

namespace chatwoot::store {

namespace {

// Plain words: the two tables are statics with nothing to run at exit.
static_assert(std::is_trivially_destructible_v<FiledClock>);

FiledClock wa_inbound_clock;
FiledClock agent_message_clock;

}  // namespace

void FiledClock::mark(int64_t row_id, int64_t unix_usec) noexcept
{
    if (row_id <= 0) {
        return;
    }
    entries_[static_cast<uint64_t>(row_id) % kSlots] = {row_id, unix_usec};
}

std::optional<int64_t> FiledClock::take(int64_t row_id) noexcept
{
    if (row_id <= 0) {
        return std::nullopt;
    }
    Entry& e = entries_[static_cast<uint64_t>(row_id) % kSlots];
    if (e.row_id != row_id) {
        return std::nullopt;
    }
    e.row_id = 0;
    return e.unix_usec;
}

int64_t unix_usec_now() noexcept
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

FiledClock& wa_inbound_filed() noexcept
{
    return wa_inbound_clock;
}

FiledClock& agent_message_filed() noexcept
{
    return agent_message_clock;
}

}  // namespace chatwoot::store
