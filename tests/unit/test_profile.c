/* links: coreapp/profile.c coreapp/dispatch.c coreapp/gateway.c coreapp/stats.c coreapp/health.c */
/* test_profile.c - the checks behind /v1/settings/profile and business
 * profile (coreapp/profile.h): image sniffing, character counting, e-mail. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "coreapp/profile.h"

/* The smallest well-formed JPEG: 1x1, progressive (SOF2). */
static const unsigned char jpeg_1x1[] = {
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x01, 0x00, 0x48,
    0x00, 0x48, 0x00, 0x00, 0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01,
    0x11, 0x00, 0xFF, 0xD9
};

static const unsigned char png_hdr[] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
    0, 0, 0, 2, 0, 0, 0, 3, 8, 2, 0, 0, 0
};

static void
test_image_type(void **state)
{
    unsigned char buf[64];

    (void) state;
    assert_string_equal(profile_image_type(jpeg_1x1, sizeof(jpeg_1x1)), "image/jpeg");
    assert_string_equal(profile_image_type(png_hdr, sizeof(png_hdr)), "image/png");
    /* truncated or empty headers */
    assert_null(profile_image_type(jpeg_1x1, 4));
    assert_null(profile_image_type(jpeg_1x1, 26));
    assert_null(profile_image_type(png_hdr, 8));
    assert_null(profile_image_type((const unsigned char *) "", 0));
    /* zero dimensions */
    memcpy(buf, png_hdr, sizeof(png_hdr));
    memset(buf + 16, 0, 4);
    assert_null(profile_image_type(buf, sizeof(png_hdr)));
    memcpy(buf, jpeg_1x1, sizeof(jpeg_1x1));
    buf[25] = buf[26] = 0;              /* height 0 */
    assert_null(profile_image_type(buf, sizeof(jpeg_1x1)));
    /* a JPEG that ends before any frame, and a GIF */
    assert_null(profile_image_type((const unsigned char *) "\xFF\xD8\xFF\xD9", 4));
    assert_null(profile_image_type((const unsigned char *) "GIF89a\x01\x00\x01\x00", 10));
    /* a segment length that runs past the end is not read */
    memcpy(buf, "\xFF\xD8\xFF\xE0\xFF\xFF", 6);
    assert_null(profile_image_type(buf, 6));
}

static void
test_utf8_len(void **state)
{
    (void) state;
    assert_int_equal(profile_utf8_len(""), 0);
    assert_int_equal(profile_utf8_len("abc"), 3);
    assert_int_equal(profile_utf8_len("\xC3\xA9t\xC3\xA9"), 3);             /* été */
    assert_int_equal(profile_utf8_len("\xF0\x9F\x98\x80\xF0\x9F\x98\x80"), 2);  /* two emoji */
}

static void
test_email(void **state)
{
    (void) state;
    assert_true(profile_email_is_valid("a@b.co"));
    assert_true(profile_email_is_valid("first.last+tag@sub.example.org"));
    assert_false(profile_email_is_valid("plain"));
    assert_false(profile_email_is_valid("@example.com"));
    assert_false(profile_email_is_valid("a@@example.com"));
    assert_false(profile_email_is_valid("a@b@example.com"));
    assert_false(profile_email_is_valid("a b@example.com"));
    assert_false(profile_email_is_valid("a@example"));
    assert_false(profile_email_is_valid("a@.com"));
    assert_false(profile_email_is_valid("a@example."));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_type),
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_email),
    };

    return cmocka_run_group_tests_name("profile", tests, NULL, NULL);
}
