/* main.c - wa-webapp: configuration, start-up, the event loop, shutdown. */
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "common/clock.h"
#include "common/config.h"
#include "common/db.h"
#include "common/log.h"
#include "common/daemon.h"
#include "common/xalloc.h"
#include "webapp/auth.h"
#include "webapp/http_server.h"
#include "webapp/metrics.h"
#include "common/offload.h"
#include "webapp/proxy.h"
#include "webapp/routes.h"
#include "webapp/tls.h"
#include "webapp/users.h"
#include "webapp/webapp.h"

#define C struct webapp_config
static const struct cfg_key webapp_keys[] = {
    CFG_STR("WA_DB_HOSTNAME", C, db.host, "127.0.0.1", "PostgreSQL host, IP or socket directory"),
    CFG_INT("WA_DB_PORT", C, db.port, "5432", 1, 65535, "PostgreSQL port"),
    CFG_STR("WA_DB_USERNAME", C, db.user, "wa", "PostgreSQL user"),
    CFG_SECRET("WA_DB_PASSWORD", C, db.password, "PostgreSQL password"),
    CFG_STR("WA_DB_NAME_PREFIX", C, db.name_prefix, "", "prefix of the database name (<prefix>wa)"),
    CFG_STR("WA_DB_SSL_MODE", C, db.sslmode, NULL, "libpq sslmode (disable, require, verify-full...)"),
    CFG_STR("WA_DB_SSL_CA", C, db.ssl_ca, NULL, "CA file for the database's certificate"),
    CFG_STR("WA_DB_SSL_CERT", C, db.ssl_cert, NULL, "client certificate file"),
    CFG_STR("WA_DB_SSL_KEY", C, db.ssl_key, NULL, "client key file"),
    CFG_STR("WA_WEB_HOST", C, host, "127.0.0.1", "address to listen on (0.0.0.0 for all)"),
    CFG_INT("WA_WEB_PORT", C, port, "9090", 1, 65535, "HTTPS port"),
    CFG_STR("WA_WEB_SERVERNAME", C, servername, "localhost", "name in the self-signed certificate"),
    CFG_STR("WA_WEB_CERT_FILE", C, cert_file, NULL, "PEM certificate chain (else one is generated)"),
    CFG_STR("WA_WEB_KEY_FILE", C, key_file, NULL, "PEM private key of WA_WEB_CERT_FILE"),
    CFG_STR_LEN("WA_API_KEY", C, api_key, NULL, 12, 128, 1, "API key for health, metrics and stats (12-128 chars)"),
    CFG_STR_LEN("WA_WEB_JWT_CRYPTO_KEY", C, jwt_key, NULL, 32, 1024, 1, "token signing key shared by all webapps (generated and kept in the database if unset)"),
    CFG_INT("WA_WEB_TOKEN_TTL_S", C, token_ttl_s, "604800", 1, 31536000, "token lifetime in seconds"),
    CFG_INT("WA_WEB_MAX_BODY_BYTES", C, max_body, "1048576", 1024, 1073741824, "largest JSON body"),
    CFG_INT("WA_WEB_MAX_UPLOAD_BYTES", C, max_upload, "104857600", 1024, 1073741824, "largest binary upload"),
    CFG_INT("WA_WEB_MAX_CONNECTIONS", C, max_connections, "10000", 1, 1000000, "open client connections at most (more wait to be accepted)"),
    CFG_STR("WA_COREAPP_ENDPOINT", C, coreapp_endpoint, "tcp://127.0.0.1:6250", "ZeroMQ endpoint of the coreapp"),
    CFG_INT("WA_COREAPP_TIMEOUT_MS", C, coreapp_timeout_ms, "10000", 100, 600000, "answer 503 when the coreapp is silent this long"),
    CFG_INT("WA_WEB_PASSWORD_ITERATIONS", C, pw_iterations, "210000", 1000, 10000000, "PBKDF2-HMAC-SHA256 iterations for new password hashes"),
    CFG_STR("WA_LOG_LEVEL", C, log_level, "info", "debug, info, warn or error"),
};
#undef C
#define NKEYS (sizeof(webapp_keys) / sizeof(webapp_keys[0]))

/* Returns the shared value stored under name, storing fresh if none yet. */
static char *
shared_secret(struct webapp *app, const char *name, const char *fresh)
{
    const char *params[2] = { name, fresh };

    return db_oneshot(&app->cfg.db,
                      "WITH ins AS (INSERT INTO web_secrets (name, value) VALUES ($1, $2)"
                      "             ON CONFLICT (name) DO NOTHING RETURNING value)"
                      " SELECT value FROM ins UNION ALL"
                      " SELECT value FROM web_secrets WHERE name = $1 LIMIT 1",
                      2, params, NULL);
}

static char *
read_file(const char *path)
{
    FILE   *f = fopen(path, "rb");
    char   *buf;
    long    n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = xmalloc((size_t) n + 1);
    if (fread(buf, 1, (size_t) n, f) != (size_t) n) {
        free(buf);
        buf = NULL;
    } else {
        buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

static int
load_jwt_key(struct webapp *app)
{
    unsigned char rnd[32];
    char          hex[65];

    if (app->cfg.jwt_key != NULL) {
        app->jwt_key = xstrdup(app->cfg.jwt_key);
        return 0;
    }
    RAND_bytes(rnd, sizeof(rnd));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    app->jwt_key = shared_secret(app, "jwt_key", hex);
    return app->jwt_key ? 0 : -1;
}

static int
load_tls(struct webapp *app)
{
    char *cert = NULL, *key = NULL, *gcert = NULL, *gkey = NULL, err[256];
    int   rc = -1;

    if (app->cfg.cert_file != NULL) {
        cert = read_file(app->cfg.cert_file);
        key = read_file(app->cfg.key_file ? app->cfg.key_file : app->cfg.cert_file);
        if (cert == NULL || key == NULL) {
            log_error(NULL, "tls_read_failed", "cert=%s key=%s", app->cfg.cert_file,
                      app->cfg.key_file ? app->cfg.key_file : app->cfg.cert_file);
            goto done;
        }
    } else {
        /* one certificate for every webapp instance, made by the first */
        if (tls_make_self_signed(app->cfg.servername, &gcert, &gkey) != 0)
            goto done;
        cert = shared_secret(app, "tls_cert", gcert);
        key = shared_secret(app, "tls_key", gkey);
        if (cert == NULL || key == NULL)
            goto done;
    }
    app->tls = tls_new(cert, key, err, sizeof(err));
    if (app->tls == NULL)
        log_error(NULL, "tls_invalid", "reason=\"%s\"", err);
    rc = app->tls ? 0 : -1;
done:
    free(cert);
    free(key);
    free(gcert);
    free(gkey);
    return rc;
}

static void
stop_cb(int sig, void *arg)
{
    struct webapp *app = arg;
    struct timeval grace = { 2, 0 };

    (void) sig;
    log_info(NULL, "draining", "inflight=%u", http_server_inflight(app->http));
    /* stop taking connections; give in-flight requests a moment to finish */
    http_server_stop_listening(app->http);
    event_base_loopexit(app->base, &grace);
}

int
main(int argc, char **argv)
{
    struct webapp  app;
    struct daemon *d = NULL;
    int            rc;

    memset(&app, 0, sizeof(app));
    rc = daemon_configure(argc, argv, "webapp",
                          "The HTTPS REST API (/v1/...) of the WhatsApp Business On-Premises API.",
                          webapp_keys, NKEYS, &app.cfg, &app.cfg.log_level);
    if (rc >= 0)
        return rc;
    rc = 1;
    app.started_ms = clock_wall_ms();
    if (db_bootstrap(&app.cfg.db, 60) != 0 || users_seed_admin(&app) != 0 ||
        load_jwt_key(&app) != 0 || load_tls(&app) != 0)
        goto done;
    app.base = daemon_event_base();
    app.revoked = auth_revocations_new();
    app.throttle = auth_throttle_new(3);
    /* one address may carry many users (NAT, a proxy): allow more */
    app.peer_throttle = auth_throttle_new(20);
    app.offload = offload_new(app.base, 2);
    {
        char *ci = db_conninfo(&app.cfg.db, true);
        app.db = db_new(app.base, ci, "webapp");
        free(ci);
    }
    users_sync_start(&app);
    certs_sync_start(&app);
    app.routes = routes_new(&app);
    app.proxy = proxy_new(app.base, app.cfg.coreapp_endpoint, (int) app.cfg.coreapp_timeout_ms);
    if (app.proxy == NULL)
        goto done;
    app.http = http_server_new(app.base, app.cfg.host, (int) app.cfg.port, app.tls,
                               (size_t) (app.cfg.max_upload > app.cfg.max_body
                                         ? app.cfg.max_upload : app.cfg.max_body) + 4096,
                               (unsigned) app.cfg.max_connections, routes_dispatch, &app);
    if (app.http == NULL)
        goto done;
    metrics_attach(&app);
    d = daemon_serve(app.base, stop_cb, &app);
    log_info(NULL, "started", "url=https://%s:%ld coreapp=%s api_key=%s", app.cfg.host,
             app.cfg.port, app.cfg.coreapp_endpoint, app.cfg.api_key ? "set" : "unset");
    event_base_dispatch(app.base);
    rc = 0;
done:
    daemon_free(d);
    http_server_free(app.http);
    metrics_free(app.metrics);
    proxy_free(app.proxy);
    offload_free(app.offload);
    routes_free(app.routes);
    if (app.prune_timer)
        event_free(app.prune_timer);
    db_free(app.db);
    auth_revocations_free(app.revoked);
    auth_throttle_free(app.throttle);
    auth_throttle_free(app.peer_throttle);
    tls_free(app.tls);
    if (app.base)
        event_base_free(app.base);
    free(app.jwt_key);
    cfg_cleanup(webapp_keys, NKEYS, &app.cfg);
    log_info(NULL, "stopped", "status=%d", rc);
    return rc;
}
