/* envelope.c - payload + meta + errors. */
#include <stdlib.h>
#include "common/envelope.h"
#include "common/jsonbuf.h"
#include "common/xalloc.h"

static json_t *
meta_new(void)
{
    return json_pack("{s:s, s:s}", "version", WA_VERSION, "api_status", "stable");
}

/* meta_new()'s text, as jbuf_json writes it. */
#define META_TEXT "\"meta\":{\"version\":\"" WA_VERSION "\",\"api_status\":\"stable\"}"

char *
envelope_ok_text(json_t *payload, size_t *len)
{
    struct jbuf b = JBUF_INIT;
    char       *text;

    if (payload != NULL && json_is_object(payload) && json_object_get(payload, "meta") == NULL) {
        /* meta goes last, where json_object_set_new() would have put it */
        jbuf_json(&b, payload);
        b.len--;                                         /* the closing brace */
        jbuf_adds(&b, json_object_size(payload) > 0 ? "," META_TEXT "}" : META_TEXT "}");
        json_decref(payload);
        return jbuf_take(&b, len);
    }
    payload = envelope_ok(payload);
    text = envelope_dump(payload, len);
    json_decref(payload);
    return text;
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
    return jbuf_dumps(env, len);
}
