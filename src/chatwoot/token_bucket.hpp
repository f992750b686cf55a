// A token bucket: at most `burst` requests at once, refilled at `rate`.
// Sans-I/O: the caller passes monotonic time in.
//
// Why the helper needs one (chatwoot/CONTRACT.md section 7): Chatwoot's
// throttles answer 429 with no Retry-After, so the only way not to spend
// requests on refusals is to stay under the limits in the first place
// (3000/min per IP by default; 200 messages/min per conversation for the
// flood guard).  A history import, in particular, would otherwise run into
// both within seconds.
//
// Arithmetic is exact integer arithmetic, so a rate such as 200 per minute
// (one token every 300 ms) or 3 per second (every 333.33... ms) never drifts:
// credit is counted in "token-nanoseconds", where one token costs `per` in
// nanoseconds and each elapsed nanosecond adds `tokens`.
#pragma once

#include <chrono>
#include <cstdint>

namespace chatwoot::rest {

class TokenBucket {
public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;
    using Duration = std::chrono::nanoseconds;

    // `tokens` every `per`.  tokens == 0 (or per <= 0) means unlimited.
    struct Rate {
        uint64_t tokens = 0;
        Duration per = std::chrono::seconds(1);

        static constexpr Rate per_second(uint64_t n) { return {n, std::chrono::seconds(1)}; }
        static constexpr Rate per_minute(uint64_t n) { return {n, std::chrono::minutes(1)}; }
        static constexpr Rate unlimited() { return {0, std::chrono::seconds(1)}; }
    };

    // Bounds that keep every product below 2^63 (credit = burst * per,
    // refill = elapsed * tokens), far beyond any sensible setting.  The rate
    // is first reduced to lowest terms (200/min is 1 per 300 ms); a rate
    // still outside the bounds is rescaled to fit, approximately (faster
    // than a token per ns: unlimited; slower than one per kMaxPerNs: one
    // per kMaxPerNs).
    static constexpr uint64_t kMaxTokens = uint64_t(1) << 30;  // ~1 per ns
    static constexpr uint64_t kMaxPerNs = uint64_t(1) << 47;   // ~39 hours
    static constexpr uint64_t kMaxCreditNs = uint64_t(1) << 62;

    // The bucket starts full: a freshly started helper may send a burst.
    // burst 0 is read as 1 (a bucket that can hold no token never passes
    // anything); a burst above kMaxCreditNs / per is clamped to that.
    TokenBucket(Rate rate, uint64_t burst);

    // Takes one token if there is one.
    bool try_take(TimePoint now);

    // How long from `now` until try_take can succeed; zero if it can now.
    // Exact to the nanosecond: try_take(now + wait_time(now)) succeeds and
    // one nanosecond earlier it does not (with no takes in between).
    Duration wait_time(TimePoint now) const;

    // Whole tokens available at `now` (for status and tests).
    uint64_t available(TimePoint now) const;

    bool unlimited() const { return tokens_ == 0; }
    uint64_t burst() const { return burst_; }

private:
    // Credit at `now`, without changing anything.
    uint64_t credit_at(TimePoint now) const;

    uint64_t tokens_;   // tokens added per `per_ns_`; 0: unlimited
    uint64_t per_ns_;   // cost of one token, in token-nanoseconds
    uint64_t burst_;
    uint64_t capacity_; // burst_ * per_ns_
    uint64_t credit_;   // token-nanoseconds held at last_
    // Time of the latest refill.  It only moves forward: when time goes
    // backwards nothing is refilled until it passes last_ again, so a clock
    // that steps back and forth can never grant the same interval twice.
    TimePoint last_{};
    bool started_ = false;
};

}  // namespace chatwoot::rest
