// PgLoop on a small poll() loop, for the PostgreSQL tests and the
// benchmark: the connection code runs here behind the same interface it has
// in the helper (pg_loop_nginx.cpp).
#pragma once

#include "helper/import/pg_loop.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>

namespace chatwoot::test {

class PollPgLoop final : public helper::pg::PgLoop {
public:
    std::unique_ptr<Watch> watch(int fd, std::function<void()> ready) override;
    std::unique_ptr<Handle> after(uint64_t msec, std::function<void()> due) override;

    // Runs the loop until `until()` is true.  False if it was not true
    // within `limit` (a safety net so that a broken test fails instead of
    // hanging; tests wait for events, not for time).
    bool run_until(const std::function<bool()>& until,
                   std::chrono::milliseconds limit = std::chrono::seconds(60));

    size_t watches() const { return watches_.size(); }

private:
    friend class PollPgWatch;
    friend class PollPgTimer;
    struct WatchEntry {
        int fd;
        bool write;
        std::function<void()>* ready;
    };
    struct TimerEntry {
        std::chrono::steady_clock::time_point due;
        uint64_t order;
        std::function<void()>* callback;
    };
    uint64_t next_id_ = 1;
    std::map<uint64_t, WatchEntry> watches_;
    std::map<uint64_t, TimerEntry> timers_;
};

}  // namespace chatwoot::test
