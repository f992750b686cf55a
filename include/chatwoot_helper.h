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

#include "chatwoot_abi.h"

#include "chatwoot_shared.h"
#include "chatwoot_webhook.h"

CW_BEGIN_DECLS


/* One chatwoot_inbox block, as the helper needs it; strings NUL-terminated. */
typedef struct {
    const char   *name;
    const char   *url;
    const char   *api_token;
    int64_t       account_id;
    int64_t       inbox_id;       /* 0: look inbox_name up */
    const char   *inbox_name;     /* or NULL */
    const char   *inbox_create_webhook;   /* create it with this callback */
    uint64_t      device_timeout_sec;
    unsigned      concurrency;
    unsigned      rate;           /* requests per second, 0: no cap */
    int           import_on_link; /* import the history once, after the
                                     first link */
    unsigned      import_days;    /* an import's window when its request
                                     says none; 0: CW_IMPORT_DEFAULT_DAYS */
    int           reopen_resolved;
    int           open_as_pending;
    const char   *synthetic_device;   /* a directory, or NULL */
    int           ignore_groups;
    int           agent_signature;
    uint64_t      throttle_base_msec;   /* 0: the client's default */
    uint64_t      throttle_cap_msec;
    const char   *signature_delimiter;
    const char  **ignore_jids;        /* ignore_jids_n C strings */
    size_t        ignore_jids_n;

    /* for the glue: the url's check=, and the webhook's credentials */
    uint64_t      check_interval_msec;
    cw_str_t      webhook_secret;     /* absent: none */
    cw_str_t      webhook_token;

    /*
     * The WhatsApp session (whatsapp_* directives), defaults filled: the
     * live device runs when "whatsapp" is set; the rest is how it reaches
     * the server.
     */
    int            whatsapp;
    const char    *whatsapp_server;         /* wss:// (or ws://) URL */
    unsigned char  whatsapp_root_key[32];   /* the Noise certificates' root */
    const char    *whatsapp_ca_file;        /* absolute path, or NULL */
    unsigned       whatsapp_version[3];     /* 0.0.0: auto */
    const char    *whatsapp_device_name;    /* UTF-8 */
    const char    *whatsapp_proxy;          /* http://host:port, or NULL */
    uint64_t       whatsapp_media_max;      /* bytes of one media file */
    /* media_host: storage hosts attachments may come from besides the
     * url's origin, as "scheme://host:port" */
    const char   **media_hosts;
    size_t         media_hosts_n;
    /* the "WhatsApp bridge" conversation in the inbox (notices, the QR,
     * agents' commands); on by default */
    int            control_conversation;
    uint64_t       control_throttle_sec;    /* one notice per kind this often */
    /* import_database(_file): Chatwoot's PostgreSQL as a libpq conninfo
     * (URL or key=value pairs), or NULL for the REST path; a secret */
    const char    *import_database;
} cw_inbox_conf_t;

typedef struct {
    const char   *state_path;     /* NUL-terminated, absolute */
    const char   *chatwoot_url;   /* NUL-terminated, or NULL */
    cw_shared_t  *shared;
    void         *shpool;         /* ngx_slab_pool_t *: its mutex guards ring */
    int           wake_fd;        /* eventfd made once by the master */
    uint64_t      probe_interval_msec;
    const cw_inbox_conf_t  *inboxes;
    size_t                  inboxes_n;
} cw_helper_conf_t;

/* Milliseconds until nginx should call again. */
uint64_t cw_helper_manager(const cw_helper_conf_t *conf) CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_HELPER_H */
