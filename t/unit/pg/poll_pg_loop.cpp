#include "poll_pg_loop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <vector>

namespace chatwoot::test {

class PollPgWatch final : public helper::pg::PgLoop::Watch {
public:
    PollPgWatch(PollPgLoop& l, int fd, std::function<void()> ready)
        : l_(l), fd_(fd), ready_(std::move(ready)), id_(l.next_id_++)
    {
        l_.watches_[id_] = {fd_, false, &ready_};
    }
    ~PollPgWatch() override
    {
        l_.watches_.erase(id_);
        ::close(fd_);
    }
    bool want_write(bool on) override
    {
        l_.watches_[id_].write = on;
        return true;
    }

private:
    PollPgLoop& l_;
    int fd_;
    std::function<void()> ready_;
    uint64_t id_;
};

class PollPgTimer final : public helper::pg::PgLoop::Handle {
public:
    PollPgTimer(PollPgLoop& l, uint64_t msec, std::function<void()> due)
        : l_(l), due_(std::move(due)), id_(l.next_id_++)
    {
        l_.timers_[id_] = {std::chrono::steady_clock::now() + std::chrono::milliseconds(msec), id_,
                           &due_};
    }
    ~PollPgTimer() override { l_.timers_.erase(id_); }

private:
    PollPgLoop& l_;
    std::function<void()> due_;
    uint64_t id_;
};

std::unique_ptr<helper::pg::PgLoop::Watch> PollPgLoop::watch(int fd, std::function<void()> ready)
{
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy == -1) {
        return nullptr;
    }
    return std::make_unique<PollPgWatch>(*this, copy, std::move(ready));
}

std::unique_ptr<helper::pg::PgLoop::Handle> PollPgLoop::after(uint64_t msec,
                                                              std::function<void()> due)
{
    return std::make_unique<PollPgTimer>(*this, msec, std::move(due));
}

bool PollPgLoop::run_until(const std::function<bool()>& until, std::chrono::milliseconds limit)
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
            fds.push_back({w.fd, static_cast<short>(POLLIN | (w.write ? POLLOUT : 0)), 0});
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
        // Due timers in the order they were set (a callback may add or
        // remove others).
        for (;;) {
            auto due = timers_.end();
            const auto t_now = clock::now();
            for (auto it = timers_.begin(); it != timers_.end(); ++it) {
                if (it->second.due <= t_now
                    && (due == timers_.end() || it->second.due < due->second.due)) {
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
