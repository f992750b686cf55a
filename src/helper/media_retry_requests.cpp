#include "media_retry_requests.hpp"

#include "log.hpp"

#include <algorithm>
#include <exception>
#include <utility>

namespace chatwoot::helper {

namespace wm = chatwoot::wa::media;

MediaRetryRequests::MediaRetryRequests(std::string inbox, wa::crypto::RandomSource random)
    : inbox_(std::move(inbox)), random_(std::move(random))
{
    timer_.data = this;
    timer_.log = ngx_cycle->log;
    timer_.cancelable = 1;
    timer_.handler = &MediaRetryRequests::on_timer;
}

MediaRetryRequests::~MediaRetryRequests()
{
    if (timer_.timer_set) ngx_del_timer(&timer_);
}

wm::MediaRetryDesk::Millis MediaRetryRequests::now()
{
    return static_cast<wm::MediaRetryDesk::Millis>(ngx_current_msec);
}

void MediaRetryRequests::ask(const wm::MediaRetryTarget& target, wa::ByteView media_key,
                             MediaFetcher::RetryAnswer answer, const Send& send)
{
    if (auto filed = desk_.ask(target, media_key, now()); !filed) {
        log(LogLevel::info,
            "chatwoot helper: inbox \"%s\": WhatsApp media of message %s not asked of the "
            "phone: %s", inbox_.c_str(), target.message_id.c_str(), filed.error().detail.c_str());
        answer(filed.error());
        return;
    }
    answers_[target.message_id] = std::move(answer);
    arm();
    send_unsent(send);
}

void MediaRetryRequests::send_unsent(const Send& send)
{
    std::vector<wm::MediaRetryDesk::Answer> failed;
    auto receipts = desk_.take_receipts(random_, failed);
    for (auto& r : receipts) {
        if (!send(r.node)) {
            desk_.unsent(r.message_id);  // with the next login
            continue;
        }
        log(LogLevel::info,
            "chatwoot helper: inbox \"%s\": asked the phone to upload the media of WhatsApp "
            "message %s again", inbox_.c_str(), r.message_id.c_str());
    }
    for (auto& f : failed) {
        log(LogLevel::error,
            "chatwoot helper: inbox \"%s\": the media retry for WhatsApp message %s cannot be "
            "made: %s", inbox_.c_str(), f.message_id.c_str(), f.outcome.error().detail.c_str());
        settle(f.message_id, f.outcome);
    }
    arm();
}

void MediaRetryRequests::on_notification(const wa::binary::Node& notification)
{
    auto answer = desk_.on_notification(notification);
    if (!answer) {
        // Never asked, answered already, given up, or not an answer at all:
        // nothing waits for it.  The id is WhatsApp's, no secret.
        const std::string id(notification.attr("id").value_or("").substr(0, 128));
        log(LogLevel::info,
            "chatwoot helper: inbox \"%s\": WhatsApp media retry answer for message %s "
            "ignored: %s", inbox_.c_str(), id.c_str(), answer.error().detail.c_str());
        return;
    }
    if (answer->outcome) {
        log(LogLevel::info,
            "chatwoot helper: inbox \"%s\": the phone answered the media retry for WhatsApp "
            "message %s: %s", inbox_.c_str(), answer->message_id.c_str(),
            std::string(wm::media_retry_result_name(answer->outcome->result)).c_str());
    } else {
        log(LogLevel::info,
            "chatwoot helper: inbox \"%s\": the phone's answer to the media retry for WhatsApp "
            "message %s does not open: %s", inbox_.c_str(), answer->message_id.c_str(),
            answer->outcome.error().detail.c_str());
        answer->outcome = wa::make_error(answer->outcome.error().code,
                                         "the phone's answer does not open (" +
                                             answer->outcome.error().detail + ")");
    }
    settle(answer->message_id, answer->outcome);
    arm();
}

void MediaRetryRequests::settle(const std::string& message_id,
                                const wa::Result<wm::MediaRetryOutcome>& outcome)
{
    auto it = answers_.find(message_id);
    if (it == answers_.end()) return;
    auto answer = std::move(it->second);
    answers_.erase(it);
    if (answer) answer(outcome);
}

void MediaRetryRequests::arm()
{
    if (timer_.timer_set) ngx_del_timer(&timer_);
    if (auto at = desk_.next_deadline()) {
        ngx_add_timer(&timer_, static_cast<ngx_msec_t>(std::max<wm::MediaRetryDesk::Millis>(*at - now(), 0)));
    }
}

void MediaRetryRequests::expired()
{
    const auto wait_s = std::to_string(wm::MediaRetryDesk::kAnswerWait / 1000);
    for (const auto& id : desk_.expire(now())) {
        log(LogLevel::info,
            "chatwoot helper: inbox \"%s\": no answer from the phone to the media retry for "
            "WhatsApp message %s within %s s; giving up", inbox_.c_str(), id.c_str(),
            wait_s.c_str());
        settle(id, wa::make_error(wa::Errc::wrong_state,
                                  "no answer from the phone within " + wait_s + " s"));
    }
    arm();
}

void MediaRetryRequests::on_timer(ngx_event_t* ev) noexcept
{
    auto& self = *static_cast<MediaRetryRequests*>(ev->data);
    try {
        self.expired();
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: inbox \"%s\": media retry timer failed: %s",
            self.inbox_.c_str(), e.what());
        self.arm();
    } catch (...) {
        self.arm();
    }
}

}  // namespace chatwoot::helper
