/* webapp.h - the webapp's process-wide context, built by main.c and passed to
 * the route handlers. Owns nothing itself; main.c creates and frees each part. */
#ifndef WEBAPP_WEBAPP_H
#define WEBAPP_WEBAPP_H

#include <stdint.h>
#include "common/db.h"

struct event_base;
struct event;
struct db;
struct proxy;
struct tls;
struct http_server;
struct auth_revocations;
struct auth_throttle;
struct offload;
struct routes;
struct metrics;

struct webapp_config {
    struct db_config db;
    char *host;
    long  port;
    char *servername;
    char *cert_file, *key_file;
    char *api_key;
    char *jwt_key;
    long  token_ttl_s;
    long  max_body;
    long  max_upload;
    long  max_connections;
    char *coreapp_endpoint;
    long  coreapp_timeout_ms;
    long  pw_iterations;
    char *log_level;
};

struct webapp {
    struct webapp_config     cfg;
    struct event_base       *base;
    struct db               *db;
    struct proxy            *proxy;
    struct tls              *tls;
    struct http_server      *http;
    struct routes           *routes;
    struct metrics          *metrics;      /* metrics.c */
    struct auth_revocations *revoked;
    struct auth_throttle    *throttle;      /* per username */
    struct auth_throttle    *peer_throttle; /* per client address, more lenient */
    struct offload          *offload;
    char                    *jwt_key;      /* effective signing key */
    struct event            *prune_timer;  /* users.c */
    int64_t                  started_ms;
};

#endif /* WEBAPP_WEBAPP_H */
