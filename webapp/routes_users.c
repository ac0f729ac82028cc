/* routes_users.c - /v1/users: login, logout and the users themselves
 * (spec/API.md §2). Users live in PostgreSQL; password hashing runs on the
 * offload pool so the loop never waits for it. */
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "webapp/auth.h"
#include "common/offload.h"
#include "webapp/routes.h"
#include "webapp/users.h"
#include "webapp/webapp.h"

#define SQL_USER_GET \
    "SELECT password_hash, role, must_change_password FROM users WHERE username = $1"
/* Changing a password revokes the user's older tokens, on every webapp. */
#define SQL_PASSWORD_SET \
    "WITH u AS (UPDATE users SET password_hash = $2, must_change_password = false," \
    "                  updated_at = now() WHERE username = $1 RETURNING username)," \
    " r AS (INSERT INTO token_revocations (username, before_ms, expires_at)" \
    "       SELECT username, $3::bigint, now() + make_interval(secs => $4::bigint) FROM u)" \
    " SELECT pg_notify('" USERS_NOTIFY_CHANNEL "', 'user:' || username || ':' || $3) FROM u"
#define SQL_USER_DELETE \
    "WITH d AS (DELETE FROM users WHERE username = $1 RETURNING username)," \
    " r AS (INSERT INTO token_revocations (username, before_ms, expires_at)" \
    "       SELECT username, $2::bigint, now() + make_interval(secs => $3::bigint) FROM d)" \
    " SELECT pg_notify('" USERS_NOTIFY_CHANNEL "', 'user:' || username || ':' || $2) FROM d"
#define SQL_TOKEN_REVOKE \
    "WITH r AS (INSERT INTO token_revocations (jti, expires_at)" \
    "           VALUES ($1, to_timestamp($2::bigint)))" \
    " SELECT pg_notify('" USERS_NOTIFY_CHANNEL "', 'jti:' || $1)"
#define SQL_USER_INSERT \
    "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, 'ROLE_USER')"

/* One user operation in flight: the request and what each step learned. */
struct user_op {
    struct http_req *req;
    struct webapp   *app;
    char            *username;
    char            *password;       /* given by the caller */
    char            *new_password;   /* login's optional change */
    char            *stored_hash;
    char            *new_hash;
    char             role[16];
    bool             found, must_change, verified;
    int64_t          revoked_at_ms;  /* when older tokens were revoked */
    struct event    *delay;
};

static void
secret_free(char *s)
{
    if (s != NULL)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static void
op_free(struct user_op *op)
{
    if (op == NULL)
        return;
    free(op->username);
    secret_free(op->password);
    secret_free(op->new_password);
    free(op->stored_hash);
    free(op->new_hash);
    if (op->delay)
        event_free(op->delay);
    free(op);
}

static struct user_op *
op_new(struct http_req *req, struct webapp *app, const char *username)
{
    struct user_op *op = xcalloc(1, sizeof(*op));

    op->req = req;
    op->app = app;
    op->username = xstrdup(username);
    return op;
}

static void
ms_text(int64_t v, char *buf, size_t n)
{
    snprintf(buf, n, "%lld", (long long) v);
}

static json_t *
users_payload(const char *key, const char *value, const char *key2, const char *value2)
{
    json_t *u = json_pack("{s:s}", key, value);

    if (key2 != NULL)
        json_object_set_new(u, key2, json_string(value2));
    return json_pack("{s:[o]}", "users", u);
}

/* ---- login -------------------------------------------------------------- */

static void
login_issue_token(struct user_op *op, int64_t not_before_ms)
{
    struct webapp      *app = op->app;
    struct auth_claims  c;
    int64_t             now = clock_wall_ms();
    char               *token, expires[40];
    struct tm           tm;
    time_t              exp;

    if (now <= not_before_ms)
        now = not_before_ms + 1;     /* stay clear of our own revocation */
    token = auth_token_issue(app->jwt_key, op->username, op->role, now, app->cfg.token_ttl_s, &c);
    exp = (time_t) c.exp_s;
    gmtime_r(&exp, &tm);
    strftime(expires, sizeof(expires), "%Y-%m-%d %H:%M:%S+00:00", &tm);
    log_info(op->req->rid, "login", "user=%s", op->username);
    auth_throttle_success(app->throttle, op->username);
    http_reply_payload(op->req, 200, users_payload("token", token, "expires_after", expires));
    free(token);
    op_free(op);
}

static void
password_set_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct user_op *op = arg;
    (void) res;

    if (err != ERR_OK) {
        http_reply_error(op->req, ERR_DATABASE, "could not change the password");
        op_free(op);
        return;
    }
    login_issue_token(op, op->revoked_at_ms);
}

/* Stores op->new_hash and revokes the user's older tokens, then cb. */
static void
password_store(struct user_op *op, db_result_cb cb)
{
    char        ms[24], ttl[24];
    const char *params[4] = { op->username, op->new_hash, ms, ttl };

    op->revoked_at_ms = clock_wall_ms();
    ms_text(op->revoked_at_ms, ms, sizeof(ms));
    snprintf(ttl, sizeof(ttl), "%ld", op->app->cfg.token_ttl_s);
    db_query(op->app->db, SQL_PASSWORD_SET, 4, params, cb, op);
}

static void
login_hash_work(void *arg)
{
    struct user_op *op = arg;

    /* an unknown user costs the same time as a known one */
    op->verified = auth_password_verify(op->password,
                                        op->stored_hash ? op->stored_hash : users_dummy_hash());
    op->verified = op->verified && op->found;
    if (op->verified && op->new_password != NULL)
        op->new_hash = auth_password_hash(op->new_password, (int) op->app->cfg.pw_iterations);
}

static void
login_hash_done(void *arg)
{
    struct user_op *op = arg;
    struct webapp  *app = op->app;

    if (!op->verified) {
        auth_throttle_failure(app->throttle, op->username, clock_wall_ms());
        auth_throttle_failure(app->peer_throttle, op->req->peer, clock_wall_ms());
        log_info(op->req->rid, "login_failed", "user=%s peer=%s", op->username, op->req->peer);
        http_add_header(op->req, "WWW-Authenticate", "Basic realm=\"WhatsApp\"");
        http_reply_error(op->req, ERR_BAD_CREDENTIALS, "Incorrect username or password");
        op_free(op);
        return;
    }
    if (op->must_change && op->new_password == NULL) {
        http_reply_error(op->req, ERR_PASSWORD_CHANGE_REQUIRED, "Password must be changed");
        op_free(op);
        return;
    }
    if (op->new_hash != NULL) {
        password_store(op, password_set_cb);
        return;
    }
    login_issue_token(op, 0);
}

static void
login_user_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct user_op *op = arg;

    if (err != ERR_OK) {
        http_reply_error(op->req, ERR_DATABASE, "could not read the user");
        op_free(op);
        return;
    }
    if (db_result_rows(res) == 1) {
        op->found = true;
        op->stored_hash = xstrdup(db_result_get(res, 0, 0));
        snprintf(op->role, sizeof(op->role), "%s", db_result_get(res, 0, 1));
        op->must_change = strcmp(db_result_get(res, 0, 2), "t") == 0;
    }
    offload_run(op->app->offload, login_hash_work, login_hash_done, op);
}

static void
login_start(evutil_socket_t fd, short what, void *arg)
{
    struct user_op *op = arg;
    const char     *params[1] = { op->username };

    (void) fd;
    (void) what;
    db_query(op->app->db, SQL_USER_GET, 1, params, login_user_cb, op);
}

void
route_login(struct http_req *req, struct webapp *app)
{
    char           *user = NULL, *pass = NULL, why[256];
    json_t         *np = json_object_get(req->json, "new_password");
    struct user_op *op;
    int64_t         delay, d2;

    if (auth_parse_basic(req->authorization, &user, &pass) != 0) {
        http_add_header(req, "WWW-Authenticate", "Basic realm=\"WhatsApp\"");
        http_reply_error(req, ERR_BAD_CREDENTIALS,
                         "login needs an Authorization: Basic header with username:password");
        return;
    }
    if (np != NULL && !json_is_string(np)) {
        http_reply_error(req, ERR_PARAM_INVALID, "new_password must be a string");
        goto done;
    }
    if (np != NULL && !auth_password_is_strong(json_string_value(np), why, sizeof(why))) {
        http_reply_error(req, ERR_PARAM_INVALID, "%s", why);
        goto done;
    }
    op = op_new(req, app, user);
    op->password = pass;
    pass = NULL;
    if (np != NULL)
        op->new_password = xstrdup(json_string_value(np));
    /* slow down guessing, per account and per peer */
    delay = auth_throttle_delay_ms(app->throttle, user, clock_wall_ms());
    d2 = auth_throttle_delay_ms(app->peer_throttle, req->peer, clock_wall_ms());
    if (d2 > delay)
        delay = d2;
    op->delay = evtimer_new(app->base, login_start, op);
    if (delay > 0) {
        struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
        log_info(req->rid, "login_throttled", "user=%s delay_ms=%lld", user, (long long) delay);
        evtimer_add(op->delay, &tv);
    } else {
        login_start(-1, 0, op);
    }
done:
    free(user);
    secret_free(pass);
}

/* ---- logout ------------------------------------------------------------- */

static void
logout_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct user_op *op = arg;
    (void) res;

    if (err != ERR_OK)
        http_reply_error(op->req, ERR_DATABASE, "could not revoke the token");
    else
        http_reply_payload(op->req, 200, NULL);
    op_free(op);
}

void
route_logout(struct http_req *req, struct webapp *app)
{
    struct auth_claims c;
    char               why[64], exp[24];
    struct user_op    *op;
    const char        *params[2] = { c.jti, exp };

    /* routes.c verified the token already; this reads its claims again */
    if (auth_token_verify(app->jwt_key, auth_bearer_token(req->authorization), clock_wall_ms(),
                          &c, why, sizeof(why)) != ERR_OK) {
        http_reply_error(req, ERR_BAD_CREDENTIALS, "%s", why);
        return;
    }
    auth_revoke_jti(app->revoked, c.jti);      /* this instance knows at once */
    snprintf(exp, sizeof(exp), "%lld", (long long) c.exp_s);
    op = op_new(req, app, c.user);
    db_query(app->db, SQL_TOKEN_REVOKE, 2, params, logout_cb, op);
}

/* ---- create ------------------------------------------------------------- */

static void
create_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct user_op *op = arg;

    if (err != ERR_OK && strcmp(db_result_sqlstate(res), "23505") == 0)
        http_reply_error(op->req, ERR_INTERNAL, "Unable to create user. Already exist?");
    else if (err != ERR_OK)
        http_reply_error(op->req, ERR_DATABASE, "could not create the user");
    else
        http_reply_payload(op->req, 201, users_payload("username", op->username, NULL, NULL));
    op_free(op);
}

static void
create_hash_work(void *arg)
{
    struct user_op *op = arg;

    op->new_hash = auth_password_hash(op->password, (int) op->app->cfg.pw_iterations);
}

static void
create_hash_done(void *arg)
{
    struct user_op *op = arg;
    const char     *params[2] = { op->username, op->new_hash };

    db_query(op->app->db, SQL_USER_INSERT, 2, params, create_cb, op);
}

/* username/password fields shared by create and update; 0 or replied */
static int
password_field_or_reply(struct http_req *req, const char **pw)
{
    char why[256];

    *pw = json_str_field_or_reply(req, req->json, "password", 0, 1024);
    if (*pw == NULL)
        return -1;
    if (!auth_password_is_strong(*pw, why, sizeof(why))) {
        http_reply_error(req, ERR_PARAM_INVALID, "%s", why);
        return -1;
    }
    return 0;
}

void
route_user_create(struct http_req *req, struct webapp *app)
{
    const char     *name, *pw;
    struct user_op *op;

    if ((name = json_str_field_or_reply(req, req->json, "username", 0, 1024)) == NULL)
        return;
    if (!auth_username_is_valid(name)) {
        http_reply_error(req, ERR_PARAM_INVALID,
                         "username must be 4 to 32 characters of letters, digits, '.', '_', '@' or '-'");
        return;
    }
    if (password_field_or_reply(req, &pw) != 0)
        return;
    op = op_new(req, app, name);
    op->password = xstrdup(pw);
    offload_run(app->offload, create_hash_work, create_hash_done, op);
}

/* ---- get / update / delete ---------------------------------------------- */

/* The caller may act on target: admin on anyone, a user on itself. */
static int
self_or_admin_or_reply(struct http_req *req, const char *target)
{
    if (strcmp(req->role, AUTH_ROLE_ADMIN) == 0 || strcmp(req->user, target) == 0)
        return 0;
    http_reply_error(req, ERR_ACCESS_DENIED, "only the admin or the user itself may do this");
    return -1;
}

static const char *
username_param(struct http_req *req)
{
    return json_string_value(json_object_get(req->path_params, "username"));
}

static void
get_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct user_op *op = arg;

    if (err != ERR_OK)
        http_reply_error(op->req, ERR_DATABASE, "could not read the user");
    else if (db_result_rows(res) == 0)
        http_reply_error(op->req, ERR_NOT_FOUND, "user %s not found", op->username);
    else
        http_reply_payload(op->req, 200, users_payload("username", op->username, "ROLES",
                                                       db_result_get(res, 0, 1)));
    op_free(op);
}

void
route_user_get(struct http_req *req, struct webapp *app)
{
    const char     *name = username_param(req);
    struct user_op *op;

    if (self_or_admin_or_reply(req, name) != 0)
        return;
    op = op_new(req, app, name);
    db_query(app->db, SQL_USER_GET, 1, (const char *const *) &op->username, get_cb, op);
}

static void
update_stored_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct user_op *op = arg;

    if (err != ERR_OK)
        http_reply_error(op->req, ERR_DATABASE, "could not change the password");
    else if (db_result_rows(res) == 0)
        http_reply_error(op->req, ERR_NOT_FOUND, "user %s not found", op->username);
    else
        http_reply_payload(op->req, 200, users_payload("username", op->username, NULL, NULL));
    op_free(op);
}

static void
update_hash_done(void *arg)
{
    password_store(arg, update_stored_cb);
}

void
route_user_update(struct http_req *req, struct webapp *app)
{
    const char     *name = username_param(req), *pw;
    struct user_op *op;

    if (self_or_admin_or_reply(req, name) != 0)
        return;
    if (password_field_or_reply(req, &pw) != 0)
        return;
    op = op_new(req, app, name);
    op->password = xstrdup(pw);
    offload_run(app->offload, create_hash_work, update_hash_done, op);
}

static void
delete_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct user_op *op = arg;

    if (err != ERR_OK)
        http_reply_error(op->req, ERR_DATABASE, "could not delete the user");
    else if (db_result_rows(res) == 0)
        http_reply_error(op->req, ERR_NOT_FOUND, "user %s not found", op->username);
    else
        http_reply_payload(op->req, 200, users_payload("username", op->username, NULL, NULL));
    op_free(op);
}

void
route_user_delete(struct http_req *req, struct webapp *app)
{
    const char     *name = username_param(req);
    struct user_op *op;
    char            ms[24], ttl[24];
    const char     *params[3] = { name, ms, ttl };

    if (strcmp(name, USERS_ADMIN) == 0) {
        http_reply_error(req, ERR_ACCESS_DENIED, "the admin account cannot be deleted");
        return;
    }
    ms_text(clock_wall_ms(), ms, sizeof(ms));
    snprintf(ttl, sizeof(ttl), "%ld", app->cfg.token_ttl_s);
    op = op_new(req, app, name);
    db_query(app->db, SQL_USER_DELETE, 3, params, delete_cb, op);
}
