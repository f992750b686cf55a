/*
 * Recently seen webhook keys, shared by all workers: a signed webhook
 * replayed inside its timestamp window (or the same X-Chatwoot-Delivery
 * again) is refused.  A fixed open-addressing table in the zone; each key
 * is remembered for `ttl` seconds, and when the few slots a key may live in
 * are all taken, the one that expires first gives way.  Callers hold the
 * zone's slab mutex.
 */

#ifndef CHATWOOT_REPLAY_H
#define CHATWOOT_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

CW_BEGIN_DECLS


typedef struct {
    uint64_t  key;        /* 0 = free */
    uint64_t  expires;    /* unix seconds */
} cw_replay_slot_t;

typedef struct {
    uint64_t          slots_n;
    uint64_t          ttl;
    uint64_t          evicted;    /* live keys pushed out early */
    cw_replay_slot_t  slots[];
} cw_replay_t;


size_t cw_replay_footprint(size_t slots_n) CW_NOEXCEPT;
void cw_replay_init(cw_replay_t *table, size_t slots_n, uint64_t ttl)
    CW_NOEXCEPT;

/* 1 if key was seen and has not expired, else 0. */
int cw_replay_seen(const cw_replay_t *table, uint64_t key, uint64_t now)
    CW_NOEXCEPT;

/* Remembers key until now + ttl. */
void cw_replay_remember(cw_replay_t *table, uint64_t key, uint64_t now)
    CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_REPLAY_H */
