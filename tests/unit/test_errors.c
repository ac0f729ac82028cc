/* links: */
/* test_errors.c - the error table (common/errors.def) against the documented
 * codes, titles and HTTP statuses of spec/ERRORS.md and spec/CLARIFICATIONS.md
 * §11, plus the lookup functions of common/errors.c. The expected values are
 * transcribed here so the test does not need the spec files at run time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/errors.h"

/* One row per documented code: code, title, HTTP status (0 = "webhook"). The
 * status is the first one ERRORS.md lists (CLARIFICATIONS.md §11). */
struct spec_code {
    int         code;
    const char *title;
    int         http;
};

static const struct spec_code spec_codes[] = {
    /* §1 delivery / status errors: webhook only */
    { 400, "Media download error", 0 },
    { 402, "Business eligibility — Payment issue", 0 },
    { 408, "Message is not valid", 0 },
    { 410, "Message expired", 0 },
    { 429, "Rate limit hit", 0 },
    { 430, "Unsigned certificate", 0 },
    { 432, "Certificate ID mismatch", 0 },
    { 433, "Certificate signature invalid", 0 },
    { 470, "Re-engagement message", 0 },
    { 471, "Spam rate limit hit", 0 },
    { 472, "User's number is part of an experiment", 0 },
    { 480, "User potentially changed", 0 },
    { 500, "Generic error", 0 },
    { 501, "Message type is not currently supported", 0 },
    /* §2 client errors */
    { 1000, "Generic error", 500 },
    { 1001, "Message too long", 400 },
    { 1002, "Invalid recipient type", 400 },
    { 1003, "Not a group participant", 400 },
    { 1004, "Resource already exists", 409 },
    { 1005, "Access denied", 401 },          /* 401/403: see row exceptions */
    { 1006, "Resource not found", 404 },
    { 1007, "Recipient blocked to receive message", 403 },
    { 1008, "Required parameter is missing", 400 },
    { 1009, "Parameter value is not valid", 400 },
    { 1010, "Parameter is not required", 400 },
    { 1011, "Service not ready", 503 },
    { 1012, "Group is unknown", 400 },
    { 1013, "User is not valid", 400 },
    { 1014, "Internal error", 500 },
    { 1015, "Too many requests", 429 },
    { 1016, "System overloaded", 503 },
    { 1017, "Not Primary Master", 503 },
    { 1018, "Not Primary Coreapp", 503 },
    { 1021, "Bad User", 400 },
    { 1022, "Webhooks URL is not configured", 400 },
    { 1023, "Database error occurred", 500 },
    { 1024, "Password Change Required", 401 },
    { 1025, "Invalid Request", 400 },
    { 1026, "Receiver incapable", 400 },
    { 1028, "A user_identity_changed system notification requires acknowledgement", 400 },
    { 1031, "Sender account has been locked", 403 },
    /* §3 template / interactive / commerce ("400 / webhook" -> 400) */
    { 2000, "Template Param Count Mismatch", 400 },
    { 2001, "Template Missing", 400 },
    { 2002, "Template Fetch Failed", 500 },
    { 2003, "Template Pack Missing", 400 },
    { 2004, "Template Param Length Too Long", 400 },
    { 2005, "Template Hydrated Text Too Long", 400 },
    { 2006, "Template White Space Policy Violated", 400 },
    { 2007, "Template Format Character Policy Violated", 400 },
    { 2008, "Template Media Format Unsupported", 400 },
    { 2009, "Template Required Component Missing", 400 },
    { 2010, "Template Invalid Hydrated URL", 400 },
    { 2011, "Template Invalid Phone Number", 400 },
    { 2012, "Template Parameter Format Mismatch", 400 },
    { 2013, "Template Buttons Unsupported", 400 },
    { 2014, "Expected Namespace is Empty", 400 },
    { 2015, "Invalid number of sections", 400 },
    { 2016, "Invalid number of rows", 400 },
    { 2017, "Character Policy Violated", 400 },
    { 2023, "Invalid number of product", 400 },
    { 2024, "Catalog ID not found", 400 },
    { 2025, "Catalog ID not linked to API number", 400 },
    { 2026, "Missing products", 400 },
    { 2027, "No products found", 400 },
    { 2028, "List all products failed compliance", 400 },
    { 2029, "List some products failed compliance", 400 },
    { 2030, "List mixed products invalid and failed compliance", 400 },
    { 2036, "Invalid Header Structure", 400 },
    { 2050, "Missing Compliance Info", 400 },
    { 2060, "Template Rejected", 400 },
    { 2061, "Template Paused", 400 },
    { 2062, "Template Disabled", 400 },
    { 2068, "Flow is blocked", 400 },
    { 2069, "Flow is throttled", 400 },
};
#define N_SPEC (sizeof(spec_codes) / sizeof(spec_codes[0]))

/* Rows whose HTTP status differs from their code's default, each with the
 * spec text that decides it. */
struct row_status {
    enum err_code e;
    int           http;
    const char   *why;
};

static const struct row_status row_statuses[] = {
    { ERR_BAD_CREDENTIALS,    401, "CLARIFICATIONS §11: 1005 is 401 for bad credentials" },
    { ERR_ACCESS_DENIED,      403, "CLARIFICATIONS §11: 1005 is 403 for a forbidden operation" },
    { ERR_BODY_TOO_LARGE,     413, "CLARIFICATIONS §7: oversized bodies get 413 with 1009" },
    { ERR_ENDPOINT_NOT_FOUND, 404, "ENVELOPE §5: unknown paths answer 404 (code 1014)" },
    { ERR_METHOD_NOT_ALLOWED, 405, "ENVELOPE §5: unsupported methods answer 405 (code 1014)" },
    /* ERR_NODE_UNAVAILABLE (1014) has no such exception in the spec: it takes
     * 1014's status, 500 (CLARIFICATIONS §11). */
};
#define N_ROW_STATUS (sizeof(row_statuses) / sizeof(row_statuses[0]))

static const struct spec_code *
spec_find(int code)
{
    for (size_t i = 0; i < N_SPEC; i++)
        if (spec_codes[i].code == code)
            return &spec_codes[i];
    return NULL;
}

static int
expected_status(enum err_code e, int code)
{
    for (size_t i = 0; i < N_ROW_STATUS; i++)
        if (row_statuses[i].e == e)
            return row_statuses[i].http;
    return spec_find(code)->http;
}

static void
test_ok_is_zero(void **state)
{
    (void) state;
    assert_int_equal(ERR_OK, 0);
    assert_int_equal(err_http_status(ERR_OK), 200);
    assert_int_equal(err_api_code(ERR_OK), 0);
    assert_string_equal(err_name(ERR_OK), "ERR_OK");
}

/* Every row: a documented code, its documented title, its status. Collects
 * all mismatches before failing so one run lists them all. */
static void
test_rows_match_spec(void **state)
{
    int bad = 0;

    (void) state;
    for (int i = 1; i < ERR__COUNT; i++) {
        enum err_code           e = (enum err_code) i;
        const struct spec_code *s = spec_find(err_api_code(e));

        if (s == NULL) {
            fprintf(stderr, "%s: code %d is not in spec/ERRORS.md\n", err_name(e),
                    err_api_code(e));
            bad++;
            continue;
        }
        if (strcmp(err_title(e), s->title) != 0) {
            fprintf(stderr, "%s: title \"%s\", spec says \"%s\"\n", err_name(e),
                    err_title(e), s->title);
            bad++;
        }
        if (err_http_status(e) != expected_status(e, s->code)) {
            fprintf(stderr, "%s: HTTP %d for code %d, spec says %d\n", err_name(e),
                    err_http_status(e), s->code, expected_status(e, s->code));
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* The exceptions above are real rows with the listed codes. */
static void
test_row_exceptions_keep_their_code(void **state)
{
    (void) state;
    assert_int_equal(err_api_code(ERR_BAD_CREDENTIALS), 1005);
    assert_int_equal(err_api_code(ERR_ACCESS_DENIED), 1005);
    assert_int_equal(err_api_code(ERR_BODY_TOO_LARGE), 1009);
    assert_int_equal(err_api_code(ERR_ENDPOINT_NOT_FOUND), 1014);
    assert_int_equal(err_api_code(ERR_METHOD_NOT_ALLOWED), 1014);
    assert_int_equal(err_api_code(ERR_NODE_UNAVAILABLE), 1014);
}

/* Every documented code can be produced by at least one row. */
static void
test_every_spec_code_has_a_row(void **state)
{
    int missing = 0;

    (void) state;
    for (size_t i = 0; i < N_SPEC; i++) {
        int found = 0;
        for (int e = 0; e < ERR__COUNT && !found; e++)
            found = err_api_code((enum err_code) e) == spec_codes[i].code;
        if (!found) {
            fprintf(stderr, "code %d (%s) has no row\n", spec_codes[i].code,
                    spec_codes[i].title);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

/* Synchronous codes have a real HTTP status; webhook-only codes have 0. */
static void
test_status_ranges(void **state)
{
    (void) state;
    for (int i = 0; i < ERR__COUNT; i++) {
        int code = err_api_code((enum err_code) i);
        int http = err_http_status((enum err_code) i);

        if (code >= 1000)
            assert_true(http >= 400 && http <= 599);
        else if (code > 0)
            assert_int_equal(http, 0);
        assert_non_null(err_title((enum err_code) i));
        assert_true(err_title((enum err_code) i)[0] != '\0');
    }
}

static void
test_names_unique_and_round_trip(void **state)
{
    (void) state;
    for (int i = 0; i < ERR__COUNT; i++) {
        const char *n = err_name((enum err_code) i);

        assert_non_null(n);
        assert_true(strncmp(n, "ERR_", 4) == 0);
        assert_int_equal(err_from_name(n), i);
        for (int j = i + 1; j < ERR__COUNT; j++)
            assert_string_not_equal(n, err_name((enum err_code) j));
    }
    assert_string_equal(err_name(ERR_NOT_FOUND), "ERR_NOT_FOUND");
}

static void
test_unknown_name_is_generic(void **state)
{
    (void) state;
    assert_int_equal(err_from_name(NULL), ERR_GENERIC);
    assert_int_equal(err_from_name(""), ERR_GENERIC);
    assert_int_equal(err_from_name("ERR_NO_SUCH_THING"), ERR_GENERIC);
    assert_int_equal(err_from_name("err_not_found"), ERR_GENERIC);   /* exact match only */
    assert_int_equal(err_from_name("ERR_NOT_FOUND "), ERR_GENERIC);
}

/* Out-of-range values fall back to the generic row instead of reading past
 * the table. */
static void
test_out_of_range_is_generic(void **state)
{
    enum err_code bad[] = { ERR__COUNT, (enum err_code) (ERR__COUNT + 100),
                            (enum err_code) -1 };

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(err_api_code(bad[i]), 1000);
        assert_int_equal(err_http_status(bad[i]), 500);
        assert_string_equal(err_title(bad[i]), "Generic error");
        assert_string_equal(err_name(bad[i]), "ERR_GENERIC");
    }
}

/* A few rows spelled out, as the style guide's example table has them. */
static void
test_spot_checks(void **state)
{
    (void) state;
    assert_int_equal(err_api_code(ERR_NOT_FOUND), 1006);
    assert_int_equal(err_http_status(ERR_NOT_FOUND), 404);
    assert_string_equal(err_title(ERR_NOT_FOUND), "Resource not found");
    assert_int_equal(err_api_code(ERR_PARAM_MISSING), 1008);
    assert_int_equal(err_api_code(ERR_PARAM_INVALID), 1009);
    assert_int_equal(err_http_status(ERR_SERVICE_NOT_READY), 503);
    assert_int_equal(err_api_code(ERR_INVALID_REQUEST), 1025);
    assert_int_equal(err_http_status(ERR_PASSWORD_CHANGE_REQUIRED), 401);
    assert_int_equal(err_api_code(ERR_PASSWORD_CHANGE_REQUIRED), 1024);
    assert_int_equal(err_http_status(ERR_TOO_MANY_REQUESTS), 429);
    assert_int_equal(err_http_status(ERR_ALREADY_EXISTS), 409);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_is_zero),
        cmocka_unit_test(test_rows_match_spec),
        cmocka_unit_test(test_row_exceptions_keep_their_code),
        cmocka_unit_test(test_every_spec_code_has_a_row),
        cmocka_unit_test(test_status_ranges),
        cmocka_unit_test(test_names_unique_and_round_trip),
        cmocka_unit_test(test_unknown_name_is_generic),
        cmocka_unit_test(test_out_of_range_is_generic),
        cmocka_unit_test(test_spot_checks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
