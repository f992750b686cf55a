// The shared table of recently seen webhook keys (include/chatwoot_replay.h).
// Keys are HMAC digests or hashes of delivery ids: already uniformly
// spread, so the slot index is taken from the key's bits directly.

#include "chatwoot_replay.h"

namespace {

// How many slots one key may use.  Small, so a lookup touches one or two
// cache lines; when all are live, the one expiring first is replaced.
constexpr uint64_t kProbes = 8;

uint64_t nonzero(uint64_t key) { return key == 0 ? 1 : key; }

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
    for (uint64_t i = 0; i < kProbes && i < t->slots_n; i++) {
        const cw_replay_slot_t& s = t->slots[(key + i) % t->slots_n];
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
    for (uint64_t i = 0; i < kProbes && i < t->slots_n; i++) {
        cw_replay_slot_t& s = t->slots[(key + i) % t->slots_n];
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
