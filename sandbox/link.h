/* link.h - the sandbox's network face: a ZeroMQ ROUTER socket with CURVE
 * (the sandbox is the CURVE server), a ZAP handler that admits every client
 * key but records it, so each frame is known to come from the holder of that
 * key, and the sessions of connected clients. Frames are netproto.h JSON;
 * what they mean is network.c's business. */
#ifndef SANDBOX_LINK_H
#define SANDBOX_LINK_H

#include <stdbool.h>
#include <jansson.h>

struct event_base;
struct link;
struct link_session;

/* One decoded frame from session s. Borrowed, but the callback may keep it
 * (json_incref) and change it: the link does not look at it again. */
typedef void (*link_frame_cb)(struct link_session *s, json_t *frame, void *arg);

/* Binds endpoint with the key pair kept in state_dir (made on first start;
 * the public half is also written to state_dir/server.pub for coreapps).
 * NULL on error (logged). */
struct link *link_new(struct event_base *base, const char *endpoint, const char *state_dir,
                      link_frame_cb cb, void *arg);
void link_free(struct link *l);                        /* NULL is fine */

/* Sends frame (borrowed) to one session; 0, or -1 if it is gone. */
int link_send(struct link *l, struct link_session *s, const json_t *frame);
/* Sends frame to the session authenticated as wa_id; -1 if none is online. */
int link_send_to(struct link *l, const char *wa_id, const json_t *frame);
/* The same with a frame already encoded (len bytes of netproto.h JSON). */
int link_send_raw(struct link *l, struct link_session *s, const char *buf, size_t len);
int link_send_raw_to(struct link *l, const char *wa_id, const char *buf, size_t len);
bool link_is_online(struct link *l, const char *wa_id);

/* Between link_hold() and link_release() (they nest), frames are queued and
 * sent at the release, in order: the network holds them while it changes its
 * store, so that nothing leaves before the change is journalled, and ZeroMQ
 * gets them in one go. A queued frame counts as sent (0). */
void link_hold(struct link *l);
void link_release(struct link *l);

const char *link_session_key(const struct link_session *s);    /* Z85 client key */
const char *link_session_wa_id(const struct link_session *s);  /* NULL before hello */
/* Marks s as speaking for wa_id (after a good hello); an older session of
 * the same wa_id stops receiving events. */
void link_session_set_wa_id(struct link *l, struct link_session *s, const char *wa_id);

#endif /* SANDBOX_LINK_H */
