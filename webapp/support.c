/* support.c - the webapp's half of GET /v1/support. */
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/envelope.h"
#include "common/facts.h"
#include "common/log.h"
#include "common/wire.h"
#include "common/xalloc.h"
#include "webapp/metrics.h"
#include "webapp/proxy.h"
#include "webapp/support.h"
#include "webapp/webapp.h"

struct support_call {
    struct http_req *req;
    struct webapp   *app;
};

static json_t *
webapp_facts(struct webapp *app)
{
    struct http_conn_stats cs;

    http_server_conn_stats(app->http, &cs);
    return json_pack("{s:s, s:i, s:o, s:I, s:{s:s, s:s, s:s}, s:b, s:I, s:I, s:I, s:o}",
                     "node", app->metrics ? metrics_node(app->metrics) : "",
                     "pid", (int) getpid(),
                     "started_at", facts_iso_time(app->started_ms),
                     "uptime_s", (json_int_t) ((clock_wall_ms() - app->started_ms) / 1000),
                     "libraries", "libevent", event_get_version(), "jansson", JANSSON_VERSION,
                     "openssl", OpenSSL_version(OPENSSL_VERSION),
                     "api_key_configured", app->cfg.api_key != NULL,
                     "connections_open", (json_int_t) cs.open,
                     "requests_in_flight", (json_int_t) http_server_inflight(app->http),
                     "coreapp_requests_in_flight", (json_int_t) proxy_inflight(app->proxy),
                     "recent_errors", facts_recent_errors());
}

static void
support_done(const struct wire_reply *r, const void *blob, size_t blob_len, void *arg)
{
    struct support_call *c = arg;
    json_t              *support = NULL;

    (void) blob;
    (void) blob_len;
    if (r->error == ERR_OK && r->content_type == NULL)
        support = json_deep_copy(json_object_get(r->body, "support"));
    if (!json_is_object(support)) {
        json_decref(support);
        support = json_pack("{s:s, s:{s:b, s:i, s:s}}", "version", WA_VERSION,
                            "coreapp", "reachable", 0, "code", err_api_code(r->error),
                            "details", r->details ? r->details : err_title(r->error));
    }
    json_object_set_new(support, "webapp", webapp_facts(c->app));
    http_reply_payload(c->req, 200, json_pack("{s:o}", "support", support));
    free(c);
}

void
route_support(struct http_req *req, struct webapp *app)
{
    struct support_call *c = xcalloc(1, sizeof(*c));
    struct wire_request  w;

    c->req = req;
    c->app = app;
    memset(&w, 0, sizeof(w));
    memcpy(w.rid, req->rid, sizeof(w.rid));
    w.cmd = WIRE_SUPPORT;
    w.user = req->user;
    w.role = req->role;
    w.params = json_pack("{s:s, s:s}", "_method", req->method_name, "_path", req->path);
    proxy_call(app->proxy, &w, NULL, 0, support_done, c);     /* req may be gone now */
    json_decref(w.params);
}
