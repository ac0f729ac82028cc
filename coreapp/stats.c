/* stats.c - the metrics registry, /v1/stats/app and /v1/stats/db. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/db.h"
#include "common/envelope.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/stats.h"

/* The documented /v1/stats/app metrics (spec/API.md §10), under their
 * documented names even where Prometheus' conventions differ (CLARIFICATIONS
 * §8). Unlabelled ones start at 0 so they are listed before anything happens. */
static const struct stats_decl {
    const char *name, *type, *help;
    bool        unlabelled;
} decls[] = {
    { "callback_queue_size", "gauge", "Current callback queue size", true },
    { "callback_requests", "counter", "Total number of callback requests made", false },
    { "callback_requests_duration_ms_count", "counter",
      "Number of callback requests made, for the duration sum", false },
    { "callback_requests_duration_ms_sum", "counter",
      "Total duration of callback requests in milliseconds", false },
    { "concurrent_rate_limit_triggered", "counter",
      "Number of times the concurrent request rate limit was triggered", true },
    { "db_request_duration_us_count", "counter", "Number of successful database queries", true },
    { "db_request_duration_us_sum", "counter",
      "Total duration of successful database queries in microseconds", true },
    { "db_request_error_duration_us_count", "counter", "Number of failed database queries",
      true },
    { "db_request_error_duration_us_sum", "counter",
      "Total duration of failed database queries in microseconds", true },
    { "endpoint_requests", "counter", "Total number of endpoint requests by result", false },
    { "endpoint_requests_duration_ms_count", "counter",
      "Number of endpoint requests, for the duration sum", false },
    { "endpoint_requests_duration_ms_sum", "counter",
      "Total duration of endpoint requests in milliseconds", false },
    { "in_message_decoded", "counter", "Number of inbound messages decoded", true },
    { "in_message_from_server", "counter", "Number of inbound messages received from the server",
      true },
    { "in_message_persisted", "counter", "Number of inbound messages persisted in the database",
      true },
    { "in_messages_pending_processing", "gauge",
      "Number of inbound messages received and not yet processed", true },
    { "internal_server_conn_duration_ms_count", "counter",
      "Number of connections made to the WhatsApp servers", true },
    { "internal_server_conn_duration_ms_sum", "counter",
      "Total duration of connections to the WhatsApp servers in milliseconds", true },
    { "internal_server_requests_duration_ms_count", "counter",
      "Number of requests made to the WhatsApp servers", true },
    { "internal_server_requests_duration_ms_sum", "counter",
      "Total duration of requests to the WhatsApp servers in milliseconds", true },
};
#define NDECLS (sizeof(decls) / sizeof(decls[0]))
#define METRIC_BUCKETS 64

/* Upper bounds (seconds) of wa_coreapp_command_duration_seconds. */
static const double cmd_bounds[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define NCMD_BOUNDS (sizeof(cmd_bounds) / sizeof(cmd_bounds[0]))

struct series {
    struct series *next;
    char          *labels;        /* "k=v,k=v" as given; "" for none */
    double         value;
};

struct metric {
    struct metric *hnext;
    struct metric *next;          /* declaration order */
    char          *name;
    const char    *type, *help;   /* static; type NULL: undeclared, ignored */
    struct series *series, **tail;
};

struct stats {
    struct coreapp *app;
    struct metric  *hash[METRIC_BUCKETS];
    struct metric  *all, **all_tail;
    struct {                       /* per command, for the histogram */
        uint64_t counts[NCMD_BOUNDS + 1];
        double   sum;
    }               cmd[WIRE__COUNT];
};

/* ---- the registry ---------------------------------------------------------- */

static unsigned
name_hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h % METRIC_BUCKETS;
}

static struct metric *
metric_add(struct stats *s, const char *name, const char *type, const char *help)
{
    struct metric *m = xcalloc(1, sizeof(*m));
    unsigned       h = name_hash(name);

    m->name = xstrdup(name);
    m->type = type;
    m->help = help;
    m->tail = &m->series;
    m->hnext = s->hash[h];
    s->hash[h] = m;
    *s->all_tail = m;
    s->all_tail = &m->next;
    return m;
}

static struct metric *
metric_find(const struct stats *s, const char *name)
{
    for (struct metric *m = s->hash[name_hash(name)]; m != NULL; m = m->hnext)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

static struct series *
series_get(struct stats *s, const char *name, const char *labels)
{
    struct metric *m = metric_find(s, name);
    struct series *se;

    if (labels == NULL)
        labels = "";
    if (m == NULL) {
        /* remembered, so the warning is logged once per name */
        log_warn(NULL, "stats_undeclared", "name=%s", name);
        m = metric_add(s, name, NULL, NULL);
    }
    if (m->type == NULL)
        return NULL;
    for (se = m->series; se != NULL; se = se->next)
        if (strcmp(se->labels, labels) == 0)
            return se;
    se = xcalloc(1, sizeof(*se));
    se->labels = xstrdup(labels);
    *m->tail = se;
    m->tail = &se->next;
    return se;
}

void
stats_add(struct stats *s, const char *name, const char *labels, double n)
{
    struct series *se;

    if (s != NULL && (se = series_get(s, name, labels)) != NULL)
        se->value += n;
}

void
stats_set(struct stats *s, const char *name, const char *labels, double v)
{
    struct series *se;

    if (s != NULL && (se = series_get(s, name, labels)) != NULL)
        se->value = v;
}

void
stats_observe(struct stats *s, const char *base, const char *labels, double v)
{
    char name[128];

    snprintf(name, sizeof(name), "%s_count", base);
    stats_add(s, name, labels, 1);
    snprintf(name, sizeof(name), "%s_sum", base);
    stats_add(s, name, labels, v);
}

double
stats_get(const struct stats *s, const char *name, const char *labels)
{
    const struct metric *m = s ? metric_find(s, name) : NULL;

    for (const struct series *se = m ? m->series : NULL; se != NULL; se = se->next)
        if (strcmp(se->labels, labels ? labels : "") == 0)
            return se->value;
    return 0;
}

static struct stats *
stats_new(struct coreapp *app)
{
    struct stats *s = xcalloc(1, sizeof(*s));

    s->app = app;
    s->all_tail = &s->all;
    for (size_t i = 0; i < NDECLS; i++) {
        metric_add(s, decls[i].name, decls[i].type, decls[i].help);
        if (decls[i].unlabelled)
            stats_add(s, decls[i].name, NULL, 0);
    }
    return s;
}

void
stats_free(struct stats *s)
{
    struct metric *m, *mnext;
    struct series *se, *snext;

    if (s == NULL)
        return;
    for (m = s->all; m != NULL; m = mnext) {
        mnext = m->next;
        for (se = m->series; se != NULL; se = snext) {
            snext = se->next;
            free(se->labels);
            free(se);
        }
        free(m->name);
        free(m);
    }
    free(s);
}

/* ---- endpoint_requests: every command's outcome --------------------------- */

static void
command_observed(enum wire_cmd cmd, int status, enum err_code err, int64_t dur_us, void *arg)
{
    struct stats *s = arg;
    char          labels[128];
    double        secs = (double) (dur_us > 0 ? dur_us : 0) / 1e6;
    size_t        b = 0;

    /* "ok" or the error code; a bare 4xx/5xx (binary 404) by its status */
    if (err != ERR_OK)
        snprintf(labels, sizeof(labels), "method=%s,result=%d", wire_cmd_name(cmd),
                 err_api_code(err));
    else if (status >= 400)
        snprintf(labels, sizeof(labels), "method=%s,result=%d", wire_cmd_name(cmd), status);
    else
        snprintf(labels, sizeof(labels), "method=%s,result=ok", wire_cmd_name(cmd));
    stats_add(s, "endpoint_requests", labels, 1);
    snprintf(labels, sizeof(labels), "method=%s", wire_cmd_name(cmd));
    stats_observe(s, "endpoint_requests_duration_ms", labels, secs * 1000.0);
    if ((unsigned) cmd < WIRE__COUNT) {
        while (b < NCMD_BOUNDS && secs > cmd_bounds[b])
            b++;
        s->cmd[cmd].counts[b]++;
        s->cmd[cmd].sum += secs;
    }
}

/* ---- rendering ---------------------------------------------------------------- */

/* "k=v,k=v" -> {"k":"v",...}, or NULL for "". */
static json_t *
labels_json(const char *labels)
{
    json_t     *o;
    const char *p = labels;

    if (labels[0] == '\0')
        return NULL;
    o = json_object();
    while (*p) {
        const char *comma = strchr(p, ','), *eq;
        size_t      len = comma ? (size_t) (comma - p) : strlen(p);

        eq = memchr(p, '=', len);
        if (eq != NULL && eq > p) {
            char *k = xstrndup(p, (size_t) (eq - p));
            json_object_set_new(o, k, json_stringn(eq + 1, len - (size_t) (eq - p) - 1));
            free(k);
        }
        p += len + (comma ? 1 : 0);
    }
    return o;
}

static void
registry_json(const struct stats *s, json_t *out)
{
    for (const struct metric *m = s->all; m != NULL; m = m->next) {
        json_t *data;

        if (m->type == NULL)
            continue;
        data = prom_metric(out, m->name, m->type, m->help);
        for (const struct series *se = m->series; se != NULL; se = se->next)
            prom_sample(data, labels_json(se->labels), se->value);
    }
}

static void
add_extra_app(struct stats *s, json_t *out)
{
    struct coreapp *app = s->app;
    static const enum gateway_status states[] = {
        GATEWAY_UNINITIALIZED, GATEWAY_UNREGISTERED, GATEWAY_CONNECTING,
        GATEWAY_CONNECTED, GATEWAY_DISCONNECTED
    };
    json_t *data;

    data = prom_metric(out, "wa_coreapp_command_duration_seconds", "histogram",
                       "Time from a command's arrival from the webapp to its reply, in seconds");
    for (int c = 0; c < WIRE__COUNT; c++) {
        uint64_t n = 0;

        for (size_t b = 0; b <= NCMD_BOUNDS; b++)
            n += s->cmd[c].counts[b];
        if (n > 0)
            prom_histogram_sample(data, json_pack("{s:s}", "command",
                                                  wire_cmd_name((enum wire_cmd) c)),
                                  cmd_bounds, s->cmd[c].counts, NCMD_BOUNDS, s->cmd[c].sum);
    }
    prom_sample(prom_metric(out, "wa_coreapp_db_up", "gauge",
                            "1 if the coreapp's database connection is up, else 0"),
                NULL, db_is_connected(app->db) ? 1 : 0);
    prom_sample(prom_metric(out, "wa_coreapp_db_queries_waiting", "gauge",
                            "Queries queued on the coreapp's database connection"),
                NULL, (double) db_queue_len(app->db));
    data = prom_metric(out, "wa_coreapp_gateway_status", "gauge",
                       "1 for the current state of the link to the WhatsApp network, else 0");
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        prom_sample(data, json_pack("{s:s}", "status", gateway_status_name(states[i])),
                    app->gateway == states[i] ? 1 : 0);
    prom_sample(prom_metric(out, "wa_build_info", "gauge",
                            "Always 1; the labels say which version is running"),
                json_pack("{s:s}", "version", WA_VERSION), 1);
    prom_add_process(out, NULL, (double) app->started_ms / 1000.0);
}

static void
reply_metrics(struct core_req *req, const char *node, json_t *metrics)
{
    enum prom_format fmt;
    char            *text;
    size_t           len;

    prom_query_format(core_param(req, "_query"), &fmt);   /* checked on arrival */
    if (fmt == PROM_FORMAT_TEXT) {
        text = prom_render(metrics, &len);
        json_decref(metrics);
        core_reply_raw(req, 200, PROM_CONTENT_TYPE, text, len);
        free(text);
        return;
    }
    core_reply(req, 200, json_pack("{s:{s:o}}", "stats", node, metrics));
}

/* Refuses ?format=<other> before any work. */
static int
format_ok_or_reply(struct core_req *req)
{
    enum prom_format fmt;

    if (prom_query_format(core_param(req, "_query"), &fmt) != 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "format must be prometheus or json");
        return -1;
    }
    return 0;
}

/* ---- GET /v1/stats/app ---------------------------------------------------- */

static void
stats_app_handle(struct core_req *req, void *arg)
{
    struct stats   *s = arg;
    struct db_stats ds;
    json_t         *out;

    if (format_ok_or_reply(req) != 0)
        return;
    db_stats_get(s->app->db, &ds);
    stats_set(s, "db_request_duration_us_count", NULL, (double) ds.ok_count);
    stats_set(s, "db_request_duration_us_sum", NULL, (double) ds.ok_us);
    stats_set(s, "db_request_error_duration_us_count", NULL, (double) ds.err_count);
    stats_set(s, "db_request_error_duration_us_sum", NULL, (double) ds.err_us);
    out = json_object();
    registry_json(s, out);
    add_extra_app(s, out);
    reply_metrics(req, "app", out);
}

/* ---- GET /v1/stats/db ------------------------------------------------------ */

/* Each count runs through wa_stats_count() (sql/006), which answers no rows
 * when its table or column doesn't exist, so this works whichever migrations
 * a database has. Each query yields (label, count); label NULL for none. */
static const struct db_count {
    const char *metric, *help;
    const char *label_key;        /* NULL: unlabelled */
    const char *labels[3];        /* values always listed, 0 if absent */
    const char *query;
} db_counts[] = {
    { "db_contacts", "Current number of contacts in DB", "type",
      { "whatsapp_user", "non_whatsapp_user", NULL },
      "SELECT CASE WHEN status = ''valid'' THEN ''whatsapp_user'' "
      "ELSE ''non_whatsapp_user'' END, count(*) FROM contacts_cache GROUP BY 1" },
    { "db_message_receipts", "Current number of message receipts in DB", NULL, { NULL },
      /* each status the network reported is a timestamp in its message's row */
      "SELECT NULL::text, count(sent_at) + count(delivered_at) + count(read_at) + "
      "count(failed_at) FROM messages WHERE direction = ''outbound''" },
    { "db_messages", "Current number of messages in DB", "type",
      { "inbound", "outbound", NULL },
      "SELECT direction::text, count(*) FROM messages GROUP BY 1" },
    { "db_pending_callbacks", "Current number of callbacks not yet acknowledged", NULL, { NULL },
      "SELECT NULL::text, count(*) FROM wa_callbacks" },
    { "db_pending_messages", "Current number of messages not yet sent", NULL, { NULL },
      "SELECT NULL::text, count(*) FROM messages WHERE status = ''accepted''" },
};
#define NDB_COUNTS (sizeof(db_counts) / sizeof(db_counts[0]))

static char *
db_counts_sql(void)
{
    size_t  cap = 256, len = 0;
    char   *sql = xmalloc(cap);

    sql[0] = '\0';
    for (size_t i = 0; i < NDB_COUNTS; i++) {
        size_t need = strlen(db_counts[i].query) + 128;

        while (len + need >= cap)
            cap *= 2;
        sql = xrealloc(sql, cap);
        len += (size_t) sprintf(sql + len, "%sSELECT %zu, label, n FROM wa_stats_count('%s')",
                                i ? " UNION ALL " : "", i, db_counts[i].query);
    }
    return sql;
}

/* The item of data whose label key has value label (any item if key is NULL),
 * added with value 0 if missing. Borrowed. */
static json_t *
db_item(json_t *data, const char *key, const char *label)
{
    json_t *it;
    size_t  k;

    json_array_foreach(data, k, it) {
        const char *v = json_string_value(json_object_get(json_object_get(it, "labels"),
                                                          key ? key : ""));
        if (key == NULL || (v != NULL && strcmp(v, label) == 0))
            return it;
    }
    prom_sample(data, key ? json_pack("{s:s}", key, label) : NULL, 0);
    return json_array_get(data, json_array_size(data) - 1);
}

static void
stats_db_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct core_req *req = arg;
    json_t          *out, *data[NDB_COUNTS];

    if (err != ERR_OK) {
        log_warn(req->w.rid, "stats_db_failed", "reason=\"%s\"", db_result_error(res));
        core_reply_error(req, ERR_DATABASE, "could not count the database's rows");
        return;
    }
    out = json_object();
    for (size_t i = 0; i < NDB_COUNTS; i++) {
        const struct db_count *c = &db_counts[i];

        data[i] = prom_metric(out, c->metric, "gauge", c->help);
        if (c->label_key == NULL)
            db_item(data[i], NULL, NULL);
        for (int l = 0; l < 3 && c->labels[l] != NULL; l++)
            db_item(data[i], c->label_key, c->labels[l]);
    }
    for (int r = 0; r < db_result_rows(res); r++) {
        const char *idx = db_result_get(res, r, 0), *label = db_result_get(res, r, 1);
        const char *n = db_result_get(res, r, 2);
        size_t      i = idx ? strtoul(idx, NULL, 10) : NDB_COUNTS;
        json_t     *item;

        if (i >= NDB_COUNTS || n == NULL || (db_counts[i].label_key != NULL && label == NULL))
            continue;
        item = db_item(data[i], db_counts[i].label_key, label);
        json_object_set_new(item, "value", json_integer(
            json_integer_value(json_object_get(item, "value")) + strtoll(n, NULL, 10)));
    }
    reply_metrics(req, "db", out);
}

static void
stats_db_handle(struct core_req *req, void *arg)
{
    struct stats *s = arg;
    char         *sql;

    if (format_ok_or_reply(req) != 0)
        return;
    sql = db_counts_sql();
    db_query(s->app->db, sql, 0, NULL, stats_db_cb, req);
    free(sql);
}

void
stats_init(struct coreapp *app)
{
    struct stats *s = stats_new(app);

    app->stats = s;
    dispatch_set_observer(app->dispatch, command_observed, s);
    dispatch_register(app->dispatch, WIRE_STATS_APP, stats_app_handle, s);
    dispatch_register(app->dispatch, WIRE_STATS_APP_INTERNAL, stats_app_handle, s);
    dispatch_register(app->dispatch, WIRE_STATS_DB, stats_db_handle, s);
    dispatch_register(app->dispatch, WIRE_STATS_DB_INTERNAL, stats_db_handle, s);
}
