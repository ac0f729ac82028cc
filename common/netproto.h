/* netproto.h - the network link protocol: coreapp (ZeroMQ DEALER) <-> network
 * (wa-sandbox, ZeroMQ ROUTER), version NETPROTO_VERSION. The one place where
 * it is written down; coreapp/gateway.c and sandbox/link.c implement its two
 * ends. Pure encoding helpers; no ZeroMQ here.
 *
 * TRANSPORT. One ZeroMQ frame = one UTF-8 JSON object. CURVE encryption is
 * mandatory: the network is the CURVE server; its public key reaches the
 * coreapp out of band (WA_SANDBOX_PUBLIC_KEY, else the file
 * <WA_SANDBOX_STATE_DIR>/NETPROTO_SERVER_KEY_FILE that the sandbox writes), so
 * the client verifies whom it talks to. The client's own key pair is made at
 * registration and becomes, at "verify", the only key that may speak for that
 * number: the network learns each connection's client key from the handshake
 * (ZAP), never from the payload.
 *
 * ENVELOPE. Every frame: {"v":1,"t":"<type>", ...}. A frame with another "v"
 * is answered {"v":1,"t":"error","error":"bad_version"} and otherwise ignored.
 * Requests carry "rid" (string chosen by the client); their answer is
 *   {"v":1,"t":"result","rid":"..","ok":true, ...result fields...}
 *   {"v":1,"t":"result","rid":"..","ok":false,"error":"<name>","details":".."}
 * BATCH. {"v":1,"t":"batch","frames":[<frame>,...]} carries several frames
 * in one ZeroMQ message; the receiver handles them in order as if each had
 * come alone. The network sends what one loop turn produced this way (one
 * encryption, one wake-up for a burst of status events instead of one each).
 *
 * SESSION. Before "hello" a connection may only send "register"/"verify"
 * (and "ping"); anything else gets {"t":"error","error":"not_authenticated"},
 * which tells a client that the network restarted or forgot it: it says
 * "hello" again. Heartbeat: the client sends "ping" every interval, the
 * network answers "pong"; a client that hears nothing for 3 intervals counts
 * the link as down. The network sends events only to authenticated sessions
 * and keeps them (across its restarts) until the client confirms each one.
 *
 * CLIENT -> NETWORK
 *   register  rid {"cc","phone_number","method":"sms|voice","cert","pin"?}
 *             -> {"vname"} | bad_cert, cert_mismatch, pin_required, pin_wrong,
 *                bad_request
 *   verify    rid {"cc","phone_number","code"} -> {"wa_id","vname"} | no_code,
 *             bad_code, code_expired   (binds the sender's key to the number)
 *   hello     rid {"wa_id"} -> {"wa_id","time"} | not_registered, key_mismatch
 *   ping      {"ts"} -> pong {"ts","session":"<wa_id>"|null} (null: say hello)
 *   two_step  rid {"pin":"123456"|null} -> {} (null disables)
 *   lookup    rid {"numbers":["<E.164 digits>",...]} (at most NETPROTO_LOOKUP_MAX)
 *             -> {"contacts":[{"number","on_whatsapp":bool,"wa_id"?}...]}
 *   identity  rid {"wa_id"} -> {"wa_id","hash","created_timestamp"(ms)} | not_found
 *   profile   rid {"about","photo":{"sha256","size","type"}|null,"business":{"address",
 *             "description","email","vertical","websites":[...]}} -> {} | bad_request
 *             (the whole public profile as it is now, replacing the last one; sent
 *             after each change and at every link-up; customers see it)
 *   send      {"id","to","type",<the type's object>,...}  (no rid: answered by
 *             status events; a known id is not delivered again, but answered
 *             with one status event for where it is now)
 *   read      {"id"}          the business read the inbound message id
 *   event_ack {"eid"}         the client has durably handled event eid
 *             {"eids":[...]}  ... or each of these (one frame for a batch)
 *
 * NETWORK -> CLIENT (events; each has "eid", unique per network)
 *   status    {"eid","status":{"id","status","recipient_id","timestamp",
 *              "errors"?:[{"code","title","details"?}],      (failed only)
 *              "conversation"?:{"id","expiration_timestamp"?,"origin":{"type"}},
 *              "pricing"?:{"billable","pricing_model":"CBP","category"}}}
 *              (conversation/pricing on sent/delivered/read: spec/WEBHOOKS.md §5)
 *             {"eid","statuses":[<status>,...]}  several statuses at once: all
 *              the network had for this client in one loop turn, of one or
 *              many messages, each message's in the order it went through
 *              them (sent, delivered, read); confirmed once, for all
 *   inbound   {"eid","message":{"from","id","timestamp","type",...},
 *              "contact":{"profile":{"name"},"wa_id"}}  (no contact with a
 *              "system" message, e.g. user_changed_number)
 *   identity_changed {"eid","identity":{"wa_id","hash","created_timestamp"}}
 *   pong, error, result   (see above)
 */
#ifndef COMMON_NETPROTO_H
#define COMMON_NETPROTO_H

#include <stddef.h>
#include <jansson.h>
#include "common/errors.h"
#include "common/jsonbuf.h"

#define NETPROTO_VERSION          1
#define NETPROTO_SERVER_KEY_FILE  "server.pub"   /* Z85 public key, one line */
#define NETPROTO_LOOKUP_MAX       1000
#define NETPROTO_KEY_LEN          40             /* Z85 CURVE key */

/* {"v":NETPROTO_VERSION,"t":type}; new reference. */
json_t *netproto_new(const char *type);
/* Starts a frame written as text, where building a tree first would cost
 * more than the frame: {"v":NETPROTO_VERSION,"t":type. The caller adds
 * ,"member":value pairs and the closing brace. */
void netproto_begin(struct jbuf *b, const char *type);
/* Encodes j (borrowed) compactly; heap string, length in *len. */
char *netproto_encode(const json_t *j, size_t *len);
/* Parses one frame. Returns a new reference whose "t" is a string, or NULL
 * (*why says: "bad_json", "bad_version", "no_type"). */
json_t *netproto_decode(const void *buf, size_t len, const char **why);
/* The API error a network error name maps to (e.g. "bad_code" ->
 * ERR_PARAM_INVALID); ERR_GENERIC for unknown names. */
enum err_code netproto_error_code(const char *name);

#endif /* COMMON_NETPROTO_H */
