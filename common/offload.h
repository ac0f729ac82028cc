/* offload.h - a small thread pool for CPU-heavy work (the webapp's password
 * hashing, the coreapp's backup key derivation) so the event loop keeps
 * serving while it runs. work runs on a pool thread and must not touch the
 * loop; done then runs on the loop thread (finished jobs wake it through an
 * eventfd: the loop needs no evthread locking). */
#ifndef COMMON_OFFLOAD_H
#define COMMON_OFFLOAD_H

struct event_base;
struct offload;

typedef void (*offload_fn)(void *arg);

struct offload *offload_new(struct event_base *base, int threads);
/* Joins the threads; jobs not yet started, or finished but not yet back on
 * the loop, are dropped without done. */
void offload_free(struct offload *o);
void offload_run(struct offload *o, offload_fn work, offload_fn done, void *arg);
/* Threads not running a job, and jobs waiting for one (for metrics). */
void offload_load(struct offload *o, int *idle, unsigned *queued);

#endif /* COMMON_OFFLOAD_H */
