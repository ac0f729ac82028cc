/* store.h - the sandbox's durable state: named collections of JSON objects
 * keyed by string, kept in memory and journalled to <state_dir>/state.jsonl
 * (one JSON line per change, written at once with write(2), so a change
 * survives even SIGKILL). Opening replays the journal and rewrites it compact.
 * Files rather than PostgreSQL because the sandbox stands in for a remote
 * network: it must not share the product's database, needs none to run, and
 * its state is small. Knows nothing of what the objects mean. */
#ifndef SANDBOX_STORE_H
#define SANDBOX_STORE_H

#include <jansson.h>

struct store;

/* Loads (or creates) the state in dir. NULL on error (logged). */
struct store *store_open(const char *dir);
void store_close(struct store *st);                     /* NULL is fine */

/* The object stored under coll/key, or NULL; borrowed. Changing it in place
 * must be followed by store_save(). A cooled key is brought back (parsed
 * from its journal line) and stays warm until cooled again. */
json_t *store_get(struct store *st, const char *coll, const char *key);
/* The collection as an object key -> value, in insertion order; borrowed,
 * never NULL (an empty object when nothing was stored). Don't modify. A
 * cooled key's value is its stub: use store_get() for the object. */
json_t *store_coll(struct store *st, const char *coll);
/* Stores obj (taken) under coll/key, replacing any earlier value. */
void store_put(struct store *st, const char *coll, const char *key, json_t *obj);
/* Journals the current value of coll/key again, after an in-place change. */
void store_save(struct store *st, const char *coll, const char *key);
void store_del(struct store *st, const char *coll, const char *key);
/* Keeps coll/key in memory only as its journal line, with stub (taken; any
 * JSON but an object, e.g. what the caller must know of it without parsing
 * it) in its place, once its last change is journalled: at the release when
 * held. For values that are written once and then seldom read: the object
 * is freed while still in the cache instead of long after (a message's
 * tree: ~50 allocations), and memory keeps a line instead of a tree. A
 * later change before the release keeps it warm. */
void store_cool(struct store *st, const char *coll, const char *key, json_t *stub);

/* Batching. Between store_hold() and the matching store_release() (they
 * nest), changes take effect in memory at once but reach the journal only at
 * the release: every key changed in between is written once, with its value
 * at that moment, in a single write(2). A caller that holds must not let
 * anything depending on those changes leave the process (frames, replies)
 * before it releases; then a change survives SIGKILL as before, and a turn
 * that changes a message five times costs one system call. */
void store_hold(struct store *st);
void store_release(struct store *st);

#endif /* SANDBOX_STORE_H */
