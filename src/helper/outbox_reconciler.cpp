#include "outbox_reconciler.hpp"

#include "../chatwoot/webhook_event.hpp"
#include "../chatwoot/webhook_record.hpp"

#include "chatwoot_shared.h"

#include <exception>

namespace chatwoot::helper {

namespace {

constexpr ngx_msec_t kRetryMsec = 60 * 1000;
// Replies are looked for a little before the mark: a webhook the store
// took near the end of the last run may still have been in flight.
constexpr int64_t kOverlapSeconds = 300;

}  // namespace

OutboxReconciler::OutboxReconciler(std::string inbox, int64_t account_id,
                                   ChatwootClient& client, rest::Api api, store::Database& db,
                                   store::InboundEventRepository& inbound,
                                   store::OutboxRepository& outbox,
                                   std::function<void()> finished)
    : inbox_(std::move(inbox)),
      account_id_(account_id),
      client_(client),
      api_(api),
      db_(db),
      inbound_(inbound),
      outbox_(outbox),
      marks_(db),
      finished_(std::move(finished))
{
    retry_timer_.handler = &OutboxReconciler::on_retry_timer;
    retry_timer_.data = this;
    retry_timer_.log = ngx_cycle->log;
    retry_timer_.cancelable = 1;
}

OutboxReconciler::~OutboxReconciler()
{
    if (retry_timer_.timer_set) {
        ngx_del_timer(&retry_timer_);
    }
}

void OutboxReconciler::start(int64_t inbox_id)
{
    inbox_id_ = inbox_id;
    run();
}

void OutboxReconciler::run()
{
    started_at_ = ngx_time();
    auto mark = marks_.reconciled_until(inbox_);
    if (!mark) {
        // A new store: replies from before the bridge ran are history,
        // not work.  From now on nothing gets past unchecked.
        marks_.set_reconciled_until(inbox_, started_at_);
        first_attempt_over();
        return;
    }
    job_ = std::make_unique<bridge::OutboxReconciliation>(
        account_id_, inbox_id_, *mark - kOverlapSeconds, api_,
        bridge::OutboxReconciliation::Limits{});
    send();
}

void OutboxReconciler::send()
{
    switch (job_->state()) {
    case bridge::OutboxReconciliation::State::request:
        client_.submit("reconciliation/" + inbox_, job_->request(),
                       [this](const ChatwootClient::Reply& r) {
                           job_->on_answer(r.classification, r.body);
                           send();
                       });
        return;
    case bridge::OutboxReconciliation::State::done:
        file_found();
        marks_.set_reconciled_until(inbox_, started_at_);
        first_attempt_over();
        return;
    case bridge::OutboxReconciliation::State::failed:
        // What was found so far is filed all the same; the mark stays, so
        // the next attempt looks at the same span again.
        file_found();
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": checking Chatwoot for agent replies "
                      "that never reached us failed: %s; trying again in %M s",
                      inbox_.c_str(), job_->failure().c_str(), kRetryMsec / 1000);
        ngx_add_timer(&retry_timer_, kRetryMsec);
        first_attempt_over();
        return;
    }
}

void OutboxReconciler::file_found()
{
    std::vector<store::InboundEvent> events;
    std::vector<webhook::QueuedWebhook> readings;
    for (const auto& body : job_->found()) {
        webhook::Decision d = webhook::parse(body);
        if (d.verdict != webhook::Verdict::queue) {
            continue;   // our own builder and the parser disagree: logged below
        }
        store::InboundEvent e;
        auto reading =
            webhook::read_queued_webhook(webhook::make_queued_webhook(inbox_, "", 0, d.record));
        if (!reading || !reading->message_id) {
            continue;
        }
        e.ring_epoch = 0;   // no ring: keyed by the Chatwoot message id
        e.ring_seq = static_cast<uint64_t>(*reading->message_id);
        e.kind = CW_RECORD_WEBHOOK;
        e.received_at = started_at_;
        e.delivery_id = "reconciled-" + inbox_ + "-" + std::to_string(*reading->message_id);
        const std::string record =
            webhook::make_queued_webhook(inbox_, e.delivery_id, started_at_, d.record);
        e.payload.assign(record.begin(), record.end());
        events.push_back(std::move(e));
        readings.push_back(std::move(*reading));
    }
    if (events.size() != job_->found().size()) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": %uz of %uz reconciled replies could "
                      "not be read back", inbox_.c_str(), job_->found().size() - events.size(),
                      job_->found().size());
    }
    if (events.empty()) {
        return;
    }
    size_t filed = 0;
    // One transaction (insert_batch's own) for the rows and their entries.
    inbound_.insert_batch(events, [&](const store::InboundEvent& e, int64_t row_id) {
        const auto& r = readings[static_cast<size_t>(&e - events.data())];
        store::OutboxEntry entry;
        entry.inbox = inbox_;
        entry.action = r.action;
        entry.conversation_id = r.conversation_id;
        entry.chatwoot_message_id = r.message_id;
        entry.inbound_id = row_id;
        entry.created_at = started_at_;
        filed += outbox_.add(entry) ? 1 : 0;
    });
    if (filed > 0) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": %uz agent repl%s found in Chatwoot "
                      "that never reached us; sending them now",
                      inbox_.c_str(), filed, filed == 1 ? "y" : "ies");
    }
}

void OutboxReconciler::first_attempt_over()
{
    if (finished_) {
        auto f = std::move(finished_);
        finished_ = nullptr;
        f();
    }
}

void OutboxReconciler::on_retry_timer(ngx_event_t* ev) noexcept
{
    auto* self = static_cast<OutboxReconciler*>(ev->data);
    try {
        self->run();
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0, "chatwoot helper: inbox \"%s\": %s",
                      self->inbox_.c_str(), e.what());
        ngx_add_timer(&self->retry_timer_, kRetryMsec);
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": reconciling failed",
                      self->inbox_.c_str());
        ngx_add_timer(&self->retry_timer_, kRetryMsec);
    }
}

}  // namespace chatwoot::helper
