
/*
 * ngx_http_chatwoot_module's private header: the structs and functions the
 * glue's files share (ngx_http_v2.h style).  Each file holds one concern:
 *
 *   ngx_http_chatwoot_module.c    directives, main conf, the zone, init
 *   ngx_http_chatwoot_inbox.c     the chatwoot_inbox block
 *   ngx_http_chatwoot_webhook.c   the chatwoot_webhook location
 *   ngx_http_chatwoot_status.c    the chatwoot_status location
 *   ngx_http_chatwoot_metrics.c   the chatwoot_metrics location
 *   ngx_http_chatwoot_devices.c   the chatwoot_devices location
 *   ngx_http_chatwoot_send.c      the chatwoot_send location (send API)
 *   ngx_http_chatwoot_import.c    the chatwoot_import location
 *   ngx_http_chatwoot_helper.c    the path-manager hook: the helper process
 *   ngx_http_chatwoot_response.c  JSON answers and headers
 */


#ifndef _NGX_HTTP_CHATWOOT_H_INCLUDED_
#define _NGX_HTTP_CHATWOOT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "chatwoot_command.h"
#include "chatwoot_helper.h"
#include "chatwoot_replay.h"
#include "chatwoot_ring.h"
#include "chatwoot_send.h"
#include "chatwoot_shared.h"
#include "chatwoot_snapshot.h"
#include "chatwoot_webhook.h"


#define NGX_HTTP_CHATWOOT_ZONE_SIZE      (4 * 1024 * 1024)
#define NGX_HTTP_CHATWOOT_ZONE_MIN       (128 * 1024)
#define NGX_HTTP_CHATWOOT_QUEUE          4096
#define NGX_HTTP_CHATWOOT_QUEUE_MAX      (1024 * 1024)
#define NGX_HTTP_CHATWOOT_MAX_BODY       (256 * 1024)

/* Handlers a location can have. */
#define NGX_HTTP_CHATWOOT_NONE           0
#define NGX_HTTP_CHATWOOT_WEBHOOK        1
#define NGX_HTTP_CHATWOOT_STATUS         2
#define NGX_HTTP_CHATWOOT_DEVICES        3
#define NGX_HTTP_CHATWOOT_METRICS        4
#define NGX_HTTP_CHATWOOT_SEND           5
#define NGX_HTTP_CHATWOOT_IMPORT         6

/* The zone's parts of a fixed size, which come on top of its size=. */
#define NGX_HTTP_CHATWOOT_FIXED_AREAS                                         \
    (sizeof(cw_snapshot_area_t) + sizeof(cw_inbox_stats_area_t)             \
     + sizeof(cw_send_area_t))


/* In the zone, where its slab pool's "data" points: its parts. */
typedef struct {
    cw_shared_t                 *sh;
    cw_replay_t                 *replay;
} ngx_http_chatwoot_shm_root_t;


typedef struct {
    cw_shared_t                 *sh;
    ngx_slab_pool_t             *shpool;
    cw_replay_t                 *replay;
    size_t                       ring_size;
    size_t                       replay_slots;
    ngx_uint_t                   capacity;
} ngx_http_chatwoot_zone_ctx_t;


/*
 * One chatwoot_inbox block: its name for the glue's log lines and lookups,
 * and what the core made of it (checked, defaults filled; its strings live
 * as long as the cycle).
 */
typedef struct {
    ngx_str_t                    name;
    cw_inbox_conf_t              conf;
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
    ngx_str_t                    send_token;     /* chatwoot_send: the token */
    u_char                       send_scope[CW_SEND_SCOPE_LEN + 1];
    u_char                      *file;           /* where it was declared */
    ngx_uint_t                   line;
} ngx_http_chatwoot_loc_conf_t;


/* ngx_http_chatwoot_module.c */
char *ngx_http_chatwoot_set_handler(ngx_conf_t *cf,
    ngx_http_chatwoot_loc_conf_t *lcf, ngx_uint_t handler,
    ngx_http_handler_pt pt);

/* ngx_http_chatwoot_inbox.c */
char *ngx_http_chatwoot_inbox_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_chatwoot_resolve_inbox(ngx_conf_t *cf,
    ngx_http_chatwoot_main_conf_t *mcf, ngx_http_chatwoot_loc_conf_t *lcf);

/* ngx_http_chatwoot_webhook.c */
char *ngx_http_chatwoot_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_chatwoot_webhook_check_log(ngx_conf_t *cf,
    ngx_http_chatwoot_loc_conf_t *lcf);
u_char *ngx_http_chatwoot_read_body(ngx_http_request_t *r, size_t *len);
void ngx_http_chatwoot_wake_helper(cw_shared_t *sh);

/* ngx_http_chatwoot_status.c */
char *ngx_http_chatwoot_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_chatwoot_read_status(ngx_http_request_t *r, cw_status_t *st);

/* ngx_http_chatwoot_metrics.c */
char *ngx_http_chatwoot_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_chatwoot_devices.c */
char *ngx_http_chatwoot_devices(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_chatwoot_send.c */
char *ngx_http_chatwoot_send(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
/* ngx_http_chatwoot_import.c */
char *ngx_http_chatwoot_import(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_chatwoot_helper.c */
ngx_msec_t ngx_http_chatwoot_manager(void *data);

/* ngx_http_chatwoot_response.c */
ngx_int_t ngx_http_chatwoot_send_json(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len);
ngx_int_t ngx_http_chatwoot_send_body(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, u_char *body, size_t len);
ngx_int_t ngx_http_chatwoot_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *reason);
ngx_int_t ngx_http_chatwoot_not_allowed(ngx_http_request_t *r,
    const char *allow);
ngx_int_t ngx_http_chatwoot_add_header(ngx_http_request_t *r,
    const char *key, const char *value);
ngx_int_t ngx_http_chatwoot_location_path(ngx_http_request_t *r,
    cw_str_t *path);
ngx_int_t ngx_http_chatwoot_command_record(ngx_http_request_t *r,
    const cw_command_t *cmd, u_char **record, size_t *len);
ngx_int_t ngx_http_chatwoot_command_refused(ngx_http_request_t *r,
    cw_command_rc_t rc, const char *who);
cw_snapshot_t *ngx_http_chatwoot_read_snapshot(ngx_http_request_t *r);


/* The eventfd that wakes the helper: made once per master, inherited. */
extern int           ngx_http_chatwoot_wake_fd;

extern ngx_module_t  ngx_http_chatwoot_module;


#endif /* _NGX_HTTP_CHATWOOT_H_INCLUDED_ */
