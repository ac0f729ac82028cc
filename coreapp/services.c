/* services.c - the message gc service and its completion callback. */
#include <jansson.h>
#include <stdlib.h>
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/message_gc.h"
#include "coreapp/services.h"
#include "coreapp/webhooks.h"

struct services {
    struct coreapp    *app;
    struct message_gc *gc;
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
        /* what the chunks before the failure deleted is gone: say so */
        gc = json_pack("{s:I,s:s,s:[{s:i,s:s,s:s}]}", "messages_deleted", (json_int_t) deleted,
                       "status", "failed", "errors", "code", err_api_code(ERR_DATABASE),
                       "title", err_title(ERR_DATABASE), "details", failure);
    }
    rc = webhooks_enqueue(sv->app, WEBHOOK_SERVICE,
                          json_pack("{s:[{s:{s:o}}]}", "services", "message", "gc", gc));
    if (rc != ERR_OK)
        log_warn(NULL, "message_gc_unreported", "error=%s", err_name(rc));
}

static void
gc_done_cb(long long deleted, const char *failure, void *arg)
{
    gc_report(arg, deleted, failure);
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
    if (!message_gc_is_ready(sv->gc)) {
        core_reply_error(req, ERR_DATABASE, "the database is not reachable");
        return;
    }
    log_info(req->w.rid, "message_gc_requested", "queued=true");
    message_gc_run(sv->gc, gc_done_cb, sv);
    core_reply(req, 200, json_pack("{s:{s:{s:{s:s}}}}", "services", "message", "gc",
                                   "status", "processing"));
}

void
services_free(struct services *sv)
{
    if (sv == NULL)
        return;
    message_gc_free(sv->gc);        /* a run cut short still reports, as failed */
    free(sv);
}

void
services_init(struct coreapp *app)
{
    struct services *sv = xcalloc(1, sizeof(*sv));

    sv->app = app;
    sv->gc = message_gc_new(app);
    app->services = sv;
    dispatch_register(app->dispatch, WIRE_MESSAGE_GC, gc_handle, sv);
}
