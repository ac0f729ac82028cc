/* control.h - the sandbox's control API (spec/SANDBOX.md's table): plain
 * HTTP/JSON on a loopback address, for tests and people acting as customers.
 * Routing and HTTP only; each route calls a network_ctl_* handler. */
#ifndef SANDBOX_CONTROL_H
#define SANDBOX_CONTROL_H

struct event_base;
struct network;
struct control;

/* Listens on hostport ("127.0.0.1:9099"); NULL on error (logged). */
struct control *control_new(struct event_base *base, const char *hostport, struct network *n);
void control_free(struct control *c);                  /* NULL is fine */

#endif /* SANDBOX_CONTROL_H */
