/*
 * The send API for applications (chatwoot_send): an application asks an
 * inbox's number to send a text to a phone number or a chat, and the
 * message is recorded in Chatwoot as outgoing.
 *
 *   POST <location>         {"to":"+5511...","text":"..."} with
 *                           Authorization: Bearer <token> and, optionally,
 *                           Idempotency-Key: <printable, at most 128 bytes>
 *                           -> 202 {"id":"..."}: a send command on the ring
 *   GET  <location>/<id>    -> {"id","state":"queued|sent|failed",
 *                               "wa_id"?,"reason"?,"chatwoot_message_id"?}
 *
 * A worker never waits for the helper: the POST pushes a command record
 * (chatwoot_command.h) and answers; the GET reads a table the helper
 * publishes in the zone (cw_send_table_t: the last CW_SEND_SLOTS sends,
 * each slot under its own version word, read without a lock), and, for an
 * id the helper has not taken yet, the ring's own position says "queued".
 *
 * Idempotency keys live twice (README, "Send API"): in the zone
 * (cw_send_keys_t, under the zone's lock, so that two workers racing with
 * one key push one command) and in the helper's store (the key of each
 * send it took, for a day: a command that repeats a key is not sent again
 * and shows the first's outcome).  A key is scoped by the location's
 * token: two applications with their own tokens never meet.
 *
 * The token, keys and texts never reach a log line.
 */

#ifndef CHATWOOT_SEND_H
#define CHATWOOT_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

#include "chatwoot_command.h"
#include "chatwoot_webhook.h"

CW_BEGIN_DECLS


#define CW_SEND_BODY_MAX        (256 * 1024)   /* over it: 413 */
#define CW_SEND_TOKEN_MAX       4096
#define CW_SEND_KEY_MAX         128            /* Idempotency-Key, bytes */
#define CW_SEND_KEY_TTL         86400          /* seconds a key holds */
#define CW_SEND_SLOTS           1024           /* sends GET can still see */
#define CW_SEND_KEY_SLOTS       1024           /* keys the zone remembers */

/* Array sizes, NUL included; multiples of 8 so that no padding hides. */
#define CW_SEND_ID_SIZE         40
#define CW_SEND_WA_ID_SIZE      64
#define CW_SEND_REASON_SIZE     256
#define CW_SEND_SCOPE_LEN       32             /* hex digits */
/* "<scope>:<key>", the command record's key field */
#define CW_SEND_SCOPED_KEY_MAX  (CW_SEND_SCOPE_LEN + 1 + CW_SEND_KEY_MAX)

typedef enum {
    CW_SEND_QUEUED = 0,        /* accepted, not on WhatsApp yet */
    CW_SEND_SENT,              /* the server acknowledged it: wa_id */
    CW_SEND_FAILED,            /* will never go: reason */
    CW_SEND_STATES
} cw_send_state_t;

/* One send as the helper publishes it. */
typedef struct {
    uint64_t  version;                 /* odd while the helper writes it */
    uint64_t  state;                   /* cw_send_state_t */
    uint64_t  created_at;              /* unix seconds */
    uint64_t  updated_at;
    uint64_t  chatwoot_message_id;     /* 0: not in Chatwoot (yet) */
    char      id[CW_SEND_ID_SIZE];
    char      wa_id[CW_SEND_WA_ID_SIZE];
    char      reason[CW_SEND_REASON_SIZE];
} cw_send_slot_t;

/*
 * The helper's table: a send goes to slot (its row number modulo
 * CW_SEND_SLOTS), so the newest CW_SEND_SLOTS are there.  taken_* is the
 * ring position of the newest send the helper took: an id of the ring's
 * epoch past it, and before the ring's next sequence number, is still on
 * its way (queued).
 */
typedef struct {
    uint64_t        taken_epoch;
    uint64_t        taken_seq;
    uint64_t        published;          /* slots written, ever */
    uint64_t        reserved;
    cw_send_slot_t  slot[CW_SEND_SLOTS];
} cw_send_table_t;

/* An idempotency key a worker took, under the zone's lock. */
typedef struct {
    uint64_t  created_at;               /* unix seconds; 0: free */
    uint64_t  hash;                     /* of scope and key: the quick test */
    char      scoped_key[CW_SEND_SCOPED_KEY_MAX + 7];   /* NUL-terminated */
    char      id[CW_SEND_ID_SIZE];
} cw_send_key_t;

typedef struct {
    uint64_t       next;                /* the slot the next key takes */
    cw_send_key_t  slot[CW_SEND_KEY_SLOTS];
} cw_send_keys_t;

/* Both in the zone, next to the snapshot area. */
typedef struct {
    cw_send_table_t  table;
    cw_send_keys_t   keys;
} cw_send_area_t;


/*
 * The token file's content as the token: one trailing newline (LF or CRLF)
 * dropped; refused (0, with the reason) when empty, longer than
 * CW_SEND_TOKEN_MAX, or holding white space or control characters.
 */
int cw_send_token_parse(const char *data, size_t len, cw_str_t *token,
    char reason[CW_COMMAND_REASON_SIZE]) CW_NOEXCEPT;

/*
 * Whether an Authorization header value is "Bearer <token>" (the scheme in
 * any case) for this token, in time that depends on neither's content.
 */
int cw_send_authorized(const char *header, size_t len, const char *token,
    size_t token_len) CW_NOEXCEPT;

/* The scope of a token's idempotency keys: CW_SEND_SCOPE_LEN hex digits
 * (a hash of the token, which it does not reveal) and a NUL. */
void cw_send_scope(const char *token, size_t len,
    char scope[CW_SEND_SCOPE_LEN + 1]) CW_NOEXCEPT;

/* An Idempotency-Key's value: 1 when usable (printable ASCII, 1 to
 * CW_SEND_KEY_MAX bytes), else 0 with the reason. */
int cw_send_key_valid(const char *key, size_t len,
    char reason[CW_COMMAND_REASON_SIZE]) CW_NOEXCEPT;

/*
 * A POST body.  On success (1) `to` holds the chat, normalised
 * ("+5511..." becomes "5511...@s.whatsapp.net"; a JID is kept), NUL-
 * terminated, and the text is written into text_buf (text_cap >= len
 * always suffices) with its length in *text_len.  On failure (0) reason
 * names the field, never its content.
 */
int cw_send_parse(const char *body, size_t len,
    char to[CW_COMMAND_TO_MAX + 1], char *text_buf, size_t text_cap,
    size_t *text_len, char reason[CW_COMMAND_REASON_SIZE]) CW_NOEXCEPT;

typedef enum {
    CW_SEND_FOUND = 0,         /* *out is the send */
    CW_SEND_NOT_TAKEN,         /* the helper has not taken it yet: queued */
    CW_SEND_UNKNOWN            /* never given out, or aged out */
} cw_send_lookup_t;

/*
 * GET <id>: the table's slot of that id, copied into out without a lock;
 * else whether the ring (its epoch and next sequence number, read under
 * the lock by the caller) says it is still on its way.
 */
cw_send_lookup_t cw_send_lookup(const cw_send_table_t *table,
    const char *id, size_t len, uint64_t ring_epoch, uint64_t next_seq,
    cw_send_slot_t *out) CW_NOEXCEPT;

/* The helper's write of one slot (one writer: the lock holder). */
void cw_send_publish(cw_send_table_t *table, size_t index,
    const cw_send_slot_t *slot) CW_NOEXCEPT;
void cw_send_taken(cw_send_table_t *table, uint64_t epoch, uint64_t seq)
    CW_NOEXCEPT;

/*
 * The zone's keys, under the zone's lock: the id the key was first given
 * within CW_SEND_KEY_TTL (1, id written), else 0.  put() takes the oldest
 * slot (round robin): past CW_SEND_KEY_SLOTS keys a day, older keys are
 * the helper's to catch.
 */
int cw_send_keys_find(const cw_send_keys_t *keys, const char *scoped_key,
    size_t len, uint64_t now, char id[CW_COMMAND_ID_SIZE]) CW_NOEXCEPT;
void cw_send_keys_put(cw_send_keys_t *keys, const char *scoped_key,
    size_t len, const char *id, uint64_t now) CW_NOEXCEPT;

/* Answers: 202 {"id":...}, and a send's state.  The length written, or 0
 * when size is too small (CW_SEND_JSON_MAX always suffices). */
#define CW_SEND_JSON_MAX  1024
size_t cw_send_render_accepted(const char *id, char *buf, size_t size)
    CW_NOEXCEPT;
size_t cw_send_render_slot(const cw_send_slot_t *slot, char *buf,
    size_t size) CW_NOEXCEPT;
size_t cw_send_render_queued(const char *id, size_t len, char *buf,
    size_t size) CW_NOEXCEPT;

/* "queued", "sent", "failed"; "unknown" out of range. */
const char *cw_send_state_name(uint64_t state) CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_SEND_H */
