/*
 * The helper process, as the C glue sees it: one call, made by nginx's
 * cache-manager loop through the path manager hook.  The first call turns
 * the process into the chatwoot helper; later calls only report how long
 * nginx may wait before calling again.
 */

#ifndef CHATWOOT_HELPER_H
#define CHATWOOT_HELPER_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_shared.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef struct {
    const char   *state_path;     /* NUL-terminated, absolute */
    const char   *chatwoot_url;   /* NUL-terminated, or NULL */
    cw_shared_t  *shared;
    void         *shpool;         /* ngx_slab_pool_t *: its mutex guards ring */
    int           wake_fd;        /* eventfd made once by the master */
    uint64_t      probe_interval_msec;
} cw_helper_conf_t;

/* Milliseconds until nginx should call again. */
uint64_t cw_helper_manager(const cw_helper_conf_t *conf) CW_NOEXCEPT;


#ifdef __cplusplus
}
#endif

#endif /* CHATWOOT_HELPER_H */
