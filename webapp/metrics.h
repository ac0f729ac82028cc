/* metrics.h - GET /v1/metrics: the webapp's own metrics (spec/API.md §11) as
 * the documented JSON or, with ?format=prometheus, the text exposition format.
 * Owns the per-route request counters, fed by the http_server observer after
 * every reply; reads the levels (connections, in-flight requests, worker
 * threads, coreapp calls) from their modules at scrape time. */
#ifndef WEBAPP_METRICS_H
#define WEBAPP_METRICS_H

#include <stdint.h>
#include "webapp/http_server.h"

struct webapp;
struct metrics;

/* Creates app->metrics and sets it as app->http's observer. */
void metrics_attach(struct webapp *app);
void metrics_free(struct metrics *m);                 /* NULL is fine */

/* The http_server observer; arg is the struct metrics. metric_name NULL
 * (no route matched) is counted as method "unmatched". */
void metrics_observe(const char *metric_name, int status, int64_t dur_us, void *arg);

/* GET /v1/metrics (user or API key; the route table checks that). */
void route_metrics(struct http_req *req, struct webapp *app);

/* The value of the documented "node" label: this host's name. Borrowed. */
const char *metrics_node(const struct metrics *m);

#endif /* WEBAPP_METRICS_H */
