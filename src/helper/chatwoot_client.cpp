#include "chatwoot_client.hpp"

#include "../ipc/inbox_stats.hpp"

#include <algorithm>
#include <exception>

namespace chatwoot::helper {

namespace {

constexpr long kRequestTimeoutMs = 30000;
constexpr size_t kMaxAnswer = 256 * 1024;

rest::TransportError transport_error(CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return rest::TransportError::none;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return rest::TransportError::connect;
    case CURLE_OPERATION_TIMEDOUT:
        return rest::TransportError::timeout;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:   // an at-most-once request's resend, stopped
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return rest::TransportError::reset;
    default:
        return rest::TransportError::other;
    }
}

// Re-sending these cannot create a second object in Chatwoot.
bool idempotent(const rest::Request& r)
{
    return r.method == "GET" || r.method == "PATCH" || r.method == "DELETE"
           || r.path.ends_with("/toggle_status");
}

}  // namespace

ChatwootClient::ChatwootClient(HttpTransport& curl, std::string base_url,
                               std::string api_token, unsigned concurrency,
                               unsigned rate_per_second, rest::BackoffPolicy backoff)
    : curl_(curl),
      base_url_(std::move(base_url)),
      token_header_("api_access_token: " + api_token),
      concurrency_(std::max(1u, concurrency)),
      bucket_(rate_per_second ? rest::TokenBucket::Rate::per_second(rate_per_second)
                              : rest::TokenBucket::Rate::unlimited(),
              std::max(1u, rate_per_second)),
      backoff_(backoff),
      rng_(static_cast<uint64_t>(ngx_pid) * 0x9E3779B97F4A7C15ULL ^ ngx_time()),
      lanes_(concurrency_)
{
    while (!base_url_.empty() && base_url_.back() == '/') {
        base_url_.pop_back();
    }
    timer_.handler = &ChatwootClient::on_timer;
    timer_.data = this;
    timer_.log = ngx_cycle->log;
    timer_.cancelable = 1;
}

ChatwootClient::~ChatwootClient()
{
    if (timer_.timer_set) {
        ngx_del_timer(&timer_);
    }
}

void ChatwootClient::submit(std::string key, rest::Request request, Done done,
                            Priority priority)
{
    Job job;
    job.request = std::move(request);
    job.done = std::move(done);
    job.bulk = priority == Priority::bulk;
    const bool urgent = !job.bulk;
    lanes_.push(key, std::move(job), urgent);
    pump();
}

// Starts every job that may start now, live lanes first, and arms the
// timer for the earliest one that must wait.  Walks the keys: fine for the
// hundreds of chats a bridge has in flight; a heap would replace it if
// that ever grows.
void ChatwootClient::pump()
{
    const auto now = Clock::now();
    Clock::time_point next{};
    auto wake_at = [&](Clock::time_point t) {
        if (next == Clock::time_point{} || t < next) {
            next = t;
        }
    };
    // A live request ready now that found no slot or no token keeps them
    // for itself: bulk work waits for the next pump.
    if (start_waiting(true, now, wake_at)) {
        start_waiting(false, now, wake_at);
    }
    if (!start_failures_.empty()) {
        wake_at(now);
    }
    if (next != Clock::time_point{}) {
        arm(next);
    }
}

bool ChatwootClient::start_waiting(bool live, Clock::time_point now,
                                   const std::function<void(Clock::time_point)>& wake_at)
{
    bool clear = true;
    lanes_.for_each_waiting([&](const std::string& key, Job& job, bool urgent) {
        if (urgent != live) {
            return true;
        }
        if (job.start_error) {
            return true;  // its failure is reported first
        }
        const auto ready = std::max(job.not_before, server_paused_until_);
        if (ready > now) {
            wake_at(ready);
            return true;
        }
        if (!lanes_.slot_free() || (!live && bulk_running_ >= bulk_cap())) {
            clear = !live;
            return false;
        }
        if (!bucket_.try_take(now)) {
            wake_at(now + std::chrono::duration_cast<Clock::duration>(bucket_.wait_time(now)));
            clear = !live;
            return false;
        }
        // A bulk job at the head of a live lane runs for the live one
        // behind it: it takes no bulk slot.
        const bool bulk_slot = !live;
        if (start(key) && bulk_slot) {
            if (Job* started = lanes_.first(key)) {
                started->bulk_slot = true;
                bulk_running_++;
            }
        }
        return true;
    });
    return clear;
}

bool ChatwootClient::start(const std::string& key)
{
    // Until keep(), dropping the claim hands the lane and the slot back:
    // whatever throws below, nothing stays marked in flight.
    auto claim = lanes_.claim(key);
    Job& job = claim.job();
    if (job.attempts == 0) {
        job.first_attempt = Clock::now();
    }
    job.attempts++;

    try {
        HttpRequest http;
        http.method = job.request.method;
        http.url = base_url_ + job.request.path;
        http.headers = {token_header_, "Accept: application/json"};
        if (!job.request.files.empty()) {
            http.form = job.request.form;     // curl sets the multipart Content-Type
            http.files = job.request.files;
            // No "Expect: 100-continue" round trip before each upload.
            http.headers.push_back("Expect:");
        } else if (!job.request.body.empty()) {
            http.headers.push_back("Content-Type: application/json");
            http.body = job.request.body;
        }
        http.timeout_ms = kRequestTimeoutMs;
        http.max_body = kMaxAnswer;
        http.at_most_once = !idempotent(job.request);

        // The key outlives the transfer: jobs leave their lane only in
        // complete().
        curl_.request(std::move(http),
                      [this, key](const TransferResult& r) { finished(key, r); });
    } catch (const std::exception& e) {
        job.start_error = e.what();
    } catch (...) {
        job.start_error = "unknown error";
    }
    if (job.start_error) {
        try {
            start_failures_.push_back(key);
        } catch (...) {
            job.start_error.reset();  // not to be skipped for ever: a later pump starts it
            throw;
        }
        return false;
    }
    claim.keep();
    return true;
}

void ChatwootClient::finished(const std::string& key, const TransferResult& result)
{
    lanes_.finished(key);
    if (Job* job = lanes_.first(key); job != nullptr && job->bulk_slot) {
        job->bulk_slot = false;
        bulk_running_--;
    }
    if (stats_ != nullptr) {
        cw_add(&stats_->api_requests, 1);
        cw_add(&stats_->api_status[ipc::api_class(result.http_status)], 1);
    }
    rest::Response response;
    response.transport_error = transport_error(result.code);
    response.http_status = static_cast<int>(result.http_status);
    if (!result.retry_after.empty()) {
        response.retry_after = result.retry_after;
    }
    response.body = result.body;
    response.body_truncated = result.body_truncated;
    response.body_cap = kMaxAnswer;
    rest::Classification c = rest::classify(response);
    if (result.body_truncated && result.http_status >= 200 && result.http_status < 300) {
        // Said here, once, with the request it answered: further on it
        // would only be an answer that does not parse.  (An error page's
        // length does not matter: its status says what happened.)
        const Job* job = lanes_.first(key);
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: %s %s: Chatwoot answered %l with more than "
                      "the %uz bytes kept of an answer; not read (%s)",
                      job ? job->request.method.c_str() : "-",
                      job ? job->request.path.c_str() : "-", result.http_status,
                      kMaxAnswer, c.reason.c_str());
    }
    complete(key, result, std::move(c));
}

// Requests the transport refused to start: nothing went out, so nothing can
// have happened in Chatwoot; they take the way of a failed connect.
void ChatwootClient::report_start_failures()
{
    std::vector<std::string> keys;
    keys.swap(start_failures_);
    for (const auto& key : keys) {
        Job* job = lanes_.first(key);
        if (job == nullptr || !job->start_error || lanes_.first_running(key)) {
            continue;
        }
        TransferResult result;
        result.code = CURLE_FAILED_INIT;
        result.error = std::move(*job->start_error);
        job->start_error.reset();
        rest::Classification c;
        c.outcome = rest::Outcome::retry;
        c.cause = rest::Cause::network;
        c.scope = rest::Scope::request;
        c.may_have_applied = false;
        c.reason = "not started: " + result.error;
        complete(key, result, std::move(c));
    }
}

// The key's first job has its outcome: retried here, or handed to its
// callback and taken out of its lane.
void ChatwootClient::complete(const std::string& key, const TransferResult& result,
                              rest::Classification c)
{
    Job* job = lanes_.first(key);
    if (job == nullptr) {
        return;  // cannot happen: a job leaves its lane only here
    }
    const bool retry_here = c.outcome == rest::Outcome::retry
                            && (!c.may_have_applied || idempotent(job->request))
                            && !rest::should_give_up(c, job->attempts, job->first_attempt,
                                                     Clock::now());
    if (retry_here) {
        std::optional<rest::Millis> retry_after;
        if (!result.retry_after.empty()) {
            retry_after = rest::parse_retry_after(result.retry_after,
                                                  std::chrono::system_clock::now());
        }
        const auto delay = backoff_.next_delay(job->attempts, c.cause, retry_after, rng_);
        job->not_before = Clock::now() + delay;
        if (c.scope == rest::Scope::server) {
            server_paused_until_ = std::max(server_paused_until_, job->not_before);
        }
        if (stats_ != nullptr) {
            cw_add(&stats_->api_retries, 1);
        }
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "chatwoot helper: %s %s: %s, retry %ui in %M ms",
                      job->request.method.c_str(), job->request.path.c_str(),
                      c.reason.c_str(), job->attempts,
                      static_cast<ngx_msec_t>(delay.count()));
        pump();
        return;
    }

    Reply reply{std::move(c), result.http_status, result.body, job->attempts};
    Done done = std::move(job->done);
    lanes_.pop(key);
    try {
        done(reply);
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: handling a Chatwoot answer failed: %s",
                      e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: handling a Chatwoot answer failed");
    }
    pump();
}

void ChatwootClient::arm(Clock::time_point when)
{
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(when - Clock::now()).count();
    if (ms < 1) {
        ms = 1;
    }
    if (timer_.timer_set) {
        ngx_del_timer(&timer_);
    }
    ngx_add_timer(&timer_, static_cast<ngx_msec_t>(ms));
}

void ChatwootClient::on_timer(ngx_event_t* ev) noexcept
{
    auto* self = static_cast<ChatwootClient*>(ev->data);
    try {
        self->report_start_failures();
        self->pump();
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: REST client: %s", e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: REST client failed");
    }
}

}  // namespace chatwoot::helper
