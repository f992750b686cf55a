#include "chatwoot_check.hpp"

#include <algorithm>
#include <exception>

namespace chatwoot::helper {

namespace {

constexpr long kCheckTimeoutMs = 10000;
// The profile lists every account of the user: room for a great many.
constexpr size_t kMaxProfile = 256 * 1024;

uint64_t shared_code(rest::CheckResult r)
{
    switch (r) {
    case rest::CheckResult::ok: return CW_CHECK_OK;
    case rest::CheckResult::unavailable: return CW_CHECK_UNAVAILABLE;
    case rest::CheckResult::unreachable: return CW_CHECK_UNREACHABLE;
    case rest::CheckResult::bad_answer: return CW_CHECK_BAD_ANSWER;
    case rest::CheckResult::no_account_access: return CW_CHECK_NO_ACCOUNT_ACCESS;
    case rest::CheckResult::unauthorized: return CW_CHECK_UNAUTHORIZED;
    }
    return CW_CHECK_BAD_ANSWER;
}

// An outage comes and goes (warn); a wrong URL, token or account is the
// configuration's, and stays until an operator acts (error).
ngx_uint_t level_of(rest::CheckResult r)
{
    switch (r) {
    case rest::CheckResult::ok:
        return NGX_LOG_NOTICE;
    case rest::CheckResult::unavailable:
    case rest::CheckResult::unreachable:
        return NGX_LOG_WARN;
    default:
        return NGX_LOG_ERR;
    }
}

}  // namespace

ChatwootCheck::ChatwootCheck(HttpTransport& curl,
                             std::span<const cw_inbox_conf_t> inboxes,
                             uint64_t interval_msec, cw_upstream_stats_t* stats)
    : curl_(curl), interval_msec_(std::max<uint64_t>(interval_msec, 1000)), stats_(stats)
{
    for (const auto& ic : inboxes) {
        Target t;
        t.inbox = ic.name;
        t.url = ic.url;
        while (!t.url.empty() && t.url.back() == '/') {
            t.url.pop_back();
        }
        t.token_header = std::string("api_access_token: ") + ic.api_token;
        t.account_id = ic.account_id;
        targets_.push_back(std::move(t));
    }
    timer_.handler = &ChatwootCheck::on_timer;
    timer_.data = this;
    timer_.log = ngx_cycle->log;
    timer_.cancelable = 1;
}

ChatwootCheck::~ChatwootCheck()
{
    if (timer_.timer_set) {
        ngx_del_timer(&timer_);
    }
}

void ChatwootCheck::start()
{
    round();
}

void ChatwootCheck::round()
{
    if (targets_.empty()) {
        return;
    }
    pending_ = targets_.size();
    starting_ = true;
    for (size_t i = 0; i < targets_.size(); i++) {
        const Target& t = targets_[i];
        std::string refused;
        try {
            HttpRequest http;
            http.method = "GET";
            http.url = t.url + rest::Api(t.account_id).profile().path;
            http.headers = {t.token_header, "Accept: application/json"};
            http.timeout_ms = kCheckTimeoutMs;
            http.max_body = kMaxProfile;
            curl_.request(std::move(http),
                          [this, i](const TransferResult& r) { on_answer(i, r); });
            continue;
        } catch (const std::exception& e) {
            refused = e.what();
        } catch (...) {
            refused = "unknown error";
        }
        // Never sent: as if nothing answered.
        pending_--;
        record(i, {rest::CheckResult::unreachable, "not started: " + refused}, 0, true);
    }
    starting_ = false;
    if (pending_ == 0) {
        round_done();
    }
}

void ChatwootCheck::on_answer(size_t i, const TransferResult& result)
{
    if (result.code != CURLE_OK) {
        record(i, {rest::CheckResult::unreachable, result.error}, 0, true);
    } else {
        rest::Response r;
        r.http_status = static_cast<int>(result.http_status);
        r.body = result.body;
        r.body_truncated = result.body_truncated;
        r.body_cap = kMaxProfile;
        record(i, rest::check_profile(r, targets_[i].account_id), result.http_status,
               false);
    }
    if (pending_ > 0 && --pending_ == 0 && !starting_) {
        round_done();
    }
}

void ChatwootCheck::record(size_t i, const rest::CheckOutcome& outcome, long http_status,
                           bool transport_failed)
{
    if (stats_ != nullptr) {
        cw_add(&stats_->checks, 1);
        cw_store(&stats_->last_checked_at, static_cast<uint64_t>(ngx_time()));
        cw_store(&stats_->last_http_status, static_cast<uint64_t>(std::max(0L, http_status)));
        if (transport_failed) {
            cw_add(&stats_->failures, 1);
        }
    }

    Target& t = targets_[i];
    const bool first = !t.last;
    const bool changed = first || *t.last != outcome.result;
    t.last = outcome.result;
    if (changed) {
        const bool ok = outcome.result == rest::CheckResult::ok;
        // The first failure is an error whatever its kind: the helper
        // starts with a Chatwoot it cannot use.
        const ngx_uint_t level = ok ? (first ? NGX_LOG_INFO : NGX_LOG_NOTICE)
                                 : first ? NGX_LOG_ERR
                                         : level_of(outcome.result);
        const auto name = rest::check_result_name(outcome.result);
        ngx_log_error(level, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": Chatwoot check %s, %*s: %s",
                      t.inbox.c_str(), ok ? (first ? "passed" : "passes again") : "failed",
                      name.size(), name.data(), outcome.reason.c_str());
    }

    if (stats_ != nullptr) {
        rest::CheckResult worst = rest::CheckResult::ok;
        for (const auto& other : targets_) {
            if (other.last && *other.last > worst) {
                worst = *other.last;
            }
        }
        cw_store(&stats_->check, shared_code(worst));
    }
}

void ChatwootCheck::round_done()
{
    if (timer_.timer_set) {
        ngx_del_timer(&timer_);
    }
    ngx_add_timer(&timer_, static_cast<ngx_msec_t>(interval_msec_));
}

void ChatwootCheck::on_timer(ngx_event_t* ev) noexcept
{
    auto* self = static_cast<ChatwootCheck*>(ev->data);
    try {
        self->round();
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: checking Chatwoot failed: %s", e.what());
        self->round_done();
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: checking Chatwoot failed");
        self->round_done();
    }
}

}  // namespace chatwoot::helper
