/* netproto.c - frames of the network link (see netproto.h). */
#include <string.h>
#include "common/jsonbuf.h"
#include "common/netproto.h"
#include "common/xalloc.h"

json_t *
netproto_new(const char *type)
{
    return json_pack("{s:i, s:s}", "v", NETPROTO_VERSION, "t", type);
}

void
netproto_begin(struct jbuf *b, const char *type)
{
    jbuf_adds(b, "{\"v\":");
    jbuf_int(b, NETPROTO_VERSION);
    jbuf_adds(b, ",\"t\":");
    jbuf_str(b, type, strlen(type));
}

char *
netproto_encode(const json_t *j, size_t *len)
{
    return jbuf_dumps(j, len);
}

json_t *
netproto_decode(const void *buf, size_t len, const char **why)
{
    json_t *j = jbuf_loadb(buf, len, JSON_REJECT_DUPLICATES);

    *why = NULL;
    if (j == NULL || !json_is_object(j)) {
        *why = "bad_json";
    } else if (json_integer_value(json_object_get(j, "v")) != NETPROTO_VERSION) {
        *why = "bad_version";
    } else if (!json_is_string(json_object_get(j, "t"))) {
        *why = "no_type";
    }
    if (*why != NULL) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static const struct {
    const char    *name;
    enum err_code  code;
} error_map[] = {
    { "bad_request",       ERR_PARAM_INVALID },
    { "bad_cert",          ERR_ACCESS_DENIED },
    { "cert_mismatch",     ERR_ACCESS_DENIED },
    { "pin_required",      ERR_PARAM_MISSING },
    { "pin_wrong",         ERR_ACCESS_DENIED },
    { "no_code",           ERR_PARAM_INVALID },
    { "bad_code",          ERR_PARAM_INVALID },
    { "code_expired",      ERR_PARAM_INVALID },
    { "not_registered",    ERR_SERVICE_NOT_READY },
    { "key_mismatch",      ERR_ACCESS_DENIED },
    { "not_authenticated", ERR_SERVICE_NOT_READY },
    { "not_found",         ERR_NOT_FOUND },
    { "too_many",          ERR_PARAM_INVALID },
};

enum err_code
netproto_error_code(const char *name)
{
    for (size_t i = 0; name && i < sizeof(error_map) / sizeof(error_map[0]); i++)
        if (strcmp(error_map[i].name, name) == 0)
            return error_map[i].code;
    return ERR_GENERIC;
}
