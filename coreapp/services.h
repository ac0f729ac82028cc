/* services.h - PUT /v1/services/message/gc (spec/API.md §14): a garbage
 * collection of the messages table, answered at once with
 * {"services":{"message":{"gc":{"status":"processing"}}}} and reported when
 * done by a "service" callback (spec/WEBHOOKS.md §7):
 *   {"services":[{"message":{"gc":{"messages_deleted":5,"status":"complete"}}}]}
 *
 * Every PUT runs one collection and sends one callback; runs queue one
 * behind the other (coreapp/message_gc.h, which owns what is deleted and
 * how, and also collects automatically without callbacks), so a long
 * collection delays nobody else. Since the result only arrives by callback,
 * a PUT while webhooks.url is "" is refused with 1022. A failed run reports
 * "status":"failed" with an errors array (1023) and the number of messages
 * its earlier chunks deleted.
 */
#ifndef COREAPP_SERVICES_H
#define COREAPP_SERVICES_H

struct coreapp;
struct services;

/* Creates the collector (coreapp/message_gc.h) and registers WIRE_MESSAGE_GC.
 * Call after settings_init() and webhooks_init(). */
void services_init(struct coreapp *app);
void services_free(struct services *sv);        /* NULL is fine; before webhooks_free() */

#endif /* COREAPP_SERVICES_H */
