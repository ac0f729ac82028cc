/* prom.h - metrics in their two documented forms: the JSON object of
 * spec/API.md §10-11,
 *   {"<name>": {"type": "counter", "help": "...", "data": [{"labels": {..}, "value": n}]}}
 * and the Prometheus text exposition format 0.0.4, rendered from that same
 * object so the two can't disagree. Histograms extend a data item with "sum"
 * and cumulative "buckets" ({"<le>": count, ..., "+Inf": count}), "value"
 * being the observation count. Also the conventional process_* metrics.
 * Knows jansson, nothing about HTTP or ZeroMQ. */
#ifndef COMMON_PROM_H
#define COMMON_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4"

enum prom_format { PROM_FORMAT_JSON, PROM_FORMAT_TEXT };

/* The "format" parameter of a raw query string (NULL ok): absent or "json"
 * gives PROM_FORMAT_JSON, "prometheus" PROM_FORMAT_TEXT; 0, or -1 for any
 * other value. */
int prom_query_format(const char *query, enum prom_format *out);

/* The data array of metric name in metrics (borrowed), adding the metric with
 * type ("counter", "gauge", "histogram") and help if it is not there yet. */
json_t *prom_metric(json_t *metrics, const char *name, const char *type, const char *help);
/* Appends {"labels": labels, "value": v} to data. labels is taken and may be
 * NULL (no labels). Integral values are written as JSON integers. */
void prom_sample(json_t *data, json_t *labels, double v);
/* Appends a histogram item: counts[i] observations in bucket i (not
 * cumulative), bounds[i] its upper bound, counts[n] those above bounds[n-1]. */
void prom_histogram_sample(json_t *data, json_t *labels, const double *bounds,
                           const uint64_t *counts, size_t n, double sum);

/* The text exposition of metrics (borrowed); heap string, length in *len.
 * Metrics or items that don't have the shape above are skipped. */
char *prom_render(const json_t *metrics, size_t *len);

/* Adds process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and
 * process_start_time_seconds (start_s, Unix time) for the calling process,
 * each with a copy of labels (borrowed, may be NULL). */
void prom_add_process(json_t *metrics, const json_t *labels, double start_s);

/* Shortest decimal text that reads back as v ("+Inf", "-Inf", "NaN" too). */
void prom_format_double(double v, char *buf, size_t n);

#endif /* COMMON_PROM_H */
