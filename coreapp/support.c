/* support.c - the coreapp's facts for GET /v1/support. */
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/db.h"
#include "common/envelope.h"
#include "common/facts.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/support.h"

/* Each value through wa_safe_text() (sql/006): NULL, not an error, when a
 * table isn't there, so support works on a half-migrated database too. */
static const char support_sql[] =
    "SELECT current_setting('server_version'),"
    " wa_safe_text('SELECT string_agg(name, '','' ORDER BY name) FROM schema_migrations'),"
    " wa_safe_text('SELECT to_jsonb(a)::text FROM account a LIMIT 1'),"
    " wa_safe_text('SELECT encode(sha256(convert_to(overrides::text, ''UTF8'')), ''hex'')"
    "               FROM app_settings LIMIT 1'),"
    " pg_database_size(current_database())";

/* Only these account fields are shown: the row also holds key material. */
static json_t *
registration(const char *account_json, const struct coreapp *app)
{
    static const char *const shown[] = { "registered", "wa_id", "cc", "vname", "updated_at" };
    json_t *acct = account_json ? json_loads(account_json, 0, NULL) : NULL;
    json_t *out = json_object();

    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        json_t *v = json_object_get(acct, shown[i]);
        if (v != NULL)
            json_object_set(out, shown[i], v);
    }
    if (json_object_get(out, "registered") == NULL)
        json_object_set_new(out, "registered", json_false());
    json_object_set_new(out, "gateway_status", json_string(gateway_status_name(app->gateway)));
    json_decref(acct);
    return out;
}

struct support_call {
    struct core_req *req;
    struct coreapp  *app;
};

static void
support_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct support_call *c = arg;
    struct coreapp      *app = c->app;
    json_t              *db, *core, *out, *migrations = json_array();
    const char          *list = err == ERR_OK ? db_result_get(res, 0, 1) : NULL;
    const char          *digest = err == ERR_OK ? db_result_get(res, 0, 3) : NULL;
    char                 host[256] = "";
    char                 digest_buf[80];

    for (const char *p = list; p != NULL && *p; ) {
        const char *comma = strchr(p, ',');
        size_t      len = comma ? (size_t) (comma - p) : strlen(p);

        json_array_append_new(migrations, json_stringn(p, len));
        p += len + (comma ? 1 : 0);
    }
    db = json_pack("{s:b, s:I}", "connected", db_is_connected(app->db),
                   "queries_waiting", (json_int_t) db_queue_len(app->db));
    if (err == ERR_OK) {
        json_object_set_new(db, "server_version", json_string(db_result_get(res, 0, 0)));
        json_object_set_new(db, "size_bytes",
                            json_integer(strtoll(db_result_get(res, 0, 4), NULL, 10)));
        json_object_set_new(db, "migrations", migrations);
    } else {
        json_object_set_new(db, "error", json_string(db_result_error(res)[0]
                                                     ? db_result_error(res)
                                                     : "the database is not reachable"));
        json_decref(migrations);
    }
    gethostname(host, sizeof(host) - 1);
    core = json_pack("{s:s, s:i, s:o, s:I, s:{s:s, s:s, s:s}, s:o}",
                     "node", host, "pid", (int) getpid(),
                     "started_at", facts_iso_time(app->started_ms),
                     "uptime_s", (json_int_t) ((clock_wall_ms() - app->started_ms) / 1000),
                     "libraries", "libevent", event_get_version(),
                     "jansson", JANSSON_VERSION, "openssl", OpenSSL_version(OPENSSL_VERSION),
                     "recent_errors", facts_recent_errors());
    out = json_pack("{s:s, s:o, s:o, s:o}", "version", WA_VERSION, "coreapp", core,
                    "database", db,
                    "registration", registration(err == ERR_OK ? db_result_get(res, 0, 2)
                                                               : NULL, app));
    if (digest != NULL) {
        snprintf(digest_buf, sizeof(digest_buf), "sha256:%s", digest);
        json_object_set_new(out, "settings_digest", json_string(digest_buf));
    } else {
        json_object_set_new(out, "settings_digest", json_null());
    }
    /* Answered even when the database is down: that is when support needs it. */
    core_reply(c->req, 200, json_pack("{s:o}", "support", out));
    free(c);
}

static void
support_handle(struct core_req *req, void *arg)
{
    struct support_call *c = xcalloc(1, sizeof(*c));

    c->req = req;
    c->app = arg;
    db_query(c->app->db, support_sql, 0, NULL, support_cb, c);
}

void
support_init(struct coreapp *app)
{
    dispatch_register(app->dispatch, WIRE_SUPPORT, support_handle, app);
}
