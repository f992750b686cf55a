#include "pg_loop_nginx.hpp"

#include "../log.hpp"
#include "../ngx.hpp"
#include "../no_destructor.hpp"

#include <exception>

#include <fcntl.h>
#include <unistd.h>

namespace chatwoot::helper::pg {

namespace {

// Every callback from nginx ends here: nothing may be thrown into C frames.
void run_guarded(const std::function<void()>& f) noexcept
{
    try {
        f();
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: PostgreSQL import: %s", e.what());
    } catch (...) {
        log(LogLevel::error, "chatwoot helper: PostgreSQL import: unknown exception");
    }
}

class NginxWatch final : public PgLoop::Watch {
public:
    NginxWatch(ngx_connection_t* c, std::function<void()> ready) : c_(c), ready_(std::move(ready))
    {
        c_->data = this;
        c_->log = ngx_cycle->log;
        c_->read->log = ngx_cycle->log;
        c_->write->log = ngx_cycle->log;
        c_->read->handler = &NginxWatch::on_event;
        c_->write->handler = &NginxWatch::on_event;
    }
    // Our duplicate: out of epoll, closed, and the connection freed (its
    // instance bit makes nginx drop an event already returned for it).
    ~NginxWatch() override { ngx_close_connection(c_); }

    bool start() { return ngx_add_event(c_->read, NGX_READ_EVENT, 0) == NGX_OK; }

    bool want_write(bool on) override
    {
        if (on && !c_->write->active) {
            return ngx_add_event(c_->write, NGX_WRITE_EVENT, 0) == NGX_OK;
        }
        if (!on && c_->write->active) {
            return ngx_del_event(c_->write, NGX_WRITE_EVENT, 0) == NGX_OK;
        }
        return true;
    }

private:
    static void on_event(ngx_event_t* ev) noexcept
    {
        auto* c = static_cast<ngx_connection_t*>(ev->data);
        auto* w = static_cast<NginxWatch*>(c->data);
        // Level-triggered: libpq reads and writes what it can, and epoll
        // reports the socket again if anything is left.
        ev->ready = 0;
        run_guarded(w->ready_);
    }

    ngx_connection_t* c_;
    std::function<void()> ready_;
};

class NginxTimer final : public PgLoop::Handle {
public:
    NginxTimer(uint64_t msec, std::function<void()> due) : due_(std::move(due))
    {
        ev_.handler = &NginxTimer::on_due;
        ev_.data = this;
        ev_.log = ngx_cycle->log;
        // An import waiting on PostgreSQL must not hold up a graceful
        // shutdown: the chat's transaction rolls back and is retried.
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
        std::function<void()> f = std::move(t->due_);
        t->due_ = nullptr;
        if (f) {
            run_guarded(f);
        }
    }

    ngx_event_t ev_{};
    std::function<void()> due_;
};

class NginxPgLoop final : public PgLoop {
public:
    std::unique_ptr<Watch> watch(int fd, std::function<void()> ready) override
    {
        const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (copy == -1) {
            return nullptr;
        }
        ngx_connection_t* c = ngx_get_connection(copy, ngx_cycle->log);
        if (c == nullptr) {
            ::close(copy);
            return nullptr;
        }
        auto w = std::make_unique<NginxWatch>(c, std::move(ready));
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

PgLoop& nginx_pg_loop()
{
    static NoDestructor<NginxPgLoop> loop;
    return *loop;
}

}  // namespace chatwoot::helper::pg
