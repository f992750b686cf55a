// The Reactor on a small poll() loop, for unit tests: the fake nginx has
// no file descriptors, so the media preparation code runs here behind the
// same interface it has in the helper (nginx_reactor.cpp).
#pragma once

#include "helper/media_prep/reactor.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>

namespace chatwoot::test {

class PollReactor final : public helper::media_prep::Reactor {
public:
    std::unique_ptr<Watch> watch_readable(helper::media_prep::Fd fd,
                                          std::function<void()> ready) override;
    std::unique_ptr<Handle> after(uint64_t msec, std::function<void()> due) override;

    // Runs the loop until `until()` is true.  False if it was not true
    // within `limit` (a safety net so that a broken test fails instead of
    // hanging; tests wait for events, not for time).
    bool run_until(const std::function<bool()>& until,
                   std::chrono::milliseconds limit = std::chrono::seconds(60));

    size_t watches() const { return watches_.size(); }
    size_t timers() const { return timers_.size(); }

private:
    friend class PollWatch;
    friend class PollTimer;
    struct WatchEntry {
        int fd;
        std::function<void()>* ready;
    };
    struct TimerEntry {
        std::chrono::steady_clock::time_point due;
        std::function<void()>* callback;
    };
    uint64_t next_id_ = 1;
    std::map<uint64_t, WatchEntry> watches_;
    std::map<uint64_t, TimerEntry> timers_;
};

}  // namespace chatwoot::test
