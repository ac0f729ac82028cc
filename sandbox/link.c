/* link.c - ROUTER + CURVE + ZAP on the event loop. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include "common/clock.h"
#include "common/jsonbuf.h"
#include "common/log.h"
#include "common/netproto.h"
#include "common/xalloc.h"
#include "sandbox/link.h"
#include "sandbox/sandbox.h"

#define SESSION_IDLE_MS 15000      /* clients ping every second or so */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct link_session {
    struct link_session *next;
    unsigned char        rid[256];    /* ROUTER routing id */
    size_t               rid_len;
    char                 key[NETPROTO_KEY_LEN + 1];
    char                *wa_id;
    int64_t              last_ms;
};

/* A frame queued by link_hold(): its routing id (copied: the session may be
 * swept before the release) and its bytes, both in link.held_data. */
struct held_frame {
    size_t rid_off, rid_len, off, len;
};

struct link {
    struct held_frame   *held;       /* frames queued while held, in order */
    size_t               nheld, held_cap;
    struct jbuf          held_data;
    struct jbuf          scratch;    /* encoding of the frame being sent */
    int                  holds;
    struct event_base   *base;
    void                *zctx;
    void                *router;
    void                *zap;
    struct event        *router_ev, *zap_ev, *kick, *sweep;
    struct link_session *sessions;
    link_frame_cb        cb;
    void                *arg;
};

/* ---- keys ----------------------------------------------------------------- */

static char *
read_line_file(const char *path)
{
    char  buf[128];
    FILE *f = fopen(path, "r");
    char *s = NULL;

    if (f == NULL)
        return NULL;
    if (fgets(buf, sizeof(buf), f) != NULL) {
        buf[strcspn(buf, "\r\n")] = '\0';
        s = xstrdup(buf);
    }
    fclose(f);
    return s;
}

static int
write_file(const char *path, const char *text, mode_t mode)
{
    char tmp[4096];
    int  fd;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text) ||
        write(fd, "\n", 1) != 1 || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        log_error(NULL, "key_write_failed", "path=%s reason=\"%s\"", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return 0;
}

/* The server key pair: kept in state_dir so coreapps keep trusting us across
 * restarts; server.pub is rewritten each start so it always matches. */
static int
load_keys(const char *dir, char *pub, char *sec)
{
    char  path[4096];
    char *s;

    snprintf(path, sizeof(path), "%s/server.key", dir);
    s = read_line_file(path);
    if (s != NULL && strlen(s) == NETPROTO_KEY_LEN && zmq_curve_public(pub, s) == 0) {
        strcpy(sec, s);
    } else {
        if (zmq_curve_keypair(pub, sec) != 0 || write_file(path, sec, 0600) != 0) {
            free(s);
            return -1;
        }
        log_info(NULL, "server_key_created", "path=%s", path);
    }
    free(s);
    snprintf(path, sizeof(path), "%s/%s", dir, NETPROTO_SERVER_KEY_FILE);
    return write_file(path, pub, 0644);
}

/* ---- sessions ------------------------------------------------------------- */

static struct link_session *
session_find(struct link *l, const void *rid, size_t len)
{
    for (struct link_session *s = l->sessions; s; s = s->next)
        if (s->rid_len == len && memcmp(s->rid, rid, len) == 0)
            return s;
    return NULL;
}

static void
session_free(struct link_session *s)
{
    free(s->wa_id);
    free(s);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct link          *l = arg;
    struct link_session **pp = &l->sessions;
    int64_t               now = clock_wall_ms();

    (void) fd;
    (void) what;
    while (*pp) {
        struct link_session *s = *pp;

        if (now - s->last_ms > SESSION_IDLE_MS) {
            log_info(NULL, "session_gone", "wa_id=%s", s->wa_id ? s->wa_id : "-");
            *pp = s->next;
            session_free(s);
        } else {
            pp = &s->next;
        }
    }
}

const char *link_session_key(const struct link_session *s) { return s->key; }
const char *link_session_wa_id(const struct link_session *s) { return s->wa_id; }

void
link_session_set_wa_id(struct link *l, struct link_session *s, const char *wa_id)
{
    for (struct link_session *o = l->sessions; o; o = o->next)
        if (o != s && o->wa_id && strcmp(o->wa_id, wa_id) == 0) {
            free(o->wa_id);
            o->wa_id = NULL;
        }
    free(s->wa_id);
    s->wa_id = xstrdup(wa_id);
}

static struct link_session *
online(struct link *l, const char *wa_id)
{
    for (struct link_session *s = l->sessions; s; s = s->next)
        if (s->wa_id && strcmp(s->wa_id, wa_id) == 0)
            return s;
    return NULL;
}

bool
link_is_online(struct link *l, const char *wa_id)
{
    return online(l, wa_id) != NULL;
}

/* ---- frames --------------------------------------------------------------- */

static int
send_raw(struct link *l, const unsigned char *rid, size_t rid_len, const char *buf, size_t len,
         const char *wa_id)
{
    if (zmq_send(l->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(l->router, buf, len, ZMQ_DONTWAIT) < 0) {
        log_debug(NULL, "send_failed", "wa_id=%s reason=\"%s\"", wa_id ? wa_id : "-",
                  zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

int
link_send_raw(struct link *l, struct link_session *s, const char *buf, size_t len)
{
    int rc;

    if (l->holds > 0) {
        struct held_frame *h;

        if (l->nheld == l->held_cap) {
            l->held_cap = l->held_cap ? l->held_cap * 2 : 256;
            l->held = xrealloc(l->held, l->held_cap * sizeof(*l->held));
        }
        h = &l->held[l->nheld++];
        h->rid_off = l->held_data.len;
        h->rid_len = s->rid_len;
        jbuf_add(&l->held_data, (const char *) s->rid, s->rid_len);
        h->off = l->held_data.len;
        h->len = len;
        jbuf_add(&l->held_data, buf, len);
        return 0;
    }
    rc = send_raw(l, s->rid, s->rid_len, buf, len, s->wa_id);
    event_active(l->kick, EV_READ, 0);
    return rc;
}

int
link_send(struct link *l, struct link_session *s, const json_t *frame)
{
    jbuf_reset(&l->scratch);
    jbuf_json(&l->scratch, frame);
    return link_send_raw(l, s, l->scratch.p, l->scratch.len);
}

void
link_hold(struct link *l)
{
    l->holds++;
}

static bool
same_rid(const struct link *l, const struct held_frame *a, const struct held_frame *b)
{
    return a->rid_len == b->rid_len &&
           memcmp(l->held_data.p + a->rid_off, l->held_data.p + b->rid_off, a->rid_len) == 0;
}

/* Sends the held frames in order; consecutive frames for one session go as
 * netproto.h "batch" frames of up to BATCH_BYTES. */
#define BATCH_BYTES (256 * 1024)

void
link_release(struct link *l)
{
    if (l->holds == 0 || --l->holds > 0)
        return;
    for (size_t i = 0, j; i < l->nheld; i = j) {
        struct held_frame *h = &l->held[i];
        size_t             bytes = h->len;

        for (j = i + 1; j < l->nheld && same_rid(l, h, &l->held[j]) &&
                        bytes + l->held[j].len < BATCH_BYTES; j++)
            bytes += l->held[j].len + 1;
        if (j == i + 1) {
            send_raw(l, (const unsigned char *) l->held_data.p + h->rid_off, h->rid_len,
                     l->held_data.p + h->off, h->len, NULL);
            continue;
        }
        jbuf_reset(&l->scratch);
        jbuf_adds(&l->scratch, "{\"v\":");
        jbuf_int(&l->scratch, NETPROTO_VERSION);
        jbuf_adds(&l->scratch, ",\"t\":\"batch\",\"frames\":[");
        for (size_t k = i; k < j; k++) {
            if (k > i)
                jbuf_addc(&l->scratch, ',');
            jbuf_add(&l->scratch, l->held_data.p + l->held[k].off, l->held[k].len);
        }
        jbuf_adds(&l->scratch, "]}");
        send_raw(l, (const unsigned char *) l->held_data.p + h->rid_off, h->rid_len,
                 l->scratch.p, l->scratch.len, NULL);
    }
    l->nheld = 0;
    jbuf_reset(&l->held_data);
    /* a burst can leave a large buffer behind: keep memory bounded */
    if (l->held_data.cap > (4u << 20))
        jbuf_free(&l->held_data);
    event_active(l->kick, EV_READ, 0);
}

int
link_send_to(struct link *l, const char *wa_id, const json_t *frame)
{
    struct link_session *s = online(l, wa_id);

    return s ? link_send(l, s, frame) : -1;
}

int
link_send_raw_to(struct link *l, const char *wa_id, const char *buf, size_t len)
{
    struct link_session *s = online(l, wa_id);

    return s ? link_send_raw(l, s, buf, len) : -1;
}

static void
handle_frame(struct link *l, zmq_msg_t *rid, zmq_msg_t *body)
{
    const char          *user = zmq_msg_gets(body, "User-Id");
    struct link_session *s;
    const char          *why;
    json_t              *j;

    if (user == NULL || strlen(user) != NETPROTO_KEY_LEN || zmq_msg_size(rid) > 255)
        return;                       /* not through our ZAP handler: ignore */
    s = session_find(l, zmq_msg_data(rid), zmq_msg_size(rid));
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->rid_len = zmq_msg_size(rid);
        memcpy(s->rid, zmq_msg_data(rid), s->rid_len);
        s->next = l->sessions;
        l->sessions = s;
    }
    strcpy(s->key, user);
    s->last_ms = clock_wall_ms();
    j = netproto_decode(zmq_msg_data(body), zmq_msg_size(body), &why);
    if (j == NULL) {
        json_t *err = netproto_new("error");

        log_warn(NULL, "bad_frame", "reason=%s bytes=%zu", why, zmq_msg_size(body));
        json_object_set_new(err, "error", json_string(why));
        link_send(l, s, err);
        json_decref(err);
        return;
    }
    if (strcmp(json_string_value(json_object_get(j, "t")), "batch") == 0) {
        json_t *inner;
        size_t  i;

        json_array_foreach(json_object_get(j, "frames"), i, inner)
            if (json_is_string(json_object_get(inner, "t")))
                l->cb(s, inner, l->arg);
    } else {
        l->cb(s, j, l->arg);
    }
    json_decref(j);
}

static void
router_cb(evutil_socket_t fd, short what, void *arg)
{
    struct link *l = arg;
    int          more;
    size_t       sz = sizeof(more);

    (void) fd;
    (void) what;
    for (;;) {
        zmq_msg_t parts[2], extra;
        int       n = 0;

        zmq_msg_init(&parts[0]);
        if (zmq_msg_recv(&parts[0], l->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&parts[0]);
            return;
        }
        n = 1;
        zmq_getsockopt(l->router, ZMQ_RCVMORE, &more, &sz);
        if (more) {
            zmq_msg_init(&parts[1]);
            zmq_msg_recv(&parts[1], l->router, 0);
            n = 2;
            zmq_getsockopt(l->router, ZMQ_RCVMORE, &more, &sz);
            while (more) {                  /* extra frames are not ours: drop */
                zmq_msg_init(&extra);
                zmq_msg_recv(&extra, l->router, 0);
                zmq_msg_close(&extra);
                zmq_getsockopt(l->router, ZMQ_RCVMORE, &more, &sz);
            }
        }
        if (n == 2)
            handle_frame(l, &parts[0], &parts[1]);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
    }
}

/* ZAP (RFC 27): admit every CURVE client, naming it by its public key. */
static void
zap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct link *l = arg;

    (void) fd;
    (void) what;
    for (;;) {
        zmq_msg_t f[7];
        int       n = 0, more = 1;
        size_t    sz = sizeof(more);
        char      user[NETPROTO_KEY_LEN + 1] = "";

        while (more) {
            zmq_msg_t tmp;

            zmq_msg_init(&tmp);
            if (zmq_msg_recv(&tmp, l->zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(&tmp);
                break;
            }
            if (n < 7)
                f[n++] = tmp;
            else
                zmq_msg_close(&tmp);
            zmq_getsockopt(l->zap, ZMQ_RCVMORE, &more, &sz);
        }
        if (n == 0)
            return;
        if (n == 7 && zmq_msg_size(&f[6]) == 32)
            zmq_z85_encode(user, zmq_msg_data(&f[6]), 32);
        zmq_send(l->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(l->zap, n > 1 ? zmq_msg_data(&f[1]) : "", n > 1 ? zmq_msg_size(&f[1]) : 0,
                 ZMQ_SNDMORE);
        zmq_send(l->zap, user[0] ? "200" : "400", 3, ZMQ_SNDMORE);
        zmq_send(l->zap, user[0] ? "OK" : "CURVE only", user[0] ? 2 : 10, ZMQ_SNDMORE);
        zmq_send(l->zap, user, strlen(user), ZMQ_SNDMORE);
        zmq_send(l->zap, "", 0, 0);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
    }
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
    router_cb(fd, what, arg);
}

static struct event *
watch(struct link *l, void *sock, event_callback_fn cb)
{
    int          fd;
    size_t       sz = sizeof(fd);
    struct event *ev;

    zmq_getsockopt(sock, ZMQ_FD, &fd, &sz);
    ev = event_new(l->base, fd, EV_READ | EV_PERSIST, cb, l);
    event_add(ev, NULL);
    return ev;
}

struct link *
link_new(struct event_base *base, const char *endpoint, const char *state_dir,
         link_frame_cb cb, void *arg)
{
    struct link   *l = xcalloc(1, sizeof(*l));
    char           pub[NETPROTO_KEY_LEN + 1], sec[NETPROTO_KEY_LEN + 1];
    int            one = 1, zero = 0, hwm = 100000;
    struct timeval sweep = { 1, 0 };

    l->base = base;
    l->cb = cb;
    l->arg = arg;
    if (load_keys(state_dir, pub, sec) != 0)
        goto fail;
    l->zctx = zmq_ctx_new();
    /* the ZAP handler must be bound before any client can connect */
    l->zap = zmq_socket(l->zctx, ZMQ_REP);
    zmq_setsockopt(l->zap, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_bind(l->zap, ZAP_ENDPOINT) != 0)
        goto zfail;
    l->router = zmq_socket(l->zctx, ZMQ_ROUTER);
    zmq_setsockopt(l->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(l->router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(l->router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(l->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    zmq_setsockopt(l->router, ZMQ_CURVE_SERVER, &one, sizeof(one));
    zmq_setsockopt(l->router, ZMQ_CURVE_SECRETKEY, sec, NETPROTO_KEY_LEN);
    zmq_setsockopt(l->router, ZMQ_ZAP_DOMAIN, "wa", 2);
    if (zmq_bind(l->router, endpoint) != 0)
        goto zfail;
    l->router_ev = watch(l, l->router, router_cb);
    l->zap_ev = watch(l, l->zap, zap_cb);
    l->kick = event_new(base, -1, 0, kick_cb, l);
    l->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, l);
    event_add(l->sweep, &sweep);
    log_info(NULL, "link_listening", "endpoint=%s public_key=%s", endpoint, pub);
    return l;
zfail:
    log_error(NULL, "link_bind_failed", "endpoint=%s reason=\"%s\"", endpoint,
              zmq_strerror(zmq_errno()));
fail:
    link_free(l);
    return NULL;
}

void
link_free(struct link *l)
{
    if (l == NULL)
        return;
    free(l->held);
    jbuf_free(&l->held_data);
    jbuf_free(&l->scratch);
    if (l->router_ev)
        event_free(l->router_ev);
    if (l->zap_ev)
        event_free(l->zap_ev);
    if (l->kick)
        event_free(l->kick);
    if (l->sweep)
        event_free(l->sweep);
    while (l->sessions) {
        struct link_session *s = l->sessions;
        l->sessions = s->next;
        session_free(s);
    }
    if (l->router)
        zmq_close(l->router);
    if (l->zap)
        zmq_close(l->zap);
    if (l->zctx)
        zmq_ctx_term(l->zctx);
    free(l);
}
