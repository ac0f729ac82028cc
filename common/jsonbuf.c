/* jsonbuf.c - growing buffer and compact JSON writer (see jsonbuf.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "common/jsonbuf.h"
#include "common/xalloc.h"

static void
grow(struct jbuf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2 > 1024 ? (b->len + n + 1) * 2 : 1024;
        b->p = xrealloc(b->p, b->cap);
    }
}

void
jbuf_add(struct jbuf *b, const char *s, size_t n)
{
    grow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
jbuf_addc(struct jbuf *b, char c)
{
    grow(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

void
jbuf_adds(struct jbuf *b, const char *s)
{
    jbuf_add(b, s, strlen(s));
}

/* One load per byte instead of three comparisons: jbuf_str() reads every
 * byte of every string of every frame and journal line. */
static const bool must_escape[256] = {
    [0 ... 0x1f] = true, ['"'] = true, ['\\'] = true,
};

/* Escapes as jansson's dump does without JSON_ENSURE_ASCII/JSON_ESCAPE_SLASH:
 * '"', '\\' and control characters; UTF-8 goes through as it is. */
void
jbuf_str(struct jbuf *b, const char *s, size_t n)
{
    static const char hexd[] = "0123456789ABCDEF";
    const char       *end = s + n, *run = s;
    char             *o;

    grow(b, n + 2);
    b->p[b->len++] = '"';
    for (; s < end; s++) {
        unsigned char c = (unsigned char) *s;

        if (!must_escape[c])
            continue;
        jbuf_add(b, run, (size_t) (s - run));
        run = s + 1;
        grow(b, 6);
        o = b->p + b->len;
        o[0] = '\\';
        switch (c) {
        case '"':  o[1] = '"';  b->len += 2; continue;
        case '\\': o[1] = '\\'; b->len += 2; continue;
        case '\b': o[1] = 'b';  b->len += 2; continue;
        case '\f': o[1] = 'f';  b->len += 2; continue;
        case '\n': o[1] = 'n';  b->len += 2; continue;
        case '\r': o[1] = 'r';  b->len += 2; continue;
        case '\t': o[1] = 't';  b->len += 2; continue;
        default:
            memcpy(o + 1, "u00", 3);
            o[4] = hexd[c >> 4];
            o[5] = hexd[c & 15];
            b->len += 6;
        }
    }
    jbuf_add(b, run, (size_t) (s - run));
    jbuf_addc(b, '"');
}

void
jbuf_int(struct jbuf *b, long long v)
{
    char               tmp[24];
    int                i = sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long) v : (unsigned long long) v;

    do {
        tmp[--i] = (char) ('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[--i] = '-';
    jbuf_add(b, tmp + i, sizeof(tmp) - (size_t) i);
}

static int
dump_cb(const char *s, size_t n, void *arg)
{
    jbuf_add(arg, s, n);
    return 0;
}

void
jbuf_json(struct jbuf *b, const json_t *v)
{
    const char *key;
    json_t     *item;
    size_t      i;
    int         first = 1;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        jbuf_addc(b, '{');
        json_object_foreach((json_t *) v, key, item) {
            if (!first)
                jbuf_addc(b, ',');
            first = 0;
            jbuf_str(b, key, strlen(key));
            jbuf_addc(b, ':');
            jbuf_json(b, item);
        }
        jbuf_addc(b, '}');
        break;
    case JSON_ARRAY:
        jbuf_addc(b, '[');
        json_array_foreach((json_t *) v, i, item) {
            if (i > 0)
                jbuf_addc(b, ',');
            jbuf_json(b, item);
        }
        jbuf_addc(b, ']');
        break;
    case JSON_STRING:
        jbuf_str(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jbuf_int(b, (long long) json_integer_value(v));
        break;
    case JSON_REAL:                     /* rare here: jansson's own formatting */
        json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY);
        break;
    case JSON_TRUE:
        jbuf_add(b, "true", 4);
        break;
    case JSON_FALSE:
        jbuf_add(b, "false", 5);
        break;
    case JSON_NULL:
        jbuf_add(b, "null", 4);
        break;
    }
}

char *
jbuf_take(struct jbuf *b, size_t *len)
{
    char *p;

    if (b->p == NULL)
        jbuf_add(b, "", 0);
    p = b->p;
    if (len != NULL)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void
jbuf_reset(struct jbuf *b)
{
    b->len = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

void
jbuf_free(struct jbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *
jbuf_dumps(const json_t *v, size_t *len)
{
    struct jbuf b = JBUF_INIT;

    jbuf_json(&b, v);
    return jbuf_take(&b, len);
}

/* ---- parsing ---------------------------------------------------------------- */

#define PARSE_MAX_DEPTH 2048            /* jansson's JSON_PARSER_MAX_DEPTH */

struct parser {
    const char *p, *end;
    size_t      flags;
    int         depth;
    struct jbuf str;                    /* unescaped string being read */
};

static void
skip_ws(struct parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0: the rules of
 * jansson's utf8_check_*: no overlong forms, no surrogates, <= U+10FFFF. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], v;
    size_t   len;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, v = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, v = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ||
        (len == 4 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    return len;
}

bool
jbuf_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = utf8_len((const unsigned char *) s + i, n - i)) == 0 || s[i] == '\0')
            return false;
    return true;
}

/* A string after its opening quote, unescaped into ps->str; -1 to give up. */
static int
parse_string(struct parser *ps)
{
    const char *run;

    jbuf_reset(&ps->str);
    run = ps->p;
    while (ps->p < ps->end) {
        unsigned char c = (unsigned char) *ps->p;
        size_t        n;

        if (c == '"') {
            jbuf_add(&ps->str, run, (size_t) (ps->p - run));
            ps->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            char e;

            jbuf_add(&ps->str, run, (size_t) (ps->p - run));
            if (++ps->p >= ps->end)
                return -1;
            switch (*ps->p) {
            case '"':  e = '"';  break;
            case '\\': e = '\\'; break;
            case '/':  e = '/';  break;
            case 'b':  e = '\b'; break;
            case 'f':  e = '\f'; break;
            case 'n':  e = '\n'; break;
            case 'r':  e = '\r'; break;
            case 't':  e = '\t'; break;
            default:   return -1;               /* \u and errors: jansson's */
            }
            jbuf_addc(&ps->str, e);
            run = ++ps->p;
            continue;
        }
        if (c < 0x80) {
            ps->p++;
            continue;
        }
        if ((n = utf8_len((const unsigned char *) ps->p, (size_t) (ps->end - ps->p))) == 0)
            return -1;
        ps->p += n;
    }
    return -1;
}

static json_t *parse_value(struct parser *ps);

static json_t *
parse_number(struct parser *ps)
{
    const char        *start = ps->p;
    unsigned long long v = 0;
    bool               neg = false;

    if (*ps->p == '-') {
        neg = true;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return NULL;
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9')
        return NULL;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        if (ps->p - start >= 18)
            return NULL;                        /* near the limits: jansson decides */
        v = v * 10 + (unsigned long long) (*ps->p++ - '0');
    }
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
        return NULL;                            /* a real */
    return json_integer(neg ? -(json_int_t) v : (json_int_t) v);
}

static json_t *
parse_object(struct parser *ps)
{
    json_t *obj = json_object(), *v;
    char    small[128], *key;

    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    for (;;) {
        size_t before;

        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"')
            goto fail;
        ps->p++;
        if (parse_string(ps) != 0)
            goto fail;
        /* the value may be a string too: the key must leave ps->str first */
        key = ps->str.len < sizeof(small) ? small : xmalloc(ps->str.len + 1);
        memcpy(key, ps->str.p ? ps->str.p : "", ps->str.len);
        key[ps->str.len] = '\0';
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':' || (ps->p++, (v = parse_value(ps)) == NULL)) {
            if (key != small)
                free(key);
            goto fail;
        }
        before = json_object_size(obj);
        json_object_set_new_nocheck(obj, key, v);
        if (key != small)
            free(key);
        /* a duplicate replaces the earlier value, as jansson does, unless
         * the caller refuses duplicates */
        if (json_object_size(obj) == before && (ps->flags & JSON_REJECT_DUPLICATES))
            goto fail;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return obj;
        }
        goto fail;
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *
parse_array(struct parser *ps)
{
    json_t *arr = json_array(), *v;

    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    for (;;) {
        if ((v = parse_value(ps)) == NULL)
            goto fail;
        json_array_append_new(arr, v);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return arr;
        }
        goto fail;
    }
fail:
    json_decref(arr);
    return NULL;
}

static bool
literal(struct parser *ps, const char *word, size_t n)
{
    if ((size_t) (ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static json_t *
parse_value(struct parser *ps)
{
    json_t *v = NULL;

    skip_ws(ps);
    if (ps->p >= ps->end)
        return NULL;
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > PARSE_MAX_DEPTH)
            return NULL;
        v = *ps->p++ == '{' ? parse_object(ps) : parse_array(ps);
        ps->depth--;
        return v;
    case '"':
        ps->p++;
        if (parse_string(ps) != 0)
            return NULL;
        return json_stringn_nocheck(ps->str.p ? ps->str.p : "", ps->str.len);
    case 't':
        return literal(ps, "true", 4) ? json_true() : NULL;
    case 'f':
        return literal(ps, "false", 5) ? json_false() : NULL;
    case 'n':
        return literal(ps, "null", 4) ? json_null() : NULL;
    default:
        return parse_number(ps);
    }
}

json_t *
jbuf_loadb(const char *buf, size_t len, size_t flags)
{
    struct parser ps = { buf, buf + len, flags, 0, JBUF_INIT };
    json_t       *v = NULL;

    if ((flags & ~(size_t) (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)) == 0) {
        skip_ws(&ps);
        if (ps.p < ps.end && ((flags & JSON_DECODE_ANY) || *ps.p == '{' || *ps.p == '['))
            v = parse_value(&ps);
        skip_ws(&ps);
        if (v != NULL && ps.p != ps.end) {
            json_decref(v);
            v = NULL;
        }
        jbuf_free(&ps.str);
        if (v != NULL)
            return v;
    }
    return json_loadb(buf, len, flags, NULL);
}
