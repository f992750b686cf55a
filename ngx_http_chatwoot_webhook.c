
/*
 * The chatwoot_webhook location: Chatwoot's callback.  The body is read,
 * handed to the core to authenticate and parse, and what it says to queue
 * is pushed onto the shared ring for the helper; the answer never waits
 * for the helper.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"


static ngx_int_t ngx_http_chatwoot_webhook_handler(ngx_http_request_t *r);
static void ngx_http_chatwoot_webhook_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_chatwoot_enqueue(ngx_http_request_t *r,
    ngx_http_chatwoot_loc_conf_t *lcf);
static void ngx_http_chatwoot_webhook_request(ngx_http_request_t *r,
    ngx_http_chatwoot_inbox_t *inbox, u_char *body, size_t len,
    cw_webhook_request_t *req);
static void ngx_http_chatwoot_count(ngx_http_request_t *r, cw_shared_t *sh,
    ngx_http_chatwoot_inbox_t *inbox, cw_webhook_outcome_t outcome,
    const char *reason);


/*
 * The head of ngx_http_log_module's location configuration, which nginx
 * keeps private: "logs" has been its first member since the module was
 * written, and is NULL where "access_log off" applies once the log module
 * has merged the location (it merges before this module does).
 */
typedef struct {
    ngx_array_t                 *logs;
} ngx_http_chatwoot_log_conf_head_t;

extern ngx_module_t  ngx_http_log_module;


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
        return ngx_http_chatwoot_send_error(r,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
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
        /* no JSON at all is malformed JSON: counted and logged as such */
        ngx_http_chatwoot_count(r, ctx->sh, lcf->inbox,
                                CW_WH_REJECTED_MALFORMED, "empty body");
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "empty body");
    }

    if (len > lcf->max_body) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot webhook: body of %uz bytes is over "
                      "max_body=%uz", len, lcf->max_body);
        return ngx_http_chatwoot_send_error(r,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
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
        return ngx_http_chatwoot_send_error(r,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
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


/*
 * The whole body in one piece, whether nginx kept it in memory or a file
 * (the devices location reads its bodies with it too).
 */

u_char *
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
    req->secret = inbox->conf.webhook_secret;
    req->token = inbox->conf.webhook_token;

    req->body.data = (const char *) body;
    req->body.len = len;
    req->now = ngx_time();
    req->accepted_msec = (int64_t) r->start_sec * 1000 + r->start_msec;

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


void
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


char *
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


/*
 * webhook_token travels in the callback's URL (?token=), and the access
 * log writes the request line whole: warn where the two meet.  Called from
 * the location's merge, when its inbox is known and its access_log merged.
 */

void
ngx_http_chatwoot_webhook_check_log(ngx_conf_t *cf,
    ngx_http_chatwoot_loc_conf_t *lcf)
{
    cw_inbox_conf_t                    *ic;
    ngx_http_chatwoot_log_conf_head_t  *llcf;

    if (lcf->inbox == NULL) {
        return;
    }

    ic = &lcf->inbox->conf;

    /* the token authenticates only an inbox without a secret */

    if (ic->webhook_token.len == 0 || ic->webhook_secret.len != 0) {
        return;
    }

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_log_module);

    if (llcf == NULL || llcf->logs == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                  "\"chatwoot_webhook\" in %s:%ui: the webhook_token of "
                  "chatwoot_inbox \"%V\" travels in the URL, which this "
                  "location's access_log writes down; use webhook_secret "
                  "(Chatwoot 4.13+) or \"access_log off\" here",
                  lcf->file, lcf->line, &lcf->inbox->name);
}
