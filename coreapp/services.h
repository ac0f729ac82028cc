/* services.h - PUT /v1/services/message/gc (spec/API.md §14): a garbage
 * collection of the messages table, answered at once with
 * {"services":{"message":{"gc":{"status":"processing"}}}} and reported when
 * done by a "service" callback (spec/WEBHOOKS.md §7):
 *   {"services":[{"message":{"gc":{"messages_deleted":5,"status":"complete"}}}]}
 *
 * Every PUT runs one collection and sends one callback; runs queue one
 * behind the other on the module's own connection, so a long DELETE delays
 * nobody else. Since the result only arrives by callback, a PUT while
 * webhooks.url is "" is refused with 1022.
 *
 * What to delete belongs to the messages module, which owns the tables: it
 * provides the SQL function wa_message_gc() RETURNS bigint (deletes what may
 * go, returns how many messages it deleted) in its migration. Until that
 * function exists a run deletes nothing and reports messages_deleted 0.
 * A failed run reports "status":"failed" with an errors array (1023).
 */
#ifndef COREAPP_SERVICES_H
#define COREAPP_SERVICES_H

struct coreapp;
struct services;

/* Opens the module's connection and registers WIRE_MESSAGE_GC. Call after
 * webhooks_init(). */
void services_init(struct coreapp *app);
void services_free(struct services *sv);        /* NULL is fine; before webhooks_free() */

#endif /* COREAPP_SERVICES_H */
