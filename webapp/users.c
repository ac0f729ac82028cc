/* users.c - default admin and the revoked-token cache. */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include "common/db.h"
#include "common/log.h"
#include "webapp/auth.h"
#include "webapp/users.h"
#include "webapp/webapp.h"

static char *dummy_hash;    /* set once at start-up, read-only afterwards */

const char *users_dummy_hash(void) { return dummy_hash; }

int
users_seed_admin(struct webapp *app)
{
    char       *hash = auth_password_hash(USERS_ADMIN_DEFAULT, (int) app->cfg.pw_iterations);
    const char *params[2] = { USERS_ADMIN, hash };
    bool        failed = false;

    free(db_oneshot(&app->cfg.db,
                    "INSERT INTO users (username, password_hash, role, must_change_password)"
                    " VALUES ($1, $2, 'ROLE_ADMIN', true) ON CONFLICT (username) DO NOTHING",
                    2, params, &failed));
    free(hash);
    free(dummy_hash);
    dummy_hash = auth_password_hash("no one knows this one", (int) app->cfg.pw_iterations);
    return failed ? -1 : 0;
}

static void
reload_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct webapp *app = arg;
    int            n = db_result_rows(res);

    if (err != ERR_OK) {
        log_warn(NULL, "revocations_reload_failed", "reason=%s", "database");
        return;
    }
    auth_revocations_clear(app->revoked);
    for (int i = 0; i < n; i++) {
        const char *jti = db_result_get(res, i, 0);
        const char *user = db_result_get(res, i, 1);
        const char *before = db_result_get(res, i, 2);

        if (jti != NULL)
            auth_revoke_jti(app->revoked, jti);
        else if (user != NULL && before != NULL)
            auth_revoke_user_before(app->revoked, user, atoll(before));
    }
    log_info(NULL, "revocations_loaded", "count=%d", n);
}

static void
connected_cb(void *arg)
{
    struct webapp *app = arg;

    db_query(app->db, "DELETE FROM token_revocations WHERE expires_at < now()", 0, NULL,
             NULL, NULL);
    db_query(app->db, "SELECT jti, username, before_ms FROM token_revocations", 0, NULL,
             reload_cb, app);
}

/* payload: "jti:<jti>" or "user:<name>:<before_ms>" */
static void
notify_cb(const char *channel, const char *payload, void *arg)
{
    struct webapp *app = arg;
    const char    *colon;
    char           user[64];

    (void) channel;
    if (strncmp(payload, "jti:", 4) == 0) {
        auth_revoke_jti(app->revoked, payload + 4);
    } else if (strncmp(payload, "user:", 5) == 0 && (colon = strrchr(payload, ':')) != NULL &&
               colon > payload + 5 && (size_t) (colon - payload - 5) < sizeof(user)) {
        memcpy(user, payload + 5, (size_t) (colon - payload - 5));
        user[colon - payload - 5] = '\0';
        auth_revoke_user_before(app->revoked, user, atoll(colon + 1));
    }
}

/* Expired revocations leave memory and the table every 10 minutes. */
static void
prune_cb(evutil_socket_t fd, short what, void *arg)
{
    struct webapp *app = arg;

    (void) fd;
    (void) what;
    if (db_is_connected(app->db))
        connected_cb(app);
}

void
users_sync_start(struct webapp *app)
{
    struct timeval every = { 600, 0 };

    app->prune_timer = event_new(app->base, -1, EV_PERSIST, prune_cb, app);
    event_add(app->prune_timer, &every);
    db_on_connect(app->db, connected_cb, app);
    db_listen(app->db, USERS_NOTIFY_CHANNEL, notify_cb, app);
}
