/* links: */
/* test_envelope.c - the exact shapes of spec/ENVELOPE.md §3: the payload
 * members beside "meta" {version, api_status}, and on failure "errors":
 * [{code, title, details?}] beside "meta", with nothing else at the top. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include "common/envelope.h"
#include "common/xalloc.h"

/* meta is exactly {"version": WA_VERSION, "api_status": "stable"}. */
static void
check_meta(const json_t *env)
{
    json_t *meta = json_object_get(env, "meta");

    assert_non_null(meta);
    assert_true(json_is_object(meta));
    assert_int_equal(json_object_size(meta), 2);
    assert_true(json_is_string(json_object_get(meta, "version")));
    assert_string_equal(json_string_value(json_object_get(meta, "version")), WA_VERSION);
    assert_string_equal(json_string_value(json_object_get(meta, "api_status")), "stable");
}

/* env is {"errors": [{"code": code, "title": title[, "details": details]}],
 * "meta": {...}} and nothing more. */
static void
check_error_env(const json_t *env, int code, const char *title, const char *details)
{
    json_t *errors, *e;

    assert_true(json_is_object(env));
    assert_int_equal(json_object_size(env), 2);
    check_meta(env);
    errors = json_object_get(env, "errors");
    assert_true(json_is_array(errors));
    assert_int_equal(json_array_size(errors), 1);
    e = json_array_get(errors, 0);
    assert_true(json_is_object(e));
    assert_true(json_is_integer(json_object_get(e, "code")));
    assert_int_equal(json_integer_value(json_object_get(e, "code")), code);
    assert_true(json_is_string(json_object_get(e, "title")));
    assert_string_equal(json_string_value(json_object_get(e, "title")), title);
    if (details == NULL) {
        assert_int_equal(json_object_size(e), 2);
        assert_null(json_object_get(e, "details"));
    } else {
        assert_int_equal(json_object_size(e), 3);
        assert_true(json_is_string(json_object_get(e, "details")));
        assert_string_equal(json_string_value(json_object_get(e, "details")), details);
    }
}

/* CLARIFICATIONS §6: an empty answer is {"meta": {...}}. */
static void
test_ok_null_payload_is_meta_only(void **state)
{
    json_t *env = envelope_ok(NULL);

    (void) state;
    assert_true(json_is_object(env));
    assert_int_equal(json_object_size(env), 1);
    check_meta(env);
    json_decref(env);
}

static void
test_ok_keeps_payload(void **state)
{
    json_t *payload = json_pack("{s:[{s:s}]}", "messages", "id", "gBEGkYiEB1VXAglK1ZEqA1YKPrU");
    json_t *env = envelope_ok(payload);
    json_t *msgs;

    (void) state;
    assert_ptr_equal(env, payload);             /* the payload itself, taken */
    assert_int_equal(json_object_size(env), 2);
    check_meta(env);
    msgs = json_object_get(env, "messages");
    assert_true(json_is_array(msgs));
    assert_int_equal(json_array_size(msgs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "id")),
                        "gBEGkYiEB1VXAglK1ZEqA1YKPrU");
    assert_null(json_object_get(env, "errors"));
    json_decref(env);
}

static void
test_ok_empty_object(void **state)
{
    json_t *env = envelope_ok(json_object());

    (void) state;
    assert_int_equal(json_object_size(env), 1);
    check_meta(env);
    json_decref(env);
}

/* A payload that is not an object cannot carry "meta": it is released (no
 * leak under ASan) and replaced by an empty object. */
static void
test_ok_non_object_payload(void **state)
{
    json_t *bad[] = { json_array(), json_string("x"), json_integer(1), json_null(),
                      json_pack("[i,i]", 1, 2) };

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *env = envelope_ok(bad[i]);

        assert_true(json_is_object(env));
        assert_int_equal(json_object_size(env), 1);
        check_meta(env);
        json_decref(env);
    }
}

/* A payload cannot forge meta: envelope_ok writes the real one. */
static void
test_ok_overrides_payload_meta(void **state)
{
    json_t *env = envelope_ok(json_pack("{s:{s:s}, s:i}", "meta", "version", "forged",
                                        "n", 1));

    (void) state;
    assert_int_equal(json_object_size(env), 2);
    check_meta(env);
    json_decref(env);
}

static void
test_error_with_details(void **state)
{
    json_t *env = envelope_error(ERR_NOT_FOUND, "no such media");

    (void) state;
    check_error_env(env, 1006, "Resource not found", "no such media");
    json_decref(env);
}

static void
test_error_without_details(void **state)
{
    json_t *env = envelope_error(ERR_SERVICE_NOT_READY, NULL);
    json_t *env2 = envelope_error(ERR_SERVICE_NOT_READY, "");

    (void) state;
    check_error_env(env, 1011, "Service not ready", NULL);
    check_error_env(env2, 1011, "Service not ready", NULL);
    json_decref(env);
    json_decref(env2);
}

/* The documented examples of ENVELOPE.md §3 and ERRORS.md §4. */
static void
test_error_documented_examples(void **state)
{
    json_t *dup = envelope_error(ERR_INTERNAL, "Unable to create user. Already exist?");
    json_t *sunset = envelope_error(ERR_ACCESS_DENIED,
                                    "Unknown error: biz_link_on_prem_reg_blocked");
    json_t *cred = envelope_error(ERR_BAD_CREDENTIALS, NULL);

    (void) state;
    check_error_env(dup, 1014, "Internal error", "Unable to create user. Already exist?");
    check_error_env(sunset, 1005, "Access denied",
                    "Unknown error: biz_link_on_prem_reg_blocked");
    check_error_env(cred, 1005, "Access denied", NULL);
    json_decref(dup);
    json_decref(sunset);
    json_decref(cred);
}

/* Every row of the table makes a well-formed error envelope. */
static void
test_error_every_code(void **state)
{
    (void) state;
    for (int i = 1; i < ERR__COUNT; i++) {
        json_t *env = envelope_error((enum err_code) i, "d");

        check_error_env(env, err_api_code((enum err_code) i), err_title((enum err_code) i),
                        "d");
        json_decref(env);
    }
}

/* Details that are not UTF-8 (e.g. from a client's bytes) still give a valid
 * JSON document with a details string. */
static void
test_error_details_not_utf8(void **state)
{
    json_t     *env = envelope_error(ERR_PARAM_INVALID, "bad \xff\xfe bytes");
    json_t     *e;
    const char *d;
    char       *s;

    (void) state;
    assert_non_null(env);
    e = json_array_get(json_object_get(env, "errors"), 0);
    assert_int_equal(json_integer_value(json_object_get(e, "code")), 1009);
    d = json_string_value(json_object_get(e, "details"));
    assert_non_null(d);
    assert_null(strchr(d, '\xff'));
    s = envelope_dump(env, NULL);
    assert_non_null(s);
    free(s);
    json_decref(env);
}

/* Quotes, backslashes, newlines and control characters are escaped, and the
 * dump is one compact line that parses back to the same document. */
static void
test_dump_escapes_and_round_trips(void **state)
{
    const char *details = "he said \"no\"\\ then\nleft\t\x01 <script>";
    json_t     *env = envelope_error(ERR_PARAM_INVALID, details);
    json_t     *back;
    size_t      len = 0;
    char       *s = envelope_dump(env, &len);

    (void) state;
    assert_non_null(s);
    assert_int_equal(len, strlen(s));
    assert_null(strchr(s, '\n'));
    assert_null(strstr(s, "\": "));              /* compact: no space after ':' */
    back = json_loads(s, 0, NULL);
    assert_non_null(back);
    assert_true(json_equal(back, env));
    check_error_env(back, 1009, "Parameter value is not valid", details);
    json_decref(back);
    json_decref(env);
    free(s);
}

static void
test_dump_ok_envelope(void **state)
{
    json_t *env = envelope_ok(json_pack("{s:[{s:s, s:s}]}", "users", "token", "a.b.c",
                                        "expires_after", "2021-09-14 15:29:26+00:00"));
    size_t  len = 0;
    char   *s = envelope_dump(env, &len);
    json_t *back = json_loadb(s, len, 0, NULL);

    (void) state;
    assert_non_null(back);
    assert_true(json_equal(back, env));
    check_meta(back);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(back, "users"), 0), "token")),
                        "a.b.c");
    json_decref(back);
    json_decref(env);
    free(s);
}

static void
test_dump_exact_empty(void **state)
{
    json_t *env = envelope_ok(NULL);
    char   *s = envelope_dump(env, NULL);

    (void) state;
    assert_string_equal(s, "{\"meta\":{\"version\":\"" WA_VERSION "\",\"api_status\":\"stable\"}}");
    json_decref(env);
    free(s);
}

/* Long details go through whole. */
static void
test_error_long_details(void **state)
{
    size_t  n = 100000;
    char   *d = xmalloc(n + 1);
    json_t *env;

    (void) state;
    memset(d, 'x', n);
    d[n] = '\0';
    env = envelope_error(ERR_GENERIC, d);
    check_error_env(env, 1000, "Generic error", d);
    json_decref(env);
    free(d);
}

/* envelope_ok_text() is the text of envelope_ok(), whatever the payload. */
static void
test_ok_text_matches(void **state)
{
    const char *const cases[] = {
        "{}", "{\"messages\":[{\"id\":\"gBEG\"}]}", "{\"a\":1,\"b\":{\"c\":[true,null]}}",
        "{\"meta\":{\"version\":\"forged\"},\"x\":1}", "[1,2]", "\"text\"",
    };

    (void) state;
    for (size_t i = 0; i <= sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = i < 6 ? json_loads(cases[i], JSON_DECODE_ANY, NULL) : NULL;
        json_t *b = a ? json_deep_copy(a) : NULL;
        json_t *env = envelope_ok(a);
        size_t  want_len, got_len;
        char   *want = envelope_dump(env, &want_len), *got = envelope_ok_text(b, &got_len);

        assert_string_equal(got, want);
        assert_int_equal(got_len, want_len);
        free(want);
        free(got);
        json_decref(env);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_null_payload_is_meta_only),
        cmocka_unit_test(test_ok_keeps_payload),
        cmocka_unit_test(test_ok_empty_object),
        cmocka_unit_test(test_ok_non_object_payload),
        cmocka_unit_test(test_ok_overrides_payload_meta),
        cmocka_unit_test(test_error_with_details),
        cmocka_unit_test(test_error_without_details),
        cmocka_unit_test(test_error_documented_examples),
        cmocka_unit_test(test_error_every_code),
        cmocka_unit_test(test_error_details_not_utf8),
        cmocka_unit_test(test_dump_escapes_and_round_trips),
        cmocka_unit_test(test_dump_ok_envelope),
        cmocka_unit_test(test_dump_exact_empty),
        cmocka_unit_test(test_error_long_details),
        cmocka_unit_test(test_ok_text_matches),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
