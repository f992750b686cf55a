
/*
 * The chatwoot_import location: history import jobs under the location's
 * prefix (chatwoot_import.h lists the endpoints).  A POST becomes an import
 * command record answered 202 with the job's id; reads come from the
 * helper's snapshot.  A worker never waits for the helper.
 *
 * An import posts a phone's history into Chatwoot: the operator protects
 * the location (allow/deny, auth_basic), as for chatwoot_devices.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"
#include "chatwoot_command.h"
#include "chatwoot_devices.h"
#include "chatwoot_import.h"
#include "chatwoot_snapshot.h"


static ngx_int_t ngx_http_chatwoot_import_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_chatwoot_import_get(ngx_http_request_t *r,
    cw_str_t id);
static void ngx_http_chatwoot_import_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_chatwoot_import_post(ngx_http_request_t *r,
    u_char *body, size_t len);
static ngx_http_chatwoot_inbox_t *ngx_http_chatwoot_import_inbox(
    ngx_http_request_t *r, cw_import_request_t *req, const char **reason);


static ngx_int_t
ngx_http_chatwoot_import_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    cw_str_t   path;

    if (ngx_http_chatwoot_location_path(r, &path) != NGX_OK
        || ngx_strlchr((u_char *) path.data, (u_char *) path.data + path.len,
                       '/')
           != NULL)
    {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "not found");
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        /* go-whatsapp-web-multidevice's GET /chatwoot/sync/status */

        if (path.len == 6 && ngx_strncmp(path.data, "status", 6) == 0) {
            path.len = 0;
        }

        return ngx_http_chatwoot_import_get(r, path);
    }

    if (path.len != 0) {
        return ngx_http_chatwoot_not_allowed(r, "GET, HEAD");
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_chatwoot_not_allowed(r, "GET, HEAD, POST");
    }

    if (r->headers_in.content_length_n > CW_IMPORT_BODY_MAX) {
        r->keepalive = 0;
        return ngx_http_chatwoot_send_error(r,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "body too large");
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_chatwoot_import_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* GET <prefix>: every job; GET <prefix><id>: one. */

static ngx_int_t
ngx_http_chatwoot_import_get(ngx_http_request_t *r, cw_str_t id)
{
    u_char                         *buf;
    size_t                          len, size;
    uint64_t                        epoch, next_seq;
    cw_snapshot_t                  *snap;
    const cw_ring_index_t          *idx;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_main_conf_t  *mcf;

    snap = ngx_http_chatwoot_read_snapshot(r);
    if (snap == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (snap == (cw_snapshot_t *) -1) {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "the snapshot is busy");
    }

    size = id.len == 0 ? CW_IMPORT_JSON_MAX : CW_IMPORT_ONE_MAX;

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (id.len == 0) {
        len = cw_import_render_list(snap, (char *) buf, size);

    } else {
        mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
        ctx = mcf->shm_zone->data;

        /* which ids this ring handed out: a job not published yet */

        ngx_shmtx_lock(&ctx->shpool->mutex);
        idx = cw_ring_current(&ctx->sh->ring);
        epoch = idx->epoch;
        next_seq = idx->next_seq;
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        len = cw_import_render_one(snap, id, epoch, next_seq, (char *) buf,
                                   size);
        if (len == 0) {
            return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_FOUND,
                                                "no such import, or it aged "
                                                "out");
        }
    }

    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "chatwoot import: rendering failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_json(r, NGX_HTTP_OK, buf, len);
}


static void
ngx_http_chatwoot_import_body(ngx_http_request_t *r)
{
    u_char  *body;
    size_t   len;

    body = ngx_http_chatwoot_read_body(r, &len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_chatwoot_import_post(r, body, len));
}


/*
 * POST <prefix>: checked, then refused with the inbox's job when one is
 * queued or running (409), else pushed as an import command (202).
 */

static ngx_int_t
ngx_http_chatwoot_import_post(ngx_http_request_t *r, u_char *body, size_t len)
{
    u_char                         *out, *record;
    size_t                          n, size;
    cw_str_t                        inbox_name;
    const char                     *why;
    cw_command_t                    cmd;
    ngx_int_t                       rc;
    cw_snapshot_t                  *snap;
    cw_command_rc_t                 pushed;
    cw_import_request_t             req;
    ngx_http_chatwoot_inbox_t      *inbox;
    const cw_snapshot_import_t     *job;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_main_conf_t  *mcf;
    char                            reason[CW_COMMAND_REASON_SIZE];
    char                            id[CW_COMMAND_ID_SIZE];

    if (len > CW_IMPORT_BODY_MAX) {
        return ngx_http_chatwoot_send_error(r,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "body too large");
    }

    if (cw_import_parse((const char *) body, len, &req, reason) != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot import: request refused: %s", reason);
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST, reason);
    }

    inbox = ngx_http_chatwoot_import_inbox(r, &req, &why);
    if (inbox == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot import: request refused: %s", why);
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST, why);
    }

    inbox_name.data = (const char *) inbox->name.data;
    inbox_name.len = inbox->name.len;

    if (!req.days_given && inbox->conf.import_days != 0) {
        req.days = inbox->conf.import_days;
    }

    /* one job per inbox at a time: the helper checks again when it files */

    snap = ngx_http_chatwoot_read_snapshot(r);
    if (snap == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (snap != (cw_snapshot_t *) -1) {
        job = cw_import_active(snap, inbox_name);

        if (job != NULL) {
            size = CW_IMPORT_ONE_MAX;

            out = ngx_pnalloc(r->pool, size);
            if (out == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            n = cw_import_render_conflict(job, (char *) out, size);
            if (n == 0) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_chatwoot_send_json(r, NGX_HTTP_CONFLICT, out, n);
        }
    }

    ngx_memzero(&cmd, sizeof(cw_command_t));

    cmd.kind = CW_COMMAND_IMPORT;
    cmd.inbox = inbox_name;
    cmd.what.data = req.what;
    cmd.what.len = ngx_strlen(req.what);
    cmd.days = req.days;
    cmd.flags = req.flags;
    cmd.now = ngx_time();

    rc = ngx_http_chatwoot_command_record(r, &cmd, &record, &n);
    if (record == NULL) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    ctx = mcf->shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    pushed = cw_command_push(&ctx->sh->ring, record, n, id);
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (pushed != CW_COMMAND_OK) {
        return ngx_http_chatwoot_command_refused(r, pushed, "import");
    }

    ngx_http_chatwoot_wake_helper(ctx->sh);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "chatwoot import: %s of %uD days for inbox \"%V\" queued "
                  "as %s", req.what, req.days, &inbox->name, id);

    size = CW_COMMAND_ID_SIZE + 32;

    out = ngx_pnalloc(r->pool, size);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = cw_devices_render_accepted(id, (char *) out, size);
    if (n == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_json(r, NGX_HTTP_ACCEPTED, out, n);
}


/*
 * The inbox the request names, or the only one configured when it names
 * none; NULL with *reason else.
 */

static ngx_http_chatwoot_inbox_t *
ngx_http_chatwoot_import_inbox(ngx_http_request_t *r,
    cw_import_request_t *req, const char **reason)
{
    size_t                           len;
    ngx_uint_t                       i;
    ngx_http_chatwoot_inbox_t      **inboxp;
    ngx_http_chatwoot_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    inboxp = mcf->inboxes.elts;

    len = ngx_strlen(req->inbox);

    if (len == 0) {
        if (mcf->inboxes.nelts == 1) {
            return inboxp[0];
        }

        *reason = mcf->inboxes.nelts == 0
                  ? "no chatwoot_inbox is configured"
                  : "\"inbox\" is required: several inboxes are configured";
        return NULL;
    }

    for (i = 0; i < mcf->inboxes.nelts; i++) {
        if (inboxp[i]->name.len == len
            && ngx_strncmp(inboxp[i]->name.data, req->inbox, len) == 0)
        {
            return inboxp[i];
        }
    }

    *reason = "\"inbox\" names no configured chatwoot_inbox";
    return NULL;
}


char *
ngx_http_chatwoot_import(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
#if (NGX_PCRE)
    ngx_http_core_loc_conf_t  *clcf;

    /* a job's id is what follows the location's prefix */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->regex) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chatwoot_import\" needs a prefix location, "
                           "not a regular expression");
        return NGX_CONF_ERROR;
    }
#endif

    return ngx_http_chatwoot_set_handler(cf, conf, NGX_HTTP_CHATWOOT_IMPORT,
                                         ngx_http_chatwoot_import_handler);
}
