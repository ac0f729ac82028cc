/* links: sandbox/store.c */
/* test_sandbox_store.c - the sandbox's journalled state (survives a reopen,
 * deletions, in-place saves, a torn last line, held batches written once per
 * key, compaction while running, cooled keys) and netproto.h frames. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include "common/netproto.h"
#include "sandbox/store.h"

static void
test_store_survives_reopen(void **state)
{
    char          dir[] = "/tmp/wa-store-XXXXXX", path[256];
    struct store *st;
    json_t       *v;
    FILE         *f;

    (void) state;
    assert_non_null(mkdtemp(dir));
    st = store_open(dir);
    assert_non_null(st);
    assert_int_equal(json_object_size(store_coll(st, "customers")), 0);
    store_put(st, "customers", "16315551002", json_pack("{s:s}", "name", "Jane"));
    store_put(st, "customers", "16315551003", json_pack("{s:s}", "name", "Joe"));
    store_put(st, "codes", "16315550100", json_pack("{s:s}", "code", "123456"));
    v = store_get(st, "customers", "16315551002");
    json_object_set_new(v, "name", json_string("Jane Doe"));
    store_save(st, "customers", "16315551002");
    store_del(st, "customers", "16315551003");
    store_del(st, "customers", "nobody");                 /* no-op */
    store_close(st);

    /* a crash in the middle of a write leaves a torn line: skipped */
    snprintf(path, sizeof(path), "%s/state.jsonl", dir);
    f = fopen(path, "a");
    fputs("{\"c\":\"customers\",\"k\":\"1999\",\"v\":{\"na", f);
    fclose(f);

    st = store_open(dir);
    assert_non_null(st);
    assert_string_equal(json_string_value(json_object_get(store_get(st, "customers",
                                                                    "16315551002"), "name")),
                        "Jane Doe");
    assert_null(store_get(st, "customers", "16315551003"));
    assert_null(store_get(st, "customers", "1999"));
    assert_string_equal(json_string_value(json_object_get(store_get(st, "codes", "16315550100"),
                                                          "code")), "123456");
    assert_int_equal(json_object_size(store_coll(st, "customers")), 1);
    store_close(st);
    unlink(path);
    rmdir(dir);
}

static long
count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    long  n = 0;
    int   c;

    assert_non_null(f);
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Between hold and release nothing reaches the journal; at the release each
 * key changed is written once, with its last value (or as deleted). */
static void
test_store_hold_release(void **state)
{
    char          dir[] = "/tmp/wa-store-XXXXXX", path[256];
    struct store *st;
    long          base;

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.jsonl", dir);
    st = store_open(dir);
    assert_non_null(st);
    store_put(st, "outbox", "1", json_pack("{s:s}", "to", "a"));
    store_put(st, "outbox", "2", json_pack("{s:s}", "to", "b"));
    base = count_lines(path);
    store_hold(st);
    store_hold(st);                                    /* holds nest */
    for (int i = 0; i < 50; i++) {
        json_t *c = store_get(st, "meta", "counters");

        if (c == NULL)
            store_put(st, "meta", "counters", json_pack("{s:i}", "event", i));
        else
            json_object_set_new(c, "event", json_integer(i));
        store_save(st, "meta", "counters");
    }
    store_put(st, "messages", "m\"1\n", json_pack("{s:s}", "status", "sent"));
    json_object_set_new(store_get(st, "messages", "m\"1\n"), "status", json_string("delivered"));
    store_save(st, "messages", "m\"1\n");
    store_del(st, "outbox", "1");
    store_put(st, "outbox", "3", json_pack("{s:s}", "to", "c"));
    store_del(st, "outbox", "3");                      /* put and gone in one batch */
    /* in memory at once */
    assert_null(store_get(st, "outbox", "1"));
    assert_int_equal(json_integer_value(json_object_get(store_get(st, "meta", "counters"),
                                                        "event")), 49);
    store_release(st);
    assert_int_equal(count_lines(path), base);         /* still held once */
    store_release(st);
    /* counters, the message, outbox 1 and outbox 3: one line each */
    assert_int_equal(count_lines(path), base + 4);
    store_release(st);                                 /* unbalanced: ignored */
    store_close(st);

    st = store_open(dir);
    assert_non_null(st);
    assert_int_equal(json_integer_value(json_object_get(store_get(st, "meta", "counters"),
                                                        "event")), 49);
    assert_string_equal(json_string_value(json_object_get(store_get(st, "messages", "m\"1\n"),
                                                          "status")), "delivered");
    assert_null(store_get(st, "outbox", "1"));
    assert_non_null(store_get(st, "outbox", "2"));
    assert_null(store_get(st, "outbox", "3"));
    /* a store closed while held still journals what changed */
    store_hold(st);
    store_put(st, "outbox", "4", json_pack("{s:s}", "to", "d"));
    store_close(st);
    st = store_open(dir);
    assert_non_null(store_get(st, "outbox", "4"));
    store_close(st);
    unlink(path);
    rmdir(dir);
}

/* Compacting while running (the journal grew past four times the live keys)
 * copies each key's last line: what reopening reads is the latest value of
 * every key, whether it was last written alone, in a held batch, or changed
 * in place and saved, and nothing deleted comes back. */
static void
test_store_compacts_to_the_latest_values(void **state)
{
    char          dir[] = "/tmp/wa-store-XXXXXX", path[256];
    struct store *st;
    char          key[32];

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.jsonl", dir);
    st = store_open(dir);
    assert_non_null(st);
    for (int i = 0; i < 30000; i++) {       /* enough lines to compact several times */
        snprintf(key, sizeof(key), "m%d", i % 1000);
        if (i % 3 == 0) {
            store_put(st, "messages", key, json_pack("{s:i}", "n", i));
        } else if (i % 3 == 1) {
            json_t *v = store_get(st, "messages", key);

            if (v != NULL) {
                json_object_set_new(v, "saved", json_integer(i));
                store_save(st, "messages", key);
            }
        } else {
            store_hold(st);
            store_put(st, "held", key, json_pack("{s:i}", "n", i));
            if (i % 7 == 0)
                store_del(st, "messages", key);
            store_release(st);
        }
    }
    assert_true(count_lines(path) < 30000);                  /* it did compact */
    {
        json_t *want = json_deep_copy(store_coll(st, "messages"));
        json_t *want_held = json_deep_copy(store_coll(st, "held"));

        store_close(st);
        st = store_open(dir);
        assert_non_null(st);
        assert_true(json_equal(store_coll(st, "messages"), want));
        assert_true(json_equal(store_coll(st, "held"), want_held));
        assert_int_equal(json_object_size(store_coll(st, "held")), 1000);
        json_decref(want);
        json_decref(want_held);
    }
    store_close(st);
    unlink(path);
    rmdir(dir);
}

/* A cooled key is its stub in the collection and its object again when
 * asked for; cooling waits for the release, a later change cancels it, and
 * the journal (a reopen, a compaction) keeps the object, not the stub. */
static void
test_store_cool(void **state)
{
    char          dir[] = "/tmp/wa-store-XXXXXX", path[256];
    struct store *st;
    json_t       *v;

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.jsonl", dir);
    st = store_open(dir);
    assert_non_null(st);

    store_hold(st);
    store_put(st, "messages", "m1", json_pack("{s:s, s:s}", "status", "sent", "first", "7"));
    store_cool(st, "messages", "m1", json_string("7"));
    assert_true(json_is_object(json_object_get(store_coll(st, "messages"), "m1")));
    store_put(st, "messages", "m2", json_pack("{s:s}", "status", "sent"));
    store_cool(st, "messages", "m2", json_string("8"));
    v = store_get(st, "messages", "m2");
    json_object_set_new(v, "status", json_string("delivered"));
    store_save(st, "messages", "m2");                   /* changed after: stays warm */
    store_cool(st, "messages", "m3", json_string("9")); /* no such key: nothing */
    store_cool(st, "messages", "m1", json_object());    /* an object is no stub */
    store_release(st);

    assert_string_equal(json_string_value(json_object_get(store_coll(st, "messages"), "m1")),
                        "7");
    assert_true(json_is_object(json_object_get(store_coll(st, "messages"), "m2")));
    assert_null(json_object_get(store_coll(st, "messages"), "m3"));
    v = store_get(st, "messages", "m1");                /* back from its line */
    assert_true(json_is_object(v));
    assert_string_equal(json_string_value(json_object_get(v, "status")), "sent");
    assert_true(json_object_get(store_coll(st, "messages"), "m1") == v);

    /* not held: at once; a change after it is journalled from the object */
    store_cool(st, "messages", "m1", json_string("7"));
    assert_true(json_is_string(json_object_get(store_coll(st, "messages"), "m1")));
    v = store_get(st, "messages", "m1");
    json_object_set_new(v, "status", json_string("read"));
    store_save(st, "messages", "m1");
    store_cool(st, "messages", "m1", json_string("7"));
    store_cool(st, "messages", "m2", json_string("8"));
    store_del(st, "messages", "m2");
    store_close(st);

    st = store_open(dir);                               /* compacts from the lines */
    assert_non_null(st);
    assert_int_equal(json_object_size(store_coll(st, "messages")), 1);
    assert_string_equal(json_string_value(json_object_get(store_get(st, "messages", "m1"),
                                                          "status")), "read");
    store_close(st);
    unlink(path);
    rmdir(dir);
}

static void
test_store_bad_dir(void **state)
{
    (void) state;
    assert_null(store_open("/nonexistent/dir/for/wa"));
}

static void
test_netproto(void **state)
{
    const char *why;
    json_t     *j = netproto_new("ping"), *back;
    size_t      len;
    char       *s = netproto_encode(j, &len);

    (void) state;
    back = netproto_decode(s, len, &why);
    assert_non_null(back);
    assert_null(why);
    assert_string_equal(json_string_value(json_object_get(back, "t")), "ping");
    json_decref(back);
    free(s);
    json_decref(j);
    assert_null(netproto_decode("{\"v\":2,\"t\":\"ping\"}", 18, &why));
    assert_string_equal(why, "bad_version");
    assert_null(netproto_decode("{\"v\":1}", 7, &why));
    assert_string_equal(why, "no_type");
    assert_null(netproto_decode("[1]", 3, &why));
    assert_string_equal(why, "bad_json");
    assert_null(netproto_decode("{\"v\":1,\"t\":", 11, &why));
    assert_int_equal(netproto_error_code("bad_code"), ERR_PARAM_INVALID);
    assert_int_equal(netproto_error_code("pin_required"), ERR_PARAM_MISSING);
    assert_int_equal(netproto_error_code("bad_cert"), ERR_ACCESS_DENIED);
    assert_int_equal(netproto_error_code("???"), ERR_GENERIC);
    assert_int_equal(netproto_error_code(NULL), ERR_GENERIC);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_survives_reopen),
        cmocka_unit_test(test_store_hold_release),
        cmocka_unit_test(test_store_compacts_to_the_latest_values),
        cmocka_unit_test(test_store_cool),
        cmocka_unit_test(test_store_bad_dir),
        cmocka_unit_test(test_netproto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
