/* backup.c - POST /v1/settings/backup and /restore (see backup.h). */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <string.h>
#include "common/db.h"
#include "common/log.h"
#include "common/netproto.h"
#include "common/offload.h"
#include "common/sealbox.h"
#include "common/xalloc.h"
#include "coreapp/account.h"
#include "coreapp/backup.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/profile.h"

/* One consistent snapshot (a single statement) of everything backup.h lists,
 * as the JSON document that goes into the box. */
static const char backup_sql[] =
    "SELECT json_build_object("
    "  'format', 1,"
    "  'created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "  'settings', COALESCE((SELECT overrides FROM app_settings WHERE id = 1), '{}'::jsonb),"
    "  'webhook_ca', (SELECT pem FROM webhook_ca WHERE id = 1),"
    "  'account', (SELECT json_build_object('cc', a.cc, 'phone_number', a.phone_number,"
    "                 'wa_id', a.wa_id, 'vname', a.vname, 'cert', a.cert,"
    "                 'two_step', a.two_step, 'public_key', k.public_key,"
    "                 'secret_key', k.secret_key)"
    "               FROM account a JOIN account_keys k ON true WHERE a.registered),"
    "  'profile', (SELECT json_build_object('about', about,"
    "                 'photo', translate(encode(photo, 'base64'), E'\\n', ''),"
    "                 'photo_type', photo_type)"
    "               FROM profile WHERE id = 1),"
    "  'business_profile', (SELECT json_build_object('address', address,"
    "                 'description', description, 'email', email, 'vertical', vertical,"
    "                 'websites', to_json(websites))"
    "               FROM business_profile WHERE id = 1)"
    ")::text";

/* Every section in one statement: data-modifying CTEs run together, in one
 * implicit transaction, so a failure anywhere changes nothing. $1 is the
 * checked JSON document. Answers the restored wa_id (NULL: registration kept). */
static const char restore_sql[] =
    "WITH b AS (SELECT $1::jsonb AS j),"
    " st AS (INSERT INTO app_settings (id, overrides) SELECT 1, j->'settings' FROM b"
    "        ON CONFLICT (id) DO UPDATE SET overrides = EXCLUDED.overrides, updated_at = now()),"
    " ca_gone AS (DELETE FROM webhook_ca WHERE (SELECT j->>'webhook_ca' FROM b) IS NULL),"
    " ca AS (INSERT INTO webhook_ca (id, pem) SELECT 1, j->>'webhook_ca' FROM b"
    "        WHERE j->>'webhook_ca' IS NOT NULL"
    "        ON CONFLICT (id) DO UPDATE SET pem = EXCLUDED.pem, updated_at = now()),"
    " a AS (SELECT j->'account' AS a FROM b WHERE jsonb_typeof(j->'account') = 'object'),"
    " pend AS (DELETE FROM account_pending WHERE EXISTS (SELECT 1 FROM a)),"
    " acc AS (INSERT INTO account (id, cc, phone_number, wa_id, vname, registered, cert,"
    "                              two_step, updated_at)"
    "        SELECT 1, a->>'cc', a->>'phone_number', a->>'wa_id', a->>'vname', true,"
    "               a->>'cert', (a->>'two_step')::boolean, now() FROM a"
    "        ON CONFLICT (id) DO UPDATE SET cc = EXCLUDED.cc, phone_number = EXCLUDED.phone_number,"
    "          wa_id = EXCLUDED.wa_id, vname = EXCLUDED.vname, registered = true,"
    "          cert = EXCLUDED.cert, two_step = EXCLUDED.two_step, updated_at = now()),"
    " keys AS (INSERT INTO account_keys (id, public_key, secret_key)"
    "        SELECT 1, a->>'public_key', a->>'secret_key' FROM a"
    "        ON CONFLICT (id) DO UPDATE SET public_key = EXCLUDED.public_key,"
    "          secret_key = EXCLUDED.secret_key, created_at = now()),"
    " p AS (SELECT j->'profile' AS p FROM b WHERE jsonb_typeof(j->'profile') = 'object'),"
    " prof AS (INSERT INTO profile (id, about, photo, photo_type, photo_updated_at, updated_at)"
    "        SELECT 1, p->>'about', decode(p->>'photo', 'base64'), p->>'photo_type',"
    "               CASE WHEN p->>'photo' IS NULL THEN NULL ELSE now() END, now() FROM p"
    "        ON CONFLICT (id) DO UPDATE SET about = EXCLUDED.about, photo = EXCLUDED.photo,"
    "          photo_type = EXCLUDED.photo_type, photo_updated_at = EXCLUDED.photo_updated_at,"
    "          updated_at = now()),"
    " bp AS (SELECT j->'business_profile' AS bp FROM b"
    "        WHERE jsonb_typeof(j->'business_profile') = 'object'),"
    " biz AS (INSERT INTO business_profile (id, address, description, email, vertical, websites,"
    "                                       updated_at)"
    "        SELECT 1, bp->>'address', bp->>'description', bp->>'email', bp->>'vertical',"
    "               ARRAY(SELECT jsonb_array_elements_text(bp->'websites')), now() FROM bp"
    "        ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address,"
    "          description = EXCLUDED.description, email = EXCLUDED.email,"
    "          vertical = EXCLUDED.vertical, websites = EXCLUDED.websites, updated_at = now())"
    " SELECT (SELECT a->>'wa_id' FROM a)";

/* ---- the request body ----------------------------------------------------------- */

/* The password of the body, or NULL after replying 1008/1009. */
static json_t *
password_or_reply(struct core_req *req)
{
    json_t *pw = json_object_get(req->w.body, "password");

    if (pw == NULL || json_is_null(pw)) {
        core_reply_error(req, ERR_PARAM_MISSING, "password is required");
        return NULL;
    }
    if (!json_is_string(pw)) {
        core_reply_error(req, ERR_PARAM_INVALID, "password must be a string");
        return NULL;
    }
    if (json_string_length(pw) == 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "password must not be empty");
        return NULL;
    }
    if (json_string_length(pw) > BACKUP_PASSWORD_MAX) {
        core_reply_error(req, ERR_PARAM_INVALID, "password must be at most %d bytes",
                         BACKUP_PASSWORD_MAX);
        return NULL;
    }
    return pw;
}

/* ---- POST /v1/settings/backup ------------------------------------------------------ */

/* A key derivation (scrypt, ~0.1 s; more for a forged restore header) runs on
 * the offload thread, so the loop keeps serving messages meanwhile. The job
 * owns copies of what it reads; req stays with the loop thread. */
struct kdf_job {
    struct core_req *req;
    struct coreapp  *app;
    char            *pw, *in;        /* password; document (seal) or box (open) */
    size_t           pw_len, in_len;
    char            *box;            /* seal: the result */
    unsigned char   *plain;          /* open: the result */
    size_t           plain_len;
    const char      *why;
    enum err_code    rc;
};

/* in (in_len bytes) may be NULL: the document of a backup comes later. */
static struct kdf_job *
kdf_job_new(struct core_req *req, struct coreapp *app, const json_t *pw, const char *in,
            size_t in_len)
{
    struct kdf_job *j = xcalloc(1, sizeof(*j));

    j->req = req;
    j->app = app;
    j->pw_len = json_string_length(pw);
    j->pw = xmalloc(j->pw_len + 1);
    memcpy(j->pw, json_string_value(pw), j->pw_len + 1);
    if (in != NULL) {
        j->in_len = in_len;
        j->in = xmalloc(in_len + 1);
        memcpy(j->in, in, in_len);
        j->in[in_len] = '\0';
    }
    return j;
}

static void
kdf_job_free(struct kdf_job *j)
{
    OPENSSL_cleanse(j->pw, j->pw_len);
    if (j->in != NULL)
        OPENSSL_cleanse(j->in, j->in_len);    /* a document holds the business's secret key */
    free(j->pw);
    free(j->in);
    free(j->box);
    if (j->plain != NULL)
        OPENSSL_cleanse(j->plain, j->plain_len);
    free(j->plain);
    free(j);
}

static void
seal_work(void *arg)
{
    struct kdf_job *j = arg;

    j->box = sealbox_seal(j->in, j->in_len, j->pw, j->pw_len, NULL);
}

static void
seal_done(void *arg)
{
    struct kdf_job *j = arg;

    if (j->box == NULL) {
        core_reply_error(j->req, ERR_INTERNAL, "could not encrypt the backup");
    } else {
        log_info(j->req->w.rid, "backup_made", "bytes=%zu", strlen(j->box));
        core_reply(j->req, 200, json_pack("{s:{s:s%}}", "settings", "data", j->box,
                                          strlen(j->box)));
    }
    kdf_job_free(j);
}

static void
snapshot_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct kdf_job  *j = arg;
    const char      *doc = err == ERR_OK ? db_result_get(res, 0, 0) : NULL;
    char             q[256];

    if (doc == NULL) {
        log_error(j->req->w.rid, "backup_failed", "reason=\"%s\"",
                  log_quote(db_result_error(res), q, sizeof(q)));
        core_reply_error(j->req, ERR_DATABASE, "could not read the settings to back up");
        kdf_job_free(j);
        return;
    }
    j->in_len = strlen(doc);
    j->in = xstrdup(doc);
    offload_run(j->app->offload, seal_work, seal_done, j);
}

static void
backup_handle(struct core_req *req, void *arg)
{
    static const char *const allowed[] = { "password" };
    struct coreapp *app = arg;

    json_t         *pw;

    if (core_known_keys_or_reply(req, allowed, 1) != 0 || (pw = password_or_reply(req)) == NULL)
        return;
    db_query(app->db, backup_sql, 0, NULL, snapshot_cb, kdf_job_new(req, app, pw, NULL, 0));
}

/* ---- POST /v1/settings/restore: checking the contents ---------------------------- */

static bool
is_digits(const char *s, size_t lo, size_t hi)
{
    size_t n = strlen(s);

    return n >= lo && n <= hi && strspn(s, "0123456789") == n;
}

/* v is a string (or, with nullable, null or absent). */
static bool
str_ok(json_t *v, bool nullable)
{
    return json_is_string(v) || (nullable && (v == NULL || json_is_null(v)));
}

/* Returns NULL if the account section is fine, else what is wrong. */
static const char *
check_account(json_t *a)
{
    const char *cc = json_string_value(json_object_get(a, "cc"));
    const char *pn = json_string_value(json_object_get(a, "phone_number"));
    const char *wa_id = json_string_value(json_object_get(a, "wa_id"));
    const char *pub = json_string_value(json_object_get(a, "public_key"));
    const char *sec = json_string_value(json_object_get(a, "secret_key"));

    if (cc == NULL || !is_digits(cc, 1, 3) || pn == NULL || !is_digits(pn, 1, 15) ||
        wa_id == NULL || !is_digits(wa_id, 2, 15))
        return "account number";
    if (pub == NULL || strlen(pub) != NETPROTO_KEY_LEN || sec == NULL ||
        strlen(sec) != NETPROTO_KEY_LEN)
        return "account keys";
    if (!str_ok(json_object_get(a, "vname"), true) || !str_ok(json_object_get(a, "cert"), true) ||
        !json_is_boolean(json_object_get(a, "two_step")))
        return "account fields";
    return NULL;
}

static const char *
check_profile(json_t *p)
{
    json_t        *photo = json_object_get(p, "photo");
    json_t        *type = json_object_get(p, "photo_type");
    unsigned char *img;
    size_t         len;
    const char    *real;

    if (!json_is_string(json_object_get(p, "about")))
        return "profile about";
    if (photo == NULL || json_is_null(photo))
        return type == NULL || json_is_null(type) ? NULL : "profile photo_type without a photo";
    if (!json_is_string(photo) || !json_is_string(type) ||
        (img = sealbox_base64_decode(json_string_value(photo), &len)) == NULL)
        return "profile photo";
    real = profile_image_type(img, len);
    free(img);
    if (real == NULL || strcmp(real, json_string_value(type)) != 0)
        return "profile photo is not the image its type says";
    return NULL;
}

static const char *
check_business(json_t *b)
{
    static const char *const texts[] = { "address", "description", "email", "vertical" };
    json_t *w = json_object_get(b, "websites"), *v;
    size_t  i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (!json_is_string(json_object_get(b, texts[i])))
            return "business_profile fields";
    if (!json_is_array(w))
        return "business_profile websites";
    json_array_foreach(w, i, v)
        if (!json_is_string(v))
            return "business_profile websites";
    return NULL;
}

/* Everything restore_sql relies on, so that a document that opened with the
 * right password still can't fail in the database half-way (it couldn't
 * anyway: one statement), or fail there at all for a reason we could name. */
static const char *
check_document(json_t *doc)
{
    static const struct {
        const char  *name;
        const char *(*check)(json_t *section);
    } sections[] = {
        { "account", check_account },
        { "profile", check_profile },
        { "business_profile", check_business },
    };
    json_t *fmt = json_object_get(doc, "format"), *v;

    if (!json_is_object(doc))
        return "not a JSON object";
    if (!json_is_integer(fmt) || json_integer_value(fmt) != BACKUP_FORMAT)
        return "contents in a format this server can't read (it reads format 1)";
    if (!json_is_object(json_object_get(doc, "settings")))
        return "settings";
    if (!str_ok(json_object_get(doc, "webhook_ca"), true))
        return "webhook_ca";
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        const char *why;

        v = json_object_get(doc, sections[i].name);
        if (v == NULL || json_is_null(v))
            continue;                       /* not in this backup: left as it is */
        if (!json_is_object(v))
            return sections[i].name;
        if ((why = sections[i].check(v)) != NULL)
            return why;
    }
    return NULL;
}

/* ---- POST /v1/settings/restore: writing --------------------------------------------- */

struct restore {
    struct coreapp  *app;
    struct core_req *req;
};

/* Queued after account_reload()'s query on the same connection (db.h: FIFO),
 * so by now the registration is loaded and handed to the gateway: a request
 * that follows our answer sees the restored business. */
static void
reloaded_cb(const struct db_result *res, enum err_code err, void *arg)
{
    (void) res;
    (void) err;                             /* the restore itself is committed */
    core_reply(arg, 200, NULL);
}

static void
restored_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct restore  *r = arg;
    struct core_req *req = r->req;
    struct coreapp  *app = r->app;
    const char      *wa_id;
    char             q[256];

    free(r);
    if (err != ERR_OK) {
        log_error(req->w.rid, "restore_failed", "reason=\"%s\"",
                  log_quote(db_result_error(res), q, sizeof(q)));
        core_reply_error(req, ERR_DATABASE, "could not restore the backup; nothing was changed");
        return;
    }
    wa_id = db_result_get(res, 0, 0);
    log_info(req->w.rid, "restored", "wa_id=%s", wa_id ? wa_id : "-");
    if (wa_id == NULL) {
        core_reply(req, 200, NULL);         /* registration untouched */
        return;
    }
    account_reload(app);
    db_query(app->db, "SELECT 1", 0, NULL, reloaded_cb, req);
}

static void
open_work(void *arg)
{
    struct kdf_job *j = arg;

    j->rc = sealbox_open(j->in, j->pw, j->pw_len, &j->plain, &j->plain_len, &j->why);
}

static void
open_done(void *arg)
{
    struct kdf_job  *j = arg;
    struct core_req *req = j->req;
    struct restore  *r;
    json_t          *doc;
    const char      *why, *param;

    if (j->rc != ERR_OK) {
        log_info(req->w.rid, "restore_refused", "reason=\"%s\"", j->why);
        core_reply_error(req, j->rc, "%s; nothing was changed", j->why);
        kdf_job_free(j);
        return;
    }
    doc = json_loadb((const char *) j->plain, j->plain_len, 0, NULL);
    if ((why = check_document(doc)) != NULL) {
        log_warn(req->w.rid, "restore_refused", "reason=\"bad contents: %s\"", why);
        core_reply_error(req, ERR_PARAM_INVALID,
                         "data holds an invalid backup (%s); nothing was changed", why);
    } else {
        r = xmalloc(sizeof(*r));
        r->app = j->app;
        r->req = req;
        param = (const char *) j->plain;     /* NUL-terminated (sealbox.h); db_query copies it */
        db_query(j->app->db, restore_sql, 1, &param, restored_cb, r);
    }
    json_decref(doc);
    kdf_job_free(j);                        /* cleanses the plaintext: it held the key */
}

static void
restore_handle(struct core_req *req, void *arg)
{
    static const char *const allowed[] = { "password", "data" };
    struct coreapp *app = arg;
    json_t         *pw, *data;

    if (core_known_keys_or_reply(req, allowed, 2) != 0 || (pw = password_or_reply(req)) == NULL)
        return;
    data = json_object_get(req->w.body, "data");
    if (data == NULL || json_is_null(data)) {
        core_reply_error(req, ERR_PARAM_MISSING, "data is required");
        return;
    }
    if (!json_is_string(data)) {
        core_reply_error(req, ERR_PARAM_INVALID, "data must be a string");
        return;
    }
    offload_run(app->offload, open_work, open_done,
                kdf_job_new(req, app, pw, json_string_value(data), json_string_length(data)));
}

void
backup_init(struct coreapp *app)
{
    dispatch_register(app->dispatch, WIRE_BACKUP, backup_handle, app);
    dispatch_register(app->dispatch, WIRE_RESTORE, restore_handle, app);
}
