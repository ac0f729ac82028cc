/* dispatch.c - ROUTER socket, request decoding, handler table, replies. */
#include <event2/event.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <zmq.h>
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/dispatch.h"

/* A reply encoded and waiting for this loop turn's send (flush()). */
struct queued {
    void   *identity;               /* the webapp's routing id, owned */
    size_t  identity_len;
    char   *head;
    size_t  len;
};

struct dispatch {
    struct event_base *base;
    void              *sock;
    struct event      *readable;
    struct event      *kick;        /* this turn's replies, then a re-drain
                                       (edge-triggered FD) */
    struct queued     *out;         /* replies without a binary frame */
    size_t             nout, capout;
    struct {
        core_handler_fn fn;
        void           *arg;
    } handlers[WIRE__COUNT];
    dispatch_observe_fn observe;
    void               *observe_arg;
};

static void
req_free(struct core_req *req)
{
    wire_request_cleanup(&req->w);
    free(req->blob);
    free(req->identity);
    free(req);
}

static bool
same_identity(const struct queued *a, const struct queued *b)
{
    return a->identity_len == b->identity_len &&
           memcmp(a->identity, b->identity, a->identity_len) == 0;
}

/* Sends the replies queued in this loop turn: one message per webapp, a
 * batch when it holds several (wire.h). A group commit answers tens of
 * requests at once; one message for them wakes libzmq's I/O threads once
 * instead of once per reply. */
static void
flush(struct dispatch *d)
{
    size_t n = d->nout;

    for (size_t i = 0; i < n; i++) {
        size_t count = 0, last = i;
        int    rc;

        if (d->out[i].head == NULL)
            continue;                       /* sent with an earlier identity */
        for (size_t j = i; j < n; j++) {
            if (d->out[j].head != NULL && same_identity(&d->out[i], &d->out[j])) {
                count++;
                last = j;
            }
        }
        /* ROUTER drops what it can't route (webapp gone): nothing to undo */
        rc = zmq_send(d->sock, d->out[i].identity, d->out[i].identity_len,
                      ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (rc >= 0 && count > 1)
            rc = zmq_send(d->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        for (size_t j = i; j <= last; j++) {
            if (d->out[j].head == NULL || !same_identity(&d->out[i], &d->out[j]))
                continue;
            if (rc >= 0)
                rc = zmq_send(d->sock, d->out[j].head, d->out[j].len,
                              (j < last ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
            free(d->out[j].head);
            d->out[j].head = NULL;
        }
        if (rc < 0)
            log_warn(NULL, "reply_failed", "replies=%zu reason=\"%s\"", count,
                     zmq_strerror(zmq_errno()));
    }
    for (size_t i = 0; i < n; i++)
        free(d->out[i].identity);
    d->nout = 0;
}

static void
send_reply(struct core_req *req, struct wire_reply *r, const void *blob, size_t blob_len)
{
    struct dispatch *d = req->d;
    size_t           len;
    char            *head;

    memcpy(r->rid, req->w.rid, sizeof(r->rid));
    head = wire_reply_encode(r, &len);
    if (r->content_type == NULL) {
        if (d->nout == d->capout) {
            d->capout = d->capout ? 2 * d->capout : 64;
            d->out = xrealloc(d->out, d->capout * sizeof(*d->out));
        }
        d->out[d->nout] = (struct queued) { req->identity, req->identity_len, head, len };
        d->nout++;
        req->identity = NULL;               /* the queue's now */
    } else {
        if (zmq_send(d->sock, req->identity, req->identity_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(d->sock, head, len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(d->sock, blob, blob_len, ZMQ_DONTWAIT) < 0)
            log_warn(req->w.rid, "reply_failed", "reason=\"%s\"", zmq_strerror(zmq_errno()));
        free(head);
    }
    log_event(r->status >= 500 ? LOG_WARN : LOG_DEBUG, req->w.rid, "command",
              "cmd=%s status=%d%s%s", wire_cmd_name(req->w.cmd), r->status,
              r->error ? " error=" : "", r->error ? err_name(r->error) : "");
    if (d->observe != NULL)
        d->observe(req->w.cmd, r->status, r->error, clock_mono_us() - req->received_us,
                   d->observe_arg);
    event_active(d->kick, 0, 0);
}

void
core_reply(struct core_req *req, int status, json_t *payload)
{
    struct wire_reply r;

    memset(&r, 0, sizeof(r));
    r.status = status;
    r.body = payload;
    send_reply(req, &r, NULL, 0);
    wire_reply_cleanup(&r);
    req_free(req);
}

void
core_reply_error(struct core_req *req, enum err_code e, const char *fmt, ...)
{
    struct wire_reply r;
    char              details[512] = "";
    va_list           ap;

    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(details, sizeof(details), fmt, ap);
        va_end(ap);
    }
    memset(&r, 0, sizeof(r));
    wire_reply_set_error(&r, e, details[0] ? details : NULL);
    send_reply(req, &r, NULL, 0);
    wire_reply_cleanup(&r);
    req_free(req);
}

void
core_reply_raw(struct core_req *req, int status, const char *content_type, const void *data,
               size_t len)
{
    struct wire_reply r;

    memset(&r, 0, sizeof(r));
    r.status = status;
    r.content_type = xstrdup(content_type);
    send_reply(req, &r, data ? data : "", data ? len : 0);
    wire_reply_cleanup(&r);
    req_free(req);
}

int
core_known_keys_or_reply(struct core_req *req, const char *const *allowed, size_t n)
{
    const char *key;
    json_t     *v;

    json_object_foreach(req->w.body, key, v) {
        size_t i = 0;

        while (i < n && strcmp(key, allowed[i]) != 0)
            i++;
        if (i == n) {
            core_reply_error(req, ERR_PARAM_INVALID, "unknown field: %s", key);
            return -1;
        }
    }
    return 0;
}

const char *
core_param(const struct core_req *req, const char *name)
{
    return json_string_value(json_object_get(req->w.params, name));
}

static void
handle(struct dispatch *d, struct core_req *req)
{
    core_handler_fn fn = d->handlers[req->w.cmd].fn;

    if (req->w.deadline_ms != 0 && req->w.deadline_ms < clock_wall_ms()) {
        log_warn(req->w.rid, "request_expired", "cmd=%s late_ms=%lld", wire_cmd_name(req->w.cmd),
                 (long long) (clock_wall_ms() - req->w.deadline_ms));
        req_free(req);
        return;
    }
    log_debug(req->w.rid, "command_received", "cmd=%s user=%s", wire_cmd_name(req->w.cmd),
              req->w.user ? req->w.user : "-");
    if (fn == NULL) {
        core_reply_error(req, ERR_NODE_UNAVAILABLE, "%s is not available in this version",
                         json_string_value(json_object_get(req->w.params, "_path")));
        return;
    }
    fn(req, d->handlers[req->w.cmd].arg);
}

static struct core_req *
request_new(struct dispatch *d, zmq_msg_t *identity, zmq_msg_t *head, zmq_msg_t *blob)
{
    struct core_req *req = xcalloc(1, sizeof(*req));

    req->d = d;
    req->received_us = clock_mono_us();
    if (wire_request_decode(zmq_msg_data(head), zmq_msg_size(head), &req->w) != 0) {
        log_warn(NULL, "bad_request_frame", "bytes=%zu", zmq_msg_size(head));
        free(req);
        return NULL;
    }
    req->identity_len = zmq_msg_size(identity);
    req->identity = xmalloc(req->identity_len);
    memcpy(req->identity, zmq_msg_data(identity), req->identity_len);
    if (blob != NULL) {
        req->blob_len = zmq_msg_size(blob);
        req->blob = xmalloc(req->blob_len + 1);
        memcpy(req->blob, zmq_msg_data(blob), req->blob_len);
        ((char *) req->blob)[req->blob_len] = '\0';
    }
    return req;
}

/* Handles one whole message, if one is waiting: the identity, then either
 * one header with an optional binary frame, or a batch (an empty frame,
 * then one header per frame: wire.h). Returns false when none was waiting. */
static bool
recv_requests(struct dispatch *d)
{
    zmq_msg_t        identity, first, part;
    int              more = 0;
    size_t           sz = sizeof(more);
    bool             batch = false;
    struct core_req *req;

    zmq_msg_init(&identity);
    if (zmq_msg_recv(&identity, d->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&identity);
        return false;
    }
    zmq_msg_init(&first);
    zmq_getsockopt(d->sock, ZMQ_RCVMORE, &more, &sz);
    if (more && zmq_msg_recv(&first, d->sock, 0) >= 0) {
        zmq_getsockopt(d->sock, ZMQ_RCVMORE, &more, &sz);
        batch = zmq_msg_size(&first) == 0;
        if (!batch) {                       /* one header, then its binary frame if any */
            bool has_blob = false;

            zmq_msg_init(&part);
            if (more && (has_blob = zmq_msg_recv(&part, d->sock, 0) >= 0))
                zmq_getsockopt(d->sock, ZMQ_RCVMORE, &more, &sz);
            if ((req = request_new(d, &identity, &first, has_blob ? &part : NULL)) != NULL)
                handle(d, req);
            zmq_msg_close(&part);
        }
    }
    /* the rest: a batch's headers, or frames beyond a request, ignored */
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, d->sock, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        zmq_getsockopt(d->sock, ZMQ_RCVMORE, &more, &sz);
        if (batch && (req = request_new(d, &identity, &part, NULL)) != NULL)
            handle(d, req);
        zmq_msg_close(&part);
    }
    zmq_msg_close(&first);
    zmq_msg_close(&identity);
    return true;
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dispatch *d = arg;

    (void) fd;
    (void) what;
    flush(d);
    while (recv_requests(d))
        ;
}

struct dispatch *
dispatch_new(struct event_base *base, void *zctx, const char *endpoint)
{
    struct dispatch *d = xcalloc(1, sizeof(*d));
    int              zero = 0, hwm = 100000, fd, mandatory = 0;
    size_t           fdsz = sizeof(fd);

    d->base = base;
    d->sock = zmq_socket(zctx, ZMQ_ROUTER);
    zmq_setsockopt(d->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(d->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(d->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(d->sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory));
    if (zmq_bind(d->sock, endpoint) != 0) {
        log_error(NULL, "bind_failed", "endpoint=%s reason=\"%s\"", endpoint,
                  zmq_strerror(zmq_errno()));
        dispatch_free(d);
        return NULL;
    }
    zmq_getsockopt(d->sock, ZMQ_FD, &fd, &fdsz);
    d->readable = event_new(base, fd, EV_READ | EV_PERSIST, drain_cb, d);
    d->kick = event_new(base, -1, 0, drain_cb, d);
    event_add(d->readable, NULL);
    log_info(NULL, "listening", "endpoint=%s", endpoint);
    return d;
}

void
dispatch_free(struct dispatch *d)
{
    if (d == NULL)
        return;
    flush(d);
    free(d->out);
    if (d->readable)
        event_free(d->readable);
    if (d->kick)
        event_free(d->kick);
    if (d->sock)
        zmq_close(d->sock);
    free(d);
}

void
dispatch_register(struct dispatch *d, enum wire_cmd cmd, core_handler_fn fn, void *arg)
{
    d->handlers[cmd].fn = fn;
    d->handlers[cmd].arg = arg;
}

void
dispatch_set_observer(struct dispatch *d, dispatch_observe_fn fn, void *arg)
{
    d->observe = fn;
    d->observe_arg = arg;
}
