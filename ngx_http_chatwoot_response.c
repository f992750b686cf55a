
/*
 * The answers every chatwoot location gives: JSON bodies, errors as
 * {"error":"..."}, and the headers they carry; and what the locations that
 * take commands (devices, import, send) share: the record's encoding, the
 * answer when the queue does not take it, and the snapshot's copy.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"


ngx_int_t
ngx_http_chatwoot_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    return ngx_http_chatwoot_send_body(r, status, "application/json", body,
                                       len);
}


/* Any body: a QR code's image or text too.  Never cached. */

ngx_int_t
ngx_http_chatwoot_send_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, u_char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_chatwoot_add_header(r, "Cache-Control", "no-store")
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the queue drains within milliseconds once the helper runs */

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_chatwoot_add_header(r, "Retry-After", "1") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_chatwoot_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason)
{
    u_char  *p, *q;
    size_t   len, n;

    if (r->request_body == NULL) {

        /* no "100 Continue" for a body we are going to throw away */

        r->expect_tested = 1;

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            r->keepalive = 0;
        }
    }

    n = ngx_strlen(reason);
    len = sizeof("{\"error\":\"\"}") - 1 + n
          + ngx_escape_json(NULL, (u_char *) reason, n);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q = ngx_cpymem(p, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
    q = (u_char *) ngx_escape_json(q, (u_char *) reason, n);
    ngx_memcpy(q, "\"}", 2);

    return ngx_http_chatwoot_send_json(r, status, p, len);
}


ngx_int_t
ngx_http_chatwoot_not_allowed(ngx_http_request_t *r, const char *allow)
{
    if (ngx_http_chatwoot_add_header(r, "Allow", allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                        "method not allowed");
}


ngx_int_t
ngx_http_chatwoot_add_header(ngx_http_request_t *r, const char *key,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


/*
 * The URI after a prefix location's name; with a name that does not end
 * in "/", the "/" that follows it ("/devices" + "/main").  NGX_DECLINED
 * for a URI the location's name does not start.
 */

ngx_int_t
ngx_http_chatwoot_location_path(ngx_http_request_t *r, cw_str_t *path)
{
    u_char                    *p, *last;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->uri.len < clcf->name.len
        || ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) != 0)
    {
        return NGX_DECLINED;
    }

    p = r->uri.data + clcf->name.len;
    last = r->uri.data + r->uri.len;

    if (p < last
        && (clcf->name.len == 0 || clcf->name.data[clcf->name.len - 1] != '/'))
    {
        if (*p != '/') {
            return NGX_DECLINED;
        }

        p++;
    }

    path->data = (const char *) p;
    path->len = last - p;

    return NGX_OK;
}


/*
 * cmd's record from r's pool into *record and *len, and NGX_OK; or, with
 * *record NULL, what the handler returns: a 400 naming the field, a 500.
 */

ngx_int_t
ngx_http_chatwoot_command_record(ngx_http_request_t *r,
    const cw_command_t *cmd, u_char **record, size_t *len)
{
    size_t   size;
    u_char  *buf;
    char     reason[CW_COMMAND_REASON_SIZE];

    *record = NULL;
    *len = 0;

    size = cw_command_encoded_len(cmd, reason);
    if (size == 0) {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST, reason);
    }

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    size = cw_command_encode(cmd, buf, size, reason);
    if (size == 0) {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST, reason);
    }

    *record = buf;
    *len = size;

    return NGX_OK;
}


/*
 * The answer to a command the queue did not take (rc is not
 * CW_COMMAND_OK); `who` names the location in the log line.  Every 503
 * carries Retry-After (ngx_http_chatwoot_send_json).
 */

ngx_int_t
ngx_http_chatwoot_command_refused(ngx_http_request_t *r, cw_command_rc_t rc,
    const char *who)
{
    switch (rc) {

    case CW_COMMAND_FULL:
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "chatwoot %s: queue is full, answering 503", who);
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "queue is full");

    case CW_COMMAND_TOO_LARGE:
        return ngx_http_chatwoot_send_error(r,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "too large for the queue");

    default:
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "not accepting commands now");
    }
}


/*
 * The request's own copy of the helper's snapshot (tens of KiB: from the
 * pool, not the stack); NULL without memory, (cw_snapshot_t *) -1 when the
 * helper outran every retry.
 */

cw_snapshot_t *
ngx_http_chatwoot_read_snapshot(ngx_http_request_t *r)
{
    cw_snapshot_t                  *snap;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    ctx = mcf->shm_zone->data;

    snap = ngx_palloc(r->pool, sizeof(cw_snapshot_t));
    if (snap == NULL) {
        return NULL;
    }

    if (cw_snapshot_read(&ctx->sh->snapshot, snap) != CW_SNAPSHOT_OK) {
        return (cw_snapshot_t *) -1;
    }

    return snap;
}
