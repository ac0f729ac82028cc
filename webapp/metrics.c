/* metrics.c - request counters and the /v1/metrics answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/envelope.h"
#include "common/prom.h"
#include "common/xalloc.h"
#include "webapp/metrics.h"
#include "common/offload.h"
#include "webapp/proxy.h"
#include "webapp/webapp.h"

#define SERIES_BUCKETS 256
/* Upper bounds (seconds) of the request duration histogram: from a cached
 * token check to a coreapp timeout. */
static const double duration_bounds[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define NBOUNDS (sizeof(duration_bounds) / sizeof(duration_bounds[0]))

/* One (route, status) pair. Route names come from the route table, so both
 * labels are bounded: 71 routes plus "unmatched", a handful of statuses. */
struct series {
    struct series *next;        /* hash chain */
    struct series *next_all;    /* creation order, for a stable answer */
    const char    *method;      /* borrowed from the route table */
    int            status;
    uint64_t       count;
    uint64_t       sum_us;
    uint64_t       buckets[NBOUNDS + 1];
};

struct metrics {
    struct series *hash[SERIES_BUCKETS];
    struct series *all, **all_tail;
    char           node[256];
};

static unsigned
series_hash(const char *method, int status)
{
    uintptr_t h = (uintptr_t) method;

    h ^= h >> 7;
    return (unsigned) ((h * 31u + (unsigned) status) % SERIES_BUCKETS);
}

void
metrics_observe(const char *metric_name, int status, int64_t dur_us, void *arg)
{
    struct metrics *m = arg;
    const char     *method = metric_name ? metric_name : "unmatched";
    unsigned        h;
    struct series  *s;
    size_t          b = 0;
    double          secs = (double) (dur_us > 0 ? dur_us : 0) / 1e6;

    /* names are the route table's strings: equal names are equal pointers */
    h = series_hash(method, status);
    for (s = m->hash[h]; s != NULL; s = s->next)
        if (s->status == status && (s->method == method || strcmp(s->method, method) == 0))
            break;
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->method = method;
        s->status = status;
        s->next = m->hash[h];
        m->hash[h] = s;
        *m->all_tail = s;
        m->all_tail = &s->next_all;
    }
    s->count++;
    s->sum_us += (uint64_t) (dur_us > 0 ? dur_us : 0);
    while (b < NBOUNDS && secs > duration_bounds[b])
        b++;
    s->buckets[b]++;
}

void
metrics_attach(struct webapp *app)
{
    struct metrics *m = xcalloc(1, sizeof(*m));

    m->all_tail = &m->all;
    if (gethostname(m->node, sizeof(m->node)) != 0 || m->node[0] == '\0')
        snprintf(m->node, sizeof(m->node), "localhost");
    m->node[sizeof(m->node) - 1] = '\0';
    app->metrics = m;
    http_server_set_observer(app->http, metrics_observe, m);
}

void
metrics_free(struct metrics *m)
{
    struct series *s, *next;

    if (m == NULL)
        return;
    for (s = m->all; s != NULL; s = next) {
        next = s->next_all;
        free(s);
    }
    free(m);
}

const char *
metrics_node(const struct metrics *m)
{
    return m->node;
}

/* ---- the answer ----------------------------------------------------------- */

static json_t *
node_labels(const struct metrics *m)
{
    return json_pack("{s:s}", "node", m->node);
}

static void
gauge(json_t *out, const struct metrics *m, const char *name, const char *help, double v)
{
    prom_sample(prom_metric(out, name, "gauge", help), node_labels(m), v);
}

/* The documented set, under the documented names (CLARIFICATIONS §8). */
static void
add_documented(json_t *out, struct webapp *app)
{
    struct metrics        *m = app->metrics;
    struct http_conn_stats cs;
    unsigned               inflight = http_server_inflight(app->http);
    int                    idle = 0;
    unsigned               queued = 0;
    json_t                *data, *sum, *cnt;
    char                   result[16];

    http_server_conn_stats(app->http, &cs);
    if (app->offload != NULL)
        offload_load(app->offload, &idle, &queued);
    gauge(out, m, "web_uptime", "Number of seconds since web server has started",
          (double) ((clock_wall_ms() - app->started_ms) / 1000));
    prom_sample(prom_metric(out, "web_connections", "counter",
                            "Number of connections accepted since web server has started"),
                node_labels(m), (double) cs.accepted);
    gauge(out, m, "web_pending_connections", "Number of client connections open now",
          cs.open);
    gauge(out, m, "web_max_pending_connections",
          "Largest number of client connections open at once since web server has started",
          cs.peak);
    gauge(out, m, "web_queue_len",
          "Number of requests waiting for a worker thread (password hashing)", queued);
    gauge(out, m, "web_idle_processes", "Number of idle worker threads", idle);
    data = prom_metric(out, "web_requests", "gauge", "Number of ongoing requests");
    prom_sample(data, json_pack("{s:s, s:s}", "node", m->node, "state", "read"),
                cs.open > inflight ? cs.open - inflight : 0);
    prom_sample(data, json_pack("{s:s, s:s}", "node", m->node, "state", "handle-request"),
                inflight);
    sum = prom_metric(out, "api_requests_duration_ms_sum", "counter",
                      "Total number of durations of API requests");
    cnt = prom_metric(out, "api_requests_duration_ms_count", "counter",
                      "Total number of API requests");
    for (struct series *s = m->all; s != NULL; s = s->next_all) {
        snprintf(result, sizeof(result), "%d", s->status);
        prom_sample(sum, json_pack("{s:s, s:s, s:s}", "node", m->node, "result", result,
                                   "method", s->method), (double) s->sum_us / 1000.0);
        prom_sample(cnt, json_pack("{s:s, s:s, s:s}", "node", m->node, "result", result,
                                   "method", s->method), (double) s->count);
    }
}

/* Ours, named and typed as Prometheus recommends (lint-clean). */
static void
add_extra(json_t *out, struct webapp *app)
{
    struct metrics *m = app->metrics;
    json_t         *data, *labels;
    char            result[16];

    data = prom_metric(out, "wa_webapp_http_request_duration_seconds", "histogram",
                       "Time from a request's arrival to its reply, in seconds");
    for (struct series *s = m->all; s != NULL; s = s->next_all) {
        snprintf(result, sizeof(result), "%d", s->status);
        prom_histogram_sample(data, json_pack("{s:s, s:s, s:s}", "node", m->node,
                                              "method", s->method, "result", result),
                              duration_bounds, s->buckets, NBOUNDS, (double) s->sum_us / 1e6);
    }
    gauge(out, m, "wa_webapp_coreapp_requests_in_flight",
          "Requests sent to the coreapp and not yet answered", proxy_inflight(app->proxy));
    labels = json_pack("{s:s, s:s}", "node", m->node, "version", WA_VERSION);
    prom_sample(prom_metric(out, "wa_build_info", "gauge",
                            "Always 1; the labels say which version is running"), labels, 1);
    labels = node_labels(m);
    prom_add_process(out, labels, (double) app->started_ms / 1000.0);
    json_decref(labels);
}

void
route_metrics(struct http_req *req, struct webapp *app)
{
    enum prom_format fmt;
    json_t          *out;
    char            *text;
    size_t           len;

    if (prom_query_format(req->query, &fmt) != 0) {
        http_reply_error(req, ERR_PARAM_INVALID, "format must be prometheus or json");
        return;
    }
    out = json_object();
    add_documented(out, app);
    add_extra(out, app);
    if (fmt == PROM_FORMAT_TEXT) {
        text = prom_render(out, &len);
        json_decref(out);
        http_reply_raw(req, 200, PROM_CONTENT_TYPE, text, len);
        free(text);
        return;
    }
    http_reply_payload(req, 200, json_pack("{s:o}", "metrics", out));
}
