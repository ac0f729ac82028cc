/* wire.c - JSON headers of the webapp<->coreapp frames. */
#include <stdbool.h>
#include <string.h>
#include "common/jsonbuf.h"
#include "common/wire.h"
#include "common/xalloc.h"

static const char *const cmd_names[WIRE__COUNT] = {
#define WIRE_CMD(id, name) name,
#include "common/wire_cmds.def"
#undef WIRE_CMD
};

const char *
wire_cmd_name(enum wire_cmd c)
{
    return (unsigned) c < WIRE__COUNT ? cmd_names[c] : "?";
}

int
wire_cmd_parse(const char *name, enum wire_cmd *out)
{
    for (int i = 0; i < WIRE__COUNT; i++) {
        if (strcmp(cmd_names[i], name) == 0) {
            *out = (enum wire_cmd) i;
            return 0;
        }
    }
    return -1;
}

/* The encoders write the JSON text directly (no intermediate object): the
 * same members json_pack() used to produce, optional ones left out. */
static void
member_str(struct jbuf *b, const char *name, const char *v)
{
    jbuf_addc(b, ',');
    jbuf_str(b, name, strlen(name));
    jbuf_addc(b, ':');
    jbuf_str(b, v, strlen(v));
}

char *
wire_request_encode(const struct wire_request *r, size_t *len)
{
    struct jbuf b = JBUF_INIT;

    jbuf_adds(&b, "{\"v\":");
    jbuf_int(&b, WIRE_VERSION);
    member_str(&b, "rid", r->rid);
    member_str(&b, "cmd", wire_cmd_name(r->cmd));
    jbuf_adds(&b, ",\"deadline\":");
    jbuf_int(&b, (long long) r->deadline_ms);
    jbuf_adds(&b, ",\"caller\":{");
    if (r->user != NULL) {
        jbuf_adds(&b, "\"user\":");
        jbuf_str(&b, r->user, strlen(r->user));
    }
    if (r->role != NULL) {
        jbuf_adds(&b, r->user != NULL ? ",\"role\":" : "\"role\":");
        jbuf_str(&b, r->role, strlen(r->role));
    }
    jbuf_addc(&b, '}');
    if (r->params != NULL) {
        jbuf_adds(&b, ",\"params\":");
        jbuf_json(&b, r->params);
    }
    if (r->body != NULL) {
        jbuf_adds(&b, ",\"body\":");
        jbuf_json(&b, r->body);
    }
    /* json_string() refused invalid UTF-8, and the member was left out */
    if (r->content_type != NULL && jbuf_utf8_valid(r->content_type, strlen(r->content_type)))
        member_str(&b, "content_type", r->content_type);
    jbuf_addc(&b, '}');
    return jbuf_take(&b, len);
}

char *
wire_reply_encode(const struct wire_reply *r, size_t *len)
{
    struct jbuf b = JBUF_INIT;

    jbuf_adds(&b, "{\"v\":");
    jbuf_int(&b, WIRE_VERSION);
    member_str(&b, "rid", r->rid);
    jbuf_adds(&b, ",\"status\":");
    jbuf_int(&b, r->status);
    if (r->error != ERR_OK)
        member_str(&b, "error", err_name(r->error));
    if (r->details != NULL && jbuf_utf8_valid(r->details, strlen(r->details)))
        member_str(&b, "details", r->details);
    if (r->body != NULL) {
        jbuf_adds(&b, ",\"body\":");
        jbuf_json(&b, r->body);
    }
    if (r->content_type != NULL && jbuf_utf8_valid(r->content_type, strlen(r->content_type)))
        member_str(&b, "content_type", r->content_type);
    jbuf_addc(&b, '}');
    return jbuf_take(&b, len);
}

static char *
opt_strdup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* Member name of object j: NULL when absent; *bad set when present with the
 * wrong type (what json_unpack's "s?:s" / "s?:I" refused). */
static const char *
opt_string(const json_t *j, const char *name, bool *bad)
{
    json_t *v = json_object_get(j, name);

    if (v != NULL && !json_is_string(v))
        *bad = true;
    return json_string_value(v);
}

static json_int_t
opt_integer(const json_t *j, const char *name, bool *bad)
{
    json_t *v = json_object_get(j, name);

    if (v != NULL && !json_is_integer(v))
        *bad = true;
    return json_integer_value(v);
}

int
wire_request_decode(const char *buf, size_t len, struct wire_request *out)
{
    json_t     *j = jbuf_loadb(buf, len, 0), *caller, *params, *body;
    const char *rid, *cmd, *user = NULL, *role = NULL, *ct;
    json_int_t  deadline;
    bool        bad = false;
    int         rc = -1;

    memset(out, 0, sizeof(*out));
    if (j == NULL)
        return -1;
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "v")))
        goto done;
    rid = json_string_value(json_object_get(j, "rid"));
    cmd = json_string_value(json_object_get(j, "cmd"));
    deadline = opt_integer(j, "deadline", &bad);
    if ((caller = json_object_get(j, "caller")) != NULL) {
        if (!json_is_object(caller))
            goto done;
        user = opt_string(caller, "user", &bad);
        role = opt_string(caller, "role", &bad);
    }
    params = json_object_get(j, "params");
    body = json_object_get(j, "body");
    ct = opt_string(j, "content_type", &bad);
    if (bad || rid == NULL || cmd == NULL)
        goto done;
    if (json_integer_value(json_object_get(j, "v")) != WIRE_VERSION ||
        strlen(rid) > WIRE_RID_LEN || wire_cmd_parse(cmd, &out->cmd) != 0)
        goto done;
    if (params != NULL && !json_is_object(params))
        goto done;
    strcpy(out->rid, rid);
    out->deadline_ms = deadline;
    out->user = opt_strdup(user);
    out->role = opt_strdup(role);
    out->params = params ? json_incref(params) : json_object();
    out->body = (body && !json_is_null(body)) ? json_incref(body) : NULL;
    out->content_type = opt_strdup(ct);
    rc = 0;
done:
    json_decref(j);
    return rc;
}

int
wire_reply_decode(const char *buf, size_t len, struct wire_reply *out)
{
    json_t     *j = jbuf_loadb(buf, len, 0);
    const char *rid, *error, *details, *ct;
    json_int_t  status;
    bool        bad = false;
    int         rc = -1;

    memset(out, 0, sizeof(*out));
    if (j == NULL)
        return -1;
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "v")) ||
        !json_is_integer(json_object_get(j, "status")))
        goto done;
    rid = json_string_value(json_object_get(j, "rid"));
    status = json_integer_value(json_object_get(j, "status"));
    error = opt_string(j, "error", &bad);
    details = opt_string(j, "details", &bad);
    ct = opt_string(j, "content_type", &bad);
    if (bad || rid == NULL)
        goto done;
    if (json_integer_value(json_object_get(j, "v")) != WIRE_VERSION ||
        strlen(rid) > WIRE_RID_LEN || status < 100 || status > 599)
        goto done;
    strcpy(out->rid, rid);
    out->status = (int) status;
    out->error = error ? err_from_name(error) : ERR_OK;
    out->details = opt_strdup(details);
    out->body = json_object_get(j, "body") ? json_incref(json_object_get(j, "body")) : NULL;
    out->content_type = opt_strdup(ct);
    rc = 0;
done:
    json_decref(j);
    return rc;
}

void
wire_request_cleanup(struct wire_request *r)
{
    free(r->user);
    free(r->role);
    free(r->content_type);
    json_decref(r->params);
    json_decref(r->body);
    memset(r, 0, sizeof(*r));
}

void
wire_reply_cleanup(struct wire_reply *r)
{
    free(r->details);
    free(r->content_type);
    json_decref(r->body);
    memset(r, 0, sizeof(*r));
}

void
wire_reply_set_error(struct wire_reply *r, enum err_code e, const char *details)
{
    r->error = e;
    r->status = err_http_status(e) ? err_http_status(e) : 500;
    free(r->details);
    r->details = opt_strdup(details);
    json_decref(r->body);
    r->body = NULL;
}
