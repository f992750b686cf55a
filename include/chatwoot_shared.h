/*
 * What lives in the chatwoot shared memory zone, seen by the master, the
 * workers and the helper alike.  Plain integers only (no pointers: every
 * process maps the zone on its own), updated with the compiler's atomics so
 * that the status location never takes a lock for a counter.
 */

#ifndef CHATWOOT_SHARED_H
#define CHATWOOT_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

#include "chatwoot_ring.h"
#include "chatwoot_send.h"
#include "chatwoot_snapshot.h"
#include "chatwoot_webhook.h"

CW_BEGIN_DECLS


/* Where the helper is in its life; shown in the status output. */
typedef enum {
    CW_HELPER_NONE = 0,        /* no helper has started yet */
    CW_HELPER_BACKOFF,         /* crash-looping: waiting before it starts */
    CW_HELPER_WAITING_LOCK,    /* another helper holds the state path */
    CW_HELPER_RUNNING,         /* holds the lock, store open, draining */
    CW_HELPER_FAILED           /* cannot open its store; retrying */
} cw_helper_state_t;

typedef struct {
    /* the helper status shows: the active one, else the newest */
    uint64_t  pid;
    uint64_t  started_at;        /* unix seconds */
    uint64_t  state;             /* cw_helper_state_t */
    uint64_t  starts;            /* helper processes started, ever */
    uint64_t  lock_acquired_at;  /* unix seconds */

    /* the newest helper, for the crash-loop backoff and the queue's owner */
    uint64_t  spawned_pid;
    uint64_t  spawned_at_msec;   /* monotonic, when its backoff ended */
    uint64_t  fast_crashes;      /* consecutive short-lived crashes */
    uint64_t  clean_exit;        /* pid of the last helper that left by exit() */
} cw_helper_stats_t;

typedef struct {
    uint64_t  enqueued;          /* pushes accepted by workers */
    uint64_t  rejected_full;     /* 503 answers */
    uint64_t  rejected_large;    /* 413 answers for the ring's limit */
    uint64_t  rejected_closed;   /* 503 answers while nginx shuts down */
    uint64_t  resets;            /* broken invariants found by the helper */
    uint64_t  wake_pending;      /* 1 while a wake-up is on its way */
    uint64_t  full_logged_at;    /* unix second of the last "full" log */
} cw_queue_stats_t;

typedef struct {
    uint64_t  persisted;         /* rows durably in the store */
    uint64_t  batches;           /* commits made by the current helper */
    uint64_t  errors;            /* failed commits (items stay queued) */
    uint64_t  dead_letters;      /* records refused, kept in dead_letters */
} cw_store_stats_t;

/* What the check of an inbox's Chatwoot found (GET /api/v1/profile with
 * its token, its account among the token's), worse as it grows. */
typedef enum {
    CW_CHECK_NONE = 0,            /* not checked yet */
    CW_CHECK_OK,
    CW_CHECK_UNAVAILABLE,         /* 5xx, 429: there, not working now */
    CW_CHECK_UNREACHABLE,         /* no HTTP answer */
    CW_CHECK_BAD_ANSWER,          /* not Chatwoot's API at that URL */
    CW_CHECK_NO_ACCOUNT_ACCESS,   /* the token is not for the account */
    CW_CHECK_UNAUTHORIZED         /* the token is refused */
} cw_check_t;

typedef struct {
    uint64_t  checks;            /* finished checks (one per inbox a round) */
    uint64_t  failures;          /* of which failed at transport level */
    uint64_t  last_http_status;  /* 0 when the last check got no answer */
    uint64_t  last_checked_at;   /* unix seconds */
    uint64_t  check;             /* cw_check_t: the worst inbox's last */
} cw_upstream_stats_t;

/* Chatwoot's answers by status class ("none": no HTTP answer at all). */
typedef enum {
    CW_API_NONE = 0,
    CW_API_1XX,
    CW_API_2XX,
    CW_API_3XX,
    CW_API_4XX,
    CW_API_5XX,
    CW_API_CLASSES
} cw_api_class_t;

/* What the helper did with messages, counted since the zone was made. */
typedef struct {
    uint64_t  whatsapp_posted;     /* WhatsApp messages now in Chatwoot */
    uint64_t  whatsapp_failed;     /* given up (logged at error) */
    uint64_t  replies_sent;        /* agent replies handed to WhatsApp */
    uint64_t  replies_failed;      /* marked failed in Chatwoot */
    uint64_t  api_requests;        /* Chatwoot REST requests answered */
    uint64_t  api_retries;         /* of which retried */
    uint64_t  api_status[CW_API_CLASSES];  /* answers by cw_api_class_t */
} cw_bridge_stats_t;

/*
 * How long messages take, as Prometheus histograms: a count per bucket
 * (not cumulative: the metrics location adds them up), the sum in
 * microseconds and, implied, the count (the buckets' total).  Fixed upper
 * bounds, in milliseconds; the last bucket is +Inf.
 */
#define CW_LATENCY_BOUNDS_MS                                                  \
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000
#define CW_LATENCY_BUCKETS  14   /* the bounds above, and +Inf */

typedef struct {
    uint64_t  bucket[CW_LATENCY_BUCKETS];
    uint64_t  sum_usec;
} cw_latency_t;

/*
 * One chatwoot_inbox block's counters, in a slot the helper claims by the
 * block's name (names are written once, before the slot count grows, and
 * never change: a renamed block takes a new slot).  The helper is the only
 * writer; workers read the slots of the blocks their configuration has.
 */
typedef struct {
    char               name[CW_SNAPSHOT_NAME_SIZE];
    cw_bridge_stats_t  bridge;            /* this inbox's share of the totals */
    uint64_t           outbox_pending;    /* gauges, set about once a second */
    uint64_t           outbox_in_flight;
    cw_latency_t       to_chatwoot;       /* device filed it -> POST answered */
    cw_latency_t       to_whatsapp;       /* webhook arrived -> server ack */
} cw_inbox_stats_t;

#define CW_INBOX_SLOTS  CW_SNAPSHOT_DEVICES

typedef struct {
    uint64_t          used;               /* slots claimed, in order */
    cw_inbox_stats_t  slot[CW_INBOX_SLOTS];
} cw_inbox_stats_area_t;

typedef struct {
    uint64_t  outcomes[CW_WH_OUTCOMES];   /* answers, by cw_webhook_outcome_t */
    uint64_t  logged_at[CW_WH_OUTCOMES];  /* unix second of the last log line */
} cw_webhook_stats_t;

typedef struct {
    uint64_t             magic;
    cw_helper_stats_t    helper;
    cw_queue_stats_t     queue;
    cw_store_stats_t     store;
    cw_upstream_stats_t  chatwoot;
    cw_webhook_stats_t   webhook;
    cw_bridge_stats_t    bridge;     /* the helper's totals; per inbox below */
    cw_inbox_stats_area_t  inboxes;  /* fixed size, on top of size= too */
    cw_snapshot_area_t   snapshot;   /* what the helper publishes */
    cw_send_area_t       send;       /* the send API's table and keys */
    cw_ring_t            ring;   /* variable size: keep last */
} cw_shared_t;

#define CW_SHARED_MAGIC  0x6368747700000006ULL


static inline uint64_t
cw_load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void
cw_store(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint64_t
cw_add(uint64_t *p, uint64_t v)
{
    return __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL);
}


/*
 * A consistent copy of the counters for the status location; ring figures
 * are copied under the zone lock by the caller.
 */
typedef struct {
    cw_helper_stats_t    helper;
    cw_queue_stats_t     queue;
    cw_store_stats_t     store;
    cw_upstream_stats_t  chatwoot;
    uint64_t             ring_capacity;
    uint64_t             ring_depth;
    uint64_t             ring_bytes_used;
    uint64_t             ring_bytes_size;
    uint64_t             ring_max_record;
    uint64_t             webhook[CW_WH_OUTCOMES];
    uint64_t             replay_evicted;
    cw_bridge_stats_t    bridge;
    uint64_t             now;
    int                  chatwoot_configured;
} cw_status_t;

/*
 * Renders the status as JSON into buf.  Returns the length written, or 0 if
 * buf is too small (CW_STATUS_MAX is always enough).
 */
#define CW_STATUS_MAX  4096
size_t cw_status_render(const cw_status_t *status, char *buf, size_t size)
    CW_NOEXCEPT;

/*
 * The same with a "devices" list from the helper's snapshot (each device's
 * name, inbox, state, error, own JIDs and whether a QR waits; never its QR
 * text, pair code or names; its restriction).  CW_STATUS_SNAPSHOT_MAX is
 * always enough.
 */
#define CW_STATUS_DEVICE_MAX  6144
#define CW_STATUS_SNAPSHOT_MAX                                                \
    (CW_STATUS_MAX + CW_SNAPSHOT_DEVICES * CW_STATUS_DEVICE_MAX)
size_t cw_status_render_with_snapshot(const cw_status_t *status,
    const cw_snapshot_t *snapshot, char *buf, size_t size) CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_SHARED_H */
