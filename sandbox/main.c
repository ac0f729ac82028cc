/* main.c - wa-sandbox: configuration, start-up, the event loop, shutdown. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include "common/clock.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/log.h"
#include "sandbox/control.h"
#include "sandbox/link.h"
#include "sandbox/network.h"
#include "sandbox/sandbox.h"
#include "sandbox/store.h"

#define C struct sandbox_config
static const struct cfg_key sandbox_keys[] = {
    CFG_STR("WA_SANDBOX_ENDPOINT", C, endpoint, "tcp://127.0.0.1:5590", "ZeroMQ endpoint to bind for coreapps (CURVE)"),
    CFG_STR("WA_SANDBOX_CONTROL", C, control, "127.0.0.1:9099", "host:port of the control API (plain HTTP; keep it on loopback)"),
    CFG_STR("WA_SANDBOX_STATE_DIR", C, state_dir, "/var/lib/wa-sandbox", "state (state.jsonl) and key pair (server.key, server.pub)"),
    CFG_STR("WA_LOG_LEVEL", C, log_level, "info", "debug, info, warn or error"),
};
#undef C
#define NKEYS (sizeof(sandbox_keys) / sizeof(sandbox_keys[0]))

static void
stop_cb(int sig, void *arg)
{
    struct sandbox *sb = arg;

    (void) sig;
    event_base_loopbreak(sb->base);
}

/* mkdir -p, owner-only: the directory holds the secret key. */
static int
make_dirs(const char *path)
{
    char buf[4096];

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                log_error(NULL, "state_dir_failed", "path=%s reason=\"%s\"", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (c == '\0')
                return 0;
        }
    }
}

int
main(int argc, char **argv)
{
    struct sandbox  sb;
    struct daemon  *d = NULL;
    int             rc;

    memset(&sb, 0, sizeof(sb));
    rc = daemon_configure(argc, argv, "sandbox",
                          "The sandbox network: a stand-in for WhatsApp's servers (spec/SANDBOX.md).",
                          sandbox_keys, NKEYS, &sb.cfg, &sb.cfg.log_level);
    if (rc >= 0)
        return rc;
    rc = 1;
    if (make_dirs(sb.cfg.state_dir) != 0)
        goto done;
    sb.base = daemon_event_base();
    if ((sb.store = store_open(sb.cfg.state_dir)) == NULL)
        goto done;
    sb.net = network_new(&sb);
    sb.link = link_new(sb.base, sb.cfg.endpoint, sb.cfg.state_dir, network_on_frame, sb.net);
    if (sb.link == NULL)
        goto done;
    if ((sb.control = control_new(sb.base, sb.cfg.control, sb.net)) == NULL)
        goto done;
    d = daemon_serve(sb.base, stop_cb, &sb);
    log_info(NULL, "started", "endpoint=%s control=%s state_dir=%s", sb.cfg.endpoint,
             sb.cfg.control, sb.cfg.state_dir);
    event_base_dispatch(sb.base);
    rc = 0;
done:
    daemon_free(d);
    control_free(sb.control);
    network_free(sb.net);           /* first: it may still queue events on the link */
    link_free(sb.link);
    store_close(sb.store);
    if (sb.base)
        event_base_free(sb.base);
    cfg_cleanup(sandbox_keys, NKEYS, &sb.cfg);
    log_info(NULL, "stopped", "status=%d", rc);
    return rc;
}
