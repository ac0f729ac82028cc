/* messages.h - POST /v1/messages and PUT /v1/messages/{id} (spec/API.md §6).
 *
 * Owns the messages table (sql/004, 011). A send is
 * validated (coreapp/message_validate.h), given an unguessable id and queued
 * for insertion; every insert queued during one turn of the event loop goes
 * to PostgreSQL as ONE statement, hence one transaction and one commit (group
 * commit), and the 201 with the id goes out only once that commit succeeded.
 * So an acknowledged message is never lost, even to kill -9; during a
 * database outage sends get 1023 and are not acknowledged. Committed messages
 * go to the network through coreapp/messages_sender.h, which also turns the
 * network's acks, receipts and inbound messages into rows and callbacks.
 * Uses its own PostgreSQL connection, so other modules' queries never delay a
 * batch and never share its transaction. Knows no HTTP and no ZeroMQ.
 *
 * Behaviour worth knowing (see docs/compat-messages.md):
 * - Before the number is registered, sends get 1011 (service not ready).
 * - Ids look like the documented ones: "gBEG" + 23 base64url characters
 *   (20 bytes, 136 of them random).
 * - PUT /v1/messages/{id}: {"status":"read"} only (else 1009; missing 1008);
 *   an unknown id is 404 (1006); the id of an outbound message is 1009.
 */
#ifndef COREAPP_MESSAGES_H
#define COREAPP_MESSAGES_H

#include <stdint.h>

struct coreapp;
struct messages;

/* Opens the module's connection, creates its sender and registers
 * WIRE_MESSAGE_SEND and WIRE_MESSAGE_MARK_READ. Stores app->messages. */
void messages_init(struct coreapp *app);
void messages_free(struct messages *m);                 /* NULL is fine */

/* Counters for /v1/stats (since start). */
struct messages_counts {
    uint64_t accepted;       /* sends committed and acknowledged */
    uint64_t refused;        /* sends refused by validation */
    uint64_t db_failed;      /* sends answered 1023 */
    uint64_t batches;        /* insert statements (commits) */
};
void messages_counts(const struct messages *m, struct messages_counts *out);

#endif /* COREAPP_MESSAGES_H */
