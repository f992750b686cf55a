// The shared table of recently seen webhook keys (include/chatwoot_replay.h).
// Keys are HMAC digests or hashes of delivery ids: already uniformly
// spread, so the slot index is taken from the key's bits directly.

#include "chatwoot_replay.h"

#include <cstdint>

namespace {

// How many slots one key may use.  Small, so a lookup touches one or two
// cache lines; when all are live, the one expiring first is replaced.
constexpr uint64_t kProbes = 8;

uint64_t nonzero(uint64_t key) { return key == 0 ? 1 : key; }

// The slots key may use: (key + i) % slots_n for i < kProbes, which tables
// already in shared memory were written with.  One division instead of
// one per probe (these run under the zone's mutex); the rare key whose sum
// wraps past 2^64 takes the formula as it is.
class Probe {
public:
    Probe(uint64_t key, uint64_t slots_n)
        : key_(key), n_(slots_n), at_(key % slots_n),
          exact_(key > UINT64_MAX - kProbes)
    {
    }

    uint64_t slot(uint64_t i)
    {
        if (exact_) {
            return (key_ + i) % n_;
        }
        if (i > 0 && ++at_ == n_) {
            at_ = 0;
        }
        return at_;
    }

private:
    uint64_t key_;
    uint64_t n_;
    uint64_t at_;
    bool exact_;
};

}  // namespace

extern "C" {

size_t cw_replay_footprint(size_t slots_n) noexcept
{
    return sizeof(cw_replay_t) + slots_n * sizeof(cw_replay_slot_t);
}

void cw_replay_init(cw_replay_t* t, size_t slots_n, uint64_t ttl) noexcept
{
    t->slots_n = slots_n;
    t->ttl = ttl;
    t->evicted = 0;
    for (size_t i = 0; i < slots_n; i++) {
        t->slots[i] = cw_replay_slot_t{0, 0};
    }
}

int cw_replay_seen(const cw_replay_t* t, uint64_t key, uint64_t now) noexcept
{
    if (t->slots_n == 0) {
        return 0;
    }
    key = nonzero(key);
    Probe probe(key, t->slots_n);
    for (uint64_t i = 0; i < kProbes && i < t->slots_n; i++) {
        const cw_replay_slot_t& s = t->slots[probe.slot(i)];
        if (s.key == key && s.expires > now) {
            return 1;
        }
    }
    return 0;
}

void cw_replay_remember(cw_replay_t* t, uint64_t key, uint64_t now) noexcept
{
    if (t->slots_n == 0) {
        return;
    }
    key = nonzero(key);
    cw_replay_slot_t* victim = nullptr;
    Probe probe(key, t->slots_n);
    for (uint64_t i = 0; i < kProbes && i < t->slots_n; i++) {
        cw_replay_slot_t& s = t->slots[probe.slot(i)];
        if (s.key == key || s.key == 0 || s.expires <= now) {
            victim = &s;
            break;
        }
        if (victim == nullptr || s.expires < victim->expires) {
            victim = &s;
        }
    }
    if (victim->key != 0 && victim->key != key && victim->expires > now) {
        t->evicted++;
    }
    victim->key = key;
    victim->expires = now + t->ttl;
}

}  // extern "C"
