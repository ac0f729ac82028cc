/* gateway.h - the coreapp's link to the network (wa-sandbox, spec/SANDBOX.md).
 *
 * Owns one ZeroMQ DEALER socket with CURVE encryption to the network's ROUTER
 * (protocol: common/netproto.h), and everything about keeping it up: learning
 * the network's public key, connecting with the business's own key pair (made
 * at registration, see coreapp/account.c), the "hello" that authenticates the
 * session, heartbeats, reconnection with back-off, and queues so nothing the
 * coreapp hands it is lost while the link is down. It sets app->gateway, which
 * GET /v1/health reports: unregistered -> connecting -> connected, and
 * disconnected -> connected again by itself when the network comes back.
 * Knows no HTTP and no SQL: account.c tells it who we are.
 *
 * ---- For the messaging code (stable API; code against this) ----------------
 *
 * Sending. gateway_send_message() queues one outbound message (an id queued
 * already is not queued twice). The gateway keeps it until the network
 * answers for it with a status event ("sent" = the server ack, or "failed"),
 * resending it after every reconnection; the network de-duplicates by message
 * id, so resending is always safe. The queue is in
 * memory: after a coreapp restart, the messaging code re-submits its
 * committed-but-unacknowledged messages (the gateway_on_link() callback with
 * up == true is the moment to do so).
 *
 * Receiving. The network pushes events; each kind has at most one handler:
 *   GATEWAY_EV_STATUS    {"id":"<message id>","status":"sent|delivered|read|failed",
 *                         "recipient_id":"<wa_id>","timestamp":"<epoch s>",
 *                         "errors":[{"code":1013,"title":"...","details":"..."}]}
 *                         (errors only with "failed"; the object is shaped like
 *                         a statuses[] item of spec/WEBHOOKS.md)
 *   GATEWAY_EV_INBOUND   {"from":"<wa_id>","id":"...","timestamp":"<epoch s>",
 *                         "type":"text", "text":{"body":"hi"}, "context":{...}?}
 *                         (a messages[] item of spec/WEBHOOKS.md) plus
 *                         "contact":{"profile":{"name":"Jane"},"wa_id":"..."}
 *   GATEWAY_EV_IDENTITY  {"wa_id":"...","hash":"...","created_timestamp":<ms>}
 *                         (handled by coreapp/contacts.c)
 * The handler gets eid (the event's id) and the event object (borrowed: copy
 * what you keep). Delivery is at-least-once: the handler must call
 * gateway_event_done(gw, eid) exactly once, when the event is durably recorded
 * (e.g. after its COMMIT), possibly from a later callback. Until then the
 * network keeps the event and redelivers it after a reconnection, so handlers
 * must tolerate duplicates (same message id + same status). An event kind with
 * no handler is acknowledged by the gateway itself and dropped.
 *
 * Requests. gateway_request() is a request/answer exchange with the network
 * (registration, contact lookups, identities, two-step pin, and any later
 * operation such as media or groups). It waits in the queue while the link is
 * down and fails with ERR_SERVICE_NOT_READY when timeout_ms passes first.
 */
#ifndef COREAPP_GATEWAY_H
#define COREAPP_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "common/errors.h"

struct coreapp;
struct gateway;

/* Who we are on the network; all strings owned by the caller. */
struct gateway_identity {
    const char *wa_id;           /* NULL while not registered: only registration
                                    requests may be sent then */
    const char *public_key;      /* Z85, 40 chars: this business's CURVE key pair */
    const char *secret_key;
};

enum gateway_event_kind { GATEWAY_EV_STATUS, GATEWAY_EV_INBOUND, GATEWAY_EV_IDENTITY,
                          GATEWAY_EV__COUNT };

typedef void (*gateway_event_cb)(struct gateway *gw, const char *eid, json_t *event,
                                 void *arg);
/* Answer to gateway_request(): on ERR_OK, result is the network's answer
 * object (borrowed). Otherwise err is ERR_SERVICE_NOT_READY (link down until
 * the timeout) or the error the network gave, mapped to our table, with
 * net_error its netproto.h name (e.g. "bad_code") and details (may be NULL). */
typedef void (*gateway_reply_cb)(enum err_code err, const char *net_error,
                                 const char *details, json_t *result, void *arg);
/* The link went up (authenticated session ready) or down. */
typedef void (*gateway_link_cb)(struct gateway *gw, bool up, void *arg);

/* Creates the gateway from app->cfg and stores it in app->gw; nothing connects
 * until gateway_set_identity(). Sets app->gateway. */
void gateway_init(struct coreapp *app);
void gateway_free(struct gateway *gw);                       /* NULL is fine */

/* Sets (or replaces) our key pair and number, copying the strings; reconnects
 * if the keys changed. identity NULL stops the link (unregistered). */
void gateway_set_identity(struct gateway *gw, const struct gateway_identity *id);

/* Queues a message for the network. id is our message id; to the recipient's
 * wa_id (or group id); message (borrowed, copied) is the validated body of
 * POST /v1/messages: {"type":..., "<type>":{...}, "recipient_type"?, "context"?,
 * "preview_url"?, ...}; "to" and "id" are set by the gateway. Returns ERR_OK
 * (queued; a status event follows) or ERR_SERVICE_NOT_READY (not registered). */
enum err_code gateway_send_message(struct gateway *gw, const char *id, const char *to,
                                   const json_t *message) __attribute__((warn_unused_result));
/* Tells the network that we read inbound message id (PUT /v1/messages/{id}).
 * Queued like a send; ERR_SERVICE_NOT_READY when not registered. */
enum err_code gateway_mark_read(struct gateway *gw, const char *id)
    __attribute__((warn_unused_result));

/* One handler per kind (a second call replaces the first). */
void gateway_on_event(struct gateway *gw, enum gateway_event_kind kind, gateway_event_cb cb,
                      void *arg);
/* Confirms that the event eid was handled; the network forgets it. */
void gateway_event_done(struct gateway *gw, const char *eid);
/* The same for an array of eids (strings), in one frame. */
void gateway_events_done(struct gateway *gw, const json_t *eids);
/* Several link watchers may register (up to 8). */
void gateway_on_link(struct gateway *gw, gateway_link_cb cb, void *arg);

/* Sends request type (a netproto.h request name) with body (taken; may be NULL)
 * and calls cb exactly once: with the answer, or ERR_SERVICE_NOT_READY when no
 * answer came within timeout_ms. Registration requests work before
 * registration; everything else needs an authenticated session and waits for
 * one. */
void gateway_request(struct gateway *gw, const char *type, json_t *body, int timeout_ms,
                     gateway_reply_cb cb, void *arg);

bool gateway_is_connected(const struct gateway *gw);
/* Messages queued and not yet answered for by the network (held in memory). */
size_t gateway_queued(const struct gateway *gw);
/* Our wa_id, or NULL when not registered (borrowed). */
const char *gateway_wa_id(const struct gateway *gw);

#endif /* COREAPP_GATEWAY_H */
