/* coreapp.h - the coreapp's process-wide context, built by main.c and handed
 * to the domain modules at registration time. */
#ifndef COREAPP_COREAPP_H
#define COREAPP_COREAPP_H

#include <stdint.h>
#include "common/db.h"

struct event_base;
struct db;
struct dispatch;

struct coreapp_config {
    struct db_config db;
    char *endpoint;             /* ZeroMQ bind for the webapps */
    char *sandbox_endpoint;     /* the network (wa-sandbox) */
    char *media_dir;
    char *log_level;
};

/* What /v1/health reports (spec/API.md §9). */
enum gateway_status {
    GATEWAY_UNINITIALIZED, GATEWAY_UNREGISTERED, GATEWAY_CONNECTING,
    GATEWAY_CONNECTED, GATEWAY_DISCONNECTED
};

struct coreapp {
    struct coreapp_config cfg;
    struct event_base    *base;
    struct db            *db;
    struct dispatch      *dispatch;
    enum gateway_status   gateway;
    int64_t               started_ms;
};

const char *gateway_status_name(enum gateway_status s);

#endif /* COREAPP_COREAPP_H */
