/* sdnotify.h - the systemd notify protocol (Type=notify units, watchdog)
 * without libsystemd: datagrams to $NOTIFY_SOCKET. Does nothing when the
 * process does not run under systemd. */
#ifndef COMMON_SDNOTIFY_H
#define COMMON_SDNOTIFY_H

struct event_base;
struct sdnotify;

/* Sends READY=1 and, if WATCHDOG_USEC is set, arms a timer on base that
 * pings the watchdog at half that interval. NULL when not under systemd. */
struct sdnotify *sdnotify_ready(struct event_base *base);
/* Sends STOPPING=1 and stops the watchdog timer. NULL is fine. */
void sdnotify_stopping(struct sdnotify *n);

#endif /* COMMON_SDNOTIFY_H */
