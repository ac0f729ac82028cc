/* sdnotify.c - READY/WATCHDOG/STOPPING datagrams for systemd. */
#include <event2/event.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/xalloc.h"

struct sdnotify {
    struct event *watchdog;
};

static void
notify(const char *msg)
{
    const char        *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    int                fd;
    socklen_t          len;

    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';          /* abstract socket */
    len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path));
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *) &sa, len) < 0)
        log_warn(NULL, "sd_notify_failed", "msg=%s", msg);
    close(fd);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    (void) arg;
    notify("WATCHDOG=1");
}

struct sdnotify *
sdnotify_ready(struct event_base *base)
{
    struct sdnotify *n;
    const char      *usec = getenv("WATCHDOG_USEC");
    long long        us = usec ? atoll(usec) : 0;

    if (getenv("NOTIFY_SOCKET") == NULL)
        return NULL;
    notify("READY=1");
    n = xcalloc(1, sizeof(*n));
    if (us > 0) {
        struct timeval tv = { (time_t) (us / 2 / 1000000), (suseconds_t) (us / 2 % 1000000) };
        n->watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, n);
        event_add(n->watchdog, &tv);
    }
    return n;
}

void
sdnotify_stopping(struct sdnotify *n)
{
    if (n == NULL)
        return;
    notify("STOPPING=1");
    if (n->watchdog)
        event_free(n->watchdog);
    free(n);
}
