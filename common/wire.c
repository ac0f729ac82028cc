/* wire.c - JSON headers of the webapp<->coreapp frames. */
#include <string.h>
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

static char *
dump_or_die(json_t *j, size_t *len)
{
    char *s = json_dumps(j, JSON_COMPACT);

    json_decref(j);
    if (s == NULL)
        xalloc_die(0);
    if (len)
        *len = strlen(s);
    return s;
}

char *
wire_request_encode(const struct wire_request *r, size_t *len)
{
    json_t *j = json_pack("{s:i, s:s, s:s, s:I, s:{s:s*, s:s*}, s:O*, s:O*}",
                          "v", WIRE_VERSION, "rid", r->rid, "cmd", wire_cmd_name(r->cmd),
                          "deadline", (json_int_t) r->deadline_ms,
                          "caller", "user", r->user, "role", r->role,
                          "params", r->params, "body", r->body);

    if (r->content_type)
        json_object_set_new(j, "content_type", json_string(r->content_type));
    return dump_or_die(j, len);
}

char *
wire_reply_encode(const struct wire_reply *r, size_t *len)
{
    json_t *j = json_pack("{s:i, s:s, s:i}", "v", WIRE_VERSION, "rid", r->rid,
                          "status", r->status);

    if (r->error != ERR_OK)
        json_object_set_new(j, "error", json_string(err_name(r->error)));
    if (r->details)
        json_object_set_new(j, "details", json_string(r->details));
    if (r->body)
        json_object_set(j, "body", r->body);
    if (r->content_type)
        json_object_set_new(j, "content_type", json_string(r->content_type));
    return dump_or_die(j, len);
}

static char *
opt_strdup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

int
wire_request_decode(const char *buf, size_t len, struct wire_request *out)
{
    json_t     *j = json_loadb(buf, len, 0, NULL);
    const char *rid = NULL, *cmd = NULL, *user = NULL, *role = NULL, *ct = NULL;
    json_int_t  v = 0, deadline = 0;
    json_t     *params = NULL, *body = NULL;
    int         rc = -1;

    memset(out, 0, sizeof(*out));
    if (j == NULL)
        return -1;
    if (json_unpack(j, "{s:I, s:s, s:s, s?:I, s?:{s?:s, s?:s}, s?:o, s?:o, s?:s}",
                    "v", &v, "rid", &rid, "cmd", &cmd, "deadline", &deadline,
                    "caller", "user", &user, "role", &role, "params", &params,
                    "body", &body, "content_type", &ct) != 0)
        goto done;
    if (v != WIRE_VERSION || strlen(rid) > WIRE_RID_LEN || wire_cmd_parse(cmd, &out->cmd) != 0)
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
    json_t     *j = json_loadb(buf, len, 0, NULL);
    const char *rid = NULL, *error = NULL, *details = NULL, *ct = NULL;
    json_int_t  v = 0, status = 0;
    json_t     *body = NULL;
    int         rc = -1;

    memset(out, 0, sizeof(*out));
    if (j == NULL)
        return -1;
    if (json_unpack(j, "{s:I, s:s, s:I, s?:s, s?:s, s?:o, s?:s}", "v", &v, "rid", &rid,
                    "status", &status, "error", &error, "details", &details,
                    "body", &body, "content_type", &ct) != 0)
        goto done;
    if (v != WIRE_VERSION || strlen(rid) > WIRE_RID_LEN || status < 100 || status > 599)
        goto done;
    strcpy(out->rid, rid);
    out->status = (int) status;
    out->error = error ? err_from_name(error) : ERR_OK;
    out->details = opt_strdup(details);
    out->body = body ? json_incref(body) : NULL;
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
