/* links: webapp/proxy.c coreapp/dispatch.c */
/* test_wire_batches.c - the webapp<->coreapp link over a real ZeroMQ socket:
 * the coreapp's dispatch reads a batch (wire.h) and answers what one turn of
 * its loop produced as one batch; a request with a binary frame, and a reply
 * with one, travel alone; and the webapp's proxy, sending many requests in
 * one turn, gets each its own reply. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include <zmq.h>
#include <cmocka.h>

#include <jansson.h>
#include "common/clock.h"
#include "common/wire.h"
#include "coreapp/dispatch.h"
#include "webapp/proxy.h"

struct fixture {
    char               endpoint[64];
    struct event_base *base;
    void              *zctx;        /* the coreapp's */
    struct dispatch   *d;
    int                handled;
};

/* Echoes the "n" parameter; a "raw" one is answered with a binary frame
 * holding the request's own binary frame. */
static void
echo_handler(struct core_req *req, void *arg)
{
    struct fixture *f = arg;
    const char     *n = core_param(req, "n");

    f->handled++;
    if (core_param(req, "raw") != NULL)
        core_reply_raw(req, 200, "application/octet-stream", req->blob, req->blob_len);
    else
        core_reply(req, 200, json_pack("{s:s}", "n", n ? n : "?"));
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->endpoint, sizeof(f->endpoint), "ipc:///tmp/wa-batch-%d.sock", (int) getpid());
    f->base = event_base_new();
    f->zctx = zmq_ctx_new();
    f->d = dispatch_new(f->base, f->zctx, f->endpoint);
    assert_non_null(f->d);
    dispatch_register(f->d, WIRE_HEALTH, echo_handler, f);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    dispatch_free(f->d);
    zmq_ctx_term(f->zctx);
    event_base_free(f->base);
    unlink(f->endpoint + strlen("ipc://"));
    free(f);
    return 0;
}

/* Turns the loop until *count reaches want or 5 s pass. */
static void
loop_until(struct fixture *f, const int *count, int want)
{
    int64_t deadline = clock_mono_us() + 5000000;

    while (*count < want && clock_mono_us() < deadline) {
        struct timeval tick = { 0, 1000 };

        event_base_loopexit(f->base, &tick);
        event_base_dispatch(f->base);
    }
    assert_int_equal(*count, want);
}

static char *
request_head(const char *rid, const char *n, bool raw, size_t *len)
{
    struct wire_request w;
    char               *head;

    memset(&w, 0, sizeof(w));
    snprintf(w.rid, sizeof(w.rid), "%s", rid);
    w.cmd = WIRE_HEALTH;
    w.params = json_pack("{s:s}", "n", n);
    if (raw) {
        json_object_set_new(w.params, "raw", json_string("yes"));
        w.content_type = "application/octet-stream";
    }
    head = wire_request_encode(&w, len);
    json_decref(w.params);
    return head;
}

/* Receives one message from a plain DEALER, giving up after 5 s; returns its
 * frame count and fills frames[] (zmq_msg_close() each). */
static int
recv_message(void *sock, zmq_msg_t *frames, int max, struct fixture *f)
{
    int     n = 0, more = 1;
    size_t  sz = sizeof(more);
    int64_t deadline = clock_mono_us() + 5000000;

    while (more && n < max) {
        zmq_msg_init(&frames[n]);
        if (zmq_msg_recv(&frames[n], sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frames[n]);
            if (n > 0 || clock_mono_us() > deadline)
                break;
            event_base_loop(f->base, EVLOOP_NONBLOCK);   /* the dispatch's turn */
            usleep(1000);
            continue;
        }
        n++;
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
    }
    return n;
}

static void
test_dispatch_answers_a_batch_with_a_batch(void **state)
{
    struct fixture *f = *state;
    void           *zctx = zmq_ctx_new(), *s = zmq_socket(zctx, ZMQ_DEALER);
    const char     *rids[3] = { "aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaa3" };
    zmq_msg_t       frames[8];
    int             n, zero = 0;

    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_connect(s, f->endpoint), 0);
    assert_true(zmq_send(s, "", 0, ZMQ_SNDMORE) == 0);
    for (int i = 0; i < 3; i++) {
        char   n_text[16];
        size_t len;
        char  *head;

        snprintf(n_text, sizeof(n_text), "%d", i);
        head = request_head(rids[i], n_text, false, &len);
        assert_true(zmq_send(s, head, len, i < 2 ? ZMQ_SNDMORE : 0) == (int) len);
        free(head);
    }
    loop_until(f, &f->handled, 3);

    /* one message: the empty frame, then the three replies in order */
    n = recv_message(s, frames, 8, f);
    assert_int_equal(n, 4);
    assert_int_equal(zmq_msg_size(&frames[0]), 0);
    for (int i = 0; i < 3; i++) {
        struct wire_reply r;
        char              n_text[16];

        snprintf(n_text, sizeof(n_text), "%d", i);
        assert_int_equal(wire_reply_decode(zmq_msg_data(&frames[i + 1]),
                                           zmq_msg_size(&frames[i + 1]), &r), 0);
        assert_string_equal(r.rid, rids[i]);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.body, "n")), n_text);
        wire_reply_cleanup(&r);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);

    /* a binary frame goes alone, both ways; an empty binary frame is still
     * a binary frame, not the start of a batch */
    for (int empty = 0; empty <= 1; empty++) {
        struct wire_reply r;
        size_t            len;
        char             *head = request_head("bbbbbbbbbbbbbbbb", "b", true, &len);
        const char       *bytes = empty ? "" : "\x00\x01\x02";
        size_t            blen = empty ? 0 : 3;

        assert_true(zmq_send(s, head, len, ZMQ_SNDMORE) == (int) len);
        assert_true(zmq_send(s, bytes, blen, 0) == (int) blen);
        free(head);
        n = recv_message(s, frames, 8, f);
        assert_int_equal(n, 2);
        assert_int_equal(wire_reply_decode(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                                           &r), 0);
        assert_string_equal(r.rid, "bbbbbbbbbbbbbbbb");
        assert_string_equal(r.content_type, "application/octet-stream");
        assert_int_equal(zmq_msg_size(&frames[1]), blen);
        assert_memory_equal(zmq_msg_data(&frames[1]), bytes, blen);
        wire_reply_cleanup(&r);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&frames[i]);
    }
    zmq_close(s);
    zmq_ctx_term(zctx);
}

/* A malformed header inside a batch is dropped alone; its neighbours are
 * answered. */
static void
test_dispatch_skips_a_bad_header_in_a_batch(void **state)
{
    struct fixture *f = *state;
    void           *zctx = zmq_ctx_new(), *s = zmq_socket(zctx, ZMQ_DEALER);
    zmq_msg_t       frames[8];
    size_t          len;
    char           *head = request_head("cccccccccccccccc", "c", false, &len);
    int             n, zero = 0;

    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_connect(s, f->endpoint), 0);
    assert_true(zmq_send(s, "", 0, ZMQ_SNDMORE) == 0);
    assert_true(zmq_send(s, "{not json", 9, ZMQ_SNDMORE) == 9);
    assert_true(zmq_send(s, head, len, 0) == (int) len);
    free(head);
    loop_until(f, &f->handled, 1);
    n = recv_message(s, frames, 8, f);
    assert_int_equal(n, 1);                 /* one reply: not a batch */
    assert_non_null(strstr(zmq_msg_data(&frames[0]), "cccccccccccccccc"));
    zmq_msg_close(&frames[0]);
    zmq_close(s);
    zmq_ctx_term(zctx);
}

struct call {
    int   want;             /* the n it sent */
    int   got;              /* the n its reply echoed, -1 before */
    int  *done;
};

static void
call_done(const struct wire_reply *reply, const void *blob, size_t blob_len, void *arg)
{
    struct call *c = arg;

    (void) blob;
    (void) blob_len;
    c->got = reply->status == 200
             ? atoi(json_string_value(json_object_get(reply->body, "n"))) : -2;
    (*c->done)++;
}

/* The proxy refuses at once (503) while its connection is not up
 * (ZMQ_IMMEDIATE): probes until one request gets through. */
static void
connected(struct fixture *f, struct proxy *p)
{
    int64_t deadline = clock_mono_us() + 5000000;

    for (;;) {
        struct wire_request w;
        int                 done = 0;
        struct call         probe = { 0, -1, &done };

        memset(&w, 0, sizeof(w));
        snprintf(w.rid, sizeof(w.rid), "ffffffffffffffff");
        w.cmd = WIRE_HEALTH;
        w.params = json_pack("{s:s}", "n", "0");
        proxy_call(p, &w, NULL, 0, call_done, &probe);
        json_decref(w.params);
        loop_until(f, &done, 1);
        if (probe.got == 0 || clock_mono_us() > deadline)
            break;
        usleep(10000);
    }
}

/* Many requests from one turn of the webapp's loop: each callback gets the
 * reply to its own request. */
static void
test_proxy_many_requests_in_one_turn(void **state)
{
    struct fixture *f = *state;
    struct proxy   *p = proxy_new(f->base, f->endpoint, 5000);
    struct call     calls[300];
    int             done = 0;

    assert_non_null(p);
    connected(f, p);
    for (int i = 0; i < 300; i++) {
        struct wire_request w;
        char                n_text[16];

        memset(&w, 0, sizeof(w));
        snprintf(w.rid, sizeof(w.rid), "%016x", 0x1000 + i);
        snprintf(n_text, sizeof(n_text), "%d", i);
        w.cmd = WIRE_HEALTH;
        w.params = json_pack("{s:s}", "n", n_text);
        calls[i] = (struct call) { i, -1, &done };
        proxy_call(p, &w, NULL, 0, call_done, &calls[i]);
        json_decref(w.params);
    }
    loop_until(f, &done, 300);
    for (int i = 0; i < 300; i++)
        assert_int_equal(calls[i].got, calls[i].want);
    assert_int_equal(proxy_inflight(p), 0);
    proxy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dispatch_answers_a_batch_with_a_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_skips_a_bad_header_in_a_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_proxy_many_requests_in_one_turn, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
