/* daemon.h - what every wa-* program's main() does the same way: arguments
 * and configuration (--help, --check-config, the environment), the log level,
 * SIGPIPE; then, once its event loop exists, SIGTERM and SIGINT as loop events
 * and the systemd notify protocol (READY, watchdog, STOPPING). */
#ifndef COMMON_DAEMON_H
#define COMMON_DAEMON_H

#include <stddef.h>
#include "common/config.h"

struct event_base;
struct daemon;

/* Loads conf from keys and the environment, handles --help/--check-config,
 * starts the log as proc at the level in *log_level (a field of conf, so
 * read after loading) and ignores SIGPIPE. Returns -1 to go on, or the exit
 * status main() should return. */
int daemon_configure(int argc, char **argv, const char *proc, const char *what,
                     const struct cfg_key *keys, size_t n, void *conf,
                     char *const *log_level);

/* The program's event loop. Interest changes on a socket during one loop turn
 * are merged into one epoll_ctl() (or none, when a turn turns reading or
 * writing off and on again, as HTTP keep-alive does for every request). */
struct event_base *daemon_event_base(void);

/* Called on the loop for SIGTERM or SIGINT; it should make the loop end. */
typedef void (*daemon_stop_fn)(int sig, void *arg);

/* Arms the signals and tells systemd we are ready (with the watchdog). */
struct daemon *daemon_serve(struct event_base *base, daemon_stop_fn stop, void *arg);
/* Tells systemd we are stopping and frees the events; NULL is fine. */
void daemon_free(struct daemon *d);

#endif /* COMMON_DAEMON_H */
