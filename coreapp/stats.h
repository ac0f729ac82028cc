/* stats.h - the coreapp's metrics: a small in-memory registry any module can
 * bump, and the stats nodes that show it (spec/API.md §10):
 *   GET /v1/stats/app[/internal]  the registry plus levels read at request
 *                                 time (database link, gateway, process);
 *   GET /v1/stats/db[/internal]   row counts computed by SQL (costly on big
 *                                 databases, as documented: poll sparingly).
 * Each answers {"stats":{"app"|"db":{...}}} or, with ?format=prometheus, the
 * text exposition format. The /internal variants answer the same data.
 *
 * For other modules (all calls are cheap and do nothing when s is NULL):
 *   stats_add(app->stats, "callback_requests", "type=status_change,result=success", 1);
 *   stats_observe(app->stats, "callback_requests_duration_ms",
 *                 "type=status_change,result=success", elapsed_ms);
 *   stats_set(app->stats, "callback_queue_size", NULL, queued);
 * Metric names must be declared in stats.c (name, type, help); labels are
 * "key=value" pairs joined by commas, values without ',' or '='. Label
 * values must come from small fixed sets (a type, an HTTP status, an error
 * code), never from request data such as ids or phone numbers, so the
 * number of series stays bounded. */
#ifndef COREAPP_STATS_H
#define COREAPP_STATS_H

struct coreapp;
struct stats;

/* Creates app->stats, observes every command for endpoint_requests and
 * registers the four stats commands. */
void stats_init(struct coreapp *app);
void stats_free(struct stats *s);                          /* NULL is fine */

/* Counter: adds n (>= 0) to the series of name with these labels (NULL or ""
 * for none). An undeclared name is logged once and ignored. */
void stats_add(struct stats *s, const char *name, const char *labels, double n);
/* Gauge: sets the series to v. */
void stats_set(struct stats *s, const char *name, const char *labels, double v);
/* The documented <base>_count / <base>_sum pairs: adds 1 and v. */
void stats_observe(struct stats *s, const char *base, const char *labels, double v);
/* Current value of a series (0 if it has none); for tests and handlers. */
double stats_get(const struct stats *s, const char *name, const char *labels);

#endif /* COREAPP_STATS_H */
