/* test_db_notify.c - common/db.c hands on every NOTIFY libpq has parsed,
 * however the server's bytes were split into reads.
 *
 * A real server sends a NOTIFY that reaches a busy backend before the
 * query's ReadyForQuery, except in a window of microseconds just before it,
 * when it follows it. When both arrive in one read, libpq parses the NOTIFY
 * only while the query's results are taken, and nothing more may come to
 * wake the connection: the webhook dispatcher then slept on a new callback
 * until its 30 s janitor. That order can't be produced on demand by a real
 * server, so a scripted one on loopback plays the protocol (v3) here; every
 * other use of the database is tested against PostgreSQL itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/db.h"
#include "tests/unit/pg_script.h"

struct script {
    int listener;       /* bound, listening */
    int ok;             /* the server saw what it expected */
};

static size_t
put_notify(char *out, size_t at, const char *channel)
{
    char     body[64];
    uint32_t pid = htonl(4242);

    memcpy(body, &pid, 4);
    memcpy(body + 4, channel, strlen(channel) + 1);
    body[4 + strlen(channel) + 1] = '\0';            /* empty payload */
    return pgs_put(out, at, 'A', body, 4 + strlen(channel) + 2);
}

/* Waits for a simple query and answers it: CommandComplete with tag,
 * ReadyForQuery, then a NOTIFY if notify, all in one write. */
static int
answer_query(int fd, const char *tag, int notify)
{
    char   out[256], body[256], type;
    size_t n;

    if (pgs_read(fd, 0, &type, body, sizeof(body)) != 0 || type != 'Q')
        return -1;
    n = pgs_put(out, 0, 'C', tag, strlen(tag) + 1);
    n = pgs_put(out, n, 'Z', "I", 1);
    if (notify)
        n = put_notify(out, n, "probe");
    return write(fd, out, n) == (ssize_t) n ? 0 : -1;
}

static void *
serve(void *arg)
{
    struct script *sc = arg;
    char           out[64], body[256], type;
    size_t         n;
    int            fd = accept(sc->listener, NULL, NULL);
    struct timeval patience = { 2, 0 };

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience)) != 0 ||
        pgs_greet(fd) != 0)
        goto done;
    /* LISTEN probe; the test's query, its end followed by a NOTIFY; then
     * the query the client makes once it has that NOTIFY: if it never
     * comes, the read times out */
    if (answer_query(fd, "LISTEN", 0) != 0 ||
        answer_query(fd, "SELECT 0", 1) != 0 || answer_query(fd, "SELECT 0", 0) != 0)
        goto done;
    /* and a NOTIFY on its own, to an idle connection */
    usleep(20 * 1000);
    n = put_notify(out, 0, "probe");
    if (write(fd, out, n) != (ssize_t) n)
        goto done;
    sc->ok = pgs_read(fd, 0, &type, body, sizeof(body)) == 0 && type == 'X';  /* db_free */
done:
    if (fd >= 0)
        close(fd);
    return NULL;
}

struct client {
    struct event_base *base;
    struct db         *db;
    int                answered, notified;
};

static void
answered_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct client *c = arg;

    (void) res;
    c->answered += err == ERR_OK ? 1 : -100;
}

static void
notified_cb(const char *channel, const char *payload, void *arg)
{
    struct client *c = arg;

    assert_string_equal(channel, "probe");
    assert_string_equal(payload, "");
    if (++c->notified == 1)
        db_query(c->db, "SELECT 2", 0, NULL, answered_cb, c);
    else
        event_base_loopbreak(c->base);
}

static void
connected_cb(void *arg)
{
    struct client *c = arg;

    db_query(c->db, "SELECT 1", 0, NULL, answered_cb, c);
}

static void
test_notify_after_ready_for_query_in_one_read(void **state)
{
    struct script  sc = { 0 };
    struct timeval limit = { 5, 0 };
    struct client  c = { 0 };
    pthread_t      server;
    char           conninfo[160];

    (void) state;
    assert_int_equal(pgs_start(&sc.listener, &server, serve, &sc, conninfo, sizeof(conninfo)), 0);
    c.base = event_base_new();
    c.db = db_new(c.base, conninfo, "probe");
    db_listen(c.db, "probe", notified_cb, &c);
    db_on_connect(c.db, connected_cb, &c);
    event_base_loopexit(c.base, &limit);
    event_base_dispatch(c.base);

    assert_int_equal(c.notified, 2);
    assert_int_equal(c.answered, 2);     /* SELECT 1, and SELECT 2 after the first NOTIFY */
    db_free(c.db);
    assert_int_equal(pthread_join(server, NULL), 0);
    assert_true(sc.ok);
    close(sc.listener);
    event_base_free(c.base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_after_ready_for_query_in_one_read),
    };

    return cmocka_run_group_tests_name("db_notify", tests, NULL, NULL);
}
