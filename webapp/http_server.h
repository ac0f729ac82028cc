/* http_server.h - the HTTPS front door: a libevent evhttp server behind
 * OpenSSL bufferevents, keep-alive included. Turns each incoming request into
 * a struct http_req, hands it to one handler, and guarantees the request gets
 * exactly one reply through the http_reply_* functions, which also free it.
 * Knows nothing about routes, users or the coreapp. */
#ifndef WEBAPP_HTTP_SERVER_H
#define WEBAPP_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "common/errors.h"

struct event_base;
struct evhttp_request;
struct http_server;
struct tls;

enum http_method {
    HTTP_GET = 1 << 0, HTTP_POST = 1 << 1, HTTP_PUT = 1 << 2,
    HTTP_PATCH = 1 << 3, HTTP_DELETE = 1 << 4, HTTP_OTHER = 1 << 5
};

struct http_req {
    struct evhttp_request *ev;
    struct http_server    *srv;
    char                   rid[17];       /* request id, also sent as X-Request-Id */
    enum http_method       method;
    const char            *method_name;   /* "GET", ... */
    char                  *path;          /* decoded, without the query */
    char                  *query;         /* raw query string or NULL */
    char                   peer[64];      /* remote address */
    const char            *authorization; /* header value or NULL (borrowed) */
    const char            *content_type;  /* header value or NULL (borrowed) */
    unsigned char         *body;          /* NUL-terminated copy */
    size_t                 body_len;
    json_t                *json;          /* parsed body when the route wants JSON */
    json_t                *path_params;   /* object: ":name" segments of the route */
    char                  *user;          /* authenticated caller */
    char                  *role;
    const char            *metric_name;   /* "POST_v1_messages", set by routes */
    int64_t                start_us;
    void                  *route_data;    /* for the handler */
};

typedef void (*http_handler_fn)(struct http_req *req, void *arg);

/* Listens on host:port with TLS from tls. max_body bounds any request body
 * (larger bodies are refused by libevent before our code sees them). At
 * max_connections open connections (fewer if the descriptor limit is lower)
 * it stops accepting until one closes; further clients wait in the backlog. */
struct http_server *http_server_new(struct event_base *base, const char *host, int port,
                                    struct tls *tls, size_t max_body,
                                    unsigned max_connections,
                                    http_handler_fn handler, void *arg);
void http_server_free(struct http_server *srv);
/* Stop accepting connections (graceful shutdown); in-flight replies still go. */
void http_server_stop_listening(struct http_server *srv);
/* Requests accepted and not yet answered. */
unsigned http_server_inflight(const struct http_server *srv);
/* TLS connections: accepted since start, open now, most open at once. */
struct http_conn_stats {
    uint64_t accepted;
    unsigned open, peak;
};
void http_server_conn_stats(const struct http_server *srv, struct http_conn_stats *out);

/* The one way to answer. Each sends and frees req. */
void http_reply_payload(struct http_req *req, int status, json_t *payload /* taken */);
void http_reply_error(struct http_req *req, enum err_code e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_reply_raw(struct http_req *req, int status, const char *content_type,
                    const void *data, size_t len);
/* Adds a response header before the reply (e.g. WWW-Authenticate). */
void http_add_header(struct http_req *req, const char *name, const char *value);
/* Query parameter value (heap copy, free()) or NULL. */
char *http_query_get(const struct http_req *req, const char *name);

/* Called after each reply, for metrics: route name, status, duration. */
typedef void (*http_observe_fn)(const char *metric_name, int status, int64_t dur_us, void *arg);
void http_server_set_observer(struct http_server *srv, http_observe_fn fn, void *arg);

#endif /* WEBAPP_HTTP_SERVER_H */
