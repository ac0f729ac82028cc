/* test_db_connect.c - what common/db.c does with a query while it has no
 * connection, and with a server that never answers: a real server can't be
 * made to stay silent on demand, so a scripted one on loopback plays the
 * protocol (pg_script.h). Restarts of a real PostgreSQL are tested end to end
 * (test_resilience.py). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/db.h"
#include "tests/unit/pg_script.h"

/* ---- a query asked for while connecting -------------------------------------- */

struct script {
    int  listener;
    char queries[2][64];     /* the texts of the first two queries, in order */
    int  ok;
};

static void *
serve_two_queries(void *arg)
{
    struct script *sc = arg;
    char           out[64], body[256], type;
    int            fd = accept(sc->listener, NULL, NULL);
    struct timeval patience = { 2, 0 };
    size_t         n;

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience)) != 0)
        goto done;
    usleep(100 * 1000);            /* the client is connecting all this while */
    if (pgs_greet(fd) != 0)
        goto done;
    for (int i = 0; i < 2; i++) {
        if (pgs_read(fd, 0, &type, body, sizeof(body)) != 0 || type != 'Q')
            goto done;
        snprintf(sc->queries[i], sizeof(sc->queries[i]), "%.63s", body);
        n = pgs_put(out, 0, 'C', "SELECT 1", 9);
        n = pgs_put(out, n, 'Z', "I", 1);
        if (write(fd, out, n) != (ssize_t) n)
            goto done;
    }
    sc->ok = pgs_read(fd, 0, &type, body, sizeof(body)) == 0 && type == 'X';   /* db_free */
done:
    if (fd >= 0)
        close(fd);
    return NULL;
}

struct client {
    struct event_base *base;
    struct db         *db;
    int                ok, failed;
    int64_t            failed_after_us, started_us;
};

static void
answered_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct client *c = arg;

    if (err == ERR_OK) {
        c->ok++;
    } else {
        assert_null(res);                 /* no server's error: no connection */
        c->failed++;
        c->failed_after_us = clock_mono_us() - c->started_us;
    }
    if (c->ok + c->failed == 2 || c->failed > 0)
        event_base_loopbreak(c->base);
}

static void
connected_cb(void *arg)
{
    struct client *c = arg;

    db_query(c->db, "SELECT 'own'", 0, NULL, answered_cb, c);
}

/* It used to fail at once; now it waits, and runs after the queries the
 * connection makes for itself (messages.c relies on its first query being
 * its own). */
static void
test_a_query_asked_while_connecting_runs_after_the_connections_own(void **state)
{
    struct script  sc = { 0 };
    struct timeval limit = { 5, 0 };
    struct client  c = { 0 };
    pthread_t      server;
    char           conninfo[160];

    (void) state;
    assert_int_equal(pgs_start(&sc.listener, &server, serve_two_queries, &sc, conninfo,
                               sizeof(conninfo)), 0);
    c.base = event_base_new();
    c.db = db_new(c.base, conninfo, "probe");
    db_on_connect(c.db, connected_cb, &c);
    db_query(c.db, "SELECT 'asked'", 0, NULL, answered_cb, &c);
    assert_int_equal(c.failed, 0);        /* not failed before db_query returned */
    event_base_loopexit(c.base, &limit);
    event_base_dispatch(c.base);

    assert_int_equal(c.ok, 2);
    assert_int_equal(c.failed, 0);
    db_free(c.db);
    assert_int_equal(pthread_join(server, NULL), 0);
    assert_string_equal(sc.queries[0], "SELECT 'own'");
    assert_string_equal(sc.queries[1], "SELECT 'asked'");
    assert_true(sc.ok);
    close(sc.listener);
    event_base_free(c.base);
}

/* ---- a server that accepts and never answers --------------------------------- */

/* The connections waiting in the listener's backlog, accepted now: how many,
 * and how many of them the client has closed already. */
static void
drain_backlog(int listener, int *count, int *closed)
{
    char buf[512];
    int  fd;

    *count = *closed = 0;
    fcntl(listener, F_SETFL, O_NONBLOCK);
    while ((fd = accept(listener, NULL, NULL)) >= 0) {
        ssize_t r;

        fcntl(fd, F_SETFL, O_NONBLOCK);
        (*count)++;
        while ((r = read(fd, buf, sizeof(buf))) > 0)
            ;                             /* the startup packet */
        if (r == 0)
            (*closed)++;
        close(fd);
    }
}

/* A query waits a second at most for the attempt, and the attempt is given
 * up after five (libpq's connect_timeout does not hold for PQconnectPoll):
 * the next one starts, where before the connection stayed stuck for good. */
static void
test_a_silent_server_fails_queries_in_a_second_and_the_attempt_in_five(void **state)
{
    struct timeval whole = { 5, 600 * 1000 };
    struct client  c = { 0 };
    char           conninfo[160];
    int            port = 0, listener = pgs_listen(8, &port), count, closed;

    (void) state;
    assert_true(listener >= 0);
    pgs_conninfo(conninfo, sizeof(conninfo), port);
    c.base = event_base_new();
    c.started_us = clock_mono_us();
    c.db = db_new(c.base, conninfo, "silent");
    db_query(c.db, "SELECT 1", 0, NULL, answered_cb, &c);
    assert_int_equal(c.failed, 0);
    event_base_dispatch(c.base);          /* until the query fails */
    assert_int_equal(c.failed, 1);
    assert_true(c.failed_after_us >= 900 * 1000);
    assert_true(c.failed_after_us < 2000 * 1000);

    event_base_loopexit(c.base, &whole);  /* past the attempt's end, and the next start */
    event_base_dispatch(c.base);
    drain_backlog(listener, &count, &closed);
    assert_int_equal(count, 2);           /* the first attempt, then the next one */
    assert_int_equal(closed, 1);          /* the first was given up */
    db_free(c.db);
    close(listener);
    event_base_free(c.base);
}

/* A failed query's callback that asks again (settings.c rolls back) is
 * answered too: when the wait ends, and when the connection is freed. */
struct asker {
    struct event_base *base;
    struct db         *db;
    int                again, failed;
};

static void
ask_again_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct asker *a = arg;

    (void) res;
    assert_int_equal(err, ERR_DATABASE);
    a->failed++;
    if (a->again > 0) {
        a->again--;
        db_query(a->db, "SELECT 2", 0, NULL, ask_again_cb, a);
    } else {
        event_base_loopbreak(a->base);
    }
}

static void
test_a_query_asked_by_a_failed_ones_callback_is_answered_too(void **state)
{
    struct timeval limit = { 4, 0 };
    struct asker   a = { .again = 1 };
    char           conninfo[160];
    int            port = 0, listener = pgs_listen(8, &port);

    (void) state;
    assert_true(listener >= 0);
    pgs_conninfo(conninfo, sizeof(conninfo), port);
    a.base = event_base_new();
    a.db = db_new(a.base, conninfo, "silent");
    db_query(a.db, "SELECT 1", 0, NULL, ask_again_cb, &a);
    event_base_loopexit(a.base, &limit);
    event_base_dispatch(a.base);          /* each waits its second */
    assert_int_equal(a.failed, 2);

    a.again = 1;                          /* still connecting: this one waits too */
    db_query(a.db, "SELECT 3", 0, NULL, ask_again_cb, &a);
    db_free(a.db);                        /* it fails, and the one it asks for */
    assert_int_equal(a.failed, 4);
    close(listener);
    event_base_free(a.base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_query_asked_while_connecting_runs_after_the_connections_own),
        cmocka_unit_test(test_a_silent_server_fails_queries_in_a_second_and_the_attempt_in_five),
        cmocka_unit_test(test_a_query_asked_by_a_failed_ones_callback_is_answered_too),
    };

    return cmocka_run_group_tests_name("db_connect", tests, NULL, NULL);
}
