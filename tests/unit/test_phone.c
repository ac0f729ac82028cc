/* links: */
/* test_phone.c - phone number normalisation. The expected wa_ids of the
 * table below were produced by libphonenumber 8.12.57 (Debian's
 * python3-phonenumbers: parse() with the business's region, then the general
 * number pattern as the validity check); the few rows marked "ours" are our
 * documented departures (phone.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/phone.h"

static const struct {
    const char *cc, *input, *want;      /* want NULL: not a valid number */
} cases[] = {
    { "1", "+1 (631) 555-1002",         "16315551002" },
    { "1", "631-555-1002",              "16315551002" },
    { "1", "1-631-555-1002",            "16315551002" },
    { "1", "16315551002",               "16315551002" },
    { "1", "6315551002",                "16315551002" },
    { "1", "011 44 20 7946 0000",       "442079460000" },
    { "1", "+44 20 7946 0000",          "442079460000" },
    { "1", "(631) 555.1002",            "16315551002" },
    { "1", "++1 631 555 1002",          "16315551002" },
    { "1", "+163155588",                NULL },
    { "1", "631 555 10021",             NULL },
    { "1", "0631 555 1002",             NULL },
    { "1", "+81 3-1234-5678",           "81312345678" },
    { "1", "001 631 555 1002",          "16315551002" },      /* ours: 00 in NANP */
    { "1", "0044 20 7946 0000",         "442079460000" },     /* ours: 00 in NANP */
    { "1", "abc",                       NULL },
    { "1", "",                          NULL },
    { "1", "+",                         NULL },
    { "1", "631-555-1002 x5",           NULL },               /* ours: no extensions */
    { "1", "+0 631 555 1002",           NULL },
    { "1", "1 + 631 555 1002",          NULL },
    { "44", "020 7946 0000",            "442079460000" },
    { "44", "07911 123456",             "447911123456" },
    { "44", "447911123456",             "447911123456" },
    { "44", "0044 20 7946 0000",        "442079460000" },
    { "44", "+1 631 555 1002",          "16315551002" },
    { "44", "001 631 555 1002",         "16315551002" },
    { "44", "20 7946 0000",             "442079460000" },
    { "44", "0123",                     NULL },
    { "49", "030 123456",               "4930123456" },
    { "49", "0151 23456789",            "4915123456789" },
    { "49", "+49 (0)30 123456",         "4930123456" },
    { "49", "0049 30 123456",           "4930123456" },
    { "49", "4930123456",               "4930123456" },
    { "33", "01 23 45 67 89",           "33123456789" },
    { "33", "06 12 34 56 78",           "33612345678" },
    { "33", "+33 6 12 34 56 78",        "33612345678" },
    { "33", "0033 1 23 45 67 89",       "33123456789" },
    { "33", "1 23 45 67 89",            "33123456789" },
    { "33", "01 23 45 67",              NULL },
    { "91", "098765 43210",             "919876543210" },
    { "91", "9876543210",               "919876543210" },
    { "91", "+91 98765 43210",          "919876543210" },
    { "91", "919876543210",             "919876543210" },
    { "91", "0 22 2345 6789",           "912223456789" },
    { "55", "(11) 91234-5678",          "5511912345678" },
    { "55", "0 21 11 91234 5678",       "5511912345678" },    /* trunk 0 + carrier 21 */
    { "55", "011 91234 5678",           "5511912345678" },
    { "55", "0021 44 20 7946 0000",     "442079460000" },     /* IDD 00 + carrier 21 */
    { "55", "00 44 20 7946 0000",       NULL },
    { "55", "+55 11 91234-5678",        "5511912345678" },
    { "55", "11 2345-6789",             "551123456789" },
    { "52", "55 1234 5678",             "525512345678" },
    { "52", "01 55 1234 5678",          "525512345678" },
    { "52", "044 55 1234 5678",         "525512345678" },
    { "52", "045 55 1234 5678",         "525512345678" },
    { "52", "+52 1 55 1234 5678",       "525512345678" },
    { "52", "+52 55 1234 5678",         "525512345678" },
    { "52", "1 55 1234 5678",           "525512345678" },
    { "52", "00 1 631 555 1002",        "16315551002" },
    { "52", "09 1 631 555 1002",        "16315551002" },
    /* a country without a row: its code and 4-15 digits in all */
    { "81", "03 1234 5678",             "81312345678" },
    { "81", "+44 20 7946 0000",         "442079460000" },
    { "999", "6315551002",              "9996315551002" },    /* unknown region: length only */
};

static void
test_table(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[PHONE_MAX_DIGITS + 1];
        bool ok = phone_normalize(cases[i].input, strlen(cases[i].input), cases[i].cc, out);

        if (cases[i].want == NULL) {
            if (ok)
                fail_msg("cc %s \"%s\": got %s, want invalid", cases[i].cc, cases[i].input, out);
            assert_string_equal(out, "");
        } else {
            if (!ok)
                fail_msg("cc %s \"%s\": invalid, want %s", cases[i].cc, cases[i].input,
                         cases[i].want);
            assert_string_equal(out, cases[i].want);
        }
    }
}

static void
test_embedded_nul_and_length(void **state)
{
    char out[PHONE_MAX_DIGITS + 1];
    char big[200];

    (void) state;
    assert_false(phone_normalize("6315551002\0" "99", 13, "1", out));
    assert_true(phone_normalize("6315551002\0" "99", 10, "1", out));
    memset(big, '1', sizeof(big));
    assert_false(phone_normalize(big, sizeof(big), "1", out));
    assert_false(phone_normalize("6315551002", 10, "", out));
    assert_false(phone_normalize("6315551002", 10, "1a", out));
    assert_false(phone_normalize("6315551002", 10, NULL, out));
}

static void
test_cc_len(void **state)
{
    (void) state;
    assert_int_equal(phone_cc_len("16315551002"), 1);
    assert_int_equal(phone_cc_len("442079460000"), 2);
    assert_int_equal(phone_cc_len("3512345678"), 3);
    assert_int_equal(phone_cc_len("2112345678"), 3);     /* 211 South Sudan */
    assert_int_equal(phone_cc_len("28123"), 0);          /* 28x is unassigned */
    assert_int_equal(phone_cc_len("0123"), 0);
    assert_int_equal(phone_cc_len(""), 0);
}

static void
test_valid_e164(void **state)
{
    (void) state;
    assert_true(phone_is_valid_e164("16315551002"));
    assert_true(phone_is_valid_e164("442079460000"));
    assert_true(phone_is_valid_e164("5511912345678"));
    assert_false(phone_is_valid_e164("163155588"));
    assert_false(phone_is_valid_e164("+16315551002"));
    assert_false(phone_is_valid_e164("4402079460000"));  /* trunk 0 kept: not canonical */
    assert_false(phone_is_valid_e164("1631555100212345"));
    assert_false(phone_is_valid_e164(""));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_embedded_nul_and_length),
        cmocka_unit_test(test_cc_len),
        cmocka_unit_test(test_valid_e164),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
