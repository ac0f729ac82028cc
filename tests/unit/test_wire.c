/* links: */
/* test_wire.c - webapp<->coreapp frame headers: command names, encode/decode
 * round trips, and malformed frames, which must give -1 without crashing or
 * leaking (run under ASan), plus a fixed-seed fuzz loop over both decoders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include "common/wire.h"
#include "common/xalloc.h"

/* ---- commands ------------------------------------------------------------ */

static void
test_cmd_names_round_trip(void **state)
{
    (void) state;
    for (int i = 0; i < WIRE__COUNT; i++) {
        enum wire_cmd c = WIRE__COUNT;
        const char   *n = wire_cmd_name((enum wire_cmd) i);

        assert_non_null(n);
        assert_true(n[0] != '\0');
        assert_int_equal(wire_cmd_parse(n, &c), 0);
        assert_int_equal(c, i);
        for (int j = i + 1; j < WIRE__COUNT; j++)
            assert_string_not_equal(n, wire_cmd_name((enum wire_cmd) j));
    }
    assert_string_equal(wire_cmd_name(WIRE_MESSAGE_SEND), "messages.send");
    assert_string_equal(wire_cmd_name(WIRE_HEALTH), "health");
}

static void
test_cmd_unknown(void **state)
{
    enum wire_cmd c = WIRE_HEALTH;

    (void) state;
    assert_int_equal(wire_cmd_parse("", &c), -1);
    assert_int_equal(wire_cmd_parse("messages.sen", &c), -1);
    assert_int_equal(wire_cmd_parse("messages.send ", &c), -1);
    assert_int_equal(wire_cmd_parse("MESSAGES.SEND", &c), -1);
    assert_int_equal(wire_cmd_parse("?", &c), -1);
    assert_string_equal(wire_cmd_name(WIRE__COUNT), "?");
    assert_string_equal(wire_cmd_name((enum wire_cmd) -1), "?");
    assert_string_equal(wire_cmd_name((enum wire_cmd) 100000), "?");
}

/* ---- requests ------------------------------------------------------------ */

static void
test_request_round_trip_full(void **state)
{
    struct wire_request r = { 0 }, d;
    size_t              len = 0;
    char               *s;

    (void) state;
    strcpy(r.rid, "0123456789abcdef");            /* exactly WIRE_RID_LEN */
    r.cmd = WIRE_MEDIA_UPLOAD;
    r.deadline_ms = 1764093600123LL;
    r.user = "admin";
    r.role = "ROLE_ADMIN";
    r.params = json_pack("{s:s, s:s}", "id", "f7a1", "format", "prometheus");
    r.body = json_pack("{s:s, s:[i,i], s:n}", "to", "16315551002", "n", 1, 2, "z");
    r.content_type = "image/jpeg";
    s = wire_request_encode(&r, &len);
    assert_non_null(s);
    assert_int_equal(len, strlen(s));

    assert_int_equal(wire_request_decode(s, len, &d), 0);
    assert_string_equal(d.rid, r.rid);
    assert_int_equal(d.cmd, WIRE_MEDIA_UPLOAD);
    assert_true(d.deadline_ms == r.deadline_ms);
    assert_string_equal(d.user, "admin");
    assert_string_equal(d.role, "ROLE_ADMIN");
    assert_true(json_equal(d.params, r.params));
    assert_true(json_equal(d.body, r.body));
    assert_string_equal(d.content_type, "image/jpeg");
    wire_request_cleanup(&d);
    assert_null(d.user);                         /* cleanup leaves it zeroed */
    assert_null(d.params);

    json_decref(r.params);
    json_decref(r.body);
    free(s);
}

/* Every command survives the trip. */
static void
test_request_round_trip_every_cmd(void **state)
{
    (void) state;
    for (int i = 0; i < WIRE__COUNT; i++) {
        struct wire_request r = { 0 }, d;
        size_t              len;
        char               *s;

        snprintf(r.rid, sizeof(r.rid), "rid%d", i);
        r.cmd = (enum wire_cmd) i;
        r.user = "u";
        r.role = "ROLE_USER";
        r.params = json_object();
        s = wire_request_encode(&r, &len);
        assert_int_equal(wire_request_decode(s, len, &d), 0);
        assert_int_equal(d.cmd, i);
        assert_string_equal(d.rid, r.rid);
        wire_request_cleanup(&d);
        json_decref(r.params);
        free(s);
    }
}

/* Encodes r and decodes the result into d; the encoded text is freed before
 * returning, so a failed assertion in the caller leaks nothing of it. */
static int
encode_decode(const struct wire_request *r, struct wire_request *d)
{
    size_t len;
    char  *s = wire_request_encode(r, &len);
    int    rc;

    assert_non_null(s);
    rc = wire_request_decode(s, len, d);
    free(s);
    return rc;
}

/* The optional members may all be absent: no caller (an Apikey call to the
 * monitoring nodes has no user), no params, no body, no content type. The
 * encoder's output must be accepted by the decoder in that case too. */
static void
test_request_round_trip_minimal(void **state)
{
    struct wire_request r = { 0 }, d;

    (void) state;
    strcpy(r.rid, "r1");
    r.cmd = WIRE_HEALTH;
    assert_int_equal(encode_decode(&r, &d), 0);
    assert_string_equal(d.rid, "r1");
    assert_int_equal(d.cmd, WIRE_HEALTH);
    assert_null(d.user);
    assert_null(d.role);
    assert_non_null(d.params);                   /* "never NULL after decode" */
    assert_true(json_is_object(d.params));
    assert_int_equal(json_object_size(d.params), 0);
    assert_null(d.body);
    assert_null(d.content_type);
    wire_request_cleanup(&d);
}

/* The parts of the case above, so a failure says which one breaks. */
static void
test_request_round_trip_no_user(void **state)
{
    struct wire_request r = { 0 }, d;
    int                 rc;

    (void) state;
    strcpy(r.rid, "r3");
    r.cmd = WIRE_STATS_APP;
    r.role = "ROLE_USER";                        /* user NULL */
    r.params = json_object();
    rc = encode_decode(&r, &d);
    json_decref(r.params);
    assert_int_equal(rc, 0);
    assert_null(d.user);
    assert_string_equal(d.role, "ROLE_USER");
    wire_request_cleanup(&d);
}

static void
test_request_round_trip_no_role(void **state)
{
    struct wire_request r = { 0 }, d;
    int                 rc;

    (void) state;
    strcpy(r.rid, "r3");
    r.cmd = WIRE_STATS_APP;
    r.user = "admin";                            /* role NULL */
    r.params = json_object();
    rc = encode_decode(&r, &d);
    json_decref(r.params);
    assert_int_equal(rc, 0);
    assert_string_equal(d.user, "admin");
    assert_null(d.role);
    wire_request_cleanup(&d);
}

static void
test_request_round_trip_no_params(void **state)
{
    struct wire_request r = { 0 }, d;

    (void) state;
    strcpy(r.rid, "r4");
    r.cmd = WIRE_STATS_DB;
    r.user = "admin";
    r.role = "ROLE_ADMIN";                       /* params NULL */
    assert_int_equal(encode_decode(&r, &d), 0);
    assert_true(json_is_object(d.params));
    assert_int_equal(json_object_size(d.params), 0);
    wire_request_cleanup(&d);
}

/* Same with a user and params but nothing else (a plain GET). */
static void
test_request_round_trip_no_body(void **state)
{
    struct wire_request r = { 0 }, d;
    size_t              len;
    char               *s;

    (void) state;
    strcpy(r.rid, "r2");
    r.cmd = WIRE_GROUP_GET;
    r.user = "alice";
    r.role = "ROLE_USER";
    r.params = json_pack("{s:s}", "id", "g1");
    s = wire_request_encode(&r, &len);
    assert_int_equal(wire_request_decode(s, len, &d), 0);
    assert_null(d.body);
    assert_null(d.content_type);
    assert_string_equal(json_string_value(json_object_get(d.params, "id")), "g1");
    wire_request_cleanup(&d);
    json_decref(r.params);
    free(s);
}

/* Hand-written frames the decoder accepts. */
static void
test_request_decode_accepts(void **state)
{
    static const char *ok[] = {
        "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\"}",
        "{\"v\":1,\"rid\":\"\",\"cmd\":\"health\"}",
        "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"body\":null}",
        "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"caller\":{}}",
        "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"unknown\":[1,2,3]}",
        "{\"v\":1,\"rid\":\"a\",\"cmd\":\"messages.send\",\"body\":[1]}",
        "  {\"v\":1,\"rid\":\"a\",\"cmd\":\"health\"}  \n",
    };

    (void) state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct wire_request d;

        if (wire_request_decode(ok[i], strlen(ok[i]), &d) != 0)
            fail_msg("rejected: %s", ok[i]);
        assert_non_null(d.params);
        wire_request_cleanup(&d);
    }
}

static const char *const bad_requests[] = {
    "",
    " ",
    "not json",
    "{",
    "null",
    "1",
    "\"str\"",
    "[]",
    "[{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\"}]",
    "{}",
    /* version */
    "{\"rid\":\"a\",\"cmd\":\"health\"}",
    "{\"v\":2,\"rid\":\"a\",\"cmd\":\"health\"}",
    "{\"v\":0,\"rid\":\"a\",\"cmd\":\"health\"}",
    "{\"v\":-1,\"rid\":\"a\",\"cmd\":\"health\"}",
    "{\"v\":\"1\",\"rid\":\"a\",\"cmd\":\"health\"}",
    "{\"v\":1.0,\"rid\":\"a\",\"cmd\":\"health\"}",
    "{\"v\":null,\"rid\":\"a\",\"cmd\":\"health\"}",
    "{\"v\":4294967297,\"rid\":\"a\",\"cmd\":\"health\"}",
    /* rid */
    "{\"v\":1,\"cmd\":\"health\"}",
    "{\"v\":1,\"rid\":\"0123456789abcdefg\",\"cmd\":\"health\"}",      /* 17 */
    "{\"v\":1,\"rid\":\"0123456789abcdef0123456789abcdef0123456789\",\"cmd\":\"health\"}",
    "{\"v\":1,\"rid\":7,\"cmd\":\"health\"}",
    "{\"v\":1,\"rid\":null,\"cmd\":\"health\"}",
    "{\"v\":1,\"rid\":[\"a\"],\"cmd\":\"health\"}",
    "{\"v\":1,\"rid\":\"a\\u0000b\",\"cmd\":\"health\"}",
    /* cmd */
    "{\"v\":1,\"rid\":\"a\"}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"nope\"}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"\"}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"?\"}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":3}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":null}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":{\"x\":1}}",
    /* wrong types of optional members */
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"deadline\":\"soon\"}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"deadline\":1.5}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"caller\":\"admin\"}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"caller\":[]}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"caller\":{\"user\":1}}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"caller\":{\"role\":[]}}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"params\":[]}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"params\":\"x\"}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"params\":5}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"content_type\":5}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",\"content_type\":{}}",
    /* syntax */
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\"",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\"}}",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\"} x",
    "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\",}",
    "{'v':1,'rid':'a','cmd':'health'}",
    "{\"v\":1,\"rid\":\"a\xff\",\"cmd\":\"health\"}",
};

static void
test_request_decode_rejects(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
        struct wire_request d;

        memset(&d, 0x5a, sizeof(d));
        if (wire_request_decode(bad_requests[i], strlen(bad_requests[i]), &d) != -1) {
            wire_request_cleanup(&d);
            fail_msg("accepted: %s", bad_requests[i]);
        }
        /* out is zeroed on failure, so a cleanup is harmless */
        assert_null(d.user);
        assert_null(d.role);
        assert_null(d.params);
        assert_null(d.body);
        assert_null(d.content_type);
        wire_request_cleanup(&d);
    }
}

/* The decoder reads exactly len bytes: no NUL terminator needed, and bytes
 * after len are not looked at; a NUL inside len is malformed. */
static void
test_request_decode_honours_len(void **state)
{
    const char          ok[] = "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\"}";
    char               *buf = xmalloc(sizeof(ok) - 1);
    char                withnul[sizeof(ok) + 1];
    struct wire_request d;

    (void) state;
    memcpy(buf, ok, sizeof(ok) - 1);             /* not NUL-terminated */
    assert_int_equal(wire_request_decode(buf, sizeof(ok) - 1, &d), 0);
    wire_request_cleanup(&d);
    assert_int_equal(wire_request_decode(buf, sizeof(ok) - 2, &d), -1);   /* truncated */
    assert_int_equal(wire_request_decode(buf, 0, &d), -1);
    free(buf);

    memcpy(withnul, ok, sizeof(ok));             /* "...}\0" + "x" */
    withnul[sizeof(ok)] = 'x';
    assert_int_equal(wire_request_decode(withnul, sizeof(withnul), &d), -1);
}

/* ---- replies ------------------------------------------------------------- */

static void
test_reply_round_trip_ok(void **state)
{
    struct wire_reply r = { 0 }, d;
    size_t            len;
    char             *s;

    (void) state;
    strcpy(r.rid, "fedcba9876543210");
    r.status = 201;
    r.body = json_pack("{s:[{s:s}]}", "messages", "id", "gBEG");
    s = wire_reply_encode(&r, &len);
    assert_int_equal(len, strlen(s));
    assert_int_equal(wire_reply_decode(s, len, &d), 0);
    assert_string_equal(d.rid, r.rid);
    assert_int_equal(d.status, 201);
    assert_int_equal(d.error, ERR_OK);
    assert_null(d.details);
    assert_true(json_equal(d.body, r.body));
    assert_null(d.content_type);
    wire_reply_cleanup(&d);
    assert_null(d.body);
    json_decref(r.body);
    free(s);
}

static void
test_reply_round_trip_error(void **state)
{
    struct wire_reply r = { 0 }, d;
    size_t            len;
    char             *s;

    (void) state;
    strcpy(r.rid, "x");
    wire_reply_set_error(&r, ERR_NOT_FOUND, "no media \"f7a1\"");
    assert_int_equal(r.status, 404);
    s = wire_reply_encode(&r, &len);
    assert_int_equal(wire_reply_decode(s, len, &d), 0);
    assert_int_equal(d.status, 404);
    assert_int_equal(d.error, ERR_NOT_FOUND);
    assert_string_equal(d.details, "no media \"f7a1\"");
    assert_null(d.body);
    wire_reply_cleanup(&d);
    wire_reply_cleanup(&r);
    free(s);
}

/* Every error row travels by name and comes back as itself. */
static void
test_reply_round_trip_every_error(void **state)
{
    (void) state;
    for (int i = 1; i < ERR__COUNT; i++) {
        struct wire_reply r = { 0 }, d;
        size_t            len;
        char             *s;

        strcpy(r.rid, "e");
        wire_reply_set_error(&r, (enum err_code) i, NULL);
        assert_true(r.status >= 400 && r.status <= 599);
        s = wire_reply_encode(&r, &len);
        assert_int_equal(wire_reply_decode(s, len, &d), 0);
        assert_int_equal(d.error, i);
        assert_int_equal(d.status, r.status);
        assert_null(d.details);
        wire_reply_cleanup(&d);
        wire_reply_cleanup(&r);
        free(s);
    }
}

static void
test_reply_round_trip_binary(void **state)
{
    struct wire_reply r = { 0 }, d;
    size_t            len;
    char             *s;

    (void) state;
    strcpy(r.rid, "b");
    r.status = 200;
    r.content_type = "image/jpeg";
    s = wire_reply_encode(&r, &len);
    assert_int_equal(wire_reply_decode(s, len, &d), 0);
    assert_string_equal(d.content_type, "image/jpeg");
    assert_null(d.body);
    assert_int_equal(d.error, ERR_OK);
    wire_reply_cleanup(&d);
    free(s);
}

/* set_error: the table's status (500 for webhook-only codes), the previous
 * body and details released (checked by ASan), details copied. */
static void
test_reply_set_error(void **state)
{
    struct wire_reply r = { 0 };
    char              details[] = "first";

    (void) state;
    r.body = json_pack("{s:i}", "x", 1);
    r.details = xstrdup("old");
    wire_reply_set_error(&r, ERR_PARAM_MISSING, details);
    details[0] = 'F';                            /* a copy was taken */
    assert_int_equal(r.status, 400);
    assert_int_equal(r.error, ERR_PARAM_MISSING);
    assert_string_equal(r.details, "first");
    assert_null(r.body);

    wire_reply_set_error(&r, ERR_BAD_CREDENTIALS, NULL);
    assert_int_equal(r.status, 401);
    assert_null(r.details);

    wire_reply_set_error(&r, ERR_MESSAGE_EXPIRED, "webhook-only code");
    assert_int_equal(r.status, 500);
    assert_int_equal(r.error, ERR_MESSAGE_EXPIRED);

    wire_reply_set_error(&r, ERR_SERVICE_NOT_READY, "d");
    assert_int_equal(r.status, 503);
    wire_reply_cleanup(&r);
}

/* An error name the decoder does not know (a newer coreapp) is generic. */
static void
test_reply_unknown_error_name(void **state)
{
    const char        f[] = "{\"v\":1,\"rid\":\"a\",\"status\":500,\"error\":\"ERR_FROM_THE_FUTURE\"}";
    struct wire_reply d;

    (void) state;
    assert_int_equal(wire_reply_decode(f, strlen(f), &d), 0);
    assert_int_equal(d.error, ERR_GENERIC);
    wire_reply_cleanup(&d);
}

static const char *const bad_replies[] = {
    "",
    "nope",
    "[]",
    "null",
    "{}",
    "{\"rid\":\"a\",\"status\":200}",
    "{\"v\":2,\"rid\":\"a\",\"status\":200}",
    "{\"v\":\"1\",\"rid\":\"a\",\"status\":200}",
    "{\"v\":1,\"status\":200}",
    "{\"v\":1,\"rid\":\"0123456789abcdefg\",\"status\":200}",
    "{\"v\":1,\"rid\":1,\"status\":200}",
    "{\"v\":1,\"rid\":\"a\"}",
    "{\"v\":1,\"rid\":\"a\",\"status\":\"200\"}",
    "{\"v\":1,\"rid\":\"a\",\"status\":200.0}",
    "{\"v\":1,\"rid\":\"a\",\"status\":99}",
    "{\"v\":1,\"rid\":\"a\",\"status\":600}",
    "{\"v\":1,\"rid\":\"a\",\"status\":0}",
    "{\"v\":1,\"rid\":\"a\",\"status\":-200}",
    "{\"v\":1,\"rid\":\"a\",\"status\":4294967496}",
    "{\"v\":1,\"rid\":\"a\",\"status\":200,\"error\":5}",
    "{\"v\":1,\"rid\":\"a\",\"status\":200,\"error\":null}",
    "{\"v\":1,\"rid\":\"a\",\"status\":200,\"details\":[]}",
    "{\"v\":1,\"rid\":\"a\",\"status\":200,\"content_type\":1}",
    "{\"v\":1,\"rid\":\"a\",\"status\":200",
    "{\"v\":1,\"rid\":\"a\",\"status\":200} {}",
};

static void
test_reply_decode_rejects(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(bad_replies) / sizeof(bad_replies[0]); i++) {
        struct wire_reply d;

        memset(&d, 0x5a, sizeof(d));
        if (wire_reply_decode(bad_replies[i], strlen(bad_replies[i]), &d) != -1) {
            wire_reply_cleanup(&d);
            fail_msg("accepted: %s", bad_replies[i]);
        }
        assert_null(d.details);
        assert_null(d.body);
        assert_null(d.content_type);
        wire_reply_cleanup(&d);
    }
}

/* ---- fuzz-style loop ----------------------------------------------------- */

static uint64_t rng_state;

static uint64_t
rng(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Random bytes, or a valid frame with a few bytes changed, inserted or cut. */
static size_t
fuzz_input(char *buf, size_t cap, const char *seed)
{
    size_t n;

    if (rng() % 3 == 0) {
        n = rng() % cap;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char) rng();
        return n;
    }
    n = strlen(seed);
    memcpy(buf, seed, n);
    for (int k = (int) (rng() % 4) + 1; k > 0; k--) {
        size_t at = rng() % (n + 1);
        switch (rng() % 4) {
        case 0:                                  /* replace */
            if (at < n)
                buf[at] = (char) rng();
            break;
        case 1:                                  /* replace by a JSON token char */
            if (at < n)
                buf[at] = "{}[]\":,0123456789.-eE tfn\\u"[rng() % 28];
            break;
        case 2:                                  /* insert */
            if (n + 1 < cap) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = (char) rng();
                n++;
            }
            break;
        default:                                 /* truncate */
            n = at;
            break;
        }
    }
    return n;
}

static void
test_fuzz_request_decode(void **state)
{
    static const char *seeds[] = {
        "{\"v\":1,\"rid\":\"0123456789abcdef\",\"cmd\":\"messages.send\",\"deadline\":1764093600123,"
        "\"caller\":{\"user\":\"admin\",\"role\":\"ROLE_ADMIN\"},\"params\":{\"id\":\"x\"},"
        "\"body\":{\"to\":\"1\",\"text\":{\"body\":\"hi\"}},\"content_type\":\"image/jpeg\"}",
        "{\"v\":1,\"rid\":\"a\",\"cmd\":\"health\"}",
    };
    char   buf[512];
    size_t accepted = 0;

    (void) state;
    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; i++) {
        struct wire_request d;
        size_t              n = fuzz_input(buf, sizeof(buf), seeds[i % 2]);
        int                 rc = wire_request_decode(buf, n, &d);

        assert_true(rc == 0 || rc == -1);
        if (rc == 0) {
            assert_true(strlen(d.rid) <= WIRE_RID_LEN);
            assert_true((unsigned) d.cmd < WIRE__COUNT);
            assert_true(json_is_object(d.params));
            accepted++;
        }
        wire_request_cleanup(&d);
    }
    assert_true(accepted > 0);                   /* the mutator reaches success too */
}

static void
test_fuzz_reply_decode(void **state)
{
    static const char *seeds[] = {
        "{\"v\":1,\"rid\":\"fedcba9876543210\",\"status\":404,\"error\":\"ERR_NOT_FOUND\","
        "\"details\":\"no such thing\",\"body\":{\"a\":[1,2,{\"b\":null}]},\"content_type\":\"a/b\"}",
        "{\"v\":1,\"rid\":\"a\",\"status\":200}",
    };
    char   buf[512];
    size_t accepted = 0;

    (void) state;
    rng_state = 0x243f6a8885a308d3ULL;
    for (int i = 0; i < 20000; i++) {
        struct wire_reply d, d2;
        size_t            n = fuzz_input(buf, sizeof(buf), seeds[i % 2]), len;
        int               rc = wire_reply_decode(buf, n, &d);
        char             *s;

        assert_true(rc == 0 || rc == -1);
        if (rc == 0) {
            assert_true(d.status >= 100 && d.status <= 599);
            assert_true(strlen(d.rid) <= WIRE_RID_LEN);
            assert_true((unsigned) d.error < ERR__COUNT);
            /* what was accepted re-encodes to something accepted */
            s = wire_reply_encode(&d, &len);
            assert_int_equal(wire_reply_decode(s, len, &d2), 0);
            assert_int_equal(d2.status, d.status);
            assert_int_equal(d2.error, d.error);
            wire_reply_cleanup(&d2);
            free(s);
            accepted++;
        }
        wire_reply_cleanup(&d);
    }
    assert_true(accepted > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_names_round_trip),
        cmocka_unit_test(test_cmd_unknown),
        cmocka_unit_test(test_request_round_trip_full),
        cmocka_unit_test(test_request_round_trip_every_cmd),
        cmocka_unit_test(test_request_round_trip_minimal),
        cmocka_unit_test(test_request_round_trip_no_user),
        cmocka_unit_test(test_request_round_trip_no_role),
        cmocka_unit_test(test_request_round_trip_no_params),
        cmocka_unit_test(test_request_round_trip_no_body),
        cmocka_unit_test(test_request_decode_accepts),
        cmocka_unit_test(test_request_decode_rejects),
        cmocka_unit_test(test_request_decode_honours_len),
        cmocka_unit_test(test_reply_round_trip_ok),
        cmocka_unit_test(test_reply_round_trip_error),
        cmocka_unit_test(test_reply_round_trip_every_error),
        cmocka_unit_test(test_reply_round_trip_binary),
        cmocka_unit_test(test_reply_set_error),
        cmocka_unit_test(test_reply_unknown_error_name),
        cmocka_unit_test(test_reply_decode_rejects),
        cmocka_unit_test(test_fuzz_request_decode),
        cmocka_unit_test(test_fuzz_reply_decode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
