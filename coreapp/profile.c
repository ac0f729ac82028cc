/* profile.c - About text, profile photo and business profile. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/db.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/gateway.h"
#include "coreapp/profile.h"

/* spec/API.md §13.4 */
static const char *const verticals[] = {
    "Automotive", "Beauty, Spa and Salon", "Clothing and Apparel", "Education",
    "Entertainment", "Event Planning and Service", "Finance and Banking", "Food and Grocery",
    "Public Service", "Hotel and Lodging", "Medical and Health", "Non-profit",
    "Professional Services", "Shopping and Retail", "Travel and Transportation", "Restaurant",
    "Other",
};

struct profile {
    struct coreapp *app;
    bool            in_flight;      /* a push is reading the profile or at the network */
    bool            again;          /* it changed meanwhile: push once more after */
    bool            closing;        /* profile_settings_free() ran: the callback frees */
};

/* ---- telling the network -------------------------------------------------- */

static const char PUSH_SQL[] =
    "SELECT p.about, encode(sha256(p.photo), 'hex'), octet_length(p.photo), p.photo_type,"
    " b.address, b.description, b.email, b.vertical, array_to_json(b.websites)::text"
    " FROM profile p, business_profile b WHERE p.id = 1 AND b.id = 1";

static void push(struct profile *p);

/* Ends a push; true when p is gone (freed while the push was out). */
static bool
push_end(struct profile *p)
{
    p->in_flight = false;
    if (p->closing) {
        free(p);
        return true;
    }
    if (p->again)
        push(p);
    return false;
}

static void
push_done_cb(enum err_code err, const char *net_error, const char *details, json_t *result,
             void *arg)
{
    struct profile *p = arg;

    (void) result;
    if (err != ERR_OK)
        log_warn(NULL, "profile_push_failed", "error=%s net_error=%s details=\"%s\"",
                 err_name(err), net_error ? net_error : "-", details ? details : "");
    else
        log_debug(NULL, "profile_pushed", "ok=true");
    push_end(p);
}

static void
push_read_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct profile *p = arg;
    json_t         *photo = json_null(), *websites, *body;
    const char     *size;

    if (p->closing || err != ERR_OK || db_result_rows(res) != 1 ||
        gateway_wa_id(p->app->gw) == NULL) {
        /* not registered yet, or no database: the next link-up pushes */
        if (!p->closing && err != ERR_OK)
            log_warn(NULL, "profile_push_failed", "reason=\"%s\"",
                     res ? db_result_error(res) : "connection lost");
        p->again = false;
        push_end(p);
        return;
    }
    if (db_result_get(res, 0, 1) != NULL && (size = db_result_get(res, 0, 2)) != NULL)
        photo = json_pack("{s:s, s:I, s:s}", "sha256", db_result_get(res, 0, 1),
                          "size", (json_int_t) strtoll(size, NULL, 10),
                          "type", db_result_get(res, 0, 3));
    websites = json_loads(db_result_get(res, 0, 8), 0, NULL);
    body = json_pack("{s:s, s:o, s:{s:s, s:s, s:s, s:s, s:o}}",
                     "about", db_result_get(res, 0, 0), "photo", photo, "business",
                     "address", db_result_get(res, 0, 4),
                     "description", db_result_get(res, 0, 5),
                     "email", db_result_get(res, 0, 6),
                     "vertical", db_result_get(res, 0, 7),
                     "websites", websites ? websites : json_array());
    gateway_request(p->app->gw, "profile", body, PROFILE_PUSH_TIMEOUT_MS, push_done_cb, p);
}

/* Reads the whole profile at push time rather than sending what changed, so
 * that the network always ends up with the last committed state. */
static void
push(struct profile *p)
{
    if (p->in_flight) {
        p->again = true;
        return;
    }
    p->in_flight = true;
    p->again = false;
    db_query(p->app->db, PUSH_SQL, 0, NULL, push_read_cb, p);
}

static void
link_cb(struct gateway *gw, bool up, void *arg)
{
    (void) gw;
    if (up)
        push(arg);
}

/* ---- checks --------------------------------------------------------------- */

size_t
profile_utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char) *s & 0xC0) != 0x80)
            n++;
    return n;
}

bool
profile_email_is_valid(const char *s)
{
    const char *at = strchr(s, '@'), *dot;

    if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
        return false;
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char) *p) || (unsigned char) *p < 0x20)
            return false;
    dot = strrchr(at + 1, '.');
    return dot != NULL && dot > at + 1 && dot[1] != '\0';
}

static unsigned
be16(const unsigned char *p)
{
    return (unsigned) p[0] << 8 | p[1];
}

static unsigned long
be32(const unsigned char *p)
{
    return (unsigned long) p[0] << 24 | (unsigned long) p[1] << 16 |
           (unsigned long) p[2] << 8 | p[3];
}

/* Walks the JPEG markers to a start-of-frame and checks its dimensions. */
static bool
jpeg_has_frame(const unsigned char *d, size_t len)
{
    size_t i = 2;

    while (i + 4 <= len) {
        unsigned marker, seglen;

        if (d[i] != 0xFF)
            return false;
        marker = d[i + 1];
        if (marker == 0xFF) {                   /* fill byte */
            i++;
            continue;
        }
        if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
            i += 2;                             /* markers without a length */
            continue;
        }
        seglen = be16(d + i + 2);
        if (seglen < 2)
            return false;
        /* SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC) */
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
            marker != 0xCC)
            return i + 9 <= len && be16(d + i + 5) > 0 && be16(d + i + 7) > 0;
        if (marker == 0xDA || marker == 0xD9)   /* scan or end before any frame */
            return false;
        i += 2 + seglen;
    }
    return false;
}

const char *
profile_image_type(const unsigned char *d, size_t len)
{
    static const unsigned char png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };

    if (len >= 24 && memcmp(d, png_sig, 8) == 0 && memcmp(d + 12, "IHDR", 4) == 0 &&
        be32(d + 16) > 0 && be32(d + 20) > 0)
        return "image/png";
    if (len >= 4 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF && jpeg_has_frame(d, len))
        return "image/jpeg";
    return NULL;
}

/* The string field name of the body (NULL if absent), or reply 1009 when
 * it is not a string of min..max characters. *bad says which. */
static const char *
text_field(struct core_req *req, const char *name, size_t min, size_t max, bool *bad)
{
    json_t     *v = json_object_get(req->w.body, name);
    const char *s;
    size_t      n;

    *bad = false;
    if (v == NULL)
        return NULL;
    if (!json_is_string(v)) {
        core_reply_error(req, ERR_PARAM_INVALID, "%s must be a string", name);
        *bad = true;
        return NULL;
    }
    s = json_string_value(v);
    n = profile_utf8_len(s);
    if (strlen(s) != json_string_length(v) || n < min || n > max) {
        core_reply_error(req, ERR_PARAM_INVALID, "%s must be %zu to %zu characters long", name,
                         min, max);
        *bad = true;
        return NULL;
    }
    return s;
}

/* A write in progress: the request to answer and whom to tell. */
struct change {
    struct core_req *req;
    struct profile  *p;
};

static void
change(struct profile *p, struct core_req *req, const char *sql, int n, const char *const *params,
       db_result_cb cb)
{
    struct change *c = xmalloc(sizeof(*c));

    c->req = req;
    c->p = p;
    db_query(p->app->db, sql, n, params, cb, c);
}

/* A change committed: answer, then tell the network. */
static void
changed_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct change   *c = arg;
    struct core_req *req = c->req;
    struct profile  *p = c->p;

    free(c);
    if (err != ERR_OK) {
        log_warn(req->w.rid, "profile_write_failed", "reason=\"%s\"", db_result_error(res));
        core_reply_error(req, ERR_DATABASE, "could not save the profile");
        return;
    }
    core_reply(req, 200, NULL);
    push(p);
}

/* ---- /v1/settings/profile/about ------------------------------------------- */

static void
about_get_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct core_req *req = arg;
    const char      *text = db_result_get(res, 0, 0);

    if (err != ERR_OK || text == NULL) {
        core_reply_error(req, ERR_DATABASE, "could not read the profile");
        return;
    }
    core_reply(req, 200, json_pack("{s:{s:{s:{s:s}}}}", "settings", "profile", "about",
                                   "text", text));
}

static void
about_get(struct core_req *req, void *arg)
{
    struct profile *pr = arg;
    struct coreapp *app = pr->app;

    db_query(app->db, "SELECT about FROM profile WHERE id = 1", 0, NULL, about_get_cb, req);
}

static void
about_set(struct core_req *req, void *arg)
{
    static const char *const allowed[] = { "text" };
    struct profile *pr = arg;
    const char     *text;
    bool            bad;

    if (core_known_keys_or_reply(req, allowed, 1) != 0)
        return;
    text = text_field(req, "text", 1, PROFILE_ABOUT_MAX, &bad);
    if (bad)
        return;
    if (text == NULL) {
        core_reply_error(req, ERR_PARAM_MISSING, "text is required");
        return;
    }
    change(pr, req, "UPDATE profile SET about = $1, updated_at = now() WHERE id = 1",
           1, &text, changed_cb);
}

/* ---- /v1/settings/profile/photo ------------------------------------------- */

/* Whether a raw query string holds pair ("format=link") as one of its
 * parameters; no decoding needed for the values compared here. */
static bool
query_has(const char *query, const char *pair)
{
    size_t n = strlen(pair);

    for (const char *p = query; p != NULL && *p; ) {
        const char *end = strchr(p, '&');
        size_t      len = end ? (size_t) (end - p) : strlen(p);

        if (len == n && strncmp(p, pair, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static int
hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void
photo_get_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct core_req *req = arg;
    const char      *type = db_result_get(res, 0, 0), *hex = db_result_get(res, 0, 1);
    unsigned char   *bin;
    size_t           n;

    if (err != ERR_OK) {
        core_reply_error(req, ERR_DATABASE, "could not read the profile photo");
        return;
    }
    if (type == NULL || hex == NULL) {
        core_reply_raw(req, 404, "text/plain", NULL, 0);     /* documented: empty body */
        return;
    }
    n = strlen(hex) / 2;
    bin = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        bin[i] = (unsigned char) (hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    core_reply_raw(req, 200, type, bin, n);
    free(bin);
}

static void
photo_link_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct core_req *req = arg;
    const char      *digest = db_result_get(res, 0, 0);
    char             link[96];

    if (err != ERR_OK) {
        core_reply_error(req, ERR_DATABASE, "could not read the profile photo");
        return;
    }
    if (digest == NULL) {
        core_reply_error(req, ERR_NOT_FOUND, "no profile photo is set");
        return;
    }
    snprintf(link, sizeof(link), "/v1/settings/profile/photo?v=%.16s", digest);
    core_reply(req, 200, json_pack("{s:{s:{s:{s:s}}}}", "settings", "profile", "photo",
                                   "link", link));
}

static void
photo_get(struct core_req *req, void *arg)
{
    struct profile *pr = arg;
    struct coreapp *app = pr->app;
    const char     *query = core_param(req, "_query");

    if (query_has(query, "format=link"))
        db_query(app->db, "SELECT encode(sha256(photo), 'hex') FROM profile WHERE id = 1",
                 0, NULL, photo_link_cb, req);
    else
        db_query(app->db, "SELECT photo_type, encode(photo, 'hex') FROM profile WHERE id = 1",
                 0, NULL, photo_get_cb, req);
}

static void
photo_set(struct core_req *req, void *arg)
{
    struct profile *pr = arg;
    const char     *ct = req->w.content_type ? req->w.content_type : "";
    const char     *declared = NULL, *actual, *params[2];
    size_t          ctlen = strcspn(ct, "; \t");
    char           *hex;

    if (ctlen == 10 && strncasecmp(ct, "image/jpeg", 10) == 0)
        declared = "image/jpeg";
    else if (ctlen == 9 && strncasecmp(ct, "image/png", 9) == 0)
        declared = "image/png";
    if (declared == NULL) {
        core_reply_error(req, ERR_PARAM_INVALID,
                         "Content-Type must be image/jpeg or image/png, not '%.64s'", ct);
        return;
    }
    if (req->blob == NULL || req->blob_len == 0) {
        core_reply_error(req, ERR_PARAM_MISSING, "the request body must hold the image");
        return;
    }
    if (req->blob_len > PROFILE_PHOTO_MAX) {
        core_reply_error(req, ERR_BODY_TOO_LARGE, "the profile photo is larger than %u bytes",
                         PROFILE_PHOTO_MAX);
        return;
    }
    actual = profile_image_type(req->blob, req->blob_len);
    if (actual == NULL || strcmp(actual, declared) != 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "the body is not a valid %s image", declared);
        return;
    }
    hex = xmalloc(req->blob_len * 2 + 1);
    for (size_t i = 0; i < req->blob_len; i++) {
        unsigned char b = ((unsigned char *) req->blob)[i];
        hex[2 * i] = "0123456789abcdef"[b >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[b & 15];
    }
    hex[2 * req->blob_len] = '\0';
    params[0] = hex;
    params[1] = actual;
    change(pr, req, "UPDATE profile SET photo = decode($1, 'hex'), photo_type = $2,"
           " photo_updated_at = now(), updated_at = now() WHERE id = 1",
           2, params, changed_cb);
    free(hex);
}

static void
photo_del(struct core_req *req, void *arg)
{
    struct profile *pr = arg;

    /* deleting no photo is fine: the end state is what was asked for */
    change(pr, req, "UPDATE profile SET photo = NULL, photo_type = NULL,"
           " photo_updated_at = now(), updated_at = now() WHERE id = 1",
           0, NULL, changed_cb);
}

/* ---- /v1/settings/business/profile ---------------------------------------- */

static void
business_get_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct core_req *req = arg;
    json_t          *websites;

    if (err != ERR_OK || db_result_rows(res) != 1) {
        core_reply_error(req, ERR_DATABASE, "could not read the business profile");
        return;
    }
    websites = json_loads(db_result_get(res, 0, 4), 0, NULL);
    core_reply(req, 200, json_pack("{s:{s:{s:{s:s, s:s, s:s, s:s, s:o}}}}", "settings",
                                   "business", "profile",
                                   "address", db_result_get(res, 0, 0),
                                   "description", db_result_get(res, 0, 1),
                                   "email", db_result_get(res, 0, 2),
                                   "vertical", db_result_get(res, 0, 3),
                                   "websites", websites ? websites : json_array()));
}

static void
business_get(struct core_req *req, void *arg)
{
    struct profile *pr = arg;
    struct coreapp *app = pr->app;

    db_query(app->db, "SELECT address, description, email, vertical,"
             " array_to_json(websites)::text FROM business_profile WHERE id = 1",
             0, NULL, business_get_cb, req);
}

static void
business_set_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct change   *c = arg;
    struct core_req *req = c->req;
    struct profile  *p = c->p;

    free(c);
    if (err != ERR_OK) {
        log_warn(req->w.rid, "profile_write_failed", "reason=\"%s\"", db_result_error(res));
        core_reply_error(req, ERR_DATABASE, "could not save the business profile");
        return;
    }
    if (db_result_affected(res) == 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "vertical cannot be reset to empty once set");
        return;
    }
    core_reply(req, 200, NULL);
    push(p);
}

/* websites: an array of at most 2 http(s) URLs of at most 256 characters.
 * Returns its JSON text (heap) or NULL after replying. */
static char *
websites_or_reply(struct core_req *req, json_t *v)
{
    json_t *w;
    size_t  i;

    if (!json_is_array(v)) {
        core_reply_error(req, ERR_PARAM_INVALID, "websites must be an array of URLs");
        return NULL;
    }
    if (json_array_size(v) > BUSINESS_WEBSITES_MAX) {
        core_reply_error(req, ERR_PARAM_INVALID, "websites can hold at most %d URLs",
                         BUSINESS_WEBSITES_MAX);
        return NULL;
    }
    json_array_foreach(v, i, w) {
        const char *s = json_string_value(w);
        size_t      skip;

        if (s == NULL || strlen(s) != json_string_length(w)) {
            core_reply_error(req, ERR_PARAM_INVALID, "websites[%zu] must be a string", i);
            return NULL;
        }
        skip = strncasecmp(s, "https://", 8) == 0 ? 8 : strncasecmp(s, "http://", 7) == 0 ? 7 : 0;
        if (skip == 0 || s[skip] == '\0' || profile_utf8_len(s) > BUSINESS_TEXT_MAX) {
            core_reply_error(req, ERR_PARAM_INVALID, "websites[%zu] must be an http:// or "
                             "https:// URL of at most %d characters", i, BUSINESS_TEXT_MAX);
            return NULL;
        }
        for (const char *p = s; *p; p++) {
            if (isspace((unsigned char) *p) || (unsigned char) *p < 0x20) {
                core_reply_error(req, ERR_PARAM_INVALID, "websites[%zu] must not contain "
                                 "spaces", i);
                return NULL;
            }
        }
    }
    return json_dumps(v, JSON_COMPACT);
}

static void
business_set(struct core_req *req, void *arg)
{
    static const char *const allowed[] = {
        "address", "description", "email", "vertical", "websites"
    };
    struct profile *pr = arg;
    const char     *p[5];
    char           *websites = NULL;
    json_t         *w;
    bool            bad;
    size_t          i;

    if (core_known_keys_or_reply(req, allowed, 5) != 0)
        return;
    if (json_object_size(req->w.body) == 0) {
        core_reply_error(req, ERR_PARAM_MISSING, "at least one of address, description, "
                         "email, vertical, websites is required");
        return;
    }
    p[0] = text_field(req, "address", 0, BUSINESS_TEXT_MAX, &bad);
    if (bad)
        return;
    p[1] = text_field(req, "description", 0, BUSINESS_TEXT_MAX, &bad);
    if (bad)
        return;
    p[2] = text_field(req, "email", 0, BUSINESS_EMAIL_MAX, &bad);
    if (bad)
        return;
    if (p[2] != NULL && p[2][0] != '\0' && !profile_email_is_valid(p[2])) {
        core_reply_error(req, ERR_PARAM_INVALID, "email is not a valid e-mail address");
        return;
    }
    p[3] = text_field(req, "vertical", 0, 64, &bad);
    if (bad)
        return;
    for (i = 0; p[3] != NULL && p[3][0] != '\0' && i < sizeof(verticals) / sizeof(*verticals);
         i++)
        if (strcmp(p[3], verticals[i]) == 0)
            break;
    if (p[3] != NULL && p[3][0] != '\0' && i == sizeof(verticals) / sizeof(*verticals)) {
        core_reply_error(req, ERR_PARAM_INVALID, "vertical must be one of the documented "
                         "values (e.g. Automotive, Education, Restaurant, Other)");
        return;
    }
    if ((w = json_object_get(req->w.body, "websites")) != NULL &&
        (websites = websites_or_reply(req, w)) == NULL)
        return;
    p[4] = websites;
    /* One statement: the guard refuses to empty a vertical already set, and
     * fields not given keep their value. */
    change(pr,
           req, "UPDATE business_profile SET address = COALESCE($1, address),"
             " description = COALESCE($2, description), email = COALESCE($3, email),"
             " vertical = COALESCE($4, vertical),"
             " websites = CASE WHEN $5::text IS NULL THEN websites"
             "            ELSE ARRAY(SELECT json_array_elements_text($5::json)) END,"
             " updated_at = now()"
           " WHERE id = 1 AND NOT ($4::text IS NOT NULL AND $4::text = '' AND vertical <> '')",
           5, p, business_set_cb);
    free(websites);
}

void
profile_settings_init(struct coreapp *app)
{
    struct profile *p = xcalloc(1, sizeof(*p));

    p->app = app;
    app->profile = p;
    if (app->gw != NULL)
        gateway_on_link(app->gw, link_cb, p);
    dispatch_register(app->dispatch, WIRE_ABOUT_GET, about_get, p);
    dispatch_register(app->dispatch, WIRE_ABOUT_SET, about_set, p);
    dispatch_register(app->dispatch, WIRE_PHOTO_GET, photo_get, p);
    dispatch_register(app->dispatch, WIRE_PHOTO_SET, photo_set, p);
    dispatch_register(app->dispatch, WIRE_PHOTO_DEL, photo_del, p);
    dispatch_register(app->dispatch, WIRE_BUSINESS_PROFILE_GET, business_get, p);
    dispatch_register(app->dispatch, WIRE_BUSINESS_PROFILE_SET, business_set, p);
}

void
profile_settings_free(struct profile *p)
{
    if (p == NULL)
        return;
    p->closing = true;
    if (!p->in_flight)
        free(p);
}
