/* gateway.c - the network link: DEALER + CURVE, hello, heartbeats, queues. */
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <zmq.h>
#include "common/clock.h"
#include "common/jsonbuf.h"
#include "common/log.h"
#include "common/netproto.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/gateway.h"
#include "coreapp/stats.h"

#define TICK_MS          100
#define HELLO_BACKOFF_MAX 2000
#define MAX_WATCHERS     8

struct gw_request {
    struct gw_request *next;
    char               rid[24];
    json_t            *frame;         /* the whole frame, rid included */
    int64_t            deadline_ms;
    int64_t            sent_ms;       /* for internal_server_requests_duration_ms */
    bool               sent;
    bool               pre_auth;      /* allowed before hello (registration) */
    gateway_reply_cb   cb;
    void              *arg;
};

/* A send waiting for its "sent"/"failed". The queue is in send order; the
 * entries before gateway.unsent went out on the current link, the rest wait
 * for it. A hash on the id finds an entry when its status comes, so neither
 * sending nor answering walks the queue (thousands deep under load). */
struct gw_out {
    struct gw_out *next, *prev;
    struct gw_out *hnext;             /* hash chain */
    char          *id;
    char          *buf;               /* the frame, encoded once */
    size_t         len;
};

enum gw_link { LINK_CLOSED, LINK_OPEN, LINK_UP };

struct gateway {
    struct coreapp    *app;
    void              *sock;
    struct event      *readable, *kick, *tick;
    char               pub[NETPROTO_KEY_LEN + 1], sec[NETPROTO_KEY_LEN + 1];
    char               server_key[NETPROTO_KEY_LEN + 1];
    char              *wa_id;
    enum gw_link       link;
    bool               ever_up;       /* since the identity was set */
    int64_t            opened_ms, last_rx_ms, last_ping_ms, next_hello_ms, key_check_ms;
    int                backoff_ms;
    char               hello_rid[24];
    int64_t            hello_ms;      /* when it went: internal_server_conn_duration_ms */
    unsigned long long next_rid;
    struct gw_request *reqs;
    struct gw_out     *outs, *outs_last, *unsent;
    struct event      *outs_ev;       /* sends what this turn queued */
    struct jbuf        scratch;       /* a batch being built */
    struct gw_out    **out_hash;
    size_t             out_buckets, nouts;
    struct {
        gateway_event_cb cb;
        void            *arg;
    }                  handlers[GATEWAY_EV__COUNT];
    struct {
        gateway_link_cb  cb;
        void            *arg;
    }                  watchers[MAX_WATCHERS];
    int                nwatchers;
};

static void pump(struct gateway *gw);

static int64_t
hb(const struct gateway *gw)
{
    return gw->app->cfg.sandbox_heartbeat_ms > 0 ? gw->app->cfg.sandbox_heartbeat_ms : 1000;
}

/* ---- status ----------------------------------------------------------------- */

static void
update_status(struct gateway *gw)
{
    enum gateway_status s;

    if (gw->wa_id == NULL)
        s = GATEWAY_UNREGISTERED;
    else if (gw->link == LINK_UP)
        s = GATEWAY_CONNECTED;
    else if (!gw->ever_up && clock_wall_ms() - gw->opened_ms < 3 * hb(gw))
        s = GATEWAY_CONNECTING;           /* the first attempt after start/registration */
    else
        s = GATEWAY_DISCONNECTED;
    if (s != gw->app->gateway) {
        log_info(NULL, "gateway_status", "status=%s from=%s", gateway_status_name(s),
                 gateway_status_name(gw->app->gateway));
        gw->app->gateway = s;
    }
}

static void
notify_link(struct gateway *gw, bool up)
{
    for (int i = 0; i < gw->nwatchers; i++)
        gw->watchers[i].cb(gw, up, gw->watchers[i].arg);
}

/* ---- the socket --------------------------------------------------------------- */

static int
send_raw(struct gateway *gw, const char *buf, size_t len)
{
    int rc;

    if (gw->sock == NULL)
        return -1;
    /* ZMQ_IMMEDIATE: EAGAIN while no connection is up; the caller keeps the
     * frame and tries again later */
    rc = zmq_send(gw->sock, buf, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
    event_active(gw->kick, EV_READ, 0);
    return rc;
}

static int
send_frame(struct gateway *gw, const json_t *frame)
{
    size_t len;
    char  *buf = netproto_encode(frame, &len);
    int    rc = send_raw(gw, buf, len);

    free(buf);
    return rc;
}

/* Sends the queued messages that have not gone out on this link yet, as
 * netproto.h "batch" frames of up to OUT_BATCH_BYTES: a burst of sends costs
 * the link one message, not one each. */
#define OUT_BATCH_BYTES (256 * 1024)

static void
send_outs(struct gateway *gw)
{
    while (gw->link == LINK_UP && gw->unsent != NULL) {
        struct gw_out *o = gw->unsent, *end = o->next;
        size_t         bytes = o->len;
        int            rc;

        for (; end != NULL && bytes + end->len < OUT_BATCH_BYTES; end = end->next)
            bytes += end->len + 1;
        if (end == o->next) {
            rc = send_raw(gw, o->buf, o->len);
        } else {
            jbuf_reset(&gw->scratch);
            jbuf_adds(&gw->scratch, "{\"v\":");
            jbuf_int(&gw->scratch, NETPROTO_VERSION);
            jbuf_adds(&gw->scratch, ",\"t\":\"batch\",\"frames\":[");
            for (struct gw_out *p = o; p != end; p = p->next) {
                if (p != o)
                    jbuf_addc(&gw->scratch, ',');
                jbuf_add(&gw->scratch, p->buf, p->len);
            }
            jbuf_adds(&gw->scratch, "]}");
            rc = send_raw(gw, gw->scratch.p, gw->scratch.len);
        }
        if (rc != 0)
            return;
        gw->unsent = end;
    }
}

static void
outs_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    send_outs(arg);
}

static void
close_socket(struct gateway *gw)
{
    if (gw->readable) {
        event_free(gw->readable);
        gw->readable = NULL;
    }
    if (gw->sock) {
        zmq_close(gw->sock);
        gw->sock = NULL;
    }
    if (gw->link == LINK_UP)
        notify_link(gw, false);
    gw->link = LINK_CLOSED;
}

/* The network's public key: WA_SANDBOX_PUBLIC_KEY, else the file the
 * sandbox writes into its state dir. 0 or -1 (not available yet). */
static int
load_server_key(struct gateway *gw, char *out)
{
    const char *cfg = gw->app->cfg.sandbox_public_key;
    char        path[4096], buf[128];
    FILE       *f;

    if (cfg != NULL && cfg[0] != '\0') {
        if (strlen(cfg) != NETPROTO_KEY_LEN)
            return -1;
        strcpy(out, cfg);
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", gw->app->cfg.sandbox_state_dir,
             NETPROTO_SERVER_KEY_FILE);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    buf[0] = '\0';
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strlen(buf) != NETPROTO_KEY_LEN)
        return -1;
    strcpy(out, buf);
    return 0;
}

static void readable_cb(evutil_socket_t fd, short what, void *arg);

static void
open_socket(struct gateway *gw)
{
    int    zero = 0, one = 1, ivl = 100, ivl_max = 1000, fd;
    size_t sz = sizeof(fd);

    if (load_server_key(gw, gw->server_key) != 0) {
        if (gw->key_check_ms == 0)
            log_warn(NULL, "network_key_missing", "state_dir=%s",
                     gw->app->cfg.sandbox_state_dir);
        gw->key_check_ms = clock_wall_ms();
        return;
    }
    gw->sock = zmq_socket(gw->app->zctx, ZMQ_DEALER);
    zmq_setsockopt(gw->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(gw->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
    zmq_setsockopt(gw->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(gw->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    zmq_setsockopt(gw->sock, ZMQ_CURVE_SERVERKEY, gw->server_key, NETPROTO_KEY_LEN);
    zmq_setsockopt(gw->sock, ZMQ_CURVE_PUBLICKEY, gw->pub, NETPROTO_KEY_LEN);
    zmq_setsockopt(gw->sock, ZMQ_CURVE_SECRETKEY, gw->sec, NETPROTO_KEY_LEN);
    if (zmq_connect(gw->sock, gw->app->cfg.sandbox_endpoint) != 0) {
        log_error(NULL, "network_connect_failed", "endpoint=%s reason=\"%s\"",
                  gw->app->cfg.sandbox_endpoint, zmq_strerror(zmq_errno()));
        zmq_close(gw->sock);
        gw->sock = NULL;
        return;
    }
    zmq_getsockopt(gw->sock, ZMQ_FD, &fd, &sz);
    gw->readable = event_new(gw->app->base, fd, EV_READ | EV_PERSIST, readable_cb, gw);
    event_add(gw->readable, NULL);
    gw->link = LINK_OPEN;
    gw->key_check_ms = clock_wall_ms();
    gw->next_hello_ms = 0;
    gw->backoff_ms = 200;
    log_info(NULL, "network_connecting", "endpoint=%s", gw->app->cfg.sandbox_endpoint);
}

/* Everything sent and not answered goes again once the link is back. */
static void
link_down(struct gateway *gw, const char *why)
{
    if (gw->link == LINK_UP) {
        log_warn(NULL, "network_down", "reason=\"%s\"", why);
        gw->link = LINK_OPEN;
        notify_link(gw, false);
    }
    for (struct gw_request *r = gw->reqs; r; r = r->next)
        r->sent = false;
    gw->unsent = gw->outs;
    gw->hello_rid[0] = '\0';
    gw->next_hello_ms = 0;
    gw->backoff_ms = 200;
}

/* ---- requests ---------------------------------------------------------------- */

static void
new_rid(struct gateway *gw, char *out)
{
    snprintf(out, 24, "%llu", ++gw->next_rid);
}

static void
request_finish(struct gateway *gw, struct gw_request *r, enum err_code err, const char *net_error,
               const char *details, json_t *result)
{
    struct gw_request **pp = &gw->reqs;

    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    if (r->cb)
        r->cb(err, net_error, details, result, r->arg);
    json_decref(r->frame);
    free(r);
}

void
gateway_request(struct gateway *gw, const char *type, json_t *body, int timeout_ms,
                gateway_reply_cb cb, void *arg)
{
    struct gw_request *r = xcalloc(1, sizeof(*r)), **pp = &gw->reqs;

    new_rid(gw, r->rid);
    r->frame = netproto_new(type);
    if (body != NULL) {
        json_object_update(r->frame, body);
        json_decref(body);
    }
    json_object_set_new(r->frame, "rid", json_string(r->rid));
    r->deadline_ms = clock_wall_ms() + timeout_ms;
    r->pre_auth = strcmp(type, "register") == 0 || strcmp(type, "verify") == 0;
    r->cb = cb;
    r->arg = arg;
    while (*pp)
        pp = &(*pp)->next;
    *pp = r;
    pump(gw);
}

static void
send_hello(struct gateway *gw)
{
    json_t *f = netproto_new("hello");

    new_rid(gw, gw->hello_rid);
    json_object_set_new(f, "rid", json_string(gw->hello_rid));
    json_object_set_new(f, "wa_id", json_string(gw->wa_id));
    send_frame(gw, f);
    json_decref(f);
    gw->hello_ms = clock_wall_ms();
    gw->next_hello_ms = gw->hello_ms + gw->backoff_ms;
    gw->backoff_ms = gw->backoff_ms * 2 > HELLO_BACKOFF_MAX ? HELLO_BACKOFF_MAX
                                                            : gw->backoff_ms * 2;
}

/* Sends what may go now; expires requests whose time is up. */
static void
pump(struct gateway *gw)
{
    int64_t now = clock_wall_ms();

    for (struct gw_request *r = gw->reqs, *next; r; r = next) {
        next = r->next;
        if (r->deadline_ms <= now) {
            request_finish(gw, r, ERR_SERVICE_NOT_READY, NULL,
                           "the network (wa-sandbox) did not answer in time", NULL);
            continue;
        }
        if (!r->sent && gw->sock && (gw->link == LINK_UP || r->pre_auth) &&
            (r->sent = send_frame(gw, r->frame) == 0))
            r->sent_ms = now;
    }
    send_outs(gw);
}

/* ---- incoming ------------------------------------------------------------------ */

static void
hello_result(struct gateway *gw, json_t *f)
{
    const char *err = json_string_value(json_object_get(f, "error"));

    gw->hello_rid[0] = '\0';
    if (!json_is_true(json_object_get(f, "ok"))) {
        log_warn(NULL, "network_refused", "error=%s wa_id=%s", err ? err : "?", gw->wa_id);
        return;                            /* next hello after the back-off */
    }
    gw->link = LINK_UP;
    gw->ever_up = true;
    gw->backoff_ms = 200;
    gw->last_ping_ms = clock_wall_ms();
    log_info(NULL, "network_up", "wa_id=%s", gw->wa_id);
    stats_observe(gw->app->stats, "internal_server_conn_duration_ms", NULL,
                  (double) (clock_wall_ms() - gw->hello_ms));
    update_status(gw);
    pump(gw);
    notify_link(gw, true);
}

static void
result(struct gateway *gw, json_t *f)
{
    const char        *rid = json_string_value(json_object_get(f, "rid"));
    struct gw_request *r;

    if (rid == NULL)
        return;
    if (gw->hello_rid[0] && strcmp(rid, gw->hello_rid) == 0) {
        hello_result(gw, f);
        return;
    }
    for (r = gw->reqs; r && strcmp(r->rid, rid) != 0; r = r->next)
        ;
    if (r == NULL)
        return;                            /* already timed out */
    stats_observe(gw->app->stats, "internal_server_requests_duration_ms", NULL,
                  (double) (clock_wall_ms() - r->sent_ms));
    if (json_is_true(json_object_get(f, "ok"))) {
        request_finish(gw, r, ERR_OK, NULL, NULL, f);
    } else {
        const char *e = json_string_value(json_object_get(f, "error"));
        request_finish(gw, r, netproto_error_code(e), e,
                       json_string_value(json_object_get(f, "details")), f);
    }
}

static size_t
out_bucket(const struct gateway *gw, const char *id)
{
    uint64_t h = 1469598103934665603ULL;           /* FNV-1a */

    for (; *id; id++)
        h = (h ^ (unsigned char) *id) * 1099511628211ULL;
    return (size_t) (h & (gw->out_buckets - 1));
}

static void
out_hash_grow(struct gateway *gw)
{
    struct gw_out **old = gw->out_hash;
    size_t          n = gw->out_buckets;

    gw->out_buckets = n ? n * 2 : 1024;
    gw->out_hash = xcalloc(gw->out_buckets, sizeof(*gw->out_hash));
    for (size_t i = 0; i < n; i++)
        for (struct gw_out *o = old[i], *next; o; o = next) {
            size_t b = out_bucket(gw, o->id);

            next = o->hnext;
            o->hnext = gw->out_hash[b];
            gw->out_hash[b] = o;
        }
    free(old);
}

static struct gw_out *
out_find(struct gateway *gw, const char *id)
{
    struct gw_out *o;

    if (gw->out_buckets == 0)
        return NULL;
    for (o = gw->out_hash[out_bucket(gw, id)]; o != NULL && strcmp(o->id, id) != 0; o = o->hnext)
        ;
    return o;
}

static void
out_done(struct gateway *gw, const char *id)
{
    struct gw_out **pp, *o;

    if (gw->out_buckets == 0)
        return;
    for (pp = &gw->out_hash[out_bucket(gw, id)]; *pp && strcmp((*pp)->id, id) != 0;
         pp = &(*pp)->hnext)
        ;
    if ((o = *pp) == NULL)
        return;
    *pp = o->hnext;
    if (gw->unsent == o)
        gw->unsent = o->next;
    if (o->prev)
        o->prev->next = o->next;
    else
        gw->outs = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        gw->outs_last = o->prev;
    gw->nouts--;
    free(o->id);
    free(o->buf);
    free(o);
}

static void
event(struct gateway *gw, enum gateway_event_kind kind, json_t *f, json_t *payload)
{
    const char *eid = json_string_value(json_object_get(f, "eid"));

    if (eid == NULL || !json_is_object(payload))
        return;
    if (gw->handlers[kind].cb == NULL) {
        gateway_event_done(gw, eid);
        return;
    }
    gw->handlers[kind].cb(gw, eid, payload, gw->handlers[kind].arg);
}

/* One status of a status event: the handler hears of each, with the event's
 * eid (so an event of several statuses is confirmed once all are handled). */
static void
status_event(struct gateway *gw, json_t *f, json_t *st)
{
    const char *s = json_string_value(json_object_get(st, "status"));
    const char *id = json_string_value(json_object_get(st, "id"));

    /* any status says the network has the message: "sent" usually comes
     * first, but an answer to a resend carries where the message is now */
    if (s && id)
        out_done(gw, id);
    event(gw, GATEWAY_EV_STATUS, f, st);
}

static void
handle(struct gateway *gw, json_t *f)
{
    const char *t = json_string_value(json_object_get(f, "t"));

    gw->last_rx_ms = clock_wall_ms();
    if (strcmp(t, "pong") == 0) {
        const char *who = json_string_value(json_object_get(f, "session"));

        if (gw->link == LINK_UP && (who == NULL || strcmp(who, gw->wa_id) != 0)) {
            link_down(gw, "the network does not know this session");
            update_status(gw);
        }
    } else if (strcmp(t, "result") == 0) {
        result(gw, f);
    } else if (strcmp(t, "error") == 0) {
        const char *e = json_string_value(json_object_get(f, "error"));

        if (e && strcmp(e, "not_authenticated") == 0 && gw->wa_id) {
            /* the network restarted or forgot this session: hello again */
            link_down(gw, "the network does not know this session");
            update_status(gw);
        } else {
            log_warn(NULL, "network_error", "error=%s", e ? e : "?");
        }
    } else if (strcmp(t, "status") == 0) {
        json_t *list = json_object_get(f, "statuses"), *st;
        size_t  i;

        if (json_object_get(f, "status") != NULL)
            status_event(gw, f, json_object_get(f, "status"));
        json_array_foreach(list, i, st)
            status_event(gw, f, st);
    } else if (strcmp(t, "inbound") == 0) {
        json_t *m = json_deep_copy(json_object_get(f, "message"));

        if (m && json_object_get(f, "contact"))
            json_object_set(m, "contact", json_object_get(f, "contact"));
        stats_add(gw->app->stats, "in_message_from_server", NULL, 1);
        event(gw, GATEWAY_EV_INBOUND, f, m);
        json_decref(m);
    } else if (strcmp(t, "identity_changed") == 0) {
        event(gw, GATEWAY_EV_IDENTITY, f, json_object_get(f, "identity"));
    }
}

static void
readable_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gateway *gw = arg;

    (void) fd;
    (void) what;
    while (gw->sock != NULL) {
        zmq_msg_t   msg;
        const char *why;
        json_t     *f;

        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, gw->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        f = netproto_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &why);
        zmq_msg_close(&msg);
        if (f == NULL) {
            log_warn(NULL, "bad_network_frame", "reason=%s", why);
            continue;
        }
        if (strcmp(json_string_value(json_object_get(f, "t")), "batch") == 0) {
            json_t *inner;
            size_t  i;

            json_array_foreach(json_object_get(f, "frames"), i, inner) {
                if (gw->sock == NULL)
                    break;                  /* the link was closed meanwhile */
                if (json_is_string(json_object_get(inner, "t")))
                    handle(gw, inner);
            }
        } else {
            handle(gw, f);
        }
        json_decref(f);
    }
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
    readable_cb(fd, what, arg);
}

/* ---- the clock ------------------------------------------------------------------- */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gateway *gw = arg;
    int64_t         now = clock_wall_ms();

    (void) fd;
    (void) what;
    if (gw->pub[0] && gw->sock == NULL && now - gw->key_check_ms >= 500)
        open_socket(gw);
    if (gw->sock && gw->link != LINK_UP && !gw->app->cfg.sandbox_public_key &&
        now - gw->key_check_ms >= 2000) {
        char key[NETPROTO_KEY_LEN + 1];

        /* a sandbox started over with new keys: follow it */
        gw->key_check_ms = now;
        if (load_server_key(gw, key) == 0 && strcmp(key, gw->server_key) != 0) {
            log_info(NULL, "network_key_changed", "public_key=%s", key);
            close_socket(gw);
            open_socket(gw);
        }
    }
    if (gw->sock && gw->wa_id && gw->link == LINK_OPEN && now >= gw->next_hello_ms)
        send_hello(gw);
    if (gw->link == LINK_UP) {
        if (now - gw->last_rx_ms > 3 * hb(gw)) {
            link_down(gw, "no heartbeat from the network");
        } else if (now - gw->last_ping_ms >= hb(gw)) {
            json_t *p = netproto_new("ping");

            json_object_set_new(p, "ts", json_integer(now));
            send_frame(gw, p);
            json_decref(p);
            gw->last_ping_ms = now;
        }
    }
    pump(gw);
    update_status(gw);
}

/* ---- public API ------------------------------------------------------------------ */

void
gateway_init(struct coreapp *app)
{
    struct gateway *gw = xcalloc(1, sizeof(*gw));
    struct timeval  tv = { 0, TICK_MS * 1000 };

    gw->app = app;
    gw->kick = event_new(app->base, -1, 0, kick_cb, gw);
    gw->outs_ev = event_new(app->base, -1, 0, outs_cb, gw);
    gw->tick = event_new(app->base, -1, EV_PERSIST, tick_cb, gw);
    event_add(gw->tick, &tv);
    app->gw = gw;
}

void
gateway_free(struct gateway *gw)
{
    if (gw == NULL)
        return;
    gw->nwatchers = 0;
    close_socket(gw);
    while (gw->reqs)
        request_finish(gw, gw->reqs, ERR_SERVICE_NOT_READY, NULL, "shutting down", NULL);
    while (gw->outs)
        out_done(gw, gw->outs->id);
    free(gw->out_hash);
    event_free(gw->kick);
    event_free(gw->outs_ev);
    event_free(gw->tick);
    jbuf_free(&gw->scratch);
    free(gw->wa_id);
    free(gw);
}

void
gateway_set_identity(struct gateway *gw, const struct gateway_identity *id)
{
    bool keys_changed = id == NULL || strcmp(gw->pub, id->public_key) != 0 ||
                        strcmp(gw->sec, id->secret_key) != 0;
    bool who_changed = id == NULL || (gw->wa_id == NULL) != (id->wa_id == NULL) ||
                       (gw->wa_id && strcmp(gw->wa_id, id->wa_id) != 0);

    if (keys_changed)
        close_socket(gw);
    if (id == NULL) {
        gw->pub[0] = gw->sec[0] = '\0';
    } else if (strlen(id->public_key) == NETPROTO_KEY_LEN &&
               strlen(id->secret_key) == NETPROTO_KEY_LEN) {
        strcpy(gw->pub, id->public_key);
        strcpy(gw->sec, id->secret_key);
    }
    if (who_changed) {
        free(gw->wa_id);
        gw->wa_id = id && id->wa_id ? xstrdup(id->wa_id) : NULL;
        if (gw->link == LINK_UP)
            link_down(gw, "the registered number changed");
        gw->ever_up = false;
        gw->opened_ms = clock_wall_ms();
        gw->next_hello_ms = 0;
    }
    if (gw->pub[0] && gw->sock == NULL)
        open_socket(gw);
    if (gw->sock && gw->wa_id && gw->link == LINK_OPEN && who_changed)
        send_hello(gw);                 /* now rather than at the next tick */
    update_status(gw);
    pump(gw);
}

/* The "send" frame of a message: the body's members with our id and the
 * recipient as normalised. Written as text, not built as a tree first: this
 * runs once per message. */
static char *
message_frame(const char *id, const char *to, const json_t *message, size_t *len)
{
    struct jbuf b = JBUF_INIT;
    const char *k;
    json_t     *v;

    netproto_begin(&b, "send");
    jbuf_adds(&b, ",\"id\":");
    jbuf_str(&b, id, strlen(id));
    jbuf_adds(&b, ",\"to\":");
    jbuf_str(&b, to, strlen(to));
    json_object_foreach((json_t *) message, k, v) {
        if (strcmp(k, "v") == 0 || strcmp(k, "t") == 0 || strcmp(k, "id") == 0 ||
            strcmp(k, "to") == 0)
            continue;
        jbuf_addc(&b, ',');
        jbuf_str(&b, k, strlen(k));
        jbuf_addc(&b, ':');
        jbuf_json(&b, v);
    }
    jbuf_addc(&b, '}');
    return jbuf_take(&b, len);
}

enum err_code
gateway_send_message(struct gateway *gw, const char *id, const char *to, const json_t *message)
{
    struct gw_out *o;
    size_t         b;

    if (gw->wa_id == NULL)
        return ERR_SERVICE_NOT_READY;
    if (out_find(gw, id) != NULL)
        return ERR_OK;                  /* queued already (handed over twice by a rescan) */
    o = xcalloc(1, sizeof(*o));
    o->id = xstrdup(id);
    o->buf = message_frame(id, to, message, &o->len);
    if (gw->nouts >= gw->out_buckets)
        out_hash_grow(gw);
    b = out_bucket(gw, id);
    o->hnext = gw->out_hash[b];
    gw->out_hash[b] = o;
    gw->nouts++;
    o->prev = gw->outs_last;
    if (gw->outs_last)
        gw->outs_last->next = o;
    else
        gw->outs = o;
    gw->outs_last = o;
    if (gw->unsent == NULL)
        gw->unsent = o;
    event_active(gw->outs_ev, 0, 0);    /* with the rest of this turn's sends */
    return ERR_OK;
}

enum err_code
gateway_mark_read(struct gateway *gw, const char *id)
{
    if (gw->wa_id == NULL)
        return ERR_SERVICE_NOT_READY;
    /* a request, so it is kept and resent until the network confirms it */
    gateway_request(gw, "read", json_pack("{s:s}", "id", id), 24 * 3600 * 1000, NULL, NULL);
    return ERR_OK;
}

void
gateway_on_event(struct gateway *gw, enum gateway_event_kind kind, gateway_event_cb cb,
                 void *arg)
{
    gw->handlers[kind].cb = cb;
    gw->handlers[kind].arg = arg;
}

void
gateway_events_done(struct gateway *gw, const json_t *eids)
{
    json_t *f;

    if (gw->link != LINK_UP || json_array_size(eids) == 0)
        return;                        /* the network will send them again; fine */
    f = netproto_new("event_ack");
    json_object_set(f, "eids", (json_t *) eids);
    send_frame(gw, f);
    json_decref(f);
}

void
gateway_event_done(struct gateway *gw, const char *eid)
{
    json_t *f;

    if (gw->link != LINK_UP)
        return;                        /* the network will send it again; fine */
    f = netproto_new("event_ack");
    json_object_set_new(f, "eid", json_string(eid));
    send_frame(gw, f);
    json_decref(f);
}

void
gateway_on_link(struct gateway *gw, gateway_link_cb cb, void *arg)
{
    if (gw->nwatchers < MAX_WATCHERS) {
        gw->watchers[gw->nwatchers].cb = cb;
        gw->watchers[gw->nwatchers].arg = arg;
        gw->nwatchers++;
    }
}

size_t gateway_queued(const struct gateway *gw) { return gw->nouts; }

bool
gateway_is_connected(const struct gateway *gw)
{
    return gw->link == LINK_UP;
}

const char *
gateway_wa_id(const struct gateway *gw)
{
    return gw->wa_id;
}
