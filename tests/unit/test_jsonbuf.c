/* links: */
/* test_jsonbuf.c - the fast JSON writer gives exactly json_dumps(JSON_COMPACT)'s
 * text, and the fast reader exactly json_loadb's value (or NULL): escapes,
 * numbers, nesting, key order, duplicates, invalid UTF-8, and fixed-seed
 * random loops over generated and mutated documents. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include "common/jsonbuf.h"

static void
same(const json_t *v)
{
    char  *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len;
    char  *got = jbuf_dumps(v, &len);

    assert_non_null(want);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(want);
    free(got);
}

static void
test_scalars_and_escapes(void **state)
{
    json_t *v;

    (void) state;
    v = json_pack("[s, s, s, s, I, I, I, f, f, b, b, n, s]", "", "plain",
                  "q\"b\\s/ \b\f\n\r\t \x01\x1f \x7f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                  (json_int_t) 0, (json_int_t) -9223372036854775807LL - 1,
                  (json_int_t) 9223372036854775807LL, 1.5, 1e300, 1, 0, "end");
    same(v);
    json_decref(v);
    v = json_stringn("nul\0inside", 10);
    same(v);
    json_decref(v);
}

static void
test_nesting_and_order(void **state)
{
    json_t *v;

    (void) state;
    v = json_pack("{s:s, s:{s:[], s:{}, s:[i, {s:n}]}, s:i, s:s}", "z", "first", "a", "x",
                  "y", "w", 1, "k", "m", 2, "b", "last");
    same(v);
    json_object_set_new(v, "z", json_string("replaced keeps its place"));
    json_object_del(v, "m");
    same(v);
    json_decref(v);
}

static json_t *
gen(unsigned *seed, int depth)
{
    int     kind = rand_r(seed) % (depth > 3 ? 5 : 7);
    json_t *v;
    char    s[16];
    int     n;

    switch (kind) {
    case 0: return json_integer((json_int_t) rand_r(seed) - RAND_MAX / 2);
    case 1: return json_boolean(rand_r(seed) & 1);
    case 2: return json_null();
    case 3: return json_real((double) rand_r(seed) / 7.0);
    case 4:
        n = rand_r(seed) % (int) sizeof(s);
        for (int i = 0; i < n; i++)
            s[i] = (char) (1 + rand_r(seed) % 127);      /* ASCII incl. controls */
        return json_stringn(s, (size_t) n);
    case 5:
        v = json_array();
        for (n = rand_r(seed) % 5; n > 0; n--)
            json_array_append_new(v, gen(seed, depth + 1));
        return v;
    default:
        v = json_object();
        for (n = rand_r(seed) % 5; n > 0; n--) {
            snprintf(s, sizeof(s), "k%d\t\"%d", rand_r(seed) % 10, n);
            json_object_set_new(v, s, gen(seed, depth + 1));
        }
        return v;
    }
}

static void
test_random_documents(void **state)
{
    unsigned seed = 4242;

    (void) state;
    for (int i = 0; i < 3000; i++) {
        json_t *v = gen(&seed, 0);

        same(v);
        json_decref(v);
    }
}

static void
test_buffer(void **state)
{
    struct jbuf b = JBUF_INIT;
    char       *s;
    size_t      len;

    (void) state;
    s = jbuf_take(&b, &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    jbuf_adds(&b, "x=");
    jbuf_int(&b, -42);
    jbuf_addc(&b, ' ');
    jbuf_str(&b, "a\"b", 3);
    assert_string_equal(b.p, "x=-42 \"a\\\"b\"");
    jbuf_reset(&b);
    assert_int_equal(b.len, 0);
    for (int i = 0; i < 10000; i++)
        jbuf_int(&b, i);
    assert_int_equal(b.len, 38890);
    jbuf_free(&b);
}

/* jbuf_loadb(text) must be what json_loadb(text) is: both NULL, or equal. */
static void
same_load(const char *text, size_t len, size_t flags)
{
    json_t *want = json_loadb(text, len, flags, NULL);
    json_t *got = jbuf_loadb(text, len, flags);

    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_true(json_equal(want, got));
    if (json_is_object(want)) {               /* and keys in the same order */
        char *a = json_dumps(want, JSON_COMPACT), *b = json_dumps(got, JSON_COMPACT);

        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    json_decref(want);
    json_decref(got);
}

static void
same_load_s(const char *text, size_t flags)
{
    same_load(text, strlen(text), flags);
}

static void
test_load_cases(void **state)
{
    static const char *const cases[] = {
        "{}", "[]", " { } ", "{\"a\":1}", "{\"a\":-0}", "{\"a\":01}", "{\"a\":1.5}",
        "{\"a\":1e3}", "{\"a\":123456789012345678}", "{\"a\":1234567890123456789}",
        "{\"a\":-9223372036854775808}", "{\"a\":9223372036854775808}", "{\"a\":+1}",
        "{\"a\":-}", "{\"a\":true,\"b\":false,\"c\":null}", "{\"a\":tru}", "{\"a\":truex}",
        "{\"a\":\"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\"}", "{\"a\":\"\\u00e9\"}", "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":\"\\q\"}", "{\"a\":\"caf\xc3\xa9\"}",
        "{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xf0\x9f\x98\x80\"}", "{\"a\":\"tab\there\"}",
        "{\"a\":1,\"a\":2}", "{\"a\":[1,2,[3,{\"b\":[]}]]}", "[1,2,]", "{\"a\":1,}", "{,}",
        "{\"a\" 1}", "{\"a\":1} x", "{\"a\":1}\n", "\"str\"", "1", "null", "", "   ",
        "{\"\":\"\"}", "[\"a\",\"b\"", "{\"k\":{\"k\":{\"k\":{}}}}", "[[[[[[[[[[]]]]]]]]]]",
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        same_load_s(cases[i], 0);
        same_load_s(cases[i], JSON_REJECT_DUPLICATES);
        same_load_s(cases[i], JSON_DECODE_ANY);
    }
    same_load("{\"a\":\"n\0l\"}", 11, 0);                 /* a raw NUL */
    same_load("{\"a\":1}\0", 8, 0);
}

static void
test_load_depth(void **state)
{
    size_t n = 2100;
    char  *s = malloc(2 * n + 1);

    (void) state;
    for (size_t i = 0; i < n; i++) {
        s[i] = '[';
        s[2 * n - 1 - i] = ']';
    }
    same_load(s, 2 * n, 0);
    same_load(s + 100, 2 * n - 200, 0);
    free(s);
}

/* Generated documents, dumped, then mutated byte by byte. */
static void
test_load_random(void **state)
{
    unsigned seed = 777;

    (void) state;
    for (int i = 0; i < 3000; i++) {
        json_t *v = gen(&seed, 0);
        char   *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t  len = strlen(text);

        same_load(text, len, JSON_DECODE_ANY);
        same_load(text, len, JSON_REJECT_DUPLICATES);
        for (int m = 0; m < 4 && len > 0; m++) {
            text[rand_r(&seed) % len] = (char) (rand_r(&seed) % 256);
            same_load(text, len, JSON_DECODE_ANY);
        }
        free(text);
        json_decref(v);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_and_escapes),
        cmocka_unit_test(test_nesting_and_order),
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_buffer),
        cmocka_unit_test(test_load_cases),
        cmocka_unit_test(test_load_depth),
        cmocka_unit_test(test_load_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
