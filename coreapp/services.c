/* services.c - the message gc service and its completion callback. */
#include <jansson.h>
#include <stdlib.h>
#include "common/db.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/services.h"
#include "coreapp/webhooks.h"

struct services {
    struct coreapp *app;
    struct db      *db;
};

static void
gc_report(struct services *sv, long long deleted, const char *failure)
{
    json_t        *gc;
    enum err_code  rc;

    if (failure == NULL) {
        gc = json_pack("{s:I,s:s}", "messages_deleted", (json_int_t) deleted,
                       "status", "complete");
    } else {
        gc = json_pack("{s:I,s:s,s:[{s:i,s:s,s:s}]}", "messages_deleted", (json_int_t) 0,
                       "status", "failed", "errors", "code", err_api_code(ERR_DATABASE),
                       "title", err_title(ERR_DATABASE), "details", failure);
    }
    log_info(NULL, "message_gc_done", "deleted=%lld status=%s", deleted,
             failure ? "failed" : "complete");
    rc = webhooks_enqueue(sv->app, WEBHOOK_SERVICE,
                          json_pack("{s:[{s:{s:o}}]}", "services", "message", "gc", gc));
    if (rc != ERR_OK)
        log_warn(NULL, "message_gc_unreported", "error=%s", err_name(rc));
}

static void
gc_ran_cb(const struct db_result *res, enum err_code err, void *arg)
{
    const char *n = db_result_get(res, 0, 0);

    if (err != ERR_OK)
        gc_report(arg, 0, "the garbage collection failed: database error");
    else
        gc_report(arg, n ? atoll(n) : 0, NULL);
}

/* wa_message_gc() comes with the messages module's migration; without it
 * there is nothing to collect. */
static void
gc_probe_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct services *sv = arg;
    const char      *has = db_result_get(res, 0, 0);

    if (err != ERR_OK)
        gc_report(sv, 0, "the garbage collection failed: database error");
    else if (has != NULL && has[0] == 't')
        db_query(sv->db, "SELECT wa_message_gc()", 0, NULL, gc_ran_cb, sv);
    else
        gc_report(sv, 0, NULL);
}

static void
gc_handle(struct core_req *req, void *arg)
{
    struct services *sv = arg;

    if (!webhooks_enabled(sv->app)) {
        core_reply_error(req, ERR_WEBHOOK_URL_MISSING, "the gc result is reported by callback: "
                         "set webhooks.url with PATCH /v1/settings/application first");
        return;
    }
    if (!db_is_connected(sv->db)) {
        core_reply_error(req, ERR_DATABASE, "the database is not reachable");
        return;
    }
    log_info(req->w.rid, "message_gc_started", "queued=true");
    db_query(sv->db, "SELECT to_regprocedure('wa_message_gc()') IS NOT NULL", 0, NULL,
             gc_probe_cb, sv);
    core_reply(req, 200, json_pack("{s:{s:{s:{s:s}}}}", "services", "message", "gc",
                                   "status", "processing"));
}

void
services_free(struct services *sv)
{
    if (sv == NULL)
        return;
    db_free(sv->db);                /* a run cut short still reports, as failed */
    free(sv);
}

void
services_init(struct coreapp *app)
{
    struct services *sv = xcalloc(1, sizeof(*sv));
    char            *ci = db_conninfo(&app->cfg.db, true);

    sv->app = app;
    sv->db = db_new(app->base, ci, "services");
    free(ci);
    app->services = sv;
    dispatch_register(app->dispatch, WIRE_MESSAGE_GC, gc_handle, sv);
}
