/* errors.h - the error codes of the API, expanded from errors.def so that the
 * enum, the documented code, the HTTP status and the title cannot drift apart.
 * Knows nothing about JSON or HTTP libraries. */
#ifndef COMMON_ERRORS_H
#define COMMON_ERRORS_H

enum err_code {
#define ERR_DEF(name, http, code, title) name,
#include "common/errors.def"
#undef ERR_DEF
    ERR__COUNT
};

/* HTTP status for a synchronous answer (0 for webhook-only codes). */
int err_http_status(enum err_code e);
/* The documented numeric code (e.g. 1006). */
int err_api_code(enum err_code e);
/* The documented title; static storage. */
const char *err_title(enum err_code e);
/* Name of the enum constant ("ERR_NOT_FOUND"); for logs and the wire. */
const char *err_name(enum err_code e);
/* Reverse of err_name(); returns ERR_GENERIC for an unknown name. */
enum err_code err_from_name(const char *name);

#endif /* COMMON_ERRORS_H */
