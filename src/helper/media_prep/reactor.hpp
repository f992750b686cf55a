// What a child process needs from an event loop: to hear when a file
// descriptor becomes readable (a pipe's data or end, a pidfd's exit) and
// to be called back after a delay.  In the helper this is nginx's own loop
// (nginx_reactor.hpp); the unit tests drive the same code with a small
// poll() loop of their own, since the fake nginx has no file descriptors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include <unistd.h>

namespace chatwoot::helper::media_prep {

// An owned file descriptor: closed once, by whoever holds it last.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept
    {
        if (this != &o) {
            reset(std::exchange(o.fd_, -1));
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept
    {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

class Reactor {
public:
    // A registration: destroying it stops the callbacks (and, for a watch,
    // closes the descriptor, after taking it out of the loop).
    class Handle {
    public:
        virtual ~Handle() = default;
    };

    // A watched descriptor, owned by the watch from now on.
    class Watch : public Handle {
    public:
        virtual int fd() const noexcept = 0;
    };

    virtual ~Reactor() = default;

    // Calls `ready` from the loop, level-triggered, while `fd` is readable
    // or at its end (EOF, hang-up, a pidfd's exit), until the watch is
    // destroyed.  `ready` must not destroy its own watch; it reads until
    // EAGAIN or EOF.  Returns null (and closes fd) if the loop refuses it.
    virtual std::unique_ptr<Watch> watch_readable(Fd fd, std::function<void()> ready) = 0;

    // Calls `due` once, from the loop, after `msec` (0: on the loop's next
    // turn, never from inside this call).  The callback is moved out of the
    // handle before it runs, so `due` may destroy the handle (and whatever
    // owns it): that is how a finished job tears itself down.
    virtual std::unique_ptr<Handle> after(uint64_t msec, std::function<void()> due) = 0;
};

}  // namespace chatwoot::helper::media_prep
