/*
 * The snapshot area: what the helper publishes for the workers to show
 * (devices and their pairing, imports, what became of recent commands,
 * counters the zone's other stats do not have), read without a lock and
 * without ever waiting for the helper.
 *
 * Two buffers and a generation number, seqlock-style: the writer makes the
 * generation odd, writes the spare buffer, and publishes it by making the
 * generation even again; a reader copies the buffer the generation names
 * and keeps the copy when the generation shows the writer did not start on
 * that buffer meanwhile.  Since the writer only ever writes the buffer
 * readers are not meant to read, a reader retries only when the writer
 * published twice during one copy.  A helper killed while writing leaves
 * the generation odd and the published buffer whole; the next one carries
 * on from there.
 *
 * Plain integers and fixed char arrays only (every process maps the zone at
 * its own address).  Strings are NUL-terminated and cut to their arrays at
 * a UTF-8 boundary by the writer; the reader NUL-terminates them again
 * anyway, so a buffer scribbled over is never read past its end.
 *
 * The QR text and the pair code are secrets of the moment: only the devices
 * view shows them, never the status output or a log line.
 */

#ifndef CHATWOOT_SNAPSHOT_H
#define CHATWOOT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

#include "chatwoot_command.h"

CW_BEGIN_DECLS


/*
 * Devices: one per chatwoot_inbox block, and an operator links many numbers
 * to one helper (the session benchmark runs 100): a device past this count
 * has no status, no QR and no page.  A slot is about 2 kB (its QR and passkey options), twice in the zone.
 */
#define CW_SNAPSHOT_DEVICES       128
#define CW_SNAPSHOT_IMPORTS       16
#define CW_SNAPSHOT_COMMANDS      32

/* Array sizes, NUL included; multiples of 8 so that no padding hides. */
#define CW_SNAPSHOT_NAME_SIZE     72     /* device and inbox names */
#define CW_SNAPSHOT_ID_SIZE       40     /* a command id */
#define CW_SNAPSHOT_ERROR_SIZE    256
#define CW_SNAPSHOT_JID_SIZE      64
#define CW_SNAPSHOT_PUSH_NAME_SIZE 128
#define CW_SNAPSHOT_QR_SIZE       512
#define CW_SNAPSHOT_CODE_SIZE     16
#define CW_SNAPSHOT_PASSKEY_SIZE  1024   /* WebAuthn request options (JSON) */

typedef enum {
    CW_DEVICE_UNPAIRED = 0,
    CW_DEVICE_PAIRING_QR,       /* showing a QR code to scan */
    CW_DEVICE_PAIRING_CODE,     /* waiting for the code to be typed */
    CW_DEVICE_CONNECTING,
    CW_DEVICE_CONNECTED,
    CW_DEVICE_LOGGED_OUT,       /* unlinked from the phone */
    CW_DEVICE_ERROR,            /* see error */
    CW_DEVICE_PASSKEY,          /* passkey-gated linking: assertion, then code */
    CW_DEVICE_STATES
} cw_device_state_t;

typedef enum {
    CW_IMPORT_QUEUED = 0,
    CW_IMPORT_RUNNING,
    CW_IMPORT_PAUSED,           /* the helper stopped while it ran: it goes
                                   on when the inbox runs again */
    CW_IMPORT_COMPLETED,
    CW_IMPORT_FAILED,
    CW_IMPORT_STATES
} cw_import_state_t;

typedef enum {
    CW_COMMAND_PENDING = 0,
    CW_COMMAND_DONE,
    CW_COMMAND_FAILED,
    CW_COMMAND_STATES
} cw_command_state_t;

typedef struct {
    uint64_t  state;              /* cw_device_state_t */
    uint64_t  state_since;        /* unix seconds */
    uint64_t  connected_since;    /* unix seconds, 0 when not connected */
    uint64_t  reconnects;
    uint64_t  qr_serial;          /* changes with each QR text shown,
                                     never repeats across helpers */
    char      name[CW_SNAPSHOT_NAME_SIZE];
    char      inbox[CW_SNAPSHOT_NAME_SIZE];
    char      error[CW_SNAPSHOT_ERROR_SIZE];    /* CW_DEVICE_ERROR: why */
    char      pn_jid[CW_SNAPSHOT_JID_SIZE];     /* 5511...:12@s.whatsapp.net */
    char      lid[CW_SNAPSHOT_JID_SIZE];        /* ...@lid */
    char      push_name[CW_SNAPSHOT_PUSH_NAME_SIZE];
    char      qr[CW_SNAPSHOT_QR_SIZE];          /* secret: devices view only */
    char      pair_code[CW_SNAPSHOT_CODE_SIZE]; /* secret: devices view only; the
                                                   passkey ceremony's code too */
    uint64_t  passkey_expires_at;                  /* unix seconds: the step's deadline */
    char      passkey_options[CW_SNAPSHOT_PASSKEY_SIZE];  /* devices view only */
    char      restriction[CW_SNAPSHOT_ERROR_SIZE];  /* an account restriction WhatsApp
                                                       pushed (reach-out time lock,
                                                       new-chat capping), "" for none */
} cw_snapshot_device_t;

typedef struct {
    uint64_t  state;              /* cw_import_state_t */
    uint64_t  created_at;         /* unix seconds */
    uint64_t  started_at;         /* 0: not yet */
    uint64_t  updated_at;
    uint64_t  finished_at;        /* 0: not yet */
    uint64_t  days;               /* the window asked for, 0: all */
    uint64_t  flags;              /* CW_COMMAND_IMPORT_* */
    uint64_t  chats_total;
    uint64_t  chats_done;
    uint64_t  chats_failed;
    uint64_t  messages_total;     /* in the window */
    uint64_t  messages_done;      /* posted by this job */
    uint64_t  messages_skipped;   /* already in Chatwoot */
    uint64_t  messages_failed;
    uint64_t  contacts_done;      /* created or updated */
    char      id[CW_SNAPSHOT_ID_SIZE];          /* the import command's id */
    char      inbox[CW_SNAPSHOT_NAME_SIZE];
    char      what[CW_SNAPSHOT_CODE_SIZE];      /* messages, contacts, all */
    char      current_chat[CW_SNAPSHOT_JID_SIZE];
    char      error[CW_SNAPSHOT_ERROR_SIZE];    /* the last error */
} cw_snapshot_import_t;

/* What became of a recent command, so that its id can be polled. */
typedef struct {
    uint64_t  kind;               /* cw_command_kind_t */
    uint64_t  state;              /* cw_command_state_t */
    uint64_t  created_at;
    uint64_t  updated_at;
    char      id[CW_SNAPSHOT_ID_SIZE];
    char      reason[CW_COMMAND_REASON_SIZE];   /* failed: why */
} cw_snapshot_command_t;

/* Helper-wide figures the zone's other counters do not have. */
typedef struct {
    uint64_t  commands_received;  /* command records committed */
    uint64_t  commands_done;
    uint64_t  commands_failed;
    uint64_t  outbox_pending;     /* agent replies not yet on WhatsApp */
    uint64_t  inbound_pending;    /* WhatsApp messages not yet in Chatwoot */
    uint64_t  wa_received;        /* messages received from the devices */
    uint64_t  devices_connected;
    uint64_t  imports_running;
} cw_snapshot_counters_t;

typedef struct {
    uint64_t                published_at;   /* unix seconds; 0: never */
    uint64_t                helper_pid;     /* the publisher */
    uint64_t                devices_n;      /* entries used in devices[] */
    uint64_t                imports_n;
    uint64_t                commands_n;     /* newest first */
    cw_snapshot_counters_t  counters;
    cw_snapshot_device_t    devices[CW_SNAPSHOT_DEVICES];
    cw_snapshot_import_t    imports[CW_SNAPSHOT_IMPORTS];
    cw_snapshot_command_t   commands[CW_SNAPSHOT_COMMANDS];
} cw_snapshot_t;

#define CW_SNAPSHOT_WORDS  (sizeof(cw_snapshot_t) / sizeof(uint64_t))

/*
 * The area in the zone.  The buffers are words, not cw_snapshot_t: they
 * are only ever touched a word at a time by the two functions below, so
 * that the copy racing the writer is one of atomic words, not a data race.
 */
typedef struct {
    uint64_t  generation;         /* odd while the writer writes */
    uint64_t  publishes;          /* snapshots published, ever */
    uint64_t  buffer[2][CW_SNAPSHOT_WORDS];
} cw_snapshot_area_t;

typedef enum {
    CW_SNAPSHOT_OK = 0,
    CW_SNAPSHOT_BUSY              /* the writer outran every retry */
} cw_snapshot_rc_t;

/* How often a reader tries before it answers CW_SNAPSHOT_BUSY. */
#define CW_SNAPSHOT_READ_TRIES  16

/*
 * Copies the published snapshot into out, without a lock and without
 * waiting.  An area nobody published into reads as an empty snapshot
 * (published_at 0).
 */
cw_snapshot_rc_t cw_snapshot_read(const cw_snapshot_area_t *area,
    cw_snapshot_t *out) CW_NOEXCEPT;

/*
 * Publishes snap.  One writer at a time: the helper that holds the state
 * path's lock.  No lock taken, and readers never wait for it.
 */
void cw_snapshot_publish(cw_snapshot_area_t *area, const cw_snapshot_t *snap)
    CW_NOEXCEPT;

/* "connected", "pairing_qr", ...; "unknown" out of range. */
const char *cw_device_state_name(uint64_t state) CW_NOEXCEPT;
const char *cw_import_state_name(uint64_t state) CW_NOEXCEPT;
const char *cw_command_state_name(uint64_t state) CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_SNAPSHOT_H */
