/* routes.c - route table, matching, auth and body rules, forwarding. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include "common/clock.h"
#include "common/jsonbuf.h"
#include "common/log.h"
#include "common/wire.h"
#include "common/xalloc.h"
#include "webapp/auth.h"
#include "webapp/metrics.h"
#include "webapp/support.h"
#include "webapp/proxy.h"
#include "webapp/routes.h"
#include "webapp/webapp.h"

enum auth_rule { AUTH_BASIC, AUTH_USER, AUTH_ADMIN, AUTH_USER_OR_KEY };
enum body_kind { BODY_NONE, BODY_JSON, BODY_JSON_ARRAY, BODY_BINARY, BODY_TEXT };

typedef void (*local_fn)(struct http_req *req, struct webapp *app);

struct route {
    enum http_method  method;
    const char       *pattern;
    enum auth_rule    auth;
    enum body_kind    body;
    local_fn          local;     /* handled in the webapp, or */
    bool              fwd;       /* forwarded to the coreapp as */
    enum wire_cmd     cmd;
};

#define LOCAL(m, p, a, b, fn) { m, p, a, b, fn, false, 0 }
#define FWD(m, p, a, b, cmd)  { m, p, a, b, NULL, true, cmd }

static const struct route table[] = {
    LOCAL(HTTP_POST,   "/v1/users/login",            AUTH_BASIC, BODY_JSON, route_login),
    LOCAL(HTTP_POST,   "/v1/users/logout",           AUTH_USER,  BODY_NONE, route_logout),
    LOCAL(HTTP_POST,   "/v1/users",                  AUTH_ADMIN, BODY_JSON, route_user_create),
    LOCAL(HTTP_GET,    "/v1/users/:username",        AUTH_USER,  BODY_NONE, route_user_get),
    LOCAL(HTTP_PUT,    "/v1/users/:username",        AUTH_USER,  BODY_JSON, route_user_update),
    LOCAL(HTTP_DELETE, "/v1/users/:username",        AUTH_ADMIN, BODY_NONE, route_user_delete),
    FWD(HTTP_POST,   "/v1/account",                  AUTH_ADMIN, BODY_JSON, WIRE_ACCOUNT_REGISTER),
    FWD(HTTP_POST,   "/v1/account/verify",           AUTH_ADMIN, BODY_JSON, WIRE_ACCOUNT_VERIFY),
    FWD(HTTP_POST,   "/v1/account/shards",           AUTH_ADMIN, BODY_JSON, WIRE_ACCOUNT_SHARDS_SET),
    FWD(HTTP_GET,    "/v1/account/shards",           AUTH_ADMIN, BODY_NONE, WIRE_ACCOUNT_SHARDS_GET),
    LOCAL(HTTP_GET,  "/v1/certificates/external/ca", AUTH_ADMIN, BODY_NONE, route_cert_external_ca_get),
    LOCAL(HTTP_POST, "/v1/certificates/external",    AUTH_ADMIN, BODY_TEXT, route_cert_external_set),
    FWD(HTTP_GET,    "/v1/certificates/webhooks/ca", AUTH_ADMIN, BODY_NONE, WIRE_CERT_WEBHOOK_CA_GET),
    FWD(HTTP_POST,   "/v1/certificates/webhooks/ca", AUTH_ADMIN, BODY_TEXT, WIRE_CERT_WEBHOOK_CA_SET),
    FWD(HTTP_DELETE, "/v1/certificates/webhooks/ca", AUTH_ADMIN, BODY_NONE, WIRE_CERT_WEBHOOK_CA_DEL),
    FWD(HTTP_POST,   "/v1/contacts",                 AUTH_USER,  BODY_JSON, WIRE_CONTACTS_CHECK),
    FWD(HTTP_GET,    "/v1/contacts/:wa_id/identity", AUTH_USER,  BODY_NONE, WIRE_IDENTITY_GET),
    FWD(HTTP_PUT,    "/v1/contacts/:wa_id/identity", AUTH_USER,  BODY_JSON, WIRE_IDENTITY_ACK),
    FWD(HTTP_POST,   "/v1/messages",                 AUTH_USER,  BODY_JSON, WIRE_MESSAGE_SEND),
    FWD(HTTP_PUT,    "/v1/messages/:message_id",     AUTH_USER,  BODY_JSON, WIRE_MESSAGE_MARK_READ),
    FWD(HTTP_POST,   "/v1/media",                    AUTH_USER,  BODY_BINARY, WIRE_MEDIA_UPLOAD),
    FWD(HTTP_GET,    "/v1/media/:media_id",          AUTH_USER,  BODY_NONE, WIRE_MEDIA_GET),
    FWD(HTTP_DELETE, "/v1/media/:media_id",          AUTH_USER,  BODY_NONE, WIRE_MEDIA_DELETE),
    FWD(HTTP_POST,   "/v1/groups",                   AUTH_USER,  BODY_JSON, WIRE_GROUP_CREATE),
    FWD(HTTP_GET,    "/v1/groups",                   AUTH_USER,  BODY_NONE, WIRE_GROUP_LIST),
    FWD(HTTP_GET,    "/v1/groups/:group_id",         AUTH_USER,  BODY_NONE, WIRE_GROUP_GET),
    FWD(HTTP_PUT,    "/v1/groups/:group_id",         AUTH_USER,  BODY_JSON, WIRE_GROUP_UPDATE),
    FWD(HTTP_GET,    "/v1/groups/:group_id/invite",  AUTH_USER,  BODY_NONE, WIRE_GROUP_INVITE_GET),
    FWD(HTTP_DELETE, "/v1/groups/:group_id/invite",  AUTH_USER,  BODY_NONE, WIRE_GROUP_INVITE_REVOKE),
    FWD(HTTP_DELETE, "/v1/groups/:group_id/participants", AUTH_USER, BODY_JSON, WIRE_GROUP_PARTICIPANTS_DEL),
    FWD(HTTP_PATCH,  "/v1/groups/:group_id/admins",  AUTH_USER,  BODY_JSON, WIRE_GROUP_ADMINS_ADD),
    FWD(HTTP_DELETE, "/v1/groups/:group_id/admins",  AUTH_USER,  BODY_JSON, WIRE_GROUP_ADMINS_DEL),
    FWD(HTTP_POST,   "/v1/groups/:group_id/leave",   AUTH_USER,  BODY_NONE, WIRE_GROUP_LEAVE),
    FWD(HTTP_POST,   "/v1/groups/:group_id/icon",    AUTH_USER,  BODY_BINARY, WIRE_GROUP_ICON_SET),
    FWD(HTTP_GET,    "/v1/groups/:group_id/icon",    AUTH_USER,  BODY_NONE, WIRE_GROUP_ICON_GET),
    FWD(HTTP_DELETE, "/v1/groups/:group_id/icon",    AUTH_USER,  BODY_NONE, WIRE_GROUP_ICON_DEL),
    FWD(HTTP_GET,    "/v1/health",                   AUTH_USER_OR_KEY, BODY_NONE, WIRE_HEALTH),
    FWD(HTTP_GET,    "/v1/stats/app",                AUTH_USER_OR_KEY, BODY_NONE, WIRE_STATS_APP),
    FWD(HTTP_GET,    "/v1/stats/db",                 AUTH_USER_OR_KEY, BODY_NONE, WIRE_STATS_DB),
    FWD(HTTP_GET,    "/v1/stats/app/internal",       AUTH_USER,  BODY_NONE, WIRE_STATS_APP_INTERNAL),
    FWD(HTTP_GET,    "/v1/stats/db/internal",        AUTH_USER,  BODY_NONE, WIRE_STATS_DB_INTERNAL),
    LOCAL(HTTP_GET,  "/v1/metrics",                  AUTH_USER_OR_KEY, BODY_NONE, route_metrics),
    LOCAL(HTTP_GET,  "/v1/support",                  AUTH_USER,  BODY_NONE, route_support),
    FWD(HTTP_GET,    "/v1/settings/application",     AUTH_ADMIN, BODY_NONE, WIRE_SETTINGS_APP_GET),
    FWD(HTTP_PATCH,  "/v1/settings/application",     AUTH_ADMIN, BODY_JSON, WIRE_SETTINGS_APP_PATCH),
    FWD(HTTP_DELETE, "/v1/settings/application",     AUTH_ADMIN, BODY_NONE, WIRE_SETTINGS_APP_RESET),
    FWD(HTTP_GET,    "/v1/settings/application/media/providers", AUTH_ADMIN, BODY_NONE, WIRE_MEDIA_PROVIDERS_GET),
    FWD(HTTP_POST,   "/v1/settings/application/media/providers", AUTH_ADMIN, BODY_JSON_ARRAY, WIRE_MEDIA_PROVIDERS_SET),
    FWD(HTTP_DELETE, "/v1/settings/application/media/providers/:provider_name", AUTH_ADMIN, BODY_NONE, WIRE_MEDIA_PROVIDERS_DEL),
    FWD(HTTP_POST,   "/v1/settings/backup",          AUTH_ADMIN, BODY_JSON, WIRE_BACKUP),
    FWD(HTTP_POST,   "/v1/settings/restore",         AUTH_ADMIN, BODY_JSON, WIRE_RESTORE),
    FWD(HTTP_GET,    "/v1/settings/business/profile", AUTH_ADMIN, BODY_NONE, WIRE_BUSINESS_PROFILE_GET),
    FWD(HTTP_POST,   "/v1/settings/business/profile", AUTH_ADMIN, BODY_JSON, WIRE_BUSINESS_PROFILE_SET),
    FWD(HTTP_GET,    "/v1/settings/profile/about",   AUTH_ADMIN, BODY_NONE, WIRE_ABOUT_GET),
    FWD(HTTP_PATCH,  "/v1/settings/profile/about",   AUTH_ADMIN, BODY_JSON, WIRE_ABOUT_SET),
    FWD(HTTP_GET,    "/v1/settings/profile/photo",   AUTH_ADMIN, BODY_NONE, WIRE_PHOTO_GET),
    FWD(HTTP_POST,   "/v1/settings/profile/photo",   AUTH_ADMIN, BODY_BINARY, WIRE_PHOTO_SET),
    FWD(HTTP_DELETE, "/v1/settings/profile/photo",   AUTH_ADMIN, BODY_NONE, WIRE_PHOTO_DEL),
    FWD(HTTP_POST,   "/v1/settings/account/two-step", AUTH_ADMIN, BODY_JSON, WIRE_TWO_STEP_SET),
    FWD(HTTP_DELETE, "/v1/settings/account/two-step", AUTH_ADMIN, BODY_NONE, WIRE_TWO_STEP_DEL),
    FWD(HTTP_PUT,    "/v1/services/message/gc",      AUTH_ADMIN, BODY_NONE, WIRE_MESSAGE_GC),
    FWD(HTTP_GET,    "/v1/stickerpacks",             AUTH_USER,  BODY_NONE, WIRE_STICKERPACKS),
    FWD(HTTP_POST,   "/v1/stickerpacks",             AUTH_USER,  BODY_JSON, WIRE_STICKERPACKS),
    FWD(HTTP_GET,    "/v1/stickerpacks/:stickerpack_id", AUTH_USER, BODY_NONE, WIRE_STICKERPACKS),
    FWD(HTTP_PATCH,  "/v1/stickerpacks/:stickerpack_id", AUTH_USER, BODY_JSON, WIRE_STICKERPACKS),
    FWD(HTTP_DELETE, "/v1/stickerpacks/:stickerpack_id", AUTH_USER, BODY_NONE, WIRE_STICKERPACKS),
    FWD(HTTP_GET,    "/v1/stickerpacks/:stickerpack_id/stickers", AUTH_USER, BODY_NONE, WIRE_STICKERPACKS),
    FWD(HTTP_POST,   "/v1/stickerpacks/:stickerpack_id/stickers", AUTH_USER, BODY_JSON, WIRE_STICKERPACKS),
    FWD(HTTP_GET,    "/v1/stickerpacks/:stickerpack_id/stickers/:sticker_index", AUTH_USER, BODY_NONE, WIRE_STICKERPACKS),
    FWD(HTTP_PATCH,  "/v1/stickerpacks/:stickerpack_id/stickers/:sticker_index", AUTH_USER, BODY_JSON, WIRE_STICKERPACKS),
    FWD(HTTP_DELETE, "/v1/stickerpacks/:stickerpack_id/stickers/:sticker_index", AUTH_USER, BODY_NONE, WIRE_STICKERPACKS),
};
#define NROUTES (sizeof(table) / sizeof(table[0]))

struct routes {
    struct webapp           *app;
    char                    *metric_names[NROUTES];   /* "GET_v1_users_username" */
    struct auth_token_cache *tokens;                  /* verified bearer tokens */
};

/* ---- matching ----------------------------------------------------------- */

/* Matches path against pattern; on success adds ":name" segments to params
 * (if not NULL). A single trailing slash is ignored. */
static bool
path_match(const char *pattern, const char *path, json_t *params)
{
    const char *p = pattern, *s = path;

    while (*p && *s) {
        if (*p == ':') {
            const char *pend = strchr(p, '/'), *send = strchr(s, '/');
            size_t      plen = pend ? (size_t) (pend - p) : strlen(p);
            size_t      slen = send ? (size_t) (send - s) : strlen(s);

            if (slen == 0)
                return false;
            if (params != NULL) {
                char *name = xstrndup(p + 1, plen - 1);
                json_object_set_new(params, name, json_stringn(s, slen));
                free(name);
            }
            p += plen;
            s += slen;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return *p == '\0' && (*s == '\0' || (s[0] == '/' && s[1] == '\0'));
}

struct routes *
routes_new(struct webapp *app)
{
    struct routes *r = xcalloc(1, sizeof(*r));

    r->app = app;
    r->tokens = auth_token_cache_new();
    for (size_t i = 0; i < NROUTES; i++) {
        const char *m = table[i].method == HTTP_GET ? "GET" : table[i].method == HTTP_POST ? "POST"
                      : table[i].method == HTTP_PUT ? "PUT" : table[i].method == HTTP_PATCH ? "PATCH"
                      : "DELETE";
        char buf[160], *o;

        snprintf(buf, sizeof(buf), "%s%s", m, table[i].pattern);
        for (o = buf; *o; o++)
            *o = (*o == '/' || *o == '-') ? '_' : *o;
        /* drop the ':' of placeholders so names stay Prometheus-friendly */
        r->metric_names[i] = xmalloc(strlen(buf) + 1);
        o = r->metric_names[i];
        for (const char *c = buf; *c; c++)
            if (*c != ':')
                *o++ = *c;
        *o = '\0';
    }
    return r;
}

void
routes_free(struct routes *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < NROUTES; i++)
        free(r->metric_names[i]);
    auth_token_cache_free(r->tokens);
    free(r);
}

/* ---- auth --------------------------------------------------------------- */

/* Sets req->user/role or replies 401/403. Returns 0 to go on. */
static int
authenticate_or_reply(struct http_req *req, struct webapp *app, enum auth_rule rule)
{
    const char         *token = auth_bearer_token(req->authorization);
    const char         *key = auth_apikey(req->authorization);
    struct auth_claims  c;
    char                why[64];

    if (key != NULL) {
        if (rule != AUTH_USER_OR_KEY) {
            http_reply_error(req, ERR_BAD_CREDENTIALS,
                             "an API key is accepted only by /v1/health, /v1/metrics and /v1/stats");
            return -1;
        }
        if (app->cfg.api_key == NULL || !auth_equal(key, app->cfg.api_key)) {
            http_reply_error(req, ERR_BAD_CREDENTIALS, "invalid API key");
            return -1;
        }
        req->user = xstrdup("apikey");
        req->role = xstrdup("ROLE_API_KEY");
        return 0;
    }
    if (token == NULL) {
        http_add_header(req, "WWW-Authenticate", "Bearer");
        http_reply_error(req, ERR_BAD_CREDENTIALS, req->authorization
                         ? "Authorization header must be 'Bearer <token>'"
                         : "missing Authorization header");
        return -1;
    }
    if (auth_token_verify_cached(app->routes->tokens, app->jwt_key, token, clock_wall_ms(), &c,
                                 why, sizeof(why)) != ERR_OK) {
        http_reply_error(req, ERR_BAD_CREDENTIALS, "%s", why);
        return -1;
    }
    if (auth_is_revoked(app->revoked, &c)) {
        http_reply_error(req, ERR_BAD_CREDENTIALS, "token has been revoked");
        return -1;
    }
    if (rule == AUTH_ADMIN && strcmp(c.role, AUTH_ROLE_ADMIN) != 0) {
        http_reply_error(req, ERR_ACCESS_DENIED, "this operation needs the admin role");
        return -1;
    }
    req->user = xstrdup(c.user);
    req->role = xstrdup(c.role);
    return 0;
}

/* ---- bodies ------------------------------------------------------------- */

static int
body_or_reply(struct http_req *req, struct webapp *app, enum body_kind kind)
{
    json_error_t jerr;

    if (kind != BODY_JSON && kind != BODY_JSON_ARRAY)
        return 0;
    if (req->body_len > (size_t) app->cfg.max_body) {
        http_reply_error(req, ERR_BODY_TOO_LARGE, "request body is larger than %ld bytes",
                         app->cfg.max_body);
        return -1;
    }
    if (req->body_len == 0 || strspn((char *) req->body, " \t\r\n") == req->body_len) {
        req->json = kind == BODY_JSON ? json_object() : NULL;
        if (req->json == NULL) {
            http_reply_error(req, ERR_PARAM_MISSING, "request body must be a JSON array");
            return -1;
        }
        return 0;
    }
    req->json = jbuf_loadb((char *) req->body, req->body_len,
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY);
    if (req->json == NULL) {
        /* jansson again, for the position of the error */
        json_decref(json_loadb((char *) req->body, req->body_len,
                               JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr));
        http_reply_error(req, ERR_INVALID_REQUEST,
                         "Unable to decode json from the request: %s (line %d, column %d)",
                         jerr.text, jerr.line, jerr.column);
        return -1;
    }
    if (kind == BODY_JSON && !json_is_object(req->json)) {
        http_reply_error(req, ERR_INVALID_REQUEST, "request body must be a JSON object");
        return -1;
    }
    if (kind == BODY_JSON_ARRAY && !json_is_array(req->json)) {
        http_reply_error(req, ERR_INVALID_REQUEST, "request body must be a JSON array");
        return -1;
    }
    return 0;
}

const char *
json_str_field_or_reply(struct http_req *req, json_t *obj, const char *name, size_t min_len,
                        size_t max_len)
{
    json_t *v = json_object_get(obj, name);
    size_t  n;

    if (v == NULL || json_is_null(v)) {
        http_reply_error(req, ERR_PARAM_MISSING, "%s is required", name);
        return NULL;
    }
    if (!json_is_string(v)) {
        http_reply_error(req, ERR_PARAM_INVALID, "%s must be a string", name);
        return NULL;
    }
    n = json_string_length(v);
    if (n < min_len || n > max_len || strlen(json_string_value(v)) != n) {
        http_reply_error(req, ERR_PARAM_INVALID, "%s must be %zu to %zu characters long", name,
                         min_len, max_len);
        return NULL;
    }
    return json_string_value(v);
}

/* ---- forwarding --------------------------------------------------------- */

static void
forward_done(const struct wire_reply *r, const void *blob, size_t blob_len, void *arg)
{
    struct http_req *req = arg;

    if (r->content_type != NULL)
        http_reply_raw(req, r->status, r->content_type, blob, blob ? blob_len : 0);
    else if (r->error != ERR_OK)
        http_reply_error(req, r->error, "%s", r->details ? r->details : "");
    else
        http_reply_payload(req, r->status, r->body ? json_incref(r->body) : NULL);
}

static void
forward(struct http_req *req, struct webapp *app, const struct route *rt)
{
    struct wire_request w;
    json_t             *params = json_incref(req->path_params);  /* not needed after */
    const void         *blob = NULL;
    size_t              blob_len = 0;

    memset(&w, 0, sizeof(w));
    memcpy(w.rid, req->rid, sizeof(w.rid));
    w.cmd = rt->cmd;
    w.user = req->user;
    w.role = req->role;
    if (req->query != NULL)
        json_object_set_new(params, "_query", json_string(req->query));
    json_object_set_new(params, "_method", json_string(req->method_name));
    json_object_set_new(params, "_path", json_string(req->path));
    w.params = params;
    w.body = req->json;
    if (rt->body == BODY_BINARY || rt->body == BODY_TEXT) {
        if (req->body_len > (size_t) app->cfg.max_upload) {
            json_decref(params);
            http_reply_error(req, ERR_BODY_TOO_LARGE, "upload is larger than %ld bytes",
                             app->cfg.max_upload);
            return;
        }
        blob = req->body;
        blob_len = req->body_len;
        w.content_type = (char *) (req->content_type ? req->content_type : "");
    }
    log_debug(req->rid, "forward", "cmd=%s user=%s", wire_cmd_name(rt->cmd), req->user);
    proxy_call(app->proxy, &w, blob, blob_len, forward_done, req);   /* req may be gone now */
    json_decref(params);
}

/* ---- dispatch ----------------------------------------------------------- */

void
routes_dispatch(struct http_req *req, void *arg)
{
    struct webapp      *app = arg;
    const struct route *rt = NULL;
    char                allow[64] = "";
    size_t              i;

    for (i = 0; i < NROUTES; i++) {
        if (!path_match(table[i].pattern, req->path, NULL))
            continue;
        if (table[i].method == req->method) {
            rt = &table[i];
            break;
        }
        snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                 allow[0] ? ", " : "", table[i].method == HTTP_GET ? "GET"
                 : table[i].method == HTTP_POST ? "POST" : table[i].method == HTTP_PUT ? "PUT"
                 : table[i].method == HTTP_PATCH ? "PATCH" : "DELETE");
    }
    if (rt == NULL && allow[0] != '\0') {
        http_add_header(req, "Allow", allow);
        http_reply_error(req, ERR_METHOD_NOT_ALLOWED, "method %s is not allowed on %s; allowed: %s",
                         req->method_name, req->path, allow);
        return;
    }
    if (rt == NULL) {
        http_reply_error(req, ERR_ENDPOINT_NOT_FOUND, "endpoint not found: %s", req->path);
        return;
    }
    req->metric_name = app->routes->metric_names[i];
    req->path_params = json_object();
    path_match(rt->pattern, req->path, req->path_params);
    if (rt->auth != AUTH_BASIC && authenticate_or_reply(req, app, rt->auth) != 0)
        return;
    if (body_or_reply(req, app, rt->body) != 0)
        return;
    if (rt->local != NULL)
        rt->local(req, app);
    else if (rt->fwd)
        forward(req, app, rt);
    else
        http_reply_error(req, ERR_NODE_UNAVAILABLE, "%s is not available in this version",
                         rt->pattern);
}
