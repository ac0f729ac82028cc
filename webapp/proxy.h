/* proxy.h - the webapp's client of the coreapp: a ZeroMQ DEALER socket on the
 * event loop. Each call sends one request and gets exactly one answer: the
 * coreapp's reply, or ERR_SERVICE_NOT_READY when the coreapp is unreachable or
 * silent past the timeout. A restarted coreapp is picked up by ZeroMQ's
 * reconnection; nothing here needs restarting. */
#ifndef WEBAPP_PROXY_H
#define WEBAPP_PROXY_H

#include <stddef.h>
#include "common/wire.h"

struct event_base;
struct proxy;

/* reply is borrowed for the call; blob is the binary frame, if any. */
typedef void (*proxy_reply_fn)(const struct wire_reply *reply, const void *blob,
                               size_t blob_len, void *arg);

/* NULL if the socket can't be made (logged). */
struct proxy *proxy_new(struct event_base *base, const char *endpoint, int timeout_ms);
void proxy_free(struct proxy *p);
/* Sends req (borrowed; its rid and deadline are filled in here) with an
 * optional binary frame; cb runs exactly once, possibly before this returns. */
void proxy_call(struct proxy *p, struct wire_request *req, const void *blob,
                size_t blob_len, proxy_reply_fn cb, void *arg);
unsigned proxy_inflight(const struct proxy *p);

#endif /* WEBAPP_PROXY_H */
