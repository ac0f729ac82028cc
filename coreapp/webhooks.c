/* webhooks.c - the callback dispatcher (libcurl multi on libevent), the
 * claim protocol on wa_callbacks, and the webhook CA commands.
 *
 * A callback the dispatcher holds is an entry in exactly one of three lists:
 * ready (waiting for a free request slot), waiting (its back-off timer runs)
 * or in_flight (a curl transfer). Rows come into memory by being claimed:
 * the dispatcher's connection holds the advisory lock (727005, token) and
 * writes token into claimed_by, so that concurrent producers' rows committed
 * in any order are all found (claimed_by IS NULL), two coreapps never load
 * the same row, and the claims of a dead session (its lock gone) are released
 * for the next one. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/settings.h"
#include "coreapp/stats.h"
#include "coreapp/webhooks.h"

#define LOCK_CLASS       "727005"    /* advisory lock key 1 (sql/005) */
#define CLAIM_BATCH      1000
#define JANITOR_S        30          /* release dead sessions' claims this often */

static const char *const kind_names[WEBHOOK__COUNT] = {
    "inbound_message", "status_change", "system", "service", "error"
};

/* System CAs plus the uploaded ones, in a file of their own that libcurl
 * loads by path (CURLOPT_CAINFO) when it opens a connection: as a blob
 * (CURLOPT_CAINFO_BLOB) the bundle, some 200 KB, would be copied and compared
 * byte by byte on every transfer, a third of the dispatcher's time at
 * thousands of callbacks a second. Shared by the transfers that use it; the
 * file goes with the last of them, and a new CA gets a new file (a new path:
 * connections verified with the old one are not reused). */
struct ca_blob {
    int    refs;
    char   path[];
};

enum entry_state { ENTRY_READY, ENTRY_WAITING, ENTRY_IN_FLIGHT };

struct entry {
    TAILQ_ENTRY(entry)  link;
    struct webhooks    *w;
    int64_t             id;          /* row id; 0 = memory only */
    enum webhook_kind   kind;
    char               *body;
    size_t              len;
    int                 failures;    /* consecutive */
    enum entry_state    state;
    struct event       *timer;       /* back-off; made on first failure */
    /* while in flight */
    CURL               *easy;
    struct curl_slist  *headers;
    struct ca_blob     *ca;
    char               *errbuf;
    int64_t             started_ms;
};
TAILQ_HEAD(entry_list, entry);

struct webhooks {
    struct coreapp    *app;
    struct event_base *base;
    struct db         *db;
    CURLM             *multi;
    struct event      *curl_timer;
    struct event      *pump_ev;       /* deferred: start requests, flush deletes */
    struct event      *janitor;
    struct entry_list  list[3];       /* by enum entry_state */
    size_t             n[3];
    char              *env_secret;    /* WA_WEBHOOK_SECRET, may be NULL */
    long               timeout_ms;
    /* the CA */
    char              *system_ca;     /* the system bundle's text, may be NULL */
    size_t             system_ca_len;
    char              *ca_pem;        /* uploaded, NULL if none */
    struct ca_blob    *ca;            /* NULL if none uploaded: curl's default */
    /* claims */
    int32_t            token;         /* this connection's lock; 0 = none yet */
    int32_t            owner;         /* the token our rows are claimed under */
    bool               claiming, claim_again;
    bool               claim_takes;   /* the running claim deletes what it loads */
    bool               closing;       /* webhooks_free(): start nothing new */
    /* deletes after 200 */
    int64_t           *del, *deleting;
    size_t             n_del, cap_del, n_deleting;
};

static void pump(struct webhooks *w);
static void claim(struct webhooks *w);
static void flush_deletes(struct webhooks *w);
static void backoff_cb(evutil_socket_t fd, short what, void *arg);

const char *
webhook_kind_name(enum webhook_kind kind)
{
    return kind >= 0 && kind < WEBHOOK__COUNT ? kind_names[kind] : "error";
}

static enum webhook_kind
kind_parse(const char *s)
{
    for (int k = 0; k < WEBHOOK__COUNT; k++)
        if (s != NULL && strcmp(s, kind_names[k]) == 0)
            return (enum webhook_kind) k;
    return WEBHOOK_ERROR;
}

/* An E'' literal: quotes and backslashes escaped, whatever
 * standard_conforming_strings says. */
static void
append_literal(char **out, size_t *len, const char *s)
{
    size_t need = 2 * strlen(s) + 4;

    *out = xrealloc(*out, *len + need + 1);
    (*out)[(*len)++] = 'E';
    (*out)[(*len)++] = '\'';
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            (*out)[(*len)++] = *s;
        (*out)[(*len)++] = *s;
    }
    (*out)[(*len)++] = '\'';
    (*out)[*len] = '\0';
}

char *
webhooks_insert_sql(enum webhook_kind kind, const char *body_json)
{
    static const char head[] = "INSERT INTO wa_callbacks (kind, body) VALUES (";
    char             *out = xstrdup(head);
    size_t            len = sizeof(head) - 1;

    append_literal(&out, &len, webhook_kind_name(kind));
    out = xrealloc(out, len + 3);
    len += (size_t) sprintf(out + len, ", ");
    append_literal(&out, &len, body_json);
    out = xrealloc(out, len + 2);
    strcpy(out + len, ")");
    return out;
}

/* ---- entries ------------------------------------------------------------- */

static void
entry_move(struct entry *e, enum entry_state to)
{
    struct webhooks *w = e->w;

    TAILQ_REMOVE(&w->list[e->state], e, link);
    w->n[e->state]--;
    e->state = to;
    TAILQ_INSERT_TAIL(&w->list[to], e, link);
    w->n[to]++;
}

static size_t
held(const struct webhooks *w)
{
    return w->n[ENTRY_READY] + w->n[ENTRY_WAITING] + w->n[ENTRY_IN_FLIGHT];
}

/* Takes body (heap, len bytes). */
static void
entry_add(struct webhooks *w, int64_t id, enum webhook_kind kind, char *body, size_t len)
{
    struct entry *e = xcalloc(1, sizeof(*e));

    e->w = w;
    e->id = id;
    e->kind = kind;
    e->body = body;
    e->len = len;
    e->state = ENTRY_READY;
    TAILQ_INSERT_TAIL(&w->list[ENTRY_READY], e, link);
    w->n[ENTRY_READY]++;
}

static void
entry_free(struct entry *e)
{
    struct webhooks *w = e->w;

    TAILQ_REMOVE(&w->list[e->state], e, link);
    w->n[e->state]--;
    if (e->timer)
        event_free(e->timer);
    free(e->body);
    free(e);
}

static void
ca_blob_release(struct ca_blob *b)
{
    if (b != NULL && --b->refs == 0) {
        unlink(b->path);
        free(b);
    }
}

#define CA_FILE_PREFIX "wa-webhook-ca-"      /* <pid>-<random> */

static const char *
ca_dir(void)
{
    const char *dir = getenv("TMPDIR");

    return dir != NULL && dir[0] != '\0' ? dir : "/tmp";
}

/* Removes the CA files of coreapps that died without cleaning up (kill -9). */
static void
ca_files_sweep(void)
{
    DIR           *d = opendir(ca_dir());
    struct dirent *de;

    while (d != NULL && (de = readdir(d)) != NULL) {
        long pid;
        char path[4096];

        if (strncmp(de->d_name, CA_FILE_PREFIX, strlen(CA_FILE_PREFIX)) != 0 ||
            (pid = strtol(de->d_name + strlen(CA_FILE_PREFIX), NULL, 10)) <= 0 ||
            kill((pid_t) pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof(path), "%s/%s", ca_dir(), de->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
}

/* Writes the system bundle and pem to a new private file; NULL on error (logged). */
static struct ca_blob *
ca_blob_new(const struct webhooks *w, const char *pem)
{
    const char     *dir = ca_dir();
    struct ca_blob *b = xmalloc(sizeof(*b) + strlen(dir) + 64);
    size_t          plen = strlen(pem);
    int             fd;
    bool            ok;

    b->refs = 1;
    sprintf(b->path, "%s/" CA_FILE_PREFIX "%ld-XXXXXX", dir, (long) getpid());
    if ((fd = mkstemp(b->path)) < 0) {
        log_error(NULL, "webhook_ca_not_written", "path=%s", b->path);
        free(b);
        return NULL;
    }
    ok = write(fd, w->system_ca ? w->system_ca : "", w->system_ca_len) ==
             (ssize_t) w->system_ca_len &&
         write(fd, "\n", 1) == 1 && write(fd, pem, plen) == (ssize_t) plen;
    if (close(fd) != 0 || !ok) {
        log_error(NULL, "webhook_ca_not_written", "path=%s", b->path);
        unlink(b->path);
        free(b);
        return NULL;
    }
    return b;
}

/* ---- libcurl on libevent ------------------------------------------------- */

/* callback_requests{type,result} and its duration (coreapp/stats.h). */
static void
request_stat_add(struct webhooks *w, enum webhook_kind kind, const char *result, int64_t ms)
{
    char labels[64];

    snprintf(labels, sizeof(labels), "type=%s,result=%s", kind_names[kind], result);
    stats_add(w->app->stats, "callback_requests", labels, 1);
    stats_observe(w->app->stats, "callback_requests_duration_ms", labels,
                  (double) (ms > 0 ? ms : 0));
}

static const char *
failure_class(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return "connect_error";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return "tls_error";
    default:
        return "error";
    }
}

static void
delete_keep(struct webhooks *w, int64_t id)
{
    if (w->n_del == w->cap_del) {
        w->cap_del = w->cap_del ? 2 * w->cap_del : 64;
        w->del = xrealloc(w->del, w->cap_del * sizeof(*w->del));
    }
    w->del[w->n_del++] = id;
}

/* The row goes with the next flush, at the end of this loop turn. */
static void
delete_later(struct webhooks *w, int64_t id)
{
    delete_keep(w, id);
    event_active(w->pump_ev, 0, 0);
}

/* One transfer ended: 200 means done, anything else waits for a retry. */
static void
transfer_done(struct webhooks *w, struct entry *e, CURLcode rc)
{
    const struct app_settings *s = settings_get(w->app);
    long                       code = 0, delay;
    int64_t                    ms = clock_wall_ms() - e->started_ms;
    char                       result[24], why[CURL_ERROR_SIZE + 32], q[300];
    struct timeval             tv;

    curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(w->multi, e->easy);
    curl_easy_cleanup(e->easy);
    e->easy = NULL;
    curl_slist_free_all(e->headers);
    e->headers = NULL;
    ca_blob_release(e->ca);
    e->ca = NULL;

    if (rc == CURLE_OK && code == 200) {
        request_stat_add(w, e->kind, "success", ms);
        log_debug(NULL, "callback_delivered", "id=%lld kind=%s ms=%lld attempts=%d",
                  (long long) e->id, kind_names[e->kind], (long long) ms, e->failures + 1);
        if (e->id != 0)
            delete_later(w, e->id);
        free(e->errbuf);
        entry_free(e);
        return;
    }
    if (rc == CURLE_OK && code > 0)
        snprintf(result, sizeof(result), "%ld", code);
    else
        snprintf(result, sizeof(result), "%s", failure_class(rc));
    request_stat_add(w, e->kind, result, ms);
    e->failures++;
    delay = s->callback_backoff_delay_ms * (long) (e->failures < 1000000 ? e->failures : 1000000);
    if (delay > s->max_callback_backoff_delay_ms || delay < 0)
        delay = s->max_callback_backoff_delay_ms;
    if (rc == CURLE_OK)
        snprintf(why, sizeof(why), "HTTP status %ld", code);
    else
        snprintf(why, sizeof(why), "%s", e->errbuf[0] ? e->errbuf : curl_easy_strerror(rc));
    log_info(NULL, "callback_failed", "id=%lld kind=%s result=%s attempt=%d retry_ms=%ld "
             "reason=\"%s\"", (long long) e->id, kind_names[e->kind], result, e->failures,
             delay, log_quote(why, q, sizeof(q)));
    free(e->errbuf);
    e->errbuf = NULL;
    if (e->timer == NULL)
        e->timer = evtimer_new(w->base, backoff_cb, e);
    entry_move(e, ENTRY_WAITING);
    tv.tv_sec = delay / 1000;
    tv.tv_usec = (delay % 1000) * 1000;
    evtimer_add(e->timer, &tv);
}

static void
check_done(struct webhooks *w)
{
    CURLMsg *m;
    int      left;

    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        struct entry *e = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &e);
        transfer_done(w, e, m->data.result);
    }
    pump(w);
}

static void
socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct webhooks *w = arg;
    int              running, action = 0;

    if (what & EV_READ)
        action |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        action |= CURL_CSELECT_OUT;
    curl_multi_socket_action(w->multi, fd, action, &running);
    check_done(w);
}

/* CURLMOPT_SOCKETFUNCTION: keep one event per socket in step with what
 * curl wants to wait for. */
static int
curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct webhooks *w = userp;
    struct event    *ev = socketp;
    short            kind = EV_PERSIST;

    (void) easy;
    if (what == CURL_POLL_REMOVE) {
        if (ev != NULL)
            event_free(ev);
        curl_multi_assign(w->multi, s, NULL);
        return 0;
    }
    if (what & CURL_POLL_IN)
        kind |= EV_READ;
    if (what & CURL_POLL_OUT)
        kind |= EV_WRITE;
    if (ev == NULL) {
        ev = event_new(w->base, s, kind, socket_event_cb, w);
        curl_multi_assign(w->multi, s, ev);
    } else {
        event_del(ev);
        event_assign(ev, w->base, s, kind, socket_event_cb, w);
    }
    event_add(ev, NULL);
    return 0;
}

static void
curl_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct webhooks *w = arg;
    int              running;

    (void) fd;
    (void) what;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(w);
}

/* CURLMOPT_TIMERFUNCTION */
static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct webhooks *w = userp;
    struct timeval   tv;

    (void) multi;
    if (timeout_ms < 0) {
        evtimer_del(w->curl_timer);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(w->curl_timer, &tv);
    return 0;
}

static size_t
discard_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void) ptr;
    (void) userdata;
    return size * nmemb;
}

void
webhooks_signature(const char *secret, const void *body, size_t len,
                   char out[WEBHOOKS_SIGNATURE_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int  md_len = 0;
    size_t        at = (size_t) sprintf(out, "sha256=");

    if (HMAC(EVP_sha256(), secret, (int) strlen(secret), body, len, md, &md_len) == NULL ||
        md_len != 32) {
        out[0] = '\0';
        return;
    }
    for (unsigned int i = 0; i < md_len; i++)
        at += (size_t) sprintf(out + at, "%02x", md[i]);
}

/* "X-Hub-Signature-256: sha256=<hex>" into buf, or "" without a secret. */
static void
signature_header(const struct webhooks *w, const struct entry *e, char *buf, size_t n)
{
    const char *secret = settings_get(w->app)->webhooks_secret;
    char        sig[WEBHOOKS_SIGNATURE_LEN];

    buf[0] = '\0';
    if (secret[0] == '\0')
        secret = w->env_secret;
    if (secret == NULL || secret[0] == '\0')
        return;
    webhooks_signature(secret, e->body, e->len, sig);
    if (sig[0] != '\0')
        snprintf(buf, n, "X-Hub-Signature-256: %s", sig);
}

static void
request_start(struct webhooks *w, struct entry *e, const char *url)
{
    char sig[128];

    e->easy = curl_easy_init();
    e->errbuf = xcalloc(1, CURL_ERROR_SIZE);
    e->headers = curl_slist_append(NULL, "Content-Type: application/json");
    e->headers = curl_slist_append(e->headers, "Expect:");
    signature_header(w, e, sig, sizeof(sig));
    if (sig[0] != '\0')
        e->headers = curl_slist_append(e->headers, sig);
    curl_easy_setopt(e->easy, CURLOPT_URL, url);
    curl_easy_setopt(e->easy, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(e->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(e->easy, CURLOPT_POSTFIELDS, e->body);
    curl_easy_setopt(e->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) e->len);
    curl_easy_setopt(e->easy, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(e->easy, CURLOPT_USERAGENT, "wa-coreapp");
    curl_easy_setopt(e->easy, CURLOPT_TIMEOUT_MS, w->timeout_ms);
    curl_easy_setopt(e->easy, CURLOPT_CONNECTTIMEOUT_MS, w->timeout_ms < 10000 ? w->timeout_ms
                                                                               : 10000L);
    curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(e->easy, CURLOPT_ERRORBUFFER, e->errbuf);
    curl_easy_setopt(e->easy, CURLOPT_PRIVATE, e);
    if (w->ca != NULL) {
        e->ca = w->ca;              /* lives until this transfer ends */
        e->ca->refs++;
        curl_easy_setopt(e->easy, CURLOPT_CAINFO, (const char *) e->ca->path);
    }
    e->started_ms = clock_wall_ms();
    entry_move(e, ENTRY_IN_FLIGHT);
    curl_multi_add_handle(w->multi, e->easy);
}

/* Starts what the concurrency limit allows. */
static void
pump(struct webhooks *w)
{
    const struct app_settings *s = settings_get(w->app);
    size_t                     limit = (size_t) s->webhooks_max_concurrent_requests;

    if (w->closing)
        return;
    if (s->webhooks_url[0] != '\0')
        while (w->n[ENTRY_READY] > 0 && w->n[ENTRY_IN_FLIGHT] < limit)
            request_start(w, TAILQ_FIRST(&w->list[ENTRY_READY]), s->webhooks_url);
    if (w->claim_again && !w->claiming && held(w) + CLAIM_BATCH <= WEBHOOKS_QUEUE_CAPACITY)
        claim(w);
    stats_set(w->app->stats, "callback_queue_size", NULL, (double) held(w));
}

static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
    struct webhooks *w = arg;

    (void) fd;
    (void) what;
    flush_deletes(w);
    pump(w);
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    struct entry *e = arg;

    (void) fd;
    (void) what;
    entry_move(e, ENTRY_READY);
    pump(e->w);
}

/* After a change of URL or CA: what waits is retried now, from scratch. */
static void
retry_waiting_now(struct webhooks *w)
{
    struct entry *e;

    while ((e = TAILQ_FIRST(&w->list[ENTRY_WAITING])) != NULL) {
        evtimer_del(e->timer);
        e->failures = 0;
        entry_move(e, ENTRY_READY);
    }
    event_active(w->pump_ev, 0, 0);
}

/* ---- the table ----------------------------------------------------------- */

static void
deletes_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct webhooks *w = arg;

    (void) res;
    if (err != ERR_OK) {
        /* kept, still claimed by us, for the next delivery, the janitor or
         * the next connect: not at once, which would spin on a lasting error */
        for (size_t i = 0; i < w->n_deleting; i++)
            delete_keep(w, w->deleting[i]);
    }
    free(w->deleting);
    w->deleting = NULL;
    w->n_deleting = 0;
    if (err == ERR_OK && w->n_del > 0)
        flush_deletes(w);
}

/* One DELETE for every 200 of the last loop turn. */
static void
flush_deletes(struct webhooks *w)
{
    char       *list, *p;
    const char *param;

    if (w->n_del == 0 || w->deleting != NULL || !db_is_connected(w->db) || w->token == 0)
        return;
    list = p = xmalloc(w->n_del * 21 + 3);
    *p++ = '{';
    for (size_t i = 0; i < w->n_del; i++)
        p += sprintf(p, "%s%lld", i ? "," : "", (long long) w->del[i]);
    strcpy(p, "}");
    w->deleting = w->del;
    w->n_deleting = w->n_del;
    w->del = NULL;
    w->n_del = w->cap_del = 0;
    param = list;
    db_query(w->db, "DELETE FROM wa_callbacks WHERE id = ANY($1::bigint[])", 1, &param,
             deletes_cb, w);
    free(list);
}

static int
cmp_id(const void *a, const void *b)
{
    long long x = atoll(*(const char *const *) a), y = atoll(*(const char *const *) b);

    return x < y ? -1 : x > y;
}

static void
claim_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct webhooks *w = arg;
    int              rows = db_result_rows(res);
    struct {
        const char *id;
        int         row;
    }               *order;

    w->claiming = false;
    if (err != ERR_OK) {
        w->claim_again = false;     /* the next connect claims */
        return;
    }
    /* RETURNING has no order: deliver oldest first */
    order = xcalloc((size_t) rows + 1, sizeof(*order));
    for (int i = 0; i < rows; i++) {
        order[i].id = db_result_get(res, i, 0);
        order[i].row = i;
    }
    qsort(order, (size_t) rows, sizeof(*order), cmp_id);
    for (int i = 0; i < rows; i++) {
        const char *body = db_result_get(res, order[i].row, 2);

        entry_add(w, w->claim_takes ? 0 : atoll(order[i].id),
                  kind_parse(db_result_get(res, order[i].row, 1)), xstrdup(body), strlen(body));
    }
    free(order);
    if (rows > 0)
        log_debug(NULL, "callbacks_claimed", "rows=%d held=%zu", rows, held(w));
    if (rows == CLAIM_BATCH)
        w->claim_again = true;
    pump(w);
}

/* Loads unclaimed rows, as many as memory has room for. With
 * callback_persist false the rows leave the table as they are loaded. */
static void
claim(struct webhooks *w)
{
    char        tok[24], lim[24];
    const char *params[2] = { tok, lim };
    size_t      room = WEBHOOKS_QUEUE_CAPACITY - held(w);

    if (w->claiming || w->token == 0) {
        w->claim_again = true;
        return;
    }
    if (room < CLAIM_BATCH) {
        w->claim_again = true;      /* pump() comes back when there is room */
        return;
    }
    w->claiming = true;
    w->claim_again = false;
    snprintf(tok, sizeof(tok), "%d", w->token);
    snprintf(lim, sizeof(lim), "%d", CLAIM_BATCH);
    w->claim_takes = !settings_get(w->app)->callback_persist;
    if (!w->claim_takes)
        db_query(w->db, "UPDATE wa_callbacks SET claimed_by = $1 WHERE id IN ("
                 "SELECT id FROM wa_callbacks WHERE claimed_by IS NULL ORDER BY id LIMIT $2 "
                 "FOR UPDATE SKIP LOCKED) RETURNING id, kind, body", 2, params, claim_cb, w);
    else
        db_query(w->db, "DELETE FROM wa_callbacks WHERE id IN ("
                 "SELECT id FROM wa_callbacks WHERE claimed_by IS NULL ORDER BY id LIMIT $1 "
                 "FOR UPDATE SKIP LOCKED) RETURNING id, kind, body", 1, params + 1, claim_cb, w);
}

static void
release_dead_cb(const struct db_result *res, enum err_code err, void *arg)
{
    long long n = db_result_affected(res);

    (void) arg;
    if (err == ERR_OK && n > 0)
        log_info(NULL, "callbacks_released", "rows=%lld reason=\"claimant gone\"", n);
}

/* Claims whose session is gone (its lock released): back to the pool. */
static void
release_dead(struct webhooks *w)
{
    db_query(w->db, "UPDATE wa_callbacks SET claimed_by = NULL WHERE claimed_by IS NOT NULL "
             "AND claimed_by NOT IN (SELECT objid::bigint FROM pg_locks WHERE locktype = "
             "'advisory' AND classid = " LOCK_CLASS " AND objsubid = 2 AND granted "
             "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
             0, NULL, release_dead_cb, w);
}

static void
janitor_cb(evutil_socket_t fd, short what, void *arg)
{
    struct webhooks *w = arg;

    (void) fd;
    (void) what;
    if (w->token != 0) {
        flush_deletes(w);
        release_dead(w);
        claim(w);
    }
}

static void
moved_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct webhooks *w = arg;

    (void) res;
    if (err != ERR_OK)
        return;                     /* the next connect tries again */
    w->owner = w->token;
    flush_deletes(w);
    release_dead(w);
    claim(w);
}

static void lock_try(struct webhooks *w);

/* The session holds its token's lock: take over what the previous session
 * of this process had claimed, so it is neither lost nor loaded twice. */
static void
locked_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct webhooks *w = arg;
    const char      *got = db_result_get(res, 0, 0);
    char             now[16], before[16];
    const char      *params[2] = { now, before };

    if (err != ERR_OK || got == NULL)
        return;
    if (strcmp(got, "t") != 0) {    /* taken by a live session: draw again */
        w->token = 0;
        lock_try(w);
        return;
    }
    snprintf(now, sizeof(now), "%d", w->token);
    snprintf(before, sizeof(before), "%d", w->owner);
    log_info(NULL, "callbacks_session", "token=%d previous=%d held=%zu", w->token, w->owner,
             held(w));
    db_query(w->db, "UPDATE wa_callbacks SET claimed_by = $1 WHERE claimed_by = $2", 2, params,
             moved_cb, w);
}

static void
lock_try(struct webhooks *w)
{
    uint32_t    r = 0;
    char        tok[16];
    const char *param = tok;

    while (r == 0) {
        if (RAND_bytes((unsigned char *) &r, sizeof(r)) != 1)
            r = (uint32_t) clock_wall_ms() ^ (uint32_t) getpid();
        r &= 0x7fffffff;
    }
    w->token = (int32_t) r;
    snprintf(tok, sizeof(tok), "%d", w->token);
    db_query(w->db, "SELECT pg_try_advisory_lock(" LOCK_CLASS ", $1::int)", 1, &param,
             locked_cb, w);
}

/* ---- the CA ----------------------------------------------------------------- */

int
webhooks_ca_count(const char *pem, size_t len)
{
    BIO        *bio;
    X509       *x;
    int         n = 0, blocks = 0;
    const char *p = pem;
    unsigned long e;

    if (pem == NULL || len == 0 || strlen(pem) != len)
        return -1;
    while ((p = strstr(p, "-----BEGIN ")) != NULL) {
        blocks++;
        p += 11;
    }
    bio = BIO_new_mem_buf(pem, (int) len);
    ERR_clear_error();
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    e = ERR_peek_last_error();
    BIO_free(bio);
    ERR_clear_error();
    /* reading stops at the end with "no start line"; anything else is bad */
    if (n == 0 || n != blocks || (e != 0 && ERR_GET_REASON(e) != PEM_R_NO_START_LINE))
        return -1;
    return n;
}

/* Makes pem (taken; NULL = none) the uploaded CA. */
static void
ca_set(struct webhooks *w, char *pem)
{
    bool changed = (pem == NULL) != (w->ca_pem == NULL) ||
                   (pem != NULL && strcmp(pem, w->ca_pem) != 0);

    if (!changed) {
        free(pem);
        return;
    }
    free(w->ca_pem);
    w->ca_pem = pem;
    ca_blob_release(w->ca);
    w->ca = NULL;
    if (pem != NULL)
        w->ca = ca_blob_new(w, pem);
    log_info(NULL, "webhook_ca_changed", "uploaded=%s", pem ? "true" : "false");
    retry_waiting_now(w);
}

static void
ca_reload_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct webhooks *w = arg;
    const char      *pem = db_result_get(res, 0, 0);

    if (err != ERR_OK)
        return;
    ca_set(w, pem ? xstrdup(pem) : NULL);
}

static void
ca_reload(struct webhooks *w)
{
    db_query(w->db, "SELECT pem FROM webhook_ca WHERE id = 1", 0, NULL, ca_reload_cb, w);
}

static void
ca_get_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct core_req *req = arg;
    const char      *pem = db_result_get(res, 0, 0);

    if (err != ERR_OK)
        core_reply_error(req, ERR_DATABASE, "could not read the webhook CA");
    else if (pem == NULL)
        core_reply_raw(req, 404, "text/plain", "", 0);
    else
        core_reply_raw(req, 200, "text/plain", pem, strlen(pem));
}

static void
ca_get_handle(struct core_req *req, void *arg)
{
    struct webhooks *w = arg;

    db_query(w->db, "SELECT pem FROM webhook_ca WHERE id = 1", 0, NULL, ca_get_cb, req);
}

struct ca_write {
    struct webhooks *w;
    struct core_req *req;
    char            *pem;           /* NULL for DELETE */
};

static void
ca_written_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct ca_write *cw = arg;

    (void) res;
    if (err != ERR_OK) {
        core_reply_error(cw->req, ERR_DATABASE, "could not save the webhook CA");
        free(cw->pem);
    } else {
        ca_set(cw->w, cw->pem);     /* at once here; other coreapps by NOTIFY */
        core_reply(cw->req, 200, NULL);
    }
    free(cw);
}

static void
ca_set_handle(struct core_req *req, void *arg)
{
    struct ca_write *cw;
    const char      *param = req->blob;
    int              n = webhooks_ca_count(req->blob, req->blob_len);

    if (n < 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "the body must be one or more PEM "
                         "certificates (-----BEGIN CERTIFICATE-----) and nothing else");
        return;
    }
    cw = xcalloc(1, sizeof(*cw));
    cw->w = arg;
    cw->req = req;
    cw->pem = xstrdup(req->blob);
    log_info(req->w.rid, "webhook_ca_upload", "certificates=%d", n);
    db_query(cw->w->db, "INSERT INTO webhook_ca (id, pem) VALUES (1, $1) ON CONFLICT (id) "
             "DO UPDATE SET pem = EXCLUDED.pem, updated_at = now()", 1, &param,
             ca_written_cb, cw);
}

static void
ca_delete_handle(struct core_req *req, void *arg)
{
    struct ca_write *cw = xcalloc(1, sizeof(*cw));

    cw->w = arg;
    cw->req = req;
    db_query(cw->w->db, "DELETE FROM webhook_ca", 0, NULL, ca_written_cb, cw);
}

/* The system bundle libcurl would use, so an uploaded CA adds to it. */
static void
ca_load_system(struct webhooks *w)
{
    CURL *easy = curl_easy_init();
    char *path = NULL;
    FILE *f;
    long  size;

    curl_easy_getinfo(easy, CURLINFO_CAINFO, &path);
    f = fopen(path ? path : "/etc/ssl/certs/ca-certificates.crt", "rb");
    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0) {
        rewind(f);
        w->system_ca = xmalloc((size_t) size + 1);
        w->system_ca_len = fread(w->system_ca, 1, (size_t) size, f);
        w->system_ca[w->system_ca_len] = '\0';
    } else {
        log_warn(NULL, "system_ca_unreadable", "path=%s", path ? path : "-");
    }
    if (f != NULL)
        fclose(f);
    curl_easy_cleanup(easy);
}

/* ---- connection events -------------------------------------------------- */

static void
connected_cb(void *arg)
{
    struct webhooks *w = arg;

    w->token = 0;
    w->claiming = false;
    ca_reload(w);
    lock_try(w);
}

static void
callbacks_notify_cb(const char *channel, const char *payload, void *arg)
{
    (void) channel;
    (void) payload;
    claim(arg);
}

static void
ca_notify_cb(const char *channel, const char *payload, void *arg)
{
    (void) channel;
    (void) payload;
    ca_reload(arg);
}

static void
settings_changed_cb(const struct app_settings *now, const struct app_settings *before, void *arg)
{
    struct webhooks *w = arg;

    if (strcmp(now->webhooks_url, before->webhooks_url) != 0)
        retry_waiting_now(w);
    else
        event_active(w->pump_ev, 0, 0);     /* the limit may have grown */
}

/* ---- public ----------------------------------------------------------------- */

bool
webhooks_enabled(const struct coreapp *app)
{
    return settings_get(app)->webhooks_url[0] != '\0';
}

/* A callback on its way into the table. */
struct insert {
    struct webhooks   *w;
    enum webhook_kind  kind;
    char              *body;
};

static void
enqueue_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct insert   *ins = arg;
    struct webhooks *w = ins->w;

    (void) res;
    if (err == ERR_OK) {            /* its NOTIFY starts the claim that loads it */
        free(ins->body);
        free(ins);
        return;
    }
    log_warn(NULL, "callback_kept_in_memory", "kind=%s reason=\"database unavailable\"",
             kind_names[ins->kind]);
    entry_add(w, 0, ins->kind, ins->body, strlen(ins->body));
    free(ins);
    pump(w);
}

enum err_code
webhooks_enqueue(struct coreapp *app, enum webhook_kind kind, json_t *body)
{
    struct webhooks *w = app->webhooks;
    struct insert   *ins;
    char            *text;
    const char      *params[2];

    if (w == NULL) {
        json_decref(body);
        return ERR_SERVICE_NOT_READY;
    }
    if (!webhooks_enabled(app)) {
        json_decref(body);
        return ERR_WEBHOOK_URL_MISSING;
    }
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!settings_get(app)->callback_persist) {
        if (held(w) >= WEBHOOKS_QUEUE_CAPACITY) {
            log_warn(NULL, "callback_dropped", "kind=%s reason=\"queue full\"", kind_names[kind]);
            free(text);
            return ERR_OVERLOADED;
        }
        entry_add(w, 0, kind, text, strlen(text));
        event_active(w->pump_ev, 0, 0);
        return ERR_OK;
    }
    ins = xcalloc(1, sizeof(*ins));
    ins->w = w;
    ins->kind = kind;
    ins->body = text;
    params[0] = kind_names[kind];
    params[1] = text;
    db_query(w->db, WEBHOOKS_INSERT_SQL, 2, params, enqueue_cb, ins);
    return ERR_OK;
}

size_t
webhooks_queue_size(const struct coreapp *app)
{
    return app->webhooks ? held(app->webhooks) : 0;
}

size_t
webhooks_in_flight(const struct coreapp *app)
{
    return app->webhooks ? app->webhooks->n[ENTRY_IN_FLIGHT] : 0;
}

struct count_req {
    webhooks_count_cb cb;
    void             *arg;
};

static void
count_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct count_req *c = arg;
    const char       *v = db_result_get(res, 0, 0);

    if (err != ERR_OK || v == NULL)
        c->cb(-1, err != ERR_OK ? err : ERR_DATABASE, c->arg);
    else
        c->cb(atoll(v), ERR_OK, c->arg);
    free(c);
}

void
webhooks_pending_db_count(struct coreapp *app, webhooks_count_cb cb, void *arg)
{
    struct count_req *c = xcalloc(1, sizeof(*c));

    c->cb = cb;
    c->arg = arg;
    db_query(app->webhooks->db, WEBHOOKS_PENDING_COUNT_SQL, 0, NULL, count_cb, c);
}

/* Ends transfers in flight (their callbacks stay pending: rows, or lost
 * when in memory only) and frees everything. */
void
webhooks_free(struct webhooks *w)
{
    struct entry *e;

    if (w == NULL)
        return;
    w->closing = true;
    db_free(w->db);                 /* its callbacks still find w whole */
    while ((e = TAILQ_FIRST(&w->list[ENTRY_IN_FLIGHT])) != NULL) {
        curl_multi_remove_handle(w->multi, e->easy);
        curl_easy_cleanup(e->easy);
        curl_slist_free_all(e->headers);
        ca_blob_release(e->ca);
        free(e->errbuf);
        entry_free(e);
    }
    for (int i = 0; i < 3; i++)
        while ((e = TAILQ_FIRST(&w->list[i])) != NULL)
            entry_free(e);
    curl_multi_cleanup(w->multi);
    curl_global_cleanup();
    event_free(w->curl_timer);
    event_free(w->pump_ev);
    event_free(w->janitor);
    ca_blob_release(w->ca);
    free(w->ca_pem);
    free(w->system_ca);
    free(w->del);
    free(w->deleting);
    free(w);
}

void
webhooks_init(struct coreapp *app)
{
    struct webhooks *w = xcalloc(1, sizeof(*w));
    struct timeval   janitor = { JANITOR_S, 0 };
    char            *ci, *pem;
    bool             failed = false;

    w->app = app;
    w->base = app->base;
    w->timeout_ms = app->cfg.webhook_timeout_ms > 0 ? app->cfg.webhook_timeout_ms : 20000;
    w->env_secret = app->cfg.webhook_secret;
    for (int i = 0; i < 3; i++)
        TAILQ_INIT(&w->list[i]);
    app->webhooks = w;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    w->multi = curl_multi_init();
    w->curl_timer = evtimer_new(app->base, curl_timeout_cb, w);
    w->pump_ev = event_new(app->base, -1, 0, pump_cb, w);
    w->janitor = event_new(app->base, -1, EV_PERSIST, janitor_cb, w);
    event_add(w->janitor, &janitor);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, 24L);     /* the largest limit */

    ca_load_system(w);
    ca_files_sweep();
    pem = db_oneshot(&app->cfg.db, "SELECT pem FROM webhook_ca WHERE id = 1", 0, NULL, &failed);
    if (pem != NULL)
        ca_set(w, pem);

    ci = db_conninfo(&app->cfg.db, true);
    w->db = db_new(app->base, ci, "webhooks");
    free(ci);
    db_listen(w->db, "wa_callbacks", callbacks_notify_cb, w);
    db_listen(w->db, "wa_webhook_ca", ca_notify_cb, w);
    db_on_connect(w->db, connected_cb, w);
    settings_on_change(app, settings_changed_cb, w);
    dispatch_register(app->dispatch, WIRE_CERT_WEBHOOK_CA_GET, ca_get_handle, w);
    dispatch_register(app->dispatch, WIRE_CERT_WEBHOOK_CA_SET, ca_set_handle, w);
    dispatch_register(app->dispatch, WIRE_CERT_WEBHOOK_CA_DEL, ca_delete_handle, w);
}
