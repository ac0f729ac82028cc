/* account.c - POST /v1/account, /v1/account/verify, two-step verification. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <zmq.h>
#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/netproto.h"
#include "common/xalloc.h"
#include "coreapp/account.h"
#include "coreapp/coreapp.h"
#include "coreapp/dispatch.h"
#include "coreapp/gateway.h"

struct account {
    struct coreapp *app;
    bool            loaded;
    bool            registered, two_step;
    char           *cc, *phone_number, *wa_id, *vname;
    char           *public_key, *secret_key;
    char           *p_cc, *p_phone_number, *p_vname, *p_cert;   /* pending code */
};

/* One registration request in flight. */
struct reg {
    struct account  *a;
    struct core_req *req;
    char            *cc, *phone_number, *method, *cert, *pin, *vname, *code;
};

static void
reg_free(struct reg *r)
{
    free(r->cc);
    free(r->phone_number);
    free(r->method);
    free(r->cert);
    free(r->pin);
    free(r->vname);
    free(r->code);
    free(r);
}

static void
set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? xstrdup(src) : NULL;
}

static bool
is_digits(const char *s, size_t lo, size_t hi)
{
    size_t n = s ? strlen(s) : 0;

    return s && n >= lo && n <= hi && strspn(s, "0123456789") == n;
}

/* How long the network may take: what is left of the webapp's deadline, so
 * the client gets our answer rather than the webapp's 503. */
static int
timeout_for(const struct core_req *req)
{
    int64_t left = req->w.deadline_ms ? req->w.deadline_ms - clock_wall_ms() - 300 : 5000;

    return left < 200 ? 200 : left > 10000 ? 10000 : (int) left;
}

const char *
account_cc(const struct account *a)
{
    return a && a->registered ? a->cc : NULL;
}

const char *
account_wa_id(const struct account *a)
{
    return a && a->registered ? a->wa_id : NULL;
}

/* ---- certificate ---------------------------------------------------------------- */

bool
account_is_base64(const char *s)
{
    size_t n = strlen(s), body = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789+/");
    size_t pad = strspn(s + body, "=");

    return n > 0 && n % 4 == 0 && body + pad == n && pad <= 2;
}

char *
account_cert_vname(const char *cert, const char *cc, const char *phone_number, const char **why)
{
    size_t         len = strlen(cert);
    unsigned char *raw = xmalloc(len + 1);
    int            n = EVP_DecodeBlock(raw, (const unsigned char *) cert, (int) len);
    json_t        *j = NULL;
    const char    *ccc, *cpn, *vname;
    char          *out = NULL;

    *why = "undecodable";
    if (n > 0) {
        while (n > 0 && raw[n - 1] == '\0')             /* padding decodes to NULs */
            n--;
        j = json_loadb((const char *) raw, (size_t) n, 0, NULL);
    }
    free(raw);
    ccc = json_string_value(json_object_get(j, "cc"));
    cpn = json_string_value(json_object_get(j, "phone_number"));
    vname = json_string_value(json_object_get(j, "vname"));
    if (ccc && cpn && vname && vname[0]) {
        if (strcmp(ccc, cc) == 0 && strcmp(cpn, phone_number) == 0) {
            out = xstrdup(vname);
            *why = NULL;
        } else {
            *why = "other_number";
        }
    }
    json_decref(j);
    return out;
}

/* ---- loading ---------------------------------------------------------------------- */

static void
push_identity(struct account *a)
{
    struct gateway_identity id = { a->registered ? a->wa_id : NULL, a->public_key,
                                   a->secret_key };

    if (a->public_key != NULL)
        gateway_set_identity(a->app->gw, &id);
}

static void
loaded_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct account *a = arg;

    if (err != ERR_OK || db_result_rows(res) != 1) {
        log_error(NULL, "account_load_failed", "reason=\"%s\"", db_result_error(res));
        return;
    }
    a->registered = db_result_get(res, 0, 4) && strcmp(db_result_get(res, 0, 4), "t") == 0;
    set_str(&a->cc, db_result_get(res, 0, 0));
    set_str(&a->phone_number, db_result_get(res, 0, 1));
    set_str(&a->wa_id, db_result_get(res, 0, 2));
    set_str(&a->vname, db_result_get(res, 0, 3));
    a->two_step = db_result_get(res, 0, 5) && strcmp(db_result_get(res, 0, 5), "t") == 0;
    set_str(&a->public_key, db_result_get(res, 0, 6));
    set_str(&a->secret_key, db_result_get(res, 0, 7));
    set_str(&a->p_cc, db_result_get(res, 0, 8));
    set_str(&a->p_phone_number, db_result_get(res, 0, 9));
    set_str(&a->p_vname, db_result_get(res, 0, 10));
    set_str(&a->p_cert, db_result_get(res, 0, 11));
    a->loaded = true;
    log_info(NULL, "account_loaded", "registered=%d wa_id=%s pending=%s",
             a->registered, a->registered ? a->wa_id : "-", a->p_cc ? "yes" : "no");
    push_identity(a);
    if (a->public_key == NULL && a->app->gateway == GATEWAY_UNINITIALIZED)
        a->app->gateway = GATEWAY_UNREGISTERED;
}

static void
connected_cb(void *arg)
{
    struct account *a = arg;

    db_query(a->app->db,
             "SELECT a.cc, a.phone_number, a.wa_id, a.vname, a.registered, a.two_step,"
             "       k.public_key, k.secret_key, p.cc, p.phone_number, p.vname, p.cert"
             "  FROM (SELECT 1) one"
             "  LEFT JOIN account a ON true"
             "  LEFT JOIN account_keys k ON true"
             "  LEFT JOIN account_pending p ON true",
             0, NULL, loaded_cb, a);
}

/* ---- POST /v1/account --------------------------------------------------------------- */

/* A string field: NULL (and a reply sent) if missing or not a string. */
static const char *
field_or_reply(struct core_req *req, const char *name, bool required, bool *replied)
{
    json_t *v = json_object_get(req->w.body, name);

    *replied = false;
    if (v == NULL || json_is_null(v)) {
        if (required) {
            core_reply_error(req, ERR_PARAM_MISSING, "%s is required", name);
            *replied = true;
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        core_reply_error(req, ERR_PARAM_INVALID, "%s must be a string", name);
        *replied = true;
        return NULL;
    }
    return json_string_value(v);
}

static void
pending_saved_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct reg *r = arg;

    (void) res;
    if (err != ERR_OK) {
        core_reply_error(r->req, ERR_DATABASE, "could not record the registration request");
    } else {
        set_str(&r->a->p_cc, r->cc);
        set_str(&r->a->p_phone_number, r->phone_number);
        set_str(&r->a->p_vname, r->vname);
        set_str(&r->a->p_cert, r->cert);
        log_info(r->req->w.rid, "code_requested", "cc=%s method=%s", r->cc, r->method);
        core_reply(r->req, 202, json_pack("{s:[{s:s}]}", "account", "vname", r->vname));
    }
    reg_free(r);
}

static void
register_reply_cb(enum err_code err, const char *net_error, const char *details, json_t *result,
                  void *arg)
{
    struct reg *r = arg;
    const char *params[4] = { r->cc, r->phone_number, r->vname, r->cert };
    const char *vname = json_string_value(json_object_get(result, "vname"));

    (void) details;
    if (err != ERR_OK) {
        const char *msg =
            !net_error ? "the network (wa-sandbox) is not reachable; try again" :
            !strcmp(net_error, "bad_cert") ? "cert is not a certificate issued by the network" :
            !strcmp(net_error, "cert_mismatch") ? "cert was issued for another number" :
            !strcmp(net_error, "pin_required") ?
                "pin is required: two-step verification is enabled for this number" :
            !strcmp(net_error, "pin_wrong") ? "pin does not match the two-step verification pin" :
            "the network refused the request";

        core_reply_error(r->req, err, "%s", msg);
        reg_free(r);
        return;
    }
    if (vname != NULL)
        set_str(&r->vname, vname);
    params[2] = r->vname;
    db_query(r->a->app->db,
             "INSERT INTO account_pending (id, cc, phone_number, vname, cert) VALUES (1, $1, $2, $3, $4)"
             " ON CONFLICT (id) DO UPDATE SET cc = $1, phone_number = $2, vname = $3, cert = $4,"
             " requested_at = now()",
             4, params, pending_saved_cb, r);
}

static void
send_register(struct reg *r)
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "cc", r->cc, "phone_number", r->phone_number,
                             "method", r->method, "cert", r->cert);

    if (r->pin)
        json_object_set_new(body, "pin", json_string(r->pin));
    gateway_request(r->a->app->gw, "register", body, timeout_for(r->req), register_reply_cb, r);
}

static void
keys_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct reg *r = arg;

    if (err != ERR_OK || db_result_rows(res) != 1) {
        core_reply_error(r->req, ERR_DATABASE, "could not store the registration keys");
        reg_free(r);
        return;
    }
    set_str(&r->a->public_key, db_result_get(res, 0, 0));
    set_str(&r->a->secret_key, db_result_get(res, 0, 1));
    push_identity(r->a);
    send_register(r);
}

/* The key pair is made once; a concurrent maker's pair wins if it was first. */
static void
ensure_keys(struct reg *r)
{
    char        pub[NETPROTO_KEY_LEN + 1], sec[NETPROTO_KEY_LEN + 1];
    const char *params[2] = { pub, sec };

    if (r->a->public_key != NULL) {
        send_register(r);
        return;
    }
    if (zmq_curve_keypair(pub, sec) != 0) {
        core_reply_error(r->req, ERR_INTERNAL, "could not make a key pair");
        reg_free(r);
        return;
    }
    db_query(r->a->app->db,
             "WITH ins AS (INSERT INTO account_keys (id, public_key, secret_key) VALUES (1, $1, $2)"
             "             ON CONFLICT (id) DO NOTHING RETURNING public_key, secret_key)"
             " SELECT public_key, secret_key FROM ins UNION ALL"
             " SELECT public_key, secret_key FROM account_keys LIMIT 1",
             2, params, keys_cb, r);
}

static void
register_handle(struct core_req *req, void *arg)
{
    struct account *a = arg;
    const char     *cc, *pn, *method, *cert, *pin, *why;
    bool            replied;
    struct reg     *r;
    char           *vname;

    if (!a->loaded) {
        core_reply_error(req, ERR_SERVICE_NOT_READY, "the coreapp is starting");
        return;
    }
    if ((cc = field_or_reply(req, "cc", true, &replied)) == NULL ||
        (pn = field_or_reply(req, "phone_number", true, &replied)) == NULL ||
        (method = field_or_reply(req, "method", true, &replied)) == NULL ||
        (cert = field_or_reply(req, "cert", true, &replied)) == NULL)
        return;
    pin = field_or_reply(req, "pin", false, &replied);
    if (replied)
        return;
    if (!is_digits(cc, 1, 3) || cc[0] == '0') {
        core_reply_error(req, ERR_PARAM_INVALID, "cc must be a country calling code of 1-3 digits");
        return;
    }
    if (!is_digits(pn, 1, 15 - strlen(cc))) {
        core_reply_error(req, ERR_PARAM_INVALID,
                         "phone_number must be the national number: digits only, without cc");
        return;
    }
    if (strcasecmp(method, "sms") != 0 && strcasecmp(method, "voice") != 0) {
        core_reply_error(req, ERR_PARAM_INVALID, "method must be sms or voice");
        return;
    }
    if (!account_is_base64(cert)) {
        core_reply_error(req, ERR_PARAM_INVALID, "cert must be base64");
        return;
    }
    if (pin != NULL && !is_digits(pin, 6, 6)) {
        core_reply_error(req, ERR_PARAM_INVALID, "pin must be 6 digits");
        return;
    }
    if ((vname = account_cert_vname(cert, cc, pn, &why)) == NULL) {
        if (strcmp(why, "other_number") == 0)
            core_reply_error(req, ERR_ACCESS_DENIED, "cert was issued for another number");
        else
            core_reply_error(req, ERR_ACCESS_DENIED, "cert is not a verified name certificate");
        return;
    }
    if (a->registered && strcmp(a->cc, cc) == 0 && strcmp(a->phone_number, pn) == 0) {
        free(vname);
        core_reply(req, 201, NULL);              /* already registered here */
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->a = a;
    r->req = req;
    r->cc = xstrdup(cc);
    r->phone_number = xstrdup(pn);
    r->method = xstrdup(strcasecmp(method, "voice") == 0 ? "voice" : "sms");
    r->cert = xstrdup(cert);
    r->pin = pin ? xstrdup(pin) : NULL;
    r->vname = vname;
    ensure_keys(r);
}

/* ---- POST /v1/account/verify -------------------------------------------------------- */

static void
verified_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct reg     *r = arg;
    struct account *a = r->a;

    (void) res;
    if (err != ERR_OK) {
        core_reply_error(r->req, ERR_DATABASE, "could not record the registration");
        reg_free(r);
        return;
    }
    if (!a->registered || strcmp(a->wa_id, r->code) != 0)
        a->two_step = false;
    a->registered = true;
    set_str(&a->cc, r->cc);
    set_str(&a->phone_number, r->phone_number);
    set_str(&a->wa_id, r->code);                /* r->code holds the wa_id now */
    set_str(&a->vname, r->vname);
    set_str(&a->p_cc, NULL);
    set_str(&a->p_phone_number, NULL);
    set_str(&a->p_vname, NULL);
    set_str(&a->p_cert, NULL);
    log_info(r->req->w.rid, "registered", "wa_id=%s", a->wa_id);
    push_identity(a);
    core_reply(r->req, 201, NULL);
    reg_free(r);
}

static void
verify_reply_cb(enum err_code err, const char *net_error, const char *details, json_t *result,
                void *arg)
{
    struct reg *r = arg;
    const char *params[5];
    const char *wa_id = json_string_value(json_object_get(result, "wa_id"));

    (void) details;
    if (err != ERR_OK || wa_id == NULL) {
        const char *msg =
            !net_error ? "the network (wa-sandbox) is not reachable; try again" :
            !strcmp(net_error, "bad_code") ? "code is wrong" :
            !strcmp(net_error, "code_expired") ?
                "code has expired: request a new one with POST /v1/account" :
            !strcmp(net_error, "no_code") ?
                "no code is pending for this number: request one with POST /v1/account" :
            "the network refused the code";

        core_reply_error(r->req, err == ERR_OK ? ERR_GENERIC : err, "%s", msg);
        reg_free(r);
        return;
    }
    set_str(&r->code, wa_id);
    params[0] = r->cc;
    params[1] = r->phone_number;
    params[2] = r->code;
    params[3] = r->vname;
    params[4] = r->cert;
    db_query(r->a->app->db,
             "WITH gone AS (DELETE FROM account_pending)"
             " INSERT INTO account (id, cc, phone_number, wa_id, vname, registered, cert, updated_at)"
             " VALUES (1, $1, $2, $3, $4, true, $5, now())"
             " ON CONFLICT (id) DO UPDATE SET cc = $1, phone_number = $2, wa_id = $3, vname = $4,"
             "   registered = true, cert = $5, updated_at = now(),"
             "   two_step = account.two_step AND account.wa_id = $3",
             5, params, verified_cb, r);
}

static void
verify_handle(struct core_req *req, void *arg)
{
    struct account *a = arg;
    const char     *code;
    bool            replied;
    char            digits[16];
    size_t          n = 0;
    struct reg     *r;

    if (!a->loaded) {
        core_reply_error(req, ERR_SERVICE_NOT_READY, "the coreapp is starting");
        return;
    }
    if ((code = field_or_reply(req, "code", true, &replied)) == NULL)
        return;
    for (const char *p = code; *p && n < sizeof(digits) - 1; p++)
        if (*p != '-' && *p != ' ')
            digits[n++] = *p;
    digits[n] = '\0';
    if (!is_digits(digits, 6, 6)) {
        core_reply_error(req, ERR_PARAM_INVALID, "code must be the 6-digit registration code");
        return;
    }
    if (a->p_cc == NULL) {
        core_reply_error(req, ERR_PARAM_INVALID,
                         "no registration code was requested: call POST /v1/account first");
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->a = a;
    r->req = req;
    r->cc = xstrdup(a->p_cc);
    r->phone_number = xstrdup(a->p_phone_number);
    r->vname = xstrdup(a->p_vname);
    r->cert = xstrdup(a->p_cert);
    gateway_request(a->app->gw, "verify",
                    json_pack("{s:s, s:s, s:s}", "cc", r->cc, "phone_number", r->phone_number,
                              "code", digits),
                    timeout_for(req), verify_reply_cb, r);
}

/* ---- two-step verification ----------------------------------------------------------- */

static void
two_step_saved_cb(const struct db_result *res, enum err_code err, void *arg)
{
    struct reg *r = arg;

    (void) res;
    if (err != ERR_OK) {
        core_reply_error(r->req, ERR_DATABASE, "could not record the two-step setting");
    } else {
        r->a->two_step = r->pin != NULL;
        core_reply(r->req, 200, NULL);
    }
    reg_free(r);
}

static void
two_step_reply_cb(enum err_code err, const char *net_error, const char *details, json_t *result,
                  void *arg)
{
    struct reg *r = arg;
    const char *on = r->pin ? "true" : "false";

    (void) result;
    (void) details;
    if (err != ERR_OK) {
        core_reply_error(r->req, err, "%s", net_error ? "the network refused the pin"
                         : "the network (wa-sandbox) is not reachable; try again");
        reg_free(r);
        return;
    }
    db_query(r->a->app->db, "UPDATE account SET two_step = $1, updated_at = now()", 1, &on,
             two_step_saved_cb, r);
}

static void
two_step(struct core_req *req, struct account *a, const char *pin)
{
    struct reg *r;

    if (!a->registered) {
        core_reply_error(req, ERR_SERVICE_NOT_READY,
                         "no number is registered: register with POST /v1/account first");
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->a = a;
    r->req = req;
    r->pin = pin ? xstrdup(pin) : NULL;
    gateway_request(a->app->gw, "two_step",
                    json_pack("{s:s?}", "pin", pin), timeout_for(req), two_step_reply_cb, r);
}

static void
two_step_set_handle(struct core_req *req, void *arg)
{
    const char *pin;
    bool        replied;

    if ((pin = field_or_reply(req, "pin", true, &replied)) == NULL)
        return;
    if (!is_digits(pin, 6, 6)) {
        core_reply_error(req, ERR_PARAM_INVALID, "pin must be exactly 6 digits");
        return;
    }
    two_step(req, arg, pin);
}

static void
two_step_del_handle(struct core_req *req, void *arg)
{
    two_step(req, arg, NULL);
}

/* ---- life ----------------------------------------------------------------------------- */

void
account_init(struct coreapp *app)
{
    struct account *a = xcalloc(1, sizeof(*a));

    a->app = app;
    app->account = a;
    db_on_connect(app->db, connected_cb, a);
    dispatch_register(app->dispatch, WIRE_ACCOUNT_REGISTER, register_handle, a);
    dispatch_register(app->dispatch, WIRE_ACCOUNT_VERIFY, verify_handle, a);
    dispatch_register(app->dispatch, WIRE_TWO_STEP_SET, two_step_set_handle, a);
    dispatch_register(app->dispatch, WIRE_TWO_STEP_DEL, two_step_del_handle, a);
}

void
account_reload(struct coreapp *app)
{
    if (app->account != NULL)
        connected_cb(app->account);
}

void
account_free(struct account *a)
{
    if (a == NULL)
        return;
    free(a->cc);
    free(a->phone_number);
    free(a->wa_id);
    free(a->vname);
    free(a->public_key);
    free(a->secret_key);
    free(a->p_cc);
    free(a->p_phone_number);
    free(a->p_vname);
    free(a->p_cert);
    free(a);
}
