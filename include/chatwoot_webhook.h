/*
 * The worker's view of one Chatwoot webhook request: authenticate it,
 * parse it, and say what to answer and what (if anything) to queue.  The
 * glue gathers the pieces from the request and does the queueing; this
 * decides.
 */

#ifndef CHATWOOT_WEBHOOK_H
#define CHATWOOT_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

CW_BEGIN_DECLS


/* Every outcome has its own counter in the status output. */
typedef enum {
    CW_WH_QUEUED = 0,
    CW_WH_IGNORED_PRIVATE,
    CW_WH_IGNORED_NOT_OUTGOING,
    CW_WH_IGNORED_OWN_ECHO,
    CW_WH_IGNORED_UNKNOWN_EVENT,
    CW_WH_IGNORED_NOT_DELETION,
    CW_WH_REJECTED_UNCONFIGURED,
    CW_WH_REJECTED_UNSIGNED,
    CW_WH_REJECTED_SIGNATURE,
    CW_WH_REJECTED_TIMESTAMP,
    CW_WH_REJECTED_TOKEN,
    CW_WH_REJECTED_CONTENT_TYPE,
    CW_WH_REJECTED_MALFORMED,
    CW_WH_REJECTED_REPLAY,
    CW_WH_OUTCOMES
} cw_webhook_outcome_t;

typedef struct {
    const char  *data;
    size_t       len;     /* 0 with data NULL: absent */
} cw_str_t;

typedef struct {
    cw_str_t     inbox;            /* the chatwoot_inbox block's name */
    cw_str_t     secret;           /* webhook secret, or absent */
    cw_str_t     token;            /* URL token, or absent */
    cw_str_t     body;
    cw_str_t     content_type;     /* request headers, absent when missing */
    cw_str_t     signature;
    cw_str_t     timestamp;
    cw_str_t     delivery;
    cw_str_t     given_token;      /* the request's ?token= argument */
    int64_t      now;
    int64_t      accepted_msec;    /* the request's arrival, unix ms (the
                                      metrics' latency); 0: not known */
} cw_webhook_request_t;

typedef struct {
    cw_webhook_outcome_t  outcome;
    unsigned              status;      /* HTTP status to answer */
    char                  reason[96];  /* NUL-terminated, no body content */
    size_t                record_len;  /* bytes written to the record buffer */
    uint64_t              replay_keys[2];
    unsigned              replay_keys_n;
} cw_webhook_result_t;

/*
 * Decides.  When outcome is CW_WH_QUEUED, record[0..record_len) is the
 * normalised event to queue: {"inbox":..,"delivery":..,"received_at":..,
 * "accepted_msec":.. (when known),"event":{..}}.  record_cap should be body.len + CW_WEBHOOK_RECORD_SLACK;
 * a record that does not fit answers 500 (never a partial record).
 */
#define CW_WEBHOOK_RECORD_SLACK  4096

void cw_webhook_inspect(const cw_webhook_request_t *req,
    unsigned char *record, size_t record_cap, cw_webhook_result_t *result)
    CW_NOEXCEPT;

const char *cw_webhook_outcome_name(cw_webhook_outcome_t outcome) CW_NOEXCEPT;

/*
 * Seconds the replay filter (chatwoot_replay.h) must remember a webhook's
 * keys: as long as its signature's timestamp window lets it be replayed.
 */
uint64_t cw_webhook_replay_ttl(void) CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_WEBHOOK_H */
