
/*
 * The chatwoot_inbox block: one Chatwoot inbox and how to talk to it, and
 * which inbox a chatwoot_webhook location serves.
 *
 * The block's rules and defaults are the core's (chatwoot_inbox_conf.h):
 * this file hands it each directive as written and reports what it says.
 * Only what needs nginx is done here: paths made absolute against the
 * prefix, and secret files read.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_chatwoot.h"
#include "chatwoot_inbox_conf.h"


static char *ngx_http_chatwoot_inbox_directive(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static ngx_int_t ngx_http_chatwoot_ca_file(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *content);
static ngx_int_t ngx_http_chatwoot_read_file(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_str_t *name, ngx_str_t *content);
static void ngx_http_chatwoot_inbox_cleanup(void *data);


#define ngx_http_chatwoot_is(name, s)                                        \
    ((name)->len == sizeof(s) - 1                                            \
     && ngx_strncmp((name)->data, s, sizeof(s) - 1) == 0)


/*
 * chatwoot_inbox name { ... }: one Chatwoot inbox bound to one WhatsApp
 * device.  The block is read like the inside of nginx's own "types" or
 * "map" blocks, each directive handed to the core's parser, which lives
 * as long as the cycle: the cw_inbox_conf_t it fills points into it.
 */

char *
ngx_http_chatwoot_inbox_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chatwoot_main_conf_t  *mcf = conf;

    char                        *rv;
    cw_str_t                     name;
    ngx_str_t                   *value;
    ngx_uint_t                   i;
    ngx_conf_t                   save;
    const char                  *text;
    cw_inbox_parser_t           *parser;
    ngx_pool_cleanup_t          *cln;
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

    if (mcf->inboxes.nelts >= CW_SNAPSHOT_DEVICES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many chatwoot_inbox blocks: at most %d, "
                           "one WhatsApp device each", CW_SNAPSHOT_DEVICES);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    name.data = (const char *) value[1].data;
    name.len = value[1].len;

    parser = cw_inbox_parser_create(name);
    if (parser == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_chatwoot_inbox_cleanup;
    cln->data = parser;

    text = cw_inbox_parser_error(parser);

    if (text != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", text);
        return NGX_CONF_ERROR;
    }

    inbox = ngx_pcalloc(cf->pool, sizeof(ngx_http_chatwoot_inbox_t));
    if (inbox == NULL) {
        return NGX_CONF_ERROR;
    }

    inbox->name = value[1];
    inbox->file = cf->conf_file->file.name.data;
    inbox->line = cf->conf_file->line;

    inboxp = ngx_array_push(&mcf->inboxes);
    if (inboxp == NULL) {
        return NGX_CONF_ERROR;
    }

    *inboxp = inbox;

    save = *cf;
    cf->handler = ngx_http_chatwoot_inbox_directive;
    cf->handler_conf = (void *) parser;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* what a block must say, reported at its end */

    if (cw_inbox_parser_finish(parser, &inbox->conf) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s",
                           cw_inbox_parser_error(parser));
        return NGX_CONF_ERROR;
    }

    text = cw_inbox_parser_warning(parser);

    if (text != NULL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "%s", text);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_chatwoot_inbox_directive(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    cw_inbox_parser_t  *parser = conf;

    char        *rv;
    cw_str_t    *args, file;
    ngx_str_t   *value, content;
    ngx_uint_t   i, nargs, read, secret;

    value = cf->args->elts;
    nargs = cf->args->nelts;
    read = 0;
    secret = 0;

    /* a path as written is relative to the prefix, as nginx's own are */

    if (nargs == 2
        && (ngx_http_chatwoot_is(&value[0], "api_token_file")
            || ngx_http_chatwoot_is(&value[0], "webhook_secret_file")
            || ngx_http_chatwoot_is(&value[0], "webhook_token_file")
            || ngx_http_chatwoot_is(&value[0], "import_database_file")))
    {
        if (ngx_conf_full_name(cf->cycle, &value[1], 1) != NGX_OK
            || ngx_http_chatwoot_read_file(cf, &value[0], &value[1], &content)
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        read = 1;
        secret = 1;

    } else if (ngx_http_chatwoot_is(&value[0], "whatsapp_server")) {

        for (i = 2; i < nargs; i++) {
            if (ngx_strncmp(value[i].data, "ca_file=", 8) == 0
                && value[i].len > 8 && !read)
            {
                if (ngx_http_chatwoot_ca_file(cf, &value[i], &content)
                    != NGX_OK)
                {
                    return NGX_CONF_ERROR;
                }

                read = 1;
            }
        }

    } else if (nargs == 2
               && ngx_http_chatwoot_is(&value[0], "synthetic_device"))
    {
        if (ngx_conf_full_name(cf->cycle, &value[1], 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (read) {
        file.data = (const char *) content.data;
        file.len = content.len;
    }

    args = ngx_palloc(cf->temp_pool, nargs * sizeof(cw_str_t));
    if (args == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < nargs; i++) {
        args[i].data = (const char *) value[i].data;
        args[i].len = value[i].len;
    }

    rv = NGX_CONF_OK;

    if (cw_inbox_parser_add(parser, args, nargs, read ? &file : NULL) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s",
                           cw_inbox_parser_error(parser));
        rv = NGX_CONF_ERROR;
    }

    /* the core keeps its own copy: no secret is left in the temp pool */

    if (secret) {
        ngx_explicit_memzero(content.data, content.len);
    }

    return rv;
}


/*
 * whatsapp_server's "ca_file=<pem>": the path made absolute in place (the
 * core keeps it for the helper) and the file read, so that nginx -t
 * refuses a file the master cannot read.
 */

static ngx_int_t
ngx_http_chatwoot_ca_file(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *content)
{
    u_char     *p;
    ngx_str_t   path, directive;

    path.data = value->data + 8;
    path.len = value->len - 8;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(cf->pool, 8 + path.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value->data = p;
    value->len = 8 + path.len;

    p = ngx_cpymem(p, "ca_file=", 8);
    p = ngx_cpymem(p, path.data, path.len);
    *p = '\0';

    path.data = value->data + 8;

    ngx_str_set(&directive, "whatsapp_server");

    return ngx_http_chatwoot_read_file(cf, &directive, &path, content);
}


/*
 * A secret kept in its own file (readable by root only is enough: the
 * master reads it before it forks), or a CA file, read whole into the
 * temporary pool.  Errors name the directive.
 */

static ngx_int_t
ngx_http_chatwoot_read_file(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *name, ngx_str_t *content)
{
    u_char           *buf;
    off_t             size;
    ssize_t           n;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *name;
    file.log = cf->log;

    file.fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_open_file_n " \"%V\" failed",
                           directive, name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_fd_info_n " \"%V\" failed",
                           directive, name);
        ngx_close_file(file.fd);
        return NGX_ERROR;
    }

    size = ngx_file_size(&fi);

    buf = ngx_pnalloc(cf->temp_pool, size ? (size_t) size : 1);
    if (buf == NULL) {
        ngx_close_file(file.fd);
        return NGX_ERROR;
    }

    n = size ? ngx_read_file(&file, buf, (size_t) size, 0) : 0;

    ngx_close_file(file.fd);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    content->data = buf;
    content->len = n;

    return NGX_OK;
}


static void
ngx_http_chatwoot_inbox_cleanup(void *data)
{
    cw_inbox_parser_destroy(data);
}


/* A webhook or send location's inbox: named, or the only one there is. */

ngx_int_t
ngx_http_chatwoot_resolve_inbox(ngx_conf_t *cf,
    ngx_http_chatwoot_main_conf_t *mcf, ngx_http_chatwoot_loc_conf_t *lcf)
{
    char                       *directive;
    ngx_uint_t                  i;
    ngx_http_chatwoot_inbox_t **inboxp;

    inboxp = mcf->inboxes.elts;
    directive = lcf->handler == NGX_HTTP_CHATWOOT_SEND ? "chatwoot_send"
                                                       : "chatwoot_webhook";

    if (lcf->inbox_name.len == 0) {
        if (mcf->inboxes.nelts == 1) {
            lcf->inbox = inboxp[0];
            return NGX_OK;
        }

        if (mcf->inboxes.nelts == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" in %s:%ui needs a "
                          "chatwoot_inbox block in the http block",
                          directive, lcf->file, lcf->line);
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" in %s:%ui must name its "
                      "chatwoot_inbox: %ui are defined",
                      directive, lcf->file, lcf->line, mcf->inboxes.nelts);
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
                  "\"%s\" in %s:%ui names unknown "
                  "chatwoot_inbox \"%V\"", directive, lcf->file, lcf->line,
                  &lcf->inbox_name);
    return NGX_ERROR;
}
