// The media retries one session has asked the phone for and not yet seen
// answered (issue 11; the crypto is media_retry.hpp's).  Sans-I/O: the
// caller files a request, sends the receipts it is handed, feeds every
// <notification type="mediaretry"> in, and tells the time; the desk says
// which request an answer settles and which ran out of time.
//
// Rules it keeps:
//   - A message is asked about at most once in the desk's life (the
//     helper's): a second ask is refused with Errc::wrong_state, so a
//     success whose new path fails again, or a row taken up again, ends
//     with the note instead of asking the phone in a loop.  Not persisted:
//     after a restart the download fails again and the phone is asked
//     again, which costs it one more upload and is the only way a request
//     cut off by a crash still gets the file.
//   - An answer is awaited kAnswerWait at most.  The phone must be online,
//     read the receipt, upload the file again (a minute for a large video
//     on a slow uplink) and notify us; a phone that is off may answer hours
//     later, and meanwhile the chat's later messages wait behind this one
//     (order per chat), so the wait is bounded and then given up: the note.
//   - A receipt is sent once.  One that could not go (no connection) goes
//     with the next login, inside the same bound.
//   - An answer opens with the media key of the message it names, or it is
//     the answer "does not open" for that request (only WhatsApp's server can
//     put a notification on our channel, and the phone answers once, so
//     waiting on would gain nothing).  A notification for a message not
//     waited for is refused (Errc::not_found) and changes nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"
#include "wa/media/media_retry.hpp"

namespace chatwoot::wa::media {

class MediaRetryDesk {
public:
    using Millis = std::int64_t;  // the caller's monotonic clock

    static constexpr Millis kAnswerWait = 120'000;
    // Requests waiting at once: each holds a chat, and a flood of expired
    // media must not grow the desk without end.
    static constexpr std::size_t kMaxWaiting = 256;
    // Message ids remembered as asked: enough for a long helper life; the
    // oldest are forgotten first (a forgotten one may be asked again).
    static constexpr std::size_t kMaxRemembered = 16384;

    // What settled a request.
    struct Answer {
        std::string message_id;
        // The phone's result, or why its answer does not open (decryption,
        // shape, a success without a usable path).
        Result<MediaRetryOutcome> outcome;
    };

    // Files a request that waits from `now`.  Errc::wrong_state when the
    // message was asked about before in this life, Errc::too_large when
    // kMaxWaiting requests wait, Errc::malformed for a media key that is
    // not 32 bytes or a bad message id.
    Status ask(const MediaRetryTarget& target, ByteView media_key, Millis now);

    // The receipts of requests not yet sent, each built once (a fresh IV
    // from `random`) and marked sent: the caller puts them on the wire.  A
    // request whose receipt cannot be built is settled at once (in
    // `failed`).
    struct Receipt {
        std::string message_id;
        binary::Node node;
    };
    std::vector<Receipt> take_receipts(const crypto::RandomSource& random,
                                       std::vector<Answer>& failed);

    // A receipt the caller could not send after all: sent again by the next
    // take_receipts().
    void unsent(const std::string& message_id);

    // A <notification type="mediaretry">.  The request it settles (and
    // forgets), or: Errc::malformed for a notification that does not parse,
    // Errc::not_found for one naming a message not waited for.
    Result<Answer> on_notification(const binary::Node& notification);

    // The requests whose wait ran out by `now`, forgotten.
    std::vector<std::string> expire(Millis now);

    // When the next request runs out; nullopt when none waits.
    std::optional<Millis> next_deadline() const;

    // Gives up a request (its asker went away); true when one waited.
    bool cancel(const std::string& message_id);

    std::size_t waiting() const { return waiting_.size(); }
    bool asked(const std::string& message_id) const { return asked_.contains(message_id); }

private:
    struct Waiting {
        MediaRetryTarget target;
        Bytes media_key;  // wiped when the request goes
        Millis deadline = 0;
        bool sent = false;

        Waiting(MediaRetryTarget t, ByteView key, Millis until)
            : target(std::move(t)), media_key(key.begin(), key.end()), deadline(until)
        {
        }
        Waiting(const Waiting&) = delete;
        Waiting& operator=(const Waiting&) = delete;
        ~Waiting();
    };
    void remember(const std::string& message_id);

    std::map<std::string, Waiting> waiting_;
    std::set<std::string> asked_;
    std::deque<std::string> asked_order_;
};

}  // namespace chatwoot::wa::media
