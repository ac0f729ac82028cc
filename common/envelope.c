/* envelope.c - payload + meta + errors. */
#include <stdlib.h>
#include "common/envelope.h"
#include "common/xalloc.h"

static json_t *
meta_new(void)
{
    return json_pack("{s:s, s:s}", "version", WA_VERSION, "api_status", "stable");
}

json_t *
envelope_ok(json_t *payload)
{
    if (payload == NULL || !json_is_object(payload)) {
        json_decref(payload);
        payload = json_object();
    }
    json_object_set_new(payload, "meta", meta_new());
    return payload;
}

json_t *
envelope_error(enum err_code e, const char *details)
{
    json_t *err = json_pack("{s:i, s:s}", "code", err_api_code(e), "title", err_title(e));

    if (details != NULL && details[0] != '\0') {
        json_t *d = json_string(details);       /* NULL if not UTF-8 */
        json_object_set_new(err, "details",
                            d ? d : json_string("(details were not valid UTF-8)"));
    }
    return json_pack("{s:[o], s:o}", "errors", err, "meta", meta_new());
}

char *
envelope_dump(const json_t *env, size_t *len)
{
    char *s = json_dumps(env, JSON_COMPACT);

    if (s == NULL)
        xalloc_die(0);
    if (len != NULL)
        *len = strlen(s);
    return s;
}
