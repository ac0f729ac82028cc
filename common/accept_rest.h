/* accept_rest.h - keeps a listener from spinning when accept() fails for want
 * of descriptors or memory (EMFILE, ENFILE, ENOBUFS...). The connection stays
 * in the backlog, so the listening socket stays readable and the loop would
 * call accept() again at once, for as long as the shortage lasts. Instead the
 * listener is disabled for ACCEPT_REST_MS and then enabled again; a warning
 * names the failure at most every 10 s. Used by the webapp's HTTPS server and
 * the sandbox's control API. */
#ifndef COMMON_ACCEPT_REST_H
#define COMMON_ACCEPT_REST_H

#include <stdbool.h>

#define ACCEPT_REST_MS 100

struct event_base;
struct evconnlistener;
struct accept_rest;

/* Whether the listener may be enabled again when a pause ends (an owner that
 * disables it for reasons of its own says no); NULL means always. */
typedef bool (*accept_rest_resume_fn)(void *arg);

/* Watches listener (sets its error callback); event is the name of the
 * warning. Free before the listener goes. */
struct accept_rest *accept_rest_new(struct event_base *base, struct evconnlistener *listener,
                                    const char *event, accept_rest_resume_fn may_resume,
                                    void *arg);
void accept_rest_free(struct accept_rest *r);                 /* NULL is fine */

/* In a pause: the owner must not enable the listener meanwhile. */
bool accept_rest_resting(const struct accept_rest *r);

#endif /* COMMON_ACCEPT_REST_H */
