/* envelope.h - the documented response envelope (spec/ENVELOPE.md §3): the
 * payload members beside "meta" and, on failure, "errors". The only builder of
 * envelopes; knows jansson and the error table, not HTTP. */
#ifndef COMMON_ENVELOPE_H
#define COMMON_ENVELOPE_H

#include <jansson.h>
#include "common/errors.h"

/* The client version reported in meta.version. */
#define WA_VERSION "v2.53.0"

/* Adds "meta" to payload (taken; NULL means an empty object) and returns it. */
json_t *envelope_ok(json_t *payload);
/* {"errors":[{"code","title","details"}],"meta":{...}}; details may be NULL. */
json_t *envelope_error(enum err_code e, const char *details);
/* Compact JSON text of env (borrowed); caller frees with free(). */
char *envelope_dump(const json_t *env, size_t *len);
/* The text of envelope_ok(payload) (payload taken), written without building
 * the envelope object when payload has no "meta" of its own. */
char *envelope_ok_text(json_t *payload, size_t *len);

#endif /* COMMON_ENVELOPE_H */
