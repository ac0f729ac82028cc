/* db.h - PostgreSQL for an event loop: one connection per struct db, queries
 * queued FIFO and sent one at a time without blocking, reconnection with
 * back-off (and at once when a query needs it), LISTEN/NOTIFY. Plus the
 * blocking start-up helpers (wait for the server, create the database, apply
 * migrations under an advisory lock).
 * The only file that includes <libpq-fe.h>; callers see struct db_result. */
#ifndef COMMON_DB_H
#define COMMON_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/errors.h"
#include "common/jsonbuf.h"

struct event_base;
struct db;
struct db_result;

/* Connection settings; the WA_DB_* variables (see db_config_keys in the mains). */
struct db_config {
    char *host;          /* host name, IP or socket directory */
    long  port;
    char *user;
    char *password;
    char *name_prefix;   /* database name = prefix + "wa" */
    char *sslmode;
    char *ssl_ca, *ssl_cert, *ssl_key;
};

/* Called once per query. On ERR_OK res holds the result; on ERR_DATABASE res
 * holds the server's error (db_result_sqlstate) or is NULL when the connection
 * is down. res is borrowed: valid only during the call. */
typedef void (*db_result_cb)(const struct db_result *res, enum err_code err, void *arg);
typedef void (*db_connect_cb)(void *arg);
typedef void (*db_notify_cb)(const char *channel, const char *payload, void *arg);

/* conninfo of the application database (heap string). */
char *db_conninfo(const struct db_config *cfg, bool app_db);

/* Blocking, for start-up only: waits up to wait_s seconds for the server,
 * creates the database if missing and applies every embedded migration not yet
 * recorded, under an advisory lock so processes may start together.
 * Returns 0 or -1 (logged). */
int db_bootstrap(const struct db_config *cfg, int wait_s);

/* Blocking, for start-up only: runs one statement on the application
 * database and returns the first column of its first row as a heap string
 * (NULL if no row or on error; *failed tells which, and may be NULL). */
char *db_oneshot(const struct db_config *cfg, const char *sql, int nparams,
                 const char *const *params, bool *failed);

/* A connection driven by base; starts connecting at once. name is for logs. */
struct db *db_new(struct event_base *base, const char *conninfo, const char *name);
void db_free(struct db *db);                      /* fails queued queries; NULL ok */
/* Called after every successful (re)connect, once LISTENs are re-issued.
 * Several callbacks may register (up to 8); they run in registration order. */
void db_on_connect(struct db *db, db_connect_cb cb, void *arg);
/* LISTEN on channel now and after every reconnect; cb gets each NOTIFY. */
void db_listen(struct db *db, const char *channel, db_notify_cb cb, void *arg);
/* Queue a query ($1.. parameters as text, NULL for SQL NULL). With nparams 0,
 * sql may hold several statements. cb may be NULL. Never fails: a query that
 * can't run reaches cb with ERR_DATABASE. Without a connection, a query waits
 * (1 s at most) for the attempt under way, or starts one at once instead of
 * waiting out the back-off; only when an attempt failed (or the connection
 * was lost) less than 100 ms ago does it fail before db_query returns. An
 * attempt the server does not answer is given up after 5 s. */
void db_query(struct db *db, const char *sql, int nparams, const char *const *params,
              db_result_cb cb, void *arg);
/* db_query() for a statement that runs often (nparams >= 1): it is parsed and
 * planned once per connection, under name (unique per db, e.g. "status"),
 * and then only executed. sql must be the same for every call with a name. */
void db_query_prepared(struct db *db, const char *name, const char *sql, int nparams,
                       const char *const *params, db_result_cb cb, void *arg);
bool db_is_connected(const struct db *db);
size_t db_queue_len(const struct db *db);

/* Queries that reached the server, by outcome, and their summed time from
 * sending to the last result, in microseconds (for /v1/stats/app). */
struct db_stats {
    uint64_t ok_count, ok_us;
    uint64_t err_count, err_us;
};
void db_stats_get(const struct db *db, struct db_stats *out);

/* Appends s to b as one element of a text[] literal ('{"a","b"}'): quoted,
 * with '"' and '\\' escaped, so any text is taken as it is. */
void db_array_elem(struct jbuf *b, const char *s);

int db_result_rows(const struct db_result *r);
/* Text value, or NULL for SQL NULL or out of range. Borrowed. */
const char *db_result_get(const struct db_result *r, int row, int col);
long long db_result_affected(const struct db_result *r);
const char *db_result_sqlstate(const struct db_result *r);   /* "" if none */
const char *db_result_error(const struct db_result *r);      /* "" if none */

#endif /* COMMON_DB_H */
