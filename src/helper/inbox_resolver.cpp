#include "inbox_resolver.hpp"

#include <exception>

namespace chatwoot::helper {

namespace {

constexpr ngx_msec_t kRetryMsec = 60 * 1000;

}  // namespace

InboxResolver::InboxResolver(std::string inbox, std::string name,
                             std::optional<std::string> create_url, ChatwootClient& client,
                             rest::Api api, Resolved resolved)
    : inbox_(std::move(inbox)),
      name_(std::move(name)),
      create_url_(std::move(create_url)),
      client_(client),
      api_(api),
      resolved_(std::move(resolved))
{
    retry_timer_.handler = &InboxResolver::on_retry_timer;
    retry_timer_.data = this;
    retry_timer_.log = ngx_cycle->log;
    retry_timer_.cancelable = 1;
}

InboxResolver::~InboxResolver()
{
    if (retry_timer_.timer_set) {
        ngx_del_timer(&retry_timer_);
    }
}

void InboxResolver::start()
{
    job_ = std::make_unique<bridge::InboxResolution>(name_, create_url_, api_);
    send();
}

void InboxResolver::send()
{
    switch (job_->state()) {
    case bridge::InboxResolution::State::request:
        client_.submit("inbox-resolution/" + inbox_, job_->request(),
                       [this](const ChatwootClient::Reply& r) {
                           job_->on_answer(r.classification, r.body);
                           send();
                       });
        return;
    case bridge::InboxResolution::State::done:
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\" is Chatwoot inbox %L \"%s\"%s",
                      inbox_.c_str(), job_->inbox_id(), name_.c_str(),
                      job_->created() ? ", created now as an API inbox" : "");
        resolved_(job_->inbox_id());
        return;
    case bridge::InboxResolution::State::failed:
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": %s; its WhatsApp messages wait "
                      "in the store, trying again in %M s",
                      inbox_.c_str(), job_->failure().c_str(), kRetryMsec / 1000);
        ngx_add_timer(&retry_timer_, kRetryMsec);
        return;
    }
}

void InboxResolver::on_retry_timer(ngx_event_t* ev) noexcept
{
    auto* self = static_cast<InboxResolver*>(ev->data);
    try {
        self->start();
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": %s", self->inbox_.c_str(), e.what());
        ngx_add_timer(&self->retry_timer_, kRetryMsec);
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": resolving the inbox failed",
                      self->inbox_.c_str());
        ngx_add_timer(&self->retry_timer_, kRetryMsec);
    }
}

}  // namespace chatwoot::helper
