#include "inbox_runtime.hpp"

#include "import/pg_loop_nginx.hpp"

#include <openssl/rand.h>

#include "import/pg_loop_nginx.hpp"
#include "live_device.hpp"
#include "log.hpp"
#include "synthetic_device.hpp"

#include "../bridge/intake_filter.hpp"
#include "../bridge/jid.hpp"
#include "../ipc/inbox_stats.hpp"

#include <algorithm>
#include <functional>
#include <exception>
#include <optional>

namespace chatwoot::helper {

namespace {

constexpr ngx_msec_t kTickMsec = 200;            // device housekeeping, chats kicked
constexpr ngx_msec_t kIdleTickMsec = 1000;       // nothing to do and nothing ticking
constexpr ngx_msec_t kWakeMsec = 1;              // records came: tick after this drain
constexpr ngx_msec_t kSweepMsec = 30000;         // even idle parts look this often
constexpr ngx_msec_t kStartRetryFirstMsec = 1000;
constexpr ngx_msec_t kStartRetryCapMsec = 60000;

// Agent replies that cannot go are marked failed in Chatwoot through the
// inbox's REST client.
class ChatwootFailureReporter final : public FailureReporter {
public:
    ChatwootFailureReporter(std::string inbox, ChatwootClient& client, rest::Api api)
        : inbox_(std::move(inbox)), client_(client), api_(api)
    {
    }

    void report(int64_t conversation_id, int64_t message_id, const std::string& reason,
                Done done) override
    {
        if (refused_ && reason == kFirstMessageRefused) {
            refused_(conversation_id);   // the control conversation says so
        }
        client_.submit(inbox_ + "/" + std::to_string(conversation_id),
                       api_.update_message_status(conversation_id, message_id, "failed",
                                                  reason),
                       [done = std::move(done)](const ChatwootClient::Reply& reply) {
                           switch (reply.classification.outcome) {
                           case rest::Outcome::success:
                               done(Outcome::reported, {});
                               return;
                           case rest::Outcome::retry:
                               done(Outcome::retry, reply.classification.reason);
                               return;
                           default:
                               done(Outcome::refused, reply.classification.reason);
                               return;
                           }
                       });
    }

    // Told of each reply WhatsApp refused with 463 (reach-out restriction).
    void on_refused(std::function<void(int64_t conversation_id)> f) { refused_ = std::move(f); }

private:
    std::string inbox_;
    ChatwootClient& client_;
    rest::Api api_;
    std::function<void(int64_t)> refused_;
};

}  // namespace

InboxRuntime::InboxRuntime(const cw_inbox_conf_t& conf, HelperShared shared,
                           DeviceFactory make_device)
    : conf_(conf), shared_(shared), make_device_(std::move(make_device)), name_(conf.name)
{
    for (ngx_event_t* ev : {&tick_timer_, &start_timer_}) {
        ev->data = this;
        ev->log = ngx_cycle->log;
        ev->cancelable = 1;
    }
    tick_timer_.handler = &InboxRuntime::on_tick_timer;
    start_timer_.handler = &InboxRuntime::on_start_timer;
    // The inbox's own counters when it has a slot; the zone's totals else.
    if (shared_.inboxes != nullptr) {
        slot_ = ipc::claim_inbox_slot(*shared_.inboxes, name_);
        if (slot_ != nullptr) {
            shared_.stats = &slot_->bridge;
        }
    }
}

InboxRuntime::~InboxRuntime()
{
    teardown();
}

template <typename F>
void InboxRuntime::guarded(const char* what, F&& f) noexcept
{
    try {
        f();
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": %s failed: %s", name_.c_str(), what,
                      e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": %s failed", name_.c_str(), what);
    }
}

void InboxRuntime::start() noexcept
{
    try {
        build();
        last_error_.clear();
        start_backoff_ = 0;
    } catch (const std::exception& e) {
        last_error_ = e.what();
    } catch (...) {
        last_error_ = "unknown error";
    }
    if (!last_error_.empty()) {
        teardown();
        start_backoff_ = start_backoff_ == 0
                             ? kStartRetryFirstMsec
                             : std::min(start_backoff_ * 2, kStartRetryCapMsec);
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\" cannot start: %s; trying again "
                      "in %M ms", name_.c_str(), last_error_.c_str(), start_backoff_);
        ngx_add_timer(&start_timer_, start_backoff_);
        return;
    }
    ngx_add_timer(&tick_timer_, kTickMsec);
    tick();
}

void InboxRuntime::build()
{
    const cw_inbox_conf_t& ic = conf_;
    rest::BackoffPolicy backoff;
    if (ic.throttle_base_msec > 0) {
        // Chatwoot's throttles are per minute by default; an installation
        // with other limits can say how long to hold back.
        const rest::Millis base(ic.throttle_base_msec), cap(ic.throttle_cap_msec);
        backoff.throttled = rest::Schedule{base, cap, std::min(base, backoff.throttled.floor)};
        backoff.flood_guard = backoff.throttled;
    }
    client_ = std::make_unique<ChatwootClient>(shared_.http, ic.url, ic.api_token,
                                               ic.concurrency, ic.rate, backoff);
    client_->count_into(shared_.stats);
    forwarder_ = std::make_unique<ChatForwarder>(
        name_, shared_.wa_inbound, *client_, rest::Api(ic.account_id),
        bridge::InboxOptions{ic.inbox_id, ic.reopen_resolved != 0, ic.open_as_pending != 0},
        static_cast<size_t>(ic.concurrency) * 2, shared_.inherited_up_to, shared_.media);
    forwarder_->count_into(shared_.stats);
    forwarder_->observe_into(slot_ ? &slot_->to_chatwoot : nullptr);
    // Replies that end jobs within one tick settle their rows together.
    forwarder_->settle_soon_with([this] { soon(); });
    // History import jobs: bulk work on the same client, the live path first.
    importer_ = std::make_unique<ImportRunner>(
        name_, shared_.db, shared_.wa_inbound, *client_, rest::Api(ic.account_id),
        bridge::InboxOptions{ic.inbox_id, ic.reopen_resolved != 0, ic.open_as_pending != 0},
        static_cast<size_t>(ic.concurrency), [] { return static_cast<int64_t>(ngx_time()); },
        [this] { soon(); });
    if (ic.import_database != nullptr && ic.import_database[0] != '\0') {
        PgImportSinkOptions o;
        o.conninfo = ic.import_database;
        o.account_id = ic.account_id;
        o.writers = std::max(1u, static_cast<unsigned>(ic.concurrency));
        o.now = [] { return static_cast<int64_t>(ngx_time()); };
        pg_sink_ = std::make_unique<PgImportSink>(pg::nginx_pg_loop(), std::move(o));
        pg_sink_->set_inbox_id(ic.inbox_id);
        importer_->use_sink(pg_sink_.get());
    }

    if (make_device_) {
        device_ = make_device_(ic);
    } else if (ic.synthetic_device != nullptr) {
        bridge::IntakeFilter filter;
        filter.ignore_groups = ic.ignore_groups != 0;
        for (size_t j = 0; j < ic.ignore_jids_n; j++) {
            auto jid = bridge::Jid::parse(ic.ignore_jids[j]);
            filter.ignored_chats.insert(jid ? jid->without_device().to_string()
                                            : std::string(ic.ignore_jids[j]));
        }
        device_ = std::make_unique<SyntheticDevice>(name_, ic.synthetic_device, shared_.db,
                                                    shared_.wa_inbound, shared_.outbox,
                                                    std::move(filter), shared_.media);
    } else if (ic.whatsapp) {
        auto live = std::make_unique<LiveDevice>(live_device_options(ic), shared_.db, shared_.http);
        forwarder_->use_media(&live->media(), live_device_options(ic).media_max);
        importer_->use_media(&live->media(), &shared_.media, live_device_options(ic).media_max);
        // A phone to ask for older history (the chats' on-demand history).
        importer_->use_device(live.get());
        live->use_media_store(shared_.media);
        device_ = std::move(live);
    } else {
        device_ = std::make_unique<AbsentDevice>();
    }

    auto reporter = std::make_unique<ChatwootFailureReporter>(name_, *client_,
                                                              rest::Api(ic.account_id));
    if (ic.control_conversation) {
        reporter->on_refused([this](int64_t conversation_id) {
            if (control_) {
                guarded("the control conversation",
                        [&] { control_->reply_refused(conversation_id); });
            }
        });
    }
    reporter_ = std::move(reporter);
    sender_ = std::make_unique<OutboxSender>(
        name_, shared_.outbox, *device_, *reporter_,
        // The configuration always names the delimiter (the core fills its
        // default); tests may leave it out.
        bridge::SignatureOptions{ic.agent_signature != 0,
                                 ic.signature_delimiter
                                     ? std::string(ic.signature_delimiter)
                                     : std::string(bridge::kDefaultSignatureDelimiter)},
        static_cast<int64_t>(ic.device_timeout_sec),
        [] { return static_cast<int64_t>(ngx_time()); });
    sender_->count_into(shared_.stats);
    sender_->observe_into(slot_ ? &slot_->to_whatsapp : nullptr);
    sender_->tick_soon_with([this] { wake(); });
    if (device_->sends_media()) {
        AttachmentFetchOptions fo;
        if (auto origin = ic.url ? bridge::url_origin(ic.url) : std::nullopt) {
            fo.chatwoot = *origin;
        }
        for (size_t j = 0; j < ic.media_hosts_n; j++) {
            if (auto h = bridge::url_origin(ic.media_hosts[j])) fo.media_hosts.push_back(*h);
        }
        fo.api_token = ic.api_token ? ic.api_token : "";
        if (ic.whatsapp_media_max != 0) fo.max_file_size = ic.whatsapp_media_max;
        parts_ = std::make_unique<store::OutboxPartRepository>(shared_.db);
        attachments_ = std::make_unique<AttachmentFetcher>(shared_.http, std::move(fo));
        // Its outputs go beside the fetched files, so the store's release()
        // removes them once sent; a killed helper's scratch directories go
        // when the store opens (helper_process.cpp).
        preparer_ = std::make_unique<media_prep::MediaPreparer>(shared_.media.dir(),
                                                                 media_prep::MediaPrepOptions{});
        media_sender_ = std::make_unique<MediaSender>(
            name_, *parts_, *device_, *attachments_, *preparer_, shared_.media,
            [](size_t n) {
                std::string key(n, '\0');
                if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()),
                               static_cast<int>(n)) != 1) {
                    return std::string();
                }
                return key;
            },
            [] { return static_cast<int64_t>(ngx_time()); });
        sender_->send_media_with(media_sender_.get());
    }
    read_marks_ = std::make_unique<store::ReadMarkRepository>(shared_.db);
    sender_->mark_read_with(read_marks_.get());
    // Agent replies whose webhooks never came are looked for once the inbox
    // id is known; the sender waits for that first look.
    sender_->hold(true);
    OutboxSender* sender = sender_.get();
    reconciler_ = std::make_unique<OutboxReconciler>(
        name_, ic.account_id, *client_, rest::Api(ic.account_id), shared_.db, shared_.inbound,
        shared_.outbox, [this, sender] {
            sender->hold(false);
            wake();
        });

    // An inbox without a device (whatsapp off, no synthetic device) has
    // nothing to tell and nothing to command.
    if (ic.control_conversation && (make_device_ || ic.synthetic_device != nullptr || ic.whatsapp)) {
        control_ = std::make_unique<ControlConversation>(
            name_, *client_, rest::Api(ic.account_id), ic.inbox_id, shared_.db, *device_,
            shared_.media.dir(),
            ic.control_throttle_sec > 0 ? static_cast<int64_t>(ic.control_throttle_sec) : 60,
            [] { return static_cast<int64_t>(ngx_time()); });
        forwarder_->on_rejected([this](const std::string& chat, int64_t timestamp,
                                       const std::string& reason) {
            if (control_) control_->message_rejected(chat, timestamp, reason);
        });
    }

    device_->start(*this);
    if (control_) {
        // What the device is now, and commands a helper before us left.
        control_->observe(device_->status());
        control_->take_commands();
    }
    if (ic.inbox_id == 0) {
        resolver_ = std::make_unique<InboxResolver>(
            name_, ic.inbox_name,
            ic.inbox_create_webhook ? std::optional<std::string>(ic.inbox_create_webhook)
                                    : std::nullopt,
            *client_, rest::Api(ic.account_id), [this](int64_t id) {
                forwarder_->set_inbox_id(id);
                if (control_) control_->set_inbox_id(id);
                importer_->set_inbox_id(id);
                if (pg_sink_) pg_sink_->set_inbox_id(id);
                reconciler_->start(id);
                tick();
            });
        resolver_->start();
    } else {
        reconciler_->start(ic.inbox_id);
    }
}

// In reverse order of building: what holds a reference goes first.
void InboxRuntime::teardown() noexcept
{
    if (tick_timer_.timer_set) {
        ngx_del_timer(&tick_timer_);
    }
    if (tick_timer_.posted) {
        ngx_delete_posted_event(&tick_timer_);
    }
    if (start_timer_.timer_set) {
        ngx_del_timer(&start_timer_);
    }
    control_.reset();
    resolver_.reset();
    reconciler_.reset();
    sender_.reset();
    read_marks_.reset();
    reporter_.reset();
    media_sender_.reset();
    preparer_.reset();
    attachments_.reset();
    parts_.reset();
    device_.reset();
    // The sink's writers hold answers for the importer: they go first.
    pg_sink_.reset();
    importer_.reset();
    forwarder_.reset();
    client_.reset();
}

// Each part in its own guard: a failing part never stops the others.
void InboxRuntime::tick() noexcept
{
    if (device_ == nullptr) {
        return;
    }
    // Chats the device pushes during its tick are forwarded by the one
    // kick below, not one kick (one store query) each.
    in_device_tick_ = true;
    guarded("the device", [&] { device_->tick(static_cast<int64_t>(ngx_time())); });
    in_device_tick_ = false;
    if (control_) {
        // A QR that rotated, a restriction, a summary due: none of them is
        // a state change the device announces.
        guarded("the control conversation", [&] {
            control_->observe(device_->status());
            control_->tick();
        });
    }
    // An idle part is not looked at (two store queries a tick, per inbox,
    // were most of an idle helper's CPU): what gives it work wakes it (a
    // device's push, the queue drain), and every 30 s a sweep looks
    // anyway, for what nothing announces.
    const bool sweep = ngx_current_msec - last_sweep_ >= kSweepMsec;
    if (sweep) last_sweep_ = ngx_current_msec;
    if (sweep || inbound_pending_ || !forwarder_->idle()) {
        inbound_pending_ = false;
        guarded("forwarding WhatsApp messages", [&] { forwarder_->kick(); });
    }
    if (conf_.import_on_link != 0) {
        guarded("starting the import on link", [&] {
            importer_->import_on_link(device_->status().connected_since, conf_.import_days,
                                      conf_.ignore_groups == 0);
        });
    }
    if (sweep || !importer_->idle()) {
        guarded("importing history", [&] { importer_->tick(); });
    }
    if (sweep || woken_ || !sender_->idle()) {
        woken_ = false;
        guarded("sending agent replies", [&] { sender_->tick(); });
    }
}

void InboxRuntime::inbound(std::string_view)
{
    // The forwarder takes each chat's next message in store order; kicking
    // it starts whichever chats are idle.  One kick serves a burst: the
    // next tick's (within a millisecond, or the device tick under way).
    // A live device pushes each message as its socket read commits it, and
    // a kick each (a query of the store's pending chats) was most of the
    // helper's time under a backlog.
    inbound_pending_ = true;
    if (!in_device_tick_) {
        soon();
    }
}

void InboxRuntime::state_changed(const DeviceStatus& status)
{
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "chatwoot helper: inbox \"%s\": WhatsApp device %s%s%s", name_.c_str(),
                  std::string(to_string(status.state)).c_str(),
                  status.reason.empty() ? "" : ": ", status.reason.c_str());
    if (control_) {
        guarded("the control conversation", [&] { control_->observe(status); });
    }
    if (status.state == DeviceState::connected && sender_ != nullptr) {
        guarded("sending agent replies", [&] { sender_->tick(); });
    }
}

DeviceView InboxRuntime::view()
{
    DeviceView v;
    v.name = name_;
    v.inbox = name_;
    v.status = device_status();
    if (state_since_ == 0 || v.status.state != shown_state_) {
        shown_state_ = v.status.state;
        state_since_ = static_cast<int64_t>(ngx_time());
    }
    v.state_since = state_since_;
    // A new text (a ref rotated, or pairing began again) is a new serial;
    // no QR at all counts as a text too, so that its return is one.  The
    // count starts from this helper's start time, 2^20 a second: the next
    // helper (a reload, a kill -9 mid-pairing) never repeats a serial the
    // page saw with another QR, and the numbers stay exact in JavaScript
    // (below 2^53) until the year 2242.
    const size_t qr_hash = std::hash<std::string_view>{}(v.status.qr);
    if (qr_serial_ == 0) {
        qr_serial_ = static_cast<uint64_t>(ngx_time()) << 20;
        shown_qr_hash_ = qr_hash;
    } else if (qr_hash != shown_qr_hash_) {
        shown_qr_hash_ = qr_hash;
        qr_serial_++;
    }
    v.qr_serial = qr_serial_;
    return v;
}

DeviceStatus InboxRuntime::device_status() const
{
    if (device_ == nullptr) {
        return DeviceStatus::of(DeviceState::error, last_error_);
    }
    return device_->status();
}

void InboxRuntime::on_tick_timer(ngx_event_t* ev) noexcept
{
    auto& rt = *static_cast<InboxRuntime*>(ev->data);
    rt.last_tick_msec_ = ngx_current_msec;
    rt.tick();
    if (rt.tick_timer_.timer_set) {   // posted while its timer ran
        ngx_del_timer(&rt.tick_timer_);
    }
    // Jobs that ended during this tick (soon() finds no timer set then)
    // settle at the next, in a millisecond.
    const bool settling = rt.forwarder_ != nullptr && rt.forwarder_->settling();
    ngx_add_timer(&rt.tick_timer_, rt.quiet() ? kIdleTickMsec : settling ? kWakeMsec : kTickMsec);
}

// Nothing for a quick tick to do: the parts are idle, nobody woke them and
// the device needs no ticks.  (Work comes with an event that wakes us.)
bool InboxRuntime::quiet() const
{
    return device_ != nullptr && !device_->wants_ticks() && forwarder_ != nullptr
           && forwarder_->idle() && sender_ != nullptr && sender_->idle() && !woken_
           && importer_ != nullptr && importer_->idle()
           && !inbound_pending_;
}

void InboxRuntime::wake()
{
    woken_ = true;
    soon();
}

void InboxRuntime::soon()
{
    // The next tick comes right after this drain (a timer, so one tick
    // serves every record of a burst), and never later than it was due: a
    // wake-up that re-armed the 200 ms tick put it off again with each
    // webhook, and a steady stream of them (one every 10 ms) held every
    // agent reply until the stream stopped (t/reply_wakeup.t).
    if (tick_timer_.posted) {
        return;
    }
    // After a quiet spell the tick runs once this turn of the event loop's
    // handlers is over (a posted event: still after this drain or this
    // socket read, but without the timer's millisecond or two, which were
    // most of an agent reply's added latency at 100 msg/s).  Under load,
    // ticks stay at most one a millisecond: each tick's sender pass reads
    // up to 500 entries.
    if (ngx_current_msec - last_tick_msec_ >= kWakeMsec) {
        if (tick_timer_.timer_set) {
            ngx_del_timer(&tick_timer_);
        }
        ngx_post_event(&tick_timer_, &ngx_posted_events);
        return;
    }
    if (tick_timer_.timer_set
        && static_cast<ngx_msec_int_t>(tick_timer_.timer.key - ngx_current_msec)
               > static_cast<ngx_msec_int_t>(kWakeMsec))
    {
        ngx_del_timer(&tick_timer_);
        ngx_add_timer(&tick_timer_, kWakeMsec);
    }
}

void InboxRuntime::typing(int64_t conversation_id, bool on) noexcept
{
    guarded("passing on an agent's typing", [&] {
        if (device_ == nullptr || device_->status().state != DeviceState::connected) {
            return;   // nobody to show it to now; later it would be stale
        }
        auto chat = shared_.wa_inbound.chat_of_conversation(name_, conversation_id);
        if (!chat) {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "chatwoot helper: inbox \"%s\": an agent typed in conversation "
                          "%L, which no WhatsApp chat has", name_.c_str(), conversation_id);
            return;
        }
        OutgoingMessage m;
        m.kind = OutgoingMessage::Kind::typing;
        m.chat = *chat;
        m.typing_on = on;
        device_->send(m, [](const SendResult&) {});   // presence: no retry, no bookkeeping
    });
}

void InboxRuntime::control_commands() noexcept
{
    if (control_) {
        guarded("the control conversation's commands", [&] { control_->take_commands(); });
    }
}

void InboxRuntime::import_filed() noexcept
{
    if (importer_ != nullptr) {
        importer_->poke();
        soon();
    }
}

void InboxRuntime::on_start_timer(ngx_event_t* ev) noexcept
{
    static_cast<InboxRuntime*>(ev->data)->start();
}

}  // namespace chatwoot::helper
