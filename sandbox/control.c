/* control.c - evhttp server and route table of the control API. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/accept_rest.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "sandbox/control.h"
#include "sandbox/network.h"

#define MAX_BODY (4 * 1024 * 1024)

struct control {
    struct evhttp      *http;
    struct network     *net;
    struct accept_rest *rest;      /* no spinning when out of descriptors */
};

/* A pattern is a path whose "*" segment is the parameter. */
static const struct route {
    enum evhttp_cmd_type method;
    const char          *pattern;
    network_ctl_fn       fn;
} routes[] = {
    { EVHTTP_REQ_GET,   "/health",                       network_ctl_health },
    { EVHTTP_REQ_POST,  "/certs",                        network_ctl_cert },
    { EVHTTP_REQ_GET,   "/registrations/*",              network_ctl_registration },
    { EVHTTP_REQ_POST,  "/registrations/*/expire",       network_ctl_registration_expire },
    { EVHTTP_REQ_GET,   "/businesses",                   network_ctl_businesses },
    { EVHTTP_REQ_GET,   "/businesses/*",                 network_ctl_business },
    { EVHTTP_REQ_POST,  "/customers",                    network_ctl_customer_put },
    { EVHTTP_REQ_GET,   "/customers/*",                  network_ctl_customer_get },
    { EVHTTP_REQ_POST,  "/customers/*/identity",         network_ctl_identity_change },
    { EVHTTP_REQ_GET,   "/customers/*/messages",         network_ctl_customer_messages },
    { EVHTTP_REQ_POST,  "/customers/*/messages",         network_ctl_customer_send },
    { EVHTTP_REQ_POST,  "/customers/*/read",             network_ctl_customer_read },
    { EVHTTP_REQ_POST,  "/customers/*/close-window",     network_ctl_window_close },
    { EVHTTP_REQ_POST,  "/customers/*/change-number",    network_ctl_number_change },
    { EVHTTP_REQ_GET,   "/customers/*/receipts",         network_ctl_customer_receipts },
    { EVHTTP_REQ_POST,  "/templates",                    network_ctl_template_add },
    { EVHTTP_REQ_GET,   "/templates",                    network_ctl_templates },
    { EVHTTP_REQ_GET,   "/settings",                     network_ctl_settings_get },
    { EVHTTP_REQ_PATCH, "/settings",                     network_ctl_settings_patch },
    { EVHTTP_REQ_GET,   "/stats",                        network_ctl_stats },
};

/* Matches path against pattern; the "*" segment (digits and letters only)
 * goes to param. */
static bool
match(const char *pattern, const char *path, char *param, size_t size)
{
    param[0] = '\0';
    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= size)
                return false;
            memcpy(param, path, n);
            param[n] = '\0';
            path += n;
            pattern++;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

static void
reply(struct evhttp_request *req, int status, json_t *body)
{
    struct evbuffer *buf = evbuffer_new();
    char            *s = body ? json_dumps(body, JSON_COMPACT) : NULL;

    if (s != NULL)
        evbuffer_add(buf, s, strlen(s));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", buf);
    evbuffer_free(buf);
    free(s);
    json_decref(body);
}

static json_t *
error_body(const char *msg)
{
    return json_pack("{s:{s:s}}", "error", "message", msg);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
    struct control       *c = arg;
    const char           *uri = evhttp_request_get_uri(req);
    struct evhttp_uri    *u = evhttp_uri_parse(uri);
    const char           *path = u ? evhttp_uri_get_path(u) : NULL;
    enum evhttp_cmd_type  method = evhttp_request_get_command(req);
    struct evbuffer      *in = evhttp_request_get_input_buffer(req);
    size_t                len = evbuffer_get_length(in);
    char                  param[256];
    json_t               *body = NULL, *out = NULL;
    bool                  path_found = false;
    int                   status;

    if (path == NULL) {
        reply(req, 400, error_body("bad request line"));
        goto done;
    }
    if (len > 0) {
        json_error_t jerr;
        body = json_loadb((const char *) evbuffer_pullup(in, -1), len, 0, &jerr);
        if (!json_is_object(body)) {
            reply(req, 400, error_body("the body must be a JSON object"));
            goto done;
        }
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!match(routes[i].pattern, path, param, sizeof(param)))
            continue;
        path_found = true;
        if (routes[i].method != method)
            continue;
        status = routes[i].fn(c->net, param[0] ? param : NULL, body, &out);
        log_debug(NULL, "control", "path=%s status=%d", path, status);
        reply(req, status, out);
        goto done;
    }
    reply(req, path_found ? 405 : 404, error_body(path_found ? "method not allowed"
                                                             : "no such route"));
done:
    json_decref(body);
    if (u)
        evhttp_uri_free(u);
}

struct control *
control_new(struct event_base *base, const char *hostport, struct network *n)
{
    struct control             *c = xcalloc(1, sizeof(*c));
    const char                 *colon = strrchr(hostport, ':');
    char                       *host;
    long                        port = colon ? strtol(colon + 1, NULL, 10) : 0;
    struct evhttp_bound_socket *sock;

    if (colon == NULL || port <= 0 || port > 65535) {
        log_error(NULL, "control_bad_address", "address=%s", hostport);
        free(c);
        return NULL;
    }
    host = xstrndup(hostport, (size_t) (colon - hostport));
    c->net = n;
    c->http = evhttp_new(base);
    evhttp_set_max_body_size(c->http, MAX_BODY);
    evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PATCH |
                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_gencb(c->http, request_cb, c);
    sock = evhttp_bind_socket_with_handle(c->http, host, (unsigned short) port);
    if (sock == NULL) {
        log_error(NULL, "control_bind_failed", "address=%s", hostport);
        free(host);
        control_free(c);
        return NULL;
    }
    c->rest = accept_rest_new(base, evhttp_bound_socket_get_listener(sock),
                              "control_accept_failed", NULL, NULL);
    log_info(NULL, "control_listening", "address=%s", hostport);
    free(host);
    return c;
}

void
control_free(struct control *c)
{
    if (c == NULL)
        return;
    accept_rest_free(c->rest);            /* before evhttp_free() frees the listener */
    if (c->http)
        evhttp_free(c->http);
    free(c);
}
