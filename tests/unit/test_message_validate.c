/* links: coreapp/message_validate.c */
/* test_message_validate.c - the rules of POST /v1/messages, table-driven.
 *
 * Every directory under tests/cases/messages/ is one case: input.json is a
 * request body and expected is one line, either
 *     <code> <field>          e.g. "1009 interactive.action.buttons[1].reply.id"
 * for a body that must be refused with that documented code and details that
 * start with the field's path, or
 *     ok <type> <to>          e.g. "ok text 16315551234"
 * for a body that must be accepted, with its type and normalised recipient.
 * The business is 16315550100 (country code 1), as in the integration tests,
 * which send the same bodies through the real API. A new case is a new
 * directory; each becomes one cmocka test named after it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include "common/errors.h"
#include "common/xalloc.h"
#include "coreapp/message_validate.h"

#define SELF_WA_ID "16315550100"
#define MIN_BAD_CASES 60

static char cases_dir[1024];

static const struct msg_ctx business = { SELF_WA_ID, "1", NULL, NULL };

static char *
read_text(const char *dir, const char *name)
{
    char   path[2100];
    FILE  *f;
    char  *buf;
    long   n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = xmalloc((size_t) n + 1);
    if (fread(buf, 1, (size_t) n, f) != (size_t) n)
        n = 0;
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* One case directory (its name is the test's state). */
static void
test_case(void **state)
{
    const char       *name = *state;
    char              dir[2048], path[2100], details[512], want_a[64], want_b[512];
    char             *expected = NULL;
    json_t           *body = NULL;
    json_error_t      jerr;
    struct msg_valid  m;
    enum err_code     rc;

    snprintf(dir, sizeof(dir), "%s/%s", cases_dir, name);
    expected = read_text(dir, "expected");
    assert_non_null(expected);
    snprintf(path, sizeof(path), "%s/input.json", dir);
    body = json_load_file(path, 0, &jerr);
    if (body == NULL)
        fail_msg("%s: input.json: %s", name, jerr.text);
    assert_int_equal(sscanf(expected, "%63s %511s", want_a, want_b), 2);
    memset(details, 'x', sizeof(details));
    rc = msg_validate(body, &business, &m, details, sizeof(details));
    if (strcmp(want_a, "ok") == 0) {
        char want_to[64];

        if (rc != ERR_OK)
            fail_msg("%s: refused with %d: %s", name, err_api_code(rc), details);
        assert_int_equal(sscanf(expected, "ok %*s %63s", want_to), 1);
        assert_string_equal(msg_type_name(m.type), want_b);
        assert_string_equal(m.to, want_to);
        assert_non_null(m.object);
        assert_ptr_equal(m.object, json_object_get(body, msg_type_name(m.type)));
    } else {
        size_t flen = strlen(want_b);

        if (rc == ERR_OK)
            fail_msg("%s: accepted, expected %s %s", name, want_a, want_b);
        if (err_api_code(rc) != atoi(want_a))
            fail_msg("%s: code %d (%s), expected %s; details: %s", name, err_api_code(rc),
                     err_name(rc), want_a, details);
        /* 400 for every synchronous validation error */
        assert_int_equal(err_http_status(rc), 400);
        if (strncmp(details, want_b, flen) != 0 || details[flen] != ':')
            fail_msg("%s: details \"%s\" do not start with \"%s:\"", name, details, want_b);
        assert_true(strlen(details) > flen + 2);       /* and say what is wrong */
    }
    json_decref(body);
    free(expected);
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The shipped bodies of spec/API.md §6.1 keep working with a NULL context
 * (no self check, no default country: international numbers and wa_ids). */
static void
test_null_context(void **state)
{
    json_t           *b = json_pack("{s:s, s:{s:s}}", "to", SELF_WA_ID, "text", "body", "hi");
    struct msg_valid  m;
    char              det[128];

    (void) state;
    assert_int_equal(msg_validate(b, NULL, &m, det, sizeof(det)), ERR_OK);
    assert_string_equal(m.to, SELF_WA_ID);
    assert_int_equal(m.type, MSG_TEXT);
    assert_false(m.group);
    json_decref(b);
    /* a national number needs the business's country */
    b = json_pack("{s:s, s:{s:s}}", "to", "(631) 555-1234", "text", "body", "hi");
    assert_int_equal(msg_validate(b, NULL, &m, det, sizeof(det)), ERR_USER_NOT_VALID);
    assert_int_equal(msg_validate(b, &business, &m, det, sizeof(det)), ERR_OK);
    assert_string_equal(m.to, "16315551234");
    json_decref(b);
}

/* Details never overflow, even into a tiny buffer, and NULL is allowed. */
static void
test_small_details(void **state)
{
    json_t           *b = json_pack("{s:s, s:s, s:{s:s}}", "to", "16315551234", "type", "text",
                                    "text", "body", "");
    struct msg_valid  m;
    char              det[8];

    (void) state;
    memset(det, 'x', sizeof(det));
    assert_int_equal(msg_validate(b, &business, &m, det, sizeof(det)), ERR_PARAM_INVALID);
    assert_int_equal(strlen(det), sizeof(det) - 1);
    assert_memory_equal(det, "text.bo", 7);
    assert_int_equal(msg_validate(b, &business, &m, NULL, 0), ERR_PARAM_INVALID);
    json_decref(b);
}

/* A caller-supplied normaliser is used as is, and its refusal is 1013. */
static enum err_code
only_alice(const char *input, char *out, size_t outlen, void *arg)
{
    (void) arg;
    if (strcmp(input, "alice") != 0)
        return ERR_USER_NOT_VALID;
    snprintf(out, outlen, "%s", "4915112345678");
    return ERR_OK;
}

static void
test_custom_normaliser(void **state)
{
    struct msg_ctx    ctx = { "4915112345678", NULL, only_alice, NULL };
    json_t           *b = json_pack("{s:s, s:{s:s}}", "to", "alice", "text", "body", "hi");
    struct msg_valid  m;
    char              det[128];

    (void) state;
    assert_int_equal(msg_validate(b, &ctx, &m, det, sizeof(det)), ERR_BAD_USER);
    ctx.self_wa_id = "16315550100";
    assert_int_equal(msg_validate(b, &ctx, &m, det, sizeof(det)), ERR_OK);
    assert_string_equal(m.to, "4915112345678");
    json_object_set_new(b, "to", json_string("bob"));
    assert_int_equal(msg_validate(b, &ctx, &m, det, sizeof(det)), ERR_USER_NOT_VALID);
    assert_string_equal(det, "to: \"bob\" is not a valid WhatsApp user or phone number");
    json_decref(b);
}

/* Lengths are in characters (code points), not bytes. */
static void
test_utf8_len(void **state)
{
    (void) state;
    assert_int_equal(msg_utf8_len(""), 0);
    assert_int_equal(msg_utf8_len("abc"), 3);
    assert_int_equal(msg_utf8_len("\xc3\xa9t\xc3\xa9"), 3);            /* été */
    assert_int_equal(msg_utf8_len("\xf0\x9f\x91\x8d"), 1);             /* thumbs up */
}

/* The body is not modified by validation. */
static void
test_body_untouched(void **state)
{
    json_t           *b = json_pack("{s:s, s:s, s:{s:s}}", "to", "+1 631 555 1234", "type", "text",
                                    "text", "body", "hi");
    char             *before = json_dumps(b, JSON_SORT_KEYS), *after;
    struct msg_valid  m;
    char              det[64];

    (void) state;
    assert_int_equal(msg_validate(b, &business, &m, det, sizeof(det)), ERR_OK);
    after = json_dumps(b, JSON_SORT_KEYS);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(b);
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_null_context),
        cmocka_unit_test(test_small_details),
        cmocka_unit_test(test_custom_normaliser),
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_body_untouched),
    };
    const char        *env = getenv("WA_CASES_DIR");
    struct CMUnitTest *tests = NULL;
    char             **names = NULL;
    size_t             n = 0, cap = 0, nbad = 0;
    DIR               *d;
    struct dirent     *e;
    int                rc;

    /* run from the repository root (make unit), or point WA_CASES_DIR there */
    snprintf(cases_dir, sizeof(cases_dir), "%s", env ? env : "tests/cases/messages");
    d = opendir(cases_dir);
    if (d == NULL) {
        fprintf(stderr, "cannot open %s: run from the repository root\n", cases_dir);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = xstrdup(e->d_name);
        nbad += strncmp(e->d_name, "bad_", 4) == 0;
    }
    closedir(d);
    if (nbad < MIN_BAD_CASES) {
        fprintf(stderr, "only %zu bad cases in %s (want at least %d)\n", nbad, cases_dir,
                MIN_BAD_CASES);
        return 1;
    }
    qsort(names, n, sizeof(*names), by_name);
    tests = xcalloc(n + sizeof(fixed) / sizeof(fixed[0]), sizeof(*tests));
    memcpy(tests, fixed, sizeof(fixed));
    for (size_t i = 0; i < n; i++) {
        struct CMUnitTest *t = &tests[sizeof(fixed) / sizeof(fixed[0]) + i];

        t->name = names[i];
        t->test_func = test_case;
        t->initial_state = names[i];
    }
    rc = _cmocka_run_group_tests("message_validate", tests,
                                 n + sizeof(fixed) / sizeof(fixed[0]), NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(tests);
    return rc;
}
