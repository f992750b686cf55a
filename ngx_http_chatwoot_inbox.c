
/*
 * The chatwoot_inbox block: one Chatwoot inbox and how to talk to it, and
 * which inbox a chatwoot_webhook location serves.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"


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


/*
 * chatwoot_inbox name { ... }: one Chatwoot inbox bound to one WhatsApp
 * device.  The block's directives are parsed here, each checked for its
 * arguments, like the inside of nginx's own "types" or "map" blocks.
 */

char *
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

ngx_int_t
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
