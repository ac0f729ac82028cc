/* links: */
/* test_jsonbuf.c - the fast JSON writer gives exactly json_dumps(JSON_COMPACT)'s
 * text: escapes, numbers, nesting, key order, and a fixed-seed random loop
 * over generated documents. */
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_and_escapes),
        cmocka_unit_test(test_nesting_and_order),
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
