/*
 * The chatwoot_inbox block's rules and defaults.  The glue reads the block
 * as nginx does any block and hands each directive over as written (its
 * name and arguments); this side checks every value, fills the defaults
 * once the block ends and gives back the filled cw_inbox_conf_t, or the
 * text of an [emerg] that names the directive and the bad value.
 *
 * What needs nginx stays in the glue: paths are made absolute against the
 * prefix before they come here, and a *_file directive's file is read by
 * the glue, which passes its content along.
 */

#ifndef CHATWOOT_INBOX_CONF_H
#define CHATWOOT_INBOX_CONF_H

#include <stddef.h>

#include "chatwoot_abi.h"

#include "chatwoot_helper.h"
#include "chatwoot_webhook.h"

CW_BEGIN_DECLS


typedef struct cw_inbox_parser_s  cw_inbox_parser_t;

/*
 * A parser for the block "chatwoot_inbox name { ... }"; NULL when out of
 * memory.  An invalid name is reported by cw_inbox_parser_error() at once
 * (and every later call fails with it).  The cw_inbox_conf_t it fills
 * points into the parser: destroy it only when the conf is no longer used
 * (the glue ties it to the cycle's pool).
 */
cw_inbox_parser_t *cw_inbox_parser_create(cw_str_t name) CW_NOEXCEPT;
void cw_inbox_parser_destroy(cw_inbox_parser_t *parser) CW_NOEXCEPT;

/*
 * One directive of the block: args[0] is its name, args[1..nargs) its
 * arguments, as nginx's cf->args holds them.  file is the content of the
 * file an "api_token_file" or "webhook_secret_file" names (read by the
 * glue), NULL otherwise.  0 when accepted, -1 with an error.
 */
int cw_inbox_parser_add(cw_inbox_parser_t *parser, const cw_str_t *args,
    size_t nargs, const cw_str_t *file) CW_NOEXCEPT;

/*
 * The block has ended: checks what a block must say, fills the defaults
 * and *conf.  0, or -1 with an error.
 */
int cw_inbox_parser_finish(cw_inbox_parser_t *parser, cw_inbox_conf_t *conf)
    CW_NOEXCEPT;

/* The last error (NUL-terminated), NULL when there was none. */
const char *cw_inbox_parser_error(const cw_inbox_parser_t *parser)
    CW_NOEXCEPT;

/* After finish: a warning for the operator, or NULL. */
const char *cw_inbox_parser_warning(const cw_inbox_parser_t *parser)
    CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_INBOX_CONF_H */
