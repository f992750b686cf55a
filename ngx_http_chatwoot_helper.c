
/*
 * The path-manager hook: nginx's master spawns and respawns a "cache
 * manager" process for every path with a manager, and the first call of
 * ours turns that process into the chatwoot helper.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"


/*
 * nginx calls this in its "cache manager" process, which it spawns and
 * respawns for every path with a manager; the first call makes that process
 * our helper for good.
 */

ngx_msec_t
ngx_http_chatwoot_manager(void *data)
{
    ngx_http_chatwoot_main_conf_t  *mcf = data;

    static cw_inbox_conf_t        *inboxes;

    ngx_str_t                     *jids;
    ngx_uint_t                     i, j;
    cw_inbox_conf_t               *ic;
    cw_helper_conf_t               conf;
    ngx_http_chatwoot_inbox_t     *inbox;
    ngx_http_chatwoot_zone_ctx_t  *ctx;

    ctx = mcf->shm_zone->data;

    conf.state_path = (const char *) mcf->state_path->name.data;
    /* the reachability check follows the first inbox for now */

    if (mcf->inboxes.nelts) {
        inbox = ((ngx_http_chatwoot_inbox_t **) mcf->inboxes.elts)[0];
        conf.chatwoot_url = (const char *) inbox->url.data;
        conf.probe_interval_msec = inbox->check_interval;

    } else {
        conf.chatwoot_url = NULL;
        conf.probe_interval_msec = NGX_HTTP_CHATWOOT_CHECK_INTERVAL;
    }

    conf.shared = ctx->sh;
    conf.shpool = ctx->shpool;
    conf.wake_fd = ngx_http_chatwoot_wake_fd;

    /* built once: only the first call starts the helper */

    if (inboxes == NULL) {
        inboxes = ngx_pcalloc(ngx_cycle->pool,
                              (mcf->inboxes.nelts + 1)
                              * sizeof(cw_inbox_conf_t));
        if (inboxes == NULL) {
            return 60 * 60 * 1000;
        }
    }

    conf.inboxes = inboxes;
    conf.inboxes_n = mcf->inboxes.nelts;

    for (i = 0; i < mcf->inboxes.nelts; i++) {
        inbox = ((ngx_http_chatwoot_inbox_t **) mcf->inboxes.elts)[i];
        ic = &inboxes[i];
        ic->name = (const char *) inbox->name.data;
        ic->url = (const char *) inbox->url.data;
        ic->api_token = (const char *) inbox->api_token.data;
        ic->account_id = inbox->account_id;
        ic->inbox_id = inbox->inbox_id == NGX_CONF_UNSET ? 0 : inbox->inbox_id;
        ic->inbox_name = inbox->inbox_name.len
                         ? (const char *) inbox->inbox_name.data : NULL;
        ic->inbox_create_webhook = inbox->inbox_create.len
                                   ? (const char *) inbox->inbox_create.data
                                   : NULL;
        ic->device_timeout_sec = inbox->device_timeout / 1000;
        ic->concurrency = (unsigned) inbox->concurrency;
        ic->rate = (unsigned) inbox->rate;
        ic->reopen_resolved = (int) inbox->reopen_resolved;
        ic->open_as_pending = (int) inbox->open_as_pending;
        ic->synthetic_device = inbox->synthetic_device.len
                               ? (const char *) inbox->synthetic_device.data
                               : NULL;
        ic->ignore_groups = (int) inbox->ignore_groups;
        ic->agent_signature = (int) inbox->agent_signature;
        ic->throttle_base_msec = inbox->throttle_base;
        ic->throttle_cap_msec = inbox->throttle_cap;
        ic->signature_delimiter = (const char *)
                                  inbox->signature_delimiter.data;

        if (inbox->ignore_jids && ic->ignore_jids == NULL) {
            ic->ignore_jids = ngx_pcalloc(ngx_cycle->pool,
                                          inbox->ignore_jids->nelts
                                          * sizeof(char *));
            if (ic->ignore_jids == NULL) {
                return 60 * 60 * 1000;
            }

            jids = inbox->ignore_jids->elts;

            for (j = 0; j < inbox->ignore_jids->nelts; j++) {
                ic->ignore_jids[j] = (const char *) jids[j].data;
            }

            ic->ignore_jids_n = inbox->ignore_jids->nelts;
        }
    }

    return (ngx_msec_t) cw_helper_manager(&conf);
}
