/* webhooks.h - callbacks from the coreapp to the business (spec/WEBHOOKS.md)
 * and the webhook CA (GET/POST/DELETE /v1/certificates/webhooks/ca).
 *
 * Owns the wa_callbacks and webhook_ca tables (sql/005) and the dispatcher
 * that posts queued callbacks to settings' webhooks.url with libcurl's multi
 * interface on the coreapp's event loop. Builds no callback bodies itself:
 * producers (messages, statuses, system notifications, services) hand it
 * finished JSON objects. Knows no ZeroMQ; HTTP only as a client.
 *
 * ---- Delivery -------------------------------------------------------------
 * - POST <webhooks.url>, Content-Type: application/json, the body exactly as
 *   queued. Success is HTTP 200 and nothing else: other statuses, redirects
 *   (not followed), TLS failures, connection errors and timeouts
 *   (WA_WEBHOOK_TIMEOUT_MS, default 20 s per request) are failures.
 * - After the n-th consecutive failure of a callback it is retried after
 *   min(n * callback_backoff_delay_ms, max_callback_backoff_delay_ms), for
 *   ever. A change of webhooks.url or of the webhook CA retries every waiting
 *   callback at once, with its count reset.
 * - At most webhooks.max_concurrent_requests in flight; connections are kept
 *   alive and reused. TLS is verified against the system CAs plus the CA
 *   uploaded with POST /v1/certificates/webhooks/ca; uploads and deletes take
 *   effect at once, on every coreapp (NOTIFY wa_webhook_ca), no restart.
 * - With callback_persist (default) every pending callback is a row, deleted
 *   only after its 200: callbacks survive kill -9 of the coreapp and restarts
 *   of PostgreSQL (the dispatcher keeps delivering what it holds while the
 *   database is away). After a coreapp restart pending callbacks are retried
 *   at once. With callback_persist false a callback lives only in memory
 *   (rows that producers insert are taken out of the table as they are
 *   loaded) and a crash loses it. Either way delivery is at-least-once: a
 *   200 whose row could not be deleted before a crash is posted again.
 * - While webhooks.url is "" callbacks stay queued, undelivered, until a URL
 *   is set; producers should not create them then (webhooks_enabled()).
 * - Signing (our addition; the original does not sign): when a secret is set,
 *   each request carries X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
 *   exact body> (the Cloud API scheme). The secret is the setting
 *   webhooks.secret when it is not ""; otherwise the environment variable
 *   WA_WEBHOOK_SECRET; neither set: no header (default). The setting wins so
 *   that an admin can rotate the secret through the API without a restart.
 *
 * ---- Queuing a callback: the API for producers ------------------------------
 * A callback is a row (kind, body) in wa_callbacks. Insert it IN THE SAME
 * TRANSACTION as the change it reports (e.g. the status update), so that the
 * change and its callback commit or vanish together:
 *
 *     const char *p[2] = { webhook_kind_name(WEBHOOK_STATUS_CHANGE), body_text };
 *     db_query(db, WEBHOOKS_INSERT_SQL, 2, p, cb, arg);    // between BEGIN and COMMIT
 *
 * or, inside a multi-statement batch (db_query with nparams 0), the same
 * statement with its values inlined as literals:
 *
 *     char *sql = webhooks_insert_sql(WEBHOOK_STATUS_CHANGE, body_text); ... free(sql);
 *
 * body_text is the complete callback object (spec/WEBHOOKS.md §2), e.g.
 * {"statuses":[{"id":"...","recipient_id":"...","status":"delivered",
 * "timestamp":"..."}]}, as compact JSON (json_dumps(o, JSON_COMPACT)). A
 * trigger wakes the dispatcher when the transaction commits (NOTIFY
 * wa_callbacks); nothing else to call. Check webhooks_enabled() and, for
 * statuses, settings_status_callback_wanted() (settings.h) before building a
 * callback. Outside a transaction of your own, webhooks_enqueue() does all of
 * it (and honours callback_persist false by keeping the callback in memory).
 */
#ifndef COREAPP_WEBHOOKS_H
#define COREAPP_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "common/errors.h"

struct coreapp;
struct webhooks;

/* What a callback carries; the names label the callback_requests metric. */
enum webhook_kind {
    WEBHOOK_INBOUND_MESSAGE,   /* "inbound_message": messages[] (+ contacts[]) */
    WEBHOOK_STATUS_CHANGE,     /* "status_change":   statuses[] */
    WEBHOOK_SYSTEM,            /* "system":          messages[] of type "system" */
    WEBHOOK_SERVICE,           /* "service":         services[] (gc completion) */
    WEBHOOK_ERROR,             /* "error":           out-of-band errors[] */
    WEBHOOK__COUNT
};

/* The in-memory queue's capacity (spec/WEBHOOKS.md §1); more stays in the table. */
#define WEBHOOKS_QUEUE_CAPACITY 100000

/* $1 = webhook_kind_name(kind), $2 = the body's JSON text. */
#define WEBHOOKS_INSERT_SQL "INSERT INTO wa_callbacks (kind, body) VALUES ($1, $2)"
/* One row, one column: callbacks not yet acknowledged (/v1/stats/db). */
#define WEBHOOKS_PENDING_COUNT_SQL "SELECT count(*) FROM wa_callbacks"

const char *webhook_kind_name(enum webhook_kind kind);

/* WEBHOOKS_INSERT_SQL with both values as escaped SQL literals, for a
 * multi-statement batch. Heap string (free()). */
char *webhooks_insert_sql(enum webhook_kind kind, const char *body_json);

/* Creates the dispatcher (app->webhooks) and registers the three webhook CA
 * commands. Call after settings_init(). */
void webhooks_init(struct coreapp *app);
/* Stops the dispatcher and frees it; NULL is fine. Call after the modules
 * that queue callbacks are freed and before settings_free(). */
void webhooks_free(struct webhooks *w);

/* Whether callbacks are on (webhooks.url is set). */
bool webhooks_enabled(const struct coreapp *app);

/* Queues a callback on its own (not in a transaction of the caller): a row
 * with callback_persist, else memory only. Takes body (an object). Errors:
 * ERR_WEBHOOK_URL_MISSING (callbacks are off: nothing queued),
 * ERR_OVERLOADED (memory-only queue full), ERR_SERVICE_NOT_READY (before
 * webhooks_init()). A database failure is not an
 * error: the callback is then kept in memory. */
enum err_code webhooks_enqueue(struct coreapp *app, enum webhook_kind kind, json_t *body)
    __attribute__((warn_unused_result));

/* ---- pure helpers (also for tests) ------------------------------------------------ */

/* The number of certificates in a PEM bundle, or -1 if it holds anything
 * else (a key, garbage, a broken certificate) or none: what
 * POST /v1/certificates/webhooks/ca accepts. */
int webhooks_ca_count(const char *pem, size_t len);

/* "sha256=<64 hex digits>": HMAC-SHA256 of body under secret, the value of
 * X-Hub-Signature-256 ("" on failure). */
#define WEBHOOKS_SIGNATURE_LEN 72
void webhooks_signature(const char *secret, const void *body, size_t len,
                        char out[WEBHOOKS_SIGNATURE_LEN]);

/* ---- for /v1/stats ---------------------------------------------------------- */
/* The dispatcher feeds coreapp/stats.h itself: callback_queue_size (gauge),
 * callback_requests{type,result} and callback_requests_duration_ms_count/_sum,
 * where type is webhook_kind_name() and result is "success" (200), another
 * HTTP status ("500", "302"...) or, when no response came, "timeout",
 * "tls_error", "connect_error" or "error". */

/* Callbacks this coreapp holds and has not yet delivered (waiting, retrying
 * or in flight): callback_queue_size. */
size_t webhooks_queue_size(const struct coreapp *app);
/* Of those, the requests in flight now. */
size_t webhooks_in_flight(const struct coreapp *app);

/* Rows in wa_callbacks, i.e. callbacks not yet acknowledged by any coreapp
 * (db_pending_callbacks): cb gets the count, or err != ERR_OK and -1. Runs
 * on the dispatcher's connection. */
typedef void (*webhooks_count_cb)(long long count, enum err_code err, void *arg);
void webhooks_pending_db_count(struct coreapp *app, webhooks_count_cb cb, void *arg);

#endif /* COREAPP_WEBHOOKS_H */
