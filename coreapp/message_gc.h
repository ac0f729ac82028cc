/* message_gc.h - garbage collection of the messages table (spec/API.md §6.3):
 * the runs behind PUT /v1/services/message/gc (coreapp/services.h, which
 * reports them by callback) and the automatic collector.
 *
 * What may be deleted is decided by the SQL function wa_message_gc()
 * (sql/008_message_gc.sql); in short: messages older than the retention
 * period (WA_MESSAGE_RETENTION_DAYS, default 30, counted from when they were
 * accepted or received) that are finished - outbound delivered, read, failed
 * or deleted, outbound sent once also older than 30 days, inbound unless its
 * read receipt is still to go - and that no callback not yet acknowledged
 * names. Never a message still accepted (not acknowledged by the network).
 * The count is of messages.
 *
 * A run deletes in chunks of MESSAGE_GC_BATCH messages, one statement (one
 * transaction) each, on the module's own PostgreSQL connection, until a chunk
 * finds less than a full batch; so a huge table never sits behind one long
 * DELETE and the rest of the coreapp never waits for it. Runs go one at a time,
 * in the order asked.
 *
 * Automatic collection: every WA_MESSAGE_GC_INTERVAL_S seconds (default 3600)
 * while the settings garbagecollector_enable.messages and the older
 * db_garbagecollector_enable are both true (defaults); a change of either
 * takes effect at once, no restart: turning it off stops a run in progress
 * after its current chunk. Automatic runs are logged, not called back. With
 * several coreapps each collects; SKIP LOCKED keeps them off each other's rows.
 * Knows no HTTP and no ZeroMQ. */
#ifndef COREAPP_MESSAGE_GC_H
#define COREAPP_MESSAGE_GC_H

#include <stdbool.h>

struct coreapp;
struct message_gc;

#define MESSAGE_GC_BATCH 1000

/* The end of a run asked with message_gc_run(): deleted messages (also those
 * of the chunks done before a failure) and failure NULL, or a sentence saying
 * what went wrong. */
typedef void (*message_gc_done_cb)(long long deleted, const char *failure, void *arg);

/* Opens the module's connection, starts the automatic collector and follows
 * the settings. Call after settings_init(). */
struct message_gc *message_gc_new(struct coreapp *app);
/* Stops; a run in progress and queued runs end with failure "shutting down"
 * (their callbacks run here). NULL is fine. */
void message_gc_free(struct message_gc *gc);

/* Queues one run; cb (may be NULL) is called exactly once, possibly before
 * this returns when the database is down. */
void message_gc_run(struct message_gc *gc, message_gc_done_cb cb, void *arg);

/* Whether the module's database connection is up. */
bool message_gc_is_ready(const struct message_gc *gc);

#endif /* COREAPP_MESSAGE_GC_H */
