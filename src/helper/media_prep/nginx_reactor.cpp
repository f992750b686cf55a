#include "nginx_reactor.hpp"

#include "../log.hpp"
#include "../ngx.hpp"
#include "../no_destructor.hpp"

#include <exception>

namespace chatwoot::helper::media_prep {

namespace {

// Every callback from nginx ends here: nothing may be thrown into C frames.
void run_guarded(const std::function<void()>& f) noexcept
{
    try {
        f();
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: media preparation: %s", e.what());
    } catch (...) {
        log(LogLevel::error, "chatwoot helper: media preparation: unknown exception");
    }
}

class NginxWatch final : public Reactor::Watch {
public:
    NginxWatch(ngx_connection_t* c, std::function<void()> ready) : c_(c), ready_(std::move(ready))
    {
        c_->data = this;
        c_->log = ngx_cycle->log;
        c_->read->log = ngx_cycle->log;
        c_->write->log = ngx_cycle->log;
        c_->read->handler = &NginxWatch::on_read;
    }
    // Takes the descriptor out of epoll, closes it and frees the
    // connection; the connection's instance bit makes nginx drop an event
    // already returned for it in this turn.
    ~NginxWatch() override { ngx_close_connection(c_); }

    bool start() { return ngx_add_event(c_->read, NGX_READ_EVENT, 0) == NGX_OK; }
    int fd() const noexcept override { return c_->fd; }

private:
    static void on_read(ngx_event_t* ev) noexcept
    {
        auto* c = static_cast<ngx_connection_t*>(ev->data);
        auto* w = static_cast<NginxWatch*>(c->data);
        // Level-triggered: the callback reads until EAGAIN or EOF, and epoll
        // reports the descriptor again if anything is left.
        ev->ready = 0;
        run_guarded(w->ready_);
    }

    ngx_connection_t* c_;
    std::function<void()> ready_;
};

class NginxTimer final : public Reactor::Handle {
public:
    NginxTimer(uint64_t msec, std::function<void()> due) : due_(std::move(due))
    {
        ev_.handler = &NginxTimer::on_due;
        ev_.data = this;
        ev_.log = ngx_cycle->log;
        // A pending preparation must not hold up a graceful shutdown.
        ev_.cancelable = 1;
        ngx_add_timer(&ev_, static_cast<ngx_msec_t>(msec));
    }
    ~NginxTimer() override
    {
        if (ev_.timer_set) {
            ngx_del_timer(&ev_);
        }
        if (ev_.posted) {
            ngx_delete_posted_event(&ev_);
        }
    }

private:
    static void on_due(ngx_event_t* ev) noexcept
    {
        auto* t = static_cast<NginxTimer*>(ev->data);
        // Moved out first: the callback may destroy this handle.
        std::function<void()> due = std::move(t->due_);
        run_guarded(due);
    }

    ngx_event_t ev_{};
    std::function<void()> due_;
};

class NginxReactor final : public Reactor {
public:
    std::unique_ptr<Watch> watch_readable(Fd fd, std::function<void()> ready) override
    {
        ngx_connection_t* c = ngx_get_connection(fd.get(), ngx_cycle->log);
        if (c == nullptr) {
            return nullptr;  // fd closes here
        }
        fd.release();  // the connection has it now
        std::unique_ptr<NginxWatch> w;
        try {
            w = std::make_unique<NginxWatch>(c, std::move(ready));
        } catch (...) {
            ngx_close_connection(c);
            throw;
        }
        if (!w->start()) {
            return nullptr;
        }
        return w;
    }

    std::unique_ptr<Handle> after(uint64_t msec, std::function<void()> due) override
    {
        return std::make_unique<NginxTimer>(msec, std::move(due));
    }
};

}  // namespace

Reactor& nginx_reactor() noexcept
{
    // No destructor runs at exit (the helper keeps no heavy globals).
    static NoDestructor<NginxReactor> reactor;
    return *reactor;
}

}  // namespace chatwoot::helper::media_prep
