// Token bucket arithmetic; see token_bucket.hpp for the units.
#include "chatwoot/token_bucket.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <ratio>
#include <type_traits>

namespace chatwoot::rest {

namespace {

// Elapsed nanoseconds are taken straight from time_since_epoch().count().
static_assert(std::is_same_v<TokenBucket::Clock::duration::period, std::nano>);

// b - a in ticks for b > a, exact even where the signed subtraction would
// overflow (time points near min() and max()).
uint64_t ticks_between(TokenBucket::TimePoint a, TokenBucket::TimePoint b)
{
    return uint64_t(b.time_since_epoch().count())
           - uint64_t(a.time_since_epoch().count());
}

uint64_t ceil_div(uint64_t n, uint64_t d)
{
    return n / d + (n % d != 0);
}

}  // namespace

TokenBucket::TokenBucket(Rate rate, uint64_t burst)
    : tokens_(rate.tokens),
      per_ns_(rate.per.count() > 0 ? uint64_t(rate.per.count()) : 0)
{
    if (tokens_ == 0 || per_ns_ == 0) {
        tokens_ = 0;  // unlimited: nothing below is used
        per_ns_ = 1;
    } else {
        const uint64_t g = std::gcd(tokens_, per_ns_);
        tokens_ /= g;
        per_ns_ /= g;
        // Too many tokens per period: halve both, keeping the ratio as well
        // as halving allows.  A rate beyond a token per nanosecond loses
        // its period altogether, and no limit is the honest reading.
        while (tokens_ > kMaxTokens) {
            tokens_ >>= 1;
            per_ns_ >>= 1;
        }
        if (per_ns_ == 0) {
            tokens_ = 0;
            per_ns_ = 1;
        } else if (per_ns_ > kMaxPerNs) {
            // Too long a period: express the rate per kMaxPerNs instead,
            // and no slower than one token per kMaxPerNs.
            __extension__ using u128 = unsigned __int128;
            const auto scaled = uint64_t(u128(tokens_) * kMaxPerNs / per_ns_);
            tokens_ = std::max<uint64_t>(scaled, 1);
            per_ns_ = kMaxPerNs;
        }
    }
    burst_ = std::clamp<uint64_t>(burst, 1, kMaxCreditNs / per_ns_);
    capacity_ = burst_ * per_ns_;
    credit_ = capacity_;
}

uint64_t TokenBucket::credit_at(TimePoint now) const
{
    if (!started_ || now <= last_)
        return credit_;
    const uint64_t need = capacity_ - credit_;
    if (need == 0)
        return capacity_;
    // Compare before multiplying: a long idle time times the rate would
    // overflow, and it only ever fills the bucket anyway.
    const uint64_t elapsed = ticks_between(last_, now);
    if (elapsed >= ceil_div(need, tokens_))
        return capacity_;
    return credit_ + elapsed * tokens_;  // < need + tokens_ <= 2^62 + 2^30
}

bool TokenBucket::try_take(TimePoint now)
{
    if (unlimited())
        return true;
    credit_ = credit_at(now);
    if (!started_ || now > last_) {
        last_ = now;
        started_ = true;
    }
    if (credit_ < per_ns_)
        return false;
    credit_ -= per_ns_;
    return true;
}

TokenBucket::Duration TokenBucket::wait_time(TimePoint now) const
{
    if (unlimited())
        return Duration::zero();
    const uint64_t credit = credit_at(now);
    if (credit >= per_ns_)
        return Duration::zero();
    uint64_t ns = ceil_div(per_ns_ - credit, tokens_);
    // Refill runs from last_ at the earliest, so a `now` before it (time
    // went backwards) waits for that stretch as well.
    if (started_ && now < last_) {
        const uint64_t gap = ticks_between(now, last_);
        ns = gap > std::numeric_limits<uint64_t>::max() - ns
                 ? std::numeric_limits<uint64_t>::max()
                 : ns + gap;
    }
    constexpr auto max = uint64_t(std::numeric_limits<Duration::rep>::max());
    return ns >= max ? Duration::max() : Duration(Duration::rep(ns));
}

uint64_t TokenBucket::available(TimePoint now) const
{
    if (unlimited())
        return std::numeric_limits<uint64_t>::max();
    return credit_at(now) / per_ns_;
}

}  // namespace chatwoot::rest
