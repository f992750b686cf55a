/*
 * The worker -> helper queue: a bounded FIFO of variable-size records laid
 * out in one contiguous block of shared memory.
 *
 * The ring itself takes no lock.  Callers hold the zone's slab mutex around
 * every call, because nginx's master force-unlocks that mutex when a holder
 * dies; no lock of our own would get that treatment.
 *
 * A producer writes the record first and publishes it last, with a single
 * store (see cw_ring_index_t), so a worker killed in the middle of a push
 * leaves garbage past the tail that the next push overwrites.  The consumer peeks, commits the records to
 * SQLite under (epoch, seq), and only then pops: a helper killed between the
 * two steps finds the same records again and the store ignores the repeats.
 */

#ifndef CHATWOOT_RING_H
#define CHATWOOT_RING_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

CW_BEGIN_DECLS


/* What a record carries; stored with it so the helper can route it. */
enum {
    CW_RECORD_WEBHOOK = 1,
    CW_RECORD_COMMAND = 2      /* see chatwoot_command.h */
};

typedef enum {
    CW_RING_OK = 0,
    CW_RING_FULL,          /* no room now: retry later (503) */
    CW_RING_TOO_LARGE,     /* could never fit: the sender must not retry (413) */
    CW_RING_CORRUPT,       /* a broken invariant: the helper resets the ring */
    CW_RING_END,           /* cw_ring_next: no more records */
    CW_RING_CLOSED         /* nobody will drain this ring any more (503) */
} cw_ring_rc_t;

/*
 * Where the records are.  Every change is written into the inactive copy
 * and published by one aligned store to `active`, so a process killed at
 * any instruction leaves either the old index or the new one, never a mix.
 */
typedef struct {
    uint64_t       epoch;        /* random per ring: (epoch, seq) is unique */
    uint64_t       next_seq;     /* seq given to the next push, from 1 */
    uint64_t       head;         /* offset of the oldest record */
    uint64_t       tail;         /* offset where the next record goes */
    uint64_t       used;         /* bytes from head to tail, wrap waste too */
    uint64_t       count;        /* records held now */
} cw_ring_index_t;

typedef struct {
    uint64_t         data_size;  /* bytes in data[], a multiple of 8 */
    uint64_t         capacity;   /* most records held at once */
    uint64_t         closed;     /* set by a helper leaving for good */
    uint64_t         active;     /* index[active & 1] is the current one */
    cw_ring_index_t  index[2];
    unsigned char    data[];
} cw_ring_t;

typedef struct {
    uint64_t              seq;
    uint32_t              kind;
    uint32_t              len;
    const unsigned char  *data;  /* points into shared memory */
} cw_ring_record_t;

/*
 * A walk over the records present at cw_ring_begin().  It needs the lock
 * only for cw_ring_begin(): producers write past the tail and only the one
 * consumer removes, so the records it covers stay put until that consumer
 * pops them.
 */
typedef struct {
    uint64_t  offset;
    uint64_t  remaining;
    uint64_t  seq_limit;   /* next_seq at begin: every record seen is older */
} cw_ring_cursor_t;


/* Bytes of shared memory a ring with data_size payload bytes takes. */
size_t cw_ring_footprint(size_t data_size) CW_NOEXCEPT;

/* Lays a ring out in mem (footprint(data_size) bytes, 8-byte aligned). */
void cw_ring_init(cw_ring_t *ring, size_t data_size, uint64_t capacity,
    uint64_t epoch) CW_NOEXCEPT;

/* The largest payload a push can ever accept for this ring. */
size_t cw_ring_max_record(const cw_ring_t *ring) CW_NOEXCEPT;

cw_ring_rc_t cw_ring_push(cw_ring_t *ring, uint32_t kind,
    const unsigned char *data, size_t len, uint64_t *seq) CW_NOEXCEPT;

/* Walks the records from the oldest without removing them. */
cw_ring_cursor_t cw_ring_begin(const cw_ring_t *ring) CW_NOEXCEPT;
cw_ring_rc_t cw_ring_next(const cw_ring_t *ring, cw_ring_cursor_t *cursor,
    cw_ring_record_t *record) CW_NOEXCEPT;

/* Removes the oldest records up to and including seq. */
cw_ring_rc_t cw_ring_pop_through(cw_ring_t *ring, uint64_t seq) CW_NOEXCEPT;

/* Refuses (CW_RING_CLOSED) or accepts pushes again. */
void cw_ring_set_closed(cw_ring_t *ring, int closed) CW_NOEXCEPT;

/* Empties the ring after a broken invariant; the epoch changes too. */
void cw_ring_reset(cw_ring_t *ring, uint64_t epoch) CW_NOEXCEPT;

/* The published index, for status figures and the consumer's epoch. */
static inline const cw_ring_index_t *
cw_ring_current(const cw_ring_t *ring)
{
    return &ring->index[__atomic_load_n(&ring->active, __ATOMIC_ACQUIRE) & 1];
}


CW_END_DECLS

#endif /* CHATWOOT_RING_H */
