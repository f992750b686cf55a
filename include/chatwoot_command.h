/*
 * Commands: what a worker asks the helper to do (pair a device, log it out,
 * start a history import, send a message, a step of a passkey-gated
 * account's linking), carried on the record ring as
 * CW_RECORD_COMMAND records.  A worker never waits for the helper: it
 * encodes the command, pushes it and answers 202 with the command's id,
 * which the client then polls (the helper publishes what became of it in
 * the snapshot area, see chatwoot_snapshot.h).
 *
 * The record is a compact binary envelope, little-endian:
 *
 *     u8  version (CW_COMMAND_VERSION)
 *     u8  kind (cw_command_kind_t)
 *     u16 flags (CW_COMMAND_IMPORT_*, CW_COMMAND_SEND_KEYED; 0 for other
 *         kinds)
 *     u32 days (import; 0 for other kinds)
 *     i64 created_at (unix seconds, the worker's clock)
 *     then the kind's text fields in a fixed order, each a u32 length and
 *     that many bytes (no NUL):
 *         pair       device
 *         pair_code  device, phone
 *         logout     device
 *         import     inbox, what
 *         send       inbox, to, text, and with CW_COMMAND_SEND_KEYED the
 *                    application's idempotency key ("<scope>:<key>",
 *                    chatwoot_send.h)
 *         passkey    device, assertion (the PublicKeyCredential JSON)
 *         passkey_confirm  device
 *
 * Every text field is valid UTF-8, not empty (text of a send included) and
 * within its CW_COMMAND_*_MAX (an assertion is JSON text too: no control
 * characters but JSON's white space); the helper's decoder
 * (src/ipc/command_record.hpp) refuses anything else, so a record is
 * either whole and sane or reported with a reason.
 *
 * The id is made from the ring's epoch and the record's sequence number:
 * unique across workers (the ring hands out sequence numbers under the zone
 * lock) and across restarts (a new ring or a reset one has a new random
 * epoch), and the helper derives the same id from the record it drains.
 */

#ifndef CHATWOOT_COMMAND_H
#define CHATWOOT_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

#include "chatwoot_ring.h"
#include "chatwoot_webhook.h"

CW_BEGIN_DECLS


#define CW_COMMAND_VERSION        1

typedef enum {
    CW_COMMAND_PAIR = 1,        /* link a device by QR code */
    CW_COMMAND_PAIR_CODE,       /* link a device by a code typed on the phone */
    CW_COMMAND_LOGOUT,          /* unlink a device */
    CW_COMMAND_IMPORT,          /* import an inbox's history into Chatwoot */
    CW_COMMAND_SEND,            /* send a text from an inbox's number */
    CW_COMMAND_PASSKEY,         /* a passkey-gated account's assertion */
    CW_COMMAND_PASSKEY_CONFIRM  /* ... and the operator's word that the
                                   codes on both screens match */
} cw_command_kind_t;

/* Import flags. */
#define CW_COMMAND_IMPORT_MEDIA   0x0001
#define CW_COMMAND_IMPORT_GROUPS  0x0002

/* Send flags: the record carries an idempotency key. */
#define CW_COMMAND_SEND_KEYED     0x0001

/* Field bounds, in bytes. */
#define CW_COMMAND_DEVICE_MAX     64
#define CW_COMMAND_PHONE_MAX      32
#define CW_COMMAND_INBOX_MAX      64
#define CW_COMMAND_WHAT_MAX       32
#define CW_COMMAND_TO_MAX         128
#define CW_COMMAND_TEXT_MAX       65536
#define CW_COMMAND_DAYS_MAX       36500
#define CW_COMMAND_ASSERTION_MAX  65536    /* real ones are under 2 KiB */
#define CW_COMMAND_KEY_MAX        (32 + 1 + 128)   /* scope hex, ':', key */

/*
 * The fixed header, and the largest record any command can make: a send's
 * (a passkey's, CW_COMMAND_PASSKEY_RECORD_MAX, is smaller; the decoder
 * checks that it stays so).
 */
#define CW_COMMAND_HEADER_SIZE    16
#define CW_COMMAND_RECORD_MAX                                                 \
    (CW_COMMAND_HEADER_SIZE + 4 * 4 + CW_COMMAND_INBOX_MAX + CW_COMMAND_TO_MAX \
     + CW_COMMAND_TEXT_MAX + CW_COMMAND_KEY_MAX)
#define CW_COMMAND_PASSKEY_RECORD_MAX                                         \
    (CW_COMMAND_HEADER_SIZE + 2 * 4 + CW_COMMAND_DEVICE_MAX                   \
     + CW_COMMAND_ASSERTION_MAX)

/* "<epoch, 16 hex digits><seq, 16 hex digits>" and a NUL. */
#define CW_COMMAND_ID_LEN         32
#define CW_COMMAND_ID_SIZE        (CW_COMMAND_ID_LEN + 1)

/* What a worker asks for; the fields its kind does not use are ignored. */
typedef struct {
    unsigned           kind;       /* cw_command_kind_t: an integer, so that a
                                      wrong value is refused, not UB in C++ */
    cw_str_t           device;     /* pair, pair_code, logout, passkey,
                                      passkey_confirm */
    cw_str_t           phone;      /* pair_code: the number, digits only */
    cw_str_t           inbox;      /* import, send */
    cw_str_t           what;       /* import: what to import, a word */
    uint32_t           days;       /* import: how far back, 0 for all */
    unsigned           flags;      /* import: CW_COMMAND_IMPORT_* */
    cw_str_t           to;         /* send: a chat JID or a phone number */
    cw_str_t           text;       /* send */
    cw_str_t           key;        /* send: "<scope>:<key>", or empty */
    cw_str_t           assertion;  /* passkey: the PublicKeyCredential JSON */
    int64_t            now;        /* unix seconds */
} cw_command_t;

typedef enum {
    CW_COMMAND_OK = 0,
    CW_COMMAND_INVALID,         /* a field is missing, too long or not
                                   UTF-8: the client's fault (400) */
    CW_COMMAND_FULL,            /* the ring has no room now (503) */
    CW_COMMAND_TOO_LARGE,       /* the ring can never take it (413) */
    CW_COMMAND_CLOSED,          /* nginx is shutting down (503) */
    CW_COMMAND_CORRUPT          /* a broken ring: the helper resets it (503) */
} cw_command_rc_t;

/*
 * The bytes cw_command_encode() writes for cmd, or 0 when cmd is invalid;
 * then reason (if not NULL, NUL-terminated, at most 96 bytes with the NUL)
 * names the field, never its content.
 */
#define CW_COMMAND_REASON_SIZE    96

size_t cw_command_encoded_len(const cw_command_t *cmd, char *reason)
    CW_NOEXCEPT;

/*
 * Writes the record for cmd into buf, without any lock: returns the length
 * written, or 0 when cmd is invalid (reason as above) or cap is less than
 * cw_command_encoded_len().
 */
size_t cw_command_encode(const cw_command_t *cmd, unsigned char *buf,
    size_t cap, char *reason) CW_NOEXCEPT;

/*
 * Pushes an encoded record and writes its id (NUL-terminated) into id.
 * The caller holds the zone's slab mutex, as for cw_ring_push().  Never
 * returns CW_COMMAND_INVALID: the record was checked when it was encoded.
 */
cw_command_rc_t cw_command_push(cw_ring_t *ring, const unsigned char *record,
    size_t len, char id[CW_COMMAND_ID_SIZE]) CW_NOEXCEPT;

/* The id of the record with sequence number seq in a ring of that epoch. */
void cw_command_id(uint64_t epoch, uint64_t seq, char id[CW_COMMAND_ID_SIZE])
    CW_NOEXCEPT;

/* "pair", "pair_code", ..., "passkey", "passkey_confirm"; "unknown" for
 * anything else. */
const char *cw_command_kind_name(unsigned kind) CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_COMMAND_H */
