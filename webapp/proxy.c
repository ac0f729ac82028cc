/* proxy.c - DEALER socket, pending-request table and timeouts. */
#include <event2/event.h>
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>
#include <zmq.h>
#include "common/log.h"
#include "common/xalloc.h"
#include "webapp/proxy.h"

#define PENDING_BUCKETS 4096

struct pending {
    struct pending *next;
    struct proxy   *proxy;
    char            rid[WIRE_RID_LEN + 1];
    proxy_reply_fn  cb;
    void           *arg;
    struct event   *timer;
};

/* A request encoded and waiting for this loop turn's send (flush()). */
struct queued {
    char   *head;
    size_t  len;
    char    rid[WIRE_RID_LEN + 1];
};

struct proxy {
    struct event_base    *base;
    void                 *zctx;
    void                 *sock;
    struct event         *readable;
    struct event         *kick;         /* this turn's sends, then one drain */
    struct queued        *out;          /* requests without a binary frame */
    size_t                nout, capout;
    const struct timeval *timeout;      /* a libevent common timeout */
    int                   timeout_ms;
    struct pending       *buckets[PENDING_BUCKETS];
    unsigned              inflight;
};

static unsigned
rid_bucket(const char *rid)
{
    unsigned h = 2166136261u;

    for (; *rid; rid++)
        h = (h ^ (unsigned char) *rid) * 16777619u;
    return h % PENDING_BUCKETS;
}

static struct pending *
pending_take(struct proxy *p, const char *rid)
{
    struct pending **pp = &p->buckets[rid_bucket(rid)];

    for (; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->rid, rid) == 0) {
            struct pending *found = *pp;
            *pp = found->next;
            p->inflight--;
            return found;
        }
    }
    return NULL;
}

static void
answer_error(proxy_reply_fn cb, void *arg, const char *rid, enum err_code e,
             const char *details)
{
    struct wire_reply r;

    memset(&r, 0, sizeof(r));
    snprintf(r.rid, sizeof(r.rid), "%s", rid);
    wire_reply_set_error(&r, e, details);
    cb(&r, NULL, 0, arg);
    wire_reply_cleanup(&r);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pending *pd = arg;
    struct proxy   *p = pd->proxy;
    char            details[96];

    (void) fd;
    (void) what;
    pd = pending_take(p, pd->rid);
    if (pd == NULL)
        return;
    log_warn(pd->rid, "coreapp_timeout", "timeout_ms=%d", p->timeout_ms);
    snprintf(details, sizeof(details), "coreapp did not answer within %d ms", p->timeout_ms);
    answer_error(pd->cb, pd->arg, pd->rid, ERR_SERVICE_NOT_READY, details);
    event_free(pd->timer);
    free(pd);
}

static void
handle_reply(struct proxy *p, zmq_msg_t *head, zmq_msg_t *blob)
{
    struct wire_reply  r;
    struct pending    *pd;

    if (wire_reply_decode(zmq_msg_data(head), zmq_msg_size(head), &r) != 0) {
        log_warn(NULL, "coreapp_bad_reply", "bytes=%zu", zmq_msg_size(head));
        return;
    }
    pd = pending_take(p, r.rid);
    if (pd == NULL) {
        /* answered already (timeout): the client got 503 */
        log_info(r.rid, "coreapp_late_reply", "status=%d", r.status);
    } else {
        event_free(pd->timer);
        pd->cb(&r, blob ? zmq_msg_data(blob) : NULL, blob ? zmq_msg_size(blob) : 0, pd->arg);
        free(pd);
    }
    wire_reply_cleanup(&r);
}

/* Receives the rest of a message whose first frame is in *first: a batch
 * of replies (wire.h) or one reply with its binary frame, if any. */
static void
recv_rest(struct proxy *p, zmq_msg_t *first)
{
    zmq_msg_t next;
    int       more = 0;
    size_t    sz = sizeof(more);
    bool      batch = zmq_msg_size(first) == 0;

    zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &sz);
    if (!more) {
        handle_reply(p, first, NULL);
        return;
    }
    while (more) {
        zmq_msg_init(&next);
        if (zmq_msg_recv(&next, p->sock, 0) < 0) {
            zmq_msg_close(&next);
            return;
        }
        if (batch)
            handle_reply(p, &next, NULL);
        else if (first != NULL)             /* its binary frame; any further one is dropped */
            handle_reply(p, first, &next);
        first = NULL;
        zmq_msg_close(&next);
        zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &sz);
    }
}

/* ZMQ_FD is edge-triggered: drain until ZMQ_EVENTS has no POLLIN. */
static void
drain(struct proxy *p)
{
    for (;;) {
        zmq_msg_t first;

        zmq_msg_init(&first);
        if (zmq_msg_recv(&first, p->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&first);
            return;
        }
        recv_rest(p, &first);
        zmq_msg_close(&first);
    }
}

static void
fail_queued(struct proxy *p, const char *rid)
{
    struct pending *pd = pending_take(p, rid);

    if (pd == NULL)
        return;
    answer_error(pd->cb, pd->arg, pd->rid, ERR_SERVICE_NOT_READY, "coreapp is not reachable");
    event_free(pd->timer);
    free(pd);
}

/* Sends the requests queued in this loop turn as one message: a batch when
 * there are several (wire.h). Every send wakes libzmq's I/O thread unless it
 * is already awake; one message per turn instead of one per request saves
 * most of those wake-ups, in both processes. */
static void
flush(struct proxy *p)
{
    struct queued *q = p->out;
    size_t         n = p->nout;
    int            rc = 0;

    if (n == 0)
        return;
    p->out = NULL;          /* a failure's callbacks may queue again */
    p->nout = p->capout = 0;
    if (n > 1)
        rc = zmq_send(p->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    for (size_t i = 0; i < n && rc >= 0; i++)
        rc = zmq_send(p->sock, q[i].head, q[i].len, (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
    if (rc < 0)
        log_warn(NULL, "coreapp_unreachable", "requests=%zu reason=\"%s\"", n,
                 zmq_strerror(zmq_errno()));
    for (size_t i = 0; i < n; i++) {
        if (rc < 0)
            fail_queued(p, q[i].rid);
        free(q[i].head);
    }
    free(q);
}

static void
readable_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    drain(arg);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    flush(arg);
    drain(arg);
}

struct proxy *
proxy_new(struct event_base *base, const char *endpoint, int timeout_ms)
{
    struct proxy  *p = xcalloc(1, sizeof(*p));
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    int            one = 1, zero = 0, hwm = 100000, ivl = 100, ivl_max = 1000;
    int            fd;
    size_t         fdsz = sizeof(fd);

    p->base = base;
    p->timeout_ms = timeout_ms;
    p->timeout = event_base_init_common_timeout(base, &tv);
    p->zctx = zmq_ctx_new();
    p->sock = zmq_socket(p->zctx, ZMQ_DEALER);
    /* IMMEDIATE: with no live coreapp, sends fail at once (-> 503) instead of
     * queueing requests that would run long after the client gave up. */
    zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
    zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(p->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    if (zmq_connect(p->sock, endpoint) != 0) {
        log_error(NULL, "coreapp_connect_failed", "endpoint=%s reason=\"%s\"", endpoint,
                  zmq_strerror(zmq_errno()));
        proxy_free(p);
        return NULL;
    }
    zmq_getsockopt(p->sock, ZMQ_FD, &fd, &fdsz);
    p->readable = event_new(base, fd, EV_READ | EV_PERSIST, readable_cb, p);
    p->kick = event_new(base, -1, 0, kick_cb, p);
    event_add(p->readable, NULL);
    log_info(NULL, "coreapp_endpoint", "endpoint=%s timeout_ms=%d", endpoint, timeout_ms);
    return p;
}

void
proxy_free(struct proxy *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < PENDING_BUCKETS; i++) {
        while (p->buckets[i]) {
            struct pending *pd = p->buckets[i];
            p->buckets[i] = pd->next;
            answer_error(pd->cb, pd->arg, pd->rid, ERR_SERVICE_NOT_READY, "shutting down");
            event_free(pd->timer);
            free(pd);
        }
    }
    for (size_t i = 0; i < p->nout; i++)
        free(p->out[i].head);
    free(p->out);
    if (p->readable)
        event_free(p->readable);
    if (p->kick)
        event_free(p->kick);
    if (p->sock)
        zmq_close(p->sock);
    if (p->zctx)
        zmq_ctx_term(p->zctx);
    free(p);
}

void
proxy_call(struct proxy *p, struct wire_request *req, const void *blob, size_t blob_len,
           proxy_reply_fn cb, void *arg)
{
    struct pending *pd;
    struct timeval  now;
    char           *head;
    size_t          len;
    int             rc;

    gettimeofday(&now, NULL);
    req->deadline_ms = (int64_t) now.tv_sec * 1000 + now.tv_usec / 1000 + p->timeout_ms;
    head = wire_request_encode(req, &len);
    if (blob == NULL) {
        if (p->nout == p->capout) {
            p->capout = p->capout ? 2 * p->capout : 64;
            p->out = xrealloc(p->out, p->capout * sizeof(*p->out));
        }
        p->out[p->nout].head = head;
        p->out[p->nout].len = len;
        memcpy(p->out[p->nout].rid, req->rid, sizeof(p->out[p->nout].rid));
        p->nout++;
    } else {
        rc = zmq_send(p->sock, head, len, ZMQ_DONTWAIT | ZMQ_SNDMORE);
        if (rc >= 0)
            rc = zmq_send(p->sock, blob, blob_len, ZMQ_DONTWAIT);
        free(head);
        if (rc < 0) {
            log_warn(req->rid, "coreapp_unreachable", "reason=\"%s\"", zmq_strerror(zmq_errno()));
            answer_error(cb, arg, req->rid, ERR_SERVICE_NOT_READY, "coreapp is not reachable");
            return;
        }
    }
    pd = xcalloc(1, sizeof(*pd));
    pd->proxy = p;
    memcpy(pd->rid, req->rid, sizeof(pd->rid));
    pd->cb = cb;
    pd->arg = arg;
    pd->timer = evtimer_new(p->base, timeout_cb, pd);
    evtimer_add(pd->timer, p->timeout);
    pd->next = p->buckets[rid_bucket(pd->rid)];
    p->buckets[rid_bucket(pd->rid)] = pd;
    p->inflight++;
    /* Queued requests leave together at the end of this loop turn; a send
     * can consume the edge that announced a pending reply, so the socket is
     * drained then too, once: an empty drain costs libzmq a getpid() and a
     * poll(). */
    event_active(p->kick, 0, 0);
}

unsigned proxy_inflight(const struct proxy *p) { return p->inflight; }
