/* contacts.c - contact checks with a cache, and identities. */
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/netproto.h"
#include "common/phone.h"
#include "common/xalloc.h"
#include "coreapp/account.h"
#include "coreapp/contacts.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/gateway.h"
#include "coreapp/settings.h"
#include "coreapp/webhooks.h"

#define NO_WAIT_LOOKUP_MS (60 * 1000)   /* a background check may wait this long for the link */

struct contacts {
    struct coreapp *app;
    json_t         *inflight;    /* numbers with a background check running (a set) */
    json_t         *unacked;     /* wa_id -> {hash, created_timestamp} of an identity change
                                    not acknowledged, as committed in contact_identities */
    struct event   *load_retry;
};

/* One POST /v1/contacts. */
struct check {
    struct contacts *c;
    struct core_req *req;
    json_t          *inputs;     /* the request's array (a reference) */
    char           **numbers;    /* normalised, per input; NULL = not a number */
    json_t          *uniq;       /* distinct numbers, array */
    json_t          *results;    /* number -> "valid:<wa_id>" | "invalid" | "failed" */
    bool             wait, force;
    int              outstanding;
};

/* One lookup request to the network (a chunk of numbers). */
struct lookup {
    struct contacts *c;
    struct check    *chk;        /* NULL for a background (no_wait) check */
    json_t          *numbers;
};

static void
check_free(struct check *k)
{
    for (size_t i = 0; k->numbers && i < json_array_size(k->inputs); i++)
        free(k->numbers[i]);
    free(k->numbers);
    json_decref(k->inputs);
    json_decref(k->uniq);
    json_decref(k->results);
    free(k);
}

/* '{"a","b"}': a text[] literal of values (strings). */
static char *
array_literal(json_t *values)
{
    struct jbuf b = JBUF_INIT;
    size_t      i;
    json_t     *v;

    jbuf_addc(&b, '{');
    json_array_foreach(values, i, v) {
        if (i > 0)
            jbuf_addc(&b, ',');
        db_array_elem(&b, json_string_value(v));
    }
    jbuf_addc(&b, '}');
    return jbuf_take(&b, NULL);
}

/* ---- the answer ------------------------------------------------------------------- */

static void
reply(struct check *k)
{
    json_t *list = json_array(), *in;
    size_t  i;

    json_array_foreach(k->inputs, i, in) {
        json_t     *o = json_object();
        const char *r = k->numbers[i] ? json_string_value(json_object_get(k->results,
                                                                           k->numbers[i])) : NULL;

        /* byte for byte, NULs included */
        json_object_set_new(o, "input", json_stringn(json_string_value(in),
                                                     json_string_length(in)));
        if (k->numbers[i] == NULL) {
            json_object_set_new(o, "status", json_string("invalid"));
        } else if (r == NULL) {
            json_object_set_new(o, "status", json_string("processing"));
        } else if (strncmp(r, "valid:", 6) == 0) {
            json_object_set_new(o, "status", json_string("valid"));
            json_object_set_new(o, "wa_id", json_string(r + 6));
        } else {
            json_object_set_new(o, "status", json_string(r));
        }
        json_array_append_new(list, o);
    }
    core_reply(k->req, 200, json_pack("{s:o}", "contacts", list));
    check_free(k);
}

/* ---- lookups ------------------------------------------------------------------------ */

static void
cache_saved_cb(const struct db_result *res, enum err_code err, void *arg)
{
    (void) arg;
    if (err != ERR_OK)
        log_warn(NULL, "contacts_cache_failed", "reason=\"%s\"", db_result_error(res));
}

static void
lookup_cb(enum err_code err, const char *net_error, const char *details, json_t *result,
          void *arg)
{
    struct lookup *l = arg;
    struct check  *k = l->chk;
    json_t        *got = json_object_get(result, "contacts"), *v;
    json_t        *nums = json_array(), *sts = json_array(), *ids = json_array();
    size_t         i;

    (void) details;
    if (err != ERR_OK)
        log_warn(k ? k->req->w.rid : NULL, "contacts_lookup_failed", "error=%s numbers=%zu",
                 net_error ? net_error : "timeout", json_array_size(l->numbers));
    json_array_foreach(got, i, v) {
        const char *num = json_string_value(json_object_get(v, "number"));
        const char *wa_id = json_string_value(json_object_get(v, "wa_id"));
        bool        ok = json_is_true(json_object_get(v, "on_whatsapp")) && wa_id != NULL;
        char        buf[64];

        if (num == NULL || strlen(num) > PHONE_MAX_DIGITS)
            continue;
        snprintf(buf, sizeof(buf), "valid:%s", ok ? wa_id : "");
        if (k)
            json_object_set_new(k->results, num, json_string(ok ? buf : "invalid"));
        json_array_append_new(nums, json_string(num));
        json_array_append_new(sts, json_string(ok ? "valid" : "invalid"));
        json_array_append_new(ids, json_string(ok ? wa_id : ""));
    }
    if (json_array_size(nums) > 0) {
        char       *p[3] = { array_literal(nums), array_literal(sts), array_literal(ids) };
        const char *params[3] = { p[0], p[1], p[2] };

        db_query(l->c->app->db,
                 "INSERT INTO contacts_cache (number, status, wa_id, checked_at)"
                 " SELECT n, s, NULLIF(w, ''), now() FROM unnest($1::text[], $2::text[], $3::text[])"
                 "   AS t(n, s, w)"
                 " ON CONFLICT (number) DO UPDATE SET status = EXCLUDED.status,"
                 "   wa_id = EXCLUDED.wa_id, checked_at = EXCLUDED.checked_at",
                 3, params, cache_saved_cb, NULL);
        for (int j = 0; j < 3; j++)
            free(p[j]);
    }
    json_array_foreach(l->numbers, i, v) {
        if (k == NULL)
            json_object_del(l->c->inflight, json_string_value(v));
        else if (json_object_get(k->results, json_string_value(v)) == NULL)
            json_object_set_new(k->results, json_string_value(v), json_string("failed"));
    }
    json_decref(nums);
    json_decref(sts);
    json_decref(ids);
    json_decref(l->numbers);
    free(l);
    if (k && --k->outstanding == 0)
        reply(k);
}

/* Sends numbers (taken) to the network in chunks it accepts. */
static void
lookup_start(struct contacts *c, struct check *k, json_t *numbers, int timeout_ms)
{
    size_t n = json_array_size(numbers);

    for (size_t at = 0; at < n; at += NETPROTO_LOOKUP_MAX) {
        struct lookup *l = xcalloc(1, sizeof(*l));

        l->c = c;
        l->chk = k;
        l->numbers = json_array();
        for (size_t i = at; i < n && i < at + NETPROTO_LOOKUP_MAX; i++)
            json_array_append(l->numbers, json_array_get(numbers, i));
        if (k)
            k->outstanding++;
        gateway_request(c->app->gw, "lookup", json_pack("{s:O}", "numbers", l->numbers),
                        timeout_ms, lookup_cb, l);
    }
    json_decref(numbers);
}

/* After the cache: look up what is missing, now or in the background. */
static void
resolve(struct check *k)
{
    json_t *missing = json_array(), *v;
    size_t  i;

    json_array_foreach(k->uniq, i, v)
        if (json_object_get(k->results, json_string_value(v)) == NULL)
            json_array_append(missing, v);
    if (json_array_size(missing) == 0) {
        json_decref(missing);
        reply(k);
        return;
    }
    if (k->wait) {
        int64_t left = k->req->w.deadline_ms ? k->req->w.deadline_ms - clock_wall_ms() - 300 : 10000;

        lookup_start(k->c, k, missing, left < 100 ? 100 : left > 30000 ? 30000 : (int) left);
        return;
    }
    /* no_wait: unresolved numbers are "processing"; a later call finds them
     * in the cache. A number already being checked is not checked twice. */
    {
        json_t *fresh = json_array();

        json_array_foreach(missing, i, v)
            if (json_object_get(k->c->inflight, json_string_value(v)) == NULL) {
                json_object_set_new(k->c->inflight, json_string_value(v), json_true());
                json_array_append(fresh, v);
            }
        if (json_array_size(fresh) > 0)
            lookup_start(k->c, NULL, fresh, NO_WAIT_LOOKUP_MS);
        else
            json_decref(fresh);
    }
    json_decref(missing);
    reply(k);
}

static void
cache_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct check *k = arg;
    char          buf[64];

    if (err != ERR_OK) {
        core_reply_error(k->req, ERR_DATABASE, "could not read the contacts cache");
        check_free(k);
        return;
    }
    for (int r = 0; r < db_result_rows(res); r++) {
        const char *num = db_result_get(res, r, 0), *st = db_result_get(res, r, 1);
        const char *wa_id = db_result_get(res, r, 2);

        if (strcmp(st, "valid") == 0 && wa_id != NULL) {
            snprintf(buf, sizeof(buf), "valid:%s", wa_id);
            json_object_set_new(k->results, num, json_string(buf));
        } else {
            json_object_set_new(k->results, num, json_string("invalid"));
        }
    }
    resolve(k);
}

/* ---- POST /v1/contacts ----------------------------------------------------------------- */

static void
check_handle(struct core_req *req, void *arg)
{
    struct contacts *c = arg;
    json_t          *body = req->w.body, *list = json_object_get(body, "contacts");
    json_t          *blocking = json_object_get(body, "blocking");
    json_t          *force = json_object_get(body, "force_check"), *v, *seen;
    const char      *cc = account_cc(c->app->account);
    struct check    *k;
    size_t           i;

    if (list == NULL || json_is_null(list)) {
        core_reply_error(req, ERR_PARAM_MISSING, "contacts is required");
        return;
    }
    if (!json_is_array(list)) {
        core_reply_error(req, ERR_PARAM_INVALID, "contacts must be an array of strings");
        return;
    }
    if (json_array_size(list) == 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "contacts must not be empty");
        return;
    }
    if (json_array_size(list) > CONTACTS_MAX_BATCH) {
        core_reply_error(req, ERR_PARAM_INVALID, "contacts holds %zu numbers; the limit is %d",
                         json_array_size(list), CONTACTS_MAX_BATCH);
        return;
    }
    json_array_foreach(list, i, v)
        if (!json_is_string(v)) {
            core_reply_error(req, ERR_PARAM_INVALID, "contacts[%zu] must be a string", i);
            return;
        }
    if (blocking != NULL && !json_is_null(blocking) &&
        (!json_is_string(blocking) || (strcmp(json_string_value(blocking), "wait") != 0 &&
                                       strcmp(json_string_value(blocking), "no_wait") != 0))) {
        core_reply_error(req, ERR_PARAM_INVALID, "blocking must be \"wait\" or \"no_wait\"");
        return;
    }
    if (force != NULL && !json_is_null(force) && !json_is_boolean(force)) {
        core_reply_error(req, ERR_PARAM_INVALID, "force_check must be a boolean");
        return;
    }
    if (cc == NULL) {
        /* the business's country is the default region of the numbers */
        core_reply_error(req, ERR_SERVICE_NOT_READY,
                         "no number is registered: register with POST /v1/account first");
        return;
    }
    k = xcalloc(1, sizeof(*k));
    k->c = c;
    k->req = req;
    k->inputs = json_incref(list);
    k->wait = json_is_string(blocking) && strcmp(json_string_value(blocking), "wait") == 0;
    k->force = json_is_true(force);
    k->numbers = xcalloc(json_array_size(list), sizeof(char *));
    k->uniq = json_array();
    k->results = json_object();
    seen = json_object();
    json_array_foreach(list, i, v) {
        char out[PHONE_MAX_DIGITS + 1];

        if (!phone_normalize(json_string_value(v), json_string_length(v), cc, out))
            continue;
        k->numbers[i] = xstrdup(out);
        if (json_object_get(seen, out) == NULL) {
            json_object_set_new(seen, out, json_true());
            json_array_append_new(k->uniq, json_string(out));
        }
    }
    json_decref(seen);
    if (json_array_size(k->uniq) == 0 || k->force) {
        resolve(k);
    } else {
        char       *lit = array_literal(k->uniq);
        const char *p = lit;

        db_query(c->app->db,
                 "SELECT number, status, wa_id FROM contacts_cache"
                 " WHERE number = ANY($1::text[]) AND checked_at > now() - interval '7 days'",
                 1, &p, cache_cb, k);
        free(lit);
    }
}

/* ---- identities ------------------------------------------------------------------------ */

struct ident {
    struct contacts *c;
    struct core_req *req;
    char            *wa_id;
    char            *hash;        /* PUT: the hash to acknowledge */
    char            *eid;         /* an identity_changed event */
    json_t          *seen;        /* ... and its {hash, created_timestamp} */
};

static void
ident_free(struct ident *d)
{
    free(d->wa_id);
    free(d->hash);
    free(d->eid);
    json_decref(d->seen);
    free(d);
}

static void
acked_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct ident *d = arg;

    if (err != ERR_OK) {
        core_reply_error(d->req, ERR_DATABASE, "could not record the acknowledgement");
    } else {
        if (db_result_rows(res) == 1)            /* no newer change came meanwhile */
            json_object_del(d->c->unacked, d->wa_id);
        core_reply(d->req, 200, NULL);
    }
    ident_free(d);
}

/* Answers GET, or finishes PUT, with the identity we know. */
static void
identity_known(struct ident *d, const char *hash, long long created, bool acked)
{
    const char *params[2] = { d->wa_id, hash };

    if (d->hash == NULL) {
        core_reply(d->req, 200, json_pack("{s:{s:s, s:I, s:b}}", "contacts", "hash", hash,
                                          "created_timestamp", (json_int_t) created,
                                          "acknowledged", acked));
        ident_free(d);
        return;
    }
    if (strcmp(d->hash, hash) != 0) {
        core_reply_error(d->req, ERR_PARAM_INVALID,
                         "hash does not match the latest identity of %s", d->wa_id);
        ident_free(d);
        return;
    }
    db_query(d->c->app->db,
             "UPDATE contact_identities SET acknowledged = true, updated_at = now()"
             " WHERE wa_id = $1 AND hash = $2 RETURNING 1", 2, params, acked_cb, d);
}

static void
first_seen_saved_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct ident *d = arg;

    if (err != ERR_OK || db_result_rows(res) != 1) {
        core_reply_error(d->req, ERR_DATABASE, "could not record the identity");
        ident_free(d);
        return;
    }
    identity_known(d, db_result_get(res, 0, 0), atoll(db_result_get(res, 0, 1)),
                   strcmp(db_result_get(res, 0, 2), "t") == 0);
}

/* The first identity we see of a contact is trusted (acknowledged). */
static void
identity_fetched_cb(enum err_code err, const char *net_error, const char *details,
                    json_t *result, void *arg)
{
    struct ident *d = arg;
    const char   *hash = json_string_value(json_object_get(result, "hash"));
    char          created[32];
    const char   *params[3];

    (void) details;
    if (err != ERR_OK || hash == NULL) {
        if (net_error && strcmp(net_error, "not_found") == 0)
            core_reply_error(d->req, ERR_NOT_FOUND, "%s is not a WhatsApp user", d->wa_id);
        else
            core_reply_error(d->req, err == ERR_OK ? ERR_GENERIC : err,
                             "the network (wa-sandbox) is not reachable; try again");
        ident_free(d);
        return;
    }
    snprintf(created, sizeof(created), "%lld",
             (long long) json_integer_value(json_object_get(result, "created_timestamp")));
    params[0] = d->wa_id;
    params[1] = hash;
    params[2] = created;
    db_query(d->c->app->db,
             "WITH ins AS (INSERT INTO contact_identities (wa_id, hash, created_timestamp,"
             "                                            acknowledged)"
             "             VALUES ($1, $2, $3, true) ON CONFLICT (wa_id) DO NOTHING"
             "             RETURNING hash, created_timestamp, acknowledged)"
             " SELECT hash, created_timestamp, acknowledged FROM ins UNION ALL"
             " SELECT hash, created_timestamp, acknowledged FROM contact_identities"
             "  WHERE wa_id = $1 LIMIT 1",
             3, params, first_seen_saved_cb, d);
}

static void
identity_row_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct ident *d = arg;

    if (err != ERR_OK) {
        core_reply_error(d->req, ERR_DATABASE, "could not read the identity");
        ident_free(d);
        return;
    }
    if (db_result_rows(res) == 1) {
        identity_known(d, db_result_get(res, 0, 0), atoll(db_result_get(res, 0, 1)),
                       strcmp(db_result_get(res, 0, 2), "t") == 0);
        return;
    }
    gateway_request(d->c->app->gw, "identity", json_pack("{s:s}", "wa_id", d->wa_id), 5000,
                    identity_fetched_cb, d);
}

static void
identity_start(struct contacts *c, struct core_req *req, const char *hash)
{
    const char   *wa_id = core_param(req, "wa_id");
    struct ident *d;

    if (wa_id == NULL || strlen(wa_id) < 5 || strlen(wa_id) > PHONE_MAX_DIGITS ||
        strspn(wa_id, "0123456789") != strlen(wa_id)) {
        core_reply_error(req, ERR_PARAM_INVALID, "wa_id must be a WhatsApp id (digits)");
        return;
    }
    if (account_wa_id(c->app->account) == NULL) {
        core_reply_error(req, ERR_SERVICE_NOT_READY,
                         "no number is registered: register with POST /v1/account first");
        return;
    }
    d = xcalloc(1, sizeof(*d));
    d->c = c;
    d->req = req;
    d->wa_id = xstrdup(wa_id);
    d->hash = hash ? xstrdup(hash) : NULL;
    db_query(c->app->db,
             "SELECT hash, created_timestamp, acknowledged FROM contact_identities"
             " WHERE wa_id = $1", 1, (const char *const *) &d->wa_id, identity_row_cb, d);
}

static void
identity_get_handle(struct core_req *req, void *arg)
{
    identity_start(arg, req, NULL);
}

static void
identity_ack_handle(struct core_req *req, void *arg)
{
    json_t *hash = json_object_get(req->w.body, "hash");

    if (hash == NULL || json_is_null(hash)) {
        core_reply_error(req, ERR_PARAM_MISSING, "hash is required");
        return;
    }
    if (!json_is_string(hash) || json_string_length(hash) == 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "hash must be a non-empty string");
        return;
    }
    identity_start(arg, req, json_string_value(hash));
}

static void
identity_saved_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct ident *d = arg;

    if (err == ERR_OK) {
        if (db_result_rows(res) == 1 && db_result_get(res, 0, 2) != NULL &&
            strcmp(db_result_get(res, 0, 2), "f") == 0)
            json_object_set(d->c->unacked, d->wa_id, d->seen);
        gateway_event_done(d->c->app->gw, d->eid);   /* else the network sends it again */
    }
    ident_free(d);
}

/* The user_identity_changed system notification (spec/WEBHOOKS.md §4) for
 * the new identity, as compact JSON (heap), or NULL when none is wanted. Its
 * id is derived from the contact and the hash, so a redelivered event makes
 * the same notification (receivers de-duplicate on id); its timestamp is when
 * the network saw the new identity. */
static char *
identity_callback(struct contacts *c, const char *wa_id, const char *hash, long long created_ms)
{
    unsigned char digest[32];
    char          id[4 + 28 + 1], ts[24], text[96], *out;
    EVP_MD_CTX   *md = EVP_MD_CTX_new();
    json_t       *cb;

    if (!webhooks_enabled(c->app) || !settings_get(c->app)->show_security_notifications) {
        EVP_MD_CTX_free(md);
        return NULL;
    }
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, wa_id, strlen(wa_id) + 1);
    EVP_DigestUpdate(md, hash, strlen(hash));
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    memcpy(id, "ABGG", 4);
    for (int i = 0; i < 14; i++)
        sprintf(id + 4 + 2 * i, "%02X", digest[i]);
    snprintf(ts, sizeof(ts), "%lld", created_ms / 1000);
    snprintf(text, sizeof(text), "Your security code with +%s changed.", wa_id);
    cb = json_pack("{s:[{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}]}", "messages",
                   "from", wa_id, "id", id, "timestamp", ts, "type", "system", "system",
                   "body", text, "identity", hash, "customer", wa_id,
                   "type", "user_identity_changed");
    out = json_dumps(cb, JSON_COMPACT);
    json_decref(cb);
    return out;
}

/* The network says a contact's identity changed: it must be acknowledged
 * again, and the business hears of it (show_security_notifications) in the
 * same transaction, once per new hash. */
static void
identity_changed_cb(struct gateway *gw, const char *eid, json_t *ev, void *arg)
{
    struct contacts *c = arg;
    const char      *wa_id = json_string_value(json_object_get(ev, "wa_id"));
    const char      *hash = json_string_value(json_object_get(ev, "hash"));
    struct ident    *d;
    char             created[32], *cb;
    const char      *params[5];

    if (wa_id == NULL || hash == NULL) {
        gateway_event_done(gw, eid);
        return;
    }
    d = xcalloc(1, sizeof(*d));
    d->c = c;
    d->eid = xstrdup(eid);
    d->wa_id = xstrdup(wa_id);
    d->seen = json_pack("{s:s, s:I}", "hash", hash, "created_timestamp",
                        json_integer_value(json_object_get(ev, "created_timestamp")));
    snprintf(created, sizeof(created), "%lld",
             (long long) json_integer_value(json_object_get(ev, "created_timestamp")));
    cb = identity_callback(c, wa_id, hash, json_integer_value(json_object_get(ev,
                                                                        "created_timestamp")));
    params[0] = wa_id;
    params[1] = hash;
    params[2] = created;
    params[3] = cb;
    params[4] = webhook_kind_name(WEBHOOK_SYSTEM);
    log_info(NULL, "identity_changed", "wa_id=%s", wa_id);
    db_query(c->app->db,
             "WITH old AS (SELECT hash FROM contact_identities WHERE wa_id = $1),"
             " up AS (INSERT INTO contact_identities (wa_id, hash, created_timestamp, acknowledged)"
             "  VALUES ($1, $2, $3, false) ON CONFLICT (wa_id) DO UPDATE SET hash = $2,"
             "   created_timestamp = $3, updated_at = now(),"
             "   acknowledged = contact_identities.acknowledged AND contact_identities.hash = $2"
             "  RETURNING acknowledged),"
             " cb AS (INSERT INTO wa_callbacks (kind, body) SELECT $5, $4::text"
             "  WHERE $4::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM old WHERE hash = $2)"
             "  RETURNING 1)"
             " SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM cb),"
             "        (SELECT acknowledged FROM up)",
             5, params, identity_saved_cb, d);
    free(cb);
}

/* ---- sends to a changed identity (1028) -------------------------------------------------- */

const json_t *
contacts_unacked_identity(struct contacts *c, const char *wa_id)
{
    return settings_get(c->app)->show_security_notifications
               ? json_object_get(c->unacked, wa_id) : NULL;
}

static void load_unacked(struct contacts *c);

static void
unacked_loaded_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct contacts *c = arg;
    struct timeval   tv = { 1, 0 };

    if (err != ERR_OK) {
        evtimer_add(c->load_retry, &tv);
        return;
    }
    for (int i = 0; i < db_result_rows(res); i++)
        json_object_set_new(c->unacked, db_result_get(res, i, 0),
                            json_pack("{s:s, s:I}", "hash", db_result_get(res, i, 1),
                                      "created_timestamp",
                                      (json_int_t) atoll(db_result_get(res, i, 2))));
}

static void
load_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    load_unacked(arg);
}

/* Once at start; afterwards the set follows the changes this process commits. */
static void
load_unacked(struct contacts *c)
{
    db_query(c->app->db, "SELECT wa_id, hash, created_timestamp FROM contact_identities"
             " WHERE NOT acknowledged", 0, NULL, unacked_loaded_cb, c);
}

/* ---- life -------------------------------------------------------------------------------- */

void
contacts_init(struct coreapp *app)
{
    struct contacts *c = xcalloc(1, sizeof(*c));

    c->app = app;
    c->inflight = json_object();
    c->unacked = json_object();
    c->load_retry = evtimer_new(app->base, load_retry_cb, c);
    load_unacked(c);
    app->contacts = c;
    dispatch_register(app->dispatch, WIRE_CONTACTS_CHECK, check_handle, c);
    dispatch_register(app->dispatch, WIRE_IDENTITY_GET, identity_get_handle, c);
    dispatch_register(app->dispatch, WIRE_IDENTITY_ACK, identity_ack_handle, c);
    gateway_on_event(app->gw, GATEWAY_EV_IDENTITY, identity_changed_cb, c);
}

void
contacts_free(struct contacts *c)
{
    if (c == NULL)
        return;
    json_decref(c->inflight);
    json_decref(c->unacked);
    event_free(c->load_retry);
    free(c);
}
