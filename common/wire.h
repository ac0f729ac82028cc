/* wire.h - the frames between webapp and coreapp (ZeroMQ DEALER -> ROUTER).
 *
 * A request is one or two ZeroMQ frames: a JSON header and, for binary
 * bodies (media, photos, icons), the raw bytes as a second frame:
 *   {"v":1,"rid":"<request id>","cmd":"messages.send","deadline":<epoch ms>,
 *    "caller":{"user":"admin","role":"ROLE_ADMIN"},
 *    "params":{...path and query parameters...},"body":<JSON or null>,
 *    "content_type":"image/jpeg"}
 * A reply is a JSON header, plus a second frame for a binary answer:
 *   {"v":1,"rid":"...","status":200,"body":{...payload...}}
 *   {"v":1,"rid":"...","status":404,"error":"ERR_NOT_FOUND","details":"..."}
 *   {"v":1,"rid":"...","status":200,"content_type":"image/jpeg"} + bytes
 * A batch carries several headers without binary frames in one ZeroMQ
 * message: an empty frame, then one header per frame. Each side sends what
 * one turn of its event loop produced as one batch (webapp/proxy.c,
 * coreapp/dispatch.c): under load that is one message per turn rather than
 * one per request, and each message costs a wake-up of libzmq's I/O thread.
 * The coreapp drops requests whose deadline has passed: the webapp already
 * answered 503, so acting on them would surprise the client.
 * Pure encoding: no ZeroMQ here (see webapp/proxy.c, coreapp/dispatch.c). */
#ifndef COMMON_WIRE_H
#define COMMON_WIRE_H

#include <stdint.h>
#include <jansson.h>
#include "common/errors.h"

#define WIRE_VERSION 1
#define WIRE_RID_LEN 16

enum wire_cmd {
#define WIRE_CMD(id, name) id,
#include "common/wire_cmds.def"
#undef WIRE_CMD
    WIRE__COUNT
};

const char *wire_cmd_name(enum wire_cmd c);
/* Returns 0 and sets *out, or -1 if unknown. */
int wire_cmd_parse(const char *name, enum wire_cmd *out);

struct wire_request {
    char           rid[WIRE_RID_LEN + 1];
    enum wire_cmd  cmd;
    int64_t        deadline_ms;
    char          *user;          /* owned */
    char          *role;          /* owned */
    json_t        *params;        /* owned, object, never NULL after decode */
    json_t        *body;          /* owned, may be NULL */
    char          *content_type;  /* owned, may be NULL */
};

struct wire_reply {
    char           rid[WIRE_RID_LEN + 1];
    int            status;        /* HTTP status */
    enum err_code  error;         /* ERR_OK on success */
    char          *details;       /* owned, may be NULL */
    json_t        *body;          /* owned payload, may be NULL */
    char          *content_type;  /* owned; set when a binary frame follows */
};

/* Encode to a heap string (free()). */
char *wire_request_encode(const struct wire_request *r, size_t *len);
char *wire_reply_encode(const struct wire_reply *r, size_t *len);
/* Decode untrusted bytes; 0 on success (then *_cleanup), -1 if malformed. */
int wire_request_decode(const char *buf, size_t len, struct wire_request *out);
int wire_reply_decode(const char *buf, size_t len, struct wire_reply *out);
void wire_request_cleanup(struct wire_request *r);
void wire_reply_cleanup(struct wire_reply *r);

/* A reply carrying error e with its documented HTTP status. */
void wire_reply_set_error(struct wire_reply *r, enum err_code e, const char *details);

#endif /* COMMON_WIRE_H */
