
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

    ngx_uint_t                     i;
    cw_helper_conf_t               conf;
    ngx_http_chatwoot_inbox_t    **inboxp;
    ngx_http_chatwoot_zone_ctx_t  *ctx;

    ctx = mcf->shm_zone->data;
    inboxp = mcf->inboxes.elts;

    conf.state_path = (const char *) mcf->state_path->name.data;

    /* the reachability check follows the first inbox for now */

    if (mcf->inboxes.nelts) {
        conf.chatwoot_url = inboxp[0]->conf.url;
        conf.probe_interval_msec = inboxp[0]->conf.check_interval_msec;

    } else {
        conf.chatwoot_url = NULL;
        conf.probe_interval_msec = 0;   /* nothing to check */
    }

    conf.shared = ctx->sh;
    conf.shpool = ctx->shpool;
    conf.wake_fd = ngx_http_chatwoot_wake_fd;

    /*
     * Built once: only the first call starts the helper.  The inboxes'
     * strings point into the core's parsers, which live in the cycle's
     * pool as long as this process does.
     */

    if (inboxes == NULL) {
        inboxes = ngx_pcalloc(ngx_cycle->pool,
                              (mcf->inboxes.nelts + 1)
                              * sizeof(cw_inbox_conf_t));
        if (inboxes == NULL) {
            return 60 * 60 * 1000;
        }

        for (i = 0; i < mcf->inboxes.nelts; i++) {
            inboxes[i] = inboxp[i]->conf;
        }
    }

    conf.inboxes = inboxes;
    conf.inboxes_n = mcf->inboxes.nelts;

    return (ngx_msec_t) cw_helper_manager(&conf);
}
