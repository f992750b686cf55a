
/*
 * ngx_http_chatwoot_module: the nginx side of the WhatsApp <-> Chatwoot
 * bridge.
 *
 * This file is the thin glue: directives, the shared memory zone, the HTTP
 * locations and the hook that makes nginx spawn and supervise our helper
 * process.  Everything with state or domain logic lives in the C++ core
 * behind include/.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/eventfd.h>

#include "chatwoot_helper.h"
#include "chatwoot_replay.h"
#include "chatwoot_ring.h"
#include "chatwoot_shared.h"
#include "chatwoot_webhook.h"


#define NGX_HTTP_CHATWOOT_ZONE_SIZE      (4 * 1024 * 1024)
#define NGX_HTTP_CHATWOOT_ZONE_MIN       (128 * 1024)
#define NGX_HTTP_CHATWOOT_QUEUE          4096
#define NGX_HTTP_CHATWOOT_QUEUE_MAX      (1024 * 1024)
#define NGX_HTTP_CHATWOOT_MAX_BODY       (256 * 1024)
#define NGX_HTTP_CHATWOOT_CHECK_INTERVAL 60000
#define NGX_HTTP_CHATWOOT_SECRET_MAX     4096
#define NGX_HTTP_CHATWOOT_DEVICE_TIMEOUT (5 * 60 * 1000)
/* remembered past the timestamp window: 5 min back, 1 min ahead */
#define NGX_HTTP_CHATWOOT_REPLAY_TTL     600

/* Handlers a location can have. */
#define NGX_HTTP_CHATWOOT_NONE           0
#define NGX_HTTP_CHATWOOT_WEBHOOK        1
#define NGX_HTTP_CHATWOOT_STATUS         2


typedef struct {
    cw_shared_t                 *sh;
    ngx_slab_pool_t             *shpool;
    cw_replay_t                 *replay;
    size_t                       ring_size;
    size_t                       replay_slots;
    ngx_uint_t                   capacity;
} ngx_http_chatwoot_zone_ctx_t;


/* One chatwoot_inbox block: a Chatwoot inbox and how to talk to it. */
typedef struct {
    ngx_str_t                    name;
    ngx_str_t                    url;            /* NUL-terminated */
    ngx_msec_t                   check_interval;
    ngx_int_t                    account_id;
    ngx_int_t                    inbox_id;
    ngx_str_t                    inbox_name;     /* NUL-terminated */
    ngx_str_t                    inbox_create;   /* webhook URL, NUL-term. */
    ngx_str_t                    api_token;
    ngx_str_t                    webhook_secret;
    ngx_str_t                    webhook_token;
    ngx_flag_t                   agent_signature;
    ngx_str_t                    signature_delimiter;
    ngx_flag_t                   reopen_resolved;
    ngx_flag_t                   open_as_pending;
    ngx_flag_t                   ignore_groups;
    ngx_msec_t                   device_timeout;
    ngx_msec_t                   throttle_base;
    ngx_msec_t                   throttle_cap;
    ngx_str_t                    synthetic_device;   /* NUL-terminated */
    ngx_array_t                 *ignore_jids;    /* of ngx_str_t */
    ngx_uint_t                   concurrency;
    ngx_uint_t                   rate;           /* requests/s, 0: no cap */
    u_char                      *file;
    ngx_uint_t                   line;
} ngx_http_chatwoot_inbox_t;


typedef struct {
    ngx_path_t                  *state_path;
    ngx_shm_zone_t              *shm_zone;
    size_t                       zone_size;
    ngx_uint_t                   queue;
    ngx_array_t                  inboxes;        /* of *inbox */
    ngx_array_t                  locations;      /* of *loc conf */
} ngx_http_chatwoot_main_conf_t;


typedef struct {
    ngx_uint_t                   handler;
    ngx_str_t                    inbox_name;     /* as written, may be empty */
    ngx_http_chatwoot_inbox_t   *inbox;          /* resolved after http{} */
    size_t                       max_body;
    u_char                      *file;           /* where it was declared */
    ngx_uint_t                   line;
} ngx_http_chatwoot_loc_conf_t;


static ngx_int_t ngx_http_chatwoot_webhook_handler(ngx_http_request_t *r);
static void ngx_http_chatwoot_webhook_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_chatwoot_enqueue(ngx_http_request_t *r,
    ngx_http_chatwoot_loc_conf_t *lcf);
static u_char *ngx_http_chatwoot_read_body(ngx_http_request_t *r,
    size_t *len);
static ngx_int_t ngx_http_chatwoot_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_chatwoot_send_json(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len);
static ngx_int_t ngx_http_chatwoot_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *reason);
static ngx_int_t ngx_http_chatwoot_not_allowed(ngx_http_request_t *r,
    const char *allow);
static ngx_int_t ngx_http_chatwoot_add_header(ngx_http_request_t *r,
    const char *key, const char *value);
static void ngx_http_chatwoot_wake_helper(cw_shared_t *sh);
static void ngx_http_chatwoot_webhook_request(ngx_http_request_t *r,
    ngx_http_chatwoot_inbox_t *inbox, u_char *body, size_t len,
    cw_webhook_request_t *req);
static void ngx_http_chatwoot_count(ngx_http_request_t *r, cw_shared_t *sh,
    ngx_http_chatwoot_inbox_t *inbox, cw_webhook_outcome_t outcome,
    const char *reason);

static ngx_msec_t ngx_http_chatwoot_manager(void *data);
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
static char *ngx_http_chatwoot_inbox_block(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_chatwoot_inbox_directive(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_chatwoot_parse_url(ngx_conf_t *cf,
    ngx_http_chatwoot_inbox_t *inbox, ngx_str_t *value, ngx_uint_t n);
static char *ngx_http_chatwoot_parse_inbox(ngx_conf_t *cf,
    ngx_http_chatwoot_inbox_t *inbox, ngx_str_t *value, ngx_uint_t n);
static ngx_int_t ngx_http_chatwoot_is_http_url(ngx_str_t *url);
static char *ngx_http_chatwoot_read_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *secret);
static ngx_int_t ngx_http_chatwoot_parse_flag(ngx_conf_t *cf, ngx_str_t *value,
    ngx_flag_t *flag);
static char *ngx_http_chatwoot_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chatwoot_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chatwoot_set_handler(ngx_conf_t *cf,
    ngx_http_chatwoot_loc_conf_t *lcf, ngx_uint_t handler,
    ngx_http_handler_pt pt);
static ngx_int_t ngx_http_chatwoot_nul_terminate(ngx_pool_t *pool,
    ngx_str_t *s);
static ngx_int_t ngx_http_chatwoot_resolve_inbox(ngx_conf_t *cf,
    ngx_http_chatwoot_main_conf_t *mcf, ngx_http_chatwoot_loc_conf_t *lcf);


/* The eventfd that wakes the helper: made once per master, inherited. */
static int  ngx_http_chatwoot_wake_fd = -1;


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
ngx_http_chatwoot_webhook_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_chatwoot_loc_conf_t  *lcf;

    if (!(r->method & NGX_HTTP_POST)) {
        return ngx_http_chatwoot_not_allowed(r, "POST");
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_chatwoot_module);

    if (r->headers_in.content_length_n > (off_t) lcf->max_body) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot webhook: body of %O bytes is over "
                      "max_body=%uz", r->headers_in.content_length_n,
                      lcf->max_body);
        r->keepalive = 0;
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "body too large");
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_chatwoot_webhook_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_chatwoot_webhook_body(ngx_http_request_t *r)
{
    ngx_http_chatwoot_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_chatwoot_module);

    ngx_http_finalize_request(r, ngx_http_chatwoot_enqueue(r, lcf));
}


static ngx_int_t
ngx_http_chatwoot_enqueue(ngx_http_request_t *r,
    ngx_http_chatwoot_loc_conf_t *lcf)
{
    u_char                         *body, *record, *p;
    size_t                          len, need;
    uint64_t                        seq, n, now;
    ngx_uint_t                      i, replayed;
    cw_ring_rc_t                    rc;
    cw_webhook_result_t             res;
    cw_webhook_request_t            req;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_main_conf_t  *mcf;

    /*
     * The record buffer for usual bodies is the worker's, reused: a pool
     * allocation of body + slack bytes is a malloc() per webhook (it is
     * over the request pool's block size).  The record is pushed before
     * this returns.  A large body's comes from the request's pool, so the
     * worker does not keep that much memory.
     */
    static u_char                  *record_buf;
    static size_t                   record_size;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    ctx = mcf->shm_zone->data;

    body = ngx_http_chatwoot_read_body(r, &len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot webhook: empty body");
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "empty body");
    }

    if (len > lcf->max_body) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot webhook: body of %uz bytes is over "
                      "max_body=%uz", len, lcf->max_body);
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "body too large");
    }

    need = len + CW_WEBHOOK_RECORD_SLACK;

    if (need > 64 * 1024) {
        record = ngx_pnalloc(r->pool, need);
        if (record == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else {
        if (need > record_size) {
            record = ngx_alloc(64 * 1024, r->connection->log);
            if (record == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            record_buf = record;
            record_size = 64 * 1024;
        }

        record = record_buf;
    }

    ngx_http_chatwoot_webhook_request(r, lcf->inbox, body, len, &req);

    cw_webhook_inspect(&req, record, need, &res);

    if (res.outcome != CW_WH_QUEUED) {
        ngx_http_chatwoot_count(r, ctx->sh, lcf->inbox, res.outcome,
                                res.reason);

        if (res.status == NGX_HTTP_OK) {
            return ngx_http_chatwoot_send_json(r, NGX_HTTP_OK,
                                               (u_char *) "{\"ignored\":true}",
                                               sizeof("{\"ignored\":true}")
                                               - 1);
        }

        return ngx_http_chatwoot_send_error(r, res.status, res.reason);
    }

    /*
     * The replay check and the push are one step under the lock: two
     * workers given the same webhook at once cannot both queue it, and a
     * webhook refused for a full queue is not remembered (it may come back).
     */

    replayed = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (i = 0; i < res.replay_keys_n; i++) {
        if (cw_replay_seen(ctx->replay, res.replay_keys[i], req.now)) {
            replayed = 1;
        }
    }

    rc = CW_RING_OK;

    if (!replayed) {
        rc = cw_ring_push(&ctx->sh->ring, CW_RECORD_WEBHOOK, record,
                          res.record_len, &seq);

        if (rc == CW_RING_OK) {
            for (i = 0; i < res.replay_keys_n; i++) {
                cw_replay_remember(ctx->replay, res.replay_keys[i], req.now);
            }
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (replayed) {
        ngx_http_chatwoot_count(r, ctx->sh, lcf->inbox, CW_WH_REJECTED_REPLAY,
                                "replayed webhook");
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_CONFLICT,
                                            "replayed webhook");
    }

    switch (rc) {

    case CW_RING_OK:
        cw_add(&ctx->sh->queue.enqueued, 1);
        cw_add(&ctx->sh->webhook.outcomes[CW_WH_QUEUED], 1);
        ngx_http_chatwoot_wake_helper(ctx->sh);
        break;

    case CW_RING_FULL:
        n = cw_add(&ctx->sh->queue.rejected_full, 1);

        /* a flood of 503s is logged once a second, not once a request */

        now = (uint64_t) ngx_time();

        if (__atomic_exchange_n(&ctx->sh->queue.full_logged_at, now,
                                __ATOMIC_ACQ_REL)
            != now)
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "chatwoot webhook: queue is full, answering 503 "
                          "(%uL rejected so far)", n);
        }

        return ngx_http_chatwoot_send_error(r,
                                            NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "queue full");

    case CW_RING_CLOSED:
        /* the helper left for good: a 202 now would be a lost webhook */
        cw_add(&ctx->sh->queue.rejected_closed, 1);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot webhook: nginx is shutting down, "
                      "answering 503");
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "shutting down");

    case CW_RING_CORRUPT:
        /* the helper resets the ring when it next looks */
        cw_add(&ctx->sh->queue.rejected_full, 1);
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "chatwoot webhook: the shared queue is inconsistent, "
                      "answering 503");
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "queue unavailable");

    default: /* CW_RING_TOO_LARGE */
        cw_add(&ctx->sh->queue.rejected_large, 1);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot webhook: body of %uz bytes does not fit "
                      "the queue", len);
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "body too large for the queue");
    }

    p = ngx_pnalloc(r->pool, sizeof("{\"queued\":true,\"seq\":}") - 1
                             + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_sprintf(p, "{\"queued\":true,\"seq\":%uL}", seq) - p;

    return ngx_http_chatwoot_send_json(r, NGX_HTTP_ACCEPTED, p, len);
}


/* The whole body in one piece, whether nginx kept it in memory or a file. */

static u_char *
ngx_http_chatwoot_read_body(ngx_http_request_t *r, size_t *len)
{
    u_char       *body, *p;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    *len = 0;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return (u_char *) "";
    }

    size = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    if (size == 0) {
        return (u_char *) "";
    }

    /* the usual case: one buffer in memory, nothing to copy */

    b = r->request_body->bufs->buf;

    if (r->request_body->bufs->next == NULL && !b->in_file) {
        *len = size;
        return b->pos;
    }

    body = ngx_pnalloc(r->pool, size);
    if (body == NULL) {
        return NULL;
    }

    p = body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "chatwoot webhook: reading the buffered "
                              "body failed");
                return NULL;
            }
            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *len = p - body;

    return body;
}


static void
ngx_http_chatwoot_webhook_request(ngx_http_request_t *r,
    ngx_http_chatwoot_inbox_t *inbox, u_char *body, size_t len,
    cw_webhook_request_t *req)
{
    ngx_str_t         token;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ngx_memzero(req, sizeof(cw_webhook_request_t));

#define ngx_http_chatwoot_set_str(dst, src)                                  \
    (dst).data = (const char *) (src).data; (dst).len = (src).len

    ngx_http_chatwoot_set_str(req->inbox, inbox->name);
    ngx_http_chatwoot_set_str(req->secret, inbox->webhook_secret);
    ngx_http_chatwoot_set_str(req->token, inbox->webhook_token);

    req->body.data = (const char *) body;
    req->body.len = len;
    req->now = ngx_time();

    if (r->headers_in.content_type) {
        ngx_http_chatwoot_set_str(req->content_type,
                                  r->headers_in.content_type->value);
    }

    if (ngx_http_arg(r, (u_char *) "token", 5, &token) == NGX_OK) {
        ngx_http_chatwoot_set_str(req->given_token, token);
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len < 12
            || ngx_strncasecmp(h[i].key.data, (u_char *) "X-Chatwoot-", 11)
               != 0)
        {
            continue;
        }

        if (h[i].key.len == 20
            && ngx_strncasecmp(h[i].key.data + 11, (u_char *) "Signature", 9)
               == 0)
        {
            ngx_http_chatwoot_set_str(req->signature, h[i].value);

        } else if (h[i].key.len == 20
                   && ngx_strncasecmp(h[i].key.data + 11,
                                      (u_char *) "Timestamp", 9) == 0)
        {
            ngx_http_chatwoot_set_str(req->timestamp, h[i].value);

        } else if (h[i].key.len == 19
                   && ngx_strncasecmp(h[i].key.data + 11,
                                      (u_char *) "Delivery", 8) == 0)
        {
            ngx_http_chatwoot_set_str(req->delivery, h[i].value);
        }
    }

#undef ngx_http_chatwoot_set_str
}


/* Counts an outcome; logs a refusal at most once a second per cause. */

static void
ngx_http_chatwoot_count(ngx_http_request_t *r, cw_shared_t *sh,
    ngx_http_chatwoot_inbox_t *inbox, cw_webhook_outcome_t outcome,
    const char *reason)
{
    uint64_t  now;

    cw_add(&sh->webhook.outcomes[outcome], 1);

    if (outcome < CW_WH_REJECTED_UNCONFIGURED) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "chatwoot webhook for inbox \"%V\" ignored: %s",
                       &inbox->name, reason);
        return;
    }

    now = (uint64_t) ngx_time();

    if (__atomic_exchange_n(&sh->webhook.logged_at[outcome], now,
                            __ATOMIC_ACQ_REL)
        != now)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot webhook for inbox \"%V\" refused: %s",
                      &inbox->name, reason);
    }
}


static void
ngx_http_chatwoot_wake_helper(cw_shared_t *sh)
{
    uint64_t  one;

    /* one write wakes the helper for all that was queued before it reads */

    if (__atomic_exchange_n(&sh->queue.wake_pending, 1, __ATOMIC_ACQ_REL)
        != 0)
    {
        return;
    }

    one = 1;

    if (write(ngx_http_chatwoot_wake_fd, &one, sizeof(one)) != sizeof(one)) {
        /* the helper's poll timer drains the queue anyway */
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, ngx_errno,
                      "chatwoot: waking the helper failed");
    }
}


static ngx_int_t
ngx_http_chatwoot_status_handler(ngx_http_request_t *r)
{
    u_char                         *buf;
    size_t                          len;
    ngx_int_t                       rc;
    ngx_uint_t                      i;
    cw_shared_t                    *sh;
    cw_status_t                     st;
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

    ngx_memzero(&st, sizeof(cw_status_t));

    st.helper.pid = cw_load(&sh->helper.pid);
    st.helper.state = cw_load(&sh->helper.state);
    st.helper.started_at = cw_load(&sh->helper.started_at);
    st.helper.starts = cw_load(&sh->helper.starts);
    st.helper.fast_crashes = cw_load(&sh->helper.fast_crashes);
    st.queue.enqueued = cw_load(&sh->queue.enqueued);
    st.queue.rejected_full = cw_load(&sh->queue.rejected_full);
    st.queue.rejected_large = cw_load(&sh->queue.rejected_large);
    st.queue.rejected_closed = cw_load(&sh->queue.rejected_closed);
    st.queue.resets = cw_load(&sh->queue.resets);
    st.store.persisted = cw_load(&sh->store.persisted);
    st.store.batches = cw_load(&sh->store.batches);
    st.store.errors = cw_load(&sh->store.errors);
    st.chatwoot.checks = cw_load(&sh->chatwoot.checks);
    st.chatwoot.failures = cw_load(&sh->chatwoot.failures);
    st.chatwoot.last_http_status = cw_load(&sh->chatwoot.last_http_status);
    st.chatwoot.last_checked_at = cw_load(&sh->chatwoot.last_checked_at);
    st.chatwoot.check = cw_load(&sh->chatwoot.check);
    st.chatwoot_configured = mcf->inboxes.nelts > 0;

    for (i = 0; i < CW_WH_OUTCOMES; i++) {
        st.webhook[i] = cw_load(&sh->webhook.outcomes[i]);
    }

    st.bridge.whatsapp_posted = cw_load(&sh->bridge.whatsapp_posted);
    st.bridge.whatsapp_failed = cw_load(&sh->bridge.whatsapp_failed);
    st.bridge.replies_sent = cw_load(&sh->bridge.replies_sent);
    st.bridge.replies_failed = cw_load(&sh->bridge.replies_failed);
    st.bridge.api_requests = cw_load(&sh->bridge.api_requests);
    st.bridge.api_retries = cw_load(&sh->bridge.api_retries);
    st.now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);
    st.ring_capacity = sh->ring.capacity;
    st.ring_depth = cw_ring_current(&sh->ring)->count;
    st.ring_bytes_used = cw_ring_current(&sh->ring)->used;
    st.ring_bytes_size = sh->ring.data_size;
    st.ring_max_record = cw_ring_max_record(&sh->ring);
    st.replay_evicted = ctx->replay->evicted;
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    buf = ngx_pnalloc(r->pool, CW_STATUS_MAX);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = cw_status_render(&st, (char *) buf, CW_STATUS_MAX);
    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "chatwoot status: rendering failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_json(r, NGX_HTTP_OK, buf, len);
}


static ngx_int_t
ngx_http_chatwoot_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
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


static ngx_int_t
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


static ngx_int_t
ngx_http_chatwoot_not_allowed(ngx_http_request_t *r, const char *allow)
{
    if (ngx_http_chatwoot_add_header(r, "Allow", allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                        "method not allowed");
}


static ngx_int_t
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
 * nginx calls this in its "cache manager" process, which it spawns and
 * respawns for every path with a manager; the first call makes that process
 * our helper for good.
 */

static ngx_msec_t
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


static ngx_int_t
ngx_http_chatwoot_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_chatwoot_zone_ctx_t  *octx = data;

    size_t                         len;
    uint64_t                       epoch;
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

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_calloc(ctx->shpool,
                              offsetof(cw_shared_t, ring)
                              + cw_ring_footprint(ctx->ring_size));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ctx->replay = ngx_slab_alloc(ctx->shpool,
                                 cw_replay_footprint(ctx->replay_slots));
    if (ctx->replay == NULL) {
        return NGX_ERROR;
    }

    cw_replay_init(ctx->replay, ctx->replay_slots,
                   NGX_HTTP_CHATWOOT_REPLAY_TTL);

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
                          ? "chatwoot_webhook" : "chatwoot_status",
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
     * header, page descriptors and alignment cost well under 1/16.
     */

    ctx->replay_slots = mcf->zone_size / 16 / sizeof(cw_replay_slot_t);
    ctx->ring_size = mcf->zone_size - mcf->zone_size / 16 - 2 * ngx_pagesize
                     - sizeof(cw_shared_t)
                     - cw_replay_footprint(ctx->replay_slots);
    ctx->capacity = mcf->queue;

    ngx_str_set(&name, "chatwoot");

    mcf->shm_zone = ngx_shared_memory_add(cf, &name, mcf->zone_size,
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
        if (lcfp[i]->handler == NGX_HTTP_CHATWOOT_WEBHOOK
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


static char *
ngx_http_chatwoot_webhook(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chatwoot_loc_conf_t  *lcf = conf;

    ssize_t     size;
    ngx_str_t  *value, s;
    ngx_uint_t  i;

    value = cf->args->elts;

    /* set here, not in merge: the zone check runs before locations merge */

    lcf->max_body = NGX_HTTP_CHATWOOT_MAX_BODY;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_body=", 9) == 0) {

            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || size == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max_body \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            lcf->max_body = size;
            continue;
        }

        if (i == 1 && ngx_strlchr(value[i].data, value[i].data + value[i].len,
                                  '=')
                      == NULL)
        {
            lcf->inbox_name = value[i];
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return ngx_http_chatwoot_set_handler(cf, lcf, NGX_HTTP_CHATWOOT_WEBHOOK,
                                         ngx_http_chatwoot_webhook_handler);
}


static char *
ngx_http_chatwoot_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_chatwoot_set_handler(cf, conf, NGX_HTTP_CHATWOOT_STATUS,
                                         ngx_http_chatwoot_status_handler);
}


static char *
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


/*
 * chatwoot_inbox name { ... }: one Chatwoot inbox bound to one WhatsApp
 * device.  The block's directives are parsed here, each checked for its
 * arguments, like the inside of nginx's own "types" or "map" blocks.
 */

static char *
ngx_http_chatwoot_inbox_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chatwoot_main_conf_t  *mcf = conf;

    char                        *rv;
    ngx_str_t                   *value;
    ngx_uint_t                   i;
    ngx_conf_t                   save;
    ngx_http_chatwoot_inbox_t   *inbox, **inboxp;

    value = cf->args->elts;

    inboxp = mcf->inboxes.elts;

    for (i = 0; i < mcf->inboxes.nelts; i++) {
        if (inboxp[i]->name.len == value[1].len
            && ngx_strncmp(inboxp[i]->name.data, value[1].data,
                           value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate chatwoot_inbox \"%V\", first "
                               "defined in %s:%ui", &value[1],
                               inboxp[i]->file, inboxp[i]->line);
            return NGX_CONF_ERROR;
        }
    }

    for (i = 0; i < value[1].len; i++) {
        if (!(isalnum(value[1].data[i]) || value[1].data[i] == '_'
              || value[1].data[i] == '-'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid chatwoot_inbox name \"%V\": use "
                               "letters, digits, \"_\" and \"-\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    inbox = ngx_pcalloc(cf->pool, sizeof(ngx_http_chatwoot_inbox_t));
    if (inbox == NULL) {
        return NGX_CONF_ERROR;
    }

    inbox->name = value[1];
    inbox->check_interval = NGX_CONF_UNSET_MSEC;
    inbox->account_id = NGX_CONF_UNSET;
    inbox->inbox_id = NGX_CONF_UNSET;
    inbox->agent_signature = NGX_CONF_UNSET;
    inbox->reopen_resolved = NGX_CONF_UNSET;
    inbox->open_as_pending = NGX_CONF_UNSET;
    inbox->ignore_groups = NGX_CONF_UNSET;
    inbox->concurrency = NGX_CONF_UNSET_UINT;
    inbox->rate = NGX_CONF_UNSET_UINT;
    inbox->device_timeout = NGX_CONF_UNSET_MSEC;
    inbox->file = cf->conf_file->file.name.data;
    inbox->line = cf->conf_file->line;

    inboxp = ngx_array_push(&mcf->inboxes);
    if (inboxp == NULL) {
        return NGX_CONF_ERROR;
    }

    *inboxp = inbox;

    save = *cf;
    cf->handler = ngx_http_chatwoot_inbox_directive;
    cf->handler_conf = (void *) inbox;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* what a block must say, reported at its first line */

    if (inbox->url.len == 0 || inbox->account_id == NGX_CONF_UNSET
        || (inbox->inbox_id == NGX_CONF_UNSET && inbox->inbox_name.len == 0)
        || inbox->api_token.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "chatwoot_inbox \"%V\" needs %s", &inbox->name,
                           inbox->url.len == 0 ? "\"url\""
                           : inbox->account_id == NGX_CONF_UNSET
                             ? "\"account\""
                           : inbox->inbox_id == NGX_CONF_UNSET
                             && inbox->inbox_name.len == 0 ? "\"inbox\""
                           : "\"api_token\" or \"api_token_file\"");
        return NGX_CONF_ERROR;
    }

    if (inbox->webhook_secret.len == 0 && inbox->webhook_token.len == 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "chatwoot_inbox \"%V\" has neither "
                           "\"webhook_secret\" nor \"webhook_token\": its "
                           "webhook refuses every request", &inbox->name);
    }

    ngx_conf_init_msec_value(inbox->check_interval,
                             NGX_HTTP_CHATWOOT_CHECK_INTERVAL);
    ngx_conf_init_value(inbox->agent_signature, 1);
    ngx_conf_init_value(inbox->reopen_resolved, 1);
    ngx_conf_init_value(inbox->open_as_pending, 0);
    ngx_conf_init_value(inbox->ignore_groups, 0);
    ngx_conf_init_uint_value(inbox->concurrency, 8);
    ngx_conf_init_uint_value(inbox->rate, 0);
    ngx_conf_init_msec_value(inbox->device_timeout,
                             NGX_HTTP_CHATWOOT_DEVICE_TIMEOUT);

    if (inbox->signature_delimiter.data == NULL) {
        ngx_str_set(&inbox->signature_delimiter, "\n\n");
    }

    /* the helper hands these to C++ and curl as C strings */

    if (ngx_http_chatwoot_nul_terminate(cf->pool, &inbox->name) != NGX_OK
        || ngx_http_chatwoot_nul_terminate(cf->pool, &inbox->api_token)
           != NGX_OK
        || ngx_http_chatwoot_nul_terminate(cf->pool,
                                           &inbox->signature_delimiter)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }


    return NGX_CONF_OK;
}


static char *
ngx_http_chatwoot_inbox_directive(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_chatwoot_inbox_t  *inbox = conf;

    ngx_int_t    n;
    ngx_str_t   *value, *name, *jid;
    ngx_uint_t   i, nargs;

    value = cf->args->elts;
    name = &value[0];
    nargs = cf->args->nelts - 1;

#define ngx_http_chatwoot_is(s)                                              \
    (name->len == sizeof(s) - 1 && ngx_strncmp(name->data, s, name->len) == 0)

#define ngx_http_chatwoot_args(lo, hi)                                       \
    if (nargs < lo || nargs > hi) {                                          \
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,                             \
                           "invalid number of arguments in \"%V\" of "       \
                           "chatwoot_inbox \"%V\"", name, &inbox->name);     \
        return NGX_CONF_ERROR;                                               \
    }

    if (ngx_http_chatwoot_is("url")) {
        ngx_http_chatwoot_args(1, 2);
        return ngx_http_chatwoot_parse_url(cf, inbox, value, nargs);
    }

    if (ngx_http_chatwoot_is("inbox")) {
        ngx_http_chatwoot_args(1, 2);
        return ngx_http_chatwoot_parse_inbox(cf, inbox, value, nargs);
    }

    if (ngx_http_chatwoot_is("account")) {
        ngx_http_chatwoot_args(1, 1);
        n = ngx_atoi(value[1].data, value[1].len);
        if (n == NGX_ERROR || n < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid %V id \"%V\": a positive number",
                               name, &value[1]);
            return NGX_CONF_ERROR;
        }
        inbox->account_id = n;
        return NGX_CONF_OK;
    }

    if (ngx_http_chatwoot_is("api_token")
        || ngx_http_chatwoot_is("webhook_secret")
        || ngx_http_chatwoot_is("webhook_token")
        || ngx_http_chatwoot_is("api_token_file")
        || ngx_http_chatwoot_is("webhook_secret_file"))
    {
        ngx_str_t  *target;

        ngx_http_chatwoot_args(1, 1);

        target = name->data[0] == 'a' ? &inbox->api_token
                 : name->data[8] == 's' ? &inbox->webhook_secret
                 : &inbox->webhook_token;

        if (target->len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the %s of chatwoot_inbox \"%V\" is set twice",
                               target == &inbox->api_token ? "API token"
                               : target == &inbox->webhook_secret
                                 ? "webhook secret" : "webhook token",
                               &inbox->name);
            return NGX_CONF_ERROR;
        }

        if (name->len > 5
            && ngx_strncmp(name->data + name->len - 5, "_file", 5) == 0)
        {
            return ngx_http_chatwoot_read_secret(cf, &value[1], target);
        }

        if (value[1].len == 0 || value[1].len > NGX_HTTP_CHATWOOT_SECRET_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" in chatwoot_inbox \"%V\": "
                               "empty or too long", name, &inbox->name);
            return NGX_CONF_ERROR;
        }

        *target = value[1];
        return NGX_CONF_OK;
    }

    if (ngx_http_chatwoot_is("agent_signature")) {
        ngx_http_chatwoot_args(1, 2);
        if (ngx_http_chatwoot_parse_flag(cf, &value[1],
                                         &inbox->agent_signature)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
        if (nargs == 2) {
            if (ngx_strncmp(value[2].data, "delimiter=", 10) != 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[2]);
                return NGX_CONF_ERROR;
            }
            inbox->signature_delimiter.data = value[2].data + 10;
            inbox->signature_delimiter.len = value[2].len - 10;
        }
        return NGX_CONF_OK;
    }

    if (ngx_http_chatwoot_is("reopen_resolved")
        || ngx_http_chatwoot_is("open_as_pending")
        || ngx_http_chatwoot_is("ignore_groups"))
    {
        ngx_http_chatwoot_args(1, 1);
        return ngx_http_chatwoot_parse_flag(cf, &value[1],
                   name->data[0] == 'r' ? &inbox->reopen_resolved
                   : name->data[0] == 'o' ? &inbox->open_as_pending
                   : &inbox->ignore_groups)
               == NGX_OK ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_http_chatwoot_is("ignore_jids")) {
        ngx_http_chatwoot_args(1, 64);

        if (inbox->ignore_jids == NULL) {
            inbox->ignore_jids = ngx_array_create(cf->pool, 4,
                                                  sizeof(ngx_str_t));
            if (inbox->ignore_jids == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        for (i = 1; i <= nargs; i++) {
            if (ngx_strlchr(value[i].data, value[i].data + value[i].len, '@')
                == NULL)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid JID \"%V\" in ignore_jids, "
                                   "e.g. 5511999999999@s.whatsapp.net or "
                                   "120363000000000000@g.us", &value[i]);
                return NGX_CONF_ERROR;
            }
            jid = ngx_array_push(inbox->ignore_jids);
            if (jid == NULL) {
                return NGX_CONF_ERROR;
            }
            *jid = value[i];
            if (ngx_http_chatwoot_nul_terminate(cf->pool, jid) != NGX_OK) {
                return NGX_CONF_ERROR;
            }
        }
        return NGX_CONF_OK;
    }

    if (ngx_http_chatwoot_is("synthetic_device")) {
        ngx_http_chatwoot_args(1, 1);
        inbox->synthetic_device = value[1];
        if (ngx_conf_full_name(cf->cycle, &inbox->synthetic_device, 0)
            != NGX_OK
            || ngx_http_chatwoot_nul_terminate(cf->pool,
                                               &inbox->synthetic_device)
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
        return NGX_CONF_OK;
    }

    if (ngx_http_chatwoot_is("throttle_backoff")) {
        ngx_msec_t  base, cap;

        ngx_http_chatwoot_args(2, 2);
        base = ngx_parse_time(&value[1], 0);
        cap = ngx_parse_time(&value[2], 0);
        if (base == (ngx_msec_t) NGX_ERROR || cap == (ngx_msec_t) NGX_ERROR
            || base < 1 || cap < base)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid throttle_backoff \"%V %V\", e.g. "
                               "\"15s 60s\" (first wait, longest wait)",
                               &value[1], &value[2]);
            return NGX_CONF_ERROR;
        }
        inbox->throttle_base = base;
        inbox->throttle_cap = cap;
        return NGX_CONF_OK;
    }

    if (ngx_http_chatwoot_is("device_timeout")) {
        ngx_msec_t  t;

        ngx_http_chatwoot_args(1, 1);
        t = ngx_parse_time(&value[1], 1);
        if (t == (ngx_msec_t) NGX_ERROR || t < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid device_timeout \"%V\", e.g. \"5m\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
        inbox->device_timeout = t * 1000;
        return NGX_CONF_OK;
    }

    if (ngx_http_chatwoot_is("concurrency")) {
        ngx_http_chatwoot_args(1, 1);
        n = ngx_atoi(value[1].data, value[1].len);
        if (n == NGX_ERROR || n < 1 || n > 256) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid concurrency \"%V\", it must be "
                               "1 to 256", &value[1]);
            return NGX_CONF_ERROR;
        }
        inbox->concurrency = n;
        return NGX_CONF_OK;
    }

    if (ngx_http_chatwoot_is("rate")) {
        ngx_http_chatwoot_args(1, 1);
        if (value[1].len > 4
            && ngx_strncmp(value[1].data + value[1].len - 4, "r/s", 3) == 0)
        {
            n = ngx_atoi(value[1].data, value[1].len - 4);
        } else if (value[1].len > 3
                   && ngx_strncmp(value[1].data + value[1].len - 3, "r/s", 3)
                      == 0)
        {
            n = ngx_atoi(value[1].data, value[1].len - 3);
        } else {
            n = NGX_ERROR;
        }
        if (n == NGX_ERROR || n < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid rate \"%V\", e.g. \"10r/s\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
        inbox->rate = n;
        return NGX_CONF_OK;
    }

#undef ngx_http_chatwoot_is
#undef ngx_http_chatwoot_args

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in chatwoot_inbox \"%V\"",
                       name, &inbox->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_chatwoot_parse_url(ngx_conf_t *cf, ngx_http_chatwoot_inbox_t *inbox,
    ngx_str_t *value, ngx_uint_t n)
{
    ngx_str_t   s;
    ngx_msec_t  interval;

    if (inbox->url.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"url\" of chatwoot_inbox \"%V\" is duplicate",
                           &inbox->name);
        return NGX_CONF_ERROR;
    }

    if (!ngx_http_chatwoot_is_http_url(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid Chatwoot URL \"%V\", it must start with "
                           "\"http://\" or \"https://\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    inbox->url = value[1];

    if (ngx_http_chatwoot_nul_terminate(cf->pool, &inbox->url) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (n == 2) {

        if (ngx_strncmp(value[2].data, "check=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 6;
        s.len = value[2].len - 6;

        interval = ngx_parse_time(&s, 0);

        if (interval == (ngx_msec_t) NGX_ERROR || interval < 1000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid check interval \"%V\", it must be "
                               "1s or more", &value[2]);
            return NGX_CONF_ERROR;
        }

        inbox->check_interval = interval;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_chatwoot_is_http_url(ngx_str_t *url)
{
    u_char  *p;

    if (!(url->len > 7
          && ngx_strncasecmp(url->data, (u_char *) "http://", 7) == 0)
        && !(url->len > 8
             && ngx_strncasecmp(url->data, (u_char *) "https://", 8) == 0))
    {
        return 0;
    }

    for (p = url->data; p < url->data + url->len; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/*
 * "inbox 7;" names the inbox by id; "inbox name=WhatsApp;" by name, which
 * the helper looks up (and with "create=<webhook URL>" makes as an API
 * inbox whose callback is that URL).
 */

static char *
ngx_http_chatwoot_parse_inbox(ngx_conf_t *cf, ngx_http_chatwoot_inbox_t *inbox,
    ngx_str_t *value, ngx_uint_t n)
{
    ngx_int_t  id;

    if (inbox->inbox_id != NGX_CONF_UNSET || inbox->inbox_name.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"inbox\" of chatwoot_inbox \"%V\" is duplicate",
                           &inbox->name);
        return NGX_CONF_ERROR;
    }

    if (value[1].len > 5 && ngx_strncmp(value[1].data, "name=", 5) == 0) {
        inbox->inbox_name.data = value[1].data + 5;
        inbox->inbox_name.len = value[1].len - 5;

        if (inbox->inbox_name.len > 255) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid inbox name \"%V\": at most 255 "
                               "characters", &inbox->inbox_name);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_chatwoot_nul_terminate(cf->pool, &inbox->inbox_name)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

    } else {
        id = ngx_atoi(value[1].data, value[1].len);
        if (id == NGX_ERROR || id < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid inbox \"%V\": an id (a positive "
                               "number) or name=<name>", &value[1]);
            return NGX_CONF_ERROR;
        }

        inbox->inbox_id = id;
    }

    if (n == 1) {
        return NGX_CONF_OK;
    }

    if (inbox->inbox_name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs an inbox given by name=<name>",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    if (value[2].len <= 7 || ngx_strncmp(value[2].data, "create=", 7) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    inbox->inbox_create.data = value[2].data + 7;
    inbox->inbox_create.len = value[2].len - 7;

    if (!ngx_http_chatwoot_is_http_url(&inbox->inbox_create)
        || inbox->inbox_create.len > 2048)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid webhook URL \"%V\": an http:// or "
                           "https:// URL of at most 2048 characters, where "
                           "Chatwoot reaches this nginx's chatwoot_webhook",
                           &inbox->inbox_create);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_chatwoot_nul_terminate(cf->pool, &inbox->inbox_create)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A secret kept in its own file (readable by root only is enough: the
 * master reads it before it forks), trailing whitespace trimmed.
 */

static char *
ngx_http_chatwoot_read_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *secret)
{
    u_char     *buf;
    ssize_t     n;
    ngx_str_t   name;
    ngx_file_t  file;

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    buf = ngx_pnalloc(cf->pool, NGX_HTTP_CHATWOOT_SECRET_MAX + 1);
    if (buf == NULL) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, buf, NGX_HTTP_CHATWOOT_SECRET_MAX + 1, 0);

    ngx_close_file(file.fd);

    if (n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'
                     || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    {
        n--;
    }

    if (n == 0 || n > NGX_HTTP_CHATWOOT_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" is empty or over %d bytes",
                           &name, NGX_HTTP_CHATWOOT_SECRET_MAX);
        return NGX_CONF_ERROR;
    }

    secret->data = buf;
    secret->len = n;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_chatwoot_parse_flag(ngx_conf_t *cf, ngx_str_t *value,
    ngx_flag_t *flag)
{
    if (value->len == 2 && ngx_strncasecmp(value->data, (u_char *) "on", 2)
                           == 0)
    {
        *flag = 1;
        return NGX_OK;
    }

    if (value->len == 3 && ngx_strncasecmp(value->data, (u_char *) "off", 3)
                           == 0)
    {
        *flag = 0;
        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\", it must be \"on\" or \"off\"",
                       value);
    return NGX_ERROR;
}


/* A webhook location's inbox: named, or the only one there is. */

static ngx_int_t
ngx_http_chatwoot_resolve_inbox(ngx_conf_t *cf,
    ngx_http_chatwoot_main_conf_t *mcf, ngx_http_chatwoot_loc_conf_t *lcf)
{
    ngx_uint_t                  i;
    ngx_http_chatwoot_inbox_t **inboxp;

    inboxp = mcf->inboxes.elts;

    if (lcf->inbox_name.len == 0) {
        if (mcf->inboxes.nelts == 1) {
            lcf->inbox = inboxp[0];
            return NGX_OK;
        }

        if (mcf->inboxes.nelts == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"chatwoot_webhook\" in %s:%ui needs a "
                          "chatwoot_inbox block in the http block",
                          lcf->file, lcf->line);
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"chatwoot_webhook\" in %s:%ui must name its "
                      "chatwoot_inbox: %ui are defined",
                      lcf->file, lcf->line, mcf->inboxes.nelts);
        return NGX_ERROR;
    }

    for (i = 0; i < mcf->inboxes.nelts; i++) {
        if (inboxp[i]->name.len == lcf->inbox_name.len
            && ngx_strncmp(inboxp[i]->name.data, lcf->inbox_name.data,
                           lcf->inbox_name.len) == 0)
        {
            lcf->inbox = inboxp[i];
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"chatwoot_webhook\" in %s:%ui names unknown "
                  "chatwoot_inbox \"%V\"", lcf->file, lcf->line,
                  &lcf->inbox_name);
    return NGX_ERROR;
}
