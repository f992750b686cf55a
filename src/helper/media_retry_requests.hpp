// The media retries of one live device, on the helper's loop: the
// MediaRetryDesk (wa/media) with the answers owed to the media fetcher and
// the timer that gives up on a phone that does not answer.
//
//   ask()              files a request (MediaFetcher::AskRetry), sends its
//                      receipt now when `send` takes it, else later
//   send_unsent()      the receipts not sent yet (after a login)
//   on_notification()  a <notification type="mediaretry">: settles the
//                      request it names; any other is logged and ignored
//
// Each answer runs once: the phone's result, or why there is none (refused
// by the desk, the answer does not open, no answer within
// MediaRetryDesk::kAnswerWait).  Requests outlive connections (an answer
// may come on the next one); they go with this object, unanswered.
#pragma once

#include "media_fetcher.hpp"
#include "ngx.hpp"

#include "wa/binary/node.hpp"
#include "wa/crypto/random.hpp"
#include "wa/media/media_retry_desk.hpp"

#include <functional>
#include <map>
#include <string>

namespace chatwoot::helper {

class MediaRetryRequests {
public:
    // Puts a receipt on the wire; false when it cannot now (no connection).
    using Send = std::function<bool(const wa::binary::Node&)>;

    MediaRetryRequests(std::string inbox, wa::crypto::RandomSource random);
    ~MediaRetryRequests();
    MediaRetryRequests(const MediaRetryRequests&) = delete;
    MediaRetryRequests& operator=(const MediaRetryRequests&) = delete;

    // A refused request is answered inside this call.
    void ask(const wa::media::MediaRetryTarget& target, wa::ByteView media_key,
             MediaFetcher::RetryAnswer answer, const Send& send);
    void send_unsent(const Send& send);
    void on_notification(const wa::binary::Node& notification);

    std::size_t waiting() const { return desk_.waiting(); }

private:
    void settle(const std::string& message_id,
                const wa::Result<wa::media::MediaRetryOutcome>& outcome);
    void arm();
    void expired();
    static void on_timer(ngx_event_t* ev) noexcept;
    static wa::media::MediaRetryDesk::Millis now();

    std::string inbox_;
    wa::crypto::RandomSource random_;
    wa::media::MediaRetryDesk desk_;
    std::map<std::string, MediaFetcher::RetryAnswer> answers_;
    ngx_event_t timer_{};
};

}  // namespace chatwoot::helper
