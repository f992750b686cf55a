
/*
 * The chatwoot_devices location: the operator's device API under the
 * location's prefix (chatwoot_devices.h lists the endpoints).  Reads come
 * from the helper's snapshot, actions go to the helper as command records
 * answered 202 with an id to poll; a worker never waits for the helper.
 *
 * These answers give control of a WhatsApp account: the operator protects
 * the location (allow/deny, auth_basic).  The QR text is served only by
 * <name>/qr, the pair code only by <name>/pair-code (and, for a passkey
 * ceremony, <name>/passkey); neither is logged, nor is a passkey
 * assertion.  <name>/login is a static page that shows them from those
 * endpoints.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"
#include "chatwoot_command.h"
#include "chatwoot_devices.h"
#include "chatwoot_qr.h"
#include "chatwoot_snapshot.h"


/* One device's JSON, or a command's: a device's strings fully escaped. */
#define NGX_HTTP_CHATWOOT_DEVICE_JSON_MAX  (8 * 1024)


static ngx_int_t ngx_http_chatwoot_devices_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_chatwoot_devices_get(ngx_http_request_t *r,
    cw_devices_route_t *route);
static ngx_int_t ngx_http_chatwoot_devices_qr(ngx_http_request_t *r,
    const cw_snapshot_device_t *d);
typedef size_t (*ngx_http_chatwoot_devices_render_pt)(
    const cw_snapshot_device_t *d, char *buf, size_t size, unsigned *status);
static ngx_int_t ngx_http_chatwoot_devices_step(ngx_http_request_t *r,
    const cw_snapshot_device_t *d, ngx_http_chatwoot_devices_render_pt render);
static ngx_int_t ngx_http_chatwoot_devices_login(ngx_http_request_t *r);
static void ngx_http_chatwoot_devices_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_chatwoot_devices_push(ngx_http_request_t *r,
    unsigned kind, cw_str_t name, const char *phone, cw_str_t assertion);
static ngx_uint_t ngx_http_chatwoot_devices_configured(ngx_http_request_t *r,
    cw_str_t name);


static ngx_int_t
ngx_http_chatwoot_devices_handler(ngx_http_request_t *r)
{
    size_t              max;
    ngx_int_t           rc;
    cw_str_t            path, none;
    unsigned            kind;
    cw_devices_route_t  route;

    if (ngx_http_chatwoot_location_path(r, &path) != NGX_OK) {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "not found");
    }

    cw_devices_route(path, &route);

    if (route.endpoint == CW_DEVICES_NOT_FOUND) {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "not found");
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        if (!route.get) {
            return ngx_http_chatwoot_not_allowed(r, route.allow);
        }

    } else if (r->method != NGX_HTTP_POST || !route.post) {
        return ngx_http_chatwoot_not_allowed(r, route.allow);
    }

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_chatwoot_devices_get(r, &route);
    }

    if (!ngx_http_chatwoot_devices_configured(r, route.name)) {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "no such device");
    }

    if (route.endpoint != CW_DEVICES_PAIR_CODE
        && route.endpoint != CW_DEVICES_PASSKEY)
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        switch (route.endpoint) {
        case CW_DEVICES_PAIR:
            kind = CW_COMMAND_PAIR;
            break;
        case CW_DEVICES_PASSKEY_CONFIRM:
            kind = CW_COMMAND_PASSKEY_CONFIRM;
            break;
        default:
            kind = CW_COMMAND_LOGOUT;
            break;
        }

        none.data = NULL;
        none.len = 0;

        return ngx_http_chatwoot_devices_push(r, kind, route.name, NULL,
                                              none);
    }

    max = route.endpoint == CW_DEVICES_PASSKEY ? CW_DEVICES_PASSKEY_BODY_MAX
                                               : CW_DEVICES_BODY_MAX;

    if (r->headers_in.content_length_n > (off_t) max) {
        r->keepalive = 0;
        return ngx_http_chatwoot_send_error(r,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "body too large");
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_chatwoot_devices_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_chatwoot_devices_get(ngx_http_request_t *r,
    cw_devices_route_t *route)
{
    u_char                         *buf;
    size_t                          len, size;
    uint64_t                        epoch, next_seq;
    cw_snapshot_t                  *snap;
    const cw_ring_index_t          *idx;
    const cw_snapshot_device_t     *d;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_main_conf_t  *mcf;

    if (route->endpoint != CW_DEVICES_LIST
        && route->endpoint != CW_DEVICES_COMMAND
        && !ngx_http_chatwoot_devices_configured(r, route->name))
    {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "no such device");
    }

    if (route->endpoint == CW_DEVICES_LOGIN) {
        return ngx_http_chatwoot_devices_login(r);
    }

    snap = ngx_http_chatwoot_read_snapshot(r);
    if (snap == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (snap == (cw_snapshot_t *) -1) {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "the snapshot is busy");
    }

    size = route->endpoint == CW_DEVICES_LIST
           ? CW_DEVICES_JSON_MAX : NGX_HTTP_CHATWOOT_DEVICE_JSON_MAX;

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (route->endpoint) {

    case CW_DEVICES_LIST:
        len = cw_devices_render_list(snap, (char *) buf, size);
        break;

    case CW_DEVICES_COMMAND:
        mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
        ctx = mcf->shm_zone->data;

        /* which ids this ring handed out: a command not published yet */

        ngx_shmtx_lock(&ctx->shpool->mutex);
        idx = cw_ring_current(&ctx->sh->ring);
        epoch = idx->epoch;
        next_seq = idx->next_seq;
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        len = cw_devices_render_command(snap, route->name, epoch, next_seq,
                                        (char *) buf, size);
        if (len == 0) {
            return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_FOUND,
                                                "no such command, or it "
                                                "aged out");
        }

        break;

    default:
        /* one device: configured, but maybe not published yet */

        d = cw_devices_find(snap, route->name);

        if (d == NULL) {
            return ngx_http_chatwoot_send_error(r,
                       NGX_HTTP_SERVICE_UNAVAILABLE,
                       "the helper has not published this device yet");
        }

        if (route->endpoint == CW_DEVICES_QR) {
            return ngx_http_chatwoot_devices_qr(r, d);
        }

        if (route->endpoint == CW_DEVICES_PAIR_CODE) {
            return ngx_http_chatwoot_devices_step(r, d,
                                                  cw_devices_render_pair_code);
        }

        if (route->endpoint == CW_DEVICES_PASSKEY) {
            return ngx_http_chatwoot_devices_step(r, d,
                                                  cw_devices_render_passkey);
        }

        len = cw_devices_render_device(d, (char *) buf, size);
        break;
    }

    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "chatwoot devices: rendering failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_json(r, NGX_HTTP_OK, buf, len);
}


/*
 * <name>/qr: the QR code the device shows now, as a PNG (the default), an
 * SVG or its text (?format=png|svg|text).
 */

static ngx_int_t
ngx_http_chatwoot_devices_qr(ngx_http_request_t *r,
    const cw_snapshot_device_t *d)
{
    u_char     *text, *image, *p;
    size_t      len, n;
    unsigned    format;
    ngx_str_t   arg;

    format = CW_QR_PNG;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK) {

        if (arg.len == 3 && ngx_strncmp(arg.data, "svg", 3) == 0) {
            format = CW_QR_SVG;

        } else if (arg.len == 4 && ngx_strncmp(arg.data, "text", 4) == 0) {
            format = (unsigned) -1;

        } else if (arg.len != 3 || ngx_strncmp(arg.data, "png", 3) != 0) {
            return ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST,
                                                "format must be png, svg "
                                                "or text");
        }
    }

    if (d->state != CW_DEVICE_PAIRING_QR) {
        len = sizeof("device is not waiting for a QR scan: it is ")
              + ngx_strlen(cw_device_state_name(d->state));

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_sprintf(p, "device is not waiting for a QR scan: it is %s%Z",
                    cw_device_state_name(d->state));

        return ngx_http_chatwoot_send_error(r, NGX_HTTP_CONFLICT,
                                            (const char *) p);
    }

    len = ngx_strnlen((u_char *) d->qr, sizeof(d->qr));

    if (len == 0) {
        /* pairing, and the server has not given the first ref yet */
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "no QR code yet");
    }

    /* d is the request's own copy of the snapshot: it stays put */

    text = (u_char *) d->qr;

    if (format == (unsigned) -1) {
        return ngx_http_chatwoot_send_body(r, NGX_HTTP_OK,
                                           "text/plain; charset=utf-8",
                                           text, len);
    }

    n = cw_qr_render((const char *) text, len, format, NULL, 0);

    image = n ? ngx_pnalloc(r->pool, n) : NULL;

    if (image == NULL
        || cw_qr_render((const char *) text, len, format, image, n) != n)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "chatwoot devices: the QR code of a %uz-byte text "
                      "could not be rendered", len);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_body(r, NGX_HTTP_OK,
                                       format == CW_QR_PNG ? "image/png"
                                                           : "image/svg+xml",
                                       image, n);
}


/*
 * A linking step's state, rendered by the core with its status:
 * GET <name>/pair-code (the code to type on the phone: 200 once the helper
 * has published it, 202 while it waits for the server, 409 when the device
 * is not pairing by code) and GET <name>/passkey (the ceremony's step, the
 * WebAuthn options and the code: 200; 409 outside a ceremony).
 */

static ngx_int_t
ngx_http_chatwoot_devices_step(ngx_http_request_t *r,
    const cw_snapshot_device_t *d, ngx_http_chatwoot_devices_render_pt render)
{
    u_char    *buf;
    size_t     len;
    unsigned   status;

    buf = ngx_pnalloc(r->pool, NGX_HTTP_CHATWOOT_DEVICE_JSON_MAX);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = render(d, (char *) buf, NGX_HTTP_CHATWOOT_DEVICE_JSON_MAX, &status);
    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "chatwoot devices: rendering failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_json(r, status, buf, len);
}


/*
 * <name>/login: the operator's page, static, under a policy that lets it
 * run its own script and style and reach nothing but its own origin.
 */

static ngx_int_t
ngx_http_chatwoot_devices_login(ngx_http_request_t *r)
{
    cw_str_t     page;
    const char  *csp;

    page = cw_devices_login_page();
    csp = cw_devices_login_csp();

    if (csp == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "chatwoot devices: no memory for the login page's "
                      "Content-Security-Policy");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_chatwoot_add_header(r, "Content-Security-Policy", csp)
        != NGX_OK
        || ngx_http_chatwoot_add_header(r, "X-Content-Type-Options",
                                        "nosniff") != NGX_OK
        || ngx_http_chatwoot_add_header(r, "X-Frame-Options", "DENY")
           != NGX_OK
        || ngx_http_chatwoot_add_header(r, "Referrer-Policy", "no-referrer")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* static bytes, only read: the buffer points at them */

    return ngx_http_chatwoot_send_body(r, NGX_HTTP_OK,
                                       "text/html; charset=utf-8",
                                       (u_char *) page.data, page.len);
}


/* POST <name>/pair-code and <name>/passkey, once the body is read. */

static void
ngx_http_chatwoot_devices_body(ngx_http_request_t *r)
{
    u_char              *body;
    size_t               len, max;
    cw_str_t             path, assertion;
    const char          *reason, *what;
    cw_devices_route_t   route;
    char                 digits[CW_COMMAND_PHONE_MAX + 1];

    /* the route again: the handler's was on its stack */

    if (ngx_http_chatwoot_location_path(r, &path) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cw_devices_route(path, &route);

    body = ngx_http_chatwoot_read_body(r, &len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    max = route.endpoint == CW_DEVICES_PASSKEY ? CW_DEVICES_PASSKEY_BODY_MAX
                                               : CW_DEVICES_BODY_MAX;

    if (len > max) {
        ngx_http_finalize_request(r,
            ngx_http_chatwoot_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "body too large"));
        return;
    }

    assertion.data = NULL;
    assertion.len = 0;

    if (route.endpoint == CW_DEVICES_PASSKEY) {
        what = "passkey";

        if (cw_devices_parse_passkey((const char *) body, len, &reason)
            == 0)
        {
            /* the paste goes to the helper as it is; never logged */
            assertion.data = (const char *) body;
            assertion.len = len;
            reason = NULL;
        }

    } else {
        what = "pair-code";

        if (cw_devices_parse_pair_code((const char *) body, len, digits,
                                       &reason)
            == 0)
        {
            reason = NULL;
        }
    }

    if (reason != NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot devices: %s refused: %s", what, reason);
        ngx_http_finalize_request(r,
            ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST, reason));
        return;
    }

    ngx_http_finalize_request(r,
        ngx_http_chatwoot_devices_push(r,
            route.endpoint == CW_DEVICES_PASSKEY ? CW_COMMAND_PASSKEY
                                                 : CW_COMMAND_PAIR_CODE,
            route.name, route.endpoint == CW_DEVICES_PASSKEY ? NULL : digits,
            assertion));
}


/*
 * A command record on the ring, under the zone's lock, and the helper
 * woken: 202 with the id the client polls at commands/<id>.
 */

static ngx_int_t
ngx_http_chatwoot_devices_push(ngx_http_request_t *r, unsigned kind,
    cw_str_t name, const char *phone, cw_str_t assertion)
{
    u_char                         *body, *record;
    size_t                          len, size;
    cw_command_t                    cmd;
    ngx_int_t                       rc;
    cw_snapshot_t                  *snap;
    cw_command_rc_t                 pushed;
    const cw_snapshot_device_t     *d;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_main_conf_t  *mcf;
    char                            id[CW_COMMAND_ID_SIZE];

    ngx_memzero(&cmd, sizeof(cw_command_t));

    cmd.kind = kind;
    cmd.device = name;
    cmd.assertion = assertion;
    cmd.now = ngx_time();

    if (phone != NULL) {
        cmd.phone.data = phone;
        cmd.phone.len = ngx_strlen(phone);
    }

    /* up to CW_COMMAND_PASSKEY_RECORD_MAX (an assertion): from the pool */

    rc = ngx_http_chatwoot_command_record(r, &cmd, &record, &len);
    if (record == NULL) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    ctx = mcf->shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    pushed = cw_command_push(&ctx->sh->ring, record, len, id);
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (pushed != CW_COMMAND_OK) {
        return ngx_http_chatwoot_command_refused(r, pushed, "devices");
    }

    ngx_http_chatwoot_wake_helper(ctx->sh);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "chatwoot devices: %s command %s for device \"%*s\"",
                  cw_command_kind_name(kind), id, name.len, name.data);

    size = CW_COMMAND_ID_SIZE + CW_SNAPSHOT_CODE_SIZE + 32;

    body = ngx_pnalloc(r->pool, size);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (kind == CW_COMMAND_PAIR_CODE) {

        /* the code the device shows now: null until the helper has one */

        snap = ngx_http_chatwoot_read_snapshot(r);
        if (snap == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        d = snap == (cw_snapshot_t *) -1 ? NULL : cw_devices_find(snap, name);
        len = cw_devices_render_code_accepted(id, d, (char *) body, size);

    } else {
        len = cw_devices_render_accepted(id, (char *) body, size);
    }

    if (len == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_json(r, NGX_HTTP_ACCEPTED, body, len);
}


/* Whether a chatwoot_inbox block of that name exists: its device does. */

static ngx_uint_t
ngx_http_chatwoot_devices_configured(ngx_http_request_t *r, cw_str_t name)
{
    ngx_uint_t                       i;
    ngx_http_chatwoot_inbox_t      **inboxp;
    ngx_http_chatwoot_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    inboxp = mcf->inboxes.elts;

    for (i = 0; i < mcf->inboxes.nelts; i++) {
        if (inboxp[i]->name.len == name.len
            && ngx_strncmp(inboxp[i]->name.data, name.data, name.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


char *
ngx_http_chatwoot_devices(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
#if (NGX_PCRE)
    ngx_http_core_loc_conf_t  *clcf;

    /* the endpoints are what follows the location's prefix */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->regex) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chatwoot_devices\" needs a prefix location, "
                           "not a regular expression");
        return NGX_CONF_ERROR;
    }
#endif

    return ngx_http_chatwoot_set_handler(cf, conf, NGX_HTTP_CHATWOOT_DEVICES,
                                         ngx_http_chatwoot_devices_handler);
}
