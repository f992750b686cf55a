/*
 * The chatwoot_metrics location's body: the Prometheus text exposition
 * format 0.0.4, made from the zone's counters, the per-inbox counters and
 * the helper's snapshot, without waiting for the helper.
 */

#ifndef CHATWOOT_METRICS_H
#define CHATWOOT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "chatwoot_abi.h"

#include "chatwoot_shared.h"
#include "chatwoot_webhook.h"

CW_BEGIN_DECLS


#define CW_METRICS_CONTENT_TYPE  "text/plain; version=0.0.4; charset=utf-8"

/*
 * Renders the metrics into buf.  `names` are the inbox blocks of the
 * worker's configuration, in order: each gets its labels whether or not
 * the helper has counted anything for it yet (a slot of a block the
 * configuration no longer has is left out).  `snapshot` may be NULL (the
 * helper outran the reader): the device metrics are left out that once.
 *
 * Returns the length the text needs; the text is in buf only when that is
 * at most size (call again with a larger buffer otherwise).  0 when out of
 * memory.  The per-inbox area is read with atomic loads, in place.
 */
size_t cw_metrics_render(const cw_status_t *status,
    const cw_snapshot_t *snapshot, const cw_inbox_stats_area_t *inboxes,
    const cw_str_t *names, size_t names_n, char *buf, size_t size)
    CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_METRICS_H */
