/* message_validate.h - the rules of a POST /v1/messages body (spec/API.md §6.1):
 * every type, every field, every documented limit. A pure function: no I/O,
 * no allocation that outlives the call, no knowledge of PostgreSQL, ZeroMQ or
 * HTTP. Phone-number normalisation comes in through a callback, so the caller
 * decides which parser (and which business country) applies.
 * Choices where the spec leaves room are listed in docs/compat-messages.md. */
#ifndef COREAPP_MESSAGE_VALIDATE_H
#define COREAPP_MESSAGE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "common/errors.h"

enum msg_type {
    MSG_TEXT, MSG_IMAGE, MSG_AUDIO, MSG_VIDEO, MSG_DOCUMENT, MSG_STICKER,
    MSG_LOCATION, MSG_CONTACTS, MSG_INTERACTIVE, MSG_TEMPLATE, MSG_HSM, MSG_REACTION,
    MSG__COUNT
};

#define MSG_TO_MAX      64      /* wa_id (≤15 digits) or group id, with room */
#define MSG_TEXT_MAX    4096    /* text.body, in characters (code points) */

/* Turns the caller's `to` (a wa_id or, since v2.39.1, a phone number in any
 * common notation) into a wa_id: E.164 digits without '+'. Writes a
 * NUL-terminated string into out (size outlen) and returns ERR_OK, or returns
 * ERR_USER_NOT_VALID when input is not a phone number. */
typedef enum err_code (*msg_normalize_fn)(const char *input, char *out, size_t outlen,
                                          void *arg);

struct msg_ctx {
    const char       *self_wa_id;     /* the business's wa_id; NULL skips the 1021 check */
    const char       *default_cc;     /* its country calling code ("1"), for national numbers */
    msg_normalize_fn  normalize;      /* NULL: msg_normalize_phone(..., default_cc) */
    void             *normalize_arg;
};

/* A valid message. Pointers are borrowed from the body passed in. */
struct msg_valid {
    enum msg_type  type;
    bool           group;              /* recipient_type "group" */
    char           to[MSG_TO_MAX];     /* normalised wa_id, or the group id */
    const json_t  *object;             /* the type object (an array for contacts) */
};

/* Checks body (the parsed request) against every rule of §6.1. On ERR_OK
 * *out describes the message. Otherwise returns the documented error
 * (ERR_PARAM_MISSING 1008, ERR_PARAM_INVALID 1009, ERR_PARAM_NOT_REQUIRED
 * 1010, ERR_MESSAGE_TOO_LONG 1001, ERR_INVALID_RECIPIENT_TYPE 1002,
 * ERR_USER_NOT_VALID 1013, ERR_BAD_USER 1021, ERR_NAMESPACE_EMPTY 2014,
 * ERR_INVALID_SECTIONS 2015, ERR_INVALID_ROWS 2016, ERR_INVALID_PRODUCT_COUNT
 * 2023, ERR_INVALID_HEADER 2036) and writes details into details (size
 * detlen), starting with the offending field's path, e.g.
 * "interactive.action.sections[0].rows[2].title: longer than 24 characters". */
enum err_code msg_validate(const json_t *body, const struct msg_ctx *ctx,
                           struct msg_valid *out, char *details, size_t detlen)
    __attribute__((warn_unused_result));

/* The API name of a type ("text", "image", ...); static storage. */
const char *msg_type_name(enum msg_type t);

/* The normaliser of spec/CLARIFICATIONS.md §1 (common/phone.h), arg being the
 * business's country calling code (const char *, may be NULL): a number in any
 * notation, international or national. When that fails, a string of digits
 * that is a valid international number as it stands is taken as a wa_id, the
 * form contacts and webhooks give, so a wa_id of another country works even
 * though a national reading of it does not. */
enum err_code msg_normalize_phone(const char *input, char *out, size_t outlen, void *arg);

/* Number of Unicode code points in a UTF-8 string. */
size_t msg_utf8_len(const char *s);

#endif /* COREAPP_MESSAGE_VALIDATE_H */
