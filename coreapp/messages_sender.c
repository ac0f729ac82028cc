/* messages_sender.c - outbox to the gateway, status and inbound events to
 * rows and callbacks.
 *
 * Events are batched like sends: those that arrive during one loop turn go
 * to PostgreSQL as one statement per kind (json_to_recordset), which updates
 * the messages, logs the receipts and queues the callbacks together, and
 * only after its commit does the network hear gateway_event_done(). A batch
 * that fails is retried (the network would also redeliver after a
 * reconnection); duplicates are harmless because a status only ever moves a
 * message forward and an inbound id is inserted once. */
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/clock.h"
#include "common/db.h"
#include "common/jsonbuf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "coreapp/contacts.h"
#include "coreapp/coreapp.h"
#include "coreapp/gateway.h"
#include "coreapp/messages_sender.h"
#include "coreapp/settings.h"
#include "coreapp/stats.h"
#include "coreapp/webhooks.h"

#define RESUBMIT_PAGE   500
#define RETRY_MS        1000
/* A status statement starts at most every STATUS_PACE_MS, unless its batch
 * already holds STATUS_BATCH_FULL statuses (an event may carry many). Each
 * execution has a fixed cost (planning, a commit) that batches of a few tens
 * of messages paid again and again: pacing measured ~15 us less PostgreSQL
 * CPU per message under load. But while one runs, its backend holds one of
 * the cores, and the sends waiting for a core wait behind it: at 20 ms the
 * statement carried ~250 messages, at 10 ms (since the grouped statement
 * made each message cheaper) ~125, and in make bench the p99 fell from ~2.0
 * to ~1.85 times the p50 for ~2 us more PostgreSQL CPU per message (5 ms
 * cost more still, and was no narrower).
 * Nobody waits on a status the way a sender waits for its 201; a callback
 * leaves at most this much later. */
#define STATUS_PACE_MS     10
#define STATUS_BATCH_FULL  2000
/* How often the outbox watermark moves (WATERMARK_SQL), and how far past
 * it (in seq) one move may read. A restart scans what came since,
 * plus what is still unsent. Small steps often: one step over a second's rows
 * (~10,000 at full load) held a core for 4-14 ms, and every request that
 * waited for it meanwhile; a step reads ~2,500 rows instead (~1.5 ms), and
 * catches up at 40,000 rows a second after a pause. */
#define WATERMARK_MS       250
#define WATERMARK_STEP     "10000"

/* A batch holds one row per message (status_add() merges its events): the
 * status of highest rank, the network's time of each status, the error of a
 * failure and, when callbacks are wanted, each event's callback with its
 * rank and its place in the batch (n). A status moves a message forward
 * only: a late or repeated event changes nothing and queues no callback;
 * a timestamp already recorded is kept. */
#define STATUS_ROWS \
    "json_to_recordset($1::json) AS e(i text, st text, r int, s bigint, d bigint, rd bigint," \
    "                                 f bigint, code int, title text, details text, c json)"
#define STATUS_RANK(col) \
    "CASE " col " WHEN 'accepted' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2" \
    " WHEN 'read' THEN 3 WHEN 'failed' THEN 4 ELSE 5 END"
#define STATUS_SET \
    " SET status = e.st," \
    "     sent_at = coalesce(m.sent_at, to_timestamp(e.s))," \
    "     delivered_at = coalesce(m.delivered_at, to_timestamp(e.d))," \
    "     read_at = coalesce(m.read_at, to_timestamp(e.rd))," \
    "     failed_at = coalesce(m.failed_at, to_timestamp(e.f))," \
    "     error_code = CASE WHEN e.st = 'failed' THEN e.code ELSE m.error_code END," \
    "     error_title = CASE WHEN e.st = 'failed' THEN e.title ELSE m.error_title END," \
    "     error_details = CASE WHEN e.st = 'failed' THEN e.details ELSE m.error_details END"

/* Without callbacks (no webhook, or statuses nobody asked for): one UPDATE,
 * each row found by its primary key. Not the statement below with no rows
 * for wa_callbacks: an INSERT of no rows still fires that table's statement
 * trigger, whose NOTIFY would wake every webhook dispatcher for nothing.
 *
 * Its rows come in two parts (status_groups()): the ids ($1) with the index
 * of their group ($2), and the groups ($3), the distinct rows without their
 * id. A batch's messages mostly went through the same statuses in the same
 * second, so a batch of hundreds holds one or two groups: PostgreSQL reads
 * an array element per message instead of a JSON object, and evaluates the
 * columns' expressions per group. An isolated run of 250-row batches:
 * 6.5-8.1 us per message with one JSON object each, 5.5-5.7 us so. */
static const char STATUS_NOCB_SQL[] =
    "WITH upd AS (UPDATE messages m" STATUS_SET
    "  FROM (SELECT * FROM unnest($1::text[], $2::int[]) AS u(i, g)"
    "        JOIN json_to_recordset($3::json) AS gr(g int, st text, r int, s bigint, d bigint,"
    "             rd bigint, f bigint, code int, title text, details text) USING (g)) e"
    "  WHERE m.id = e.i AND m.direction = 'outbound' AND e.r > " STATUS_RANK("m.status")
    "  RETURNING 1)"
    " SELECT count(*), 0 FROM upd";

/* With callbacks: an event's callback is queued when it moves the message
 * beyond the status it had before this batch (old, locked first). */
static const char STATUS_SQL[] =
    "WITH e AS (SELECT * FROM " STATUS_ROWS "),"
    " old AS (SELECT m.id, " STATUS_RANK("m.status") " AS r0 FROM messages m JOIN e ON m.id = e.i"
    "         WHERE m.direction = 'outbound' FOR UPDATE OF m),"
    " upd AS (UPDATE messages m" STATUS_SET
    "         FROM e JOIN old ON old.id = e.i WHERE m.id = e.i AND e.r > old.r0 RETURNING 1),"
    " cb AS (INSERT INTO wa_callbacks (kind, body)"
    "        SELECT $2, c.cb FROM e JOIN old ON old.id = e.i,"
    "                            json_to_recordset(e.c) AS c(n int, r int, cb text)"
    "        WHERE c.r > old.r0 ORDER BY c.n RETURNING 1)"
    " SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM cb)";

/* An inbound id is stored once; its callback goes with the first insert. */
static const char INBOUND_SQL[] =
    "WITH ev AS ("
    "  SELECT * FROM json_to_recordset($1::json)"
    "         AS e(n int, id text, peer text, type text, msg json, cb text, kind text)),"
    " ins AS (INSERT INTO messages (id, direction, peer, type, payload, status)"
    "         SELECT id, 'inbound', peer, type, msg, 'received' FROM ev ORDER BY n"
    "         ON CONFLICT (id) DO NOTHING RETURNING id),"
    " wh AS (INSERT INTO wa_callbacks (kind, body)"
    "        SELECT coalesce(ev.kind, $2), ev.cb FROM ev JOIN ins ON ins.id = ev.id"
    "        WHERE ev.cb IS NOT NULL"
    "        ORDER BY ev.n RETURNING 1)"
    " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM wh)";

/* From the watermark (sql/012) at the least: no row below it is 'accepted'. */
static const char OUTBOX_SQL[] =
    "SELECT seq, id, peer, payload::text FROM messages"
    " WHERE status = 'accepted' AND direction = 'outbound'"
    "   AND seq > greatest($1, (SELECT seq FROM outbox_watermark)) AND seq <= $2"
    " ORDER BY seq LIMIT 500";

/* Moves the watermark up, looking at most $1 (WATERMARK_STEP) seqs past it
 * and never past $2, a seq below which every outbound row is committed
 * (messages_sender_committed_upto()): to just below the first outbound row
 * there still 'accepted', else to the end of that stretch. Outbound rows are
 * inserted by one connection only, one statement after the other
 * (coreapp/messages.c), which reports each statement's highest seq once it
 * has committed; a row beyond $2 may still be invisible, being inserted,
 * and is not looked at. Inbound rows (another connection) don't matter
 * here: the watermark is about outbound messages only.
 *
 * It reads at most one step of the seq index, whatever lies beyond. It once
 * decided whether to move past a stretch without outbound rows by looking
 * beyond it for one: over inbound rows that walked every one of them, four
 * times a second, and when nothing lay beyond (an idle coreapp), the planner
 * scanned the whole table (~25 ms for 150,000 messages). Writes only when
 * the watermark moves, so an idle coreapp syncs nothing. */
#define WM_LO "(SELECT seq FROM outbox_watermark)"
#define WM_HI "least((SELECT seq FROM outbox_watermark) + $1::bigint, $2::bigint)"
static const char WATERMARK_SQL[] =
    "WITH n AS MATERIALIZED (SELECT coalesce("
    "    (SELECT m.seq - 1 FROM messages m WHERE m.seq > " WM_LO " AND m.seq <= " WM_HI
    "       AND m.direction = 'outbound' AND m.status = 'accepted' ORDER BY m.seq LIMIT 1),"
    "    " WM_HI ") AS seq)"
    " UPDATE outbox_watermark SET seq = n.seq FROM n"
    " WHERE outbox_watermark.seq < n.seq";      /* unmoved: no write, no commit to sync */

static const char RECHECK_SQL[] =
    "SELECT seq, id, peer, payload::text FROM messages"
    " WHERE status = 'accepted' AND direction = 'outbound'"
    "   AND id IN (SELECT json_array_elements_text($1::json)) ORDER BY seq";

static const char PENDING_READS_SQL[] =
    "SELECT id FROM messages WHERE read_receipt = 'pending' ORDER BY seq LIMIT 10000";

static const char READ_SENT_SQL[] =
    "UPDATE messages SET read_receipt = 'sent'"
    " WHERE read_receipt = 'pending' AND id IN (SELECT json_array_elements_text($1::json))";

/* Events of one kind waiting for, or in, a statement. */
struct evbatch {
    json_t *rows;            /* records for json_to_recordset */
    json_t *eids;            /* what to confirm after the commit */
    json_t *ids;             /* id -> its row (status) or true (inbound) */
    bool    callbacks;       /* status: some row has one */
    size_t  events;          /* status: events in the batch (order of callbacks) */
};

enum ev_kind { EVK_STATUS, EVK_INBOUND, EVK__COUNT };

struct messages_sender {
    struct coreapp *app;
    struct db      *db;
    struct event   *flush_ev;
    struct event   *retry_ev;
    struct event   *pace_ev;             /* the next status statement is due */
    int64_t         status_started_us;   /* when the last one was sent */
    struct event   *attach_ev;
    struct event   *watermark_ev;
    bool            watermark_busy;      /* one statement at a time, however slow */
    struct evbatch  open[EVK__COUNT];
    bool            in_flight[EVK__COUNT];
    /* The outbox scan: hands over the 'accepted' rows with seq in
     * (scan_cursor, scan_upto], a page at a time, while the gateway has room. */
    int64_t         scan_upto;           /* -1 until the boundary is known */
    int64_t         committed_upto;      /* outbound rows <= it are committed; -1: unknown */
    int64_t         scan_cursor;
    bool            scan_active;
    bool            page_in_flight;
    bool            spilled;             /* commits wait in the table, not the gateway */
    bool            rescan;              /* the scan must start over from the first row */
    bool            reads_sent;          /* the pending read receipts, once */
    size_t          queue_max;           /* messages the gateway holds at most */
    json_t         *recheck;             /* ids to look at once connected */
};

static void
evbatch_init(struct evbatch *b)
{
    b->rows = json_array();
    b->eids = json_array();
    b->ids = json_object();
    b->callbacks = false;
    b->events = 0;
}

static void
evbatch_cleanup(struct evbatch *b)
{
    json_decref(b->rows);
    json_decref(b->eids);
    json_decref(b->ids);
    b->rows = b->eids = b->ids = NULL;
    b->callbacks = false;
    b->events = 0;
}

static void
schedule_flush(struct messages_sender *s)
{
    event_active(s->flush_ev, 0, 0);
}

/* ---- outbound: to the gateway ------------------------------------------------ */

/* Makes sure a scan covers the outbox up to seq upto (INT64_MAX: all of it,
 * when something committed is not in the gateway). */
static void
scan_through(struct messages_sender *s, int64_t upto)
{
    if (!s->scan_active) {
        s->scan_active = true;
        s->scan_cursor = 0;
    }
    if (s->scan_upto < upto)
        s->scan_upto = upto;
}

/* Hands one committed message to the gateway, unless the gateway already
 * holds queue_max of them: the network is down or slow, and what the API
 * accepts meanwhile must not grow the coreapp's memory without end (about
 * 1.2 KB a message). It waits in the table (it is 'accepted' there) until
 * the scan reads it back, in order. */
static bool
hand_over(struct messages_sender *s, const char *id, const char *to, const json_t *body)
{
    if (gateway_queued(s->app->gw) >= s->queue_max) {
        if (!s->spilled)
            log_warn(NULL, "outbox_spilled", "queued=%zu: further messages wait in the"
                     " database until the network takes these", gateway_queued(s->app->gw));
        s->spilled = true;
        scan_through(s, INT64_MAX);
        return false;
    }
    if (gateway_send_message(s->app->gw, id, to, body) != ERR_OK) {
        log_warn(NULL, "message_not_submitted", "id=%s reason=unregistered", id);
        s->rescan = true;            /* a scan may have gone past it */
        scan_through(s, INT64_MAX);
    }
    return true;
}

void
messages_sender_submit(struct messages_sender *s, const char *id, const char *to,
                       const json_t *body)
{
    if (s->app->gw == NULL)
        return;                      /* no network configured: resubmitted at next start */
    if (!s->spilled)                 /* else the scan hands it over after older ones */
        hand_over(s, id, to, body);
}

static void scan_kick(struct messages_sender *s);

/* Rows of OUTBOX_SQL / RECHECK_SQL: (seq, id, peer, payload). Returns the seq
 * of the last row handed over (-1: none); *full when the gateway refused one. */
static int64_t
submit_rows(struct messages_sender *s, const struct db_result *res, bool *full)
{
    int64_t last = -1;

    *full = false;
    for (int i = 0; i < db_result_rows(res); i++) {
        json_t *body = json_loads(db_result_get(res, i, 3), 0, NULL);
        bool    taken = body == NULL ||         /* unreadable: nothing to send */
                        hand_over(s, db_result_get(res, i, 1), db_result_get(res, i, 2), body);

        json_decref(body);
        if (!taken) {
            *full = true;
            break;
        }
        last = strtoll(db_result_get(res, i, 0), NULL, 10);
    }
    return last;
}

static void
outbox_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct messages_sender *s = arg;
    struct timeval          tv = { RETRY_MS / 1000, (RETRY_MS % 1000) * 1000 };
    int64_t                 last;
    bool                    full;
    int                     n;

    s->page_in_flight = false;
    if (err != ERR_OK) {
        evtimer_add(s->retry_ev, &tv);       /* flush_cb() kicks the scan again */
        return;
    }
    n = db_result_rows(res);
    last = submit_rows(s, res, &full);
    if (last >= 0)
        s->scan_cursor = last;
    log_info(NULL, "messages_resubmitted", "count=%d upto_seq=%lld", n,
             (long long) s->scan_cursor);
    if (s->rescan) {                         /* go on from the start */
        s->rescan = false;
        s->scan_cursor = 0;
        scan_kick(s);
        return;
    }
    if (full)
        return;                              /* on when the network has taken some */
    if (n == RESUBMIT_PAGE) {
        scan_kick(s);
    } else if (s->spilled) {
        /* the end; but what was committed while this page was read is in the
         * table too, and from now on goes straight to the gateway: one more */
        s->spilled = false;
        log_info(NULL, "outbox_caught_up", "upto_seq=%lld", (long long) s->scan_cursor);
        scan_kick(s);
    } else {
        s->scan_active = false;
    }
}

static void
read_sent_cb(const struct db_result *res, enum err_code err, void *arg)
{
    (void) res;
    (void) arg;
    if (err != ERR_OK)
        log_warn(NULL, "read_receipt_not_recorded", "reason=database");
}

/* Tells the network, then records that we did; read_ids is taken. */
static void
send_reads(struct messages_sender *s, json_t *read_ids)
{
    json_t *sent = json_array(), *v;
    size_t  i;
    char   *text;

    json_array_foreach(read_ids, i, v)
        if (gateway_mark_read(s->app->gw, json_string_value(v)) == ERR_OK)
            json_array_append(sent, v);
    if (json_array_size(sent) > 0) {
        text = json_dumps(sent, JSON_COMPACT);
        db_query(s->db, READ_SENT_SQL, 1, (const char *const *) &text, read_sent_cb, s);
        free(text);
    }
    json_decref(sent);
    json_decref(read_ids);
}

static void
pending_reads_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct messages_sender *s = arg;
    json_t                 *ids = json_array();

    if (err == ERR_OK)
        for (int i = 0; i < db_result_rows(res); i++)
            json_array_append_new(ids, json_string(db_result_get(res, i, 0)));
    send_reads(s, ids);
}

static void
scan_kick(struct messages_sender *s)
{
    char        a[24], b[24];
    const char *p[2] = { a, b };

    if (!s->scan_active || s->page_in_flight || s->scan_upto < 0 || s->app->gw == NULL ||
        !gateway_is_connected(s->app->gw) || gateway_queued(s->app->gw) > s->queue_max / 2)
        return;
    if (!s->reads_sent) {
        s->reads_sent = true;
        db_query(s->db, PENDING_READS_SQL, 0, NULL, pending_reads_cb, s);
    }
    s->page_in_flight = true;
    snprintf(a, sizeof(a), "%lld", (long long) s->scan_cursor);
    snprintf(b, sizeof(b), "%lld", (long long) s->scan_upto);
    db_query(s->db, OUTBOX_SQL, 2, p, outbox_cb, s);
}

void
messages_sender_set_resubmit(struct messages_sender *s, int64_t upto)
{
    scan_through(s, upto);
    messages_sender_committed_upto(s, upto);    /* no insert of ours is older */
    scan_kick(s);
}

void
messages_sender_committed_upto(struct messages_sender *s, int64_t upto)
{
    if (s->committed_upto < upto)
        s->committed_upto = upto;
}

struct recheck {
    struct messages_sender *s;
    json_t                 *ids;
};

static void
rechecked_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct recheck *rc = arg;
    bool            full;

    if (err != ERR_OK) {
        json_array_extend(rc->s->recheck, rc->ids);       /* at the next connect */
    } else {
        log_info(NULL, "messages_rechecked", "uncertain=%zu committed=%d",
                 json_array_size(rc->ids), db_result_rows(res));
        submit_rows(rc->s, res, &full);      /* refused ones: the scan finds them */
    }
    json_decref(rc->ids);
    free(rc);
}

void
messages_sender_recheck(struct messages_sender *s, json_t *ids)
{
    struct recheck *rc = xmalloc(sizeof(*rc));
    char           *text = json_dumps(ids, JSON_COMPACT);

    rc->s = s;
    rc->ids = ids;
    db_query(s->db, RECHECK_SQL, 1, (const char *const *) &text, rechecked_cb, rc);
    free(text);
}

void
messages_sender_mark_read(struct messages_sender *s, const char *id)
{
    json_t *ids;

    if (s->app->gw == NULL)
        return;                          /* 'pending' stays: sent at the next start */
    ids = json_array();
    json_array_append_new(ids, json_string(id));
    send_reads(s, ids);
}

static void
link_cb(struct gateway *gw, bool up, void *arg)
{
    struct messages_sender *s = arg;

    (void) gw;
    if (up)
        scan_kick(s);
}

/* ---- events from the network ------------------------------------------------ */

static long long
event_ts(const json_t *ev)
{
    const json_t *t = json_object_get(ev, "timestamp");

    if (json_is_string(t))
        return strtoll(json_string_value(t), NULL, 10);
    if (json_is_integer(t))
        return json_integer_value(t);
    return (long long) time(NULL);
}

/* Rank of a status (STATUS_RANK in SQL) and the row's key for its time. */
static int
status_rank(const char *status, const char **ts_key)
{
    static const struct { const char *name, *key; } order[] = {
        { "sent", "s" }, { "delivered", "d" }, { "read", "rd" }, { "failed", "f" },
        { "deleted", NULL },
    };

    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (strcmp(status, order[i].name) == 0) {
            *ts_key = order[i].key;
            return (int) i + 1;
        }
    return -1;
}

/* Folds row *one* (one message's events) into the batch: the higher status
 * with its error, the earlier time of each status, every callback. */
static void
status_add(struct evbatch *b, json_t *one)
{
    static const char *const ts_keys[] = { "s", "d", "rd", "f" };
    const char *id = json_string_value(json_object_get(one, "i"));
    json_t     *row = json_object_get(b->ids, id), *c;

    if (row == NULL) {
        json_array_append(b->rows, one);
        json_object_set(b->ids, id, one);
        return;
    }
    if (json_integer_value(json_object_get(one, "r")) >
        json_integer_value(json_object_get(row, "r"))) {
        static const char *const keys[] = { "st", "r", "code", "title", "details" };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (json_object_get(one, keys[i]) != NULL)
                json_object_set(row, keys[i], json_object_get(one, keys[i]));
            else
                json_object_del(row, keys[i]);
    }
    for (size_t i = 0; i < sizeof(ts_keys) / sizeof(ts_keys[0]); i++) {
        json_t *t = json_object_get(one, ts_keys[i]), *had = json_object_get(row, ts_keys[i]);
        if (t != NULL && (had == NULL || json_integer_value(t) < json_integer_value(had)))
            json_object_set(row, ts_keys[i], t);
    }
    c = json_object_get(one, "c");
    if (c != NULL) {
        if (json_object_get(row, "c") == NULL)
            json_object_set_new(row, "c", json_array());
        json_array_extend(json_object_get(row, "c"), c);
    }
}

/* The callback of a status event, or NULL when none is wanted. */
static char *
status_callback(struct messages_sender *s, json_t *event, const char *status)
{
    json_t *copy = NULL;
    char   *item, *cb;

    if (!webhooks_enabled(s->app) || !settings_status_callback_wanted(settings_get(s->app),
                                                                      status))
        return NULL;
    /* the network prices every status; the (deprecated) switch hides it */
    if (settings_get(s->app)->webhook_payload_conversation_pricingmodel_disabled &&
        (json_object_get(event, "conversation") || json_object_get(event, "pricing"))) {
        copy = json_copy(event);
        json_object_del(copy, "conversation");
        json_object_del(copy, "pricing");
    }
    item = jbuf_dumps(copy ? copy : event, NULL);
    cb = xmalloc(strlen(item) + 32);
    sprintf(cb, "{\"statuses\":[%s]}", item);
    free(item);
    json_decref(copy);
    return cb;
}

/* The statuses of one event come one after the other: confirmed once. */
static void
add_eid(struct evbatch *b, const char *eid)
{
    json_t *last = json_array_get(b->eids, json_array_size(b->eids) - 1);

    if (last == NULL || strcmp(json_string_value(last), eid) != 0)
        json_array_append_new(b->eids, json_string(eid));
}

static void
status_event_cb(struct gateway *gw, const char *eid, json_t *event, void *arg)
{
    struct messages_sender *s = arg;
    struct evbatch         *b = &s->open[EVK_STATUS];
    const char             *id = json_string_value(json_object_get(event, "id"));
    const char             *status = json_string_value(json_object_get(event, "status"));
    json_t                 *err = json_array_get(json_object_get(event, "errors"), 0);
    const char             *ts_key = NULL;
    int                     rank = status ? status_rank(status, &ts_key) : -1;
    json_t                 *one;
    char                   *cb;

    (void) gw;
    if (id == NULL || rank < 0) {
        /* nothing to record, but confirmed with the batch: another status of
         * the same event may be in it */
        log_warn(NULL, "status_event_malformed", "eid=%s status=%s", eid, status ? status : "");
        add_eid(b, eid);
        schedule_flush(s);
        return;
    }
    /* once per status: set one by one, without json_pack()'s format parsing
     * and UTF-8 checks (these strings come from a parsed event) */
    one = json_object();
    json_object_set_new_nocheck(one, "i", json_string_nocheck(id));
    json_object_set_new_nocheck(one, "st", json_string_nocheck(status));
    json_object_set_new_nocheck(one, "r", json_integer(rank));
    if (ts_key != NULL)
        json_object_set_new(one, ts_key, json_integer((json_int_t) event_ts(event)));
    if (err != NULL && strcmp(status, "failed") == 0) {
        json_object_set(one, "code", json_object_get(err, "code"));
        json_object_set(one, "title", json_object_get(err, "title"));
        json_object_set(one, "details", json_object_get(err, "details"));
    }
    cb = status_callback(s, event, status);
    if (cb != NULL) {
        json_object_set_new(one, "c", json_pack("[{s:I, s:i, s:s}]", "n",
                                                (json_int_t) b->events, "r", rank, "cb", cb));
        b->callbacks = true;
        free(cb);
    }
    status_add(b, one);
    json_decref(one);
    b->events++;
    add_eid(b, eid);
    schedule_flush(s);
    scan_kick(s);                        /* the gateway may have room again */
}

/* Inbound types this client shows (spec/WEBHOOKS.md §3). */
static const char *const inbound_types[] = {
    "text", "image", "audio", "voice", "video", "document", "sticker", "location", "contacts",
    "button", "interactive", "reaction", "order", "system", NULL
};

/* Shapes inbound message *msg (replaced if needed) for the webhook and says
 * which callback it makes, or -1 for none: a type this client can't show
 * becomes "unknown" with error 501 (§3.9); a system notification (§4) is a
 * "system" callback when its setting wants it. */
static int
inbound_shape(const struct app_settings *set, json_t **msg)
{
    const char *type = json_string_value(json_object_get(*msg, "type")), *sys;
    bool        known = false;

    for (int i = 0; type != NULL && inbound_types[i] != NULL; i++)
        if (strcmp(type, inbound_types[i]) == 0 && json_object_get(*msg, type) != NULL)
            known = true;
    if (!known) {
        static const char *const keep[] = { "from", "id", "timestamp", "context", "group_id",
                                            NULL };
        json_t *u = json_object();

        for (int i = 0; keep[i] != NULL; i++)
            if (json_object_get(*msg, keep[i]) != NULL)
                json_object_set(u, keep[i], json_object_get(*msg, keep[i]));
        json_object_set_new(u, "type", json_string("unknown"));
        json_object_set_new(u, "errors", json_pack("[{s:i, s:s, s:s}]", "code",
                                                   err_api_code(ERR_UNKNOWN_MESSAGE_TYPE),
                                                   "title", "Unknown message type", "details",
                                                   err_title(ERR_UNKNOWN_MESSAGE_TYPE)));
        json_decref(*msg);
        *msg = u;
        return WEBHOOK_INBOUND_MESSAGE;
    }
    if (strcmp(type, "system") != 0)
        return WEBHOOK_INBOUND_MESSAGE;
    sys = json_string_value(json_object_get(json_object_get(*msg, "system"), "type"));
    if (sys != NULL && (strcmp(sys, "user_changed_number") == 0 ||
                        strcmp(sys, "customer_changed_number") == 0))
        return set->notify_user_change_number ? WEBHOOK_SYSTEM : -1;
    if (sys != NULL && (strcmp(sys, "user_identity_changed") == 0 ||
                        strcmp(sys, "customer_identity_changed") == 0))
        return set->show_security_notifications ? WEBHOOK_SYSTEM : -1;
    return WEBHOOK_SYSTEM;
}

static void
inbound_event_cb(struct gateway *gw, const char *eid, json_t *event, void *arg)
{
    struct messages_sender *s = arg;
    struct evbatch         *b = &s->open[EVK_INBOUND];
    const char             *id = json_string_value(json_object_get(event, "id"));
    const char             *from = json_string_value(json_object_get(event, "from"));
    const char             *type = json_string_value(json_object_get(event, "type"));
    json_t                 *msg, *contact, *cb = NULL;
    const json_t           *ident;
    char                   *cbtext = NULL;
    int                     kind;

    if (id == NULL || from == NULL) {
        log_warn(NULL, "inbound_event_malformed", "eid=%s", eid);
        gateway_event_done(gw, eid);
        return;
    }
    stats_add(s->app->stats, "in_message_decoded", NULL, 1);
    json_array_append_new(b->eids, json_string(eid));
    if (json_object_get(b->ids, id) != NULL) {   /* twice in one batch */
        schedule_flush(s);
        return;
    }
    json_object_set_new(b->ids, id, json_true());
    msg = json_deep_copy(event);
    contact = json_object_get(msg, "contact");
    if (contact != NULL)
        json_incref(contact);
    json_object_del(msg, "contact");
    kind = inbound_shape(settings_get(s->app), &msg);
    type = json_string_value(json_object_get(msg, "type"));
    /* from a customer whose new identity the business has not acknowledged
     * (show_security_notifications): the message says so (WEBHOOKS.md §3) */
    ident = kind == WEBHOOK_INBOUND_MESSAGE ? contacts_unacked_identity(s->app->contacts, from)
                                            : NULL;
    if (ident != NULL)
        json_object_set_new(msg, "identity",
                            json_pack("{s:b, s:O, s:O}", "acknowledged", 0, "created_timestamp",
                                      json_object_get(ident, "created_timestamp"), "hash",
                                      json_object_get(ident, "hash")));
    if (webhooks_enabled(s->app) && kind >= 0) {
        /* a system notification speaks of the sender, not as a profile */
        cb = contact && kind != WEBHOOK_SYSTEM
                 ? json_pack("{s:[O], s:[O]}", "contacts", contact, "messages", msg)
                 : json_pack("{s:[O]}", "messages", msg);
        cbtext = json_dumps(cb, JSON_COMPACT);
    }
    json_array_append_new(b->rows,
                          json_pack("{s:I, s:s, s:s, s:s, s:O, s:s?, s:s}",
                                    "n", (json_int_t) json_array_size(b->rows), "id", id,
                                    "peer", from, "type", type ? type : "unknown", "msg", msg,
                                    "cb", cbtext, "kind",
                                    webhook_kind_name(kind >= 0 ? (enum webhook_kind) kind
                                                                : WEBHOOK_INBOUND_MESSAGE)));
    json_decref(cb);
    json_decref(contact);
    json_decref(msg);
    free(cbtext);
    schedule_flush(s);
}

struct evflush {
    struct messages_sender *s;
    enum ev_kind            kind;
    struct evbatch          b;
};

/* After a failed statement: the newer events of *open* go after those of
 * *failed*, which are retried together. */
static void
status_requeue(struct evbatch *failed, struct evbatch *open)
{
    json_int_t offset = (json_int_t) failed->events;
    json_t    *row, *c, *cbs;
    size_t     i, j;

    json_array_foreach(open->rows, i, row) {
        cbs = json_object_get(row, "c");
        json_array_foreach(cbs, j, c)
            json_object_set_new(c, "n", json_integer(json_integer_value(json_object_get(c, "n"))
                                                     + offset));
        status_add(failed, row);
    }
    failed->callbacks |= open->callbacks;
    failed->events += open->events;
}

static void
inbound_requeue(struct evbatch *failed, struct evbatch *open)
{
    json_t *v;
    size_t  i;

    json_array_foreach(open->rows, i, v)
        json_object_set_new(v, "n", json_integer((json_int_t) (json_array_size(failed->rows) + i)));
    json_array_extend(failed->rows, open->rows);
    json_object_update(failed->ids, open->ids);
}

static void
events_done_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct evflush         *f = arg;
    struct messages_sender *s = f->s;
    struct evbatch         *open = &s->open[f->kind];
    struct timeval          tv = { RETRY_MS / 1000, (RETRY_MS % 1000) * 1000 };

    s->in_flight[f->kind] = false;
    if (err == ERR_OK) {
        log_debug(NULL, f->kind == EVK_STATUS ? "statuses_recorded" : "inbound_recorded",
                  "events=%zu changed=%s callbacks=%s", json_array_size(f->b.eids),
                  db_result_get(res, 0, 0), db_result_get(res, 0, 1));
        if (f->kind == EVK_INBOUND && db_result_get(res, 0, 0) != NULL)   /* rows inserted */
            stats_add(s->app->stats, "in_message_persisted", NULL,
                      strtod(db_result_get(res, 0, 0), NULL));
        if (s->app->gw != NULL)
            gateway_events_done(s->app->gw, f->b.eids);
    } else {
        /* keep them (before newer ones) and try again shortly */
        log_warn(NULL, "events_not_recorded", "kind=%s events=%zu reason=\"%s\"",
                 f->kind == EVK_STATUS ? "status" : "inbound", json_array_size(f->b.eids),
                 res ? db_result_error(res) : "connection lost");
        if (f->kind == EVK_STATUS)
            status_requeue(&f->b, open);
        else
            inbound_requeue(&f->b, open);
        json_array_extend(f->b.eids, open->eids);
        evbatch_cleanup(open);
        *open = f->b;
        evbatch_init(&f->b);
        evtimer_add(s->retry_ev, &tv);
    }
    evbatch_cleanup(&f->b);
    free(f);
    if (err == ERR_OK && json_array_size(open->eids) > 0)
        schedule_flush(s);
}

/* Whether a status statement may start now (STATUS_PACE_MS); if not, the
 * pace timer brings flush_cb() back when it may. */
static bool
status_due(struct messages_sender *s)
{
    int64_t        now = clock_mono_us(), waited_us = now - s->status_started_us;
    struct timeval tv;

    if (waited_us >= STATUS_PACE_MS * 1000 ||
        s->open[EVK_STATUS].events >= STATUS_BATCH_FULL) {
        s->status_started_us = now;
        return true;
    }
    if (!evtimer_pending(s->pace_ev, NULL)) {
        tv.tv_sec = 0;
        tv.tv_usec = (suseconds_t) (STATUS_PACE_MS * 1000 - waited_us);
        evtimer_add(s->pace_ev, &tv);
    }
    return false;
}

/* The parameters of STATUS_NOCB_SQL from a batch's rows: the ids as a text[]
 * literal, each one's group as an int[] literal, and the groups as JSON
 * records: a row without its id, numbered in order of first appearance. */
static void
status_groups(const json_t *rows, struct jbuf *ids, struct jbuf *idx, struct jbuf *groups)
{
    json_t     *seen = json_object(), *row;
    struct jbuf key = JBUF_INIT;
    size_t      i, n = 0;

    jbuf_addc(ids, '{');
    jbuf_addc(idx, '{');
    jbuf_addc(groups, '[');
    json_array_foreach(rows, i, row) {
        const char *k, *id;
        json_t     *v, *g;

        jbuf_reset(&key);
        json_object_foreach(row, k, v)
            if (strcmp(k, "i") != 0) {
                jbuf_addc(&key, ',');
                jbuf_str(&key, k, strlen(k));
                jbuf_addc(&key, ':');
                jbuf_json(&key, v);
            }
        jbuf_addc(&key, '\0');             /* an empty row: still a key */
        if ((g = json_object_get(seen, key.p)) == NULL) {
            g = json_integer((json_int_t) n);
            json_object_set_new_nocheck(seen, key.p, g);   /* JSON text: valid UTF-8 */
            jbuf_adds(groups, n > 0 ? ",{\"g\":" : "{\"g\":");
            jbuf_int(groups, (long long) n);
            jbuf_add(groups, key.p, key.len - 1);
            jbuf_addc(groups, '}');
            n++;
        }
        if (i > 0) {
            jbuf_addc(ids, ',');
            jbuf_addc(idx, ',');
        }
        id = json_string_value(json_object_get(row, "i"));
        db_array_elem(ids, id != NULL ? id : "");
        jbuf_int(idx, (long long) json_integer_value(g));
    }
    jbuf_addc(ids, '}');
    jbuf_addc(idx, '}');
    jbuf_addc(groups, ']');
    jbuf_free(&key);
    json_decref(seen);
}

static void
flush_kind(struct messages_sender *s, enum ev_kind kind)
{
    struct evflush *f;
    const char     *p[3];
    char           *text;

    if (s->in_flight[kind] || json_array_size(s->open[kind].eids) == 0)
        return;
    if (kind == EVK_STATUS && !status_due(s))
        return;
    f = xmalloc(sizeof(*f));
    f->s = s;
    f->kind = kind;
    f->b = s->open[kind];
    evbatch_init(&s->open[kind]);
    s->in_flight[kind] = true;
    if (kind == EVK_STATUS && !f->b.callbacks) {
        struct jbuf ids = JBUF_INIT, idx = JBUF_INIT, groups = JBUF_INIT;

        status_groups(f->b.rows, &ids, &idx, &groups);
        p[0] = ids.p;
        p[1] = idx.p;
        p[2] = groups.p;
        db_query_prepared(s->db, "status_nocb", STATUS_NOCB_SQL, 3, p, events_done_cb, f);
        jbuf_free(&ids);
        jbuf_free(&idx);
        jbuf_free(&groups);
        return;
    }
    text = jbuf_dumps(f->b.rows, NULL);
    p[0] = text;
    p[1] = webhook_kind_name(kind == EVK_STATUS ? WEBHOOK_STATUS_CHANGE : WEBHOOK_INBOUND_MESSAGE);
    db_query_prepared(s->db, kind == EVK_STATUS ? "status" : "inbound",
                      kind == EVK_STATUS ? STATUS_SQL : INBOUND_SQL, 2, p, events_done_cb, f);
    free(text);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct messages_sender *s = arg;

    (void) fd;
    (void) what;
    /* inbound first: a reply's status may follow its message in one batch */
    flush_kind(s, EVK_INBOUND);
    flush_kind(s, EVK_STATUS);
    scan_kick(s);                        /* after a failed page, from retry_ev */
}

static void
connected_cb(void *arg)
{
    struct messages_sender *s = arg;

    /* The batch statements are prepared (parsed once) but planned at each
     * execution: a plan cached while the messages table was small would
     * scan all of it for every batch once it is large. */
    db_query(s->db, "SET plan_cache_mode = force_custom_plan", 0, NULL, NULL, NULL);
    if (json_array_size(s->recheck) > 0) {
        messages_sender_recheck(s, s->recheck);
        s->recheck = json_array();
    }
    schedule_flush(s);
}

static void
attach_cb(evutil_socket_t fd, short what, void *arg)
{
    struct messages_sender *s = arg;

    (void) fd;
    (void) what;
    if (s->app->gw == NULL) {
        log_warn(NULL, "messages_no_network", "reason=\"no gateway\"");
        return;
    }
    gateway_on_event(s->app->gw, GATEWAY_EV_STATUS, status_event_cb, s);
    gateway_on_event(s->app->gw, GATEWAY_EV_INBOUND, inbound_event_cb, s);
    gateway_on_link(s->app->gw, link_cb, s);
    scan_kick(s);
}

static void
watermark_done(const struct db_result *res, enum err_code err, void *arg)
{
    struct messages_sender *s = arg;

    (void) res;
    (void) err;        /* a failure changes nothing: the next one starts where this would */
    s->watermark_busy = false;
}

static void
watermark_cb(evutil_socket_t fd, short what, void *arg)
{
    struct messages_sender *s = arg;
    char                    upto[24];
    const char             *p[2] = { WATERMARK_STEP, upto };

    (void) fd;
    (void) what;
    if (s->watermark_busy || s->committed_upto < 0)
        return;
    s->watermark_busy = true;
    snprintf(upto, sizeof(upto), "%lld", (long long) s->committed_upto);
    db_query_prepared(s->db, "watermark", WATERMARK_SQL, 2, p, watermark_done, s);
}

struct messages_sender *
messages_sender_new(struct coreapp *app)
{
    struct timeval          every = { WATERMARK_MS / 1000, (WATERMARK_MS % 1000) * 1000 };
    struct messages_sender *s = xcalloc(1, sizeof(*s));
    char                   *ci = db_conninfo(&app->cfg.db, true);

    s->app = app;
    s->scan_upto = -1;
    s->committed_upto = -1;
    s->queue_max = (size_t) app->cfg.outbox_memory_max;
    s->recheck = json_array();
    for (int k = 0; k < EVK__COUNT; k++)
        evbatch_init(&s->open[k]);
    s->db = db_new(app->base, ci, "messages_sender");
    free(ci);
    db_on_connect(s->db, connected_cb, s);
    s->flush_ev = event_new(app->base, -1, 0, flush_cb, s);
    s->retry_ev = evtimer_new(app->base, flush_cb, s);
    s->pace_ev = evtimer_new(app->base, flush_cb, s);
    s->watermark_ev = event_new(app->base, -1, EV_PERSIST, watermark_cb, s);
    event_add(s->watermark_ev, &every);
    /* on the first loop turn, so that every module's init, the gateway's
     * included, has run whatever the order in main.c */
    s->attach_ev = event_new(app->base, -1, 0, attach_cb, s);
    event_active(s->attach_ev, 0, 0);
    return s;
}

void
messages_sender_free(struct messages_sender *s)
{
    if (s == NULL)
        return;
    db_free(s->db);                    /* in-flight batches fail: not confirmed, redelivered */
    for (int k = 0; k < EVK__COUNT; k++)
        evbatch_cleanup(&s->open[k]);
    json_decref(s->recheck);
    event_free(s->flush_ev);
    event_free(s->retry_ev);
    event_free(s->pace_ev);
    event_free(s->watermark_ev);
    event_free(s->attach_ev);
    free(s);
}
