/* coreapp.h - the coreapp's process-wide context, built by main.c and handed
 * to the domain modules at registration time. */
#ifndef COREAPP_COREAPP_H
#define COREAPP_COREAPP_H

#include <stdint.h>
#include "common/db.h"

struct event_base;
struct db;
struct dispatch;
struct stats;
struct gateway;
struct account;
struct contacts;
struct settings;
struct webhooks;
struct services;
struct messages;
struct profile;

struct coreapp_config {
    struct db_config db;
    char *endpoint;             /* ZeroMQ bind for the webapps */
    char *sandbox_endpoint;     /* the network (wa-sandbox) */
    char *sandbox_state_dir;    /* where wa-sandbox writes its public key */
    char *sandbox_public_key;   /* or the key itself (Z85); wins over the file */
    long  sandbox_heartbeat_ms; /* link heartbeat; down after 3 silent intervals */
    long  outbox_memory_max;    /* coreapp/messages_sender.c: held by the gateway at most */
    char *media_dir;
    char *log_level;
    char *webhook_secret;       /* WA_WEBHOOK_SECRET (coreapp/webhooks.h) */
    long  webhook_timeout_ms;   /* per callback request */
    long  message_retention_days;   /* coreapp/message_gc.h */
    long  message_gc_interval_s;
};

/* What /v1/health reports (spec/API.md §9). */
enum gateway_status {
    GATEWAY_UNINITIALIZED, GATEWAY_UNREGISTERED, GATEWAY_CONNECTING,
    GATEWAY_CONNECTED, GATEWAY_DISCONNECTED
};

struct offload;

struct coreapp {
    struct coreapp_config cfg;
    struct event_base    *base;
    struct db            *db;
    void                 *zctx;       /* the one ZeroMQ context: one I/O thread for
                                         the webapps' and the network's sockets */
    struct dispatch      *dispatch;
    struct offload       *offload;    /* a thread for CPU-heavy work (common/offload.h) */
    enum gateway_status   gateway;    /* set by coreapp/gateway.c */
    struct gateway       *gw;         /* the network link (coreapp/gateway.h) */
    struct account       *account;    /* registration (coreapp/account.h) */
    struct contacts      *contacts;   /* contacts cache (coreapp/contacts.h) */
    struct stats         *stats;      /* metrics registry (coreapp/stats.h) */
    struct messages      *messages;   /* sending and receiving (coreapp/messages.h) */
    struct settings      *settings;   /* application settings (coreapp/settings.h) */
    struct webhooks      *webhooks;   /* callback dispatcher (coreapp/webhooks.h) */
    struct services      *services;   /* the gc service (coreapp/services.h) */
    struct profile       *profile;    /* profile pushes (coreapp/profile.h) */
    int64_t               started_ms;
};

const char *gateway_status_name(enum gateway_status s);

#endif /* COREAPP_COREAPP_H */
