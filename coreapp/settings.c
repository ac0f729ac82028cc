/* settings.c - the application settings: one table of fields (type, default,
 * range), validation of a PATCH as a whole, storage as a JSON object of the
 * fields set away from their defaults, and the in-memory copy with its
 * change hooks. */
#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/db.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/settings.h"

#define MAX_HOOKS   8
#define MAX_URL_LEN 2048
#define NO_FIELD    ((size_t) -1)

enum field_kind {
    FK_BOOL, FK_INT, FK_MS, FK_URL, FK_CONCURRENCY, FK_MEDIA, FK_LOG_LEVEL,
    FK_PAGER, FK_SECRET, FK_PASS_THROUGH, FK_WA_ID
};

struct field {
    const char      *path;      /* dotted path in the JSON object */
    enum field_kind  kind;
    const char      *def;       /* default as JSON text; NULL: not stored (wa_id) */
    long             min, max;  /* FK_INT, FK_MS: bounds; FK_SECRET: max length */
    size_t           offset;    /* in struct app_settings, or NO_FIELD */
    bool             hidden;    /* never shown by GET (secrets) */
};

#define S struct app_settings
#define FIELD(path, kind, def, lo, hi, member) \
    { path, kind, def, lo, hi, offsetof(S, member), false }
/* spec/API.md §13.1. Where sources disagree on a default (see its Uncertain
 * list) we take the table's value: message.* true, show_security_notifications
 * false, auto_download all six types, pass_through false. */
static const struct field fields[] = {
    FIELD("webhooks.url", FK_URL, "\"\"", 0, 0, webhooks_url),
    FIELD("webhooks.max_concurrent_requests", FK_CONCURRENCY, "6", 0, 0,
          webhooks_max_concurrent_requests),
    FIELD("webhooks.message.sent", FK_BOOL, "true", 0, 0, webhooks_message_sent),
    FIELD("webhooks.message.delivered", FK_BOOL, "true", 0, 0, webhooks_message_delivered),
    FIELD("webhooks.message.read", FK_BOOL, "true", 0, 0, webhooks_message_read),
    { "webhooks.secret", FK_SECRET, "\"\"", 0, 256, offsetof(S, webhooks_secret), true },
    FIELD("sent_status", FK_BOOL, "false", 0, 0, sent_status),
    FIELD("callback_persist", FK_BOOL, "true", 0, 0, callback_persist),
    FIELD("callback_backoff_delay_ms", FK_MS, "3000", 1, 86400000, callback_backoff_delay_ms),
    FIELD("max_callback_backoff_delay_ms", FK_MS, "900000", 1, 86400000,
          max_callback_backoff_delay_ms),
    FIELD("media.auto_download", FK_MEDIA,
          "[\"image\",\"video\",\"voice\",\"sticker\",\"audio\",\"document\"]", 0, 0,
          media_auto_download),
    FIELD("pass_through", FK_PASS_THROUGH, "false", 0, 0, pass_through),
    FIELD("heartbeat_interval", FK_INT, "5", 1, 3600, heartbeat_interval),
    FIELD("unhealthy_interval", FK_INT, "30", 2, 86400, unhealthy_interval),
    FIELD("garbagecollector_enable.messages", FK_BOOL, "true", 0, 0, gc_messages),
    FIELD("garbagecollector_enable.media", FK_BOOL, "false", 0, 0, gc_media),
    FIELD("db_garbagecollector_enable", FK_BOOL, "true", 0, 0, db_garbagecollector_enable),
    FIELD("notify_user_change_number", FK_BOOL, "true", 0, 0, notify_user_change_number),
    FIELD("show_security_notifications", FK_BOOL, "false", 0, 0, show_security_notifications),
    FIELD("axolotl_context_striping_disabled", FK_BOOL, "false", 0, 0,
          axolotl_context_striping_disabled),
    FIELD("skip_referral_media_download", FK_BOOL, "false", 0, 0, skip_referral_media_download),
    FIELD("webhook_payload_conversation_pricingmodel_disabled", FK_BOOL, "false", 0, 0,
          webhook_payload_conversation_pricingmodel_disabled),
    FIELD("on_call_pager", FK_PAGER, "\"\"", 0, 0, on_call_pager),
    FIELD("verbose_logging", FK_BOOL, "false", 0, 0, verbose_logging),
    FIELD("log_level", FK_LOG_LEVEL, "\"info\"", 0, 0, log_level),
    { "wa_id", FK_WA_ID, NULL, 0, 0, NO_FIELD, false },
};
#undef FIELD
#undef S
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *const media_names[] = {   /* bit i of enum settings_media */
    "audio", "document", "voice", "video", "image", "sticker"
};
#define NMEDIA (sizeof(media_names) / sizeof(media_names[0]))

enum op_kind { OP_GET, OP_PATCH, OP_RESET };

/* Requests run one at a time, so each PATCH merges into the result of the
 * one before it. */
struct op {
    struct op       *next;
    enum op_kind     kind;
    struct core_req *req;
    json_t          *patch;      /* OP_PATCH: flat, validated; owned */
    json_t          *merged;     /* OP_PATCH: flat overrides being written; owned */
};

struct settings {
    struct coreapp      *app;
    struct db           *db;
    json_t              *overrides;      /* flat: path -> value, only what was set */
    struct app_settings  cur;
    struct {
        settings_change_cb cb;
        void              *arg;
    }                    hooks[MAX_HOOKS];
    int                  nhooks;
    struct op           *ops, *ops_tail; /* ops is running */
    bool                 reload_wanted;  /* a NOTIFY came during an op */
    bool                 closing;        /* settings_free(): start nothing new */
    enum log_level       env_level;      /* WA_LOG_LEVEL */
};

/* ---- the field table ------------------------------------------------------ */

static const struct field *
field_find(const char *path)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].path, path) == 0)
            return &fields[i];
    return NULL;
}

/* "webhooks", "webhooks.message", "media", "garbagecollector_enable" */
static bool
path_is_group(const char *path)
{
    size_t n = strlen(path);

    for (size_t i = 0; i < NFIELDS; i++)
        if (strncmp(fields[i].path, path, n) == 0 && fields[i].path[n] == '.')
            return true;
    return false;
}

static int
check_url(const char *url, char *why, size_t n)
{
    CURLU *u;
    char  *scheme = NULL, *host = NULL;
    int    rc = -1;

    if (url[0] == '\0')
        return 0;
    if (strlen(url) > MAX_URL_LEN) {
        snprintf(why, n, "webhooks.url must be at most %d characters", MAX_URL_LEN);
        return -1;
    }
    /* libcurl's own parser, so what we accept is what the dispatcher can use */
    u = curl_url();
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        strcmp(scheme, "https") == 0 && host[0] != '\0')
        rc = 0;
    else if (scheme != NULL && strcmp(scheme, "https") != 0)
        snprintf(why, n, "webhooks.url must be an HTTPS URL (https://...) or \"\" to disable "
                 "callbacks; %s:// is not accepted", scheme);
    else
        snprintf(why, n, "webhooks.url is not a valid URL");
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* A wa_id or a group id ("<creator wa_id>-<epoch>"). */
static bool
pager_is_valid(const char *s)
{
    size_t digits = 0, dash = 0;

    if (s[0] == '\0')
        return true;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '-' && p != s && p[1] != '\0' && dash == 0)
            dash++;
        else
            return false;
    }
    return digits >= 5 && digits <= 40;
}

/* Checks v against field f. On success *out is the value to store (a new
 * reference, normalised: "3000" -> 3000, duplicates dropped), or NULL for a
 * field that is never stored (wa_id). On failure why names the field. */
static int
field_check(const struct field *f, json_t *v, json_t **out, char *why, size_t n)
{
    const char *s;

    *out = NULL;
    switch (f->kind) {
    case FK_BOOL:
    case FK_PASS_THROUGH:
        if (!json_is_boolean(v))
            break;
        if (f->kind == FK_PASS_THROUGH && json_is_true(v)) {
            snprintf(why, n, "pass_through can no longer be enabled (since v2.35)");
            return -1;
        }
        *out = json_incref(v);
        return 0;
    case FK_MS:
        if (json_is_string(v)) {
            char      *end;
            long long  x;

            s = json_string_value(v);
            if (s[0] < '0' || s[0] > '9' || strlen(s) > 12)
                break;
            x = strtoll(s, &end, 10);
            if (*end != '\0' || x < f->min || x > f->max)
                break;
            *out = json_integer(x);
            return 0;
        }
        __attribute__((fallthrough));       /* an integer: checked as FK_INT */
    case FK_INT:
        if (!json_is_integer(v) || json_integer_value(v) < f->min ||
            json_integer_value(v) > f->max)
            break;
        *out = json_incref(v);
        return 0;
    case FK_CONCURRENCY: {
        json_int_t x = json_integer_value(v);

        if (!json_is_integer(v) || (x != 6 && x != 12 && x != 18 && x != 24)) {
            snprintf(why, n, "%s must be one of 6, 12, 18, 24", f->path);
            return -1;
        }
        *out = json_incref(v);
        return 0;
    }
    case FK_URL:
        if (!json_is_string(v))
            break;
        if (check_url(json_string_value(v), why, n) != 0)
            return -1;
        *out = json_incref(v);
        return 0;
    case FK_MEDIA: {
        json_t   *item;
        size_t    i;
        unsigned  seen = 0;

        if (!json_is_array(v))
            break;
        *out = json_array();
        json_array_foreach(v, i, item) {
            size_t m;

            for (m = 0; m < NMEDIA; m++)
                if (json_is_string(item) && strcmp(json_string_value(item), media_names[m]) == 0)
                    break;
            if (m == NMEDIA) {
                json_decref(*out);
                *out = NULL;
                snprintf(why, n, "%s[%zu] must be one of audio, document, voice, video, "
                         "image, sticker", f->path, i);
                return -1;
            }
            if (!(seen & (1u << m)))
                json_array_append_new(*out, json_string(media_names[m]));
            seen |= 1u << m;
        }
        return 0;
    }
    case FK_LOG_LEVEL: {
        enum log_level lvl;

        if (!json_is_string(v) || log_level_parse(json_string_value(v), &lvl) != 0) {
            snprintf(why, n, "%s must be one of debug, info, warn, error", f->path);
            return -1;
        }
        *out = json_incref(v);
        return 0;
    }
    case FK_PAGER:
        if (!json_is_string(v) || !pager_is_valid(json_string_value(v))) {
            snprintf(why, n, "%s must be a wa_id, a group id or \"\"", f->path);
            return -1;
        }
        *out = json_incref(v);
        return 0;
    case FK_SECRET:
        if (!json_is_string(v) || json_string_length(v) > (size_t) f->max ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            snprintf(why, n, "%s must be a string of at most %ld characters", f->path, f->max);
            return -1;
        }
        *out = json_incref(v);
        return 0;
    case FK_WA_ID:
        if (!json_is_string(v))
            break;
        return 0;                       /* read-only: accepted and ignored */
    }
    switch (f->kind) {                  /* the type or range was wrong */
    case FK_BOOL:
    case FK_PASS_THROUGH:
        snprintf(why, n, "%s must be a boolean", f->path);
        break;
    case FK_INT:
        snprintf(why, n, "%s must be an integer from %ld to %ld", f->path, f->min, f->max);
        break;
    case FK_MS:
        snprintf(why, n, "%s must be an integer (or a string of digits) from %ld to %ld",
                 f->path, f->min, f->max);
        break;
    case FK_MEDIA:
        snprintf(why, n, "%s must be an array of media types", f->path);
        break;
    default:
        snprintf(why, n, "%s must be a string", f->path);
        break;
    }
    return -1;
}

/* Walks a (nested) settings object and adds each checked leaf to flat as
 * "a.b.c" -> value. Strict (a PATCH body): the first problem fails it all.
 * Lenient (what the database holds, maybe from another version): bad keys are
 * logged and skipped. */
static int
settings_flatten(json_t *obj, const char *prefix, json_t *flat, bool lenient,
                 char *why, size_t n)
{
    const char *key;
    json_t     *v, *norm;
    char        path[160];

    json_object_foreach(obj, key, v) {
        const struct field *f = NULL;
        bool                plain;      /* a key that can name a field or group */
        char                q[300];
        int                 len;

        len = snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        plain = len < (int) sizeof(path) && key[0] != '\0' && strchr(key, '.') == NULL;
        if (plain)
            f = field_find(path);
        if (f != NULL) {
            if (field_check(f, v, &norm, why, n) != 0) {
                if (!lenient)
                    return -1;
                log_warn(NULL, "settings_value_skipped", "reason=\"%s\"",
                         log_quote(why, q, sizeof(q)));
                continue;
            }
            if (norm != NULL)
                json_object_set_new(flat, path, norm);
        } else if (plain && path_is_group(path)) {
            if (!json_is_object(v)) {
                snprintf(why, n, "%s must be an object", path);
                if (!lenient)
                    return -1;
                continue;
            }
            if (settings_flatten(v, path, flat, lenient, why, n) != 0)
                return -1;
        } else {
            snprintf(why, n, "unknown setting: %.100s%s", path, len > 100 ? "..." : "");
            if (!lenient)
                return -1;
            log_warn(NULL, "settings_value_skipped", "reason=\"%s\"",
                     log_quote(why, q, sizeof(q)));
        }
    }
    return 0;
}

/* Sets value (taken) at a dotted path in root, creating objects on the way. */
static void
json_set_path(json_t *root, const char *path, json_t *value)
{
    const char *dot;
    json_t     *o = root;

    while ((dot = strchr(path, '.')) != NULL) {
        char   *part = xstrndup(path, (size_t) (dot - path));
        json_t *next = json_object_get(o, part);

        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(o, part, next);
        }
        free(part);
        o = next;
        path = dot + 1;
    }
    json_object_set_new(o, path, value);
}

static json_t *
settings_unflatten(const json_t *flat)
{
    json_t     *root = json_object(), *v;
    const char *key;

    json_object_foreach((json_t *) flat, key, v)
        json_set_path(root, key, json_incref(v));
    return root;
}

/* The flat overrides held in the database's text (NULL/"" = none). */
static json_t *
settings_parse_stored(const char *text)
{
    json_t *flat = json_object(), *nested;
    char    why[256];

    if (text == NULL || text[0] == '\0')
        return flat;
    nested = json_loads(text, 0, NULL);
    if (json_is_object(nested))
        settings_flatten(nested, "", flat, true, why, sizeof(why));
    else
        log_warn(NULL, "settings_unreadable", "reason=\"stored settings are not an object\"");
    json_decref(nested);
    return flat;
}

/* ---- the effective settings ---------------------------------------------- */

static void
field_store(const struct field *f, json_t *v, struct app_settings *out)
{
    char *at = (char *) out + f->offset;

    switch (f->kind) {
    case FK_BOOL:
    case FK_PASS_THROUGH:
        *(bool *) at = json_is_true(v);
        break;
    case FK_INT:
    case FK_MS:
    case FK_CONCURRENCY:
        *(long *) at = (long) json_integer_value(v);
        break;
    case FK_MEDIA: {
        json_t  *item;
        size_t   i;
        unsigned bits = 0;

        json_array_foreach(v, i, item)
            for (size_t m = 0; m < NMEDIA; m++)
                if (strcmp(json_string_value(item), media_names[m]) == 0)
                    bits |= 1u << m;
        *(unsigned *) at = bits;
        break;
    }
    case FK_URL:
    case FK_LOG_LEVEL:
    case FK_PAGER:
    case FK_SECRET:
        *(char **) at = xstrdup(json_string_value(v));
        break;
    case FK_WA_ID:
        break;
    }
}

/* Defaults merged with flat; out's strings are heap copies (settings_clear). */
static void
settings_build(const json_t *flat, struct app_settings *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *f = &fields[i];
        json_t             *v, *def = NULL;

        if (f->offset == NO_FIELD)
            continue;
        v = json_object_get(flat, f->path);
        if (v == NULL)
            v = def = json_loads(f->def, JSON_DECODE_ANY, NULL);
        field_store(f, v, out);
        json_decref(def);
    }
}

static void
settings_clear(struct app_settings *s)
{
    free(s->webhooks_url);
    free(s->webhooks_secret);
    free(s->on_call_pager);
    free(s->log_level);
    memset(s, 0, sizeof(*s));
}

/* Rules between fields, checked on the merged result. */
static int
settings_cross_check(const struct app_settings *s, char *why, size_t n)
{
    if (s->max_callback_backoff_delay_ms < s->callback_backoff_delay_ms) {
        snprintf(why, n, "max_callback_backoff_delay_ms (%ld) must not be less than "
                 "callback_backoff_delay_ms (%ld)", s->max_callback_backoff_delay_ms,
                 s->callback_backoff_delay_ms);
        return -1;
    }
    if (s->unhealthy_interval <= s->heartbeat_interval) {
        snprintf(why, n, "unhealthy_interval (%ld) must be greater than heartbeat_interval (%ld)",
                 s->unhealthy_interval, s->heartbeat_interval);
        return -1;
    }
    return 0;
}

/* The GET payload: every documented field, effective value. */
static json_t *
settings_to_json(const json_t *flat, const char *wa_id)
{
    json_t *app = json_object();

    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *f = &fields[i];
        json_t             *v;

        if (f->hidden)
            continue;
        if (f->kind == FK_WA_ID) {
            json_object_set_new(app, "wa_id", json_string(wa_id ? wa_id : ""));
            continue;
        }
        v = json_object_get(flat, f->path);
        json_set_path(app, f->path, v ? json_incref(v) : json_loads(f->def, JSON_DECODE_ANY, NULL));
    }
    return json_pack("{s:{s:o}}", "settings", "application", app);
}

static void
settings_apply_log_level(struct settings *s)
{
    enum log_level lvl = s->env_level, set;

    if (log_level_parse(s->cur.log_level, &set) == 0 && set < lvl)
        lvl = set;
    if (s->cur.verbose_logging)
        lvl = LOG_DEBUG;
    log_set_level(lvl);
}

/* Makes flat (taken) the current overrides, if it differs, and tells the
 * hooks. */
static void
settings_apply(struct settings *s, json_t *flat)
{
    struct app_settings before;

    if (json_equal(flat, s->overrides)) {
        json_decref(flat);
        return;
    }
    before = s->cur;
    settings_build(flat, &s->cur);
    json_decref(s->overrides);
    s->overrides = flat;
    settings_apply_log_level(s);
    log_info(NULL, "settings_changed", "webhooks_url_set=%s callback_persist=%s",
             s->cur.webhooks_url[0] ? "true" : "false", s->cur.callback_persist ? "true" : "false");
    for (int i = 0; i < s->nhooks; i++)
        s->hooks[i].cb(&s->cur, &before, s->hooks[i].arg);
    settings_clear(&before);
}

/* ---- requests, one at a time -------------------------------------------- */

static void op_start(struct settings *s);
static void reload(struct settings *s);

static void
op_done(struct settings *s)
{
    struct op *op = s->ops;

    s->ops = op->next;
    if (s->ops == NULL)
        s->ops_tail = NULL;
    json_decref(op->patch);
    json_decref(op->merged);
    free(op);
    if (s->closing)
        return;
    if (s->ops != NULL)
        op_start(s);
    else if (s->reload_wanted)
        reload(s);
}

/* Ends the running op with an error reply, rolling back if a transaction
 * may be open (a ROLLBACK outside one is harmless). */
static void
op_fail(struct settings *s, bool rollback, enum err_code e, const char *details)
{
    if (rollback)
        db_query(s->db, "ROLLBACK", 0, NULL, NULL, NULL);
    core_reply_error(s->ops->req, e, "%s", details);
    op_done(s);
}

static void
get_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct settings *s = arg;
    json_t          *flat;

    if (err != ERR_OK) {
        op_fail(s, false, ERR_DATABASE, "could not read the settings");
        return;
    }
    flat = settings_parse_stored(db_result_get(res, 0, 1));
    core_reply(s->ops->req, 200, settings_to_json(flat, db_result_get(res, 0, 0)));
    json_decref(flat);
    op_done(s);
}

static void
commit_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct settings *s = arg;
    struct op       *op = s->ops;

    (void) res;
    if (err != ERR_OK) {
        s->reload_wanted = true;        /* the outcome is unknown: ask the database */
        op_fail(s, false, ERR_DATABASE, "could not save the settings");
        return;
    }
    settings_apply(s, op->merged);
    op->merged = NULL;
    core_reply(op->req, 200, NULL);
    op_done(s);
}

static void
write_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct settings *s = arg;

    (void) res;
    if (err != ERR_OK) {
        op_fail(s, true, ERR_DATABASE, "could not save the settings");
        return;
    }
    db_query(s->db, "COMMIT", 0, NULL, commit_cb, s);
}

/* The row is locked: merge the patch into what is stored now, check the
 * result as a whole, write it. */
static void
locked_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct settings     *s = arg;
    struct op           *op = s->ops;
    struct app_settings  cand;
    const char          *param;
    char                 why[256], *text;
    json_t              *nested;
    int                  bad;

    if (err != ERR_OK) {
        op_fail(s, true, ERR_DATABASE, "could not read the settings");
        return;
    }
    op->merged = settings_parse_stored(db_result_get(res, 0, 0));
    json_object_update(op->merged, op->patch);
    settings_build(op->merged, &cand);
    bad = settings_cross_check(&cand, why, sizeof(why));
    settings_clear(&cand);
    if (bad) {
        op_fail(s, true, ERR_PARAM_INVALID, why);
        return;
    }
    nested = settings_unflatten(op->merged);
    text = json_dumps(nested, JSON_COMPACT | JSON_SORT_KEYS);
    param = text;
    db_query(s->db,
             "INSERT INTO app_settings (id, overrides) VALUES (1, $1::jsonb) "
             "ON CONFLICT (id) DO UPDATE SET overrides = EXCLUDED.overrides, updated_at = now()",
             1, &param, write_cb, s);
    free(text);
    json_decref(nested);
}

static void
reset_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct settings *s = arg;

    (void) res;
    if (err != ERR_OK) {
        op_fail(s, false, ERR_DATABASE, "could not reset the settings");
        return;
    }
    settings_apply(s, json_object());
    core_reply(s->ops->req, 200, NULL);
    op_done(s);
}

static void
op_start(struct settings *s)
{
    switch (s->ops->kind) {
    case OP_GET:
        db_query(s->db, "SELECT (SELECT wa_id FROM account WHERE registered LIMIT 1), "
                 "(SELECT overrides::text FROM app_settings WHERE id = 1)", 0, NULL, get_cb, s);
        break;
    case OP_PATCH:
        /* FOR UPDATE: another coreapp's PATCH waits, then merges into ours */
        db_query(s->db, "BEGIN; SELECT overrides::text FROM app_settings WHERE id = 1 "
                 "FOR UPDATE", 0, NULL, locked_cb, s);
        break;
    case OP_RESET:
        db_query(s->db, "INSERT INTO app_settings (id, overrides) VALUES (1, '{}') "
                 "ON CONFLICT (id) DO UPDATE SET overrides = '{}', updated_at = now()",
                 0, NULL, reset_cb, s);
        break;
    }
}

static void
op_queue(struct settings *s, enum op_kind kind, struct core_req *req, json_t *patch)
{
    struct op *op = xcalloc(1, sizeof(*op));

    op->kind = kind;
    op->req = req;
    op->patch = patch;
    if (s->ops_tail != NULL) {
        s->ops_tail->next = op;
        s->ops_tail = op;
        return;
    }
    s->ops = s->ops_tail = op;
    op_start(s);
}

static void
settings_get_handle(struct core_req *req, void *arg)
{
    op_queue(arg, OP_GET, req, NULL);
}

/* The body is checked on its own at once (types, ranges, unknown keys);
 * rules between fields wait for the merge with what is stored. */
static void
settings_patch_handle(struct core_req *req, void *arg)
{
    json_t *patch;
    char    why[256];

    if (!json_is_object(req->w.body)) {
        core_reply_error(req, ERR_PARAM_MISSING, "the body must be a settings object");
        return;
    }
    patch = json_object();
    if (settings_flatten(req->w.body, "", patch, false, why, sizeof(why)) != 0) {
        json_decref(patch);
        core_reply_error(req, ERR_PARAM_INVALID, "%s", why);
        return;
    }
    op_queue(arg, OP_PATCH, req, patch);
}

static void
settings_reset_handle(struct core_req *req, void *arg)
{
    op_queue(arg, OP_RESET, req, NULL);
}

/* ---- keeping up with the database ----------------------------------------- */

static void
reload_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct settings *s = arg;

    if (err != ERR_OK)
        return;                 /* the next connect reloads */
    settings_apply(s, settings_parse_stored(db_result_get(res, 0, 0)));
}

static void
reload(struct settings *s)
{
    if (s->ops != NULL) {       /* not inside a PATCH's transaction */
        s->reload_wanted = true;
        return;
    }
    s->reload_wanted = false;
    db_query(s->db, "SELECT overrides::text FROM app_settings WHERE id = 1", 0, NULL,
             reload_cb, s);
}

static void
connected_cb(void *arg)
{
    reload(arg);
}

static void
notify_cb(const char *channel, const char *payload, void *arg)
{
    (void) channel;
    (void) payload;
    reload(arg);
}

/* ---- public ---------------------------------------------------------------- */

const struct app_settings *
settings_get(const struct coreapp *app)
{
    static struct app_settings defaults;
    static bool                built;

    if (app != NULL && app->settings != NULL)
        return &app->settings->cur;
    if (!built) {
        json_t *none = json_object();

        settings_build(none, &defaults);
        json_decref(none);
        built = true;
    }
    return &defaults;
}

void
settings_free(struct settings *s)
{
    if (s == NULL)
        return;
    s->closing = true;
    db_free(s->db);                 /* fails the running op: it answers */
    while (s->ops != NULL) {
        core_reply_error(s->ops->req, ERR_SERVICE_NOT_READY, "the coreapp is stopping");
        op_done(s);
    }
    json_decref(s->overrides);
    settings_clear(&s->cur);
    free(s);
}

void
settings_on_change(struct coreapp *app, settings_change_cb cb, void *arg)
{
    struct settings *s = app->settings;

    if (s->nhooks == MAX_HOOKS) {
        log_error(NULL, "settings_hooks_full", "max=%d", MAX_HOOKS);
        abort();                            /* a programming error, found at start */
    }
    s->hooks[s->nhooks].cb = cb;
    s->hooks[s->nhooks].arg = arg;
    s->nhooks++;
}

bool
settings_status_callback_wanted(const struct app_settings *s, const char *status)
{
    if (strcmp(status, "sent") == 0)
        return s->webhooks_message_sent || s->sent_status;
    if (strcmp(status, "delivered") == 0)
        return s->webhooks_message_delivered;
    if (strcmp(status, "read") == 0)
        return s->webhooks_message_read;
    return true;
}

void
settings_init(struct coreapp *app)
{
    struct settings *s = xcalloc(1, sizeof(*s));
    bool             failed = false;
    char            *text, *ci;

    s->app = app;
    if (log_level_parse(app->cfg.log_level, &s->env_level) != 0)
        s->env_level = LOG_INFO;
    /* Before anything else starts, so every module sees the stored values
     * from the first event on; the connection's first connect reloads anyway. */
    text = db_oneshot(&app->cfg.db, "SELECT overrides::text FROM app_settings WHERE id = 1",
                      0, NULL, &failed);
    if (failed)
        log_warn(NULL, "settings_load_failed", "using=defaults");
    s->overrides = settings_parse_stored(text);
    free(text);
    settings_build(s->overrides, &s->cur);
    settings_apply_log_level(s);
    app->settings = s;

    ci = db_conninfo(&app->cfg.db, true);
    s->db = db_new(app->base, ci, "settings");
    free(ci);
    db_on_connect(s->db, connected_cb, s);
    db_listen(s->db, "wa_settings", notify_cb, s);
    dispatch_register(app->dispatch, WIRE_SETTINGS_APP_GET, settings_get_handle, s);
    dispatch_register(app->dispatch, WIRE_SETTINGS_APP_PATCH, settings_patch_handle, s);
    dispatch_register(app->dispatch, WIRE_SETTINGS_APP_RESET, settings_reset_handle, s);
}
