/* routes_certs.c - the webapp's own TLS certificate (spec/API.md §4.1-4.2).
 * An uploaded bundle is checked, stored in PostgreSQL and announced with
 * NOTIFY, so every webapp instance serves it to new connections at once,
 * without a restart (spec/CLARIFICATIONS.md §9). */
#include <stdlib.h>
#include <string.h>
#include "common/db.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "webapp/routes.h"
#include "webapp/tls.h"
#include "webapp/webapp.h"

#define TLS_NOTIFY_CHANNEL "wa_tls_changed"
#define SQL_TLS_STORE \
    "WITH s AS (INSERT INTO web_secrets (name, value)" \
    "           VALUES ('tls_cert', $1), ('tls_key', $2), ('tls_ca', $3)" \
    "           ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value)" \
    " SELECT pg_notify('" TLS_NOTIFY_CHANNEL "', '')"
#define SQL_TLS_LOAD \
    "SELECT (SELECT value FROM web_secrets WHERE name = 'tls_cert')," \
    "       (SELECT value FROM web_secrets WHERE name = 'tls_key')," \
    "       (SELECT value FROM web_secrets WHERE name = 'tls_ca')"

struct cert_upload {
    struct http_req *req;
    struct webapp   *app;
    char            *key, *chain, *ca;
};

static void
upload_free(struct cert_upload *u)
{
    if (u->key)
        memset(u->key, 0, strlen(u->key));
    free(u->key);
    free(u->chain);
    free(u->ca);
    free(u);
}

static void
store_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct cert_upload *u = arg;
    char                why[256];

    (void) res;
    if (err != ERR_OK) {
        http_reply_error(u->req, ERR_DATABASE, "could not store the certificate");
    } else if (tls_replace(u->app->tls, u->chain, u->key, why, sizeof(why)) != 0) {
        http_reply_error(u->req, ERR_INTERNAL, "%s", why);    /* checked before: unlikely */
    } else {
        log_info(u->req->rid, "tls_certificate_installed", "by=%s", u->req->user);
        http_reply_payload(u->req, 200, NULL);
    }
    upload_free(u);
}

void
route_cert_external_set(struct http_req *req, struct webapp *app)
{
    struct cert_upload *u = xcalloc(1, sizeof(*u));
    struct tls         *probe;
    char                why[256];
    const char         *params[3];

    u->req = req;
    u->app = app;
    if (req->body_len == 0 || memchr(req->body, '\0', req->body_len) != NULL) {
        http_reply_error(req, ERR_PARAM_MISSING, "the body must be a PEM bundle: private key, "
                         "certificate, intermediate certificates");
        goto fail;
    }
    /* the documented rule: key, certificate and at least one intermediate */
    if (tls_split_bundle((char *) req->body, 2, &u->key, &u->chain, &u->ca, why,
                         sizeof(why)) != 0) {
        http_reply_error(req, ERR_PARAM_INVALID, "%s", why);
        goto fail;
    }
    probe = tls_new(u->chain, u->key, why, sizeof(why));
    if (probe == NULL) {
        http_reply_error(req, ERR_PARAM_INVALID, "%s", why);
        goto fail;
    }
    tls_free(probe);
    params[0] = u->chain;
    params[1] = u->key;
    params[2] = u->ca;
    db_query(app->db, SQL_TLS_STORE, 3, params, store_cb, u);
    return;
fail:
    upload_free(u);
}

static void
ca_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct http_req *req = arg;
    const char      *ca = db_result_get(res, 0, 2), *cert = db_result_get(res, 0, 0);

    if (err != ERR_OK) {
        http_reply_error(req, ERR_DATABASE, "could not read the certificate");
        return;
    }
    /* a self-signed certificate is its own CA */
    if (ca == NULL)
        ca = cert;
    if (ca == NULL)
        http_reply_raw(req, 404, "text/plain", NULL, 0);
    else
        http_reply_raw(req, 200, "text/plain", ca, strlen(ca));
}

void
route_cert_external_ca_get(struct http_req *req, struct webapp *app)
{
    db_query(app->db, SQL_TLS_LOAD, 0, NULL, ca_cb, req);
}

static void
reload_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct webapp *app = arg;
    const char    *cert = db_result_get(res, 0, 0), *key = db_result_get(res, 0, 1);
    char           why[256];

    if (err != ERR_OK || cert == NULL || key == NULL)
        return;
    if (tls_replace(app->tls, cert, key, why, sizeof(why)) != 0)
        log_error(NULL, "tls_reload_failed", "reason=\"%s\"", why);
    else
        log_info(NULL, "tls_reloaded", "source=database");
}

static void
notify_cb(const char *channel, const char *payload, void *arg)
{
    struct webapp *app = arg;

    (void) channel;
    (void) payload;
    db_query(app->db, SQL_TLS_LOAD, 0, NULL, reload_cb, app);
}

void
certs_sync_start(struct webapp *app)
{
    db_listen(app->db, TLS_NOTIFY_CHANNEL, notify_cb, app);
}
