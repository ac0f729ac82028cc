/* dispatch.c - ROUTER socket, request decoding, handler table, replies. */
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <zmq.h>
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/dispatch.h"

struct dispatch {
    struct event_base *base;
    void              *sock;
    struct event      *readable;
    struct event      *kick;        /* re-drain after sends (edge-triggered FD) */
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

static void
send_reply(struct core_req *req, struct wire_reply *r, const void *blob, size_t blob_len)
{
    struct dispatch *d = req->d;
    size_t           len;
    char            *head;

    memcpy(r->rid, req->w.rid, sizeof(r->rid));
    head = wire_reply_encode(r, &len);
    /* ROUTER drops what it can't route (webapp gone): nothing to undo */
    if (zmq_send(d->sock, req->identity, req->identity_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(d->sock, head, len, (r->content_type ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0 ||
        (r->content_type && zmq_send(d->sock, blob, blob_len, ZMQ_DONTWAIT) < 0))
        log_warn(req->w.rid, "reply_failed", "reason=\"%s\"", zmq_strerror(zmq_errno()));
    log_event(r->status >= 500 ? LOG_WARN : LOG_DEBUG, req->w.rid, "command",
              "cmd=%s status=%d%s%s", wire_cmd_name(req->w.cmd), r->status,
              r->error ? " error=" : "", r->error ? err_name(r->error) : "");
    free(head);
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

/* Reads one multipart message: identity, header, optional blob. */
static struct core_req *
recv_request(struct dispatch *d, int *again)
{
    zmq_msg_t        parts[3];
    int              n = 0, more = 1;
    size_t           sz = sizeof(more);
    struct core_req *req = NULL;

    *again = 0;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, d->sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&tmp);
            break;
        }
        if (n < 3)
            parts[n++] = tmp;
        else
            zmq_msg_close(&tmp);          /* extra frames are ignored */
        zmq_getsockopt(d->sock, ZMQ_RCVMORE, &more, &sz);
    }
    if (n == 0)
        return NULL;
    *again = 1;
    if (n >= 2) {
        req = xcalloc(1, sizeof(*req));
        req->d = d;
        req->received_us = clock_mono_us();
        if (wire_request_decode(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), &req->w) != 0) {
            log_warn(NULL, "bad_request_frame", "bytes=%zu", zmq_msg_size(&parts[1]));
            free(req);
            req = NULL;
        } else {
            req->identity_len = zmq_msg_size(&parts[0]);
            req->identity = xmalloc(req->identity_len);
            memcpy(req->identity, zmq_msg_data(&parts[0]), req->identity_len);
            if (n == 3) {
                req->blob_len = zmq_msg_size(&parts[2]);
                req->blob = xmalloc(req->blob_len + 1);
                memcpy(req->blob, zmq_msg_data(&parts[2]), req->blob_len);
                ((char *) req->blob)[req->blob_len] = '\0';
            }
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
    return req;
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dispatch *d = arg;
    struct core_req *req;
    int              again = 1;

    (void) fd;
    (void) what;
    while (again) {
        req = recv_request(d, &again);
        if (req != NULL)
            handle(d, req);
    }
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
