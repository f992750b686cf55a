
/*
 * The chatwoot_metrics location: the shared counters, each inbox's
 * counters and the devices of the helper's snapshot in the Prometheus text
 * format, read without waiting for the helper (a stopped helper still
 * answers, from shared memory).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"
#include "chatwoot_metrics.h"


/* Enough for a few inboxes; more take a second, larger buffer. */
#define NGX_HTTP_CHATWOOT_METRICS_FIRST  (64 * 1024)


static ngx_int_t ngx_http_chatwoot_metrics_handler(ngx_http_request_t *r);


static ngx_int_t
ngx_http_chatwoot_metrics_handler(ngx_http_request_t *r)
{
    u_char                         *buf;
    size_t                          len, size;
    ngx_int_t                       rc;
    ngx_uint_t                      i, attempt;
    cw_str_t                       *names;
    cw_status_t                     st;
    cw_snapshot_t                  *snap;
    ngx_http_chatwoot_inbox_t     **inboxes;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_main_conf_t  *mcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_chatwoot_not_allowed(r, "GET, HEAD");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    ctx = mcf->shm_zone->data;

    ngx_http_chatwoot_read_status(r, &st);

    names = ngx_palloc(r->pool, (mcf->inboxes.nelts + 1) * sizeof(cw_str_t));
    snap = ngx_palloc(r->pool, sizeof(cw_snapshot_t));
    if (names == NULL || snap == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    inboxes = mcf->inboxes.elts;

    for (i = 0; i < mcf->inboxes.nelts; i++) {
        names[i].data = (const char *) inboxes[i]->name.data;
        names[i].len = inboxes[i]->name.len;
    }

    if (cw_snapshot_read(&ctx->sh->snapshot, snap) != CW_SNAPSHOT_OK) {
        /* the helper outran every retry: no device lines, this once */
        snap = NULL;
    }

    /*
     * The text's length is known once it is made: a first buffer fits a
     * few inboxes, a second one is made to measure (with room for numbers
     * that grew meanwhile).
     */

    size = NGX_HTTP_CHATWOOT_METRICS_FIRST;

    for (attempt = 0; attempt < 2; attempt++) {
        buf = ngx_pnalloc(r->pool, size);
        if (buf == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        len = cw_metrics_render(&st, snap, &ctx->sh->inboxes, names,
                                mcf->inboxes.nelts, (char *) buf, size);

        if (len == 0) {
            break;
        }

        if (len <= size) {
            return ngx_http_chatwoot_send_body(r, NGX_HTTP_OK,
                                               CW_METRICS_CONTENT_TYPE,
                                               buf, len);
        }

        size = len + 4096;
    }

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "chatwoot metrics: rendering failed");

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


char *
ngx_http_chatwoot_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_chatwoot_set_handler(cf, conf, NGX_HTTP_CHATWOOT_METRICS,
                                         ngx_http_chatwoot_metrics_handler);
}
