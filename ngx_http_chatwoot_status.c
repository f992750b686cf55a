
/*
 * The chatwoot_status location: the shared counters and the devices of the
 * helper's snapshot as JSON, read without waiting for the helper.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"


static ngx_int_t ngx_http_chatwoot_status_handler(ngx_http_request_t *r);


static ngx_int_t
ngx_http_chatwoot_status_handler(ngx_http_request_t *r)
{
    u_char                         *buf;
    size_t                          len;
    ngx_int_t                       rc;
    cw_shared_t                    *sh;
    cw_status_t                     st;
    cw_snapshot_t                  *snap;
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
    sh = ctx->sh;

    ngx_http_chatwoot_read_status(r, &st);


    /* some 45 KiB: from the request's pool, not the stack */
    snap = ngx_palloc(r->pool, sizeof(cw_snapshot_t));
    buf = ngx_pnalloc(r->pool, CW_STATUS_SNAPSHOT_MAX);
    if (snap == NULL || buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cw_snapshot_read(&sh->snapshot, snap) != CW_SNAPSHOT_OK) {
        /* the helper outran every retry: the counters alone, this once */
        len = cw_status_render(&st, (char *) buf, CW_STATUS_MAX);

    } else {
        len = cw_status_render_with_snapshot(&st, snap, (char *) buf,
                                             CW_STATUS_SNAPSHOT_MAX);
    }

    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "chatwoot status: rendering failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_json(r, NGX_HTTP_OK, buf, len);
}


/*
 * The zone's counters as the status and metrics locations show them: a
 * copy made with atomic loads, the ring's figures under the zone lock.
 */

void
ngx_http_chatwoot_read_status(ngx_http_request_t *r, cw_status_t *st)
{
    uint64_t                       *total, used;
    ngx_uint_t                      i, k, words;
    cw_shared_t                    *sh;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    ctx = mcf->shm_zone->data;
    sh = ctx->sh;

    ngx_memzero(st, sizeof(cw_status_t));

    st->helper.pid = cw_load(&sh->helper.pid);
    st->helper.state = cw_load(&sh->helper.state);
    st->helper.started_at = cw_load(&sh->helper.started_at);
    st->helper.starts = cw_load(&sh->helper.starts);
    st->helper.fast_crashes = cw_load(&sh->helper.fast_crashes);
    st->queue.enqueued = cw_load(&sh->queue.enqueued);
    st->queue.rejected_full = cw_load(&sh->queue.rejected_full);
    st->queue.rejected_large = cw_load(&sh->queue.rejected_large);
    st->queue.rejected_closed = cw_load(&sh->queue.rejected_closed);
    st->queue.resets = cw_load(&sh->queue.resets);
    st->store.persisted = cw_load(&sh->store.persisted);
    st->store.batches = cw_load(&sh->store.batches);
    st->store.errors = cw_load(&sh->store.errors);
    st->store.dead_letters = cw_load(&sh->store.dead_letters);
    st->chatwoot.checks = cw_load(&sh->chatwoot.checks);
    st->chatwoot.failures = cw_load(&sh->chatwoot.failures);
    st->chatwoot.last_http_status = cw_load(&sh->chatwoot.last_http_status);
    st->chatwoot.last_checked_at = cw_load(&sh->chatwoot.last_checked_at);
    st->chatwoot.check = cw_load(&sh->chatwoot.check);
    st->chatwoot_configured = mcf->inboxes.nelts > 0;

    for (i = 0; i < CW_WH_OUTCOMES; i++) {
        st->webhook[i] = cw_load(&sh->webhook.outcomes[i]);
    }

    /*
     * The helper counts each inbox's messages in its slot, and what no
     * slot took in the zone's own totals: the sum of all is the total.
     */

    total = (uint64_t *) &st->bridge;
    words = sizeof(cw_bridge_stats_t) / sizeof(uint64_t);

    for (k = 0; k < words; k++) {
        total[k] = cw_load((uint64_t *) &sh->bridge + k);
    }

    used = cw_load(&sh->inboxes.used);
    used = ngx_min(used, CW_INBOX_SLOTS);

    for (i = 0; i < used; i++) {
        for (k = 0; k < words; k++) {
            total[k] += cw_load((uint64_t *) &sh->inboxes.slot[i].bridge + k);
        }
    }

    st->now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);
    st->ring_capacity = sh->ring.capacity;
    st->ring_depth = cw_ring_current(&sh->ring)->count;
    st->ring_bytes_used = cw_ring_current(&sh->ring)->used;
    st->ring_bytes_size = sh->ring.data_size;
    st->ring_max_record = cw_ring_max_record(&sh->ring);
    st->replay_evicted = ctx->replay->evicted;
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


char *
ngx_http_chatwoot_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_chatwoot_set_handler(cf, conf, NGX_HTTP_CHATWOOT_STATUS,
                                         ngx_http_chatwoot_status_handler);
}
