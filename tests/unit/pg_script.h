/* pg_script.h - the server's side of PostgreSQL's protocol (v3), just enough
 * for a unit test to play a scripted server on loopback: for what a real
 * server can't be made to do on demand (split its bytes a given way, never
 * answer). Header-only, for the tests that include it. */
#ifndef TESTS_UNIT_PG_SCRIPT_H
#define TESTS_UNIT_PG_SCRIPT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int
pgs_read_full(int fd, void *buf, size_t n)
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
 * which has none) and its body, NUL-terminated in body (cap bytes; a longer
 * one is an error). Returns 0 or -1. */
static inline int
pgs_read(int fd, int startup, char *type, char *body, size_t cap)
{
    uint32_t len;

    *type = 0;
    if (!startup && pgs_read_full(fd, type, 1) != 0)
        return -1;
    if (pgs_read_full(fd, &len, 4) != 0)
        return -1;
    len = ntohl(len);
    if (len < 4 || len - 4 >= cap || pgs_read_full(fd, body, len - 4) != 0)
        return -1;
    body[len - 4] = '\0';
    return 0;
}

/* Appends a server message to out at at: type, length, then the body. */
static inline size_t
pgs_put(char *out, size_t at, char type, const void *body, size_t n)
{
    uint32_t len = htonl((uint32_t) (n + 4));

    out[at] = type;
    memcpy(out + at + 1, &len, 4);
    memcpy(out + at + 5, body, n);
    return at + 5 + n;
}

static inline size_t
pgs_put_param(char *out, size_t at, const char *name, const char *value)
{
    char   body[128];
    size_t n = strlen(name) + 1 + strlen(value) + 1;

    memcpy(body, name, strlen(name) + 1);
    memcpy(body + strlen(name) + 1, value, strlen(value) + 1);
    return pgs_put(out, at, 'S', body, n);
}

/* Reads the startup packet and lets the client in (no password): the
 * parameters libpq wants, a cancel key, ReadyForQuery. Returns 0 or -1. */
static inline int
pgs_greet(int fd)
{
    char     out[512], body[512], type;
    uint32_t zero = 0, key[2] = { htonl(4242), htonl(7) };
    size_t   n = 0;

    if (pgs_read(fd, 1, &type, body, sizeof(body)) != 0)
        return -1;
    n = pgs_put(out, n, 'R', &zero, 4);                    /* AuthenticationOk */
    n = pgs_put_param(out, n, "server_version", "15.0");
    n = pgs_put_param(out, n, "client_encoding", "UTF8");
    n = pgs_put_param(out, n, "standard_conforming_strings", "on");
    n = pgs_put_param(out, n, "integer_datetimes", "on");
    n = pgs_put(out, n, 'K', key, 8);
    n = pgs_put(out, n, 'Z', "I", 1);
    return write(fd, out, n) == (ssize_t) n ? 0 : -1;
}

/* A listening socket on 127.0.0.1 (any port, in *port), or -1. */
static inline int
pgs_listen(int backlog, int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t          alen = sizeof(a);
    int                fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *) &a, &alen) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* The conninfo that reaches a scripted server on port. */
static inline void
pgs_conninfo(char *out, size_t size, int port)
{
    snprintf(out, size, "host=127.0.0.1 port=%d user=wa dbname=wa sslmode=disable "
             "gssencmode=disable", port);
}

/* Listens (*listener), then runs serve(arg) in *thread to accept there, and
 * writes the conninfo that reaches it. Returns 0 or -1. */
static inline int
pgs_start(int *listener, pthread_t *thread, void *(*serve)(void *), void *arg,
          char *conninfo, size_t size)
{
    int port = 0;

    if ((*listener = pgs_listen(1, &port)) < 0)
        return -1;
    pgs_conninfo(conninfo, size, port);
    return pthread_create(thread, NULL, serve, arg) == 0 ? 0 : -1;
}

#endif /* TESTS_UNIT_PG_SCRIPT_H */
