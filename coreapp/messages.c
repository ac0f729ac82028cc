/* messages.c - the send path (validate, id, group commit, reply) and
 * mark-as-read.
 *
 * Group commit: a send is appended to the open batch; a batch goes to
 * PostgreSQL as one INSERT ... SELECT FROM json_to_recordset($1) when the
 * loop turn that filled it ends (an event_active'd flush) and no other batch
 * is in flight. While one is in flight the next one keeps filling, so under
 * load each commit carries everything that arrived during the previous one.
 * A batch that grows past BATCH_MAX_MSGS is sent at once, behind the one in
 * flight, to bound the statement's size. */
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include "common/clock.h"
#include "common/db.h"
#include "common/jsonbuf.h"
#include "common/log.h"
#include "common/phone.h"
#include "common/xalloc.h"
#include "coreapp/coreapp.h"
#include "coreapp/contacts.h"
#include "coreapp/dispatch.h"
#include "coreapp/gateway.h"
#include "coreapp/message_validate.h"
#include "coreapp/messages.h"
#include "coreapp/messages_sender.h"

#define MSG_ID_LEN      27          /* "gBEG", 8 of time, 15 random (new_id()) */
#define MSG_ID_RANDOM   12          /* random bytes per id: 15 characters used */
#define BATCH_MAX_MSGS  4096

/* Returns the batch's highest seq: once committed, the outbox watermark may
 * pass it (messages_sender_committed_upto()). */
static const char INSERT_SQL[] =
    "WITH ins AS (INSERT INTO messages (id, direction, peer, recipient_type, type, payload, status)"
    " SELECT b.i, 'outbound', b.t, CASE WHEN b.g THEN 'group' ELSE 'individual' END,"
    "        b.y, b.p, 'accepted'"
    " FROM json_to_recordset($1::json) AS b(i text, t text, g boolean, y text, p json)"
    " RETURNING seq)"
    " SELECT max(seq) FROM ins";

/* seq of the newest message committed before this process: the sender
 * re-submits older ones still 'accepted'. First query on the connection, so
 * it runs before any insert of ours (the queue is FIFO). */
static const char BOUNDARY_SQL[] = "SELECT coalesce(max(seq), 0) FROM messages";

/* direction of the message, and its read_receipt after marking (NULL unless
 * inbound). The outer SELECT sees the row as before the UPDATE. */
static const char MARK_READ_SQL[] =
    "WITH u AS (UPDATE messages SET status = 'read', read_at = coalesce(read_at, now()),"
    "                                read_receipt = coalesce(read_receipt, 'pending')"
    "           WHERE id = $1 AND direction = 'inbound' RETURNING read_receipt)"
    " SELECT m.direction, (SELECT read_receipt FROM u) FROM messages m WHERE m.id = $1";

struct outmsg {
    struct outmsg    *next;
    struct core_req  *req;           /* owned until replied */
    json_t           *body;          /* the request's, kept past the reply */
    struct msg_valid  v;
    char              id[MSG_ID_LEN + 1];
};

struct batch {
    struct messages *m;
    struct outmsg   *head, **tail;
    size_t           n;
};

struct messages {
    struct coreapp         *app;
    struct db              *db;
    struct messages_sender *sender;
    struct event           *flush_ev;
    struct batch           *open;         /* filling; NULL when empty */
    int                     in_flight;    /* batches sent, not yet answered */
    bool                    boundary_known;
    bool                    closing;      /* messages_free() running */
    json_t                 *uncertain;    /* ids whose commit we never heard of */
    unsigned char           pool[4080];   /* random bytes for ids */
    size_t                  pool_left;
    char                    cc[4];        /* country code of cc_for */
    char                    cc_for[PHONE_MAX_DIGITS + 1];
    struct messages_counts  counts;
};

/* ---- ids ----------------------------------------------------------------- */

/* "gBEG" + 23 characters from the base64url alphabet, like the ids of the
 * documented client, made of two parts:
 * - 8 characters: the creation time in ms (48 bits), most significant first,
 *   in the alphabet's ASCII order. Ids made later sort later (COLLATE "C"), so
 *   the primary key grows at its right edge (PostgreSQL's rightmost-leaf fast
 *   path) and a status looks up a page still in cache, instead of random
 *   places across the whole index.
 * - 15 characters: 90 bits from the kernel's CSPRNG, so ids stay unguessable
 *   and unique however many are made in one millisecond. */
static void
new_id(struct messages *m, char out[MSG_ID_LEN + 1])
{
    static const char sorted64[] =
        "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
    uint64_t             ms = (uint64_t) clock_wall_ms();
    const unsigned char *r;
    size_t               o = 0;

    if (m->pool_left < MSG_ID_RANDOM) {
        size_t got = 0;
        while (got < sizeof(m->pool)) {
            ssize_t n = getrandom(m->pool + got, sizeof(m->pool) - got, 0);
            if (n < 0 && errno != EINTR)
                abort();                   /* no randomness: ids would be guessable */
            if (n > 0)
                got += (size_t) n;
        }
        m->pool_left = sizeof(m->pool);
    }
    r = m->pool + sizeof(m->pool) - m->pool_left;
    m->pool_left -= MSG_ID_RANDOM;
    memcpy(out, "gBEG", 4);
    o = 4;
    for (int shift = 42; shift >= 0; shift -= 6)
        out[o++] = sorted64[ms >> shift & 63];
    for (size_t i = 0; i < MSG_ID_RANDOM; i += 3) {          /* 3 bytes: 4 characters */
        unsigned v = (unsigned) r[i] << 16 | (unsigned) r[i + 1] << 8 | r[i + 2];
        out[o++] = sorted64[v >> 18 & 63];
        out[o++] = sorted64[v >> 12 & 63];
        out[o++] = sorted64[v >> 6 & 63];
        if (o < MSG_ID_LEN)
            out[o++] = sorted64[v & 63];
    }
    out[o] = '\0';
}

/* ---- group commit --------------------------------------------------------- */

static void flush(struct messages *m);

static void
batch_free(struct batch *b)
{
    while (b->head != NULL) {
        struct outmsg *o = b->head;
        b->head = o->next;
        json_decref(o->body);
        free(o);
    }
    free(b);
}

/* {"messages":[{"id":id}]}, once per message: without json_pack()'s format
 * parsing and UTF-8 check of an id we made. */
static json_t *
sent_reply(const char *id)
{
    json_t *msg = json_object(), *msgs = json_array(), *payload = json_object();

    json_object_set_new_nocheck(msg, "id", json_string_nocheck(id));
    json_array_append_new(msgs, msg);
    json_object_set_new_nocheck(payload, "messages", msgs);
    return payload;
}

/* The batch's commit is done (or failed): answer every request in it, then
 * hand the stored messages to the network. The replies go out in one run:
 * the webapp's socket takes them in one wake-up of ZeroMQ's I/O thread, and
 * none waits behind the encoding of the network's send frames. */
static void
inserted_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct batch    *b = arg;
    struct messages *m = b->m;

    m->in_flight--;
    if (err == ERR_OK) {
        const char *upto = db_result_get(res, 0, 0);

        m->counts.batches++;
        log_debug(NULL, "messages_committed", "count=%zu", b->n);
        if (upto != NULL)
            messages_sender_committed_upto(m->sender, strtoll(upto, NULL, 10));
    } else {
        log_warn(NULL, "messages_insert_failed", "count=%zu reason=\"%s\"", b->n,
                 res ? db_result_error(res) : "connection lost");
    }
    for (struct outmsg *o = b->head; o != NULL; o = o->next) {
        if (err == ERR_OK) {
            m->counts.accepted++;
            o->body = json_incref(o->req->w.body);
            core_reply(o->req, 201, sent_reply(o->id));
        } else {
            m->counts.db_failed++;
            /* connection lost mid-commit: it may have committed after all */
            if (res == NULL)
                json_array_append_new(m->uncertain, json_string(o->id));
            core_reply_error(o->req, ERR_DATABASE, "the message could not be stored; "
                             "it was not accepted");
        }
        o->req = NULL;
    }
    for (struct outmsg *o = b->head; o != NULL && err == ERR_OK; o = o->next)
        messages_sender_submit(m->sender, o->id, o->v.to, o->body);
    batch_free(b);
    if (m->open != NULL && m->in_flight == 0 && !m->closing)
        flush(m);
}

/* Sends the open batch as one statement. Requests whose deadline passed
 * while they waited are dropped: the webapp already answered them 503. */
static void
flush(struct messages *m)
{
    struct batch   *b = m->open;
    struct outmsg **pp;
    struct jbuf     text = JBUF_INIT;
    int64_t         now = clock_wall_ms();
    const char     *param;

    if (b == NULL)
        return;
    m->open = NULL;
    jbuf_addc(&text, '[');
    for (pp = &b->head; *pp != NULL;) {
        struct outmsg *o = *pp;

        if (o->req->w.deadline_ms != 0 && o->req->w.deadline_ms < now) {
            *pp = o->next;
            b->n--;
            core_reply_error(o->req, ERR_SERVICE_NOT_READY, "timed out before it was stored");
            free(o);
            continue;
        }
        jbuf_adds(&text, text.len > 1 ? ",{\"i\":" : "{\"i\":");
        jbuf_str(&text, o->id, strlen(o->id));
        jbuf_adds(&text, ",\"t\":");
        jbuf_str(&text, o->v.to, strlen(o->v.to));
        jbuf_adds(&text, o->v.group ? ",\"g\":true,\"y\":" : ",\"g\":false,\"y\":");
        jbuf_str(&text, msg_type_name(o->v.type), strlen(msg_type_name(o->v.type)));
        jbuf_adds(&text, ",\"p\":");
        jbuf_json(&text, o->req->w.body);
        jbuf_addc(&text, '}');
        pp = &o->next;
    }
    b->tail = pp;
    jbuf_addc(&text, ']');
    if (b->n == 0) {
        batch_free(b);
    } else {
        m->in_flight++;
        param = text.p;
        db_query_prepared(m->db, "insert", INSERT_SQL, 1, &param, inserted_cb, b);
    }
    jbuf_free(&text);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct messages *m = arg;

    (void) fd;
    (void) what;
    if (m->in_flight == 0)
        flush(m);
}

static void
enqueue(struct messages *m, struct outmsg *o)
{
    struct batch *b = m->open;

    if (b == NULL) {
        b = m->open = xcalloc(1, sizeof(*b));
        b->m = m;
        b->tail = &b->head;
    }
    *b->tail = o;
    b->tail = &o->next;
    if (++b->n >= BATCH_MAX_MSGS)
        flush(m);
    else if (m->in_flight == 0)
        event_active(m->flush_ev, 0, 0);       /* after this loop turn's requests */
}

/* ---- POST /v1/messages ------------------------------------------------------ */

/* Our wa_id and country code, or false while the number is not registered. */
static bool
business(struct messages *m, struct msg_ctx *ctx)
{
    const char *wa_id = m->app->gw ? gateway_wa_id(m->app->gw) : NULL;
    int         n;

    if (wa_id == NULL || wa_id[0] == '\0')
        return false;
    if (strcmp(m->cc_for, wa_id) != 0) {
        n = phone_cc_len(wa_id);
        snprintf(m->cc, sizeof(m->cc), "%.*s", n, wa_id);
        snprintf(m->cc_for, sizeof(m->cc_for), "%s", wa_id);
    }
    ctx->self_wa_id = wa_id;
    ctx->default_cc = m->cc[0] ? m->cc : NULL;
    return true;
}

static void
send_handle(struct core_req *req, void *arg)
{
    struct messages *m = arg;
    struct msg_ctx   ctx = { NULL, NULL, NULL, NULL };
    struct outmsg   *o;
    char             details[512];
    enum err_code    rc;

    if (!business(m, &ctx)) {
        core_reply_error(req, ERR_SERVICE_NOT_READY,
                         "no phone number is registered yet (POST /v1/account)");
        return;
    }
    o = xcalloc(1, sizeof(*o));
    rc = msg_validate(req->w.body, &ctx, &o->v, details, sizeof(details));
    if (rc != ERR_OK) {
        m->counts.refused++;
        free(o);
        core_reply_error(req, rc, "%s", details);
        return;
    }
    if (!o->v.group && contacts_unacked_identity(m->app->contacts, o->v.to) != NULL) {
        m->counts.refused++;
        core_reply_error(req, ERR_IDENTITY_ACK_REQUIRED, "the identity of %s changed; "
                         "acknowledge it with PUT /v1/contacts/%s/identity first", o->v.to,
                         o->v.to);
        free(o);
        return;
    }
    /* stored and sent with its type spelled out, even when it defaulted */
    if (!json_is_string(json_object_get(req->w.body, "type")))
        json_object_set_new(req->w.body, "type", json_string(msg_type_name(o->v.type)));
    o->req = req;
    new_id(m, o->id);
    enqueue(m, o);
}

/* ---- PUT /v1/messages/{id} -------------------------------------------------- */

struct mark_read {
    struct messages *m;
    struct core_req *req;
};

static void
marked_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct mark_read *mr = arg;
    const char       *id = core_param(mr->req, "message_id");
    const char       *dir, *receipt;

    if (err != ERR_OK) {
        core_reply_error(mr->req, ERR_DATABASE, "the message could not be updated");
    } else if (db_result_rows(res) == 0) {
        core_reply_error(mr->req, ERR_NOT_FOUND, "message_id: no message %s", id);
    } else if (strcmp((dir = db_result_get(res, 0, 0)), "inbound") != 0) {
        core_reply_error(mr->req, ERR_PARAM_INVALID, "message_id: %s is an outbound message; "
                         "only received messages can be marked as read", id);
    } else {
        receipt = db_result_get(res, 0, 1);
        if (receipt != NULL && strcmp(receipt, "pending") == 0)
            messages_sender_mark_read(mr->m->sender, id);
        core_reply(mr->req, 200, NULL);
    }
    free(mr);
}

static void
mark_read_handle(struct core_req *req, void *arg)
{
    struct messages  *m = arg;
    const char       *id = core_param(req, "message_id");
    json_t           *status = json_object_get(req->w.body, "status");
    struct mark_read *mr;

    if (status == NULL || json_is_null(status)) {
        core_reply_error(req, ERR_PARAM_MISSING, "status: required (\"read\")");
        return;
    }
    if (!json_is_string(status) || strcmp(json_string_value(status), "read") != 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "status: only \"read\" can be set");
        return;
    }
    if (id == NULL || id[0] == '\0') {
        core_reply_error(req, ERR_PARAM_MISSING, "message_id: required");
        return;
    }
    mr = xmalloc(sizeof(*mr));
    mr->m = m;
    mr->req = req;
    db_query(m->db, MARK_READ_SQL, 1, &id, marked_cb, mr);
}

/* ---- connection ------------------------------------------------------------ */

static void
boundary_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct messages *m = arg;
    const char      *v;

    if (err != ERR_OK || m->boundary_known || (v = db_result_get(res, 0, 0)) == NULL)
        return;                          /* asked again at the next connect */
    m->boundary_known = true;
    messages_sender_set_resubmit(m->sender, strtoll(v, NULL, 10));
}

static void
connected_cb(void *arg)
{
    struct messages *m = arg;

    if (!m->boundary_known)
        db_query(m->db, BOUNDARY_SQL, 0, NULL, boundary_cb, m);
    if (json_array_size(m->uncertain) > 0) {
        messages_sender_recheck(m->sender, m->uncertain);
        m->uncertain = json_array();
    }
}

void
messages_init(struct coreapp *app)
{
    struct messages *m = xcalloc(1, sizeof(*m));
    char            *ci = db_conninfo(&app->cfg.db, true);

    m->app = app;
    m->uncertain = json_array();
    m->db = db_new(app->base, ci, "messages");
    free(ci);
    db_on_connect(m->db, connected_cb, m);
    m->flush_ev = event_new(app->base, -1, 0, flush_cb, m);
    m->sender = messages_sender_new(app);
    dispatch_register(app->dispatch, WIRE_MESSAGE_SEND, send_handle, m);
    dispatch_register(app->dispatch, WIRE_MESSAGE_MARK_READ, mark_read_handle, m);
    app->messages = m;
}

void
messages_free(struct messages *m)
{
    if (m == NULL)
        return;
    m->closing = true;
    db_free(m->db);                     /* answers the batches in flight: 1023 */
    if (m->open != NULL) {
        for (struct outmsg *o = m->open->head; o != NULL; o = o->next)
            core_reply_error(o->req, ERR_SERVICE_NOT_READY, "the coreapp is shutting down");
        batch_free(m->open);
    }
    messages_sender_free(m->sender);
    event_free(m->flush_ev);
    json_decref(m->uncertain);
    free(m);
}

void
messages_counts(const struct messages *m, struct messages_counts *out)
{
    memset(out, 0, sizeof(*out));
    if (m != NULL)
        *out = m->counts;
}
