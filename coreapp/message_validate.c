/* message_validate.c - the checks of spec/API.md §6.1, one function per type.
 *
 * Every failure names the field by its path in the body ("template.components[1]
 * .parameters[0].currency.code"). The path lives in one fixed buffer that each
 * level extends and truncates again, so a valid message costs no allocation. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/phone.h"
#include "coreapp/message_validate.h"

/* ---- limits of §6.1.5 and §6.1.6 ----------------------------------------- */
#define IA_BODY_MAX          1024
#define IA_FOOTER_MAX        60
#define IA_HEADER_TEXT_MAX   60
#define IA_LIST_BUTTON_MAX   20
#define IA_SECTIONS_MAX      10
#define IA_SECTION_TITLE_MAX 24
#define IA_ROWS_MAX          10
#define IA_ROW_ID_MAX        200
#define IA_ROW_TITLE_MAX     24
#define IA_ROW_DESC_MAX      72
#define IA_BUTTONS_MAX       3
#define IA_REPLY_ID_MAX      256
#define IA_REPLY_TITLE_MAX   20
#define IA_PRODUCTS_MAX      30
#define TPL_QUICK_REPLY_MAX  3
#define TPL_URL_BUTTONS_MAX  2
#define REACTION_EMOJI_MAX   10     /* code points: one emoji with modifiers and joiners */

static const char *const type_names[MSG__COUNT] = {
    [MSG_TEXT] = "text", [MSG_IMAGE] = "image", [MSG_AUDIO] = "audio",
    [MSG_VIDEO] = "video", [MSG_DOCUMENT] = "document", [MSG_STICKER] = "sticker",
    [MSG_LOCATION] = "location", [MSG_CONTACTS] = "contacts",
    [MSG_INTERACTIVE] = "interactive", [MSG_TEMPLATE] = "template", [MSG_HSM] = "hsm",
    [MSG_REACTION] = "reaction",
};

const char *
msg_type_name(enum msg_type t)
{
    return t < MSG__COUNT ? type_names[t] : "unknown";
}

/* ---- the walk's state: where we are and what went wrong ------------------ */

struct vstate {
    char    path[256];
    size_t  plen;
    char   *det;
    size_t  detlen;
};

/* Appends a path segment; returns the length to give back to pop(). */
static size_t __attribute__((format(printf, 2, 3)))
push(struct vstate *v, const char *fmt, ...)
{
    size_t  old = v->plen;
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(v->path + v->plen, sizeof(v->path) - v->plen, fmt, ap);
    va_end(ap);
    if (n > 0)
        v->plen = v->plen + (size_t) n < sizeof(v->path) ? v->plen + (size_t) n
                                                          : sizeof(v->path) - 1;
    return old;
}

static void
pop(struct vstate *v, size_t old)
{
    v->plen = old;
    v->path[old] = '\0';
}

/* Records "path[.key]: reason" and returns e. */
static enum err_code __attribute__((format(printf, 4, 5)))
fail(struct vstate *v, enum err_code e, const char *key, const char *fmt, ...)
{
    va_list ap;
    int     n;

    if (v->det == NULL || v->detlen == 0)
        return e;
    n = snprintf(v->det, v->detlen, "%s%s%s: ", v->path, key && v->plen ? "." : "",
                 key ? key : "");
    if (n > 0 && (size_t) n < v->detlen) {
        va_start(ap, fmt);
        vsnprintf(v->det + n, v->detlen - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return e;
}

/* ---- small field readers ------------------------------------------------- */

size_t
msg_utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char) *s & 0xC0) != 0x80;
    return n;
}

/* The member, or NULL when absent or JSON null (null counts as "not given"). */
static json_t *
member(const json_t *o, const char *key)
{
    json_t *x = json_object_get(o, key);

    return json_is_null(x) ? NULL : x;
}

enum { F_REQ = 1, F_EMPTY_OK = 2 };

/* Reads a string member: absent -> 1008 if F_REQ (else *out = NULL); not a
 * string or empty (unless F_EMPTY_OK) -> 1009; longer than max code points
 * (max > 0) -> too_long. */
static enum err_code
str_field(struct vstate *v, const json_t *o, const char *key, int flags, size_t max,
          enum err_code too_long, const char **out)
{
    json_t     *x = member(o, key);
    const char *s;

    *out = NULL;
    if (x == NULL)
        return (flags & F_REQ) ? fail(v, ERR_PARAM_MISSING, key, "required") : ERR_OK;
    if (!json_is_string(x))
        return fail(v, ERR_PARAM_INVALID, key, "must be a string");
    s = json_string_value(x);
    if (s[0] == '\0' && !(flags & F_EMPTY_OK))
        return fail(v, ERR_PARAM_INVALID, key, "must not be empty");
    if (max > 0 && strlen(s) > max && msg_utf8_len(s) > max)
        return fail(v, too_long, key, "longer than %zu characters", max);
    *out = s;
    return ERR_OK;
}

#define STR(v, o, key, flags, max, out) \
    str_field(v, o, key, flags, max, ERR_PARAM_INVALID, out)

/* Reads an object member: absent -> 1008 if required; not an object -> 1009. */
static enum err_code
obj_field(struct vstate *v, const json_t *o, const char *key, bool required, json_t **out)
{
    json_t *x = member(o, key);

    *out = NULL;
    if (x == NULL)
        return required ? fail(v, ERR_PARAM_MISSING, key, "required") : ERR_OK;
    if (!json_is_object(x))
        return fail(v, ERR_PARAM_INVALID, key, "must be an object");
    *out = x;
    return ERR_OK;
}

static enum err_code
arr_field(struct vstate *v, const json_t *o, const char *key, bool required, json_t **out)
{
    json_t *x = member(o, key);

    *out = NULL;
    if (x == NULL)
        return required ? fail(v, ERR_PARAM_MISSING, key, "required") : ERR_OK;
    if (!json_is_array(x))
        return fail(v, ERR_PARAM_INVALID, key, "must be an array");
    *out = x;
    return ERR_OK;
}

static enum err_code
bool_field(struct vstate *v, const json_t *o, const char *key, bool *out)
{
    json_t *x = member(o, key);

    *out = false;
    if (x == NULL)
        return ERR_OK;
    if (!json_is_boolean(x))
        return fail(v, ERR_PARAM_INVALID, key, "must be a boolean");
    *out = json_is_true(x);
    return ERR_OK;
}

/* An integer, or a string of digits (the Postman collection quotes numbers),
 * within [lo, hi]. Absent -> 1008 if required. */
static enum err_code
int_field(struct vstate *v, const json_t *o, const char *key, bool required,
          long long lo, long long hi)
{
    json_t    *x = member(o, key);
    long long  n;
    char      *end;

    if (x == NULL)
        return required ? fail(v, ERR_PARAM_MISSING, key, "required") : ERR_OK;
    if (json_is_integer(x)) {
        n = json_integer_value(x);
    } else if (json_is_string(x) && json_string_value(x)[0] != '\0') {
        n = strtoll(json_string_value(x), &end, 10);
        if (*end != '\0')
            return fail(v, ERR_PARAM_INVALID, key, "must be an integer");
    } else {
        return fail(v, ERR_PARAM_INVALID, key, "must be an integer");
    }
    if (n < lo || n > hi)
        return fail(v, ERR_PARAM_INVALID, key, "must be between %lld and %lld", lo, hi);
    return ERR_OK;
}

/* A number or numeric string (both forms exist in the wild) within [lo, hi]. */
static enum err_code
coord_field(struct vstate *v, const json_t *o, const char *key, double lo, double hi)
{
    json_t *x = member(o, key);
    double  d;
    char   *end;

    if (x == NULL)
        return fail(v, ERR_PARAM_MISSING, key, "required");
    if (json_is_number(x)) {
        d = json_number_value(x);
    } else if (json_is_string(x) && json_string_value(x)[0] != '\0') {
        d = strtod(json_string_value(x), &end);
        if (*end != '\0')
            return fail(v, ERR_PARAM_INVALID, key, "must be a number");
    } else {
        return fail(v, ERR_PARAM_INVALID, key, "must be a number");
    }
    if (!isfinite(d) || d < lo || d > hi)
        return fail(v, ERR_PARAM_INVALID, key, "must be between %g and %g", lo, hi);
    return ERR_OK;
}

/* Case-insensitive membership in a NULL-terminated list. */
static bool
one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(s, *list) == 0)
            return true;
    return false;
}

static enum err_code
enum_field(struct vstate *v, const json_t *o, const char *key, int flags,
           const char *const *allowed)
{
    const char    *s;
    enum err_code  rc;

    if ((rc = STR(v, o, key, flags, 0, &s)) != ERR_OK || s == NULL)
        return rc;
    if (!one_of(s, allowed))
        return fail(v, ERR_PARAM_INVALID, key, "\"%s\" is not an accepted value", s);
    return ERR_OK;
}

static bool
is_http_url(const char *s)
{
    const char *host;

    if (strncasecmp(s, "https://", 8) == 0)
        host = s + 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        host = s + 7;
    else
        return false;
    return *host != '\0' && *host != '/' && strchr(host, ' ') == NULL;
}

/* ---- media (§6.1.2), also used by headers and template parameters ------- */

enum media_use { MEDIA_MESSAGE, MEDIA_HEADER, MEDIA_TEMPLATE };

/* The media object at v's path (already known to be an object). type is the
 * media kind; caption and filename are checked per kind and use. */
static enum err_code
check_media(struct vstate *v, const json_t *m, enum msg_type type, enum media_use use)
{
    const char    *id, *link, *s;
    json_t        *provider;
    enum err_code  rc;

    if ((rc = STR(v, m, "id", 0, 0, &id)) != ERR_OK ||
        (rc = STR(v, m, "link", 0, 0, &link)) != ERR_OK)
        return rc;
    if (id == NULL && link == NULL)
        return fail(v, ERR_PARAM_MISSING, "id", "one of id or link is required");
    if (id != NULL && link != NULL)
        return fail(v, ERR_PARAM_NOT_REQUIRED, "link", "give either id or link, not both");
    if (link != NULL && !is_http_url(link))
        return fail(v, ERR_PARAM_INVALID, "link", "must be an http:// or https:// URL");
    if ((rc = obj_field(v, m, "provider", false, &provider)) != ERR_OK)
        return rc;
    if (provider != NULL) {
        size_t old;

        if (link == NULL)
            return fail(v, ERR_PARAM_NOT_REQUIRED, "provider", "only used with link");
        old = push(v, ".provider");
        rc = STR(v, provider, "name", F_REQ, 0, &s);
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    if (member(m, "caption") != NULL) {
        if (use != MEDIA_MESSAGE)
            return fail(v, ERR_PARAM_NOT_REQUIRED, "caption",
                        "headers and template parameters have no caption");
        if (type != MSG_IMAGE && type != MSG_VIDEO && type != MSG_DOCUMENT)
            return fail(v, ERR_PARAM_NOT_REQUIRED, "caption",
                        "only image, video and document messages have a caption");
        if ((rc = STR(v, m, "caption", F_EMPTY_OK, 0, &s)) != ERR_OK)
            return rc;
    }
    if (member(m, "filename") != NULL) {
        if (type != MSG_DOCUMENT || use == MEDIA_HEADER)
            return fail(v, ERR_PARAM_NOT_REQUIRED, "filename",
                        "only documents have a filename");
        if ((rc = STR(v, m, "filename", 0, 0, &s)) != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

/* ---- text (§6.1.1) -------------------------------------------------------- */

static enum err_code
check_text(struct vstate *v, const json_t *t)
{
    const char    *body;
    bool           b;
    enum err_code  rc;

    if ((rc = str_field(v, t, "body", F_REQ, MSG_TEXT_MAX, ERR_MESSAGE_TOO_LONG, &body)) != ERR_OK)
        return rc;
    /* Cloud API clients put preview_url here; accept it, but typed. */
    return bool_field(v, t, "preview_url", &b);
}

/* ---- location (§6.1.3) ---------------------------------------------------- */

static enum err_code
check_location(struct vstate *v, const json_t *l)
{
    const char    *s;
    enum err_code  rc;

    if ((rc = coord_field(v, l, "longitude", -180, 180)) != ERR_OK ||
        (rc = coord_field(v, l, "latitude", -90, 90)) != ERR_OK ||
        (rc = STR(v, l, "name", F_EMPTY_OK, 0, &s)) != ERR_OK ||
        (rc = STR(v, l, "address", F_EMPTY_OK, 0, &s)) != ERR_OK)
        return rc;
    return ERR_OK;
}

/* ---- contacts (§6.1.4) ---------------------------------------------------- */

static const char *const home_work[] = { "HOME", "WORK", NULL };
static const char *const phone_types[] = { "CELL", "MAIN", "IPHONE", "HOME", "WORK", NULL };

/* Each element of arr (absent is fine) is an object whose listed string
 * members are strings, and whose "type" is one of types. */
static enum err_code
check_card_list(struct vstate *v, const json_t *card, const char *key,
                const char *const *fields, const char *const *types)
{
    json_t        *arr, *el;
    size_t         i, old;
    const char    *s;
    enum err_code  rc;

    if ((rc = arr_field(v, card, key, false, &arr)) != ERR_OK || arr == NULL)
        return rc;
    json_array_foreach(arr, i, el) {
        old = push(v, "%s%s[%zu]", v->plen ? "." : "", key, i);
        if (!json_is_object(el)) {
            rc = fail(v, ERR_PARAM_INVALID, NULL, "must be an object");
            goto out;
        }
        for (const char *const *f = fields; *f; f++)
            if ((rc = STR(v, el, *f, F_EMPTY_OK, 0, &s)) != ERR_OK)
                goto out;
        if (types != NULL && (rc = enum_field(v, el, "type", 0, types)) != ERR_OK)
            goto out;
        if (strcmp(key, "addresses") == 0) {
            if ((rc = STR(v, el, "country_code", 0, 0, &s)) != ERR_OK)
                goto out;
            if (s && (strlen(s) != 2 || !isalpha((unsigned char) s[0]) ||
                      !isalpha((unsigned char) s[1]))) {
                rc = fail(v, ERR_PARAM_INVALID, "country_code", "must be a 2-letter code");
                goto out;
            }
        }
out:
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

static bool
is_date(const char *s)
{
    int y, m, d;
    char tail;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return false;
    return y > 0 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static enum err_code
check_card(struct vstate *v, const json_t *card)
{
    static const char *const name_fields[] = { "first_name", "last_name", "middle_name",
                                               "prefix", "suffix", NULL };
    static const char *const addr_fields[] = { "street", "city", "state", "zip", "country",
                                               NULL };
    static const char *const email_fields[] = { "email", NULL };
    static const char *const phone_fields[] = { "phone", "wa_id", NULL };
    static const char *const url_fields[] = { "url", NULL };
    static const char *const org_fields[] = { "company", "department", "title", NULL };
    json_t        *name, *org, *ims;
    const char    *s;
    size_t         old;
    enum err_code  rc;

    if (!json_is_object(card))
        return fail(v, ERR_PARAM_INVALID, NULL, "must be an object");
    if ((rc = obj_field(v, card, "name", true, &name)) != ERR_OK)
        return rc;
    old = push(v, ".name");
    rc = STR(v, name, "formatted_name", F_REQ, 0, &s);
    for (const char *const *f = name_fields; rc == ERR_OK && *f; f++)
        rc = STR(v, name, *f, F_EMPTY_OK, 0, &s);
    pop(v, old);
    if (rc != ERR_OK)
        return rc;
    if ((rc = STR(v, card, "birthday", 0, 0, &s)) != ERR_OK)
        return rc;
    if (s != NULL && !is_date(s))
        return fail(v, ERR_PARAM_INVALID, "birthday", "must be YYYY-MM-DD");
    if ((rc = obj_field(v, card, "org", false, &org)) != ERR_OK)
        return rc;
    if (org != NULL) {
        old = push(v, ".org");
        for (const char *const *f = org_fields; rc == ERR_OK && *f; f++)
            rc = STR(v, org, *f, F_EMPTY_OK, 0, &s);
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    if ((rc = arr_field(v, card, "ims", false, &ims)) != ERR_OK)
        return rc;
    if ((rc = check_card_list(v, card, "addresses", addr_fields, home_work)) != ERR_OK ||
        (rc = check_card_list(v, card, "emails", email_fields, home_work)) != ERR_OK ||
        (rc = check_card_list(v, card, "phones", phone_fields, phone_types)) != ERR_OK ||
        (rc = check_card_list(v, card, "urls", url_fields, home_work)) != ERR_OK)
        return rc;
    return ERR_OK;
}

static enum err_code
check_contacts(struct vstate *v, const json_t *arr)
{
    json_t        *card;
    size_t         i, old;
    enum err_code  rc;

    if (json_array_size(arr) == 0)
        return fail(v, ERR_PARAM_INVALID, NULL, "must hold at least one contact");
    json_array_foreach(arr, i, card) {
        old = push(v, "[%zu]", i);
        rc = check_card(v, card);
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

/* ---- interactive (§6.1.5, §6.1.10) --------------------------------------- */

enum ia_kind { IA_LIST, IA_BUTTON, IA_PRODUCT, IA_PRODUCT_LIST, IA_LOCATION_REQUEST };

static const char *const ia_names[] = { "list", "button", "product", "product_list",
                                        "location_request_message", NULL };

/* {"text": "..."} with text ≤ max; absent -> 1008 if required. */
static enum err_code
check_text_obj(struct vstate *v, const json_t *ia, const char *key, bool required, size_t max)
{
    json_t        *o;
    const char    *s;
    size_t         old;
    enum err_code  rc;

    if ((rc = obj_field(v, ia, key, required, &o)) != ERR_OK || o == NULL)
        return rc;
    old = push(v, ".%s", key);
    rc = STR(v, o, "text", F_REQ, max, &s);
    pop(v, old);
    return rc;
}

/* The header's structure is 2036 (Invalid Header Structure); only a too
 * long text is 1009, as the limits table says. */
static enum err_code
check_ia_header(struct vstate *v, const json_t *ia, enum ia_kind kind)
{
    static const char *const text_only[] = { "text", NULL };
    static const char *const any_kind[] = { "text", "image", "video", "document", NULL };
    json_t        *h = member(ia, "header"), *m;
    const char    *type, *s;
    size_t         old;
    enum err_code  rc = ERR_OK;

    if (h == NULL) {
        if (kind == IA_PRODUCT_LIST)
            return fail(v, ERR_PARAM_MISSING, "header", "required for product_list");
        return ERR_OK;
    }
    if (kind == IA_PRODUCT || kind == IA_LOCATION_REQUEST)
        return fail(v, ERR_PARAM_NOT_REQUIRED, "header", "not allowed for %s",
                    ia_names[kind]);
    if (!json_is_object(h))
        return fail(v, ERR_INVALID_HEADER, "header", "must be an object");
    old = push(v, ".header");
    if (!json_is_string(member(h, "type"))) {
        rc = fail(v, ERR_INVALID_HEADER, "type", "required: %s",
                  kind == IA_BUTTON ? "text, image, video or document" : "text");
        goto out;
    }
    type = json_string_value(member(h, "type"));
    if (!one_of(type, kind == IA_BUTTON ? any_kind : text_only)) {
        rc = fail(v, ERR_INVALID_HEADER, "type", "\"%s\" is not allowed for %s", type,
                  ia_names[kind]);
        goto out;
    }
    if (strcasecmp(type, "text") == 0) {
        if (!json_is_string(member(h, "text")) || json_string_value(member(h, "text"))[0] == 0) {
            rc = fail(v, ERR_INVALID_HEADER, "text", "required for a text header");
            goto out;
        }
        rc = STR(v, h, "text", F_REQ, IA_HEADER_TEXT_MAX, &s);
        goto out;
    }
    m = member(h, type);
    if (!json_is_object(m)) {
        rc = fail(v, ERR_INVALID_HEADER, type, "required for a%s %s header",
                  type[0] == 'i' ? "n" : "", type);
        goto out;
    }
    push(v, ".%s", type);
    rc = check_media(v, m, strcasecmp(type, "image") == 0 ? MSG_IMAGE
                           : strcasecmp(type, "video") == 0 ? MSG_VIDEO : MSG_DOCUMENT,
                     MEDIA_HEADER);
out:
    pop(v, old);
    return rc;
}

/* Remembers ids and titles to find duplicates; the lists are short (≤ 10). */
static bool
seen_before(const json_t *arr, size_t upto, const char *k1, const char *k2, const char *val)
{
    for (size_t j = 0; j < upto; j++) {
        json_t *o = json_array_get(arr, j);
        if (k1)
            o = member(o, k1);
        o = member(o, k2);
        if (json_is_string(o) && strcmp(json_string_value(o), val) == 0)
            return true;
    }
    return false;
}

static enum err_code
check_list_rows(struct vstate *v, const json_t *section, size_t *total,
                const char **ids, size_t nids_max)
{
    json_t        *rows = member(section, "rows"), *row;
    const char    *id, *s;
    size_t         i, old;
    enum err_code  rc = ERR_OK;

    if (rows != NULL && !json_is_array(rows))
        return fail(v, ERR_PARAM_INVALID, "rows", "must be an array");
    if (json_array_size(rows) == 0)
        return fail(v, ERR_INVALID_ROWS, "rows", "each section needs at least one row");
    json_array_foreach(rows, i, row) {
        old = push(v, ".rows[%zu]", i);
        if (!json_is_object(row)) {
            rc = fail(v, ERR_PARAM_INVALID, NULL, "must be an object");
        } else if ((rc = STR(v, row, "id", F_REQ, IA_ROW_ID_MAX, &id)) == ERR_OK &&
                   (rc = STR(v, row, "title", F_REQ, IA_ROW_TITLE_MAX, &s)) == ERR_OK &&
                   (rc = STR(v, row, "description", F_EMPTY_OK, IA_ROW_DESC_MAX, &s)) == ERR_OK) {
            for (size_t j = 0; j < *total && j < nids_max; j++)
                if (strcmp(ids[j], id) == 0) {
                    rc = fail(v, ERR_PARAM_INVALID, "id", "\"%s\" is used by another row", id);
                    break;
                }
            if (rc == ERR_OK && *total < nids_max)
                ids[*total] = id;
        }
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
        if (++*total > IA_ROWS_MAX)
            return fail(v, ERR_INVALID_ROWS, "rows", "a list has at most %d rows in total",
                        IA_ROWS_MAX);
    }
    return ERR_OK;
}

static enum err_code
check_product_items(struct vstate *v, const json_t *section, size_t *total)
{
    json_t        *items = member(section, "product_items"), *it;
    const char    *s;
    size_t         i, old;
    enum err_code  rc = ERR_OK;

    if (items != NULL && !json_is_array(items))
        return fail(v, ERR_PARAM_INVALID, "product_items", "must be an array");
    if (json_array_size(items) == 0)
        return fail(v, ERR_INVALID_PRODUCT_COUNT, "product_items",
                    "each section needs at least one product");
    json_array_foreach(items, i, it) {
        old = push(v, ".product_items[%zu]", i);
        if (!json_is_object(it))
            rc = fail(v, ERR_PARAM_INVALID, NULL, "must be an object");
        else
            rc = STR(v, it, "product_retailer_id", F_REQ, 0, &s);
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
        if (++*total > IA_PRODUCTS_MAX)
            return fail(v, ERR_INVALID_PRODUCT_COUNT, "product_items",
                        "a product list has at most %d products in total", IA_PRODUCTS_MAX);
    }
    return ERR_OK;
}

/* sections of a list or product_list action (v is at ".action"). */
static enum err_code
check_sections(struct vstate *v, const json_t *action, enum ia_kind kind)
{
    json_t        *secs, *sec;
    const char    *ids[IA_ROWS_MAX], *s;
    size_t         i, old, total = 0, n;
    enum err_code  rc = ERR_OK;

    if ((rc = arr_field(v, action, "sections", true, &secs)) != ERR_OK)
        return rc;
    n = json_array_size(secs);
    if (n < 1 || n > IA_SECTIONS_MAX)
        return fail(v, ERR_INVALID_SECTIONS, "sections", "must hold 1 to %d sections, not %zu",
                    IA_SECTIONS_MAX, n);
    json_array_foreach(secs, i, sec) {
        old = push(v, ".sections[%zu]", i);
        if (!json_is_object(sec))
            rc = fail(v, ERR_PARAM_INVALID, NULL, "must be an object");
        else
            rc = STR(v, sec, "title", n > 1 ? F_REQ : 0, IA_SECTION_TITLE_MAX, &s);
        if (rc == ERR_OK)
            rc = kind == IA_LIST ? check_list_rows(v, sec, &total, ids, IA_ROWS_MAX)
                                 : check_product_items(v, sec, &total);
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

static enum err_code
check_reply_buttons(struct vstate *v, const json_t *action)
{
    static const char *const reply[] = { "reply", NULL };
    json_t        *btns, *b, *r;
    const char    *id, *title;
    size_t         i, old, n;
    enum err_code  rc = ERR_OK;

    if ((rc = arr_field(v, action, "buttons", true, &btns)) != ERR_OK)
        return rc;
    n = json_array_size(btns);
    if (n < 1 || n > IA_BUTTONS_MAX)
        return fail(v, ERR_PARAM_INVALID, "buttons", "must hold 1 to %d buttons, not %zu",
                    IA_BUTTONS_MAX, n);
    json_array_foreach(btns, i, b) {
        old = push(v, ".buttons[%zu]", i);
        if (!json_is_object(b)) {
            rc = fail(v, ERR_PARAM_INVALID, NULL, "must be an object");
            goto next;
        }
        if ((rc = enum_field(v, b, "type", F_REQ, reply)) != ERR_OK ||
            (rc = obj_field(v, b, "reply", true, &r)) != ERR_OK)
            goto next;
        push(v, ".reply");
        if ((rc = STR(v, r, "id", F_REQ, IA_REPLY_ID_MAX, &id)) != ERR_OK ||
            (rc = STR(v, r, "title", F_REQ, IA_REPLY_TITLE_MAX, &title)) != ERR_OK)
            goto next;
        if (seen_before(btns, i, "reply", "id", id))
            rc = fail(v, ERR_PARAM_INVALID, "id", "\"%s\" is used by another button", id);
        else if (seen_before(btns, i, "reply", "title", title))
            rc = fail(v, ERR_PARAM_INVALID, "title", "\"%s\" is used by another button", title);
next:
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

static enum err_code
check_ia_action(struct vstate *v, const json_t *ia, enum ia_kind kind)
{
    static const char *const send_location[] = { "send_location", NULL };
    json_t        *action;
    const char    *s;
    size_t         old;
    enum err_code  rc;

    if ((rc = obj_field(v, ia, "action", true, &action)) != ERR_OK)
        return rc;
    old = push(v, ".action");
    switch (kind) {
    case IA_LIST:
        if ((rc = STR(v, action, "button", F_REQ, IA_LIST_BUTTON_MAX, &s)) == ERR_OK)
            rc = check_sections(v, action, kind);
        break;
    case IA_BUTTON:
        rc = check_reply_buttons(v, action);
        break;
    case IA_PRODUCT:
        if ((rc = STR(v, action, "catalog_id", F_REQ, 0, &s)) == ERR_OK &&
            (rc = STR(v, action, "product_retailer_id", F_REQ, 0, &s)) == ERR_OK &&
            member(action, "sections") != NULL)
            rc = fail(v, ERR_PARAM_NOT_REQUIRED, "sections", "not used by a single product");
        break;
    case IA_PRODUCT_LIST:
        if ((rc = STR(v, action, "catalog_id", F_REQ, 0, &s)) == ERR_OK)
            rc = check_sections(v, action, kind);
        break;
    case IA_LOCATION_REQUEST:
        rc = enum_field(v, action, "name", F_REQ, send_location);
        break;
    }
    pop(v, old);
    return rc;
}

static enum err_code
check_interactive(struct vstate *v, const json_t *ia)
{
    const char    *type;
    enum ia_kind   kind = IA_LIST;
    enum err_code  rc;

    if ((rc = STR(v, ia, "type", F_REQ, 0, &type)) != ERR_OK)
        return rc;
    while (ia_names[kind] != NULL && strcmp(ia_names[kind], type) != 0)
        kind++;
    if (ia_names[kind] == NULL)
        return fail(v, ERR_PARAM_INVALID, "type",
                    "\"%s\" is not list, button, product, product_list or "
                    "location_request_message", type);
    if ((rc = check_ia_header(v, ia, kind)) != ERR_OK ||
        (rc = check_text_obj(v, ia, "body", kind != IA_PRODUCT, IA_BODY_MAX)) != ERR_OK ||
        (rc = check_text_obj(v, ia, "footer", false, IA_FOOTER_MAX)) != ERR_OK)
        return rc;
    return check_ia_action(v, ia, kind);
}

/* ---- template (§6.1.6) and hsm (§6.1.7) ---------------------------------- */

/* namespace: absent or empty is 2014, as documented for on-prem. */
static enum err_code
check_namespace(struct vstate *v, const json_t *t)
{
    json_t *ns = member(t, "namespace");

    if (ns == NULL || (json_is_string(ns) && json_string_value(ns)[0] == '\0'))
        return fail(v, ERR_NAMESPACE_EMPTY, "namespace", "required and must not be empty");
    if (!json_is_string(ns))
        return fail(v, ERR_PARAM_INVALID, "namespace", "must be a string");
    return ERR_OK;
}

/* "en", "en_US", "pt_BR", "zh_HK", "fil"... */
static bool
is_language_code(const char *s)
{
    size_t n = 0;

    while (islower((unsigned char) s[n]))
        n++;
    if (n < 2 || n > 3)
        return false;
    if (s[n] == '\0')
        return true;
    return s[n] == '_' && isupper((unsigned char) s[n + 1]) &&
           isupper((unsigned char) s[n + 2]) && s[n + 3] == '\0';
}

static enum err_code
check_language(struct vstate *v, const json_t *t, const char *const *policies)
{
    json_t        *lang;
    const char    *code;
    size_t         old;
    enum err_code  rc;

    if ((rc = obj_field(v, t, "language", true, &lang)) != ERR_OK)
        return rc;
    old = push(v, ".language");
    if ((rc = enum_field(v, lang, "policy", 0, policies)) == ERR_OK &&
        (rc = STR(v, lang, "code", F_REQ, 0, &code)) == ERR_OK && !is_language_code(code))
        rc = fail(v, ERR_PARAM_INVALID, "code", "\"%s\" is not a language or language_locale "
                  "code such as en or en_US", code);
    pop(v, old);
    return rc;
}

static enum err_code
check_date_parts(struct vstate *v, const json_t *o)
{
    enum err_code rc;

    if ((rc = int_field(v, o, "day_of_week", false, 1, 7)) != ERR_OK ||
        (rc = int_field(v, o, "day_of_month", false, 1, 31)) != ERR_OK ||
        (rc = int_field(v, o, "year", false, 1, 9999)) != ERR_OK ||
        (rc = int_field(v, o, "month", false, 1, 12)) != ERR_OK ||
        (rc = int_field(v, o, "hour", false, 0, 23)) != ERR_OK ||
        (rc = int_field(v, o, "minute", false, 0, 59)) != ERR_OK)
        return rc;
    return ERR_OK;
}

static bool
is_currency_code(const char *s)
{
    return strlen(s) == 3 && isupper((unsigned char) s[0]) && isupper((unsigned char) s[1]) &&
           isupper((unsigned char) s[2]);
}

/* The object named after a parameter's type ("currency": {...}). */
static enum err_code
check_param_value(struct vstate *v, const json_t *p, const char *type, enum msg_type media)
{
    json_t        *o;
    const char    *s;
    size_t         old;
    enum err_code  rc;

    if (strcmp(type, "text") == 0 || strcmp(type, "payload") == 0)
        return STR(v, p, type, F_REQ, 0, &s);
    if ((rc = obj_field(v, p, type, true, &o)) != ERR_OK)
        return rc;
    old = push(v, ".%s", type);
    if (strcmp(type, "currency") == 0) {
        if ((rc = STR(v, o, "fallback_value", F_REQ, 0, &s)) == ERR_OK &&
            (rc = STR(v, o, "code", F_REQ, 0, &s)) == ERR_OK && !is_currency_code(s))
            rc = fail(v, ERR_PARAM_INVALID, "code", "must be an ISO 4217 code such as USD");
        if (rc == ERR_OK)
            rc = int_field(v, o, "amount_1000", true, -1000000000000000LL, 1000000000000000LL);
    } else if (strcmp(type, "date_time") == 0) {
        if ((rc = STR(v, o, "fallback_value", F_REQ, 0, &s)) == ERR_OK &&
            (rc = check_date_parts(v, o)) == ERR_OK)
            rc = int_field(v, o, "timestamp", false, 0, 253402300799LL);
    } else {
        rc = check_media(v, o, media, MEDIA_TEMPLATE);
    }
    pop(v, old);
    return rc;
}

enum tpl_comp { TPL_HEADER, TPL_BODY, TPL_BUTTON };

static enum err_code
check_tpl_param(struct vstate *v, const json_t *p, enum tpl_comp comp, bool quick_reply)
{
    static const struct { const char *name; enum msg_type media; unsigned comps; } kinds[] = {
        { "text",      MSG_TEXT,     1u << TPL_HEADER | 1u << TPL_BODY | 1u << TPL_BUTTON },
        { "currency",  MSG_TEXT,     1u << TPL_HEADER | 1u << TPL_BODY },
        { "date_time", MSG_TEXT,     1u << TPL_HEADER | 1u << TPL_BODY },
        { "image",     MSG_IMAGE,    1u << TPL_HEADER },
        { "document",  MSG_DOCUMENT, 1u << TPL_HEADER },
        { "video",     MSG_VIDEO,    1u << TPL_HEADER },
        { "payload",   MSG_TEXT,     1u << TPL_BUTTON },
    };
    static const char *const comp_names[] = { "header", "body", "button" };
    const char    *type;
    size_t         k;
    enum err_code  rc;

    if (!json_is_object(p))
        return fail(v, ERR_PARAM_INVALID, NULL, "must be an object");
    if ((rc = STR(v, p, "type", F_REQ, 0, &type)) != ERR_OK)
        return rc;
    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (strcmp(kinds[k].name, type) == 0)
            break;
    if (k == sizeof(kinds) / sizeof(kinds[0]))
        return fail(v, ERR_PARAM_INVALID, "type", "\"%s\" is not text, currency, date_time, "
                    "image, document, video or payload", type);
    if (!(kinds[k].comps & (1u << comp)) ||
        (comp == TPL_BUTTON && !quick_reply && strcmp(type, "payload") == 0))
        return fail(v, ERR_PARAM_INVALID, "type", "a parameter of type %s is not allowed in a %s%s",
                    type, comp == TPL_BUTTON ? (quick_reply ? "quick_reply " : "url ") : "",
                    comp_names[comp]);
    return check_param_value(v, p, type, kinds[k].media);
}

static enum err_code
check_tpl_component(struct vstate *v, const json_t *c, bool seen[2], int *quick, int *urls)
{
    static const char *const comps[] = { "header", "body", "button", NULL };
    static const char *const subs[] = { "quick_reply", "url", NULL };
    json_t        *params, *p;
    const char    *type, *sub = NULL;
    enum tpl_comp  comp;
    size_t         i, old;
    enum err_code  rc;

    if (!json_is_object(c))
        return fail(v, ERR_PARAM_INVALID, NULL, "must be an object");
    if ((rc = enum_field(v, c, "type", F_REQ, comps)) != ERR_OK)
        return rc;
    type = json_string_value(member(c, "type"));
    comp = strcasecmp(type, "header") == 0 ? TPL_HEADER
           : strcasecmp(type, "body") == 0 ? TPL_BODY : TPL_BUTTON;
    if (comp != TPL_BUTTON) {
        if (seen[comp])
            return fail(v, ERR_PARAM_INVALID, "type", "only one %s component is allowed", type);
        seen[comp] = true;
    } else {
        if ((rc = enum_field(v, c, "sub_type", F_REQ, subs)) != ERR_OK)
            return rc;
        sub = json_string_value(member(c, "sub_type"));
        if ((rc = int_field(v, c, "index", true, 0, 2)) != ERR_OK)
            return rc;
        if (strcasecmp(sub, "quick_reply") == 0 ? ++*quick > TPL_QUICK_REPLY_MAX
                                                : ++*urls > TPL_URL_BUTTONS_MAX)
            return fail(v, ERR_PARAM_INVALID, "sub_type", "at most %d %s buttons",
                        strcasecmp(sub, "quick_reply") == 0 ? TPL_QUICK_REPLY_MAX
                                                            : TPL_URL_BUTTONS_MAX, sub);
    }
    if ((rc = arr_field(v, c, "parameters", comp == TPL_BUTTON, &params)) != ERR_OK)
        return rc;
    json_array_foreach(params, i, p) {
        old = push(v, ".parameters[%zu]", i);
        rc = check_tpl_param(v, p, comp, sub && strcasecmp(sub, "quick_reply") == 0);
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

static enum err_code
check_template(struct vstate *v, const json_t *t)
{
    static const char *const policies[] = { "deterministic", NULL };
    json_t        *comps, *c;
    const char    *s;
    bool           seen[2] = { false, false };
    int            quick = 0, urls = 0;
    size_t         i, old;
    enum err_code  rc;

    if ((rc = check_namespace(v, t)) != ERR_OK ||
        (rc = STR(v, t, "name", F_REQ, 0, &s)) != ERR_OK ||
        (rc = check_language(v, t, policies)) != ERR_OK ||
        (rc = arr_field(v, t, "components", false, &comps)) != ERR_OK)
        return rc;
    json_array_foreach(comps, i, c) {
        old = push(v, ".components[%zu]", i);
        rc = check_tpl_component(v, c, seen, &quick, &urls);
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

static enum err_code
check_hsm_param(struct vstate *v, const json_t *p)
{
    json_t        *cur, *dt, *comp, *epoch;
    const char    *s;
    size_t         old;
    enum err_code  rc;

    if (!json_is_object(p))
        return fail(v, ERR_PARAM_INVALID, NULL, "must be an object");
    if ((rc = STR(v, p, "default", F_REQ | F_EMPTY_OK, 0, &s)) != ERR_OK ||
        (rc = obj_field(v, p, "currency", false, &cur)) != ERR_OK ||
        (rc = obj_field(v, p, "date_time", false, &dt)) != ERR_OK)
        return rc;
    if (cur != NULL) {
        old = push(v, ".currency");
        if ((rc = STR(v, cur, "currency_code", F_REQ, 0, &s)) == ERR_OK && !is_currency_code(s))
            rc = fail(v, ERR_PARAM_INVALID, "currency_code", "must be an ISO 4217 code");
        if (rc == ERR_OK)
            rc = int_field(v, cur, "amount_1000", true, -1000000000000000LL, 1000000000000000LL);
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    if (dt != NULL) {
        old = push(v, ".date_time");
        if ((rc = obj_field(v, dt, "component", false, &comp)) == ERR_OK &&
            (rc = obj_field(v, dt, "unix_epoch", false, &epoch)) == ERR_OK) {
            if (comp == NULL && epoch == NULL) {
                rc = fail(v, ERR_PARAM_MISSING, "component", "component or unix_epoch required");
            } else if (comp != NULL && epoch != NULL) {
                rc = fail(v, ERR_PARAM_NOT_REQUIRED, "unix_epoch",
                          "give either component or unix_epoch");
            } else if (comp != NULL) {
                push(v, ".component");
                rc = check_date_parts(v, comp);
            } else {
                push(v, ".unix_epoch");
                rc = int_field(v, epoch, "timestamp", true, 0, 253402300799LL);
            }
        }
        pop(v, old);
    }
    return rc;
}

static enum err_code
check_hsm(struct vstate *v, const json_t *h)
{
    static const char *const policies[] = { "fallback", "deterministic", NULL };
    json_t        *params, *p;
    const char    *s;
    size_t         i, old;
    enum err_code  rc;

    if ((rc = check_namespace(v, h)) != ERR_OK ||
        (rc = STR(v, h, "element_name", F_REQ, 0, &s)) != ERR_OK ||
        (rc = check_language(v, h, policies)) != ERR_OK ||
        (rc = arr_field(v, h, "localizable_params", false, &params)) != ERR_OK)
        return rc;
    json_array_foreach(params, i, p) {
        old = push(v, ".localizable_params[%zu]", i);
        rc = check_hsm_param(v, p);
        pop(v, old);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

/* ---- reaction (§6.1.8) ---------------------------------------------------- */

static enum err_code
check_reaction(struct vstate *v, const json_t *r)
{
    const char    *s;
    enum err_code  rc;

    if ((rc = STR(v, r, "message_id", F_REQ, 0, &s)) != ERR_OK)
        return rc;
    /* empty removes the reaction; otherwise one emoji (with its modifiers) */
    return STR(v, r, "emoji", F_REQ | F_EMPTY_OK, REACTION_EMOJI_MAX, &s);
}

/* ---- the message as a whole ----------------------------------------------- */

enum err_code
msg_normalize_phone(const char *input, char *out, size_t outlen, void *arg)
{
    const char *cc = arg;
    char        wa_id[PHONE_MAX_DIGITS + 1];
    size_t      n = strlen(input);

    if (!phone_normalize(input, n, cc, wa_id)) {
        if (n == 0 || n > PHONE_MAX_DIGITS || strspn(input, "0123456789") != n ||
            !phone_is_valid_e164(input))
            return ERR_USER_NOT_VALID;
        memcpy(wa_id, input, n + 1);
    }
    if (strlen(wa_id) >= outlen)
        return ERR_USER_NOT_VALID;
    strcpy(out, wa_id);
    return ERR_OK;
}

/* "16315558032-1530825318": creator's number, dash, creation time. */
static bool
is_group_id(const char *s)
{
    const char *dash = strchr(s, '-');
    size_t      n = strlen(s);

    if (dash == NULL || dash == s || dash == s + n - 1 || n >= MSG_TO_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (p != dash && !isdigit((unsigned char) *p))
            return false;
    return true;
}

static enum err_code
check_recipient(struct vstate *v, const json_t *body, const struct msg_ctx *ctx,
                struct msg_valid *out)
{
    json_t        *rt = member(body, "recipient_type");
    const char    *to;
    enum err_code  rc;

    if ((rc = STR(v, body, "to", F_REQ, 0, &to)) != ERR_OK)
        return rc;
    if (rt != NULL) {
        if (!json_is_string(rt) || (strcmp(json_string_value(rt), "individual") != 0 &&
                                    strcmp(json_string_value(rt), "group") != 0))
            return fail(v, ERR_INVALID_RECIPIENT_TYPE, "recipient_type",
                        "must be individual or group");
        out->group = strcmp(json_string_value(rt), "group") == 0;
    }
    if (out->group) {
        if (!is_group_id(to))
            return fail(v, ERR_PARAM_INVALID, "to", "\"%.64s\" is not a group id", to);
        memcpy(out->to, to, strlen(to) + 1);
        return ERR_OK;
    }
    if (ctx && ctx->normalize)
        rc = ctx->normalize(to, out->to, sizeof(out->to), ctx->normalize_arg);
    else
        rc = msg_normalize_phone(to, out->to, sizeof(out->to),
                                 (void *) (ctx ? ctx->default_cc : NULL));
    if (rc != ERR_OK)
        return fail(v, rc, "to", "\"%.64s\" is not a valid WhatsApp user or phone number", to);
    return ERR_OK;
}

static enum err_code
check_type(struct vstate *v, const json_t *body, struct msg_valid *out)
{
    json_t     *t = member(body, "type");
    const char *name;
    int         k;

    out->type = MSG_TEXT;                       /* the documented default */
    if (t == NULL)
        return ERR_OK;
    if (!json_is_string(t))
        return fail(v, ERR_PARAM_INVALID, "type", "must be a string");
    name = json_string_value(t);
    for (k = 0; k < MSG__COUNT; k++)
        if (strcmp(type_names[k], name) == 0) {
            out->type = (enum msg_type) k;
            return ERR_OK;
        }
    return fail(v, ERR_PARAM_INVALID, "type", "\"%.32s\" is not a message type that can be sent",
                name);
}

/* preview_url, render_mentions, context: typed, and only where they mean
 * something. */
static enum err_code
check_options(struct vstate *v, const json_t *body, const struct msg_valid *m)
{
    json_t        *ctxo;
    bool           b;
    const char    *s;
    size_t         old;
    enum err_code  rc;

    if ((rc = bool_field(v, body, "preview_url", &b)) != ERR_OK)
        return rc;
    if (b && m->type != MSG_TEXT)
        return fail(v, ERR_PARAM_NOT_REQUIRED, "preview_url", "only text messages have a preview");
    if ((rc = bool_field(v, body, "render_mentions", &b)) != ERR_OK)
        return rc;
    if (b && (!m->group || m->type != MSG_TEXT))
        return fail(v, ERR_PARAM_NOT_REQUIRED, "render_mentions",
                    "only text messages to a group render mentions");
    if ((rc = obj_field(v, body, "context", false, &ctxo)) != ERR_OK || ctxo == NULL)
        return rc;
    if (m->type == MSG_REACTION)
        return fail(v, ERR_PARAM_NOT_REQUIRED, "context",
                    "a reaction names its message in reaction.message_id");
    old = push(v, "context");
    rc = STR(v, ctxo, "message_id", F_REQ, 0, &s);
    pop(v, old);
    return rc;
}

static enum err_code
check_object(struct vstate *v, const json_t *body, struct msg_valid *m)
{
    const char    *name = type_names[m->type];
    json_t        *o = member(body, name);
    size_t         old;
    enum err_code  rc;

    for (int k = 0; k < MSG__COUNT; k++)
        if (k != (int) m->type && member(body, type_names[k]) != NULL)
            return fail(v, ERR_PARAM_NOT_REQUIRED, type_names[k],
                        "not used by a message of type %s", name);
    if (o == NULL)
        return fail(v, ERR_PARAM_MISSING, name, "required for a message of type %s", name);
    if (m->type == MSG_CONTACTS ? !json_is_array(o) : !json_is_object(o))
        return fail(v, ERR_PARAM_INVALID, name, "must be %s",
                    m->type == MSG_CONTACTS ? "an array" : "an object");
    m->object = o;
    old = push(v, "%s", name);
    switch (m->type) {
    case MSG_TEXT:        rc = check_text(v, o); break;
    case MSG_IMAGE:
    case MSG_AUDIO:
    case MSG_VIDEO:
    case MSG_DOCUMENT:
    case MSG_STICKER:     rc = check_media(v, o, m->type, MEDIA_MESSAGE); break;
    case MSG_LOCATION:    rc = check_location(v, o); break;
    case MSG_CONTACTS:    rc = check_contacts(v, o); break;
    case MSG_INTERACTIVE: rc = check_interactive(v, o); break;
    case MSG_TEMPLATE:    rc = check_template(v, o); break;
    case MSG_HSM:         rc = check_hsm(v, o); break;
    case MSG_REACTION:    rc = check_reaction(v, o); break;
    default:              rc = ERR_INTERNAL; break;
    }
    pop(v, old);
    return rc;
}

enum err_code
msg_validate(const json_t *body, const struct msg_ctx *ctx, struct msg_valid *out,
             char *details, size_t detlen)
{
    struct vstate  v;
    enum err_code  rc;

    memset(out, 0, sizeof(*out));
    v.path[0] = '\0';
    v.plen = 0;
    v.det = details;
    v.detlen = detlen;
    if (details && detlen)
        details[0] = '\0';
    if (!json_is_object(body))
        return fail(&v, ERR_INVALID_REQUEST, "body", "must be a JSON object");
    if ((rc = check_recipient(&v, body, ctx, out)) != ERR_OK ||
        (rc = check_type(&v, body, out)) != ERR_OK ||
        (rc = check_object(&v, body, out)) != ERR_OK ||
        (rc = check_options(&v, body, out)) != ERR_OK)
        return rc;
    if (!out->group && ctx && ctx->self_wa_id && strcmp(out->to, ctx->self_wa_id) == 0)
        return fail(&v, ERR_BAD_USER, "to", "is the business's own number");
    return ERR_OK;
}
