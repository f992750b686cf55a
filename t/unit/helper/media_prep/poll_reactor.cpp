#include "poll_reactor.hpp"

#include <poll.h>
#include <vector>

namespace chatwoot::test {

using helper::media_prep::Fd;

class PollWatch final : public helper::media_prep::Reactor::Watch {
public:
    PollWatch(PollReactor& r, Fd fd, std::function<void()> ready)
        : r_(r), fd_(std::move(fd)), ready_(std::move(ready)), id_(r.next_id_++)
    {
        r_.watches_[id_] = {fd_.get(), &ready_};
    }
    ~PollWatch() override { r_.watches_.erase(id_); }
    int fd() const noexcept override { return fd_.get(); }

private:
    PollReactor& r_;
    Fd fd_;
    std::function<void()> ready_;
    uint64_t id_;
};

class PollTimer final : public helper::media_prep::Reactor::Handle {
public:
    PollTimer(PollReactor& r, uint64_t msec, std::function<void()> due)
        : r_(r), due_(std::move(due)), id_(r.next_id_++)
    {
        r_.timers_[id_] = {std::chrono::steady_clock::now() + std::chrono::milliseconds(msec),
                           &due_};
    }
    ~PollTimer() override { r_.timers_.erase(id_); }

private:
    PollReactor& r_;
    std::function<void()> due_;
    uint64_t id_;
};

std::unique_ptr<helper::media_prep::Reactor::Watch> PollReactor::watch_readable(
    Fd fd, std::function<void()> ready)
{
    return std::make_unique<PollWatch>(*this, std::move(fd), std::move(ready));
}

std::unique_ptr<helper::media_prep::Reactor::Handle> PollReactor::after(
    uint64_t msec, std::function<void()> due)
{
    return std::make_unique<PollTimer>(*this, msec, std::move(due));
}

bool PollReactor::run_until(const std::function<bool()>& until, std::chrono::milliseconds limit)
{
    using clock = std::chrono::steady_clock;
    const auto give_up = clock::now() + limit;
    while (!until()) {
        const auto now = clock::now();
        if (now >= give_up) {
            return false;
        }
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - now);
        for (const auto& [id, t] : timers_) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t.due - now);
            wait = std::min(wait, std::max(left, std::chrono::milliseconds(0)));
        }
        std::vector<pollfd> fds;
        std::vector<uint64_t> ids;
        for (const auto& [id, w] : watches_) {
            fds.push_back({w.fd, POLLIN, 0});
            ids.push_back(id);
        }
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
        if (n > 0) {
            for (size_t i = 0; i < fds.size(); i++) {
                // A callback may have removed a later watch: look it up again.
                auto it = watches_.find(ids[i]);
                if (fds[i].revents != 0 && it != watches_.end()) {
                    (*it->second.ready)();
                }
            }
        }
        // Due timers, one at a time (a callback may add or remove others).
        for (;;) {
            auto due = timers_.end();
            for (auto it = timers_.begin(); it != timers_.end(); ++it) {
                if (it->second.due <= clock::now() &&
                    (due == timers_.end() || it->second.due < due->second.due)) {
                    due = it;
                }
            }
            if (due == timers_.end()) {
                break;
            }
            // One-shot: out of the table and moved out of its handle, so
            // that the callback may destroy the handle.
            std::function<void()> f = std::move(*due->second.callback);
            timers_.erase(due);
            if (f) {
                f();
            }
        }
    }
    return true;
}

}  // namespace chatwoot::test
