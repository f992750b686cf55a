/*
 * The operator's device API (the chatwoot_devices location): which
 * endpoint a path names, the JSON of devices and commands from the
 * helper's snapshot, and the pair-code request's body.  The glue reads the
 * snapshot, pushes command records and writes the answers; what they say
 * is decided here.
 *
 *     GET  <prefix>                 the devices
 *     GET  <prefix><name>           one device
 *     GET  <prefix><name>/qr        its QR code (chatwoot_qr.h)
 *     POST <prefix><name>/pair      pair by QR code       -> 202 {"id"}
 *     POST <prefix><name>/pair-code {"phone":"+55..."}    -> 202 {"id"}
 *     POST <prefix><name>/logout    unlink                -> 202 {"id"}
 *     GET  <prefix>commands/<id>    what became of a command
 *
 * Device JSON never holds the QR text or the pair code.
 */

#ifndef CHATWOOT_DEVICES_H
#define CHATWOOT_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

#include "chatwoot_command.h"
#include "chatwoot_snapshot.h"
#include "chatwoot_webhook.h"

CW_BEGIN_DECLS


typedef enum {
    CW_DEVICES_NOT_FOUND = 0,
    CW_DEVICES_LIST,
    CW_DEVICES_ONE,
    CW_DEVICES_QR,
    CW_DEVICES_PAIR,
    CW_DEVICES_PAIR_CODE,
    CW_DEVICES_LOGOUT,
    CW_DEVICES_COMMAND
} cw_devices_endpoint_t;

typedef struct {
    unsigned     endpoint;     /* cw_devices_endpoint_t */
    cw_str_t     name;         /* the device's name or the command's id: a
                                  view into the path */
    int          post;         /* 1: answers POST, else GET and HEAD */
    const char  *allow;        /* the Allow header of its 405 */
} cw_devices_route_t;

/* The endpoint of path, the part of the URI after the location's prefix. */
void cw_devices_route(cw_str_t path, cw_devices_route_t *route) CW_NOEXCEPT;

/* The largest JSON answer below: every device's strings fully escaped. */
#define CW_DEVICES_JSON_MAX   (CW_SNAPSHOT_DEVICES * 4096)

/* The device named name in snap, or NULL. */
const cw_snapshot_device_t *cw_devices_find(const cw_snapshot_t *snap,
    cw_str_t name) CW_NOEXCEPT;

/*
 * {"devices":[...]} and one device's object: name, inbox, state,
 * state_since, pn_jid, lid, push_name, connected_since, reconnects, error,
 * qr_pending (null for what is unknown).  Returns the length written (no
 * NUL), 0 when it does not fit size.
 */
size_t cw_devices_render_list(const cw_snapshot_t *snap, char *buf,
    size_t size) CW_NOEXCEPT;
size_t cw_devices_render_device(const cw_snapshot_device_t *device,
    char *buf, size_t size) CW_NOEXCEPT;

/* Whether the device shows a QR code to scan now. */
int cw_devices_qr_pending(const cw_snapshot_device_t *device) CW_NOEXCEPT;

/*
 * What became of command id: its outcome from the snapshot, or "pending"
 * when the id is one the current ring (epoch, next_seq) handed out and the
 * helper has not published yet.  0 when unknown or aged out (404), else
 * the length of the JSON written.
 */
size_t cw_devices_render_command(const cw_snapshot_t *snap, cw_str_t id,
    uint64_t ring_epoch, uint64_t ring_next_seq, char *buf, size_t size)
    CW_NOEXCEPT;

/* {"id":"<id>"}: the answer to a command pushed. */
size_t cw_devices_render_accepted(const char *id, char *buf, size_t size)
    CW_NOEXCEPT;

/* Bodies of POST pair-code. */
#define CW_DEVICES_BODY_MAX   4096

/*
 * The body of POST pair-code, {"phone":"+5511999999999"}: "+" and 8 to 15
 * digits.  Writes the digits (NUL-terminated, without "+") into digits and
 * returns 0, or returns -1 and points *reason at why (a fixed text that
 * never quotes the body).
 */
int cw_devices_parse_pair_code(const char *body, size_t len,
    char digits[CW_COMMAND_PHONE_MAX + 1], const char **reason) CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_DEVICES_H */
