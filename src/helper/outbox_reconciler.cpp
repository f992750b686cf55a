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
        // The check is over: nothing more comes of it until the next start.
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": checked Chatwoot for agent replies "
                      "that never reached us", inbox_.c_str());
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
    std::vector<store::ReconciledReply> replies;
    replies.reserve(job_->found().size());
    for (const auto& body : job_->found()) {
        webhook::Decision d = webhook::parse(body);
        if (d.verdict != webhook::Verdict::queue) {
            continue;   // our own builder and the parser disagree: logged below
        }
        auto reading =
            webhook::read_queued_webhook(webhook::make_queued_webhook(inbox_, "", 0, d.record));
        if (!reading || !reading->message_id) {
            continue;
        }
        store::ReconciledReply& r = replies.emplace_back();
        r.message_id = *reading->message_id;
        r.action = reading->action;
        r.conversation_id = reading->conversation_id;
        r.kind = CW_RECORD_WEBHOOK;
        r.record = webhook::make_queued_webhook(
            inbox_, store::ReconciliationRepository::delivery_id(inbox_, r.message_id),
            started_at_, d.record);
    }
    if (replies.size() != job_->found().size()) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": %uz of %uz reconciled replies could "
                      "not be read back", inbox_.c_str(), job_->found().size() - replies.size(),
                      job_->found().size());
    }
    // Keyed per inbox (the store's inbox key, not epoch 0): two inboxes on
    // two Chatwoot installations may both have a message 1234.
    const size_t filed = marks_.file_replies(inbound_, outbox_, inbox_, replies, started_at_);
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
