// The chatwoot helper process: what the cache-manager process nginx spawns
// for our state path becomes on its first manager() call.
//
// Life of a helper:
//   start -> (backoff, if the previous helper crashed young) -> wait for the
//   state lock -> open the store -> running: drain the queue on every
//   eventfd wake-up and on a slow poll timer, check Chatwoot now and then.
// nginx ends it with exit(0) on reload/stop (no exit_process hook), so a
// last drain runs from atexit; a kill -9 loses nothing either, because no
// record leaves shared memory before it is committed.

#include "chatwoot_helper.h"

#include "command_desk.hpp"
#include "crash_backoff.hpp"
#include "chatwoot_check.hpp"
#include "curl_multi_driver.hpp"
#include "inbox_runtime.hpp"
#include "log.hpp"
#include "media_prep/child_process.hpp"
#include "media_prep/media_preparer.hpp"
#include "media_store.hpp"
#include "ngx.hpp"
#include "no_destructor.hpp"
#include "queue_drain.hpp"
#include "send_api/send_desk.hpp"
#include "state_lock.hpp"
#include "zone_lock.hpp"

#include "../ipc/inbox_stats.hpp"
#include "../store/command_repository.hpp"
#include "../store/import_job_repository.hpp"
#include "../store/inbound_event_repository.hpp"
#include "../store/outbox_part_repository.hpp"
#include "../store/outbox_repository.hpp"
#include "../store/retention.hpp"
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
#include <vector>
#include <unistd.h>

namespace chatwoot::helper {

namespace {

constexpr ngx_msec_t kLockRetryMsec = 250;
constexpr ngx_msec_t kStoreRetryMsec = 5000;
constexpr ngx_msec_t kPollMsec = 1000;       // safety net for lost wake-ups
constexpr ngx_msec_t kCoalesceMsec = 2;      // wake-up to drain
constexpr ngx_msec_t kSnapshotMsec = 1000;   // devices' state republished
constexpr ngx_msec_t kPruneBusyMsec = 1000;  // retention: more to do
constexpr ngx_msec_t kPruneIdleMsec = 60 * 60 * 1000;
constexpr size_t kPruneRows = 500;           // per table and step: short write locks
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

// An inbox runtime as the send API's desk sees it.
class RuntimeSendInbox final : public SendInbox {
public:
    explicit RuntimeSendInbox(InboxRuntime& rt) : rt_(rt) {}
    bool ready() override { return rt_.running() && rt_.device() != nullptr; }
    bool has_device() override
    {
        return dynamic_cast<const AbsentDevice*>(rt_.device()) == nullptr;
    }
    std::string new_message_id() override
    {
        return rt_.device() != nullptr ? rt_.device()->new_message_id() : std::string();
    }
    int64_t account_id() const override { return rt_.conf().account_id; }
    int64_t inbox_id() const override { return rt_.conf().inbox_id; }
    void check_number(const std::string& pn_jid, Device::NumberDone done) override
    {
        if (rt_.device() == nullptr) {
            done(NumberCheck::unknown);
            return;
        }
        rt_.device()->check_number(pn_jid, std::move(done));
    }
    void forward(const std::string& chat) override { rt_.forward(chat); }
    void wake_outbox() override { rt_.wake(); }

private:
    InboxRuntime& rt_;
};

class Helper {
public:
    explicit Helper(const cw_helper_conf_t& conf)
        : shared_(conf.shared),
          shpool_(static_cast<ngx_slab_pool_t*>(conf.shpool)),
          wake_fd_(conf.wake_fd),
          state_path_(conf.state_path),
          probe_interval_(conf.probe_interval_msec),
          lock_(state_path_ + "/helper.lock"),
          inbox_confs_(conf.inboxes, conf.inboxes + conf.inboxes_n)
    {
        init_timer(lock_timer_, &Helper::on_lock_timer);
        init_timer(poll_timer_, &Helper::on_poll_timer);
        init_timer(drain_timer_, &Helper::on_drain_timer);
        init_timer(wakeup_timer_, &Helper::on_wakeup_timer);
        init_timer(snapshot_timer_, &Helper::on_snapshot_timer);
        init_timer(prune_timer_, &Helper::on_prune_timer);
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
    void set_state(cw_helper_state_t s);
    void claim_queue();
    void release_queue();

    static void on_lock_timer(ngx_event_t* ev) noexcept;
    static void on_poll_timer(ngx_event_t* ev) noexcept;
    static void on_drain_timer(ngx_event_t* ev) noexcept;
    static void on_wakeup(ngx_event_t* ev) noexcept;
    void start_inboxes();
    void publish_snapshot();
    void start_send_desk();
    void publish_sends() noexcept;
    // Each inbox's outbox pending and in flight, into its metrics slot;
    // after the snapshot, which a failure here never holds back.
    void publish_outbox_gauges() noexcept;
    static void on_snapshot_timer(ngx_event_t* ev) noexcept;
    static void on_prune_timer(ngx_event_t* ev) noexcept;
    static void on_wakeup_timer(ngx_event_t* ev) noexcept;

    template <typename F>
    static void guarded(const char* what, F&& f) noexcept;

    cw_shared_t* shared_;
    ngx_slab_pool_t* shpool_;
    int wake_fd_;
    std::string state_path_;
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
    std::optional<store::WaInboundRepository> wa_inbound_;
    std::vector<std::unique_ptr<InboxRuntime>> runtimes_;
    std::optional<store::CommandRepository> commands_;
    std::optional<CommandDesk> desk_;
    std::vector<std::unique_ptr<RuntimeSendInbox>> send_inboxes_;
    std::optional<SendDesk> send_desk_;
    std::optional<store::ImportJobRepository> import_jobs_;
    ngx_event_t snapshot_timer_{};
    std::optional<store::Retention> retention_;
    ngx_event_t prune_timer_{};

    ngx_event_t lock_timer_{};
    ngx_event_t poll_timer_{};
    ngx_event_t drain_timer_{};
    ngx_event_t wakeup_timer_{};
    ngx_msec_t last_drain_msec_ = 0;   // when drain() last began
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
        // ffmpeg's scratch directories and the outputs no part recorded
        // that a killed helper left behind.
        media_prep::MediaPreparer::remove_leftovers(
            media_->dir(), store::OutboxPartRepository(*db_).files_in_use());
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

    guarded("taking up commands", [&] {
        commands_.emplace(*db_);
        desk_.emplace(
            *commands_,
            [this](std::string_view name) -> Device* {
                for (auto& rt : runtimes_) {
                    if (rt->name() == name) {
                        return rt->device();
                    }
                }
                return nullptr;
            },
            [] { return static_cast<int64_t>(ngx_time()); });
        // Import commands become job rows; the inbox's runtime runs them.
        import_jobs_.emplace(*db_);
        desk_->file_imports_into(
            &*import_jobs_,
            [this](std::string_view inbox) {
                for (const auto& ic : inbox_confs_) {
                    if (ic.name != nullptr && inbox == ic.name) {
                        return true;
                    }
                }
                return false;
            },
            [this](const std::string& inbox) {
                for (auto& rt : runtimes_) {
                    if (rt->name() == inbox) {
                        rt->import_filed();
                    }
                }
            });
    });
    if (!inbox_confs_.empty()) {
        guarded("starting the inboxes", [&] { start_inboxes(); });
        // Each inbox's url, token and account are checked now and every
        // check= interval: a wrong one shows in status and the log at once.
        if (curl_) {
            guarded("checking Chatwoot", [&] {
                check_.emplace(*curl_, inbox_confs_, probe_interval_, &shared_->chatwoot);
                check_->start();
            });
        }
    }
    // The send API's sends go through the inboxes' runtimes.
    if (desk_ && wa_inbound_) {
        guarded("setting up the send API", [&] { start_send_desk(); });
    }
    // Commands reach the devices from now on; those committed before (by
    // the drain above, or by a helper killed before it handed them over)
    // are taken up first.
    if (desk_) {
        queue_->set_command_handler([this](const std::string& id, const ipc::Command& c) {
            desk_->take(id, c);
            publish_snapshot();
        });
        guarded("taking up pending commands", [&] { desk_->take_pending(); });
    }
    // An agent typing goes to its inbox's device at once, or nowhere.
    queue_->set_typing_handler([this](const std::string& inbox, int64_t conversation, bool on) {
        for (auto& rt : runtimes_) {
            if (rt->name() == inbox) {
                rt->typing(conversation, on);
            }
        }
    });
    // Commands agents typed in an inbox's control conversation.
    queue_->set_control_handler([this](const std::string& inbox) {
        for (auto& rt : runtimes_) {
            if (rt->name() == inbox) {
                rt->control_commands();
            }
        }
    });
    guarded("publishing the snapshot", [&] { publish_snapshot(); });
    ngx_add_timer(&snapshot_timer_, kSnapshotMsec);
    guarded("setting up retention", [&] { retention_.emplace(*db_); });
    ngx_add_timer(&prune_timer_, kPruneBusyMsec);
}

// One runtime per inbox: each has its own REST client (token, limits),
// device and timers, and fails alone.
void Helper::start_inboxes()
{
    // Every inbox may have its concurrency in flight at once, plus the
    // probe; curl's own cap would otherwise queue requests in silence.
    long connections = 16;
    for (const auto& ic : inbox_confs_) {
        connections += static_cast<long>(ic.concurrency);
    }
    curl_.emplace(std::max(64L, connections));
    wa_inbound_.emplace(*db_);
    HelperShared shared{*db_, *inbound_, *outbox_, *wa_inbound_, *media_, *curl_,
                        &shared_->bridge, wa_inbound_->last_id(), &shared_->inboxes};
    for (const auto& ic : inbox_confs_) {
        runtimes_.push_back(std::make_unique<InboxRuntime>(ic, shared));
        runtimes_.back()->start();
    }
}

void Helper::start_send_desk()
{
    for (auto& rt : runtimes_) {
        send_inboxes_.push_back(std::make_unique<RuntimeSendInbox>(*rt));
    }
    send_desk_.emplace(
        *db_, *inbound_, *outbox_, *wa_inbound_,
        [this](std::string_view name) -> SendInbox* {
            for (size_t i = 0; i < runtimes_.size(); i++) {
                if (runtimes_[i]->name() == name) {
                    return send_inboxes_[i].get();
                }
            }
            return nullptr;
        },
        [] { return static_cast<int64_t>(ngx_time()); });
    desk_->handle_sends_with(
        [this](const std::string& id, const ipc::Command& c) -> std::optional<std::string> {
            return send_desk_->take(id, std::get<ipc::SendCommand>(c.body), c.created_at);
        });
}

// The send API's sends moved on where they can, and what the newest became
// published for GET <location>/<id>.  A failure here never holds the
// snapshot back.
void Helper::publish_sends() noexcept
{
    if (!send_desk_) {
        return;
    }
    guarded("moving the API's sends on", [&] { send_desk_->advance(); });
    guarded("publishing the API's sends", [&] { send_desk_->publish(&shared_->send.table); });
}

// What workers show of the helper: devices, command outcomes, counters.
void Helper::publish_snapshot()
{
    publish_sends();
    std::vector<DeviceView> devices;
    devices.reserve(runtimes_.size());
    for (auto& rt : runtimes_) {
        devices.push_back(rt->view());
    }
    SnapshotFacts facts;
    facts.devices = devices;
    facts.now = static_cast<int64_t>(ngx_time());
    facts.pid = static_cast<uint64_t>(ngx_pid);
    if (desk_) {
        facts.commands = &desk_->recent();
        facts.counters.commands_done = desk_->done();
        facts.counters.commands_failed = desk_->failed();
    }
    if (commands_) {
        facts.counters.commands_received = commands_->count(store::CommandState::pending)
                                           + commands_->count(store::CommandState::done)
                                           + commands_->count(store::CommandState::failed);
    }
    facts.counters.outbox_pending = outbox_->count_pending();
    if (wa_inbound_) {
        facts.counters.inbound_pending = wa_inbound_->count("pending");
    }
    facts.counters.wa_received = 0;
    std::vector<store::ImportJobRow> imports;
    if (import_jobs_) {
        imports = import_jobs_->recent(CW_SNAPSHOT_IMPORTS);
        facts.imports = imports;
    }
    // Some 45 KiB: built where it stays, not on the stack.
    static NoDestructor<cw_snapshot_t> snap;
    build_snapshot(facts, *snap);
    cw_snapshot_publish(&shared_->snapshot, &*snap);
    publish_outbox_gauges();
}

void Helper::publish_outbox_gauges() noexcept
{
    std::vector<store::OutboxRepository::InboxCounts> counts;
    try {
        counts = outbox_->count_unsettled_by_inbox();
    } catch (const std::exception& e) {
        // The gauges keep their last values; a store failing shows in the
        // snapshot's own query and the drain's log lines.
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "chatwoot helper: counting the outbox failed: %s", e.what());
        return;
    } catch (...) {
        return;
    }
    for (auto& rt : runtimes_) {
        cw_inbox_stats_t* slot = ipc::claim_inbox_slot(shared_->inboxes, rt->name());
        if (slot == nullptr) {
            continue;
        }
        const store::OutboxRepository::InboxCounts* c = nullptr;
        for (const auto& n : counts) {
            if (n.inbox == rt->name()) {
                c = &n;
            }
        }
        cw_store(&slot->outbox_pending, c ? c->pending : 0);
        cw_store(&slot->outbox_in_flight, c ? c->in_flight : 0);
    }
}

void Helper::on_snapshot_timer(ngx_event_t* ev) noexcept
{
    Helper& h = of(ev);
    guarded("publishing the snapshot", [&] { h.publish_snapshot(); });
    ngx_add_timer(&h.snapshot_timer_, kSnapshotMsec);
}

// Done rows go after the horizons of store/retention.hpp, a bounded step
// at a time so the drain never waits long for the write lock.
void Helper::on_prune_timer(ngx_event_t* ev) noexcept
{
    Helper& h = of(ev);
    ngx_msec_t next = kPruneIdleMsec;
    guarded("pruning the store", [&] {
        if (!h.retention_) {
            return;
        }
        const auto r = h.retention_->prune(static_cast<int64_t>(ngx_time()), kPruneRows);
        if (r.compacted + r.deleted > 0) {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "chatwoot helper: retention emptied %uz bodies and deleted "
                          "%uz rows", r.compacted, r.deleted);
        }
        if (r.more) {
            next = kPruneBusyMsec;
        }
    });
    ngx_add_timer(&h.prune_timer_, next);
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
    last_drain_msec_ = ngx_current_msec;
    bool filed = false;
    bool more = true;
    for (int i = 0; i < kBatchesPerTurn && more; i++) {
        const QueueDrain::Outcome outcome = queue_->drain_batch();
        filed = filed || queue_->last_batch_records() > 0;
        // failed: the poll timer retries
        more = outcome == QueueDrain::Outcome::more;
    }
    if (filed) {
        // Agent replies may be among them: idle senders look now.
        for (auto& rt : runtimes_) {
            rt->wake();
        }
    }
    if (more && !drain_timer_.timer_set) {
        ngx_add_timer(&drain_timer_, 1);
    }
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

void Helper::on_wakeup(ngx_event_t* ev) noexcept
{
    auto* c = static_cast<ngx_connection_t*>(ev->data);
    Helper& h = *static_cast<Helper*>(c->data);
    uint64_t n;
    while (::read(c->fd, &n, sizeof n) == sizeof n) {
        // Many wake-ups fold into one; the ring says how much there is.
    }
    ev->ready = 0;
    if (h.wakeup_timer_.timer_set || h.wakeup_timer_.posted) {
        return;   // a drain is due: it takes this record too
    }
    // Under load, waiting a moment lets one commit (one fsync) take what
    // many requests queued; wake_pending stays set meanwhile, so workers
    // skip the eventfd write too.  Callers got their answer already.  A
    // record after a quiet spell is drained at the end of this turn of the
    // event loop: a wait would only add to the agent reply's latency (p99
    // at 100 msg/s, t/bench/messages.pl).  Posted, not drained here: the
    // master's QUIT may be among this turn's events, and then the last
    // drain on the way out takes the records (t/restart.t).
    if (ngx_current_msec - h.last_drain_msec_ >= kCoalesceMsec) {
        ngx_post_event(&h.wakeup_timer_, &ngx_posted_events);
        return;
    }
    ngx_add_timer(&h.wakeup_timer_, kCoalesceMsec);
}

void Helper::on_wakeup_timer(ngx_event_t* ev) noexcept
{
    if (ngx_quit || ngx_terminate) {
        return;   // final_drain() takes what is queued
    }
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
            set_log_sink(&log_to_nginx);
            // Our children's exit statuses are ours: nginx's SIGCHLD
            // handler would reap them (media_prep/child_process.hpp).
            media_prep::own_child_processes();
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
