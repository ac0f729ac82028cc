/* network.c - the sandbox's rules (see network.h and spec/SANDBOX.md). */
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "common/clock.h"
#include "common/errors.h"
#include "common/jsonbuf.h"
#include "common/log.h"
#include "common/netproto.h"
#include "common/phone.h"
#include "common/xalloc.h"
#include "sandbox/link.h"
#include "sandbox/network.h"
#include "sandbox/sandbox.h"
#include "sandbox/store.h"

#define WINDOW_MS (24LL * 3600 * 1000)
/* Messages of each direction the network remembers (setting keep_messages):
 * about 4 KB each in memory (the message and its last journal line), so some
 * 200 MB at most by default. */
#define KEEP_MESSAGES_DEFAULT 50000

/* Collections of the store:
 *   meta       secret, settings, stats, counters, created
 *   codes      <wa_id> -> the last registration code sent to that number
 *   accounts   <wa_id> -> a registered business: key, vname, pin
 *   customers  <wa_id> -> name, on_whatsapp, identity, window (business -> ms)
 *   templates  <namespace>|<name>|<language> -> the template
 *   messages   <id> -> a message from a business to a customer, with status,
 *              "conv" (its conversation: id, origin, opens), "at" (when
 *              it became sent/delivered/read, ms; GET /customers/{wa_id}/receipts)
 *              and "first_eid" (its first status event); the newest
 *              keep_messages only, like inbound (forget_oldest())
 *   conversations <business>|<customer> -> the open conversation: id, origin,
 *              expires_ms (spec/WEBHOOKS.md §5; priced per conversation, CBP)
 *   media      <id> -> media a customer sent: mime_type, sha256, data (base64)
 *   inbound    <id> -> a message from a customer to a business
 *   pending    <id> -> {"due": ms}: accepted messages not yet delivered
 *   outbox     <eid> -> {"to": business, "frame": event}: events not yet
 *              confirmed by the business (netproto.h event_ack) */

/* The statuses a message just went through, as JSON text (priced_text()). */
struct statuses {
    struct jbuf text;            /* status objects, comma-separated */
    int         count;
};

/* The statuses told to one business during a turn: one event at its end. */
struct told {
    char           *business;
    char            eid[24];     /* reserved when the first status came */
    struct statuses st;
};

struct network {
    struct sandbox *sb;
    struct store   *st;
    struct event   *tick;
    struct event   *commit;       /* ends the turn that turn_begin() opened */
    bool            in_turn;
    struct told    *told;         /* this turn's, one per business (tell()) */
    size_t          ntold, told_cap;
    unsigned char   secret[32];
};

static void emit_told(struct network *n);

/* ---- turns ---------------------------------------------------------------------- */

/* The frames from businesses and the deliveries of one loop turn are handled
 * as one batch: their store changes are journalled together (one write(2),
 * each changed key once) and only then do the frames they caused leave, so
 * nothing a business hears of is lost by a crash. The control API is not
 * batched: it journals each change at once. */
static void
turn_begin(struct network *n)
{
    if (n->in_turn)
        return;
    n->in_turn = true;
    store_hold(n->st);
    link_hold(n->sb->link);
    event_active(n->commit, 0, 0);          /* after this turn's callbacks */
}

static void
commit_cb(evutil_socket_t fd, short what, void *arg)
{
    struct network *n = arg;

    (void) fd;
    (void) what;
    if (!n->in_turn)
        return;
    emit_told(n);
    n->in_turn = false;
    store_release(n->st);
    link_release(n->sb->link);
}

/* ---- small helpers ---------------------------------------------------------- */

static json_t *
err_body(const char *fmt, ...)
{
    char    msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_pack("{s:{s:s}}", "error", "message", msg);
}

static int
fail(json_t **out, int status, const char *fmt, const char *arg)
{
    *out = err_body(fmt, arg ? arg : "");
    return status;
}

static bool
is_digits(const char *s, size_t lo, size_t hi)
{
    size_t n = s ? strlen(s) : 0;

    return s && n >= lo && n <= hi && strspn(s, "0123456789") == n;
}

static const char *
str_field(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

static char *
b64(const void *data, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);

    EVP_EncodeBlock((unsigned char *) out, data, (int) n);
    return out;
}

static json_t *
meta(struct network *n, const char *key)
{
    return store_get(n->st, "meta", key);
}

static json_int_t
setting_int(struct network *n, const char *key)
{
    return json_integer_value(json_object_get(meta(n, "settings"), key));
}

static void
stat_add(struct network *n, const char *key, json_int_t by)
{
    json_t *stats = meta(n, "stats");
    json_t *msgs = json_object_get(stats, "messages");
    json_t *o = json_object_get(msgs, key) ? msgs : stats;

    json_object_set_new(o, key, json_integer(json_integer_value(json_object_get(o, key)) + by));
    store_save(n->st, "meta", "stats");
}

static json_int_t
next_counter(struct network *n, const char *key)
{
    json_t    *c = meta(n, "counters");
    json_int_t v = json_integer_value(json_object_get(c, key)) + 1;

    json_object_set_new(c, key, json_integer(v));
    store_save(n->st, "meta", "counters");
    return v;
}

static char *
timestamp_s(void)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", (long long) (clock_wall_ms() / 1000));
    return xstrdup(buf);
}

/* A message id in the style of the API's ("gBGG..."): unique per network. */
static void
new_message_id(struct network *n, char *out, size_t size)
{
    unsigned char r[6];

    RAND_bytes(r, sizeof(r));
    snprintf(out, size, "ABGG%08llX%02X%02X%02X%02X%02X%02X",
             (unsigned long long) next_counter(n, "message"), r[0], r[1], r[2], r[3], r[4], r[5]);
}

/* ---- events owed to businesses ---------------------------------------------- */

/* Queues event eid, of type t, for business wa_id, with the JSON members
 * (text without braces, may be empty) beside "eid", and sends it now if the
 * business is online. Kept until the business confirms it, as the encoded
 * frame (a string: encoded once, for the link and the journal alike). */
static void
emit_as(struct network *n, const char *eid, const char *business, const char *t,
        const char *members, size_t len)
{
    struct jbuf f = JBUF_INIT;
    json_t     *kept;

    netproto_begin(&f, t);
    jbuf_adds(&f, ",\"eid\":");
    jbuf_str(&f, eid, strlen(eid));
    if (len > 0) {
        jbuf_addc(&f, ',');
        jbuf_add(&f, members, len);
    }
    jbuf_addc(&f, '}');
    link_send_raw_to(n->sb->link, business, f.p, f.len);
    /* not json_pack's "s%": it checks the frame's UTF-8 again, byte by byte,
     * and every piece of it already came out of a checked string */
    kept = json_object();
    json_object_set_new_nocheck(kept, "to", json_string(business));
    json_object_set_new_nocheck(kept, "frame", json_stringn_nocheck(f.p, f.len));
    store_put(n->st, "outbox", eid, kept);
    jbuf_free(&f);
}

static void
new_eid(struct network *n, char *out, size_t size)
{
    snprintf(out, size, "%lld", (long long) next_counter(n, "event"));
}

/* emit_as() with the fields of the object payload (taken). */
static void
emit_obj_as(struct network *n, const char *eid, const char *business, const char *t,
            json_t *payload)
{
    struct jbuf text = JBUF_INIT;

    if (!json_is_object(payload)) {          /* json_pack failed: no fields */
        json_decref(payload);
        emit_as(n, eid, business, t, "", 0);
        return;
    }
    jbuf_json(&text, payload);               /* "{...}": the members are inside */
    json_decref(payload);
    emit_as(n, eid, business, t, text.p + 1, text.len - 2);
    jbuf_free(&text);
}

/* emit_obj_as() under the next eid. */
static void
emit(struct network *n, const char *business, const char *t, json_t *payload)
{
    char eid[24];

    new_eid(n, eid, sizeof(eid));
    emit_obj_as(n, eid, business, t, payload);
}

static void
flush_outbox(struct network *n, struct link_session *s, const char *business)
{
    const char *eid;
    json_t     *e, *f;
    int         rc;

    json_object_foreach(store_coll(n->st, "outbox"), eid, e) {
        if (strcmp(str_field(e, "to"), business) != 0)
            continue;
        f = json_object_get(e, "frame");
        /* an object in a journal written before frames were kept encoded */
        rc = json_is_string(f) ? link_send_raw(n->sb->link, s, json_string_value(f),
                                               json_string_length(f))
                               : link_send(n->sb->link, s, f);
        if (rc != 0)
            break;
    }
}

static json_t *
status_obj(const char *id, const char *status, const char *to, enum err_code err,
           const char *details)
{
    char   *ts = timestamp_s();
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "status", status,
                          "recipient_id", to, "timestamp", ts);

    free(ts);
    if (err != ERR_OK) {
        json_t *e = json_pack("{s:i, s:s}", "code", err_api_code(err), "title", err_title(err));

        if (details)
            json_object_set_new(e, "details", json_string(details));
        json_object_set_new(o, "errors", json_pack("[o]", e));
    }
    return o;
}

/* ---- certificates, codes, accounts ------------------------------------------ */

static void
sign(struct network *n, json_t *fields, char *out_hex)
{
    char          *canon = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char  mac[32];
    unsigned int   len = sizeof(mac);

    HMAC(EVP_sha256(), n->secret, sizeof(n->secret), (unsigned char *) canon, strlen(canon),
         mac, &len);
    hex(mac, 32, out_hex);
    free(canon);
}

/* The certificate's fields if cert is one we issued, else NULL (new ref). */
static json_t *
cert_check(struct network *n, const char *cert)
{
    size_t         len = strlen(cert);
    unsigned char *raw = xmalloc(len + 1);
    int            rawlen = EVP_DecodeBlock(raw, (const unsigned char *) cert, (int) len);
    json_t        *j = NULL;
    char           want[65], *got = NULL;

    if (rawlen > 0) {
        while (rawlen > 0 && raw[rawlen - 1] == '\0')    /* DecodeBlock keeps padding */
            rawlen--;
        j = json_loadb((char *) raw, (size_t) rawlen, 0, NULL);
    }
    free(raw);
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "sig")))
        goto bad;
    got = xstrdup(str_field(j, "sig"));
    json_object_del(j, "sig");
    sign(n, j, want);
    if (strcmp(want, got) != 0)
        goto bad;
    free(got);
    return j;
bad:
    free(got);
    json_decref(j);
    return NULL;
}

int
network_ctl_cert(struct network *n, const char *param, json_t *body, json_t **out)
{
    const char *cc = str_field(body, "cc"), *pn = str_field(body, "phone_number");
    const char *vname = str_field(body, "vname");
    char        wa_id[40], sig[65], serial[32], *dump, *cert;
    json_t     *fields;

    (void) param;
    if (!is_digits(cc, 1, 3) || !is_digits(pn, 1, 14))
        return fail(out, 400, "cc (1-3 digits) and phone_number (digits) are required%s", NULL);
    if (vname == NULL || vname[0] == '\0')
        return fail(out, 400, "vname is required%s", NULL);
    snprintf(wa_id, sizeof(wa_id), "%s%s", cc, pn);
    if (!phone_is_valid_e164(wa_id))
        return fail(out, 400, "+%s is not a valid phone number", wa_id);
    snprintf(serial, sizeof(serial), "%lld", (long long) next_counter(n, "cert"));
    fields = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I}", "v", 1, "cc", cc, "phone_number", pn,
                       "vname", vname, "serial", serial,
                       "issued", (json_int_t) (clock_wall_ms() / 1000));
    sign(n, fields, sig);
    json_object_set_new(fields, "sig", json_string(sig));
    dump = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
    cert = b64(dump, strlen(dump));
    *out = json_pack("{s:s}", "cert", cert);
    free(dump);
    free(cert);
    json_decref(fields);
    return 201;
}

static bool
pin_ok(const char *pin)
{
    return is_digits(pin, 6, 6);
}

/* register: checks the certificate and pin, "sends" a code. */
static const char *
do_register(struct network *n, struct link_session *s, json_t *f, json_t *res)
{
    const char *cc = str_field(f, "cc"), *pn = str_field(f, "phone_number");
    const char *method = str_field(f, "method"), *cert = str_field(f, "cert");
    const char *pin = str_field(f, "pin");
    json_t     *c, *acct;
    const char *apin;
    char        wa_id[40], code[8];
    unsigned    r;

    if (!is_digits(cc, 1, 3) || !is_digits(pn, 1, 14) || cert == NULL || method == NULL ||
        (strcasecmp(method, "sms") != 0 && strcasecmp(method, "voice") != 0))
        return "bad_request";
    snprintf(wa_id, sizeof(wa_id), "%s%s", cc, pn);
    if ((c = cert_check(n, cert)) == NULL)
        return "bad_cert";
    if (strcmp(str_field(c, "cc"), cc) != 0 || strcmp(str_field(c, "phone_number"), pn) != 0) {
        json_decref(c);
        return "cert_mismatch";
    }
    acct = store_get(n->st, "accounts", wa_id);
    apin = str_field(acct, "pin");
    if (apin != NULL && pin == NULL) {
        json_decref(c);
        return "pin_required";
    }
    if (apin != NULL && strcmp(apin, pin) != 0) {
        json_decref(c);
        return "pin_wrong";
    }
    RAND_bytes((unsigned char *) &r, sizeof(r));
    snprintf(code, sizeof(code), "%06u", r % 1000000);
    store_put(n->st, "codes", wa_id,
              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "code", code,
                        "method", strcasecmp(method, "voice") == 0 ? "voice" : "sms",
                        "cc", cc, "phone_number", pn, "vname", str_field(c, "vname"),
                        "key", link_session_key(s),
                        "expires_ms", (json_int_t) (clock_wall_ms() + 1000 * setting_int(n, "code_ttl_s")),
                        "used", 0));
    log_info(NULL, "code_sent", "wa_id=%s method=%s", wa_id, method);
    json_object_set_new(res, "vname", json_string(str_field(c, "vname")));
    json_decref(c);
    return NULL;
}

static const char *
do_verify(struct network *n, struct link_session *s, json_t *f, json_t *res)
{
    const char *cc = str_field(f, "cc"), *pn = str_field(f, "phone_number");
    const char *code = str_field(f, "code");
    json_t     *rec, *old, *acct;
    char        wa_id[40];

    if (!is_digits(cc, 1, 3) || !is_digits(pn, 1, 14) || code == NULL)
        return "bad_request";
    snprintf(wa_id, sizeof(wa_id), "%s%s", cc, pn);
    rec = store_get(n->st, "codes", wa_id);
    if (rec == NULL || json_is_true(json_object_get(rec, "used")))
        return "no_code";
    if (json_integer_value(json_object_get(rec, "expires_ms")) < clock_wall_ms())
        return "code_expired";
    if (strcmp(str_field(rec, "code"), code) != 0 ||
        strcmp(str_field(rec, "key"), link_session_key(s)) != 0)
        return "bad_code";
    old = store_get(n->st, "accounts", wa_id);
    acct = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "wa_id", wa_id, "cc", cc,
                     "phone_number", pn, "vname", str_field(rec, "vname"),
                     "key", link_session_key(s),
                     "registered_ms", (json_int_t) clock_wall_ms());
    if (str_field(old, "pin"))
        json_object_set_new(acct, "pin", json_string(str_field(old, "pin")));
    json_object_set_new(rec, "used", json_true());
    store_save(n->st, "codes", wa_id);
    json_object_set_new(res, "wa_id", json_string(wa_id));
    json_object_set_new(res, "vname", json_string(str_field(rec, "vname")));
    store_put(n->st, "accounts", wa_id, acct);
    log_info(NULL, "registered", "wa_id=%s", wa_id);
    return NULL;
}

static const char *
do_hello(struct network *n, struct link_session *s, json_t *f, json_t *res)
{
    const char *wa_id = str_field(f, "wa_id");
    json_t     *acct = wa_id ? store_get(n->st, "accounts", wa_id) : NULL;

    if (acct == NULL)
        return "not_registered";
    if (strcmp(str_field(acct, "key"), link_session_key(s)) != 0)
        return "key_mismatch";
    link_session_set_wa_id(n->sb->link, s, wa_id);
    json_object_set_new(res, "wa_id", json_string(wa_id));
    json_object_set_new(res, "time", json_integer(clock_wall_ms() / 1000));
    log_info(NULL, "business_connected", "wa_id=%s", wa_id);
    return NULL;
}

static const char *
do_two_step(struct network *n, struct link_session *s, json_t *f, json_t *res)
{
    const char *wa_id = link_session_wa_id(s);
    json_t     *acct = store_get(n->st, "accounts", wa_id);
    json_t     *pin = json_object_get(f, "pin");

    (void) res;
    if (acct == NULL)
        return "not_registered";
    if (json_is_null(pin) || pin == NULL) {
        json_object_del(acct, "pin");
    } else {
        if (!pin_ok(json_string_value(pin)))
            return "bad_request";
        json_object_set_new(acct, "pin", json_string(json_string_value(pin)));
    }
    store_save(n->st, "accounts", wa_id);
    return NULL;
}

/* ---- customers, lookups, identities ----------------------------------------- */

static bool
on_whatsapp(struct network *n, const char *wa_id)
{
    json_t *c = store_get(n->st, "customers", wa_id);

    if (!phone_is_valid_e164(wa_id))
        return false;
    return c == NULL || !json_is_false(json_object_get(c, "on_whatsapp"));
}

static const char *
do_lookup(struct network *n, struct link_session *s, json_t *f, json_t *res)
{
    json_t *nums = json_object_get(f, "numbers"), *v, *out;
    size_t  i;

    (void) s;
    if (!json_is_array(nums))
        return "bad_request";
    if (json_array_size(nums) > NETPROTO_LOOKUP_MAX)
        return "too_many";
    out = json_array();
    json_array_foreach(nums, i, v) {
        const char *num = json_string_value(v);
        json_t     *o;

        if (num == NULL)
            continue;
        o = json_pack("{s:s, s:b}", "number", num, "on_whatsapp", on_whatsapp(n, num));
        if (on_whatsapp(n, num))
            json_object_set_new(o, "wa_id", json_string(num));
        json_array_append_new(out, o);
    }
    stat_add(n, "lookups", (json_int_t) json_array_size(out));
    json_object_set_new(res, "contacts", out);
    return NULL;
}

/* The customer's identity: the one set by the last change, else one derived
 * from the number, stable for the life of the sandbox's state. */
static json_t *
identity_of(struct network *n, const char *wa_id)
{
    json_t        *c = store_get(n->st, "customers", wa_id), *id = json_object_get(c, "identity");
    unsigned char  mac[32];
    unsigned int   len = sizeof(mac);
    char           msg[64], *hash;
    json_t        *o;

    if (id != NULL)
        return json_pack("{s:s, s:O, s:O}", "wa_id", wa_id, "hash", json_object_get(id, "hash"),
                         "created_timestamp", json_object_get(id, "created_timestamp"));
    snprintf(msg, sizeof(msg), "identity:%s", wa_id);
    HMAC(EVP_sha256(), n->secret, sizeof(n->secret), (unsigned char *) msg, strlen(msg),
         mac, &len);
    hash = b64(mac, 8);
    o = json_pack("{s:s, s:s, s:O}", "wa_id", wa_id, "hash", hash, "created_timestamp",
                  json_object_get(meta(n, "created"), "ms"));
    free(hash);
    return o;
}

static const char *
do_identity(struct network *n, struct link_session *s, json_t *f, json_t *res)
{
    const char *wa_id = str_field(f, "wa_id");
    json_t     *id;

    (void) s;
    if (wa_id == NULL || !on_whatsapp(n, wa_id))
        return "not_found";
    id = identity_of(n, wa_id);
    json_object_update(res, id);
    json_decref(id);
    return NULL;
}

/* The customer record, created (on WhatsApp, no name) if missing; borrowed. */
static json_t *
customer(struct network *n, const char *wa_id)
{
    json_t *c = store_get(n->st, "customers", wa_id);

    if (c == NULL) {
        store_put(n->st, "customers", wa_id,
                  json_pack("{s:s, s:s, s:b, s:{}}", "wa_id", wa_id, "name", "",
                            "on_whatsapp", 1, "window"));
        c = store_get(n->st, "customers", wa_id);
    }
    return c;
}

int
network_ctl_customer_put(struct network *n, const char *param, json_t *body, json_t **out)
{
    const char *wa_id = str_field(body, "wa_id"), *name = str_field(body, "name");
    json_t     *ow = json_object_get(body, "on_whatsapp"), *c;

    (void) param;
    if (wa_id == NULL || !phone_is_valid_e164(wa_id))
        return fail(out, 400, "wa_id must be a valid international number (digits): %s",
                    wa_id);
    if (ow != NULL && !json_is_boolean(ow))
        return fail(out, 400, "on_whatsapp must be a boolean%s", NULL);
    if (json_object_get(body, "name") && name == NULL)
        return fail(out, 400, "name must be a string%s", NULL);
    c = customer(n, wa_id);
    if (name)
        json_object_set_new(c, "name", json_string(name));
    if (ow)
        json_object_set(c, "on_whatsapp", ow);
    store_save(n->st, "customers", wa_id);
    *out = json_deep_copy(c);
    return 201;
}

int
network_ctl_customer_get(struct network *n, const char *param, json_t *body, json_t **out)
{
    json_t *c = store_get(n->st, "customers", param);

    (void) body;
    if (c == NULL)
        return fail(out, 404, "no customer %s", param);
    *out = json_deep_copy(c);
    json_object_set_new(*out, "identity", identity_of(n, param));
    return 200;
}

/* Gives the customer a new identity (a reinstall, a new phone) and tells
 * every registered business. */
int
network_ctl_identity_change(struct network *n, const char *param, json_t *body, json_t **out)
{
    unsigned char r[8];
    char         *hash;
    json_t       *c, *id;
    const char   *biz;
    json_t       *acct;

    (void) body;
    if (!phone_is_valid_e164(param))
        return fail(out, 400, "%s is not a valid number", param);
    c = customer(n, param);
    RAND_bytes(r, sizeof(r));
    hash = b64(r, sizeof(r));
    json_object_set_new(c, "identity", json_pack("{s:s, s:I}", "hash", hash, "created_timestamp",
                                                 (json_int_t) clock_wall_ms()));
    free(hash);
    store_save(n->st, "customers", param);
    id = identity_of(n, param);
    json_object_foreach(store_coll(n->st, "accounts"), biz, acct)
        emit(n, biz, "identity_changed", json_pack("{s:O}", "identity", id));
    *out = id;
    return 200;
}

/* ---- messages ----------------------------------------------------------------- */

static const char *const msg_types[] = {
    "text", "image", "audio", "video", "document", "sticker", "location", "contacts",
    "interactive", "template", "hsm", "reaction", "button", "voice", "order", "system", NULL,
};

static bool
known_type(const char *t)
{
    for (int i = 0; t && msg_types[i]; i++)
        if (strcmp(msg_types[i], t) == 0)
            return true;
    return false;
}

/* Highest {{n}} in text (the number of parameters it takes). */
static int
placeholders(const char *text)
{
    int max = 0, v;

    for (const char *p = text ? strstr(text, "{{") : NULL; p; p = strstr(p + 2, "{{"))
        if (sscanf(p, "{{%d}}", &v) == 1 && v > max)
            max = v;
    return max;
}

static const char *
param_text(json_t *p)
{
    const char *t = str_field(p, "type");

    if (json_is_string(p))
        return json_string_value(p);
    if (t == NULL || strcmp(t, "text") == 0)
        return str_field(p, "text") ? str_field(p, "text") : str_field(p, "default");
    if (strcmp(t, "currency") == 0 || strcmp(t, "date_time") == 0) {
        json_t *o = json_object_get(p, t);
        return str_field(o ? o : p, "fallback_value");
    }
    return str_field(p, t);
}

static char *
render(const char *text, json_t *params)
{
    size_t cap = strlen(text) + 64, len = 0;
    char  *out = xmalloc(cap);

    for (const char *p = text; *p;) {
        int         v, used = 0;
        const char *val = NULL;

        if (p[0] == '{' && p[1] == '{' && sscanf(p, "{{%d}}%n", &v, &used) == 1 && used > 0 &&
            v >= 1)
            val = param_text(json_array_get(params, (size_t) v - 1));
        if (val != NULL) {
            size_t vl = strlen(val);
            if (len + vl + 1 > cap)
                out = xrealloc(out, cap = (len + vl) * 2 + 1);
            memcpy(out + len, val, vl);
            len += vl;
            p += used;
        } else {
            if (len + 2 > cap)
                out = xrealloc(out, cap *= 2);
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

/* Checks a template (or legacy hsm) send against the registered template;
 * on success sets *rendered (heap). */
static enum err_code
template_check(struct network *n, const char *type, json_t *obj, char **rendered,
               char *why, size_t whylen)
{
    bool        hsm = strcmp(type, "hsm") == 0;
    const char *ns = str_field(obj, "namespace");
    const char *name = str_field(obj, hsm ? "element_name" : "name");
    json_t     *lang = json_object_get(obj, "language");
    const char *code = json_is_string(lang) ? json_string_value(lang) : str_field(lang, "code");
    json_t     *tpl, *comp, *params = NULL, *c;
    const char *body_text = NULL;
    char        key[1024];
    size_t      i;

    *rendered = NULL;
    snprintf(key, sizeof(key), "%s|%s|%s", ns ? ns : "", name ? name : "", code ? code : "");
    if ((tpl = store_get(n->st, "templates", key)) == NULL) {
        snprintf(why, whylen, "no approved template %s in namespace %s for language %s",
                 name ? name : "?", ns ? ns : "?", code ? code : "?");
        return ERR_TPL_MISSING;
    }
    json_array_foreach(json_object_get(tpl, "components"), i, c)
        if (str_field(c, "type") && strcasecmp(str_field(c, "type"), "BODY") == 0)
            body_text = str_field(c, "text");
    if (hsm) {
        params = json_object_get(obj, "localizable_params");
    } else {
        json_array_foreach(json_object_get(obj, "components"), i, comp)
            if (str_field(comp, "type") && strcasecmp(str_field(comp, "type"), "body") == 0)
                params = json_object_get(comp, "parameters");
    }
    if ((int) json_array_size(params) != placeholders(body_text)) {
        snprintf(why, whylen, "the template's body takes %d parameters, %zu given",
                 placeholders(body_text), json_array_size(params));
        return ERR_TPL_PARAM_COUNT;
    }
    json_array_foreach(params, i, c)
        if (param_text(c) == NULL) {
            snprintf(why, whylen, "parameter %zu has no value of its type", i + 1);
            return ERR_TPL_PARAM_FORMAT;
        }
    *rendered = render(body_text ? body_text : "", params);
    return ERR_OK;
}

static bool
in_window(struct network *n, const char *business, const char *to)
{
    json_t *w = json_object_get(store_get(n->st, "customers", to), "window");
    json_int_t last = json_integer_value(json_object_get(w, business));

    return last > 0 && clock_wall_ms() - last < WINDOW_MS;
}

/* ---- conversations (conversation-based pricing, spec/WEBHOOKS.md §5) --------- */

/* The conversation a business message to customer `to` is billed in: the
 * open one, or a new 24-hour one opened by this message. Its origin is
 * user_initiated inside the customer-care window (referral_conversion when the
 * customer's last message came from an ad or post), else business_initiated.
 * Returns the message's "conv" (new ref): id, origin and, on the message that
 * opened it, "opens" with the expiry. */
static json_t *
conversation_for(struct network *n, const char *business, const char *to)
{
    char        key[96], cid[33];
    json_t     *conv, *c = store_get(n->st, "customers", to);
    int64_t     now = clock_wall_ms();
    const char *origin;

    snprintf(key, sizeof(key), "%s|%s", business, to);
    conv = store_get(n->st, "conversations", key);
    if (conv != NULL && json_integer_value(json_object_get(conv, "expires_ms")) > now)
        return json_pack("{s:O, s:O}", "id", json_object_get(conv, "id"),
                         "origin", json_object_get(conv, "origin"));
    if (!in_window(n, business, to))
        origin = "business_initiated";
    else if (json_is_true(json_object_get(json_object_get(c, "referral"), business)))
        origin = "referral_conversion";
    else
        origin = "user_initiated";
    {
        unsigned char r[16];

        RAND_bytes(r, sizeof(r));
        hex(r, sizeof(r), cid);
    }
    store_put(n->st, "conversations", key,
              json_pack("{s:s, s:s, s:I}", "id", cid, "origin", origin,
                        "expires_ms", (json_int_t) (now + WINDOW_MS)));
    return json_pack("{s:s, s:s, s:I}", "id", cid, "origin", origin,
                     "opens", (json_int_t) ((now + WINDOW_MS) / 1000));
}

/* Adds to *out* the status object of message msg (not failed): id, status,
 * recipient_id, timestamp, and "conversation" and "pricing" as WEBHOOKS.md §5
 * shows them, expiration_timestamp only on the sent status of the message
 * that opened the conversation. Written as text, not built as objects: a
 * delivery's statuses are the sandbox's busiest output. */
static void
priced_text(struct statuses *out, const char *id, const char *status, const char *to,
            const json_t *msg)
{
    struct jbuf *b = &out->text;
    json_t      *conv = json_object_get(msg, "conv");
    const char  *origin = str_field(conv, "origin"), *cid = str_field(conv, "id");
    char         num[32];

    if (out->count++ > 0)
        jbuf_addc(b, ',');
    jbuf_adds(b, "{\"id\":");
    jbuf_str(b, id, strlen(id));
    jbuf_adds(b, ",\"status\":");
    jbuf_str(b, status, strlen(status));
    jbuf_adds(b, ",\"recipient_id\":");
    jbuf_str(b, to, strlen(to));
    snprintf(num, sizeof(num), "%lld", (long long) (clock_wall_ms() / 1000));
    jbuf_adds(b, ",\"timestamp\":");
    jbuf_str(b, num, strlen(num));
    if (origin != NULL && cid != NULL) {
        jbuf_adds(b, ",\"conversation\":{\"id\":");
        jbuf_str(b, cid, strlen(cid));
        jbuf_adds(b, ",\"origin\":{\"type\":");
        jbuf_str(b, origin, strlen(origin));
        jbuf_addc(b, '}');
        if (json_object_get(conv, "opens") != NULL && strcmp(status, "sent") == 0) {
            snprintf(num, sizeof(num), "%lld",
                     (long long) json_integer_value(json_object_get(conv, "opens")));
            jbuf_adds(b, ",\"expiration_timestamp\":");
            jbuf_str(b, num, strlen(num));
        }
        /* referral conversations were the free entry point of the 2022 model */
        jbuf_adds(b, strcmp(origin, "referral_conversion") != 0
                         ? "},\"pricing\":{\"billable\":true" : "},\"pricing\":{\"billable\":false");
        jbuf_adds(b, ",\"pricing_model\":\"CBP\",\"category\":");
        jbuf_str(b, origin, strlen(origin));
        jbuf_addc(b, '}');
    }
    jbuf_addc(b, '}');
}

/* Records when msg reached status (ms), for GET /customers/{wa_id}/receipts. */
static void
stamp(json_t *msg, const char *status)
{
    json_t *at = json_object_get(msg, "at");

    if (at == NULL) {
        at = json_object();
        json_object_set_new(msg, "at", at);
    }
    json_object_set_new(at, status, json_integer(clock_wall_ms()));
}

static void deliver(struct network *n, const char *id, json_t *msg, struct statuses *out);

/* Sends st as one status event under eid ("status" for one, "statuses"). */
static void
emit_statuses(struct network *n, const char *eid, const char *business,
              const struct statuses *st)
{
    struct jbuf m = JBUF_INIT;

    jbuf_adds(&m, st->count == 1 ? "\"status\":" : "\"statuses\":[");
    jbuf_add(&m, st->text.p, st->text.len);
    if (st->count > 1)
        jbuf_addc(&m, ']');
    emit_as(n, eid, business, "status", m.p, m.len);
    jbuf_free(&m);
}

/* Tells business the statuses *st* (then emptied); the eid of the event
 * that carries them goes to eid (size bytes; may be NULL). Within a turn
 * they join the business's other statuses of the turn, sent as one event at
 * its end (emit_told()): one entry to journal, keep and confirm for a
 * turn's messages instead of one each. The event's eid is reserved now, so
 * that a message knows its first event (do_send()). */
static void
tell(struct network *n, const char *business, struct statuses *st, char *eid, size_t size)
{
    struct told *t = NULL;

    if (st->count == 0)
        goto done;
    if (!n->in_turn) {
        char own[24];

        new_eid(n, own, sizeof(own));
        emit_statuses(n, own, business, st);
        if (eid != NULL)
            snprintf(eid, size, "%s", own);
        goto done;
    }
    for (size_t i = 0; i < n->ntold && t == NULL; i++)
        if (strcmp(n->told[i].business, business) == 0)
            t = &n->told[i];
    if (t == NULL) {
        if (n->ntold == n->told_cap) {
            n->told_cap = n->told_cap ? 2 * n->told_cap : 4;
            n->told = xrealloc(n->told, n->told_cap * sizeof(*n->told));
        }
        t = &n->told[n->ntold++];
        t->business = xstrdup(business);
        new_eid(n, t->eid, sizeof(t->eid));
        t->st.text = (struct jbuf) JBUF_INIT;
        t->st.count = 0;
    }
    if (t->st.count > 0)
        jbuf_addc(&t->st.text, ',');
    jbuf_add(&t->st.text, st->text.p, st->text.len);
    t->st.count += st->count;
    if (eid != NULL)
        snprintf(eid, size, "%s", t->eid);
done:
    jbuf_free(&st->text);
    st->count = 0;
}

/* Ends the turn's telling: each business's statuses leave as one event. */
static void
emit_told(struct network *n)
{
    for (size_t i = 0; i < n->ntold; i++) {
        emit_statuses(n, n->told[i].eid, n->told[i].business, &n->told[i].st);
        jbuf_free(&n->told[i].st.text);
        free(n->told[i].business);
    }
    n->ntold = 0;
}

/* Whether the business may not have heard of event eid yet: kept in the
 * outbox, or reserved for this turn's statuses (tell()). */
static bool
event_unconfirmed(struct network *n, const char *eid)
{
    for (size_t i = 0; i < n->ntold; i++)
        if (strcmp(n->told[i].eid, eid) == 0)
            return true;
    return store_get(n->st, "outbox", eid) != NULL;
}

/* A message the network is done changing for now is kept as its journal
 * line (store_cool()), its stub the first_eid that forget_oldest() needs:
 * its tree is freed while in the cache, not when forgotten long after. */
static void
cool(struct network *n, const char *id, const json_t *msg)
{
    const char *first = str_field(msg, "first_eid");

    if (first != NULL)
        store_cool(n->st, "messages", id, json_string(first));
}

/* Memory stays bounded: beyond the keep_messages setting, the oldest messages
 * of coll ("messages" to customers, "inbound" from them) are forgotten; /stats
 * still counts them. A message to a customer is kept while its delivery is
 * pending or its first status event is unconfirmed: until the business has
 * recorded that status it may send the message again (after a crash), and the
 * network recognises the duplicate only while it still knows the id. */
static void
forget_oldest(struct network *n, const char *coll)
{
    json_t    *msgs = store_coll(n->st, coll);
    json_int_t keep = setting_int(n, "keep_messages");
    bool       outbound = strcmp(coll, "messages") == 0;

    while ((json_int_t) json_object_size(msgs) > keep) {
        void       *it = json_object_iter(msgs);
        const char *id = json_object_iter_key(it), *first;
        json_t     *v = json_object_iter_value(it);

        if (outbound) {
            /* a cooled message's stub is its first_eid (cool()) */
            first = json_is_object(v) ? str_field(v, "first_eid") : json_string_value(v);
            if (store_get(n->st, "pending", id) != NULL ||
                (first != NULL && event_unconfirmed(n, first)))
                return;                   /* newer ones wait behind it: order is kept */
        }
        store_del(n->st, coll, id);
    }
}

/* A message sent again (the business restarted, or read it back from its
 * outbox while our answer was on the way): where it is now, so the business
 * stops holding it. It can't move the message back: a business records a
 * status only when it moves a message forward. */
static void
tell_again(struct network *n, const char *business, const char *id, json_t *msg)
{
    const char *status = str_field(msg, "status"), *to = str_field(msg, "to");

    if (status == NULL || to == NULL)
        return;
    if (strcmp(status, "failed") == 0) {
        json_t *st = json_pack("{s:s, s:s, s:s, s:s?, s:O*}", "id", id, "status", status,
                               "recipient_id", to, "timestamp", str_field(msg, "timestamp"),
                               "errors", json_object_get(msg, "errors"));

        emit(n, business, "status", json_pack("{s:o*}", "status", st));
    } else {
        struct statuses out = { JBUF_INIT, 0 };

        priced_text(&out, id, status, to, msg);
        tell(n, business, &out, NULL, 0);
    }
}

static void
do_send(struct network *n, struct link_session *s, json_t *f)
{
    const char   *business = link_session_wa_id(s);
    const char   *id = str_field(f, "id"), *to = str_field(f, "to"), *type = str_field(f, "type");
    enum err_code err = ERR_OK;
    char          why[256] = "", *rendered = NULL, *ts, first[32];
    json_t       *msg;

    if (id == NULL || to == NULL || type == NULL) {
        log_warn(NULL, "bad_send", "business=%s", business);
        return;
    }
    if ((msg = store_get(n->st, "messages", id)) != NULL) {
        log_debug(NULL, "duplicate_send", "id=%s", id);
        tell_again(n, business, id, msg);
        return;
    }
    stat_add(n, "received", 1);
    if (json_is_string(json_object_get(f, "recipient_type")) &&
        strcmp(json_string_value(json_object_get(f, "recipient_type")), "group") == 0) {
        /* no group can exist here (groups are not available in this version), so
         * every group is one the business is not in with anyone: spec 1012 */
        err = ERR_GROUP_UNKNOWN;
        snprintf(why, sizeof(why), "no group %.64s: this network has no groups", to);
    } else if (!on_whatsapp(n, to)) {
        err = ERR_USER_NOT_VALID;
        snprintf(why, sizeof(why), "%s is not a WhatsApp user", to);
    } else if (!known_type(type) || json_object_get(f, type) == NULL) {
        err = ERR_RECEIVER_INCAPABLE;
        snprintf(why, sizeof(why), "message type %s cannot be delivered", type);
    } else if (strcmp(type, "template") == 0 || strcmp(type, "hsm") == 0) {
        err = template_check(n, type, json_object_get(f, type), &rendered, why, sizeof(why));
    } else if (!in_window(n, business, to)) {
        err = ERR_REENGAGEMENT;
        snprintf(why, sizeof(why), "Message failed to send because more than 24 hours have"
                 " passed since the customer last replied to this number.");   /* §5's words */
    }
    ts = timestamp_s();
    msg = json_incref(f);                    /* the frame becomes the message (link.h) */
    json_object_del(msg, "v");
    json_object_del(msg, "t");
    json_object_set_new(msg, "from", json_string(business));
    json_object_set_new(msg, "timestamp", json_string(ts));
    json_object_set_new(msg, "status", json_string(err == ERR_OK ? "sent" : "failed"));
    if (rendered)
        json_object_set_new(msg, "rendered", json_string(rendered));
    if (err == ERR_OK) {
        json_object_set_new(msg, "conv", conversation_for(n, business, to));
        stamp(msg, "sent");
    }
    store_put(n->st, "messages", id, msg);
    if (err != ERR_OK) {
        json_t *st = status_obj(id, "failed", to, err, why);

        stat_add(n, "failed", 1);
        json_object_set(msg, "errors", json_object_get(st, "errors"));   /* for tell_again() */
        new_eid(n, first, sizeof(first));
        emit_obj_as(n, first, business, "status", json_pack("{s:o}", "status", st));
    } else {
        struct statuses out = { JBUF_INIT, 0 };
        json_int_t      delay = setting_int(n, "delivery_delay_ms");

        priced_text(&out, id, "sent", to, msg);
        /* without a delay, delivered at once: its status goes out with "sent"
         * (the business records both in one go) instead of at the next tick */
        if (delay <= 0)
            deliver(n, id, msg, &out);
        else
            store_put(n->st, "pending", id,
                      json_pack("{s:I}", "due", (json_int_t) (clock_wall_ms() + delay)));
        tell(n, business, &out, first, sizeof(first));
    }
    json_object_set_new(msg, "first_eid", json_string(first));
    store_save(n->st, "messages", id);
    cool(n, id, msg);
    forget_oldest(n, "messages");
    free(rendered);
    free(ts);
}

/* delivered, or read: updates the message; its status for the sender goes
 * to out (see tell()). */
static void
advance(struct network *n, const char *id, json_t *msg, const char *status,
        struct statuses *out)
{
    json_object_set_new(msg, "status", json_string(status));
    stamp(msg, status);
    store_save(n->st, "messages", id);
    stat_add(n, status, 1);
    priced_text(out, id, status, str_field(msg, "to"), msg);
}

/* The customer's device has message id (status "sent"); it reads it at once
 * when the auto_read setting says so. */
static void
deliver(struct network *n, const char *id, json_t *msg, struct statuses *out)
{
    advance(n, id, msg, "delivered", out);
    if (json_is_true(json_object_get(meta(n, "settings"), "auto_read")))
        advance(n, id, msg, "read", out);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct network *n = arg;
    json_t         *pending = store_coll(n->st, "pending"), *p, *msg;
    const char     *id;
    void           *tmp;
    int64_t         now = clock_wall_ms();

    (void) fd;
    (void) what;
    if (json_object_size(pending) > 0)
        turn_begin(n);
    json_object_foreach_safe(pending, tmp, id, p) {
        if (json_integer_value(json_object_get(p, "due")) > now)
            continue;
        msg = store_get(n->st, "messages", id);
        if (msg != NULL && strcmp(str_field(msg, "status"), "sent") == 0) {
            struct statuses out = { JBUF_INIT, 0 };

            deliver(n, id, msg, &out);
            tell(n, str_field(msg, "from"), &out, NULL, 0);
            cool(n, id, msg);
        }
        store_del(n->st, "pending", id);
    }
}

int
network_ctl_customer_messages(struct network *n, const char *param, json_t *body, json_t **out)
{
    json_t     *list = json_array(), *m;
    const char *id;

    (void) body;
    json_object_foreach(store_coll(n->st, "messages"), id, m) {
        const char *st;
        json_t     *o;

        if ((m = store_get(n->st, "messages", id)) == NULL)
            continue;
        st = str_field(m, "status");
        if (strcmp(str_field(m, "to"), param) != 0 ||
            (strcmp(st, "delivered") != 0 && strcmp(st, "read") != 0))
            continue;
        o = json_deep_copy(m);
        json_object_del(o, "to");
        json_object_del(o, "conv");          /* the network's books, not the customer's */
        json_object_del(o, "at");
        json_object_del(o, "first_eid");
        json_object_del(o, "errors");
        json_array_append_new(list, o);
    }
    *out = json_pack("{s:o}", "messages", list);
    return 200;
}

/* When each message to this customer became sent, delivered and read (ms
 * since the epoch), for measuring how long the business takes to hear of it. */
int
network_ctl_customer_receipts(struct network *n, const char *param, json_t *body,
                              json_t **out)
{
    json_t     *list = json_array(), *m;
    const char *id;

    (void) body;
    json_object_foreach(store_coll(n->st, "messages"), id, m)
        if ((m = store_get(n->st, "messages", id)) != NULL &&
            strcmp(str_field(m, "to"), param) == 0)
            json_array_append_new(list, json_pack("{s:s, s:O, s:o}", "id", id, "status",
                                                  json_object_get(m, "status"), "at",
                                                  json_object_get(m, "at")
                                                      ? json_deep_copy(json_object_get(m, "at"))
                                                      : json_object()));
    *out = json_pack("{s:o}", "receipts", list);
    return 200;
}

int
network_ctl_customer_read(struct network *n, const char *param, json_t *body, json_t **out)
{
    const char     *id = str_field(body, "id");
    json_t         *m = id ? store_get(n->st, "messages", id) : NULL;
    struct statuses statuses = { JBUF_INIT, 0 };

    if (id == NULL)
        return fail(out, 400, "id is required%s", NULL);
    if (m == NULL || strcmp(str_field(m, "to"), param) != 0)
        return fail(out, 404, "customer has no message %s", id);
    if (strcmp(str_field(m, "status"), "sent") == 0) {
        store_del(n->st, "pending", id);         /* reading implies delivery */
        advance(n, id, m, "delivered", &statuses);
    }
    if (strcmp(str_field(m, "status"), "delivered") == 0)
        advance(n, id, m, "read", &statuses);
    tell(n, str_field(m, "from"), &statuses, NULL, 0);
    *out = json_pack("{s:s, s:s}", "id", id, "status", "read");
    return 200;
}

/* ---- what customers send (spec/WEBHOOKS.md §3) ---------------------------------- */

static const struct {
    const char *type;
    const char *mime;          /* when the customer gives none */
    bool        caption, filename;
} media_kinds[] = {
    { "image",    "image/jpeg",             true,  false },
    { "audio",    "audio/mpeg",             false, true },
    { "voice",    "audio/ogg; codecs=opus", false, false },
    { "video",    "video/mp4",              true,  false },
    { "document", "application/pdf",        true,  true },
    { "sticker",  "image/webp",             false, false },
};

/* Copies the optional string fields of keys[] from in to out; the name of
 * one that is there but not a string, else NULL. */
static const char *
copy_strings(const json_t *in, json_t *out, const char *const *keys)
{
    for (; *keys; keys++) {
        json_t *v = json_object_get(in, *keys);

        if (v == NULL)
            continue;
        if (!json_is_string(v))
            return *keys;
        json_object_set(out, *keys, v);
    }
    return NULL;
}

/* A customer's media as the business's webhook shows it: the bytes (base64
 * "data") become a media id (kept in "media" for a later download) and their
 * sha256; mime_type, caption and filename come along where the type has them. */
static json_t *
inbound_media(struct network *n, size_t k, const json_t *in, char *why, size_t whylen)
{
    const char    *data = str_field(in, "data"), *mime = str_field(in, "mime_type");
    const char    *caption = str_field(in, "caption"), *filename = str_field(in, "filename");
    size_t         len = data ? strlen(data) : 0;
    unsigned char *raw, digest[32], r[16];
    int            rawlen;
    char           sha[65], mid[40];
    json_t        *o;

    if (data == NULL || len == 0 || len % 4 != 0) {
        snprintf(why, whylen, "%s.data: the media's bytes in base64 are required",
                 media_kinds[k].type);
        return NULL;
    }
    raw = xmalloc(len);
    rawlen = EVP_DecodeBlock(raw, (const unsigned char *) data, (int) len);
    if (rawlen < 0) {
        free(raw);
        snprintf(why, whylen, "%s.data: not base64", media_kinds[k].type);
        return NULL;
    }
    rawlen -= (data[len - 1] == '=') + (data[len - 2] == '=');    /* DecodeBlock keeps padding */
    EVP_Digest(raw, (size_t) rawlen, digest, NULL, EVP_sha256(), NULL);
    free(raw);
    hex(digest, sizeof(digest), sha);
    RAND_bytes(r, sizeof(r));
    r[6] = (unsigned char) ((r[6] & 0x0f) | 0x40);                  /* a version-4 UUID */
    r[8] = (unsigned char) ((r[8] & 0x3f) | 0x80);
    snprintf(mid, sizeof(mid),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
    o = json_pack("{s:s, s:s, s:s}", "id", mid, "mime_type", mime ? mime : media_kinds[k].mime,
                  "sha256", sha);
    if (caption != NULL && media_kinds[k].caption)
        json_object_set_new(o, "caption", json_string(caption));
    if (filename != NULL && media_kinds[k].filename)
        json_object_set_new(o, "filename", json_string(filename));
    store_put(n->st, "media", mid, json_pack("{s:O, s:s, s:s, s:I}", "mime_type",
                                             json_object_get(o, "mime_type"), "sha256", sha,
                                             "data", data, "size", (json_int_t) rawlen));
    return o;
}

/* The type's object of a customer's message of type `type`, checked and
 * shaped as WEBHOOKS.md §3 shows it (new ref), or NULL with *why. Types the
 * network does not know go through untouched: whether the business's client
 * can show them is the client's business (it reports "unknown"). */
static json_t *
inbound_object(struct network *n, const char *type, const json_t *in, char *why, size_t whylen)
{
    static const char *const location_keys[] = { "name", "address", "url", NULL };
    static const char *const button_keys[] = { "payload", NULL };
    static const char *const list_keys[] = { "description", NULL };
    json_t     *o = NULL;
    const char *bad;

    for (size_t k = 0; k < sizeof(media_kinds) / sizeof(media_kinds[0]); k++)
        if (strcmp(type, media_kinds[k].type) == 0)
            return inbound_media(n, k, in, why, whylen);
    if (strcmp(type, "system") == 0) {
        snprintf(why, whylen, "system messages come from the network, not from customers");
    } else if (strcmp(type, "text") == 0) {
        if (str_field(in, "body") && str_field(in, "body")[0])
            return json_pack("{s:s}", "body", str_field(in, "body"));
        snprintf(why, whylen, "text.body is required");
    } else if (strcmp(type, "location") == 0) {
        if (!json_is_number(json_object_get(in, "latitude")) ||
            !json_is_number(json_object_get(in, "longitude"))) {
            snprintf(why, whylen, "location.latitude and location.longitude must be numbers");
            return NULL;
        }
        o = json_pack("{s:O, s:O}", "latitude", json_object_get(in, "latitude"),
                      "longitude", json_object_get(in, "longitude"));
        if ((bad = copy_strings(in, o, location_keys)) == NULL)
            return o;
        snprintf(why, whylen, "location.%s must be a string", bad);
    } else if (strcmp(type, "contacts") == 0) {
        json_t *card;
        size_t  i;

        if (!json_is_array(in) || json_array_size(in) == 0) {
            snprintf(why, whylen, "contacts must be a non-empty array of cards");
            return NULL;
        }
        json_array_foreach(in, i, card)
            if (!json_is_object(card) || !json_is_object(json_object_get(card, "name"))) {
                snprintf(why, whylen, "contacts[%zu].name is required", i);
                return NULL;
            }
        return json_deep_copy(in);
    } else if (strcmp(type, "button") == 0) {
        if (str_field(in, "text") == NULL) {
            snprintf(why, whylen, "button.text is required");
            return NULL;
        }
        o = json_pack("{s:s}", "text", str_field(in, "text"));
        if ((bad = copy_strings(in, o, button_keys)) == NULL)
            return o;
        snprintf(why, whylen, "button.%s must be a string", bad);
    } else if (strcmp(type, "interactive") == 0) {
        const char *kind = str_field(in, "type");
        json_t     *reply = kind ? json_object_get(in, kind) : NULL;
        bool        list = kind && strcmp(kind, "list_reply") == 0;

        if (kind == NULL || (!list && strcmp(kind, "button_reply") != 0) ||
            str_field(reply, "id") == NULL || str_field(reply, "title") == NULL) {
            snprintf(why, whylen, "interactive needs type button_reply or list_reply and that"
                                  " object with id and title");
            return NULL;
        }
        o = json_pack("{s:s, s:s}", "id", str_field(reply, "id"), "title",
                      str_field(reply, "title"));
        if (list && (bad = copy_strings(reply, o, list_keys)) != NULL) {
            snprintf(why, whylen, "interactive.list_reply.%s must be a string", bad);
            json_decref(o);
            return NULL;
        }
        return json_pack("{s:s, s:o}", "type", kind, kind, o);
    } else if (strcmp(type, "reaction") == 0) {
        json_t *emoji = json_object_get(in, "emoji");

        if (str_field(in, "message_id") == NULL || (emoji && !json_is_string(emoji))) {
            snprintf(why, whylen, "reaction.message_id is required, reaction.emoji a string"
                                  " (empty or absent: the reaction was removed)");
            return NULL;
        }
        o = json_pack("{s:s}", "message_id", str_field(in, "message_id"));
        if (emoji)
            json_object_set(o, "emoji", emoji);
        return o;
    } else if (strcmp(type, "order") == 0) {
        if (str_field(in, "catalog_id") == NULL ||
            !json_is_array(json_object_get(in, "product_items"))) {
            snprintf(why, whylen, "order.catalog_id and order.product_items are required");
            return NULL;
        }
        return json_deep_copy(in);
    } else {
        return json_deep_copy(in);
    }
    json_decref(o);
    return NULL;
}

/* The context of a reply (new ref): "from" is the sender of the message
 * replied to, as the network knows it; the other documented fields go
 * through. NULL with *why if it names a message the network never carried. */
static json_t *
inbound_context(struct network *n, const json_t *in, char *why, size_t whylen)
{
    const char *id = str_field(in, "id");
    json_t     *o, *m;

    if (!json_is_object(in)) {
        snprintf(why, whylen, "context must be an object");
        return NULL;
    }
    o = json_deep_copy(in);
    if (id == NULL)
        return o;                        /* e.g. {"forwarded": true} */
    if ((m = store_get(n->st, "messages", id)) == NULL)
        m = store_get(n->st, "inbound", id);
    if (m != NULL) {
        json_object_set_new(o, "from", json_string(str_field(m, "from")));
    } else if (str_field(in, "from") == NULL) {
        snprintf(why, whylen, "context.id: the network carried no message %s", id);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The customer sends a message to a business (its "referral", if any, says
 * it came from an ad or a post: the conversation it opens is then a
 * referral_conversion). */
int
network_ctl_customer_send(struct network *n, const char *param, json_t *body, json_t **out)
{
    const char *to = str_field(body, "to"), *type = str_field(body, "type");
    json_t     *ctx = json_object_get(body, "context"), *ref = json_object_get(body, "referral");
    char        id[64], why[256], *ts;
    json_t     *msg, *c, *obj, *cx = NULL;

    if (!phone_is_valid_e164(param))
        return fail(out, 400, "%s is not a valid number", param);
    if (!on_whatsapp(n, param))
        return fail(out, 409, "%s is not on WhatsApp", param);
    if (to == NULL || store_get(n->st, "accounts", to) == NULL)
        return fail(out, 404, "no registered business %s", to);
    if (type == NULL || json_object_get(body, type) == NULL)
        return fail(out, 400, "type and the type's object are required%s", NULL);
    if (ref != NULL && !json_is_object(ref))
        return fail(out, 400, "referral must be an object%s", NULL);
    if (ctx != NULL && (cx = inbound_context(n, ctx, why, sizeof(why))) == NULL)
        return fail(out, 400, "%s", why);
    if ((obj = inbound_object(n, type, json_object_get(body, type), why, sizeof(why))) == NULL) {
        json_decref(cx);
        return fail(out, 400, "%s", why);
    }
    c = customer(n, param);
    new_message_id(n, id, sizeof(id));
    ts = timestamp_s();
    msg = json_pack("{s:s, s:s, s:s, s:s, s:o}", "from", param, "id", id, "timestamp", ts,
                    "type", type, type, obj);
    if (cx)
        json_object_set_new(msg, "context", cx);
    if (ref)
        json_object_set(msg, "referral", ref);
    json_object_set_new(json_object_get(c, "window"), to, json_integer(clock_wall_ms()));
    if (json_object_get(c, "referral") == NULL)
        json_object_set_new(c, "referral", json_object());
    json_object_set_new(json_object_get(c, "referral"), to, json_boolean(ref != NULL));
    store_save(n->st, "customers", param);
    store_put(n->st, "inbound", id, json_pack("{s:s, s:s, s:s}", "from", param, "to", to,
                                             "status", "sent"));
    emit(n, to, "inbound",
         json_pack("{s:o, s:{s:{s:s}, s:s}}", "message", msg, "contact", "profile", "name",
                   str_field(c, "name")[0] ? str_field(c, "name") : param, "wa_id", param));
    stat_add(n, "sent_to_businesses", 1);
    forget_oldest(n, "inbound");
    *out = json_pack("{s:s}", "id", id);
    free(ts);
    return 201;
}

/* Moves the customer's last message more than 24 hours back: the window and
 * every conversation with this customer are over. */
int
network_ctl_window_close(struct network *n, const char *param, json_t *body, json_t **out)
{
    json_t     *c = store_get(n->st, "customers", param), *v;
    const char *key, *bar;
    void       *tmp;

    (void) body;
    if (c == NULL)
        return fail(out, 404, "no customer %s", param);
    json_object_set_new(c, "window", json_object());
    store_save(n->st, "customers", param);
    json_object_foreach_safe(store_coll(n->st, "conversations"), tmp, key, v)
        if ((bar = strchr(key, '|')) != NULL && strcmp(bar + 1, param) == 0)
            store_del(n->st, "conversations", key);
    *out = json_object();
    return 200;
}

/* The customer moves to another number: the new number takes over the name,
 * identity and customer-care windows, the old one leaves WhatsApp, and every
 * registered business gets the user_changed_number system message from the
 * old number (spec/WEBHOOKS.md §4; whether it reaches the business's webhook
 * is its notify_user_change_number setting). */
int
network_ctl_number_change(struct network *n, const char *param, json_t *body, json_t **out)
{
    const char *to = str_field(body, "new_wa_id"), *name, *biz;
    json_t     *c = store_get(n->st, "customers", param), *moved, *acct;
    char        text[256], *ts;

    if (c == NULL || !on_whatsapp(n, param))
        return fail(out, 404, "no customer %s on WhatsApp", param);
    if (to == NULL || !phone_is_valid_e164(to) || strcmp(to, param) == 0)
        return fail(out, 400, "new_wa_id must be another valid international number: %s", to);
    moved = json_deep_copy(c);
    json_object_set_new(moved, "wa_id", json_string(to));
    json_object_set_new(moved, "on_whatsapp", json_true());
    if (json_object_get(moved, "identity") == NULL) {  /* the account keeps its keys */
        json_t *id = identity_of(n, param);

        json_object_set_new(moved, "identity", json_pack("{s:O, s:O}", "hash",
                            json_object_get(id, "hash"), "created_timestamp",
                            json_object_get(id, "created_timestamp")));
        json_decref(id);
    }
    store_put(n->st, "customers", to, moved);
    json_object_set_new(c, "on_whatsapp", json_false());
    json_object_set_new(c, "window", json_object());
    store_save(n->st, "customers", param);
    name = str_field(c, "name");
    snprintf(text, sizeof(text), "%s%s changed from +%s to +%s", name && name[0] ? "" : "+",
             name && name[0] ? name : param, param, to);
    ts = timestamp_s();
    json_object_foreach(store_coll(n->st, "accounts"), biz, acct) {
        char id[64];

        new_message_id(n, id, sizeof(id));
        emit(n, biz, "inbound",
             json_pack("{s:{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}}", "message", "from", param,
                       "id", id, "timestamp", ts, "type", "system", "system", "body", text,
                       "new_wa_id", to, "type", "user_changed_number"));
    }
    free(ts);
    *out = json_pack("{s:s, s:s}", "wa_id", to, "old_wa_id", param);
    return 200;
}

static void
do_read(struct network *n, struct link_session *s, json_t *f)
{
    const char *id = str_field(f, "id");
    json_t     *m = id ? store_get(n->st, "inbound", id) : NULL;

    if (m == NULL || strcmp(str_field(m, "to"), link_session_wa_id(s)) != 0)
        return;
    json_object_set_new(m, "status", json_string("read"));
    store_save(n->st, "inbound", id);
}

/* ---- templates, settings, stats ----------------------------------------------- */

int
network_ctl_template_add(struct network *n, const char *param, json_t *body, json_t **out)
{
    const char *ns = str_field(body, "namespace"), *name = str_field(body, "name");
    const char *lang = str_field(body, "language");
    json_t     *comps = json_object_get(body, "components"), *t;
    char        key[1024];

    (void) param;
    if (!ns || !name || !lang || !json_is_array(comps))
        return fail(out, 400, "namespace, name, language and components are required%s", NULL);
    snprintf(key, sizeof(key), "%s|%s|%s", ns, name, lang);
    t = json_pack("{s:s, s:s, s:s, s:O, s:s}", "namespace", ns, "name", name, "language", lang,
                  "components", comps, "status", "approved");
    store_put(n->st, "templates", key, json_deep_copy(t));
    *out = t;
    return 201;
}

int
network_ctl_templates(struct network *n, const char *param, json_t *body, json_t **out)
{
    json_t     *list = json_array(), *t;
    const char *key;

    (void) param;
    (void) body;
    json_object_foreach(store_coll(n->st, "templates"), key, t)
        json_array_append(list, t);
    *out = json_pack("{s:o}", "templates", list);
    return 200;
}

static json_t *
default_settings(void)
{
    return json_pack("{s:i, s:b, s:i, s:i}", "delivery_delay_ms", 100, "auto_read", 0,
                     "code_ttl_s", 600, "keep_messages", KEEP_MESSAGES_DEFAULT);
}

int
network_ctl_settings_get(struct network *n, const char *param, json_t *body, json_t **out)
{
    (void) param;
    (void) body;
    *out = json_deep_copy(meta(n, "settings"));
    return 200;
}

int
network_ctl_settings_patch(struct network *n, const char *param, json_t *body, json_t **out)
{
    json_t     *s = meta(n, "settings"), *v;
    const char *k;

    (void) param;
    if (!json_is_object(body))
        return fail(out, 400, "the body must be an object%s", NULL);
    json_object_foreach(body, k, v) {
        if (strcmp(k, "auto_read") == 0) {
            if (!json_is_boolean(v))
                return fail(out, 400, "%s must be a boolean", k);
        } else if (strcmp(k, "delivery_delay_ms") == 0 || strcmp(k, "code_ttl_s") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 86400000)
                return fail(out, 400, "%s must be a non-negative integer", k);
        } else if (strcmp(k, "keep_messages") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > 100000000)
                return fail(out, 400, "%s must be an integer from 1 to 100000000", k);
        } else {
            return fail(out, 400, "unknown setting %s", k);
        }
    }
    json_object_foreach(body, k, v)
        json_object_set(s, k, v);
    store_save(n->st, "meta", "settings");
    *out = json_deep_copy(s);
    return 200;
}

int
network_ctl_stats(struct network *n, const char *param, json_t *body, json_t **out)
{
    (void) param;
    (void) body;
    *out = json_deep_copy(meta(n, "stats"));
    json_object_set_new(*out, "customers",
                        json_integer((json_int_t) json_object_size(store_coll(n->st, "customers"))));
    return 200;
}

int
network_ctl_health(struct network *n, const char *param, json_t *body, json_t **out)
{
    (void) n;
    (void) param;
    (void) body;
    *out = json_pack("{s:s}", "status", "ok");
    return 200;
}

/* ---- registration views --------------------------------------------------------- */

int
network_ctl_registration(struct network *n, const char *param, json_t *body, json_t **out)
{
    json_t *rec = store_get(n->st, "codes", param);

    (void) body;
    if (rec == NULL)
        return fail(out, 404, "no code was sent to %s", param);
    *out = json_pack("{s:O, s:O, s:b, s:b}", "code", json_object_get(rec, "code"),
                     "method", json_object_get(rec, "method"),
                     "used", json_is_true(json_object_get(rec, "used")),
                     "expired", json_integer_value(json_object_get(rec, "expires_ms")) <
                                clock_wall_ms());
    return 200;
}

int
network_ctl_registration_expire(struct network *n, const char *param, json_t *body,
                                json_t **out)
{
    json_t *rec = store_get(n->st, "codes", param);

    (void) body;
    if (rec == NULL)
        return fail(out, 404, "no code was sent to %s", param);
    json_object_set_new(rec, "expires_ms", json_integer(clock_wall_ms() - 1));
    store_save(n->st, "codes", param);
    *out = json_object();
    return 200;
}

/* The business's public profile, replaced whole (netproto.h "profile"); shown
 * to customers, here by GET /businesses/{wa_id}. */
static const char *
do_profile(struct network *n, struct link_session *s, json_t *f, json_t *res)
{
    json_t *photo = json_object_get(f, "photo"), *biz = json_object_get(f, "business");

    (void) res;
    if (!json_is_string(json_object_get(f, "about")) || !json_is_object(biz) ||
        !(json_is_null(photo) || (json_is_object(photo) &&
                                  json_is_string(json_object_get(photo, "sha256")) &&
                                  json_is_integer(json_object_get(photo, "size")))))
        return "bad_request";
    store_put(n->st, "profiles", link_session_wa_id(s),
              json_pack("{s:O, s:O, s:O, s:I}", "about", json_object_get(f, "about"),
                        "photo", photo, "business", biz,
                        "updated_ms", (json_int_t) clock_wall_ms()));
    log_info(NULL, "business_profile", "wa_id=%s", link_session_wa_id(s));
    return NULL;
}

static json_t *
business_view(struct network *n, const char *wa_id, json_t *acct)
{
    json_t *profile = store_get(n->st, "profiles", wa_id);

    return json_pack("{s:s, s:O, s:b, s:b, s:O}", "wa_id", wa_id, "vname",
                     json_object_get(acct, "vname"), "two_step",
                     json_object_get(acct, "pin") != NULL,
                     "connected", link_is_online(n->sb->link, wa_id),
                     "profile", profile ? profile : json_null());
}

int
network_ctl_businesses(struct network *n, const char *param, json_t *body, json_t **out)
{
    json_t     *list = json_array(), *a;
    const char *wa_id;

    (void) param;
    (void) body;
    json_object_foreach(store_coll(n->st, "accounts"), wa_id, a)
        json_array_append_new(list, business_view(n, wa_id, a));
    *out = json_pack("{s:o}", "businesses", list);
    return 200;
}

int
network_ctl_business(struct network *n, const char *param, json_t *body, json_t **out)
{
    json_t *a = store_get(n->st, "accounts", param);

    (void) body;
    if (a == NULL)
        return fail(out, 404, "no registered business %s", param);
    *out = business_view(n, param, a);
    return 200;
}

/* ---- the link ------------------------------------------------------------------- */

typedef const char *(*request_fn)(struct network *n, struct link_session *s, json_t *f,
                                  json_t *res);

static const struct {
    const char *type;
    request_fn  fn;
    bool        needs_hello;
} requests[] = {
    { "register", do_register, false },
    { "verify",   do_verify,   false },
    { "hello",    do_hello,    false },
    { "two_step", do_two_step, true },
    { "lookup",   do_lookup,   true },
    { "identity", do_identity, true },
    { "profile",  do_profile,  true },
};

static void
answer(struct network *n, struct link_session *s, const char *rid, const char *error,
       json_t *res)
{
    json_t *f = netproto_new("result");

    json_object_set_new(f, "rid", json_string(rid));
    json_object_set_new(f, "ok", json_boolean(error == NULL));
    if (error != NULL)
        json_object_set_new(f, "error", json_string(error));
    else
        json_object_update(f, res);
    link_send(n->sb->link, s, f);
    json_decref(f);
}

static void
not_authenticated(struct network *n, struct link_session *s, const char *rid)
{
    json_t *f = netproto_new("error");

    json_object_set_new(f, "error", json_string("not_authenticated"));
    if (rid)
        json_object_set_new(f, "rid", json_string(rid));
    link_send(n->sb->link, s, f);
    json_decref(f);
}

/* The business confirmed event eid (NULL: nothing): forget it. */
static void
event_acked(struct network *n, struct link_session *s, const char *eid)
{
    json_t *e = eid ? store_get(n->st, "outbox", eid) : NULL;

    if (e && strcmp(str_field(e, "to"), link_session_wa_id(s)) == 0)
        store_del(n->st, "outbox", eid);
}

void
network_on_frame(struct link_session *s, json_t *f, void *arg)
{
    struct network *n = arg;
    const char     *t = str_field(f, "t"), *rid = str_field(f, "rid");
    bool            authed = link_session_wa_id(s) != NULL;

    turn_begin(n);
    if (strcmp(t, "ping") == 0) {
        json_t *p = netproto_new("pong");

        json_object_set(p, "ts", json_object_get(f, "ts") ? json_object_get(f, "ts") : json_null());
        /* who this session speaks for: a client that said hello to an earlier
         * run of the sandbox learns here that it must say it again */
        json_object_set_new(p, "session", authed ? json_string(link_session_wa_id(s))
                                                 : json_null());
        link_send(n->sb->link, s, p);
        json_decref(p);
        return;
    }
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        json_t     *res;
        const char *err;

        if (strcmp(requests[i].type, t) != 0)
            continue;
        if (rid == NULL)
            return;
        if (requests[i].needs_hello && !authed) {
            not_authenticated(n, s, rid);
            return;
        }
        res = json_object();
        err = requests[i].fn(n, s, f, res);
        answer(n, s, rid, err, res);
        json_decref(res);
        if (err == NULL && strcmp(t, "hello") == 0)
            flush_outbox(n, s, link_session_wa_id(s));
        return;
    }
    if (!authed) {
        not_authenticated(n, s, rid);
    } else if (strcmp(t, "send") == 0) {
        do_send(n, s, f);
    } else if (strcmp(t, "read") == 0) {
        do_read(n, s, f);
        if (rid)
            answer(n, s, rid, NULL, NULL);
    } else if (strcmp(t, "event_ack") == 0) {
        json_t *v;
        size_t  i;

        event_acked(n, s, str_field(f, "eid"));
        json_array_foreach(json_object_get(f, "eids"), i, v)
            event_acked(n, s, json_string_value(v));
        forget_oldest(n, "messages");     /* what waited for these may go now */
    } else {
        log_warn(NULL, "unknown_frame", "type=%s", t);
    }
}

/* ---- life ------------------------------------------------------------------------ */

static void
ensure_meta(struct network *n)
{
    json_t *sec = meta(n, "secret"), *s;
    char    h[65];

    if (sec == NULL || strlen(str_field(sec, "hex") ? str_field(sec, "hex") : "") != 64) {
        RAND_bytes(n->secret, sizeof(n->secret));
        hex(n->secret, sizeof(n->secret), h);
        store_put(n->st, "meta", "secret", json_pack("{s:s}", "hex", h));
    } else {
        const char *p = str_field(sec, "hex");
        for (int i = 0; i < 32; i++) {
            unsigned v;
            sscanf(p + 2 * i, "%2x", &v);
            n->secret[i] = (unsigned char) v;
        }
    }
    if (meta(n, "created") == NULL)
        store_put(n->st, "meta", "created",
                  json_pack("{s:I}", "ms", (json_int_t) clock_wall_ms()));
    s = default_settings();
    if (meta(n, "settings") != NULL)
        json_object_update(s, meta(n, "settings"));
    store_put(n->st, "meta", "settings", s);
    if (meta(n, "stats") == NULL)
        store_put(n->st, "meta", "stats",
                  json_pack("{s:i, s:{s:i, s:i, s:i, s:i}, s:i}", "lookups", 0, "messages",
                            "received", 0, "delivered", 0, "read", 0, "failed", 0,
                            "sent_to_businesses", 0));
    if (meta(n, "counters") == NULL)
        store_put(n->st, "meta", "counters", json_object());
}

struct network *
network_new(struct sandbox *sb)
{
    struct network *n = xcalloc(1, sizeof(*n));
    struct timeval  tv = { 0, 20 * 1000 };

    n->sb = sb;
    n->st = sb->store;
    ensure_meta(n);
    n->tick = event_new(sb->base, -1, EV_PERSIST, tick_cb, n);
    event_add(n->tick, &tv);
    n->commit = event_new(sb->base, -1, 0, commit_cb, n);
    return n;
}

void
network_free(struct network *n)
{
    if (n == NULL)
        return;
    if (n->tick)
        event_free(n->tick);
    if (n->commit)
        event_free(n->commit);      /* a turn still open is journalled by store_close() */
    emit_told(n);                   /* a turn still open: its events into the outbox */
    free(n->told);
    free(n);
}
