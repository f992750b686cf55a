// The helper's REST client for one Chatwoot installation, on libcurl multi:
// requests with the same key (a conversation) run one at a time in the
// order given; different keys run side by side up to `concurrency`; a
// token bucket caps the rate; retryable failures wait as the retry policy
// says (a 429 or an outage holds back every key, a flood guard only its
// conversation).  The API token goes into a header and nowhere else.
//
// Live work comes first: a history import's requests are bulk.  A live
// request waiting gets the next free slot and the next token (a lane with
// a live request behind a bulk one counts as live), and bulk requests hold
// at most concurrency - 1 slots, so with a concurrency above 1 one slot is
// always free for the live path, and with 1 a live message waits for at
// most the one bulk request in flight.
#pragma once

#include "chatwoot_shared.h"
#include "curl_multi_driver.hpp"
#include "ngx.hpp"

#include "../chatwoot/api_requests.hpp"
#include "../chatwoot/request_lanes.hpp"
#include "../chatwoot/retry_policy.hpp"
#include "../chatwoot/token_bucket.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace chatwoot::helper {

class ChatwootClient {
public:
    struct Reply {
        rest::Classification classification;
        long http_status = 0;
        std::string body;
        unsigned attempts = 0;
    };
    using Done = std::function<void(const Reply&)>;
    enum class Priority { live, bulk };

    ChatwootClient(HttpTransport& curl, std::string base_url, std::string api_token,
                   unsigned concurrency, unsigned rate_per_second,
                   rest::BackoffPolicy backoff = {});
    ~ChatwootClient();
    ChatwootClient(const ChatwootClient&) = delete;
    ChatwootClient& operator=(const ChatwootClient&) = delete;

    // Queues the request behind the earlier ones of the same key.  A
    // retryable failure is retried here when re-sending cannot duplicate
    // anything (GET, PATCH, DELETE, and POSTs the answer shows never
    // applied); otherwise done gets the failure and the caller looks before
    // it leaps.  done runs once, from the event loop.  A request the
    // transport refused to start never left: it is retried here like a
    // failed connect, and done learns of it only if the client gives up.
    void submit(std::string key, rest::Request request, Done done,
                Priority priority = Priority::live);

    size_t queued() const { return lanes_.queued(); }
    // Bulk requests in flight now.
    unsigned bulk_running() const { return bulk_running_; }

    // Where to count answers and retries for the status location.
    void count_into(cw_bridge_stats_t* stats) { stats_ = stats; }

private:
    using Clock = std::chrono::steady_clock;

    struct Job {
        rest::Request request;
        Done done;
        unsigned attempts = 0;
        Clock::time_point first_attempt{};
        Clock::time_point not_before{};
        bool bulk = false;        // an import's
        bool bulk_slot = false;   // in flight on a bulk slot
        // Why the transport refused to start it; reported from the event
        // loop (never from inside pump(), which walks the lanes).
        std::optional<std::string> start_error;
    };

    void pump();
    // True when the job went out (false: the transport refused it).
    bool start(const std::string& key);
    // Starts what may start of the live lanes (live) or the others; false
    // when a live job is ready and found no slot or no token, so bulk work
    // must not take them.
    bool start_waiting(bool live, Clock::time_point now,
                       const std::function<void(Clock::time_point)>& wake_at);
    unsigned bulk_cap() const { return concurrency_ > 1 ? concurrency_ - 1 : 1; }
    void finished(const std::string& key, const TransferResult& result);
    void report_start_failures();
    void complete(const std::string& key, const TransferResult& result,
                  rest::Classification c);
    void arm(Clock::time_point when);
    static void on_timer(ngx_event_t* ev) noexcept;

    HttpTransport& curl_;
    std::string base_url_;
    std::string token_header_;
    unsigned concurrency_;
    rest::TokenBucket bucket_;
    rest::Backoff backoff_;
    std::mt19937_64 rng_;

    rest::RequestLanes<Job> lanes_;
    std::vector<std::string> start_failures_;   // keys whose first job did not start
    unsigned bulk_running_ = 0;
    Clock::time_point server_paused_until_{};
    ngx_event_t timer_{};
    cw_bridge_stats_t* stats_ = nullptr;
};

}  // namespace chatwoot::helper
