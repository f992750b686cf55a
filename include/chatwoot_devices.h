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
 *     GET  <prefix><name>/login     the operator's page (HTML) that shows it
 *     POST <prefix><name>/pair      pair by QR code       -> 202 {"id"}
 *     POST <prefix><name>/pair-code {"phone":"+55..."}    -> 202 {"id","code"}
 *     GET  <prefix><name>/pair-code the code to type on the phone
 *     POST <prefix><name>/logout    unlink                -> 202 {"id"}
 *     GET  <prefix><name>/passkey   a passkey-gated account's ceremony:
 *                                   the step, the WebAuthn options, the code
 *     POST <prefix><name>/passkey   the PublicKeyCredential JSON -> 202 {"id"}
 *     POST <prefix><name>/passkey/confirm  the codes match      -> 202 {"id"}
 *     GET  <prefix>commands/<id>    what became of a command
 *
 * Device JSON never holds the QR text, the pair code or the passkey
 * options: the QR is served only by <name>/qr, the code only by
 * <name>/pair-code and <name>/passkey, the options only by <name>/passkey.
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
    CW_DEVICES_COMMAND,
    CW_DEVICES_LOGIN,
    CW_DEVICES_PASSKEY,
    CW_DEVICES_PASSKEY_CONFIRM
} cw_devices_endpoint_t;

typedef struct {
    unsigned     endpoint;     /* cw_devices_endpoint_t */
    cw_str_t     name;         /* the device's name or the command's id: a
                                  view into the path */
    int          get;          /* 1: answers GET and HEAD */
    int          post;         /* 1: answers POST */
    const char  *allow;        /* the Allow header of its 405 */
} cw_devices_route_t;

/* The endpoint of path, the part of the URI after the location's prefix. */
void cw_devices_route(cw_str_t path, cw_devices_route_t *route) CW_NOEXCEPT;

/* The largest JSON answer below: every device's strings fully escaped. */
#define CW_DEVICES_JSON_MAX   (CW_SNAPSHOT_DEVICES * 7168)

/* The device named name in snap, or NULL. */
const cw_snapshot_device_t *cw_devices_find(const cw_snapshot_t *snap,
    cw_str_t name) CW_NOEXCEPT;

/*
 * {"devices":[...]} and one device's object: name, inbox, state,
 * state_since, pn_jid, lid, push_name, connected_since, reconnects, error,
 * qr_pending, qr_serial (null for what is unknown).  qr_serial changes
 * whenever the QR to scan does (it is no secret: a count), so that a page
 * polling the device reloads the image only then.  Returns the length
 * written (no NUL), 0 when it does not fit size.
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

/*
 * {"id":"<id>","code":...}: the answer to POST pair-code, with the code
 * device (NULL: not published yet) shows now, else null.  A worker never
 * waits for the helper, so on a first request the code is null and the
 * client polls GET <name>/pair-code once the command is no longer pending
 * (before that, a code shown is the one of an earlier request).
 */
size_t cw_devices_render_code_accepted(const char *id,
    const cw_snapshot_device_t *device, char *buf, size_t size) CW_NOEXCEPT;

/*
 * GET <name>/pair-code: {"code":"ABCD-EFGH","state":"pairing_code"} with
 * status 200 once the helper has published the code; 202 with "code":null
 * while the device pairs by code and the server has not given it one yet;
 * 409 with an "error" too when the device is not pairing by code (linked
 * already, showing a QR, or the helper has not taken the request yet: the
 * command's id says which).  Returns the length written, 0 when it does
 * not fit size.
 */
size_t cw_devices_render_pair_code(const cw_snapshot_device_t *device,
    char *buf, size_t size, unsigned *status) CW_NOEXCEPT;

/*
 * GET <name>/passkey: where a passkey-gated account's linking stands, 200
 * with
 *     {"state":"passkey","step":"assertion"|"confirm"|null,
 *      "options":{WebAuthn request options}|null,"code":"ABCD-EFGH"|null,
 *      "expires_at":<unix seconds>|null}
 * (step assertion: make an assertion with options in a web.whatsapp.com
 * tab and POST it; confirm: compare code with the phone's and POST
 * passkey/confirm; null: the server has the assertion and the code is not
 * there yet), or 409 with the same members and an "error" when the device
 * is in no ceremony (its state says where it is).  Options are re-written
 * from the snapshot's text, so the answer is valid JSON whatever the
 * buffer held.  Returns the length written, 0 when it does not fit size.
 */
size_t cw_devices_render_passkey(const cw_snapshot_device_t *device,
    char *buf, size_t size, unsigned *status) CW_NOEXCEPT;

/*
 * The body of POST <name>/passkey: the PublicKeyCredential JSON as pasted,
 * an object of at most CW_DEVICES_PASSKEY_BODY_MAX bytes of UTF-8.  0 when
 * it is one (the body goes to the helper as it is: the device checks what
 * it says against the options), else -1 with *reason a fixed text that
 * never quotes the body.
 */
#define CW_DEVICES_PASSKEY_BODY_MAX   CW_COMMAND_ASSERTION_MAX

int cw_devices_parse_passkey(const char *body, size_t len,
    const char **reason) CW_NOEXCEPT;

/*
 * GET <name>/login: the operator's page, one self-contained HTML document
 * (src/ipc/login_page.html, embedded at build time) that finds the device
 * from its own URL, and the Content-Security-Policy it is served with
 * (hashes of its one script and one style: nothing else runs or loads
 * except images, fetches and forms of its own origin).  Both are static;
 * the policy is NULL when it could not be made (out of memory).
 */
cw_str_t cw_devices_login_page(void) CW_NOEXCEPT;
const char *cw_devices_login_csp(void) CW_NOEXCEPT;

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
