/* db.c - asynchronous libpq on libevent, and blocking start-up helpers. */
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/migrations.h"
#include "common/xalloc.h"

/* The least time between two connection attempts, on demand or by back-off. */
#define RECONNECT_MIN_MS 100
/* The longest a query waits for a connection attempt (which may go on for
 * libpq's connect_timeout): a server that does not answer is an outage, and
 * requests then fail in a second, not in five. */
#define CONNECT_WAIT_MAX_MS 1000
/* An attempt abandoned after this long. libpq's connect_timeout holds only
 * for its blocking calls: driven by PQconnectPoll(), an attempt at a server
 * that accepts and never answers would never end, nor would the retries. */
#define CONNECT_TIMEOUT_MS 5000

struct db_result {
    PGresult *pg;
};

struct db_query {
    struct db_query *next;
    char            *sql;          /* NULL when executing a prepared statement
                                    * (kept while it waits for a connection) */
    char            *stmt;         /* prepared statement's name, or NULL */
    bool             prepare;      /* PQsendPrepare of sql as stmt (no params) */
    int              nparams;
    char           **params;
    db_result_cb     cb;
    void            *arg;
    int64_t          sent_us;       /* when sent to the server; 0 = not yet */
};

struct db_stmt {                     /* a statement prepared on this connection */
    struct db_stmt *next;
    char           *name;
};

struct db_listener {
    struct db_listener *next;
    char               *channel;
    db_notify_cb        cb;
    void               *arg;
};

enum db_state { DB_DOWN, DB_CONNECTING, DB_IDLE, DB_BUSY };

struct db {
    struct event_base  *base;
    char               *conninfo;
    char               *name;
    PGconn             *conn;
    enum db_state       state;
    struct event       *io;          /* on PQsocket(); recreated per connection */
    struct event       *retry;       /* down: the next attempt; connecting: its end */
    int                 backoff_ms;
    int64_t             tried_us;    /* the last connection attempt began, or the
                                      * connection was lost (RECONNECT_MIN_MS) */
    struct db_query    *head, *tail; /* head is in flight when DB_BUSY */
    size_t              queued;
    /* Asked for while connecting: queued once connected, behind the
     * connection's own queries (LISTENs, on_connect callbacks). */
    struct db_query    *wait_head, *wait_tail;
    struct event       *wait_timer;  /* fails them after CONNECT_WAIT_MAX_MS */
    PGresult           *last;        /* result being collected for head */
    struct db_listener *listeners;
    struct db_stmt     *stmts;       /* prepared (or being) on the current connection */
    struct {
        db_connect_cb   cb;
        void           *arg;
    }                   on_connect[8];   /* several modules load state at connect */
    int                 n_on_connect;
    struct db_stats     stats;
};

static void db_connect_start(struct db *db);
static void db_lost(struct db *db, const char *why);
static void notice_cb(void *arg, const char *message);
static void db_send_next(struct db *db);

/* ---- small helpers ------------------------------------------------------ */

static void
append_kv(char **buf, size_t *len, const char *key, const char *val)
{
    size_t need = strlen(key) + 2 * strlen(val) + 6;

    *buf = xrealloc(*buf, *len + need);
    *len += (size_t) sprintf(*buf + *len, "%s%s='", *len ? " " : "", key);
    for (const char *p = val; *p; p++) {
        if (*p == '\'' || *p == '\\')
            (*buf)[(*len)++] = '\\';
        (*buf)[(*len)++] = *p;
    }
    (*buf)[(*len)++] = '\'';
    (*buf)[*len] = '\0';
}

char *
db_conninfo(const struct db_config *cfg, bool app_db)
{
    char   *buf = xstrdup("");
    size_t  len = 0;
    char    port[16], dbname[256];

    snprintf(port, sizeof(port), "%ld", cfg->port);
    snprintf(dbname, sizeof(dbname), "%swa", cfg->name_prefix ? cfg->name_prefix : "");
    if (cfg->host)
        append_kv(&buf, &len, "host", cfg->host);
    append_kv(&buf, &len, "port", port);
    if (cfg->user)
        append_kv(&buf, &len, "user", cfg->user);
    if (cfg->password)
        append_kv(&buf, &len, "password", cfg->password);
    append_kv(&buf, &len, "dbname", app_db ? dbname : "postgres");
    if (cfg->sslmode)
        append_kv(&buf, &len, "sslmode", cfg->sslmode);
    if (cfg->ssl_ca)
        append_kv(&buf, &len, "sslrootcert", cfg->ssl_ca);
    if (cfg->ssl_cert)
        append_kv(&buf, &len, "sslcert", cfg->ssl_cert);
    if (cfg->ssl_key)
        append_kv(&buf, &len, "sslkey", cfg->ssl_key);
    append_kv(&buf, &len, "connect_timeout", "5");
    append_kv(&buf, &len, "application_name", "wa");
    /* Short statements only: compiling one with JIT (above jit_above_cost,
     * which an estimate for a table never analysed reaches easily) took
     * 140-200 ms where running it took 0.2 ms. */
    append_kv(&buf, &len, "options", "-c jit=off");
    return buf;
}

static void
query_free(struct db_query *q)
{
    if (q == NULL)
        return;
    for (int i = 0; q->params != NULL && i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q->sql);
    free(q->stmt);
    free(q);
}

static bool
stmt_known(const struct db *db, const char *name)
{
    for (const struct db_stmt *s = db->stmts; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return true;
    return false;
}

/* Forgets name (NULL: every name): it is prepared again at its next use. */
static void
stmt_forget(struct db *db, const char *name)
{
    struct db_stmt **pp = &db->stmts;

    while (*pp != NULL) {
        struct db_stmt *s = *pp;

        if (name == NULL || strcmp(s->name, name) == 0) {
            *pp = s->next;
            free(s->name);
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

/* Removes the head query and reports res/err to its owner. */
static void
query_finish(struct db *db, PGresult *pg, enum err_code err)
{
    struct db_query  *q = db->head;
    struct db_result  res = { pg };

    db->head = q->next;
    if (db->head == NULL)
        db->tail = NULL;
    db->queued--;
    if (q->prepare && err != ERR_OK)
        stmt_forget(db, q->stmt);   /* its executions fail; the next one prepares again */
    if (q->sent_us != 0 && !q->prepare) {   /* queries that never ran aren't timed */
        uint64_t us = (uint64_t) (clock_mono_us() - q->sent_us);
        if (err == ERR_OK) {
            db->stats.ok_count++;
            db->stats.ok_us += us;
        } else {
            db->stats.err_count++;
            db->stats.err_us += us;
        }
    }
    if (q->cb != NULL)
        q->cb(pg ? &res : NULL, err, q->arg);
    query_free(q);
}

/* The list is taken whole first: what the callbacks ask for waits anew (or
 * fails at once), instead of joining a list being taken apart. */
static void
fail_waiting(struct db *db)
{
    struct db_query *q = db->wait_head, *next;

    evtimer_del(db->wait_timer);
    db->wait_head = db->wait_tail = NULL;
    for (; q != NULL; q = next) {
        next = q->next;
        if (q->cb != NULL)
            q->cb(NULL, ERR_DATABASE, q->arg);
        query_free(q);
    }
}

static void
fail_all(struct db *db)
{
    while (db->head != NULL)
        query_finish(db, NULL, ERR_DATABASE);
    fail_waiting(db);
}

/* ---- connection life ---------------------------------------------------- */

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct db *db = arg;

    (void) fd;
    (void) what;
    if (db->state == DB_DOWN)
        db_connect_start(db);
    else if (db->state == DB_CONNECTING)
        db_lost(db, "no answer to the connection attempt");
}

static void
wait_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    fail_waiting(arg);                  /* the attempt itself goes on */
}

/* Drops the connection, fails what was queued (callers are waiting for an
 * answer, and the outage may last) and schedules a reconnect. */
static void
db_lost(struct db *db, const char *why)
{
    struct timeval tv;
    char           q[256];

    if (db->state != DB_CONNECTING || db->backoff_ms <= RECONNECT_MIN_MS)
        log_warn(NULL, "db_down", "db=%s reason=\"%s\" retry_ms=%d", db->name,
                 log_quote(why, q, sizeof(q)), db->backoff_ms);
    if (db->io != NULL) {
        event_free(db->io);
        db->io = NULL;
    }
    PQclear(db->last);
    db->last = NULL;
    PQfinish(db->conn);
    db->conn = NULL;
    db->state = DB_DOWN;
    /* a query the failed ones' callbacks make fails too, instead of
     * connecting again from inside this function */
    db->tried_us = clock_mono_us();
    stmt_forget(db, NULL);
    fail_all(db);
    tv.tv_sec = db->backoff_ms / 1000;
    tv.tv_usec = (db->backoff_ms % 1000) * 1000;
    evtimer_add(db->retry, &tv);
    db->backoff_ms = db->backoff_ms * 2 > 2000 ? 2000 : db->backoff_ms * 2;
}

static void
arm_io(struct db *db, short what)
{
    if (db->io != NULL)
        event_del(db->io);
    event_assign(db->io, db->base, PQsocket(db->conn), what, event_get_callback(db->io),
                 db);
    event_add(db->io, NULL);
}

static void
dispatch_notifies(struct db *db)
{
    PGnotify *n;

    while ((n = PQnotifies(db->conn)) != NULL) {
        for (struct db_listener *l = db->listeners; l; l = l->next)
            if (strcmp(l->channel, n->relname) == 0)
                l->cb(n->relname, n->extra, l->arg);
        PQfreemem(n);
    }
}

static void
listen_query_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct db *db = arg;

    (void) res;
    if (err != ERR_OK)
        log_warn(NULL, "db_listen_failed", "db=%s", db->name);
}

static void
enqueue(struct db *db, struct db_query *q)
{
    if (db->tail)
        db->tail->next = q;
    else
        db->head = q;
    db->tail = q;
    db->queued++;
}

/* Queues q (an execution of q->stmt when set), preceded by the statement's
 * preparation, of sql, if this connection has not prepared it yet. */
static void
enqueue_prepared(struct db *db, struct db_query *q, const char *sql)
{
    if (q->stmt != NULL && !stmt_known(db, q->stmt)) {
        struct db_stmt  *s = xcalloc(1, sizeof(*s));
        struct db_query *p = xcalloc(1, sizeof(*p));

        s->name = xstrdup(q->stmt);
        s->next = db->stmts;
        db->stmts = s;
        p->sql = xstrdup(sql);
        p->stmt = xstrdup(q->stmt);
        p->prepare = true;
        p->nparams = q->nparams;
        enqueue(db, p);
    }
    enqueue(db, q);
}

/* The queries that waited for this connection, behind its own. */
static void
release_waiting(struct db *db)
{
    evtimer_del(db->wait_timer);
    while (db->wait_head != NULL) {
        struct db_query *q = db->wait_head;

        db->wait_head = q->next;
        q->next = NULL;
        enqueue_prepared(db, q, q->sql);
    }
    db->wait_tail = NULL;
}

static void
issue_listen(struct db *db, struct db_listener *l, bool front)
{
    struct db_query *q = xcalloc(1, sizeof(*q));
    char            *ident = PQescapeIdentifier(db->conn, l->channel, strlen(l->channel));

    q->sql = xmalloc(strlen(ident) + 8);
    sprintf(q->sql, "LISTEN %s", ident);
    PQfreemem(ident);
    q->cb = listen_query_cb;
    q->arg = db;
    if (front && db->head != NULL) {
        q->next = db->head;
        db->head = q;
        db->queued++;
    } else {
        enqueue(db, q);
    }
}

static void
io_cb(evutil_socket_t fd, short what, void *arg)
{
    struct db      *db = arg;
    PGresult       *r;
    PostgresPollingStatusType st;

    (void) fd;
    (void) what;
    switch (db->state) {
    case DB_CONNECTING:
        st = PQconnectPoll(db->conn);
        if (st == PGRES_POLLING_READING) {
            arm_io(db, EV_READ);
        } else if (st == PGRES_POLLING_WRITING) {
            arm_io(db, EV_WRITE);
        } else if (st == PGRES_POLLING_OK) {
            evtimer_del(db->retry);
            db->state = DB_IDLE;
            db->backoff_ms = RECONNECT_MIN_MS;
            PQsetnonblocking(db->conn, 1);
            PQsetNoticeProcessor(db->conn, notice_cb, NULL);
            log_info(NULL, "db_up", "db=%s", db->name);
            for (struct db_listener *l = db->listeners; l; l = l->next)
                issue_listen(db, l, false);
            for (int i = 0; i < db->n_on_connect; i++)
                db->on_connect[i].cb(db->on_connect[i].arg);
            release_waiting(db);
            arm_io(db, EV_READ | EV_PERSIST);
            db_send_next(db);
        } else {
            db_lost(db, PQerrorMessage(db->conn));
        }
        return;
    case DB_IDLE:
    case DB_BUSY:
        if ((what & EV_WRITE) && PQflush(db->conn) == 0)
            arm_io(db, EV_READ | EV_PERSIST);
        if (!(what & EV_READ))
            return;
        if (!PQconsumeInput(db->conn)) {
            db_lost(db, PQerrorMessage(db->conn));
            return;
        }
        dispatch_notifies(db);
        while (db->state == DB_BUSY && !PQisBusy(db->conn)) {
            r = PQgetResult(db->conn);
            if (r == NULL) {
                PGresult      *last = db->last;
                ExecStatusType s = last ? PQresultStatus(last) : PGRES_FATAL_ERROR;
                enum err_code  err = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
                                     ? ERR_OK : ERR_DATABASE;
                db->last = NULL;
                db->state = DB_IDLE;
                query_finish(db, last, err);
                PQclear(last);
                db_send_next(db);
                break;
            }
            /* keep the first error, else the last result */
            if (db->last == NULL || PQresultStatus(db->last) == PGRES_COMMAND_OK ||
                PQresultStatus(db->last) == PGRES_TUPLES_OK) {
                PQclear(db->last);
                db->last = r;
            } else {
                PQclear(r);
            }
        }
        if (db->state == DB_DOWN)           /* lost while sending the next query */
            return;
        if (PQstatus(db->conn) == CONNECTION_BAD) {
            db_lost(db, PQerrorMessage(db->conn));
            return;
        }
        /* A NOTIFY that came in the same read as a query's ReadyForQuery is
         * parsed only by the PQgetResult() calls above: hand it on now, as no
         * further input may come to wake this connection. */
        dispatch_notifies(db);
        return;
    case DB_DOWN:
        return;
    }
}

static void
db_connect_start(struct db *db)
{
    struct timeval give_up = { CONNECT_TIMEOUT_MS / 1000, CONNECT_TIMEOUT_MS % 1000 * 1000 };

    db->tried_us = clock_mono_us();
    db->conn = PQconnectStart(db->conninfo);
    if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD) {
        db->state = DB_CONNECTING;
        db_lost(db, db->conn ? PQerrorMessage(db->conn) : "out of memory");
        return;
    }
    db->state = DB_CONNECTING;
    db->io = event_new(db->base, PQsocket(db->conn), EV_WRITE, io_cb, db);
    event_add(db->io, NULL);
    evtimer_add(db->retry, &give_up);
}

static void
db_send_next(struct db *db)
{
    struct db_query *q = db->head;
    int              ok;

    if (db->state != DB_IDLE || q == NULL)
        return;
    if (q->prepare)
        ok = PQsendPrepare(db->conn, q->stmt, q->sql, q->nparams, NULL);
    else if (q->stmt != NULL)
        ok = PQsendQueryPrepared(db->conn, q->stmt, q->nparams, (const char *const *) q->params,
                                 NULL, NULL, 0);
    else if (q->nparams == 0)
        ok = PQsendQuery(db->conn, q->sql);
    else
        ok = PQsendQueryParams(db->conn, q->sql, q->nparams, NULL,
                               (const char *const *) q->params, NULL, NULL, 0);
    if (!ok) {
        db_lost(db, PQerrorMessage(db->conn));
        return;
    }
    db->state = DB_BUSY;
    q->sent_us = clock_mono_us();
    if (PQflush(db->conn) == 1)
        arm_io(db, EV_READ | EV_WRITE | EV_PERSIST);
}

struct db *
db_new(struct event_base *base, const char *conninfo, const char *name)
{
    struct db *db = xcalloc(1, sizeof(*db));

    db->base = base;
    db->conninfo = xstrdup(conninfo);
    db->name = xstrdup(name);
    db->backoff_ms = RECONNECT_MIN_MS;
    db->retry = evtimer_new(base, retry_cb, db);
    db->wait_timer = evtimer_new(base, wait_timeout_cb, db);
    db_connect_start(db);
    return db;
}

void
db_free(struct db *db)
{
    if (db == NULL)
        return;
    if (db->io)
        event_free(db->io);
    db->io = NULL;
    PQclear(db->last);
    db->last = NULL;
    PQfinish(db->conn);
    db->conn = NULL;
    /* what the failed queries' callbacks ask for fails at once */
    db->state = DB_DOWN;
    db->tried_us = clock_mono_us();
    fail_all(db);
    event_free(db->retry);
    event_free(db->wait_timer);
    stmt_forget(db, NULL);
    while (db->listeners) {
        struct db_listener *l = db->listeners;
        db->listeners = l->next;
        free(l->channel);
        free(l);
    }
    free(db->conninfo);
    free(db->name);
    free(db);
}

void
db_on_connect(struct db *db, db_connect_cb cb, void *arg)
{
    if (db->n_on_connect == (int) (sizeof(db->on_connect) / sizeof(db->on_connect[0]))) {
        log_error(NULL, "db_on_connect_full", "db=%s", db->name);
        abort();                            /* a programming error, found at start */
    }
    db->on_connect[db->n_on_connect].cb = cb;
    db->on_connect[db->n_on_connect].arg = arg;
    db->n_on_connect++;
}

void
db_listen(struct db *db, const char *channel, db_notify_cb cb, void *arg)
{
    struct db_listener *l = xcalloc(1, sizeof(*l));

    l->channel = xstrdup(channel);
    l->cb = cb;
    l->arg = arg;
    l->next = db->listeners;
    db->listeners = l;
    if (db->state == DB_IDLE || db->state == DB_BUSY) {
        issue_listen(db, l, false);
        db_send_next(db);
    }
}

static struct db_query *
query_new(const char *sql, int nparams, const char *const *params, db_result_cb cb,
          void *arg)
{
    struct db_query *q = xcalloc(1, sizeof(*q));

    q->sql = sql ? xstrdup(sql) : NULL;
    q->nparams = nparams;
    if (nparams > 0 && params != NULL) {
        q->params = xcalloc((size_t) nparams, sizeof(char *));
        for (int i = 0; i < nparams; i++)
            q->params[i] = params[i] ? xstrdup(params[i]) : NULL;
    }
    q->cb = cb;
    q->arg = arg;
    return q;
}

/* A query while there is no connection: it waits for the attempt under way,
 * or for one made now instead of at the end of the back-off (the server may
 * well be back: a restart takes seconds, the back-off grows to 2 s), but at
 * most one attempt per RECONNECT_MIN_MS however many queries come. Returns
 * false (the query fails at once) when the last attempt failed just now. */
static bool
wait_for_connection(struct db *db, struct db_query *q)
{
    if (db->state == DB_DOWN && clock_mono_us() - db->tried_us >= RECONNECT_MIN_MS * 1000) {
        evtimer_del(db->retry);
        db_connect_start(db);
    }
    if (db->state != DB_CONNECTING)
        return false;
    if (db->wait_tail) {
        db->wait_tail->next = q;
    } else {
        struct timeval tv = { CONNECT_WAIT_MAX_MS / 1000, CONNECT_WAIT_MAX_MS % 1000 * 1000 };

        db->wait_head = q;
        evtimer_add(db->wait_timer, &tv);
    }
    db->wait_tail = q;
    return true;
}

/* Queues q, or makes it wait for a connection, or fails it (then freed).
 * sql: the statement q executes, when it is a prepared one. */
static void
submit(struct db *db, struct db_query *q, const char *sql)
{
    if (db->state == DB_IDLE || db->state == DB_BUSY) {
        enqueue_prepared(db, q, sql);
        db_send_next(db);
        return;
    }
    if (q->stmt != NULL)
        q->sql = xstrdup(sql);          /* to prepare it once connected */
    if (!wait_for_connection(db, q)) {
        if (q->cb != NULL)
            q->cb(NULL, ERR_DATABASE, q->arg);
        query_free(q);
    }
}

void
db_query(struct db *db, const char *sql, int nparams, const char *const *params,
         db_result_cb cb, void *arg)
{
    submit(db, query_new(sql, nparams, params, cb, arg), NULL);
}

void
db_query_prepared(struct db *db, const char *name, const char *sql, int nparams,
                  const char *const *params, db_result_cb cb, void *arg)
{
    struct db_query *q = query_new(NULL, nparams, params, cb, arg);

    q->stmt = xstrdup(name);
    submit(db, q, sql);
}

bool db_is_connected(const struct db *db)
{
    return db->state == DB_IDLE || db->state == DB_BUSY;
}

size_t db_queue_len(const struct db *db) { return db->queued; }

void db_stats_get(const struct db *db, struct db_stats *out) { *out = db->stats; }

int db_result_rows(const struct db_result *r) { return r ? PQntuples(r->pg) : 0; }

const char *
db_result_get(const struct db_result *r, int row, int col)
{
    if (r == NULL || row >= PQntuples(r->pg) || col >= PQnfields(r->pg) ||
        PQgetisnull(r->pg, row, col))
        return NULL;
    return PQgetvalue(r->pg, row, col);
}

long long
db_result_affected(const struct db_result *r)
{
    const char *s = r ? PQcmdTuples(r->pg) : "";
    return s[0] ? atoll(s) : 0;
}

const char *
db_result_sqlstate(const struct db_result *r)
{
    const char *s = r ? PQresultErrorField(r->pg, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

const char *
db_result_error(const struct db_result *r)
{
    return r ? PQresultErrorMessage(r->pg) : "";
}

/* ---- start-up (blocking) ------------------------------------------------ */

/* Server notices (e.g. "relation already exists, skipping") become debug
 * log lines instead of raw text on stderr. */
static void
notice_cb(void *arg, const char *message)
{
    char q[512];

    (void) arg;
    log_debug(NULL, "db_notice", "text=\"%s\"", log_quote(message, q, sizeof(q)));
}

static PGconn *
connect_wait(const char *conninfo, int wait_s)
{
    time_t  until = time(NULL) + wait_s;
    PGconn *c;
    char    q[512];

    for (;;) {
        c = PQconnectdb(conninfo);
        if (PQstatus(c) == CONNECTION_OK) {
            PQsetNoticeProcessor(c, notice_cb, NULL);
            return c;
        }
        if (time(NULL) >= until) {
            log_error(NULL, "db_connect_failed", "reason=\"%s\"",
                      log_quote(PQerrorMessage(c), q, sizeof(q)));
            PQfinish(c);
            return NULL;
        }
        PQfinish(c);
        usleep(200 * 1000);
    }
}

static int
exec_ok(PGconn *c, const char *sql, int n, const char *const *params, const char *what)
{
    PGresult *r = n ? PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    char      q[512];
    int       rc = 0;

    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        log_error(NULL, "db_bootstrap_failed", "step=\"%s\" reason=\"%s\"", what,
                  log_quote(PQresultErrorMessage(r), q, sizeof(q)));
        rc = -1;
    }
    PQclear(r);
    return rc;
}

static int
create_database(const struct db_config *cfg, int wait_s)
{
    char     *ci = db_conninfo(cfg, false);
    PGconn   *c = connect_wait(ci, wait_s);
    char      name[256], *ident, *sql;
    const char *state;
    PGresult *r;
    int       rc = -1;

    free(ci);
    if (c == NULL)
        return -1;
    snprintf(name, sizeof(name), "%swa", cfg->name_prefix ? cfg->name_prefix : "");
    ident = PQescapeIdentifier(c, name, strlen(name));
    sql = xmalloc(strlen(ident) + 32);
    sprintf(sql, "CREATE DATABASE %s", ident);
    r = PQexec(c, sql);
    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    /* 42P04, or 23505 in a close race: another process created it first */
    if (PQresultStatus(r) == PGRES_COMMAND_OK ||
        (state && (!strcmp(state, "42P04") || !strcmp(state, "23505"))))
        rc = 0;
    else
        log_error(NULL, "db_create_failed", "db=%s reason=\"%s\"", name,
                  PQresultErrorMessage(r));
    PQclear(r);
    PQfreemem(ident);
    free(sql);
    PQfinish(c);
    return rc;
}

static int
apply_migrations(PGconn *c)
{
    static const char *const create =
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";
    int rc = -1;

    /* The lock serialises concurrent starters; the loser sees the rows. */
    if (exec_ok(c, "SELECT pg_advisory_lock(727001)", 0, NULL, "lock") != 0)
        return -1;
    if (exec_ok(c, create, 0, NULL, "schema_migrations") != 0)
        goto unlock;
    for (size_t i = 0; i < db_migrations_count; i++) {
        const char *name = db_migrations[i].name;
        PGresult   *r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE name = $1",
                                     1, NULL, &name, NULL, NULL, 0);
        int         done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

        PQclear(r);
        if (done)
            continue;
        if (exec_ok(c, "BEGIN", 0, NULL, "begin") != 0)
            goto unlock;
        if (exec_ok(c, db_migrations[i].sql, 0, NULL, name) != 0 ||
            exec_ok(c, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, &name,
                    "record") != 0 ||
            exec_ok(c, "COMMIT", 0, NULL, "commit") != 0) {
            exec_ok(c, "ROLLBACK", 0, NULL, "rollback");
            goto unlock;
        }
        log_info(NULL, "db_migrated", "migration=%s", name);
    }
    rc = 0;
unlock:
    exec_ok(c, "SELECT pg_advisory_unlock(727001)", 0, NULL, "unlock");
    return rc;
}

int
db_bootstrap(const struct db_config *cfg, int wait_s)
{
    char   *ci;
    PGconn *c;
    int     rc;

    if (create_database(cfg, wait_s) != 0)
        return -1;
    ci = db_conninfo(cfg, true);
    c = connect_wait(ci, wait_s);
    free(ci);
    if (c == NULL)
        return -1;
    rc = apply_migrations(c);
    PQfinish(c);
    return rc;
}

char *
db_oneshot(const struct db_config *cfg, const char *sql, int nparams,
           const char *const *params, bool *failed)
{
    char     *ci = db_conninfo(cfg, true);
    PGconn   *c = connect_wait(ci, 10);
    PGresult *r;
    char     *out = NULL;
    bool      bad = true;
    char      q[512];

    free(ci);
    if (c != NULL) {
        r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK) {
            bad = false;
            if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
                out = xstrdup(PQgetvalue(r, 0, 0));
        } else {
            log_error(NULL, "db_query_failed", "reason=\"%s\"",
                      log_quote(PQresultErrorMessage(r), q, sizeof(q)));
        }
        PQclear(r);
        PQfinish(c);
    }
    if (failed)
        *failed = bad;
    return out;
}

void
db_array_elem(struct jbuf *b, const char *s)
{
    jbuf_addc(b, '"');
    for (const char *run = s;; s++) {
        if (*s == '"' || *s == '\\' || *s == '\0') {
            jbuf_add(b, run, (size_t) (s - run));
            if (*s == '\0')
                break;
            jbuf_addc(b, '\\');
            run = s;
        }
    }
    jbuf_addc(b, '"');
}
