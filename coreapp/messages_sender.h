/* messages_sender.h - the network side of messaging (coreapp/gateway.h):
 *
 * - hands committed outbound messages to the gateway; after a restart, once
 *   the link first comes up, re-submits every message still 'accepted' in
 *   the table (the network de-duplicates by id, so a resend is harmless);
 *   the gateway holds at most WA_OUTBOX_MEMORY_MAX of them: beyond that
 *   (the network down or slow) messages wait in the table, and are read back
 *   in order as the network takes the held ones;
 * - turns status events (sent, delivered, read, failed with 1013, 470,
 *   2000-series...) into the message's status, its timestamp and, when
 *   wanted, a status callback, all in one statement per batch; the event is
 *   confirmed to the network only after that commit;
 * - stores inbound messages and queues their callback the same way;
 * - tells the network about messages the business marked as read.
 * Uses its own PostgreSQL connection. Used only by coreapp/messages.c. */
#ifndef COREAPP_MESSAGES_SENDER_H
#define COREAPP_MESSAGES_SENDER_H

#include <stdint.h>
#include <jansson.h>

struct coreapp;
struct messages_sender;

/* Registers the gateway handlers (if app->gw exists). */
struct messages_sender *messages_sender_new(struct coreapp *app);
void messages_sender_free(struct messages_sender *s);       /* NULL is fine */

/* Messages with seq <= upto were committed before this process started:
 * re-submit those still 'accepted' when the link is first up. Call once. */
void messages_sender_set_resubmit(struct messages_sender *s, int64_t upto);

/* Every outbound message with seq <= upto is committed (messages.c inserts
 * them one statement after the other): the outbox watermark may pass them. */
void messages_sender_committed_upto(struct messages_sender *s, int64_t upto);

/* A committed outbound message: id, recipient wa_id or group id, and the
 * validated body (borrowed; the gateway copies it). */
void messages_sender_submit(struct messages_sender *s, const char *id, const char *to,
                            const json_t *body);

/* Re-submits the listed ids if they are still 'accepted' (their insert's
 * outcome was unknown when the connection dropped). Takes ids (an array). */
void messages_sender_recheck(struct messages_sender *s, json_t *ids);

/* The business marked inbound message id as read (committed). */
void messages_sender_mark_read(struct messages_sender *s, const char *id);

#endif /* COREAPP_MESSAGES_SENDER_H */
