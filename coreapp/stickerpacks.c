/* stickerpacks.c - third-party stickerpacks and their stickers. */
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/db.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/stickerpacks.h"

#define STR(x)  #x
#define XSTR(x) STR(x)

enum sp_op {
    SP_LIST, SP_CREATE, SP_GET, SP_UPDATE, SP_DELETE,
    SP_STICKERS, SP_STICKER_ADD, SP_STICKER_GET, SP_STICKER_UPDATE, SP_STICKER_DELETE,
    SP_BAD
};

struct sp_call {
    struct core_req *req;
    enum sp_op       op;
};

/* ---- request shape ---------------------------------------------------------- */

static enum sp_op
op_of(const struct core_req *req)
{
    const char *m = core_param(req, "_method"), *path = core_param(req, "_path");
    bool        pack = core_param(req, "stickerpack_id") != NULL;
    bool        sticker = core_param(req, "sticker_index") != NULL;
    size_t      len = path ? strlen(path) : 0;
    /* ".../stickers" (a trailing slash is allowed by the route matcher) */
    bool        stickers = (len >= 9 && strcmp(path + len - 9, "/stickers") == 0) ||
                           (len >= 10 && strcmp(path + len - 10, "/stickers/") == 0);

    if (m == NULL)
        return SP_BAD;
    if (!pack)
        return !strcmp(m, "GET") ? SP_LIST : !strcmp(m, "POST") ? SP_CREATE : SP_BAD;
    if (sticker)
        return !strcmp(m, "GET") ? SP_STICKER_GET : !strcmp(m, "PATCH") ? SP_STICKER_UPDATE
             : !strcmp(m, "DELETE") ? SP_STICKER_DELETE : SP_BAD;
    if (stickers)
        return !strcmp(m, "GET") ? SP_STICKERS : !strcmp(m, "POST") ? SP_STICKER_ADD : SP_BAD;
    return !strcmp(m, "GET") ? SP_GET : !strcmp(m, "PATCH") ? SP_UPDATE
         : !strcmp(m, "DELETE") ? SP_DELETE : SP_BAD;
}

/* namespace=whatsapp (1), third_party or absent (0), anything else (-1). */
static int
first_party(const char *query)
{
    for (const char *p = query; p != NULL && *p; ) {
        const char *end = strchr(p, '&');
        size_t      len = end ? (size_t) (end - p) : strlen(p);

        if (len >= 10 && strncmp(p, "namespace=", 10) == 0) {
            if (len == 18 && strncmp(p + 10, "whatsapp", 8) == 0)
                return 1;
            if (len == 21 && strncmp(p + 10, "third_party", 11) == 0)
                return 0;
            return -1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static size_t
utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char) *s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Field name of body: NULL if absent; otherwise a string of 1..max characters
 * with no control characters, or reply 1009 and set *bad. */
static const char *
str_field(struct core_req *req, const char *name, size_t max, bool *bad)
{
    json_t     *v = json_object_get(req->w.body, name);
    const char *s;

    *bad = false;
    if (v == NULL)
        return NULL;
    s = json_string_value(v);
    if (s == NULL || strlen(s) != json_string_length(v) || s[0] == '\0' ||
        utf8_len(s) > max) {
        core_reply_error(req, ERR_PARAM_INVALID, "%s must be a string of 1 to %zu characters",
                         name, max);
        *bad = true;
        return NULL;
    }
    for (const char *p = s; *p; p++) {
        if ((unsigned char) *p < 0x20) {
            core_reply_error(req, ERR_PARAM_INVALID, "%s must not contain control characters",
                             name);
            *bad = true;
            return NULL;
        }
    }
    return s;
}

static bool
has_prefix(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0 && s[strlen(prefix)] != '\0' &&
           strpbrk(s, " \t\r\n") == NULL;
}

/* The four pack fields into p[0..3] (NULL = not given). 0, or -1 after a reply. */
static int
pack_fields_or_reply(struct core_req *req, const char *p[4], bool create)
{
    bool bad;

    p[0] = str_field(req, "publisher", STICKERPACK_TEXT_MAX, &bad);
    if (bad)
        return -1;
    p[1] = str_field(req, "name", STICKERPACK_TEXT_MAX, &bad);
    if (bad)
        return -1;
    p[2] = str_field(req, "ios_app_store_link", STICKERPACK_LINK_MAX, &bad);
    if (bad)
        return -1;
    p[3] = str_field(req, "android_app_store_link", STICKERPACK_LINK_MAX, &bad);
    if (bad)
        return -1;
    if (create && (p[0] == NULL || p[1] == NULL)) {
        core_reply_error(req, ERR_PARAM_MISSING, "%s is required",
                         p[0] == NULL ? "publisher" : "name");
        return -1;
    }
    if (!create && !p[0] && !p[1] && !p[2] && !p[3]) {
        core_reply_error(req, ERR_PARAM_MISSING, "at least one of publisher, name, "
                         "ios_app_store_link, android_app_store_link is required");
        return -1;
    }
    if (p[2] != NULL && !has_prefix(p[2], "https://itunes.apple.com/") &&
        !has_prefix(p[2], "https://apps.apple.com/")) {
        core_reply_error(req, ERR_PARAM_INVALID, "ios_app_store_link must be an App Store "
                         "link (https://itunes.apple.com/app/id...)");
        return -1;
    }
    if (p[3] != NULL && !has_prefix(p[3], "https://play.google.com/store/apps/details?id=")) {
        core_reply_error(req, ERR_PARAM_INVALID, "android_app_store_link must be a Google Play "
                         "link (https://play.google.com/store/apps/details?id=...)");
        return -1;
    }
    return 0;
}

/* emojis: an array of at most 3 non-empty strings. Its JSON text (heap) in
 * *out, NULL if absent. 0, or -1 after a reply. */
static int
emojis_or_reply(struct core_req *req, char **out)
{
    json_t *v = json_object_get(req->w.body, "emojis"), *e;
    size_t  i;

    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > STICKER_EMOJIS_MAX) {
        core_reply_error(req, ERR_PARAM_INVALID, "emojis must be an array of at most %d "
                         "strings", STICKER_EMOJIS_MAX);
        return -1;
    }
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 32) {
            core_reply_error(req, ERR_PARAM_INVALID, "emojis[%zu] must be an emoji", i);
            return -1;
        }
    }
    *out = json_dumps(v, JSON_COMPACT);
    return 0;
}

/* sticker_index: a small non-negative integer; otherwise nothing can match. */
static bool
index_is_valid(const char *s)
{
    size_t n = strspn(s, "0123456789");

    return n > 0 && n <= 6 && s[n] == '\0';
}

/* ---- answers ------------------------------------------------------------------- */

static void
db_failed(struct core_req *req, const struct db_result *res)
{
    log_warn(req->w.rid, "stickerpacks_db_failed", "reason=\"%s\"", db_result_error(res));
    core_reply_error(req, ERR_DATABASE, "could not reach the stickerpacks store");
}

static json_t *
json_or_empty_array(const char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;

    return j ? j : json_array();
}

static void
sp_done(const struct db_result *res, enum err_code err, void *arg)
{
    struct sp_call  *c = arg;
    struct core_req *req = c->req;
    enum sp_op       op = c->op;
    json_t          *list;

    free(c);
    if (err != ERR_OK) {
        db_failed(req, res);
        return;
    }
    switch (op) {
    case SP_LIST:
        list = json_array();
        for (int r = 0; r < db_result_rows(res); r++)
            json_array_append_new(list, json_pack("{s:s}", "id", db_result_get(res, r, 0)));
        core_reply(req, 200, json_pack("{s:o}", "stickerpacks", list));
        return;
    case SP_CREATE:
        core_reply(req, 201, json_pack("{s:[{s:s}]}", "stickerpacks", "id",
                                       db_result_get(res, 0, 0)));
        return;
    case SP_GET:
        if (db_result_rows(res) != 1)
            break;
        core_reply(req, 200, json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "stickerpacks",
                                       "publisher", db_result_get(res, 0, 0),
                                       "name", db_result_get(res, 0, 1),
                                       "ios_app_store_link", db_result_get(res, 0, 2),
                                       "android_app_store_link", db_result_get(res, 0, 3)));
        return;
    case SP_UPDATE:
    case SP_DELETE:
    case SP_STICKER_UPDATE:
    case SP_STICKER_DELETE:
        if (db_result_affected(res) == 0)
            break;
        core_reply(req, 200, NULL);
        return;
    case SP_STICKERS:
        /* one row per sticker, or one row with a NULL index for an empty pack */
        if (db_result_rows(res) == 0)
            break;
        list = json_array();
        for (int r = 0; r < db_result_rows(res); r++)
            if (db_result_get(res, r, 0) != NULL)
                json_array_append_new(list, json_pack("{s:s}", "index",
                                                      db_result_get(res, r, 0)));
        core_reply(req, 200, json_pack("{s:o}", "stickers", list));
        return;
    case SP_STICKER_ADD:
        if (strcmp(db_result_get(res, 0, 0), "0") == 0)
            break;
        if (db_result_get(res, 0, 1) == NULL) {
            core_reply_error(req, ERR_PARAM_INVALID, "a stickerpack holds at most %d stickers",
                             STICKERPACK_STICKERS_MAX);
            return;
        }
        core_reply(req, 201, json_pack("{s:[{s:s}]}", "stickers", "index",
                                       db_result_get(res, 0, 1)));
        return;
    case SP_STICKER_GET:
        if (db_result_rows(res) != 1)
            break;
        core_reply(req, 200, json_pack("{s:[{s:s, s:o, s:s}]}", "stickers",
                                       "id", db_result_get(res, 0, 0),
                                       "emojis", json_or_empty_array(db_result_get(res, 0, 1)),
                                       "image_data_id", db_result_get(res, 0, 0)));
        return;
    case SP_BAD:
        break;
    }
    core_reply_error(req, ERR_NOT_FOUND, op >= SP_STICKERS && op != SP_STICKERS &&
                     op != SP_STICKER_ADD ? "no such sticker in this stickerpack"
                     : "no such stickerpack");
}

static void
query(struct coreapp *app, struct core_req *req, enum sp_op op, const char *sql, int n,
      const char *const *params)
{
    struct sp_call *c = xcalloc(1, sizeof(*c));

    c->req = req;
    c->op = op;
    db_query(app->db, sql, n, params, sp_done, c);
}

/* ---- the command ------------------------------------------------------------- */

static void
new_id(char out[33])
{
    unsigned char rnd[16];

    RAND_bytes(rnd, sizeof(rnd));
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

static void
pack_write(struct coreapp *app, struct core_req *req, enum sp_op op)
{
    const char *p[5];
    char        id[33];

    if (pack_fields_or_reply(req, p, op == SP_CREATE) != 0)
        return;
    if (op == SP_CREATE) {
        new_id(id);
        p[4] = id;
        query(app, req, op, "INSERT INTO stickerpacks (id, publisher, name, ios_app_store_link,"
              " android_app_store_link) VALUES ($5, $1, $2, COALESCE($3, ''), COALESCE($4, ''))"
              " RETURNING id", 5, p);
        return;
    }
    p[4] = core_param(req, "stickerpack_id");
    query(app, req, op, "UPDATE stickerpacks SET publisher = COALESCE($1, publisher),"
          " name = COALESCE($2, name), ios_app_store_link = COALESCE($3, ios_app_store_link),"
          " android_app_store_link = COALESCE($4, android_app_store_link) WHERE id = $5",
          5, p);
}

static void
sticker_write(struct coreapp *app, struct core_req *req, enum sp_op op)
{
    const char *p[4];
    char       *emojis = NULL;
    bool        bad;

    p[1] = str_field(req, "image_data_id", 128, &bad);
    if (bad || emojis_or_reply(req, &emojis) != 0)
        return;
    p[0] = core_param(req, "stickerpack_id");
    p[2] = emojis;
    if (op == SP_STICKER_ADD) {
        if (p[1] == NULL) {
            core_reply_error(req, ERR_PARAM_MISSING, "image_data_id is required");
            free(emojis);
            return;
        }
        /* answers (pack exists, new index or NULL when the pack is full) */
        query(app, req, op,
              "WITH pk AS (SELECT id, (SELECT count(*) FROM stickers WHERE pack_id = $1) AS n"
              "            FROM stickerpacks WHERE id = $1),"
              " up AS (UPDATE stickerpacks s SET next_sticker = s.next_sticker + 1 FROM pk"
              "        WHERE s.id = pk.id AND pk.n < " XSTR(STICKERPACK_STICKERS_MAX)
              "        RETURNING s.next_sticker - 1 AS idx),"
              " ins AS (INSERT INTO stickers (pack_id, idx, image_data_id, emojis)"
              "         SELECT $1, idx, $2,"
              "                ARRAY(SELECT json_array_elements_text(COALESCE($3, '[]')::json))"
              "         FROM up RETURNING idx)"
              " SELECT (SELECT count(*) FROM pk), (SELECT idx FROM ins)", 3, p);
    } else if (p[1] == NULL && emojis == NULL) {
        core_reply_error(req, ERR_PARAM_MISSING, "at least one of image_data_id, emojis is "
                         "required");
    } else {
        p[3] = core_param(req, "sticker_index");
        query(app, req, op, "UPDATE stickers SET image_data_id = COALESCE($2, image_data_id),"
              " emojis = CASE WHEN $3::text IS NULL THEN emojis"
              "          ELSE ARRAY(SELECT json_array_elements_text($3::json)) END"
              " WHERE pack_id = $1 AND idx = $4::int", 4, p);
    }
    free(emojis);
}

static void
stickerpacks_handle(struct core_req *req, void *arg)
{
    struct coreapp *app = arg;
    enum sp_op      op = op_of(req);
    int             ns = first_party(core_param(req, "_query"));
    const char     *p[2] = { core_param(req, "stickerpack_id"), core_param(req, "sticker_index") };

    if (op == SP_BAD) {
        core_reply_error(req, ERR_ENDPOINT_NOT_FOUND, "no such stickerpacks operation");
        return;
    }
    if (ns < 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "namespace must be whatsapp or third_party");
        return;
    }
    if (ns == 1) {
        /* WhatsApp's own packs are on its servers, out of this installation's reach */
        if (op == SP_LIST)
            core_reply(req, 200, json_pack("{s:[]}", "stickerpacks"));
        else if (op == SP_GET || op == SP_STICKERS || op == SP_STICKER_GET)
            core_reply_error(req, ERR_NOT_FOUND, "first-party (namespace=whatsapp) stickerpacks "
                             "are not available on this server");
        else
            core_reply_error(req, ERR_ACCESS_DENIED, "first-party stickerpacks can't be "
                             "created, changed or deleted");
        return;
    }
    if (p[1] != NULL && !index_is_valid(p[1])) {
        core_reply_error(req, ERR_NOT_FOUND, "no such sticker in this stickerpack");
        return;
    }
    switch (op) {
    case SP_LIST:
        query(app, req, op, "SELECT id FROM stickerpacks ORDER BY created_at, id", 0, NULL);
        break;
    case SP_CREATE:
    case SP_UPDATE:
        pack_write(app, req, op);
        break;
    case SP_GET:
        query(app, req, op, "SELECT publisher, name, ios_app_store_link, android_app_store_link"
              " FROM stickerpacks WHERE id = $1", 1, p);
        break;
    case SP_DELETE:
        query(app, req, op, "DELETE FROM stickerpacks WHERE id = $1", 1, p);
        break;
    case SP_STICKERS:
        query(app, req, op, "SELECT s.idx FROM stickerpacks p LEFT JOIN stickers s"
              " ON s.pack_id = p.id WHERE p.id = $1 ORDER BY s.idx", 1, p);
        break;
    case SP_STICKER_ADD:
    case SP_STICKER_UPDATE:
        sticker_write(app, req, op);
        break;
    case SP_STICKER_GET:
        query(app, req, op, "SELECT image_data_id, array_to_json(emojis)::text FROM stickers"
              " WHERE pack_id = $1 AND idx = $2::int", 2, p);
        break;
    case SP_STICKER_DELETE:
        query(app, req, op, "DELETE FROM stickers WHERE pack_id = $1 AND idx = $2::int", 2, p);
        break;
    case SP_BAD:
        break;
    }
}

void
stickerpacks_init(struct coreapp *app)
{
    dispatch_register(app->dispatch, WIRE_STICKERPACKS, stickerpacks_handle, app);
}
