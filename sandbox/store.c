/* store.c - collections of JSON objects with an append-only journal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/jsonbuf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "sandbox/store.h"

#define JOURNAL "state.jsonl"

struct store {
    char   *path;        /* the journal */
    int     fd;          /* O_APPEND */
    json_t *root;        /* coll -> (key -> value) */
    json_t *texts;       /* coll -> (key -> its last journal line, a string) */
    long    lines;       /* journal lines since the last compaction */
    int     held;        /* store_hold() depth */
    json_t *dirty;       /* while held: "<coll>\n<key>" -> true, changed keys */
    struct jbuf out;     /* journal text being built */
};

static int
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t) n;
    }
    return 0;
}

static json_t *
coll_texts(struct store *st, const char *coll)
{
    json_t *c = json_object_get(st->texts, coll);

    if (c == NULL) {
        c = json_object();
        json_object_set_new(st->texts, coll, c);
    }
    return c;
}

/* Adds one record to st->out: {"c":coll,"k":key,"v":v}, or "d":true (v NULL,
 * a deletion). A value's line is also kept, so that compacting copies text
 * instead of writing every value out again (50,000 messages: 250 ms before). */
static void
record(struct store *st, const char *coll, const char *key, json_t *v)
{
    size_t start = st->out.len;

    jbuf_add(&st->out, "{\"c\":", 5);
    jbuf_str(&st->out, coll, strlen(coll));
    jbuf_add(&st->out, ",\"k\":", 5);
    jbuf_str(&st->out, key, strlen(key));
    if (v != NULL) {
        jbuf_add(&st->out, ",\"v\":", 5);
        jbuf_json(&st->out, v);
        jbuf_add(&st->out, "}\n", 2);
        json_object_set_new(coll_texts(st, coll), key,
                            json_stringn_nocheck(st->out.p + start, st->out.len - start));
    } else {
        jbuf_add(&st->out, ",\"d\":true}\n", 11);
        json_object_del(coll_texts(st, coll), key);
    }
    st->lines++;
}

/* Writes st->out to the journal, in one write(2) when it can. */
static void
out_write(struct store *st)
{
    if (st->out.len > 0 && write_all(st->fd, st->out.p, st->out.len) != 0)
        log_error(NULL, "state_write_failed", "path=%s reason=\"%s\"", st->path,
                  strerror(errno));
    jbuf_reset(&st->out);
}

/* "<coll>\n<key>", the key of st->dirty (heap). */
static char *
dirty_key(const char *coll, const char *key)
{
    size_t lc = strlen(coll), lk = strlen(key);
    char  *dk = xmalloc(lc + lk + 2);

    memcpy(dk, coll, lc);
    dk[lc] = '\n';                          /* never in a collection name */
    memcpy(dk + lc + 1, key, lk + 1);
    return dk;
}

/* Appends one record at once, or (held) notes that coll/key changed. */
static void
journal(struct store *st, const char *coll, const char *key, json_t *v)
{
    if (st->held > 0) {
        char *dk = dirty_key(coll, key);

        json_object_set_new(st->dirty, dk, json_true());    /* a later change: not cooled */
        free(dk);
        return;
    }
    record(st, coll, key, v);
    out_write(st);
}

static json_t *
coll_get(struct store *st, const char *coll, int create)
{
    json_t *c = json_object_get(st->root, coll);

    if (c == NULL && create) {
        c = json_object();
        json_object_set_new(st->root, coll, c);
    }
    return c;
}

static void
apply(struct store *st, json_t *rec)
{
    const char *coll = json_string_value(json_object_get(rec, "c"));
    const char *key = json_string_value(json_object_get(rec, "k"));
    json_t     *v = json_object_get(rec, "v");

    if (coll == NULL || key == NULL)
        return;
    if (v != NULL)
        json_object_set(coll_get(st, coll, 1), key, v);
    else
        json_object_del(coll_get(st, coll, 1), key);
}

/* Writes every live value to a new journal and swaps it in. */
static int
compact(struct store *st)
{
    char       *tmp = xmalloc(strlen(st->path) + 5);
    const char *coll, *key;
    json_t     *c, *v;
    int         fd, old = st->fd;
    long        before = st->lines, records = 0;
    int64_t     t0 = clock_mono_us(), ms;

    sprintf(tmp, "%s.tmp", st->path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error(NULL, "state_open_failed", "path=%s reason=\"%s\"", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    st->fd = fd;
    json_object_foreach(st->root, coll, c) {
        json_t *texts = coll_texts(st, coll), *line;

        json_object_foreach(c, key, v) {
            if ((line = json_object_get(texts, key)) != NULL) {
                jbuf_add(&st->out, json_string_value(line), json_string_length(line));
                st->lines++;
            } else {
                record(st, coll, key, v);
            }
            records++;
            if (st->out.len >= 1 << 20)
                out_write(st);
        }
    }
    out_write(st);
    if (fsync(fd) != 0 || rename(tmp, st->path) != 0) {
        log_error(NULL, "state_compact_failed", "path=%s reason=\"%s\"", st->path,
                  strerror(errno));
        close(fd);
        st->fd = old;
        free(tmp);
        return -1;
    }
    if (old >= 0)
        close(old);
    st->lines = 0;
    free(tmp);
    ms = (clock_mono_us() - t0) / 1000;
    /* the loop stops meanwhile: worth seeing when it gets long */
    if (ms >= 100)
        log_warn(NULL, "state_compacted", "lines=%ld records=%ld ms=%lld", before, records,
                 (long long) ms);
    else
        log_info(NULL, "state_compacted", "lines=%ld records=%ld ms=%lld", before, records,
                 (long long) ms);
    return 0;
}

struct store *
store_open(const char *dir)
{
    struct store *st = xcalloc(1, sizeof(*st));
    FILE         *f;
    char         *line = NULL;
    size_t        cap = 0;
    long          n = 0;

    st->fd = -1;
    st->root = json_object();
    st->texts = json_object();
    st->dirty = json_object();
    st->path = xmalloc(strlen(dir) + sizeof(JOURNAL) + 2);
    sprintf(st->path, "%s/%s", dir, JOURNAL);
    if ((f = fopen(st->path, "r")) != NULL) {
        while (getline(&line, &cap, f) > 0) {
            json_t *rec = json_loads(line, 0, NULL);

            /* a torn last line (crash mid-write) is skipped */
            if (rec != NULL)
                apply(st, rec);
            json_decref(rec);
            n++;
        }
        free(line);
        fclose(f);
    }
    if (compact(st) != 0) {
        store_close(st);
        return NULL;
    }
    log_info(NULL, "state_loaded", "path=%s records=%ld", st->path, n);
    return st;
}

void
store_close(struct store *st)
{
    if (st == NULL)
        return;
    while (st->held > 0)
        store_release(st);
    if (st->fd >= 0)
        close(st->fd);
    json_decref(st->root);
    json_decref(st->texts);
    json_decref(st->dirty);
    jbuf_free(&st->out);
    free(st->path);
    free(st);
}

/* The value of a cooled key, back from its journal line (store_cool()). */
static json_t *
warm(struct store *st, const char *coll, const char *key)
{
    json_t *line = json_object_get(coll_texts(st, coll), key), *rec, *v;

    rec = line ? jbuf_loadb(json_string_value(line), json_string_length(line), 0) : NULL;
    v = json_object_get(rec, "v");
    if (!json_is_object(v)) {            /* can't be: it was journalled from an object */
        log_error(NULL, "state_warm_failed", "coll=%s key=%s", coll, key);
        json_decref(rec);
        return NULL;
    }
    json_object_set(coll_get(st, coll, 0), key, v);
    json_decref(rec);
    return v;
}

json_t *
store_get(struct store *st, const char *coll, const char *key)
{
    json_t *v = json_object_get(coll_get(st, coll, 0), key);

    return v == NULL || json_is_object(v) ? v : warm(st, coll, key);
}

void
store_cool(struct store *st, const char *coll, const char *key, json_t *stub)
{
    json_t *c = coll_get(st, coll, 0);
    char   *dk;

    if (json_is_object(stub) || c == NULL || !json_is_object(json_object_get(c, key))) {
        json_decref(stub);
        return;
    }
    if (st->held == 0) {                 /* journalled at its last change: text is current */
        json_object_set_new(c, key, stub);
        return;
    }
    dk = dirty_key(coll, key);           /* at the release, once journalled */
    json_object_set_new(st->dirty, dk, stub);
    free(dk);
}

json_t *
store_coll(struct store *st, const char *coll)
{
    return coll_get(st, coll, 1);
}

static void
maybe_compact(struct store *st)
{
    size_t      live = 0;
    const char *coll;
    json_t     *c;

    if (st->lines < 20000 || st->held > 0)
        return;
    json_object_foreach(st->root, coll, c)
        live += json_object_size(c);
    if ((size_t) st->lines > 4 * live)
        compact(st);
}

void
store_put(struct store *st, const char *coll, const char *key, json_t *obj)
{
    json_object_set_new(coll_get(st, coll, 1), key, obj);
    journal(st, coll, key, obj);
    maybe_compact(st);
}

void
store_save(struct store *st, const char *coll, const char *key)
{
    json_t *v = store_get(st, coll, key);

    if (v != NULL) {
        journal(st, coll, key, v);
        maybe_compact(st);
    }
}

void
store_del(struct store *st, const char *coll, const char *key)
{
    json_t *c = coll_get(st, coll, 0);

    if (c == NULL || json_object_get(c, key) == NULL)
        return;
    journal(st, coll, key, NULL);     /* first: key may be the object's own key */
    json_object_del(c, key);
    maybe_compact(st);
}

void
store_hold(struct store *st)
{
    st->held++;
}

void
store_release(struct store *st)
{
    const char *dk;
    json_t     *t;

    if (st->held == 0 || --st->held > 0)
        return;
    json_object_foreach(st->dirty, dk, t) {
        const char *nl = strchr(dk, '\n');
        char        coll[256];
        size_t      lc = (size_t) (nl - dk);
        json_t     *c, *v;

        if (lc >= sizeof(coll))
            continue;                       /* collection names are short literals */
        memcpy(coll, dk, lc);
        coll[lc] = '\0';
        c = coll_get(st, coll, 0);
        v = json_object_get(c, nl + 1);
        if (v != NULL && !json_is_object(v))
            continue;                       /* cooled before: its line is current */
        record(st, coll, nl + 1, v);
        if (v != NULL && !json_is_true(t))  /* store_cool(): the stub takes its place */
            json_object_set(c, nl + 1, t);
    }
    json_object_clear(st->dirty);
    out_write(st);
    maybe_compact(st);
}
