/* http_server.c - evhttp over OpenSSL bufferevents; one reply per request. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <string.h>
#include "common/accept_rest.h"
#include "common/clock.h"
#include "common/envelope.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "webapp/http_server.h"
#include "webapp/tls.h"

struct http_server {
    struct event_base       *base;
    struct evhttp           *http;
    struct evhttp_bound_socket *sock;
    struct tls              *tls;
    http_handler_fn          handler;
    void                    *arg;
    http_observe_fn          observe;
    void                    *observe_arg;
    unsigned                 inflight;
    struct conn_count       *conns;
};

/* Open connections are counted through their SSL objects: evhttp frees a
 * connection's bufferevent, and with it the SSL, however the connection ends,
 * and OpenSSL calls conn_gone() for each. That can happen after
 * http_server_free() (libevent defers the frees to event_base_free), so the
 * counts live apart, freed by whichever of the server and its SSLs goes last. */
struct conn_count {
    struct http_conn_stats stats;
    unsigned               refs;        /* the server's, plus one per open SSL */
    /* Admission: at max_open connections the listener is paused (new ones wait
     * in the kernel's backlog) until one closes. listener and rest are NULL
     * once the server stops listening. */
    unsigned               max_open;
    struct evconnlistener *listener;
    struct accept_rest    *rest;        /* paused after an accept() error */
    bool                   full;        /* paused for max_open */
};

static int conn_ex_index = -1;

/* Request ids: a counter from a random start, through a bijective mixer
 * (splitmix64), so ids are unique in this process, unrelated across webapps,
 * and cost no call to the CSPRNG per request (they are not secrets). */
static uint64_t rid_counter;

static void
next_rid(char out[17])
{
    static const char hexd[] = "0123456789abcdef";
    uint64_t          z = (rid_counter += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (int i = 15; i >= 0; i--, z >>= 4)
        out[i] = hexd[z & 15];
    out[16] = '\0';
}

static void
conn_count_release(struct conn_count *c)
{
    if (--c->refs == 0)
        free(c);
}

static void
conn_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct conn_count *c = ptr;

    (void) parent;
    (void) ad;
    (void) idx;
    (void) argl;
    (void) argp;
    if (c == NULL)
        return;
    c->stats.open--;
    if (c->full && c->stats.open < c->max_open) {
        c->full = false;
        if (c->listener != NULL && !accept_rest_resting(c->rest))
            evconnlistener_enable(c->listener);
        log_info(NULL, "accepting_again", "open=%u", c->stats.open);
    }
    conn_count_release(c);
}

/* After an accept() error's pause: not while at max_open. */
static bool
may_resume(void *arg)
{
    struct conn_count *c = arg;

    return c->listener != NULL && !c->full;
}

static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
    struct http_server *srv = arg;
    SSL                *ssl = tls_ssl_new(srv->tls);

    if (ssl == NULL)
        return NULL;
    if (conn_ex_index >= 0 && SSL_set_ex_data(ssl, conn_ex_index, srv->conns) == 1) {
        struct conn_count *c = srv->conns;

        c->refs++;
        c->stats.accepted++;
        if (++c->stats.open > c->stats.peak)
            c->stats.peak = c->stats.open;
        if (c->stats.open >= c->max_open && !c->full && c->listener != NULL) {
            c->full = true;
            evconnlistener_disable(c->listener);
            log_warn(NULL, "connections_full", "open=%u max=%u", c->stats.open, c->max_open);
        }
    }
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static enum http_method
method_of(enum evhttp_cmd_type t, const char **name)
{
    switch (t) {
    case EVHTTP_REQ_GET:    *name = "GET";    return HTTP_GET;
    case EVHTTP_REQ_POST:   *name = "POST";   return HTTP_POST;
    case EVHTTP_REQ_PUT:    *name = "PUT";    return HTTP_PUT;
    case EVHTTP_REQ_PATCH:  *name = "PATCH";  return HTTP_PATCH;
    case EVHTTP_REQ_DELETE: *name = "DELETE"; return HTTP_DELETE;
    case EVHTTP_REQ_HEAD:   *name = "HEAD";   return HTTP_OTHER;
    case EVHTTP_REQ_OPTIONS:*name = "OPTIONS";return HTTP_OTHER;
    default:                *name = "OTHER";  return HTTP_OTHER;
    }
}

static void
req_free(struct http_req *req)
{
    free(req->path);
    free(req->query);
    free(req->body);
    free(req->user);
    free(req->role);
    json_decref(req->json);
    json_decref(req->path_params);
    free(req);
}

static void
request_cb(struct evhttp_request *ev, void *arg)
{
    struct http_server      *srv = arg;
    struct http_req         *req = xcalloc(1, sizeof(*req));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    struct evkeyvalq        *in = evhttp_request_get_input_headers(ev);
    struct evbuffer         *body = evhttp_request_get_input_buffer(ev);
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    const char              *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char              *query = uri ? evhttp_uri_get_query(uri) : NULL;
    char                    *peer = NULL;
    ev_uint16_t              port = 0;
    size_t                   plen = 0;

    srv->inflight++;
    req->ev = ev;
    req->srv = srv;
    req->start_us = clock_mono_us();
    next_rid(req->rid);
    req->method = method_of(evhttp_request_get_command(ev), &req->method_name);
    req->path = evhttp_uridecode(raw_path && raw_path[0] ? raw_path : "/", 0, &plen);
    if (req->path == NULL || memchr(req->path, '\0', plen) != NULL) {
        free(req->path);
        req->path = xstrdup("/invalid");   /* %00 in a path matches no route */
    }
    req->query = query ? xstrdup(query) : NULL;
    if (conn != NULL)
        evhttp_connection_get_peer(conn, &peer, &port);
    snprintf(req->peer, sizeof(req->peer), "%s", peer ? peer : "?");
    req->authorization = evhttp_find_header(in, "Authorization");
    req->content_type = evhttp_find_header(in, "Content-Type");
    req->body_len = evbuffer_get_length(body);
    req->body = xmalloc(req->body_len + 1);
    evbuffer_remove(body, req->body, req->body_len);
    req->body[req->body_len] = '\0';
    srv->handler(req, srv->arg);
}

static const char *
reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default:  return "Status";
    }
}

/* Two things evhttp leaves undone for a reply, done here:
 * - It queues the head and the body as two pieces, and the TLS bufferevent
 *   writes each as its own record and system call (on loopback each write
 *   also runs the receiver's TCP input). One contiguous piece halves that for
 *   the usual small reply.
 * - The TLS bufferevent writes only when the loop finds the socket writable,
 *   a turn later: an epoll_ctl() to watch for writability, one to stop, and
 *   a turn of the loop, per reply. Activating its write event runs that
 *   write in this turn instead, and the watch it added and removed in the
 *   same turn never reaches the kernel (the event base merges a turn's
 *   changes). The event is the bufferevent's own (bufferevent_struct.h): the
 *   public API has no "write now" for a TLS bufferevent. */
#define JOIN_REPLY_MAX 16384

static void
flush_reply(struct evhttp_connection *evcon)
{
    struct bufferevent *bev;
    struct evbuffer    *out;

    if (evcon == NULL || (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
        return;
    out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) > JOIN_REPLY_MAX)
        return;                       /* a large body: written as it drains */
    evbuffer_pullup(out, -1);
    if (event_pending(&bev->ev_write, EV_WRITE, NULL))
        event_active(&bev->ev_write, EV_WRITE, 1);
}

static void
send_and_free(struct http_req *req, int status, const char *ctype, const void *data,
              size_t len)
{
    struct http_server *srv = req->srv;
    struct evkeyvalq   *out = evhttp_request_get_output_headers(req->ev);
    struct evbuffer    *buf = evbuffer_new();
    struct evhttp_connection *evcon = evhttp_request_get_connection(req->ev);
    int64_t             dur = clock_mono_us() - req->start_us;

    evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "X-Request-Id", req->rid);
    if (len > 0)
        evbuffer_add(buf, data, len);
    evhttp_send_reply(req->ev, status, reason_of(status), buf);
    evbuffer_free(buf);
    flush_reply(evcon);
    log_event(status >= 500 ? LOG_WARN : LOG_DEBUG, req->rid, "http_request",
              "method=%s path=%s status=%d dur_us=%lld user=%s peer=%s", req->method_name,
              req->metric_name ? req->metric_name : "-", status, (long long) dur,
              req->user ? req->user : "-", req->peer);
    if (srv->observe)
        srv->observe(req->metric_name, status, dur, srv->observe_arg);
    srv->inflight--;
    req_free(req);
}

void
http_reply_payload(struct http_req *req, int status, json_t *payload)
{
    size_t len;
    char  *text = envelope_ok_text(payload, &len);

    send_and_free(req, status, "application/json", text, len);
    free(text);
}

void
http_reply_error(struct http_req *req, enum err_code e, const char *fmt, ...)
{
    char    details[512] = "";
    json_t *env;
    char   *text;
    size_t  len;
    int     status = err_http_status(e) ? err_http_status(e) : 500;
    va_list ap;

    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(details, sizeof(details), fmt, ap);
        va_end(ap);
    }
    env = envelope_error(e, details);
    text = envelope_dump(env, &len);
    json_decref(env);
    if (status == 405 || status == 413)
        evhttp_add_header(evhttp_request_get_output_headers(req->ev), "Connection", "close");
    send_and_free(req, status, "application/json", text, len);
    free(text);
}

void
http_reply_raw(struct http_req *req, int status, const char *content_type,
               const void *data, size_t len)
{
    send_and_free(req, status, content_type, data, len);
}

void
http_add_header(struct http_req *req, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value);
}

char *
http_query_get(const struct http_req *req, const char *name)
{
    struct evkeyvalq q;
    const char      *v;
    char            *out = NULL;

    if (req->query == NULL)
        return NULL;
    TAILQ_INIT(&q);
    if (evhttp_parse_query_str(req->query, &q) == 0 && (v = evhttp_find_header(&q, name)))
        out = xstrdup(v);
    evhttp_clear_headers(&q);
    return out;
}

/* max_connections, kept below the descriptor limit: the rest are for the
 * database, the coreapp, logs and certificates. */
#define FD_RESERVE 128

static unsigned
admissible(unsigned wanted)
{
    struct rlimit rl;
    rlim_t        fit;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return wanted;
    fit = rl.rlim_cur > 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE : rl.rlim_cur / 2;
    if (fit >= wanted)
        return wanted;
    log_warn(NULL, "max_connections_lowered", "configured=%u fd_limit=%llu max=%llu", wanted,
             (unsigned long long) rl.rlim_cur, (unsigned long long) fit);
    return fit > 0 ? (unsigned) fit : 1;
}

struct http_server *
http_server_new(struct event_base *base, const char *host, int port, struct tls *tls,
                size_t max_body, unsigned max_connections, http_handler_fn handler, void *arg)
{
    struct http_server *srv = xcalloc(1, sizeof(*srv));
    int                 one = 1;

    if (conn_ex_index < 0)
        conn_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_gone);
    if (rid_counter == 0)
        RAND_bytes((unsigned char *) &rid_counter, sizeof(rid_counter));
    srv->conns = xcalloc(1, sizeof(*srv->conns));
    srv->conns->refs = 1;
    srv->base = base;
    srv->tls = tls;
    srv->handler = handler;
    srv->arg = arg;
    srv->http = evhttp_new(base);
    evhttp_set_bevcb(srv->http, bev_cb, srv);
    evhttp_set_gencb(srv->http, request_cb, srv);
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                               EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                               EVHTTP_REQ_OPTIONS);
    evhttp_set_max_body_size(srv->http, (ev_ssize_t) max_body);
    evhttp_set_max_headers_size(srv->http, 64 * 1024);
    evhttp_set_timeout(srv->http, 120);
    evhttp_set_default_content_type(srv->http, "application/json");
    srv->sock = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t) port);
    if (srv->sock == NULL) {
        log_error(NULL, "listen_failed", "host=%s port=%d", host, port);
        http_server_free(srv);
        return NULL;
    }
    /* Linux hands TCP_NODELAY down to accepted sockets. Without it, a reply
     * written as several TLS records waits for the client's delayed ACK
     * (~40 ms per request on keep-alive connections). */
    setsockopt(evhttp_bound_socket_get_fd(srv->sock), IPPROTO_TCP, TCP_NODELAY, &one,
               sizeof(one));
    srv->conns->max_open = admissible(max_connections);
    srv->conns->listener = evhttp_bound_socket_get_listener(srv->sock);
    srv->conns->rest = accept_rest_new(base, srv->conns->listener, "accept_failed", may_resume,
                                       srv->conns);
    log_info(NULL, "listening", "url=https://%s:%d", host, port);
    return srv;
}

void
http_server_stop_listening(struct http_server *srv)
{
    if (srv->sock != NULL) {
        accept_rest_free(srv->conns->rest);
        srv->conns->rest = NULL;
        srv->conns->listener = NULL;  /* the SSLs may outlive it (conn_count) */
        evhttp_del_accept_socket(srv->http, srv->sock);
        srv->sock = NULL;
    }
}

unsigned http_server_inflight(const struct http_server *srv) { return srv->inflight; }

void
http_server_conn_stats(const struct http_server *srv, struct http_conn_stats *out)
{
    *out = srv->conns->stats;
}

void
http_server_set_observer(struct http_server *srv, http_observe_fn fn, void *arg)
{
    srv->observe = fn;
    srv->observe_arg = arg;
}

void
http_server_free(struct http_server *srv)
{
    if (srv == NULL)
        return;
    http_server_stop_listening(srv);
    if (srv->http)
        evhttp_free(srv->http);
    conn_count_release(srv->conns);
    free(srv);
}
