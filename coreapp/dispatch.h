/* dispatch.h - the coreapp's side of the webapp link: a ZeroMQ ROUTER socket
 * on the event loop. Decodes each request, drops those whose deadline passed
 * (the client already got 503), runs the handler registered for its command,
 * and sends exactly one reply. Handlers see struct core_req, never ZeroMQ. */
#ifndef COREAPP_DISPATCH_H
#define COREAPP_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "common/errors.h"
#include "common/wire.h"

struct event_base;
struct dispatch;

struct core_req {
    struct dispatch     *d;
    struct wire_request  w;          /* rid, cmd, caller, params, body */
    void                *blob;       /* binary frame, owned; may be NULL */
    size_t               blob_len;
    void                *identity;   /* ROUTER routing id, owned */
    size_t               identity_len;
    void                *ctx;        /* the handler's, for its callbacks */
    int64_t              received_us; /* monotonic, when the request arrived */
};

/* A handler must eventually call exactly one core_reply_* for req. */
typedef void (*core_handler_fn)(struct core_req *req, void *arg);

struct dispatch *dispatch_new(struct event_base *base, void *zctx, const char *endpoint);
void dispatch_free(struct dispatch *d);
void dispatch_register(struct dispatch *d, enum wire_cmd cmd, core_handler_fn fn, void *arg);

/* Called after each reply, for stats: the command, the HTTP status, the error
 * (ERR_OK on success) and the time from arrival to reply. */
typedef void (*dispatch_observe_fn)(enum wire_cmd cmd, int status, enum err_code err,
                                    int64_t dur_us, void *arg);
void dispatch_set_observer(struct dispatch *d, dispatch_observe_fn fn, void *arg);

/* Replies; each frees req. */
void core_reply(struct core_req *req, int status, json_t *payload /* taken, may be NULL */);
void core_reply_error(struct core_req *req, enum err_code e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void core_reply_raw(struct core_req *req, int status, const char *content_type,
                    const void *data, size_t len);

/* Refuses a body key that is not in allowed with 1009 naming it
 * (CLARIFICATIONS §10); 0 when every key is known, -1 after replying. */
int core_known_keys_or_reply(struct core_req *req, const char *const *allowed, size_t n);

/* Path or query parameter as string (borrowed) or NULL. */
const char *core_param(const struct core_req *req, const char *name);

#endif /* COREAPP_DISPATCH_H */
