// What to do after a Chatwoot REST call: classify the response, pick the
// next delay, decide when to stop.  Sans-I/O: no curl, no nginx, no clock
// reads; the caller passes the response it got, the time and the randomness.
//
// Chatwoot facts this rests on (chatwoot/CONTRACT.md, Chatwoot 4.15.1):
//   - Every success is 200 (section 1); any 2xx counts.
//   - Rack::Attack throttles answer 429, text/plain "Retry later\n", no
//     Retry-After and no rate-limit headers (section 7).  The limits that
//     concern us are per IP or per account and per minute, so a 429
//     concerns every request to that Chatwoot, not just this one.  The
//     windows are fixed, not sliding: rack-attack keys its counter by
//     epoch seconds / period (its lib/rack/attack/cache.rb), so a throttle
//     lifts when the current minute ends.
//   - The per-conversation flood guard answers 422
//     {"error":"Validation failed: Too many messages"} (or, through the
//     RecordInvalid handler, {"message":"Too many messages",...}): it counts
//     all messages of the conversation created in the last 60 s, limit 200.
//     It clears by itself, so it is retryable, unlike every other 422.
//   - 401 bodies name the cause: unknown token, no token, not a member of
//     the account, suspended account, Pundit denial, bot token (section 5.1).
//   - 404 {"error":"Resource could not be found"} covers unknown account,
//     contact, inbox, conversation or message: a stale mapping.
//   - Chatwoot does not de-duplicate messages on source_id (section 5.8), so
//     re-sending a POST that may have been applied duplicates it unless the
//     caller looks first (peers.md: Evolution #2675, WAHA #1225).
//   - Some failures are deterministic 500s (RecordNotUnique on
//     contact_inboxes, a bad identifier_hash on the public API; sections 5.5,
//     6): retrying them never helps, so GiveUpPolicy can bound server errors.
#pragma once

#include <bit>
#include <cstddef>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <ratio>
#include <string>
#include <string_view>
#include <type_traits>

namespace chatwoot::rest {

using Millis = std::chrono::milliseconds;

// ---------------------------------------------------------------------------
// Classification

// How the transfer ended below HTTP.  The curl adapter maps CURLcode onto
// these (DNS and TCP connect failures are `connect`; TLS failures `other`).
enum class TransportError { none, connect, timeout, reset, other };

struct Response {
    TransportError transport_error = TransportError::none;
    int http_status = 0;                         // 0 when no status line came
    std::optional<std::string_view> retry_after; // the header's raw value
    std::string_view body;                       // the first few KB at most
    // The answer was longer than the client keeps (body_cap bytes): body
    // is only its beginning.
    bool body_truncated = false;
    size_t body_cap = 0;
};

enum class Outcome { success, retry, permanent };

// Why: picks the backoff schedule and the give-up limit, and names the
// failure in logs and metrics.
enum class Cause {
    ok,
    network,       // transport error, or no usable status line
    server_error,  // 5xx (but 501/505), 408
    throttled,     // 429: Rack::Attack
    flood_guard,   // 422 "Too many messages": per-conversation limit
    unauthorized,  // 401, 403
    not_found,     // 404: re-resolve the mapping, then try again
    rejected       // any other refusal: 4xx, a final 3xx, 501, 505
};

// Who should hold back while this is retried.  Sharing a 429's wait across
// every queued request keeps them from each burning a request in the same
// throttled window; the flood guard only blocks its own conversation.
enum class Scope { request, conversation, server };

struct Classification {
    Outcome outcome = Outcome::permanent;
    Cause cause = Cause::rejected;
    Scope scope = Scope::request;
    // For a retry: the request may have taken effect on the server although
    // we have no 2xx for it, so before re-sending a create, look for it
    // (source_id "WAID:..."), or it is duplicated.  For a permanent
    // outcome: the server did act (a 2xx whose answer was too long to
    // read), so a create is not made again but looked up.  False otherwise.
    bool may_have_applied = false;
    // Short, for logs and failure notes: never the token (we never see it),
    // never the body, at most a cleaned, bounded extract of Chatwoot's
    // one-line error message.
    std::string reason;

    bool not_found() const { return cause == Cause::not_found; }
};

Classification classify(const Response& r);

std::string_view outcome_name(Outcome o);
std::string_view cause_name(Cause c);
std::string_view scope_name(Scope s);

// ---------------------------------------------------------------------------
// Retry-After (RFC 9110 section 10.2.3)

// Chatwoot never sends one, but a reverse proxy or a maintenance page in
// front of it may, and then the server knows better than our guess.
inline constexpr Millis kRetryAfterMax = std::chrono::hours(1);

// The wait the header asks for, measured from `now` (wall clock, because an
// HTTP-date is wall-clock time).  Accepts delta-seconds and the three
// HTTP-date forms (IMF-fixdate, RFC 850, asctime).  A date in the past means
// "now" (0); anything above `max` is clamped to it, so a bogus header cannot
// park a queue for days.  Invalid values give nullopt: ignored.
std::optional<Millis> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now,
    Millis max = kRetryAfterMax);

// ---------------------------------------------------------------------------
// Backoff
//
// Full jitter: the delay before retry n is uniform in
// [floor, min(cap, base * 2^(n-1))].  Chosen over decorrelated jitter
// because it is a function of the attempt number alone: the attempt count is
// what the store keeps for a queued operation, so a restarted helper (crash
// only, DESIGN.md section 1) resumes the same schedule without persisting the
// previous delay; and after a Chatwoot outage, when every conversation
// retries at once, it spreads them over the whole interval (the least
// contention of the usual variants).  The floor keeps the first retry after
// a throttle from landing in the same instant.

struct Schedule {
    Millis base;   // ceiling of the first retry's draw, doubled per attempt
    Millis cap;    // the ceiling never exceeds this
    Millis floor;  // nor does a draw fall below this
};

struct BackoffPolicy {
    // Lost connections and 5xx: usually brief (restart, deploy, proxy
    // hiccup), so start small.  Reaches the cap at the 8th retry, about two
    // minutes into an outage.
    Schedule network{Millis(500), std::chrono::seconds(60), Millis(0)};
    Schedule server_error{Millis(500), std::chrono::seconds(60), Millis(0)};
    // 429 and the flood guard both clear when a 60 s window moves on
    // (Rack::Attack: fixed per-minute windows, so the reset is anywhere in
    // the next 60 s; flood guard: a sliding 60 s count, so the oldest message
    // leaves within 60 s).  Base 15 s = a quarter window: the expected waits
    // 7.5 + 15 + 30 s cover one whole window by the third retry, so an
    // operation spends two or three requests per throttled window, not
    // dozens.  The cap is the window itself, since after one whole window
    // the counter has certainly moved on.
    Schedule throttled{std::chrono::seconds(15), std::chrono::seconds(60),
                       std::chrono::seconds(1)};
    Schedule flood_guard{std::chrono::seconds(15), std::chrono::seconds(60),
                         std::chrono::seconds(1)};
    // The most a Retry-After can make us wait, whoever parsed it.
    Millis retry_after_max = kRetryAfterMax;
};

// 64 random bits from any standard generator whose range is a power of two
// starting at 0 (std::mt19937, std::mt19937_64, ...).  Assembled by hand
// rather than through a std:: distribution, whose algorithm differs between
// standard libraries: the same seed gives the same delays everywhere.
template <std::uniform_random_bit_generator G>
uint64_t draw64(G& g)
{
    using R = typename G::result_type;
    static_assert(G::min() == 0, "generator range must start at 0");
    constexpr uint64_t range = uint64_t(G::max() - G::min());
    static_assert(range == std::numeric_limits<uint64_t>::max()
                      || (range & (range + 1)) == 0,
                  "generator range must be a power of two");
    if constexpr (range == std::numeric_limits<uint64_t>::max()) {
        return uint64_t(g());
    } else {
        constexpr int bits = std::numeric_limits<uint64_t>::digits
                             - std::countl_zero(range);
        uint64_t out = 0;
        for (int have = 0; have < 64; have += bits)
            out = (out << bits) | uint64_t(R(g()));
        return out;
    }
}

class Backoff {
public:
    explicit Backoff(BackoffPolicy policy = {}) : policy_(policy) {}

    // The delay before the next try, `attempt` tries having failed so far
    // (1 after the first failure; 0 is read as 1).  `draw` is uniform random
    // bits: 0 gives the shortest delay, UINT64_MAX the longest.  Retry-After
    // is a floor: never sooner than the server asked, even above the cap.
    // Causes that are not retried (ok, unauthorized, not_found, rejected)
    // get 0.
    Millis delay(unsigned attempt, Cause cause,
                 std::optional<Millis> retry_after, uint64_t draw) const;

    template <std::uniform_random_bit_generator G>
    Millis next_delay(unsigned attempt, Cause cause,
                      std::optional<Millis> retry_after, G& rng) const
    {
        return delay(attempt, cause, retry_after, draw64(rng));
    }

    // The top of the draw's interval for this attempt (for tests and for
    // "next retry within ..." notes).
    Millis ceiling(unsigned attempt, Cause cause) const;

    const BackoffPolicy& policy() const { return policy_; }

private:
    const Schedule* schedule(Cause cause) const;

    BackoffPolicy policy_;
};

// ---------------------------------------------------------------------------
// Giving up
//
// DESIGN.md section 4: no message is lost.  So transient failures are
// retried for ever by default, and giving up is a policy decision the caller
// makes visible (a failed status or a note in Chatwoot), never a silent
// drop.  Permanent classifications give up at once.

struct GiveUpLimit {
    unsigned max_attempts = 0;  // failed attempts; 0: no limit
    Millis max_elapsed{0};      // since the first attempt; 0: no limit
};

struct GiveUpPolicy {
    GiveUpLimit network{};
    GiveUpLimit server_error{};
    GiveUpLimit throttled{};
    GiveUpLimit flood_guard{};
};

// `limit` for a retryable cause, nullptr for the others.
const GiveUpLimit* give_up_limit(const GiveUpPolicy& policy, Cause cause);

// Whole milliseconds from `from` to `to`, 0 when `to` is not later,
// saturating instead of overflowing for absurd time points.
template <class Clock, class Dur>
uint64_t elapsed_msec(std::chrono::time_point<Clock, Dur> from,
                      std::chrono::time_point<Clock, Dur> to)
{
    static_assert(std::is_integral_v<typename Dur::rep>);
    if (!(to > from))
        return 0;
    // Unsigned subtraction: exact even when the signed one would overflow.
    const uint64_t ticks = uint64_t(to.time_since_epoch().count())
                           - uint64_t(from.time_since_epoch().count());
    using PerMs = std::ratio_divide<typename Dur::period, std::milli>;
    constexpr uint64_t num = PerMs::num, den = PerMs::den;
    if (num > 1 && ticks > std::numeric_limits<uint64_t>::max() / num)
        return std::numeric_limits<uint64_t>::max();
    return ticks * num / den;
}

// True when the caller should stop and report the operation as failed.
// `attempts` counts the failed attempts, this one included.  Both time
// points come from one clock: the steady clock within one helper's life,
// the wall clock when first_attempt_at comes from the store after a
// restart.  A clock that went backwards counts as no time elapsed.
template <class Clock, class Dur>
bool should_give_up(const Classification& c, unsigned attempts,
                    std::chrono::time_point<Clock, Dur> first_attempt_at,
                    std::chrono::time_point<Clock, Dur> now,
                    const GiveUpPolicy& policy = {})
{
    if (c.outcome == Outcome::success)
        return false;
    if (c.outcome == Outcome::permanent)
        return true;
    const GiveUpLimit* limit = give_up_limit(policy, c.cause);
    if (limit == nullptr)
        return false;
    if (limit->max_attempts != 0 && attempts >= limit->max_attempts)
        return true;
    return limit->max_elapsed > Millis(0)
           && elapsed_msec(first_attempt_at, now)
                  >= uint64_t(limit->max_elapsed.count());
}

}  // namespace chatwoot::rest
