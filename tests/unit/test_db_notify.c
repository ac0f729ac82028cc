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

struct script {
    int listener;       /* bound, listening */
    int ok;             /* the server saw what it expected */
};

static int
read_full(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *) buf + got, n - got);

        if (r <= 0)
            return -1;
        got += (size_t) r;
    }
    return 0;
}

/* One message from the client: its type byte (0 for the startup packet,
 * which has none) and its body, skipped. */
static int
read_message(int fd, int startup, char *type)
{
    char     body[1024];
    uint32_t len;

    *type = 0;
    if (!startup && read_full(fd, type, 1) != 0)
        return -1;
    if (read_full(fd, &len, 4) != 0)
        return -1;
    len = ntohl(len);
    if (len < 4 || len - 4 > sizeof(body))
        return -1;
    return read_full(fd, body, len - 4);
}

/* Appends a server message: type, length, then the body's parts. */
static size_t
put(char *out, size_t at, char type, const void *body, size_t n)
{
    uint32_t len = htonl((uint32_t) (n + 4));

    out[at] = type;
    memcpy(out + at + 1, &len, 4);
    memcpy(out + at + 5, body, n);
    return at + 5 + n;
}

static size_t
put_param(char *out, size_t at, const char *name, const char *value)
{
    char body[128];
    size_t n = strlen(name) + 1 + strlen(value) + 1;

    memcpy(body, name, strlen(name) + 1);
    memcpy(body + strlen(name) + 1, value, strlen(value) + 1);
    return put(out, at, 'S', body, n);
}

static size_t
put_notify(char *out, size_t at, const char *channel)
{
    char     body[64];
    uint32_t pid = htonl(4242);

    memcpy(body, &pid, 4);
    memcpy(body + 4, channel, strlen(channel) + 1);
    body[4 + strlen(channel) + 1] = '\0';            /* empty payload */
    return put(out, at, 'A', body, 4 + strlen(channel) + 2);
}

/* Waits for a simple query and answers it: CommandComplete with tag,
 * ReadyForQuery, then a NOTIFY if notify, all in one write. */
static int
answer_query(int fd, const char *tag, int notify)
{
    char   out[256], type;
    size_t n;

    if (read_message(fd, 0, &type) != 0 || type != 'Q')
        return -1;
    n = put(out, 0, 'C', tag, strlen(tag) + 1);
    n = put(out, n, 'Z', "I", 1);
    if (notify)
        n = put_notify(out, n, "probe");
    return write(fd, out, n) == (ssize_t) n ? 0 : -1;
}

static void *
serve(void *arg)
{
    struct script *sc = arg;
    char           out[1024], type;
    uint32_t       zero = 0, key[2] = { htonl(4242), htonl(7) };
    size_t         n = 0;
    int            fd = accept(sc->listener, NULL, NULL);
    struct timeval patience = { 2, 0 };

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience)) != 0 ||
        read_message(fd, 1, &type) != 0)
        goto done;
    n = put(out, n, 'R', &zero, 4);                  /* AuthenticationOk */
    n = put_param(out, n, "server_version", "15.0");
    n = put_param(out, n, "client_encoding", "UTF8");
    n = put_param(out, n, "standard_conforming_strings", "on");
    n = put_param(out, n, "integer_datetimes", "on");
    n = put(out, n, 'K', key, 8);
    n = put(out, n, 'Z', "I", 1);
    /* LISTEN probe; the test's query, its end followed by a NOTIFY; then
     * the query the client makes once it has that NOTIFY: if it never
     * comes, the read times out */
    if (write(fd, out, n) != (ssize_t) n || answer_query(fd, "LISTEN", 0) != 0 ||
        answer_query(fd, "SELECT 0", 1) != 0 || answer_query(fd, "SELECT 0", 0) != 0)
        goto done;
    /* and a NOTIFY on its own, to an idle connection */
    usleep(20 * 1000);
    n = put_notify(out, 0, "probe");
    if (write(fd, out, n) != (ssize_t) n)
        goto done;
    sc->ok = read_message(fd, 0, &type) == 0 && type == 'X';   /* Terminate, from db_free */
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
    struct script      sc = { .listener = socket(AF_INET, SOCK_STREAM, 0) };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t          alen = sizeof(a);
    struct timeval     limit = { 5, 0 };
    struct client      c = { 0 };
    pthread_t          server;
    char               conninfo[160];

    (void) state;
    assert_true(sc.listener >= 0);
    assert_int_equal(bind(sc.listener, (struct sockaddr *) &a, sizeof(a)), 0);
    assert_int_equal(listen(sc.listener, 1), 0);
    assert_int_equal(getsockname(sc.listener, (struct sockaddr *) &a, &alen), 0);
    assert_int_equal(pthread_create(&server, NULL, serve, &sc), 0);
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=wa dbname=wa "
             "sslmode=disable gssencmode=disable connect_timeout=5", ntohs(a.sin_port));

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
