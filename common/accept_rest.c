/* accept_rest.c - a pause after a failed accept() (see accept_rest.h). */
#include <event2/event.h>
#include <event2/listener.h>
#include <stdint.h>
#include "common/accept_rest.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

struct accept_rest {
    struct evconnlistener *listener;
    struct event          *timer;          /* ends the pause */
    const char            *event;
    accept_rest_resume_fn  may_resume;
    void                  *arg;
    int64_t                logged_us;
    struct accept_rest    *next;           /* rests */
};

/* libevent calls a listener's error callback with the listener's own
 * argument (evhttp's, for its listeners), so the pause is found here. */
static struct accept_rest *rests;

static void
error_cb(struct evconnlistener *listener, void *arg)
{
    struct accept_rest *r = rests;
    struct timeval      tv = { 0, ACCEPT_REST_MS * 1000 };
    int                 err = EVUTIL_SOCKET_ERROR();
    int64_t             now = clock_mono_us();

    (void) arg;
    while (r != NULL && r->listener != listener)
        r = r->next;
    evconnlistener_disable(listener);
    if (r == NULL)
        return;                             /* not watched: never re-enabled */
    evtimer_add(r->timer, &tv);
    if (now - r->logged_us >= 10 * 1000000) {
        r->logged_us = now;
        log_warn(NULL, r->event, "reason=\"%s\" pause_ms=%d", evutil_socket_error_to_string(err),
                 ACCEPT_REST_MS);
    }
}

static void
rest_over_cb(evutil_socket_t fd, short what, void *arg)
{
    struct accept_rest *r = arg;

    (void) fd;
    (void) what;
    if (r->may_resume == NULL || r->may_resume(r->arg))
        evconnlistener_enable(r->listener);
}

struct accept_rest *
accept_rest_new(struct event_base *base, struct evconnlistener *listener, const char *event,
                accept_rest_resume_fn may_resume, void *arg)
{
    struct accept_rest *r = xcalloc(1, sizeof(*r));

    r->listener = listener;
    r->timer = evtimer_new(base, rest_over_cb, r);
    r->event = event;
    r->may_resume = may_resume;
    r->arg = arg;
    r->next = rests;
    rests = r;
    evconnlistener_set_error_cb(listener, error_cb);
    return r;
}

void
accept_rest_free(struct accept_rest *r)
{
    if (r == NULL)
        return;
    for (struct accept_rest **p = &rests; *p != NULL; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    event_free(r->timer);
    free(r);
}

/* the pause is its timer's wait */
bool
accept_rest_resting(const struct accept_rest *r)
{
    return r != NULL && evtimer_pending(r->timer, NULL);
}
