
/*
 * ngx_http_chatwoot_module: the nginx side of the WhatsApp <-> Chatwoot
 * bridge.
 *
 * This file holds the directives, the main configuration, the shared
 * memory zone and the module's init; the locations, the inbox block and
 * the helper hook have their own files (see ngx_http_chatwoot.h).
 * Everything with state or domain logic lives in the C++ core behind
 * include/.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/eventfd.h>

#include "ngx_http_chatwoot.h"


static ngx_int_t ngx_http_chatwoot_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_chatwoot_init_module(ngx_cycle_t *cycle);

static void *ngx_http_chatwoot_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_chatwoot_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_chatwoot_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_chatwoot_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_chatwoot_state_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chatwoot_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_chatwoot_nul_terminate(ngx_pool_t *pool,
    ngx_str_t *s);


int  ngx_http_chatwoot_wake_fd = -1;


static ngx_command_t  ngx_http_chatwoot_commands[] = {

    { ngx_string("chatwoot_state_path"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_chatwoot_state_path,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chatwoot_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_chatwoot_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chatwoot_inbox"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_chatwoot_inbox_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chatwoot_webhook"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE12,
      ngx_http_chatwoot_webhook,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chatwoot_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chatwoot_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chatwoot_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chatwoot_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chatwoot_devices"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chatwoot_devices,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chatwoot_send"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_chatwoot_send,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chatwoot_import"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chatwoot_import,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_chatwoot_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_chatwoot_create_main_conf,    /* create main configuration */
    ngx_http_chatwoot_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_chatwoot_create_loc_conf,     /* create location configuration */
    ngx_http_chatwoot_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_chatwoot_module = {
    NGX_MODULE_V1,
    &ngx_http_chatwoot_module_ctx,         /* module context */
    ngx_http_chatwoot_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_chatwoot_init_module,         /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_chatwoot_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_chatwoot_zone_ctx_t  *octx = data;

    size_t                         len;
    uint64_t                       epoch;
    ngx_http_chatwoot_shm_root_t  *root;
    ngx_http_chatwoot_zone_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* a reload with the same zone size: the queue and counters live on */

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        ctx->replay = octx->replay;

        ngx_shmtx_lock(&ctx->shpool->mutex);
        ctx->sh->ring.capacity = ctx->capacity;
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /*
     * A process that maps a zone another made (nginx sets "exists" where
     * each process attaches to the mapping on its own, as on Windows)
     * finds every part through the root: the counters and ring, and the
     * replay table, which the first webhook would otherwise meet as NULL.
     */

    if (shm_zone->shm.exists) {
        root = ctx->shpool->data;
        ctx->sh = root->sh;
        ctx->replay = root->replay;
        return NGX_OK;
    }

    root = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_chatwoot_shm_root_t));
    if (root == NULL) {
        return NGX_ERROR;
    }

    ctx->sh = ngx_slab_calloc(ctx->shpool,
                              offsetof(cw_shared_t, ring)
                              + cw_ring_footprint(ctx->ring_size));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->replay = ngx_slab_alloc(ctx->shpool,
                                 cw_replay_footprint(ctx->replay_slots));
    if (ctx->replay == NULL) {
        return NGX_ERROR;
    }

    root->sh = ctx->sh;
    root->replay = ctx->replay;
    ctx->shpool->data = root;

    cw_replay_init(ctx->replay, ctx->replay_slots, cw_webhook_replay_ttl());

    epoch = ((uint64_t) ngx_time() << 32) ^ ((uint64_t) ngx_pid << 16)
            ^ (uint64_t) ngx_random();

    ctx->sh->magic = CW_SHARED_MAGIC;
    cw_ring_init(&ctx->sh->ring, ctx->ring_size, ctx->capacity,
                 epoch);

    len = sizeof(" in chatwoot zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in chatwoot zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


static ngx_int_t
ngx_http_chatwoot_init_module(ngx_cycle_t *cycle)
{
    ngx_core_conf_t                *ccf;
    ngx_http_chatwoot_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_chatwoot_module);

    if (mcf == NULL || mcf->state_path == NULL) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (!ccf->master) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "\"chatwoot_state_path\" needs \"master_process on\": "
                      "the helper process is spawned by the master");
        return NGX_ERROR;
    }

    if (ngx_test_config || ngx_http_chatwoot_wake_fd != -1) {
        return NGX_OK;
    }

    /*
     * Made once, in the master: every worker and helper of this master and
     * of its reloads inherits it; CLOEXEC keeps it out of a new binary.
     */

    ngx_http_chatwoot_wake_fd = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);

    if (ngx_http_chatwoot_wake_fd == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "chatwoot: eventfd() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void *
ngx_http_chatwoot_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_chatwoot_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_chatwoot_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->state_path = NULL;
     *     mcf->shm_zone = NULL;
     */

    mcf->zone_size = NGX_CONF_UNSET_SIZE;
    mcf->queue = NGX_CONF_UNSET_UINT;

    if (ngx_array_init(&mcf->inboxes, cf->pool, 2,
                       sizeof(ngx_http_chatwoot_inbox_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&mcf->locations, cf->pool, 4,
                       sizeof(ngx_http_chatwoot_loc_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return mcf;
}


static char *
ngx_http_chatwoot_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_chatwoot_main_conf_t  *mcf = conf;

    size_t                          max_record;
    ngx_str_t                       name;
    ngx_uint_t                      i;
    cw_ring_t                       probe;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_loc_conf_t  **lcfp;

    ngx_conf_init_size_value(mcf->zone_size, NGX_HTTP_CHATWOOT_ZONE_SIZE);
    ngx_conf_init_uint_value(mcf->queue, NGX_HTTP_CHATWOOT_QUEUE);

    if (mcf->state_path == NULL) {
        lcfp = mcf->locations.elts;

        if (mcf->locations.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" in %s:%ui needs \"chatwoot_state_path\" "
                          "in the http block",
                          lcfp[0]->handler == NGX_HTTP_CHATWOOT_WEBHOOK
                          ? "chatwoot_webhook"
                          : lcfp[0]->handler == NGX_HTTP_CHATWOOT_DEVICES
                          ? "chatwoot_devices"
                          : lcfp[0]->handler == NGX_HTTP_CHATWOOT_METRICS
                          ? "chatwoot_metrics"
                          : lcfp[0]->handler == NGX_HTTP_CHATWOOT_SEND
                          ? "chatwoot_send"
                          : lcfp[0]->handler == NGX_HTTP_CHATWOOT_IMPORT
                          ? "chatwoot_import" : "chatwoot_status",
                          lcfp[0]->file, lcfp[0]->line);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_chatwoot_zone_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * The ring takes what the slab allocator leaves of the zone: its pool
     * header, page descriptors and alignment cost well under 1/16.  The
     * snapshot area and the per-inbox counters are fixed and come on top
     * of size=, with its own
     * sixteenth for the slab's page descriptors, so that size= buys the
     * same ring whatever the area holds.
     */

    ctx->replay_slots = mcf->zone_size / 16 / sizeof(cw_replay_slot_t);
    ctx->ring_size = mcf->zone_size - mcf->zone_size / 16 - 2 * ngx_pagesize
                     - (sizeof(cw_shared_t) - NGX_HTTP_CHATWOOT_FIXED_AREAS)
                     - cw_replay_footprint(ctx->replay_slots);
    ctx->capacity = mcf->queue;

    ngx_str_set(&name, "chatwoot");

    mcf->shm_zone = ngx_shared_memory_add(cf, &name,
                        mcf->zone_size
                        + ngx_align(NGX_HTTP_CHATWOOT_FIXED_AREAS, ngx_pagesize)
                        + ngx_align(NGX_HTTP_CHATWOOT_FIXED_AREAS / 16,
                                    ngx_pagesize),
                        &ngx_http_chatwoot_module);
    if (mcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->shm_zone->init = ngx_http_chatwoot_init_zone;
    mcf->shm_zone->data = ctx;

    /* the largest record this ring takes, known before it exists */

    probe.data_size = ctx->ring_size & ~(size_t) 7;
    max_record = cw_ring_max_record(&probe);

    lcfp = mcf->locations.elts;

    for (i = 0; i < mcf->locations.nelts; i++) {
        if ((lcfp[i]->handler == NGX_HTTP_CHATWOOT_WEBHOOK
             || lcfp[i]->handler == NGX_HTTP_CHATWOOT_SEND)
            && ngx_http_chatwoot_resolve_inbox(cf, mcf, lcfp[i]) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (lcfp[i]->handler == NGX_HTTP_CHATWOOT_WEBHOOK
            && lcfp[i]->max_body > max_record)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"chatwoot_webhook\" in %s:%ui: max_body=%uz "
                          "does not fit the chatwoot_zone of %uz bytes, "
                          "whose largest record is %uz bytes; raise "
                          "\"chatwoot_zone size=\" or lower max_body=",
                          lcfp[i]->file, lcfp[i]->line, lcfp[i]->max_body,
                          mcf->zone_size, max_record);
            return NGX_CONF_ERROR;
        }

        /* the longest text must fit, or a send would answer 413 forever */

        if (lcfp[i]->handler == NGX_HTTP_CHATWOOT_SEND
            && (size_t) CW_COMMAND_RECORD_MAX > max_record)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"chatwoot_send\" in %s:%ui needs records of "
                          "%uz bytes, and the chatwoot_zone of %uz bytes "
                          "takes at most %uz; raise \"chatwoot_zone size=\"",
                          lcfp[i]->file, lcfp[i]->line,
                          (size_t) CW_COMMAND_RECORD_MAX, mcf->zone_size,
                          max_record);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_chatwoot_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_chatwoot_loc_conf_t  *lcf;

    lcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_chatwoot_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lcf->handler = NGX_HTTP_CHATWOOT_NONE;
     *     lcf->file = NULL;
     *     lcf->line = 0;
     */

    lcf->max_body = NGX_CONF_UNSET_SIZE;

    return lcf;
}


static char *
ngx_http_chatwoot_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_chatwoot_loc_conf_t  *conf = child;

    /* handlers are not inherited: each belongs to its own location */

    ngx_conf_init_size_value(conf->max_body, NGX_HTTP_CHATWOOT_MAX_BODY);

    if (conf->handler == NGX_HTTP_CHATWOOT_WEBHOOK) {
        ngx_http_chatwoot_webhook_check_log(cf, conf);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_chatwoot_state_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chatwoot_main_conf_t  *mcf = conf;

    ngx_str_t   *value;
    ngx_path_t  *path;

    if (mcf->state_path != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid chatwoot_state_path \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    path->name = value[1];

    if (path->name.data[path->name.len - 1] == '/') {
        path->name.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &path->name, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the helper hands it to open() and SQLite, which want a C string */

    if (ngx_http_chatwoot_nul_terminate(cf->pool, &path->name) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    path->manager = ngx_http_chatwoot_manager;
    path->data = mcf;
    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    mcf->state_path = path;

    if (ngx_add_path(cf, &mcf->state_path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_chatwoot_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chatwoot_main_conf_t  *mcf = conf;

    ssize_t     size;
    ngx_int_t   n;
    ngx_str_t  *value, s;
    ngx_uint_t  i;

    if (mcf->zone_size != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;
    size = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "size=", 5) == 0) {

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < NGX_HTTP_CHATWOOT_ZONE_MIN) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "chatwoot zone \"%V\" is too small, "
                                   "the least is %uzk", &value[i],
                                   (size_t) NGX_HTTP_CHATWOOT_ZONE_MIN / 1024);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "queue=", 6) == 0) {

            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n == NGX_ERROR || n < 1 || n > NGX_HTTP_CHATWOOT_QUEUE_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid queue length \"%V\", it must be "
                                   "1 to %d", &value[i],
                                   NGX_HTTP_CHATWOOT_QUEUE_MAX);
                return NGX_CONF_ERROR;
            }

            mcf->queue = (ngx_uint_t) n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"size\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    mcf->zone_size = size;

    return NGX_CONF_OK;
}


char *
ngx_http_chatwoot_set_handler(ngx_conf_t *cf,
    ngx_http_chatwoot_loc_conf_t *lcf, ngx_uint_t handler,
    ngx_http_handler_pt pt)
{
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_chatwoot_main_conf_t   *mcf;
    ngx_http_chatwoot_loc_conf_t   **lcfp;

    if (lcf->handler != NGX_HTTP_CHATWOOT_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "this location already has a chatwoot handler");
        return NGX_CONF_ERROR;
    }

    lcf->handler = handler;
    lcf->file = cf->conf_file->file.name.data;
    lcf->line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = pt;

    /* checked against chatwoot_state_path and the zone once http{} ends */

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_chatwoot_module);

    lcfp = ngx_array_push(&mcf->locations);
    if (lcfp == NULL) {
        return NGX_CONF_ERROR;
    }

    *lcfp = lcf;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_chatwoot_nul_terminate(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';
    s->data = p;

    return NGX_OK;
}
