
/*
 * The chatwoot_send location: the send API for applications
 * (include/chatwoot_send.h has the contract).  POST <location> pushes a
 * send command on the ring and answers 202 with its id; GET
 * <location>/<id> reads what the helper published of it.  Neither waits
 * for the helper.
 *
 * Every request carries the location's token (Authorization: Bearer),
 * read from token_file= when the configuration is read; the token, the
 * idempotency key and the text never reach a log line.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"
#include "chatwoot_command.h"
#include "chatwoot_send.h"


static ngx_int_t ngx_http_chatwoot_send_api_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_chatwoot_send_api_unauthorized(ngx_http_request_t *r);
static ngx_table_elt_t *ngx_http_chatwoot_send_api_header(ngx_http_request_t *r,
    const char *name, size_t len);
static ngx_int_t ngx_http_chatwoot_send_api_get(ngx_http_request_t *r,
    ngx_str_t *id);
static void ngx_http_chatwoot_send_api_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_chatwoot_send_api_push(ngx_http_request_t *r,
    const char *to, u_char *text, size_t text_len, ngx_str_t *key);
static char *ngx_http_chatwoot_send_api_read_token(ngx_conf_t *cf,
    ngx_http_chatwoot_loc_conf_t *lcf, ngx_str_t *value, ngx_str_t *path);


static ngx_int_t
ngx_http_chatwoot_send_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    cw_str_t                       rest;
    ngx_str_t                      path;
    ngx_table_elt_t               *key;
    ngx_http_chatwoot_loc_conf_t  *lcf;
    char                           reason[CW_COMMAND_REASON_SIZE];

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_chatwoot_module);

    /* <prefix> or <prefix>/<id>, nothing deeper */

    if (ngx_http_chatwoot_location_path(r, &rest) != NGX_OK
        || ngx_strlchr((u_char *) rest.data, (u_char *) rest.data + rest.len,
                       '/')
           != NULL)
    {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "not found");
    }

    path.data = (u_char *) rest.data;
    path.len = rest.len;

    /* nothing about the location is told to a caller without the token */

    if (r->headers_in.authorization == NULL
        || !cw_send_authorized(
               (const char *) r->headers_in.authorization->value.data,
               r->headers_in.authorization->value.len,
               (const char *) lcf->send_token.data, lcf->send_token.len))
    {
        return ngx_http_chatwoot_send_api_unauthorized(r);
    }

    if (path.len > 0) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return ngx_http_chatwoot_not_allowed(r, "GET, HEAD");
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_chatwoot_send_api_get(r, &path);
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_chatwoot_not_allowed(r, "POST");
    }

    key = ngx_http_chatwoot_send_api_header(r, "Idempotency-Key",
                                        sizeof("Idempotency-Key") - 1);

    if (key != NULL
        && !cw_send_key_valid((const char *) key->value.data, key->value.len,
                              reason))
    {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST, reason);
    }

    if (r->headers_in.content_length_n > (off_t) CW_SEND_BODY_MAX) {
        r->keepalive = 0;
        return ngx_http_chatwoot_send_error(r,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "body too large");
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_chatwoot_send_api_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_chatwoot_send_api_unauthorized(ngx_http_request_t *r)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "chatwoot send: %s",
                  r->headers_in.authorization == NULL
                  ? "no Authorization header, answering 401"
                  : "wrong token, answering 401");

    if (ngx_http_chatwoot_add_header(r, "WWW-Authenticate",
                                     "Bearer realm=\"chatwoot_send\"")
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                        "a valid bearer token is required");
}


static ngx_table_elt_t *
ngx_http_chatwoot_send_api_header(ngx_http_request_t *r, const char *name,
    size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/* GET <id>: from the helper's table, or queued while it is on its way. */

static ngx_int_t
ngx_http_chatwoot_send_api_get(ngx_http_request_t *r, ngx_str_t *id)
{
    u_char                         *buf;
    size_t                          len;
    uint64_t                        epoch, next_seq;
    cw_send_slot_t                  slot;
    cw_send_lookup_t                found;
    const cw_ring_index_t          *idx;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    ctx = mcf->shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    idx = cw_ring_current(&ctx->sh->ring);
    epoch = idx->epoch;
    next_seq = idx->next_seq;
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    found = cw_send_lookup(&ctx->sh->send.table, (const char *) id->data,
                           id->len, epoch, next_seq, &slot);

    if (found == CW_SEND_UNKNOWN) {
        return ngx_http_chatwoot_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "no such send: ids are kept for "
                                            "the last 1024 sends");
    }

    buf = ngx_pnalloc(r->pool, CW_SEND_JSON_MAX);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = found == CW_SEND_FOUND
          ? cw_send_render_slot(&slot, (char *) buf, CW_SEND_JSON_MAX)
          : cw_send_render_queued((const char *) id->data, id->len,
                                  (char *) buf, CW_SEND_JSON_MAX);

    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "chatwoot send: rendering failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_json(r, NGX_HTTP_OK, buf, len);
}


static void
ngx_http_chatwoot_send_api_body(ngx_http_request_t *r)
{
    u_char           *body, *text;
    size_t            len, text_len;
    ngx_str_t         key;
    ngx_table_elt_t  *h;
    char              to[CW_COMMAND_TO_MAX + 1];
    char              reason[CW_COMMAND_REASON_SIZE];

    body = ngx_http_chatwoot_read_body(r, &len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (len > CW_SEND_BODY_MAX) {
        ngx_http_finalize_request(r,
            ngx_http_chatwoot_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "body too large"));
        return;
    }

    text = ngx_pnalloc(r->pool, len + 1);
    if (text == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!cw_send_parse((const char *) body, len, to, (char *) text, len + 1,
                       &text_len, reason))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot send: refused: %s", reason);
        ngx_http_finalize_request(r,
            ngx_http_chatwoot_send_error(r, NGX_HTTP_BAD_REQUEST, reason));
        return;
    }

    h = ngx_http_chatwoot_send_api_header(r, "Idempotency-Key",
                                      sizeof("Idempotency-Key") - 1);

    if (h != NULL) {
        key = h->value;

    } else {
        ngx_str_null(&key);
    }

    ngx_http_finalize_request(r,
        ngx_http_chatwoot_send_api_push(r, to, text, text_len, &key));
}


/*
 * The command on the ring and its key in the zone, under one hold of the
 * zone's lock: two requests with one key push one command.  A key seen
 * within a day answers the first id again and pushes nothing.
 */

static ngx_int_t
ngx_http_chatwoot_send_api_push(ngx_http_request_t *r, const char *to,
    u_char *text, size_t text_len, ngx_str_t *key)
{
    u_char                         *record, *scoped, *p, *body;
    size_t                          len, scoped_len;
    ngx_int_t                       rc;
    ngx_uint_t                      repeated;
    cw_command_t                    cmd;
    cw_command_rc_t                 pushed;
    ngx_http_chatwoot_zone_ctx_t   *ctx;
    ngx_http_chatwoot_loc_conf_t   *lcf;
    ngx_http_chatwoot_main_conf_t  *mcf;
    char                            id[CW_COMMAND_ID_SIZE];

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_chatwoot_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_chatwoot_module);
    ctx = mcf->shm_zone->data;

    scoped = NULL;
    scoped_len = 0;

    if (key->len) {
        scoped = ngx_pnalloc(r->pool, CW_SEND_SCOPE_LEN + 1 + key->len);
        if (scoped == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(scoped, lcf->send_scope, CW_SEND_SCOPE_LEN);
        *p++ = ':';
        p = ngx_cpymem(p, key->data, key->len);
        scoped_len = p - scoped;
    }

    ngx_memzero(&cmd, sizeof(cw_command_t));

    cmd.kind = CW_COMMAND_SEND;
    cmd.inbox.data = (const char *) lcf->inbox->name.data;
    cmd.inbox.len = lcf->inbox->name.len;
    cmd.to.data = to;
    cmd.to.len = ngx_strlen(to);
    cmd.text.data = (const char *) text;
    cmd.text.len = text_len;
    cmd.key.data = (const char *) scoped;
    cmd.key.len = scoped_len;
    cmd.now = ngx_time();

    rc = ngx_http_chatwoot_command_record(r, &cmd, &record, &len);
    if (record == NULL) {
        return rc;
    }

    repeated = 0;
    pushed = CW_COMMAND_OK;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (scoped_len
        && cw_send_keys_find(&ctx->sh->send.keys, (const char *) scoped,
                             scoped_len, (uint64_t) ngx_time(), id))
    {
        repeated = 1;

    } else {
        pushed = cw_command_push(&ctx->sh->ring, record, len, id);

        if (pushed == CW_COMMAND_OK && scoped_len) {
            cw_send_keys_put(&ctx->sh->send.keys, (const char *) scoped,
                             scoped_len, id, (uint64_t) ngx_time());
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (pushed != CW_COMMAND_OK) {
        return ngx_http_chatwoot_command_refused(r, pushed, "send");
    }

    if (repeated) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot send: repeated idempotency key, answering "
                      "send %s again", id);

        if (ngx_http_chatwoot_add_header(r, "Idempotent-Replayed", "true")
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else {
        ngx_http_chatwoot_wake_helper(ctx->sh);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chatwoot send: send %s accepted for inbox \"%V\"",
                      id, &lcf->inbox->name);
    }

    body = ngx_pnalloc(r->pool, CW_SEND_JSON_MAX);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = cw_send_render_accepted(id, (char *) body, CW_SEND_JSON_MAX);
    if (len == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_chatwoot_send_json(r, NGX_HTTP_ACCEPTED, body, len);
}


/*
 * chatwoot_send [inbox] token_file=<path>;
 */

char *
ngx_http_chatwoot_send(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chatwoot_loc_conf_t  *lcf = conf;

    ngx_str_t                 *value, path;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *clcf;

    value = cf->args->elts;
    ngx_str_null(&path);

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

#if (NGX_PCRE)
    if (clcf->regex) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chatwoot_send\" needs a prefix location, "
                           "not a regular expression");
        return NGX_CONF_ERROR;
    }
#endif

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "token_file=", 11) == 0) {
            path.data = value[i].data + 11;
            path.len = value[i].len - 11;

            if (path.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"chatwoot_send\": invalid \"%V\": "
                                   "no path", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (ngx_http_chatwoot_send_api_read_token(cf, lcf, &value[i], &path)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

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
                           "\"chatwoot_send\": invalid parameter \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chatwoot_send\" needs \"token_file=<path>\": "
                           "applications authenticate with that token");
        return NGX_CONF_ERROR;
    }

    return ngx_http_chatwoot_set_handler(cf, lcf, NGX_HTTP_CHATWOOT_SEND,
                                         ngx_http_chatwoot_send_api_handler);
}


/*
 * The token, read once with the configuration: a file only its owner may
 * read (the token lets anyone send as the inbox's number), one line.
 */

static char *
ngx_http_chatwoot_send_api_read_token(ngx_conf_t *cf,
    ngx_http_chatwoot_loc_conf_t *lcf, ngx_str_t *value, ngx_str_t *path)
{
    u_char           *buf;
    ssize_t           n;
    ngx_fd_t          fd;
    cw_str_t          token;
    ngx_str_t         name;
    ngx_file_info_t   fi;
    char              reason[CW_COMMAND_REASON_SIZE];

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"chatwoot_send\": cannot open \"%V\"", value);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"chatwoot_send\": cannot stat \"%V\"", value);
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chatwoot_send\": \"%V\" is not a file", value);
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    if (ngx_file_access(&fi) & 0077) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chatwoot_send\": \"%V\" has mode 0%d%d%d: "
                           "others may read the token; make it 0600 or 0400",
                           value, (int) (ngx_file_access(&fi) >> 6) & 7,
                           (int) (ngx_file_access(&fi) >> 3) & 7,
                           (int) ngx_file_access(&fi) & 7);
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    buf = ngx_pnalloc(cf->pool, CW_SEND_TOKEN_MAX + 3);
    if (buf == NULL) {
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, buf, CW_SEND_TOKEN_MAX + 3);

    ngx_close_file(fd);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"chatwoot_send\": cannot read \"%V\"", value);
        return NGX_CONF_ERROR;
    }

    if (!cw_send_token_parse((const char *) buf, (size_t) n, &token,
                             reason))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chatwoot_send\": \"%V\": %s", value, reason);
        return NGX_CONF_ERROR;
    }

    lcf->send_token.data = (u_char *) token.data;
    lcf->send_token.len = token.len;

    cw_send_scope(token.data, token.len, (char *) lcf->send_scope);

    return NGX_CONF_OK;
}
