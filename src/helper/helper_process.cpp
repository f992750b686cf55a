// The chatwoot helper process: what the cache-manager process nginx spawns
// for our state path becomes on its first manager() call.
//
// Life of a helper:
//   start -> (backoff, if the previous helper crashed young) -> wait for the
//   state lock -> open the store -> running: drain the queue on every
//   eventfd wake-up and on a slow poll timer, probe Chatwoot now and then.
// nginx ends it with exit(0) on reload/stop (no exit_process hook), so a
// last drain runs from atexit; a kill -9 loses nothing either, because no
// record leaves shared memory before it is committed.

#include "chatwoot_helper.h"

#include "crash_backoff.hpp"
#include "chat_forwarder.hpp"
#include "inbox_resolver.hpp"
#include "outbox_reconciler.hpp"
#include "media_store.hpp"
#include "chatwoot_check.hpp"
#include "chatwoot_client.hpp"
#include "curl_multi_driver.hpp"
#include "outbox_expiry.hpp"
#include "outbox_sender.hpp"
#include "synthetic_device.hpp"
#include "ngx.hpp"
#include "no_destructor.hpp"
#include "queue_drain.hpp"
#include "state_lock.hpp"
#include "zone_lock.hpp"

#include "../store/inbound_event_repository.hpp"
#include "../store/outbox_repository.hpp"
#include "../store/wa_inbound_repository.hpp"
#include "../store/schema.hpp"
#include "../store/sqlite_handle.hpp"

#include <cerrno>
#include <malloc.h>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <optional>
#include <string>
#include <unistd.h>

namespace chatwoot::helper {

namespace {

constexpr ngx_msec_t kLockRetryMsec = 250;
constexpr ngx_msec_t kStoreRetryMsec = 5000;
constexpr ngx_msec_t kPollMsec = 1000;       // safety net for lost wake-ups
constexpr ngx_msec_t kCoalesceMsec = 2;      // wake-up to drain
constexpr ngx_msec_t kExpiryMsec = 1000;     // outbox deadlines checked
constexpr ngx_msec_t kForwardMsec = 200;     // devices polled, chats kicked
constexpr ngx_msec_t kProbeTimeoutMsec = 10000;
constexpr int kBatchesPerTurn = 16;          // then let other events run
constexpr uint64_t kManagerRecallMsec = 60 * 60 * 1000;

uint64_t monotonic_msec()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool process_alive(pid_t pid)
{
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

class Helper {
public:
    explicit Helper(const cw_helper_conf_t& conf)
        : shared_(conf.shared),
          shpool_(static_cast<ngx_slab_pool_t*>(conf.shpool)),
          wake_fd_(conf.wake_fd),
          state_path_(conf.state_path),
          chatwoot_url_(conf.chatwoot_url ? conf.chatwoot_url : ""),
          probe_interval_(conf.probe_interval_msec),
          lock_(state_path_ + "/helper.lock"),
          inbox_confs_(conf.inboxes, conf.inboxes + conf.inboxes_n)
    {
        init_timer(expiry_timer_, &Helper::on_expiry_timer);
        init_timer(forward_timer_, &Helper::on_forward_timer);
        init_timer(lock_timer_, &Helper::on_lock_timer);
        init_timer(poll_timer_, &Helper::on_poll_timer);
        init_timer(drain_timer_, &Helper::on_drain_timer);
        init_timer(probe_timer_, &Helper::on_probe_timer);
        init_timer(wakeup_timer_, &Helper::on_wakeup_timer);
    }

    void start();
    void final_drain() noexcept;

private:
    void init_timer(ngx_event_t& ev, ngx_event_handler_pt handler)
    {
        ev.handler = handler;
        ev.data = this;
        ev.log = ngx_cycle->log;
        ev.cancelable = 1;
    }
    static Helper& of(ngx_event_t* ev) { return *static_cast<Helper*>(ev->data); }

    uint64_t crash_backoff();
    void try_lock();
    void open_store();
    void listen_for_wakeups();
    void drain();
    void probe_chatwoot();
    void set_state(cw_helper_state_t s);
    void claim_queue();
    void release_queue();

    static void on_lock_timer(ngx_event_t* ev) noexcept;
    static void on_poll_timer(ngx_event_t* ev) noexcept;
    static void on_drain_timer(ngx_event_t* ev) noexcept;
    static void on_probe_timer(ngx_event_t* ev) noexcept;
    static void on_wakeup(ngx_event_t* ev) noexcept;
    static void on_expiry_timer(ngx_event_t* ev) noexcept;
    static void on_forward_timer(ngx_event_t* ev) noexcept;
    void forward();
    void start_chatwoot();
    static void on_wakeup_timer(ngx_event_t* ev) noexcept;

    template <typename F>
    static void guarded(const char* what, F&& f) noexcept;

    cw_shared_t* shared_;
    ngx_slab_pool_t* shpool_;
    int wake_fd_;
    std::string state_path_;
    std::string chatwoot_url_;
    uint64_t probe_interval_;
    StateLock lock_;
    uint64_t started_at_ = 0;
    bool told_waiting_ = false;
    bool told_lock_error_ = false;

    std::optional<store::Database> db_;
    std::optional<MediaStore> media_;
    std::optional<store::InboundEventRepository> inbound_;
    std::optional<store::OutboxRepository> outbox_;
    std::optional<QueueDrain> queue_;
    std::optional<CurlMultiDriver> curl_;
    std::optional<ChatwootCheck> check_;
    std::vector<cw_inbox_conf_t> inbox_confs_;
    std::vector<std::unique_ptr<ChatwootClient>> clients_;
    std::optional<OutboxExpiry> expiry_;
    ngx_event_t expiry_timer_{};
    std::optional<store::WaInboundRepository> wa_inbound_;
    std::vector<std::unique_ptr<ChatForwarder>> forwarders_;
    std::vector<std::unique_ptr<InboxResolver>> resolvers_;
    std::vector<std::unique_ptr<OutboxReconciler>> reconcilers_;
    std::vector<std::unique_ptr<SyntheticDevice>> devices_;
    std::vector<std::unique_ptr<OutboxSender>> senders_;
    ngx_event_t forward_timer_{};

    ngx_event_t lock_timer_{};
    ngx_event_t poll_timer_{};
    ngx_event_t drain_timer_{};
    ngx_event_t probe_timer_{};
    ngx_event_t wakeup_timer_{};
};

template <typename F>
void Helper::guarded(const char* what, F&& f) noexcept
{
    try {
        f();
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: %s failed: %s", what, e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: %s failed", what);
    }
}

uint64_t Helper::crash_backoff()
{
    cw_helper_stats_t& h = shared_->helper;
    PreviousHelper prev;
    prev.pid = cw_load(&h.spawned_pid);
    prev.started_at_msec = cw_load(&h.spawned_at_msec);
    prev.fast_crashes = cw_load(&h.fast_crashes);
    prev.exited_cleanly = prev.pid != 0 && cw_load(&h.clean_exit) == prev.pid;
    prev.alive = prev.pid != 0 && process_alive(static_cast<pid_t>(prev.pid));

    const BackoffDecision d = decide_backoff(prev, monotonic_msec());
    cw_store(&h.fast_crashes, d.fast_crashes);
    cw_store(&h.spawned_at_msec, d.started_at_msec);
    cw_add(&h.starts, 1);
    return d.delay_msec;
}

// Status shows the helper that matters: a waiting newcomer (during a reload)
// does not hide the active helper that is still draining.
void Helper::set_state(cw_helper_state_t s)
{
    cw_helper_stats_t& h = shared_->helper;
    const auto shown = static_cast<pid_t>(cw_load(&h.pid));
    if (s != CW_HELPER_RUNNING && shown != ngx_pid
        && cw_load(&h.state) == CW_HELPER_RUNNING && process_alive(shown))
    {
        return;
    }
    cw_store(&h.pid, static_cast<uint64_t>(ngx_pid));
    cw_store(&h.started_at, started_at_);
    cw_store(&h.state, s);
}

// The newest helper owns the queue: it reopens a ring an earlier helper
// closed on its way out.  Both steps run under the zone lock, so an old
// helper leaving and a new one arriving cannot interleave.
void Helper::claim_queue()
{
    ZoneLock lock(shpool_);
    cw_store(&shared_->helper.spawned_pid, static_cast<uint64_t>(ngx_pid));
    cw_ring_set_closed(&shared_->ring, 0);
}

// A helper leaving with no newer one to take over closes the ring: from
// then on workers answer 503 instead of a 202 that nobody would drain (nginx
// is stopping, or this is the old master of a binary upgrade).
void Helper::release_queue()
{
    ZoneLock lock(shpool_);
    if (cw_load(&shared_->helper.spawned_pid) == static_cast<uint64_t>(ngx_pid)) {
        cw_ring_set_closed(&shared_->ring, 1);
    }
}

void Helper::start()
{
    ngx_setproctitle(const_cast<char*>("chatwoot helper process"));
    // Batches allocate and free the same large buffers over and over; keep
    // them instead of handing pages back to the kernel each time (page
    // faults and TLB flushes were most of the helper's CPU).
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
    started_at_ = static_cast<uint64_t>(ngx_time());

    uint64_t delay = crash_backoff();
    claim_queue();
    // A helper killed between reading the eventfd and clearing the flag
    // left it set: workers would never write the eventfd again.
    cw_store(&shared_->queue.wake_pending, 0);

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "chatwoot helper process started, state path \"%s\"",
                  state_path_.c_str());
    if (delay > 0) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chatwoot helper: previous helper crashed young, "
                      "waiting %uL ms before starting", delay);
        set_state(CW_HELPER_BACKOFF);
        ngx_add_timer(&lock_timer_, delay);
        return;
    }
    try_lock();
}

void Helper::try_lock()
{
    switch (lock_.try_acquire()) {
    case StateLock::Result::acquired:
        cw_store(&shared_->helper.lock_acquired_at,
                 static_cast<uint64_t>(ngx_time()));
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "chatwoot helper holds \"%s\"", lock_.path().c_str());
        open_store();
        return;
    case StateLock::Result::busy:
        if (!told_waiting_) {
            told_waiting_ = true;
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "chatwoot helper: another helper holds \"%s\", "
                          "waiting for it", lock_.path().c_str());
        }
        set_state(CW_HELPER_WAITING_LOCK);
        break;
    case StateLock::Result::error:
        if (!told_lock_error_) {
            told_lock_error_ = true;
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, ngx_errno,
                          "chatwoot helper: cannot lock \"%s\", retrying",
                          lock_.path().c_str());
        }
        set_state(CW_HELPER_FAILED);
        break;
    }
    ngx_add_timer(&lock_timer_, kLockRetryMsec);
}

void Helper::open_store()
{
    try {
        db_.emplace(store::Database::open(state_path_ + "/chatwoot.db"));
        media_.emplace(state_path_ + "/media");
        store::migrate(*db_);
        inbound_.emplace(*db_);
        outbox_.emplace(*db_);
        queue_.emplace(shared_, shpool_, *inbound_, *outbox_);
        cw_store(&shared_->store.persisted, inbound_->count());
    } catch (const std::exception& e) {
        queue_.reset();
        outbox_.reset();
        inbound_.reset();
        db_.reset();
        set_state(CW_HELPER_FAILED);
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: cannot open the store in \"%s\": %s; "
                      "retrying in %M ms",
                      state_path_.c_str(), e.what(), kStoreRetryMsec);
        ngx_add_timer(&lock_timer_, kStoreRetryMsec);
        return;
    }

    listen_for_wakeups();
    set_state(CW_HELPER_RUNNING);
    ngx_add_timer(&poll_timer_, kPollMsec);
    drain();

    if (!inbox_confs_.empty()) {
        guarded("starting the Chatwoot client", [&] { start_chatwoot(); });
    }
}

// One REST client per inbox (each has its own token and limits), and the
// outbox's deadline keeper.
void Helper::start_chatwoot()
{
    // Every inbox may have its concurrency in flight at once, plus the
    // probe; curl's own cap would otherwise queue requests in silence.
    long connections = 16;
    for (const auto& ic : inbox_confs_) {
        connections += static_cast<long>(ic.concurrency);
    }
    curl_.emplace(std::max(64L, connections));
    wa_inbound_.emplace(*db_);
    const int64_t inherited = wa_inbound_->last_id();
    std::vector<InboxBinding> bindings;
    for (const auto& ic : inbox_confs_) {
        rest::BackoffPolicy backoff;
        if (ic.throttle_base_msec > 0) {
            // Chatwoot's throttles are per minute by default; an installation
            // with other limits can say how long to hold back.
            const rest::Millis base(ic.throttle_base_msec), cap(ic.throttle_cap_msec);
            backoff.throttled = rest::Schedule{base, cap, std::min(base, backoff.throttled.floor)};
            backoff.flood_guard = backoff.throttled;
        }
        clients_.push_back(std::make_unique<ChatwootClient>(
            *curl_, ic.url, ic.api_token, ic.concurrency, ic.rate, backoff));
        clients_.back()->count_into(&shared_->bridge);
        forwarders_.push_back(std::make_unique<ChatForwarder>(
            ic.name, *wa_inbound_, *clients_.back(), rest::Api(ic.account_id),
            bridge::InboxOptions{ic.inbox_id, ic.reopen_resolved != 0,
                                 ic.open_as_pending != 0},
            static_cast<size_t>(ic.concurrency) * 2, inherited, *media_));
        forwarders_.back()->count_into(&shared_->bridge);
        if (ic.synthetic_device != nullptr) {
            bridge::IntakeFilter filter;
            filter.ignore_groups = ic.ignore_groups != 0;
            for (size_t j = 0; j < ic.ignore_jids_n; j++) {
                auto jid = bridge::Jid::parse(ic.ignore_jids[j]);
                filter.ignored_chats.insert(jid ? jid->without_device().to_string()
                                                : std::string(ic.ignore_jids[j]));
            }
            devices_.push_back(std::make_unique<SyntheticDevice>(
                ic.name, ic.synthetic_device, *db_, *wa_inbound_, *outbox_,
                std::move(filter), *media_));
            senders_.push_back(std::make_unique<OutboxSender>(
                ic.name, *outbox_, *devices_.back(), *clients_.back(),
                rest::Api(ic.account_id),
                bridge::SignatureOptions{ic.agent_signature != 0,
                                         ic.signature_delimiter ? ic.signature_delimiter
                                                                : "\n\n"},
                static_cast<int64_t>(ic.device_timeout_sec)));
            senders_.back()->count_into(&shared_->bridge);
        }
        // Agent replies whose webhooks never came are looked for once the
        // inbox id is known; its sender waits for that first look.
        OutboxSender* sender = ic.synthetic_device != nullptr ? senders_.back().get() : nullptr;
        if (sender != nullptr) {
            sender->hold(true);
        }
        reconcilers_.push_back(std::make_unique<OutboxReconciler>(
            ic.name, ic.account_id, *clients_.back(), rest::Api(ic.account_id), *db_,
            *inbound_, *outbox_, [sender] {
                if (sender != nullptr) {
                    sender->hold(false);
                }
            }));
        OutboxReconciler* reconciler = reconcilers_.back().get();
        if (ic.inbox_id == 0) {
            ChatForwarder* forwarder = forwarders_.back().get();
            resolvers_.push_back(std::make_unique<InboxResolver>(
                ic.name, ic.inbox_name,
                ic.inbox_create_webhook ? std::optional<std::string>(ic.inbox_create_webhook)
                                        : std::nullopt,
                *clients_.back(), rest::Api(ic.account_id),
                [this, forwarder, reconciler](int64_t id) {
                    forwarder->set_inbox_id(id);
                    reconciler->start(id);
                    forward();
                }));
            resolvers_.back()->start();
        } else {
            reconciler->start(ic.inbox_id);
        }
        InboxBinding b;
        b.name = ic.name;
        b.timeout_seconds = static_cast<int64_t>(ic.device_timeout_sec);
        b.api = rest::Api(ic.account_id);
        b.client = clients_.back().get();
        b.has_device = ic.synthetic_device != nullptr;
        bindings.push_back(std::move(b));
    }
    expiry_.emplace(*outbox_, std::move(bindings));
    expiry_->count_into(&shared_->bridge);
    ngx_add_timer(&expiry_timer_, kExpiryMsec);
    forward();
    ngx_add_timer(&forward_timer_, kForwardMsec);
    check_.emplace(*curl_, inbox_confs_, probe_interval_, &shared_->chatwoot);
    check_->start();
}

// Takes what the devices have and keeps every chat with pending messages
// moving (a restart finds them in the store and goes on).
void Helper::forward()
{
    for (auto& d : devices_) {
        d->poll(ngx_time());
    }
    for (auto& f : forwarders_) {
        f->kick();
    }
    for (auto& s : senders_) {
        s->tick(ngx_time());
    }
}

void Helper::on_forward_timer(ngx_event_t* ev) noexcept
{
    Helper& h = of(ev);
    guarded("forwarding WhatsApp messages", [&] { h.forward(); });
    ngx_add_timer(&h.forward_timer_, kForwardMsec);
}

void Helper::on_expiry_timer(ngx_event_t* ev) noexcept
{
    Helper& h = of(ev);
    guarded("expiring the outbox", [&] { h.expiry_->tick(ngx_time()); });
    ngx_add_timer(&h.expiry_timer_, kExpiryMsec);
}

void Helper::listen_for_wakeups()
{
    ngx_connection_t* c = ngx_get_connection(wake_fd_, ngx_cycle->log);
    if (c == nullptr) {
        // The poll timer still drains the queue, only more slowly.
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: no connection for the wake-up fd");
        return;
    }
    c->data = this;
    c->read->handler = &Helper::on_wakeup;
    c->read->log = ngx_cycle->log;
    c->log = ngx_cycle->log;
    if (ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_free_connection(c);
    }
}

void Helper::drain()
{
    if (!queue_) {
        return;
    }
    // Clear before reading the ring: a producer that publishes after this
    // line sees 0 and wakes us again; one that saw 1 published before it,
    // so the drain below finds its record.
    cw_store(&shared_->queue.wake_pending, 0);
    for (int i = 0; i < kBatchesPerTurn; i++) {
        switch (queue_->drain_batch()) {
        case QueueDrain::Outcome::empty:
            return;
        case QueueDrain::Outcome::failed:
            return;  // the poll timer retries
        case QueueDrain::Outcome::more:
            break;
        }
    }
    if (!drain_timer_.timer_set) {
        ngx_add_timer(&drain_timer_, 1);
    }
}

void Helper::probe_chatwoot()
{
    curl_->get(chatwoot_url_, kProbeTimeoutMsec,
               [this](const TransferResult& r) {
                   cw_upstream_stats_t& s = shared_->chatwoot;
                   cw_add(&s.checks, 1);
                   cw_store(&s.last_checked_at,
                            static_cast<uint64_t>(ngx_time()));
                   cw_store(&s.last_http_status,
                            static_cast<uint64_t>(r.http_status));
                   if (r.code != CURLE_OK) {
                       cw_add(&s.failures, 1);
                       ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                                     "chatwoot helper: Chatwoot is not "
                                     "reachable: %s", r.error.c_str());
                   }
                   ngx_add_timer(&probe_timer_, probe_interval_);
               });
}

void Helper::final_drain() noexcept
{
    cw_store(&shared_->helper.clean_exit, static_cast<uint64_t>(ngx_pid));
    guarded("closing the queue", [&] { release_queue(); });
    if (!queue_) {
        return;
    }
    const uint64_t before = cw_load(&shared_->store.persisted);
    guarded("the last drain", [&] {
        for (int i = 0; i < 1000; i++) {
            if (queue_->drain_batch() != QueueDrain::Outcome::more) {
                break;
            }
        }
    });
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "chatwoot helper exiting, %uL queued records committed "
                  "on the way out",
                  cw_load(&shared_->store.persisted) - before);
}

void Helper::on_lock_timer(ngx_event_t* ev) noexcept
{
    guarded("taking the state lock", [&] { of(ev).try_lock(); });
}

void Helper::on_poll_timer(ngx_event_t* ev) noexcept
{
    Helper& h = of(ev);
    guarded("draining the queue", [&] { h.drain(); });
    ngx_add_timer(&h.poll_timer_, kPollMsec);
}

void Helper::on_drain_timer(ngx_event_t* ev) noexcept
{
    guarded("draining the queue", [&] { of(ev).drain(); });
}

void Helper::on_probe_timer(ngx_event_t* ev) noexcept
{
    guarded("probing Chatwoot", [&] { of(ev).probe_chatwoot(); });
}

void Helper::on_wakeup(ngx_event_t* ev) noexcept
{
    auto* c = static_cast<ngx_connection_t*>(ev->data);
    Helper& h = *static_cast<Helper*>(c->data);
    uint64_t n;
    while (::read(c->fd, &n, sizeof n) == sizeof n) {
        // Many wake-ups fold into one; the ring says how much there is.
    }
    ev->ready = 0;
    // Under load, waiting a moment lets one commit (one fsync) take what
    // many requests queued; wake_pending stays set meanwhile, so workers
    // skip the eventfd write too.  Callers got their answer already.
    if (!h.wakeup_timer_.timer_set) {
        ngx_add_timer(&h.wakeup_timer_, kCoalesceMsec);
    }
}

void Helper::on_wakeup_timer(ngx_event_t* ev) noexcept
{
    guarded("draining the queue", [&] { of(ev).drain(); });
}

Helper* the_helper = nullptr;

void at_exit() noexcept
{
    if (the_helper != nullptr) {
        the_helper->final_drain();
    }
}

}  // namespace

}  // namespace chatwoot::helper

extern "C" uint64_t cw_helper_manager(const cw_helper_conf_t* conf) noexcept
{
    using namespace chatwoot::helper;
    try {
        if (the_helper == nullptr) {
            static NoDestructor<Helper> helper(*conf);
            the_helper = &*helper;
            std::atexit(at_exit);
            the_helper->start();
        }
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "chatwoot helper: start failed: %s", e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "chatwoot helper: start failed");
    }
    return kManagerRecallMsec;
}
