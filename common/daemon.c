/* daemon.c - shared start-up and shutdown of the wa-* programs. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/daemon.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/xalloc.h"

struct daemon {
    struct event    *sigterm, *sigint;
    struct sdnotify *sd;
    daemon_stop_fn   stop;
    void            *arg;
};

/* Every connection is a descriptor, and the soft limit is often 1024 where
 * the hard one allows far more: take what we are allowed. */
static void
raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn(NULL, "fd_limit_unchanged", "reason=\"%s\"", strerror(errno));
    }
}

int
daemon_configure(int argc, char **argv, const char *proc, const char *what,
                 const struct cfg_key *keys, size_t n, void *conf, char *const *log_level)
{
    char           prog[32];
    enum log_level lvl;
    int            rc;

    snprintf(prog, sizeof(prog), "wa-%s", proc);
    rc = cfg_main_args(argc, argv, prog, what, keys, n, conf);
    if (rc >= 0)
        return rc;
    if (log_level_parse(*log_level, &lvl) != 0) {
        fprintf(stderr, "%s: bad configuration: WA_LOG_LEVEL: unknown level \"%s\"\n", prog,
                *log_level);
        cfg_cleanup(keys, n, conf);
        return 1;
    }
    log_init(proc, lvl);
    signal(SIGPIPE, SIG_IGN);     /* a peer closing a socket is an error, not a death */
    raise_fd_limit();
    return -1;
}

struct event_base *
daemon_event_base(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base   *base;

    /* safe here: no program of ours hands the loop a dup()ed descriptor */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;

    (void) what;
    log_info(NULL, "shutdown", "signal=%d", (int) sig);
    d->stop((int) sig, d->arg);
}

struct daemon *
daemon_serve(struct event_base *base, daemon_stop_fn stop, void *arg)
{
    struct daemon *d = xcalloc(1, sizeof(*d));

    d->stop = stop;
    d->arg = arg;
    d->sigterm = evsignal_new(base, SIGTERM, signal_cb, d);
    d->sigint = evsignal_new(base, SIGINT, signal_cb, d);
    evsignal_add(d->sigterm, NULL);
    evsignal_add(d->sigint, NULL);
    d->sd = sdnotify_ready(base);
    return d;
}

void
daemon_free(struct daemon *d)
{
    if (d == NULL)
        return;
    sdnotify_stopping(d->sd);
    event_free(d->sigterm);
    event_free(d->sigint);
    free(d);
}
