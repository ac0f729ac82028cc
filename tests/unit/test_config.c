/* links: */
/* test_config.c - the key-table configuration of common/config.c: defaults,
 * integer bounds and syntax, booleans, string length bounds, failure clean-up,
 * printing with secrets masked, and cfg_main_args. Uses its own WA_TEST_*
 * variables, set and unset around each test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/config.h"

struct tconf {
    char *name;
    char *secret;
    char *opt;
    long  port;
    long  flag;
    long  on;
    char *apikey;
    long  neg;
};

static const struct cfg_key keys[] = {
    CFG_STR("WA_TEST_NAME", struct tconf, name, "dflt", "a name"),
    CFG_SECRET("WA_TEST_SECRET", struct tconf, secret, "a secret"),
    CFG_STR("WA_TEST_OPT", struct tconf, opt, NULL, "optional"),
    CFG_INT("WA_TEST_PORT", struct tconf, port, "8080", 1, 65535, "a port"),
    CFG_BOOL("WA_TEST_FLAG", struct tconf, flag, "false", "a flag"),
    CFG_BOOL("WA_TEST_ON", struct tconf, on, "1", "on by default"),
    CFG_STR_LEN("WA_TEST_APIKEY", struct tconf, apikey, NULL, 12, 128, 1, "api key"),
    CFG_INT("WA_TEST_NEG", struct tconf, neg, "-5", -10, -1, "negative range"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void
unset_all(void)
{
    for (size_t i = 0; i < NKEYS; i++)
        unsetenv(keys[i].env);
}

static int
setup(void **state)
{
    (void) state;
    unset_all();
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    unset_all();
    return 0;
}

/* Loads with one variable set; returns cfg_load's result. On success the
 * caller owns c's strings; on failure they are all NULL. */
static int
load_with(const char *env, const char *value, struct tconf *c, char *err, size_t errlen)
{
    unset_all();
    if (env != NULL)
        setenv(env, value, 1);
    memset(c, 0, sizeof(*c));
    err[0] = '\0';
    return cfg_load(keys, NKEYS, c, err, errlen);
}

static void
test_defaults(void **state)
{
    struct tconf c;
    char         err[256];

    (void) state;
    assert_int_equal(load_with(NULL, NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.name, "dflt");
    assert_null(c.secret);
    assert_null(c.opt);
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.flag, 0);
    assert_int_equal(c.on, 1);
    assert_null(c.apikey);
    assert_int_equal(c.neg, -5);
    cfg_cleanup(keys, NKEYS, &c);
}

static void
test_env_overrides(void **state)
{
    struct tconf c;
    char         err[256];

    (void) state;
    setenv("WA_TEST_NAME", "from env", 1);
    setenv("WA_TEST_SECRET", "s3cr3t", 1);
    setenv("WA_TEST_OPT", "x", 1);
    setenv("WA_TEST_PORT", "443", 1);
    setenv("WA_TEST_FLAG", "true", 1);
    setenv("WA_TEST_ON", "off", 1);
    setenv("WA_TEST_APIKEY", "0123456789ab", 1);
    setenv("WA_TEST_NEG", "-10", 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(cfg_load(keys, NKEYS, &c, err, sizeof(err)), 0);
    assert_string_equal(c.name, "from env");
    assert_string_equal(c.secret, "s3cr3t");
    assert_string_equal(c.opt, "x");
    assert_int_equal(c.port, 443);
    assert_int_equal(c.flag, 1);
    assert_int_equal(c.on, 0);
    assert_string_equal(c.apikey, "0123456789ab");
    assert_int_equal(c.neg, -10);
    cfg_cleanup(keys, NKEYS, &c);
}

/* An empty integer or boolean variable means "use the default". */
static void
test_empty_means_default_for_numbers(void **state)
{
    struct tconf c;
    char         err[256];

    (void) state;
    assert_int_equal(load_with("WA_TEST_PORT", "", &c, err, sizeof(err)), 0);
    assert_int_equal(c.port, 8080);
    cfg_cleanup(keys, NKEYS, &c);
    assert_int_equal(load_with("WA_TEST_ON", "", &c, err, sizeof(err)), 0);
    assert_int_equal(c.on, 1);
    cfg_cleanup(keys, NKEYS, &c);
}

static void
test_int_bounds(void **state)
{
    static const struct { const char *v; int ok; long want; } cases[] = {
        { "1", 1, 1 }, { "65535", 1, 65535 }, { "80", 1, 80 }, { "0", 0, 0 },
        { "65536", 0, 0 }, { "-1", 0, 0 }, { "-80", 0, 0 },
        { "9223372036854775807", 0, 0 }, { "99999999999999999999999", 0, 0 },
        { "-99999999999999999999999", 0, 0 },
    };
    struct tconf c;
    char         err[256];

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load_with("WA_TEST_PORT", cases[i].v, &c, err, sizeof(err));

        if (cases[i].ok) {
            if (rc != 0)
                fail_msg("WA_TEST_PORT=%s rejected: %s", cases[i].v, err);
            assert_int_equal(c.port, cases[i].want);
            cfg_cleanup(keys, NKEYS, &c);
        } else {
            if (rc != -1)
                fail_msg("WA_TEST_PORT=%s accepted", cases[i].v);
            assert_non_null(strstr(err, "WA_TEST_PORT"));
            assert_non_null(strstr(err, "1..65535"));
        }
    }
}

static void
test_int_negative_range(void **state)
{
    struct tconf c;
    char         err[256];

    (void) state;
    assert_int_equal(load_with("WA_TEST_NEG", "-1", &c, err, sizeof(err)), 0);
    assert_int_equal(c.neg, -1);
    cfg_cleanup(keys, NKEYS, &c);
    assert_int_equal(load_with("WA_TEST_NEG", "0", &c, err, sizeof(err)), -1);
    assert_int_equal(load_with("WA_TEST_NEG", "-11", &c, err, sizeof(err)), -1);
}

static void
test_int_syntax(void **state)
{
    static const char *bad[] = {
        "abc", "12abc", "80 ", "8 0", "0x50", "1e3", "1.5", "80.0", "--80", "+", "-", " ",
        "\t", "٨٠", "80\n",
    };
    struct tconf c;
    char         err[256];

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (load_with("WA_TEST_PORT", bad[i], &c, err, sizeof(err)) != -1)
            fail_msg("WA_TEST_PORT=\"%s\" accepted as %ld", bad[i], c.port);
        assert_non_null(strstr(err, "WA_TEST_PORT"));
        assert_null(c.name);                     /* the earlier string was released */
    }
}

static void
test_bool_values(void **state)
{
    static const struct { const char *v; long want; } good[] = {
        { "1", 1 }, { "true", 1 }, { "TRUE", 1 }, { "True", 1 }, { "yes", 1 }, { "YES", 1 },
        { "on", 1 }, { "On", 1 },
        { "0", 0 }, { "false", 0 }, { "FALSE", 0 }, { "no", 0 }, { "No", 0 }, { "off", 0 },
        { "OFF", 0 },
    };
    static const char *bad[] = {
        "2", "-1", "maybe", "y", "n", "t", "f", "truee", " true", "true ", "01", "enable",
    };
    struct tconf c;
    char         err[256];

    (void) state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (load_with("WA_TEST_FLAG", good[i].v, &c, err, sizeof(err)) != 0)
            fail_msg("WA_TEST_FLAG=%s rejected: %s", good[i].v, err);
        assert_int_equal(c.flag, good[i].want);
        cfg_cleanup(keys, NKEYS, &c);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (load_with("WA_TEST_FLAG", bad[i], &c, err, sizeof(err)) != -1)
            fail_msg("WA_TEST_FLAG=\"%s\" accepted", bad[i]);
        assert_non_null(strstr(err, "WA_TEST_FLAG"));
    }
}

/* WA_API_KEY-style bounds: 12..128 characters (ENVELOPE.md §2). */
static void
test_string_length_bounds(void **state)
{
    char         v[200];
    struct tconf c;
    char         err[256];

    (void) state;
    for (size_t n = 1; n <= 140; n++) {
        int rc;

        memset(v, 'k', n);
        v[n] = '\0';
        rc = load_with("WA_TEST_APIKEY", v, &c, err, sizeof(err));
        if (n >= 12 && n <= 128) {
            if (rc != 0)
                fail_msg("length %zu rejected: %s", n, err);
            assert_string_equal(c.apikey, v);
            cfg_cleanup(keys, NKEYS, &c);
        } else {
            if (rc != -1)
                fail_msg("length %zu accepted", n);
            assert_non_null(strstr(err, "WA_TEST_APIKEY"));
            assert_non_null(strstr(err, "12..128"));
            if (n >= 4)
                assert_null(strstr(err, v));     /* a secret is not echoed */
        }
    }
}

/* An empty string variable leaves the key unset (NULL), so an optional key
 * with length bounds can still be switched off. */
static void
test_string_empty_is_unset(void **state)
{
    struct tconf c;
    char         err[256];

    (void) state;
    assert_int_equal(load_with("WA_TEST_APIKEY", "", &c, err, sizeof(err)), 0);
    assert_null(c.apikey);
    cfg_cleanup(keys, NKEYS, &c);
    assert_int_equal(load_with("WA_TEST_OPT", "", &c, err, sizeof(err)), 0);
    assert_null(c.opt);
    cfg_cleanup(keys, NKEYS, &c);
}

/* An empty string variable for a key that has a default gives the default,
 * as it does for integers and booleans: callers rely on such keys being set
 * (webapp and coreapp main() pass WA_LOG_LEVEL straight to log_level_parse,
 * which dereferences it, so WA_LOG_LEVEL= must not come back as NULL). */
static void
test_string_empty_with_default(void **state)
{
    struct tconf c;
    char         err[256];

    (void) state;
    assert_int_equal(load_with("WA_TEST_NAME", "", &c, err, sizeof(err)), 0);
    assert_non_null(c.name);
    assert_string_equal(c.name, "dflt");
    cfg_cleanup(keys, NKEYS, &c);
}

/* Strings are copies: changing the environment afterwards changes nothing. */
static void
test_strings_are_copies(void **state)
{
    struct tconf c;
    char         err[256];

    (void) state;
    assert_int_equal(load_with("WA_TEST_NAME", "first", &c, err, sizeof(err)), 0);
    setenv("WA_TEST_NAME", "second", 1);
    assert_string_equal(c.name, "first");
    cfg_cleanup(keys, NKEYS, &c);
}

/* A bad value late in the table releases the strings loaded before it (ASan
 * checks the leak) and leaves them NULL; fields after it are not touched. */
static void
test_failure_cleans_up(void **state)
{
    struct tconf c;
    char         err[256];

    (void) state;
    setenv("WA_TEST_NAME", "n", 1);
    setenv("WA_TEST_SECRET", "s", 1);
    setenv("WA_TEST_OPT", "o", 1);
    setenv("WA_TEST_NEG", "5", 1);               /* the last key is bad */
    memset(&c, 0, sizeof(c));
    assert_int_equal(cfg_load(keys, NKEYS, &c, err, sizeof(err)), -1);
    assert_null(c.name);
    assert_null(c.secret);
    assert_null(c.opt);
    assert_null(c.apikey);
    assert_non_null(strstr(err, "WA_TEST_NEG"));
    cfg_cleanup(keys, NKEYS, &c);                /* harmless afterwards */
}

static void
test_cleanup_twice(void **state)
{
    struct tconf c;
    char         err[256];

    (void) state;
    setenv("WA_TEST_SECRET", "s", 1);
    setenv("WA_TEST_APIKEY", "0123456789abcdef", 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(cfg_load(keys, NKEYS, &c, err, sizeof(err)), 0);
    cfg_cleanup(keys, NKEYS, &c);
    assert_null(c.name);
    assert_null(c.secret);
    assert_null(c.apikey);
    cfg_cleanup(keys, NKEYS, &c);
    assert_null(c.name);
}

/* A short error buffer is truncated, not overrun. */
static void
test_small_error_buffer(void **state)
{
    struct tconf c;
    char         err[16];

    (void) state;
    memset(err, 'Z', sizeof(err));
    assert_int_equal(load_with("WA_TEST_PORT", "not a number at all, really", &c, err, 8), -1);
    assert_int_equal(strlen(err), 7);
    assert_int_equal(err[8], 'Z');
}

static char *
capture(void (*fn)(FILE *, const void *), const void *arg)
{
    char   *buf = NULL;
    size_t  len = 0;
    FILE   *f = open_memstream(&buf, &len);

    assert_non_null(f);
    fn(f, arg);
    fclose(f);
    return buf;
}

static void
print_conf(FILE *f, const void *conf)
{
    cfg_print(f, keys, NKEYS, conf);
}

static void
print_help(FILE *f, const void *unused)
{
    (void) unused;
    cfg_print_help(f, keys, NKEYS);
}

static void
test_print_masks_secrets(void **state)
{
    struct tconf c;
    char         err[256], *out;

    (void) state;
    setenv("WA_TEST_SECRET", "hunter2-hunter2", 1);
    setenv("WA_TEST_APIKEY", "apikey-0123456789", 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(cfg_load(keys, NKEYS, &c, err, sizeof(err)), 0);
    out = capture(print_conf, &c);
    assert_null(strstr(out, "hunter2"));
    assert_null(strstr(out, "apikey-0123456789"));
    assert_non_null(strstr(out, "WA_TEST_SECRET=(set, hidden)\n"));
    assert_non_null(strstr(out, "WA_TEST_APIKEY=(set, hidden)\n"));
    assert_non_null(strstr(out, "WA_TEST_NAME=dflt\n"));
    assert_non_null(strstr(out, "WA_TEST_OPT=\n"));
    assert_non_null(strstr(out, "WA_TEST_PORT=8080\n"));
    assert_non_null(strstr(out, "WA_TEST_FLAG=0\n"));
    assert_non_null(strstr(out, "WA_TEST_NEG=-5\n"));
    free(out);
    cfg_cleanup(keys, NKEYS, &c);
}

static void
test_print_help(void **state)
{
    char *out = capture(print_help, NULL);

    (void) state;
    for (size_t i = 0; i < NKEYS; i++) {
        assert_non_null(strstr(out, keys[i].env));
        assert_non_null(strstr(out, keys[i].help));
    }
    assert_non_null(strstr(out, "(1..65535)"));
    assert_non_null(strstr(out, "[default: 8080]"));
    assert_non_null(strstr(out, "[default: dflt]"));
    free(out);
}

/* Runs cfg_main_args with stdout and stderr sent to /dev/null. */
static int
main_args_quiet(int argc, char **argv, struct tconf *c)
{
    int saved_out = dup(1), saved_err = dup(2), devnull = open("/dev/null", O_WRONLY);
    int rc;

    fflush(stdout);
    fflush(stderr);
    dup2(devnull, 1);
    dup2(devnull, 2);
    rc = cfg_main_args(argc, argv, "wa-test", "a test program", keys, NKEYS, c);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(devnull);
    return rc;
}

static void
test_main_args(void **state)
{
    char        *run[] = { "wa-test", NULL };
    char        *help[] = { "wa-test", "--help", NULL };
    char        *h[] = { "wa-test", "-h", NULL };
    char        *check[] = { "wa-test", "--check-config", NULL };
    char        *unknown[] = { "wa-test", "--frobnicate", NULL };
    struct tconf c;

    (void) state;
    memset(&c, 0, sizeof(c));
    assert_int_equal(main_args_quiet(1, run, &c), -1);       /* go on, loaded */
    assert_string_equal(c.name, "dflt");
    cfg_cleanup(keys, NKEYS, &c);

    assert_int_equal(main_args_quiet(2, help, &c), 0);
    assert_int_equal(main_args_quiet(2, h, &c), 0);
    assert_int_equal(main_args_quiet(2, unknown, &c), 2);

    assert_int_equal(main_args_quiet(2, check, &c), 0);       /* loaded, printed, freed */
    assert_null(c.name);

    setenv("WA_TEST_PORT", "70000", 1);
    assert_int_equal(main_args_quiet(2, check, &c), 1);
    assert_int_equal(main_args_quiet(1, run, &c), 1);
    assert_null(c.name);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_means_default_for_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_negative_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_length_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_empty_is_unset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_empty_with_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings_are_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_cleans_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_error_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_masks_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_help, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_args, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
