/* health.c - the single-instance health node. */
#include <string.h>
#include "common/db.h"
#include "common/log.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/health.h"

const char *
gateway_status_name(enum gateway_status s)
{
    switch (s) {
    case GATEWAY_UNREGISTERED: return "unregistered";
    case GATEWAY_CONNECTING:   return "connecting";
    case GATEWAY_CONNECTED:    return "connected";
    case GATEWAY_DISCONNECTED: return "disconnected";
    case GATEWAY_UNINITIALIZED:
    default:                   return "uninitialized";
    }
}

static void
health_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct core_req *req = arg;
    struct coreapp  *app = req->ctx;

    (void) res;
    if (err != ERR_OK) {
        core_reply_error(req, ERR_DATABASE, "the database is not reachable");
        return;
    }
    core_reply(req, 200, json_pack("{s:{s:s}}", "health", "gateway_status",
                                   gateway_status_name(app->gateway)));
}

/* A round trip to PostgreSQL, so health tells the truth during an outage. */
static void
health_handle(struct core_req *req, void *arg)
{
    struct coreapp *app = arg;

    req->ctx = app;
    db_query(app->db, "SELECT 1", 0, NULL, health_cb, req);
}

static void
account_loaded_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct coreapp *app = arg;

    if (err != ERR_OK)
        return;
    if (app->gateway == GATEWAY_UNINITIALIZED)
        app->gateway = db_result_rows(res) == 1 && strcmp(db_result_get(res, 0, 0), "t") == 0
                       ? GATEWAY_DISCONNECTED : GATEWAY_UNREGISTERED;
    log_info(NULL, "gateway_status", "status=%s", gateway_status_name(app->gateway));
}

static void
connected_cb(void *arg)
{
    struct coreapp *app = arg;

    db_query(app->db, "SELECT registered FROM account", 0, NULL, account_loaded_cb, app);
}

void
health_init(struct coreapp *app)
{
    db_on_connect(app->db, connected_cb, app);
    dispatch_register(app->dispatch, WIRE_HEALTH, health_handle, app);
}
