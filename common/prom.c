/* prom.c - the metrics JSON object and its Prometheus text rendering. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "common/prom.h"
#include "common/xalloc.h"

/* ---- a growing string ---------------------------------------------------- */

struct sbuf {
    char   *s;
    size_t  len, cap;
};

static void
sb_grow(struct sbuf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    while (b->len + more + 1 > b->cap)
        b->cap = b->cap ? b->cap * 2 : 4096;
    b->s = xrealloc(b->s, b->cap);
}

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
    sb_grow(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Escapes \ and newline (help text), plus " in label values. */
static void
sb_escaped(struct sbuf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            sb_str(b, "\\\\");
        else if (*s == '\n')
            sb_str(b, "\\n");
        else if (quote && *s == '"')
            sb_str(b, "\\\"");
        else
            sb_put(b, s, 1);
    }
}

/* ---- numbers --------------------------------------------------------------- */

void
prom_format_double(double v, char *buf, size_t n)
{
    if (isnan(v)) {
        snprintf(buf, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {   /* 2^53: exact integers */
        snprintf(buf, n, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void
sb_value(struct sbuf *b, const json_t *v)
{
    char num[64];

    if (json_is_integer(v))
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        prom_format_double(json_number_value(v), num, sizeof(num));
    sb_str(b, num);
}

/* ---- building ------------------------------------------------------------ */

int
prom_query_format(const char *query, enum prom_format *out)
{
    const char *p = query;

    *out = PROM_FORMAT_JSON;
    while (p != NULL && *p) {
        const char *end = strchr(p, '&');
        size_t      len = end ? (size_t) (end - p) : strlen(p);

        if (len >= 7 && strncmp(p, "format=", 7) == 0) {
            const char *v = p + 7;
            size_t      vlen = len - 7;

            if (vlen == 10 && strncmp(v, "prometheus", 10) == 0)
                *out = PROM_FORMAT_TEXT;
            else if (vlen == 4 && strncmp(v, "json", 4) == 0)
                *out = PROM_FORMAT_JSON;
            else
                return -1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

json_t *
prom_metric(json_t *metrics, const char *name, const char *type, const char *help)
{
    json_t *m = json_object_get(metrics, name);

    if (m == NULL) {
        m = json_pack("{s:s, s:s, s:[]}", "type", type, "help", help, "data");
        json_object_set_new(metrics, name, m);
    }
    return json_object_get(m, "data");
}

static json_t *
number_new(double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t) v);
    return json_real(v);
}

void
prom_sample(json_t *data, json_t *labels, double v)
{
    json_t *item = json_object();

    if (labels != NULL)
        json_object_set_new(item, "labels", labels);
    json_object_set_new(item, "value", number_new(v));
    json_array_append_new(data, item);
}

void
prom_histogram_sample(json_t *data, json_t *labels, const double *bounds,
                      const uint64_t *counts, size_t n, double sum)
{
    json_t   *item = json_object(), *buckets = json_object();
    uint64_t  cum = 0;
    char      le[64];

    for (size_t i = 0; i <= n; i++) {
        cum += counts[i];
        prom_format_double(i < n ? bounds[i] : INFINITY, le, sizeof(le));
        json_object_set_new(buckets, le, json_integer((json_int_t) cum));
    }
    if (labels != NULL)
        json_object_set_new(item, "labels", labels);
    json_object_set_new(item, "value", json_integer((json_int_t) cum));
    json_object_set_new(item, "sum", json_real(sum));
    json_object_set_new(item, "buckets", buckets);
    json_array_append_new(data, item);
}

/* ---- rendering ------------------------------------------------------------ */

/* name{k="v",...,extra_k="extra_v"} value */
static void
sb_line(struct sbuf *b, const char *name, const char *suffix, const json_t *labels,
        const char *extra_k, const char *extra_v, const json_t *value)
{
    const char *k;
    json_t     *v;
    bool        first = true;

    sb_str(b, name);
    sb_str(b, suffix);
    if (json_object_size(labels) > 0 || extra_k != NULL) {
        sb_str(b, "{");
        json_object_foreach((json_t *) labels, k, v) {
            if (!json_is_string(v))
                continue;
            sb_str(b, first ? "" : ",");
            sb_str(b, k);
            sb_str(b, "=\"");
            sb_escaped(b, json_string_value(v), true);
            sb_str(b, "\"");
            first = false;
        }
        if (extra_k != NULL) {
            sb_str(b, first ? "" : ",");
            sb_str(b, extra_k);
            sb_str(b, "=\"");
            sb_escaped(b, extra_v, true);
            sb_str(b, "\"");
        }
        sb_str(b, "}");
    }
    sb_str(b, " ");
    sb_value(b, value);
    sb_str(b, "\n");
}

static void
render_item(struct sbuf *b, const char *name, bool histogram, const json_t *item)
{
    const json_t *labels = json_object_get(item, "labels");
    const json_t *value = json_object_get(item, "value");
    const json_t *buckets, *sum;
    const char   *le;
    json_t       *cnt;

    if (!json_is_number(value))
        return;
    if (!histogram) {
        sb_line(b, name, "", labels, NULL, NULL, value);
        return;
    }
    buckets = json_object_get(item, "buckets");
    sum = json_object_get(item, "sum");
    json_object_foreach((json_t *) buckets, le, cnt)
        if (json_is_number(cnt))
            sb_line(b, name, "_bucket", labels, "le", le, cnt);
    if (json_is_number(sum))
        sb_line(b, name, "_sum", labels, NULL, NULL, sum);
    sb_line(b, name, "_count", labels, NULL, NULL, value);
}

char *
prom_render(const json_t *metrics, size_t *len)
{
    struct sbuf  b = { NULL, 0, 0 };
    const char  *name;
    json_t      *m;

    sb_grow(&b, 0);
    b.s[0] = '\0';
    json_object_foreach((json_t *) metrics, name, m) {
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *help = json_string_value(json_object_get(m, "help"));
        json_t     *data = json_object_get(m, "data"), *item;
        size_t      i;

        if (type == NULL || !json_is_array(data))
            continue;
        if (help != NULL && help[0] != '\0') {
            sb_str(&b, "# HELP ");
            sb_str(&b, name);
            sb_str(&b, " ");
            sb_escaped(&b, help, false);
            sb_str(&b, "\n");
        }
        sb_str(&b, "# TYPE ");
        sb_str(&b, name);
        sb_str(&b, " ");
        sb_str(&b, type);
        sb_str(&b, "\n");
        json_array_foreach(data, i, item)
            render_item(&b, name, strcmp(type, "histogram") == 0, item);
    }
    if (len != NULL)
        *len = b.len;
    return b.s;
}

/* ---- process metrics ----------------------------------------------------- */

static void
process_sample(json_t *metrics, const json_t *labels, const char *name, const char *type,
               const char *help, double v)
{
    prom_sample(prom_metric(metrics, name, type, help),
                labels ? json_deep_copy(labels) : NULL, v);
}

static int
open_fds(void)
{
    DIR           *d = opendir("/proc/self/fd");
    struct dirent *e;
    int            n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (isdigit((unsigned char) e->d_name[0]))
            n++;
    closedir(d);
    return n - 1;        /* the directory's own descriptor */
}

void
prom_add_process(json_t *metrics, const json_t *labels, double start_s)
{
    struct rusage ru;
    struct rlimit rl;
    long          page = sysconf(_SC_PAGESIZE);
    unsigned long vsz = 0, rss = 0;
    FILE         *f;
    int           fds = open_fds();

    if (getrusage(RUSAGE_SELF, &ru) == 0)
        process_sample(metrics, labels, "process_cpu_seconds_total", "counter",
                       "Total user and system CPU time spent in seconds.",
                       (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                       (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    if ((f = fopen("/proc/self/statm", "r")) != NULL) {
        if (fscanf(f, "%lu %lu", &vsz, &rss) == 2) {
            process_sample(metrics, labels, "process_resident_memory_bytes", "gauge",
                           "Resident memory size in bytes.", (double) rss * (double) page);
            process_sample(metrics, labels, "process_virtual_memory_bytes", "gauge",
                           "Virtual memory size in bytes.", (double) vsz * (double) page);
        }
        fclose(f);
    }
    if (fds >= 0)
        process_sample(metrics, labels, "process_open_fds", "gauge",
                       "Number of open file descriptors.", fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        process_sample(metrics, labels, "process_max_fds", "gauge",
                       "Maximum number of open file descriptors.", (double) rl.rlim_cur);
    process_sample(metrics, labels, "process_start_time_seconds", "gauge",
                   "Start time of the process since unix epoch in seconds.", start_s);
}
