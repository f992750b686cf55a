/*
 * The history import API (the chatwoot_import location): the request's
 * body, and the JSON of jobs from the helper's snapshot.  The glue reads
 * the body and the snapshot, pushes the import command and writes the
 * answers; what they say is decided here.
 *
 *     POST <prefix>       {"inbox","what","days","include_media",
 *                          "include_groups"} (or go-whatsapp-web-
 *                          multidevice's "device_id", "days_limit")
 *                          -> 202 {"id"}; 409 {"error","id"} while the
 *                          inbox has a job queued, running or paused
 *     GET  <prefix>       {"imports":[job, ...]}
 *     GET  <prefix><id>   one job
 */

#ifndef CHATWOOT_IMPORT_H
#define CHATWOOT_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

#include "chatwoot_command.h"
#include "chatwoot_snapshot.h"
#include "chatwoot_webhook.h"

CW_BEGIN_DECLS


/* A request's body: a small JSON object. */
#define CW_IMPORT_BODY_MAX    4096

/* The list's JSON: every job's strings fully escaped. */
#define CW_IMPORT_JSON_MAX    (CW_SNAPSHOT_IMPORTS * 3072)
#define CW_IMPORT_ONE_MAX     3072

/* The days an import goes back when the request says nothing. */
#define CW_IMPORT_DEFAULT_DAYS  3

typedef struct {
    char      inbox[CW_COMMAND_INBOX_MAX + 1];  /* "" when not given */
    char      what[CW_COMMAND_WHAT_MAX + 1];    /* messages (default),
                                                   contacts or all */
    uint32_t  days;                             /* 0: everything */
    int       days_given;                       /* 0: the default */
    unsigned  flags;                            /* CW_COMMAND_IMPORT_*;
                                                   both by default */
} cw_import_request_t;

/*
 * The body of POST (empty: every default).  0 when it is a request, else
 * -1 and reason (NUL-terminated) names the field that is wrong, never its
 * content: a key that is not one of the above, a wrong type, a value out
 * of range.
 */
int cw_import_parse(const char *body, size_t len, cw_import_request_t *req,
    char reason[CW_COMMAND_REASON_SIZE]) CW_NOEXCEPT;

/* The inbox's job that is queued, running or paused, or NULL. */
const cw_snapshot_import_t *cw_import_active(const cw_snapshot_t *snap,
    cw_str_t inbox) CW_NOEXCEPT;

/*
 * {"imports":[...]} and one job: id, inbox (and device_id), what, days,
 * include_media, include_groups, state (and status), chats_total,
 * chats_done, chats_failed, messages_total, messages_done,
 * messages_skipped, messages_failed, contacts_done, current_chat,
 * created_at, started_at, finished_at, updated_at, rate (messages a second
 * since it started), last_error.  Returns the length written (no NUL), 0
 * when it does not fit size.
 */
size_t cw_import_render_list(const cw_snapshot_t *snap, char *buf,
    size_t size) CW_NOEXCEPT;

/*
 * One job by id: from the snapshot; a job the helper has not filed yet
 * (its command is pending, or not published yet while this ring handed the
 * id out) is shown queued; a command the helper refused, failed with its
 * reason.  0 when the id is unknown (404).
 */
size_t cw_import_render_one(const cw_snapshot_t *snap, cw_str_t id,
    uint64_t ring_epoch, uint64_t ring_next_seq, char *buf, size_t size)
    CW_NOEXCEPT;

/* {"error":"...","id":"<the job's id>"}: the 409 answer. */
size_t cw_import_render_conflict(const cw_snapshot_import_t *job, char *buf,
    size_t size) CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_IMPORT_H */
