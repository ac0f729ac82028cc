/* main.c - wa-coreapp: configuration, start-up, the event loop, shutdown. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <zmq.h>
#include "common/config.h"
#include "common/db.h"
#include "common/log.h"
#include "common/offload.h"
#include "common/daemon.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/health.h"
#include "coreapp/gateway.h"      /* + account.h, contacts.h: the network link, registration, contacts */
#include "coreapp/account.h"
#include "coreapp/contacts.h"
#include "coreapp/messages.h"
#include "coreapp/settings.h"
#include "coreapp/services.h"
#include "coreapp/webhooks.h"
#include "coreapp/profile.h"
#include "coreapp/backup.h"
#include "coreapp/stickerpacks.h"
#include "coreapp/stats.h"
#include "coreapp/support.h"

#define C struct coreapp_config
static const struct cfg_key coreapp_keys[] = {
    CFG_STR("WA_DB_HOSTNAME", C, db.host, "127.0.0.1", "PostgreSQL host, IP or socket directory"),
    CFG_INT("WA_DB_PORT", C, db.port, "5432", 1, 65535, "PostgreSQL port"),
    CFG_STR("WA_DB_USERNAME", C, db.user, "wa", "PostgreSQL user"),
    CFG_SECRET("WA_DB_PASSWORD", C, db.password, "PostgreSQL password"),
    CFG_STR("WA_DB_NAME_PREFIX", C, db.name_prefix, "", "prefix of the database name (<prefix>wa)"),
    CFG_STR("WA_DB_SSL_MODE", C, db.sslmode, NULL, "libpq sslmode (disable, require, verify-full...)"),
    CFG_STR("WA_DB_SSL_CA", C, db.ssl_ca, NULL, "CA file for the database's certificate"),
    CFG_STR("WA_DB_SSL_CERT", C, db.ssl_cert, NULL, "client certificate file"),
    CFG_STR("WA_DB_SSL_KEY", C, db.ssl_key, NULL, "client key file"),
    CFG_STR("WA_COREAPP_ENDPOINT", C, endpoint, "tcp://127.0.0.1:6250", "ZeroMQ endpoint to bind for the webapps"),
    CFG_STR("WA_SANDBOX_ENDPOINT", C, sandbox_endpoint, "tcp://127.0.0.1:5590", "ZeroMQ endpoint of the network (wa-sandbox)"),
    CFG_STR("WA_SANDBOX_STATE_DIR", C, sandbox_state_dir, "/var/lib/wa-sandbox", "the network's state dir, where it writes its public key (server.pub)"),
    CFG_STR("WA_SANDBOX_PUBLIC_KEY", C, sandbox_public_key, NULL, "the network's CURVE public key (Z85, 40 chars); else read from WA_SANDBOX_STATE_DIR"),
    CFG_INT("WA_OUTBOX_MEMORY_MAX", C, outbox_memory_max, "20000", 1, 10000000, "messages handed to the network and held in memory at most; more wait in the database"),
    CFG_INT("WA_SANDBOX_HEARTBEAT_MS", C, sandbox_heartbeat_ms, "1000", 100, 60000, "network link heartbeat; the link is down after 3 silent intervals"),
    CFG_STR("WA_MEDIA_DIR", C, media_dir, "/usr/local/wamedia", "media volume"),
    CFG_STR("WA_LOG_LEVEL", C, log_level, "info", "debug, info, warn or error"),
    CFG_SECRET("WA_WEBHOOK_SECRET", C, webhook_secret, "HMAC-SHA256 key for X-Hub-Signature-256 on callbacks (the setting webhooks.secret wins)"),
    CFG_INT("WA_WEBHOOK_TIMEOUT_MS", C, webhook_timeout_ms, "20000", 1000, 300000, "how long a callback request may take before it counts as failed"),
    CFG_INT("WA_MESSAGE_RETENTION_DAYS", C, message_retention_days, "30", 0, 36500, "finished messages older than this many days are garbage-collected"),
    CFG_INT("WA_MESSAGE_GC_INTERVAL_S", C, message_gc_interval_s, "3600", 1, 604800, "seconds between automatic message garbage collections"),
};
#undef C
#define NKEYS (sizeof(coreapp_keys) / sizeof(coreapp_keys[0]))

static void
stop_cb(int sig, void *arg)
{
    struct coreapp *app = arg;
    struct timeval  grace = { 1, 0 };

    (void) sig;
    event_base_loopexit(app->base, &grace);
}

int
main(int argc, char **argv)
{
    struct coreapp  app;
    struct daemon  *d = NULL;
    struct timeval  tv;
    char           *ci;
    int             rc;

    memset(&app, 0, sizeof(app));
    rc = daemon_configure(argc, argv, "coreapp",
                          "The messaging core of the WhatsApp Business On-Premises API.",
                          coreapp_keys, NKEYS, &app.cfg, &app.cfg.log_level);
    if (rc >= 0)
        return rc;
    gettimeofday(&tv, NULL);
    app.started_ms = (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
    rc = 1;
    if (db_bootstrap(&app.cfg.db, 60) != 0)
        goto done;
    app.base = daemon_event_base();
    app.offload = offload_new(app.base, 1);
    ci = db_conninfo(&app.cfg.db, true);
    app.db = db_new(app.base, ci, "coreapp");
    free(ci);
    app.zctx = zmq_ctx_new();
    app.dispatch = dispatch_new(app.base, app.zctx, app.cfg.endpoint);
    if (app.dispatch == NULL)
        goto done;
    health_init(&app);
    gateway_init(&app);         /* before the modules that use app->gw */
    account_init(&app);
    contacts_init(&app);
    settings_init(&app);        /* before the modules that read settings */
    webhooks_init(&app);
    services_init(&app);
    stats_init(&app);           /* early: other modules bump app->stats */
    support_init(&app);
    profile_settings_init(&app);
    backup_init(&app);
    stickerpacks_init(&app);
    messages_init(&app);
    d = daemon_serve(app.base, stop_cb, &app);
    log_info(NULL, "started", "endpoint=%s", app.cfg.endpoint);
    event_base_dispatch(app.base);
    rc = 0;
done:
    daemon_free(d);
    messages_free(app.messages);    /* before dispatch: answers what it holds */
    profile_settings_free(app.profile); /* before gateway: its push lets go of it */
    gateway_free(app.gw);           /* runs unanswered requests' callbacks: before dispatch */
    contacts_free(app.contacts);
    account_free(app.account);
    services_free(app.services);   /* its last callbacks go to webhooks */
    webhooks_free(app.webhooks);
    settings_free(app.settings);
    offload_free(app.offload);       /* before dispatch: a job holds a request */
    dispatch_free(app.dispatch);
    if (app.zctx)
        zmq_ctx_term(app.zctx);     /* after every socket is closed */
    stats_free(app.stats);
    db_free(app.db);
    if (app.base)
        event_base_free(app.base);
    cfg_cleanup(coreapp_keys, NKEYS, &app.cfg);
    log_info(NULL, "stopped", "status=%d", rc);
    return rc;
}
