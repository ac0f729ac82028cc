/* hookd.c - the webhook receiver of `make bench` (bench/bench.py): HTTPS
 * (libevent evhttp over bufferevent_openssl), HTTP/1.1 keep-alive, answers
 * every POST 200 at once and keeps its arrival time (CLOCK_REALTIME, us) and
 * body in memory. GET /count answers {"requests":n}. On SIGTERM or SIGINT it
 * writes one line per POST, "<arrival_us> <body>", to the output file and
 * exits. A Python receiver can't take 10k requests/s; this one is a single
 * event loop, which is enough for one coreapp's at most 24 connections.
 *
 *   hookd <cert.pem> <key.pem> <output file>
 * prints "PORT <n>" on stdout once it listens on 127.0.0.1:<n> (a free port). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hookd {
    struct event_base *base;
    SSL_CTX           *ssl;
    char              *log;          /* "<us> <body>\n" lines */
    size_t             len, cap;
    long long          requests;
};

static long long
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
log_append(struct hookd *h, long long at, const char *body, size_t n)
{
    size_t need = h->len + n + 32;

    if (need > h->cap) {
        h->cap = need > 2 * h->cap ? need : 2 * h->cap;
        if ((h->log = realloc(h->log, h->cap)) == NULL) {
            perror("hookd: realloc");
            exit(1);
        }
    }
    h->len += (size_t) sprintf(h->log + h->len, "%lld ", at);
    for (size_t i = 0; i < n; i++)          /* one line per request, whatever the body */
        h->log[h->len++] = body[i] == '\n' || body[i] == '\r' ? ' ' : body[i];
    h->log[h->len++] = '\n';
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
    struct hookd    *h = arg;
    long long        at = now_us();
    struct evbuffer *out = evbuffer_new();
    int              one = 1;

    /* without it the 200 waits for the client's delayed ACK: 40 ms a request */
    setsockopt(bufferevent_getfd(evhttp_connection_get_bufferevent(
                   evhttp_request_get_connection(req))),
               IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t           n = evbuffer_get_length(in);

        log_append(h, at, (const char *) evbuffer_pullup(in, -1), n);
        h->requests++;
        evbuffer_add(out, "ok", 2);
    } else {
        evbuffer_add_printf(out, "{\"requests\":%lld}", h->requests);
    }
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
    struct hookd *h = arg;

    return bufferevent_openssl_socket_new(base, -1, SSL_new(h->ssl), BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
    (void) sig;
    (void) what;
    event_base_loopbreak(((struct hookd *) arg)->base);
}

int
main(int argc, char **argv)
{
    struct hookd                   h = { 0 };
    struct evhttp                 *http;
    struct evhttp_bound_socket    *sock;
    struct event                  *sigterm, *sigint;
    struct sockaddr_storage        ss;
    ev_socklen_t                   sl = sizeof(ss);
    FILE                          *f;

    if (argc != 4) {
        fprintf(stderr, "usage: hookd <cert.pem> <key.pem> <output file>\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    h.ssl = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(h.ssl, argv[1]) != 1 ||
        SSL_CTX_use_PrivateKey_file(h.ssl, argv[2], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    h.base = event_base_new();
    http = evhttp_new(h.base);
    evhttp_set_bevcb(http, bev_cb, &h);
    evhttp_set_gencb(http, request_cb, &h);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_timeout(http, 120);
    if ((sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0)) == NULL) {
        perror("hookd: bind");
        return 1;
    }
    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *) &ss, &sl);
    printf("PORT %d\n", ntohs(((struct sockaddr_in *) &ss)->sin_port));
    fflush(stdout);
    sigterm = evsignal_new(h.base, SIGTERM, stop_cb, &h);
    sigint = evsignal_new(h.base, SIGINT, stop_cb, &h);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_base_dispatch(h.base);

    if ((f = fopen(argv[3], "w")) == NULL || fwrite(h.log, 1, h.len, f) != h.len ||
        fclose(f) != 0) {
        perror("hookd: write");
        return 1;
    }
    event_free(sigterm);
    event_free(sigint);
    evhttp_free(http);
    event_base_free(h.base);
    SSL_CTX_free(h.ssl);
    free(h.log);
    return 0;
}
