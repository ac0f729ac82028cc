/* message_gc.c - runs of the messages garbage collector, chunk by chunk. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/message_gc.h"
#include "coreapp/settings.h"

struct gc_run {
    struct gc_run      *next;
    bool                automatic;
    message_gc_done_cb  cb;
    void               *arg;
};

struct message_gc {
    struct coreapp *app;
    struct db      *db;
    struct event   *timer;          /* the automatic collector's clock */
    struct gc_run  *runs, **tail;   /* runs[0] is in progress while busy */
    bool            busy;
    bool            enabled;        /* automatic collection wanted (settings) */
    bool            closing;
    char            mark[24];       /* the run's callback snapshot ends here */
    long long       deleted;
    int             chunks;
    int64_t         started_ms;
};

static void start_next(struct message_gc *gc);

/* What a run that lost its statement reports. */
static const char *
db_failure(const struct message_gc *gc)
{
    return gc->closing ? "shutting down" : "the garbage collection failed: database error";
}

static void
finish(struct message_gc *gc, const char *failure)
{
    struct gc_run *r = gc->runs;

    gc->runs = r->next;
    if (gc->runs == NULL)
        gc->tail = &gc->runs;
    gc->busy = false;
    if (failure == NULL)
        log_info(NULL, "message_gc_done", "kind=%s deleted=%lld chunks=%d ms=%lld",
                 r->automatic ? "automatic" : "requested", gc->deleted, gc->chunks,
                 (long long) (clock_wall_ms() - gc->started_ms));
    else
        log_warn(NULL, "message_gc_failed", "kind=%s deleted=%lld chunks=%d reason=\"%s\"",
                 r->automatic ? "automatic" : "requested", gc->deleted, gc->chunks, failure);
    if (r->cb)
        r->cb(gc->deleted, failure, r->arg);
    free(r);
    if (!gc->closing)
        start_next(gc);
}

static void chunk(struct message_gc *gc);

static void
chunk_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct message_gc *gc = arg;
    const char        *n = db_result_get(res, 0, 0);
    long long          got;

    if (err != ERR_OK || n == NULL) {
        log_warn(NULL, "message_gc_chunk_failed", "reason=\"%s\"",
                 res ? db_result_error(res) : "connection lost");
        finish(gc, db_failure(gc));
        return;
    }
    got = atoll(n);
    gc->deleted += got;
    gc->chunks++;
    if (got < MESSAGE_GC_BATCH || gc->closing)
        finish(gc, NULL);
    else
        chunk(gc);
}

static void
chunk(struct message_gc *gc)
{
    char        days[24], batch[24];
    const char *p[3] = { days, batch, gc->mark };

    /* settings turned automatic collection off: stop between chunks */
    if (gc->runs->automatic && !gc->enabled) {
        finish(gc, NULL);
        return;
    }
    snprintf(days, sizeof(days), "%ld", gc->app->cfg.message_retention_days);
    snprintf(batch, sizeof(batch), "%d", MESSAGE_GC_BATCH);
    db_query(gc->db, "SELECT wa_message_gc($1::int, $2::int, $3::bigint)", 3, p, chunk_cb, gc);
}

static void
snapshot_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct message_gc *gc = arg;

    if (err != ERR_OK) {
        log_warn(NULL, "message_gc_snapshot_failed", "reason=\"%s\"",
                 res ? db_result_error(res) : "connection lost");
        finish(gc, db_failure(gc));
        return;
    }
    log_debug(NULL, "message_gc_snapshot", "mark=%s kept=%s", gc->mark,
              db_result_get(res, 0, 0) ? db_result_get(res, 0, 0) : "?");
    chunk(gc);
}

static void
mark_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct message_gc *gc = arg;
    const char        *mark = db_result_get(res, 0, 0);
    const char        *p[1] = { gc->mark };

    if (err != ERR_OK || mark == NULL || strlen(mark) >= sizeof(gc->mark)) {
        log_warn(NULL, "message_gc_mark_failed", "reason=\"%s\"",
                 res ? db_result_error(res) : "connection lost");
        finish(gc, db_failure(gc));
        return;
    }
    strcpy(gc->mark, mark);
    db_query(gc->db, "SELECT wa_message_gc_snapshot($1::bigint)", 1, p, snapshot_cb, gc);
}

static void
start_next(struct message_gc *gc)
{
    if (gc->busy || gc->runs == NULL)
        return;
    gc->busy = true;
    gc->deleted = 0;
    gc->chunks = 0;
    gc->started_ms = clock_wall_ms();
    log_debug(NULL, "message_gc_started", "kind=%s",
              gc->runs->automatic ? "automatic" : "requested");
    db_query(gc->db, "SELECT wa_message_gc_mark()", 0, NULL, mark_cb, gc);
}

static void
enqueue(struct message_gc *gc, bool automatic, message_gc_done_cb cb, void *arg)
{
    struct gc_run *r = xcalloc(1, sizeof(*r));

    r->automatic = automatic;
    r->cb = cb;
    r->arg = arg;
    *gc->tail = r;
    gc->tail = &r->next;
    start_next(gc);
}

/* ---- the automatic collector ------------------------------------------------ */

static bool
wanted(const struct app_settings *s)
{
    return s->gc_messages && s->db_garbagecollector_enable;
}

static void
settings_cb(const struct app_settings *now, const struct app_settings *before, void *arg)
{
    struct message_gc *gc = arg;

    (void) before;
    if (wanted(now) != gc->enabled)
        log_info(NULL, "message_gc_automatic", "enabled=%s", wanted(now) ? "true" : "false");
    gc->enabled = wanted(now);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct message_gc *gc = arg;

    (void) fd;
    (void) what;
    /* one automatic run at a time; a requested one in the queue will do */
    if (!gc->enabled || gc->runs != NULL || !db_is_connected(gc->db))
        return;
    enqueue(gc, true, NULL, NULL);
}

/* ---- public API ------------------------------------------------------------- */

struct message_gc *
message_gc_new(struct coreapp *app)
{
    struct message_gc *gc = xcalloc(1, sizeof(*gc));
    char              *ci = db_conninfo(&app->cfg.db, true);
    struct timeval     tv = { app->cfg.message_gc_interval_s, 0 };

    gc->app = app;
    gc->tail = &gc->runs;
    gc->db = db_new(app->base, ci, "message_gc");
    free(ci);
    gc->enabled = wanted(settings_get(app));
    settings_on_change(app, settings_cb, gc);
    gc->timer = event_new(app->base, -1, EV_PERSIST, timer_cb, gc);
    event_add(gc->timer, &tv);
    log_info(NULL, "message_gc_ready", "retention_days=%ld interval_s=%ld automatic=%s",
             app->cfg.message_retention_days, app->cfg.message_gc_interval_s,
             gc->enabled ? "true" : "false");
    return gc;
}

void
message_gc_free(struct message_gc *gc)
{
    if (gc == NULL)
        return;
    gc->closing = true;
    event_free(gc->timer);
    db_free(gc->db);                /* the run in progress ends in its callback */
    while (gc->runs != NULL) {
        gc->busy = true;            /* finish() pops runs[0] */
        finish(gc, "shutting down");
    }
    free(gc);
}

void
message_gc_run(struct message_gc *gc, message_gc_done_cb cb, void *arg)
{
    enqueue(gc, false, cb, arg);
}

bool
message_gc_is_ready(const struct message_gc *gc)
{
    return db_is_connected(gc->db);
}
