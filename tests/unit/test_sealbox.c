/* links: */
/* test_sealbox.c - password-sealed boxes (common/sealbox.h): round trips,
 * wrong passwords, every single-byte change of a box, truncation, extension,
 * bad base64, other versions and parameters, and the strict base64 codec.
 * Most tests use cheap scrypt parameters (N = 2^10, r = 1) to stay fast; one
 * round trip uses the defaults. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/sealbox.h"

static const struct sealbox_kdf fast = { 10, 1, 1 };
static const char pw[] = "correct horse battery staple";

static char *
seal(const void *plain, size_t len, const char *password)
{
    char *box = sealbox_seal(plain, len, password, strlen(password), &fast);

    assert_non_null(box);
    return box;
}

/* Opens box with password; on success checks nothing else and frees. Returns
 * the error code and sets *why. */
static enum err_code
try_open(const char *box, const char *password, size_t password_len, const char **why)
{
    unsigned char *out = (unsigned char *) "sentinel";
    size_t         len = 99;
    enum err_code  rc = sealbox_open(box, password, password_len, &out, &len, why);

    if (rc != ERR_OK) {
        assert_null(out);
        assert_int_equal(len, 0);
        assert_non_null(*why);
    }
    free(out);
    return rc;
}

static void
expect_refused(const char *box, const char *words)
{
    const char *why = NULL;

    assert_int_equal(try_open(box, pw, strlen(pw), &why), ERR_PARAM_INVALID);
    if (words != NULL && strstr(why, words) == NULL)
        fail_msg("why \"%s\" does not mention \"%s\"", why, words);
}

/* The box's raw bytes (heap). */
static unsigned char *
raw_of(const char *box, size_t *len)
{
    unsigned char *raw = sealbox_base64_decode(box, len);

    assert_non_null(raw);
    return raw;
}

static void
test_round_trip(void **state)
{
    unsigned char  bin[4096];
    size_t         lens[] = { 0, 1, 15, 16, 17, 100, sizeof(bin) };
    const char    *why = NULL;

    (void) state;
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char) (i * 7 + (i >> 8));          /* NULs included */
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char          *box = seal(bin, lens[i], pw);
        unsigned char *out = NULL;
        size_t         len = 0;
        size_t         raw_len;
        unsigned char *raw = raw_of(box, &raw_len);

        assert_int_equal(raw_len, SEALBOX_HEADER_LEN + lens[i] + SEALBOX_TAG_LEN);
        assert_memory_equal(raw, "WABK\x01\x01\x0a\x01\x01", 9);
        assert_int_equal(sealbox_open(box, pw, strlen(pw), &out, &len, &why), ERR_OK);
        assert_null(why);
        assert_int_equal(len, lens[i]);
        if (lens[i] > 0)
            assert_memory_equal(out, bin, lens[i]);
        assert_int_equal(out[len], '\0');
        free(out);
        free(raw);
        free(box);
    }
}

static void
test_default_parameters(void **state)
{
    const char     text[] = "{\"settings\":{}}";
    char          *box = sealbox_seal(text, strlen(text), pw, strlen(pw), NULL);
    unsigned char *out = NULL, *raw;
    size_t         len = 0;
    const char    *why;

    (void) state;
    assert_non_null(box);
    raw = raw_of(box, &len);
    assert_int_equal(raw[6], 15);          /* N = 2^15 */
    assert_int_equal(raw[7], 8);
    assert_int_equal(raw[8], 1);
    free(raw);
    assert_int_equal(sealbox_open(box, pw, strlen(pw), &out, &len, &why), ERR_OK);
    assert_string_equal((char *) out, text);
    free(out);
    free(box);
}

static void
test_fresh_salt_and_nonce(void **state)
{
    char          *a = seal("same", 4, pw), *b = seal("same", 4, pw);
    size_t         la, lb;
    unsigned char *ra = raw_of(a, &la), *rb = raw_of(b, &lb);

    (void) state;
    assert_string_not_equal(a, b);
    assert_int_equal(la, lb);
    assert_memory_not_equal(ra + 9, rb + 9, SEALBOX_SALT_LEN);
    assert_memory_not_equal(ra + 25, rb + 25, SEALBOX_NONCE_LEN);
    free(ra);
    free(rb);
    free(a);
    free(b);
}

static void
test_wrong_password(void **state)
{
    char       *box = seal("secret data", 11, pw);
    const char *why;
    const char  nul[] = "correct horse battery staple\0x";

    (void) state;
    assert_int_equal(try_open(box, "correct horse battery stapl", 27, &why), ERR_PARAM_INVALID);
    assert_non_null(strstr(why, "wrong password"));
    assert_int_equal(try_open(box, "Correct horse battery staple", 28, &why), ERR_PARAM_INVALID);
    assert_int_equal(try_open(box, "", 0, &why), ERR_PARAM_INVALID);
    /* the length counts: bytes after a NUL are part of the password */
    assert_int_equal(try_open(box, nul, sizeof(nul) - 1, &why), ERR_PARAM_INVALID);
    assert_int_equal(try_open(box, pw, strlen(pw), &why), ERR_OK);
    free(box);

    /* an empty password and one with a NUL work too, and are different */
    box = sealbox_seal("x", 1, nul, sizeof(nul) - 1, &fast);
    assert_non_null(box);
    assert_int_equal(try_open(box, nul, sizeof(nul) - 1, &why), ERR_OK);
    assert_int_equal(try_open(box, pw, strlen(pw), &why), ERR_PARAM_INVALID);
    free(box);
    box = sealbox_seal("x", 1, "", 0, &fast);
    assert_non_null(box);
    assert_int_equal(try_open(box, "", 0, &why), ERR_OK);
    free(box);
}

/* Every byte of the box, changed in three ways, is refused. */
static void
test_every_byte_flip(void **state)
{
    char          *box = seal("{\"a\":1}", 7, pw);
    size_t         len;
    unsigned char *raw = raw_of(box, &len);
    const unsigned masks[] = { 0x01, 0x80, 0xff };

    (void) state;
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
            char *bad;

            raw[i] ^= (unsigned char) masks[m];
            bad = sealbox_base64_encode(raw, len);
            expect_refused(bad, i < 4 ? "not a backup" : i == 4 ? "version" : NULL);
            free(bad);
            raw[i] ^= (unsigned char) masks[m];
        }
    }
    free(raw);
    free(box);
}

/* Every character of the base64 text, replaced by another character of the
 * alphabet or by one outside it, is refused. */
static void
test_every_character_change(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char  *box = seal("{\"a\":1}", 7, pw);
    size_t n = strlen(box);

    (void) state;
    for (size_t i = 0; i < n; i++) {
        char        was = box[i];
        const char *at = strchr(alphabet, was);
        char        repl[4];

        if (at == NULL)
            continue;                           /* '=' padding: none with 60 bytes */
        repl[0] = alphabet[(at - alphabet + 1) % 64];
        repl[1] = alphabet[(at - alphabet + 32) % 64];
        repl[2] = '*';
        repl[3] = '=';
        for (int k = 0; k < 4; k++) {
            box[i] = repl[k];
            expect_refused(box, NULL);
        }
        box[i] = was;
    }
    expect_refused("", "too short");            /* "" is base64 for no bytes */
    free(box);
}

static void
test_truncated_and_extended(void **state)
{
    char          *box = seal("hello, world", 12, pw), *bad;
    size_t         len;
    unsigned char *raw = raw_of(box, &len), *longer;
    size_t         n = strlen(box);

    (void) state;
    for (size_t cut = 0; cut < len; cut++) {                 /* every shorter byte string */
        bad = sealbox_base64_encode(raw, cut);
        expect_refused(bad, cut < 5 ? "too short" : NULL);
        free(bad);
    }
    for (size_t cut = 1; cut < n; cut++) {                   /* every shorter text */
        char *t = strndup(box, cut);

        expect_refused(t, NULL);
        free(t);
    }
    /* a byte or a block more */
    longer = malloc(len + 16);
    memcpy(longer, raw, len);
    memset(longer + len, 0, 16);
    for (size_t extra = 1; extra <= 16; extra += 15) {
        bad = sealbox_base64_encode(longer, len + extra);
        expect_refused(bad, "wrong password");
        free(bad);
    }
    free(longer);
    free(raw);
    free(box);
}

static void
test_bad_base64(void **state)
{
    const char *bad[] = { "not base64!", "abc", "=", "====", "YQ=", "YR==", "YWJ=",
                          "YW=j", "YWJj\n", " YWJj", "YWJj YWJj", "YWJj====", "Y===",
                          "V0FCSwEBCgEB-_", "\xc3\xa9\xc3\xa9" };

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_refused(bad[i], "not base64");
}

static void
test_wrong_version_and_magic(void **state)
{
    char          *box = seal("{}", 2, pw), *bad;
    size_t         len;
    unsigned char *raw = raw_of(box, &len);
    const char    *why;

    (void) state;
    for (unsigned v = 0; v < 256; v++) {
        if (v == SEALBOX_VERSION)
            continue;
        raw[4] = (unsigned char) v;
        bad = sealbox_base64_encode(raw, len);
        assert_int_equal(try_open(bad, pw, strlen(pw), &why), ERR_PARAM_INVALID);
        assert_non_null(strstr(why, "version"));
        free(bad);
    }
    raw[4] = SEALBOX_VERSION;
    memcpy(raw, "WABJ", 4);
    bad = sealbox_base64_encode(raw, len);
    expect_refused(bad, "not a backup made by this server");
    free(bad);
    /* only the first five bytes of a box from the future: the version is the news */
    memcpy(raw, "WABK\x02", 5);
    bad = sealbox_base64_encode(raw, 5);
    expect_refused(bad, "version");
    free(bad);
    free(raw);
    free(box);
}

static void
test_kdf_parameters(void **state)
{
    const struct sealbox_kdf out_of_range[] = {
        { 9, 1, 1 }, { 21, 1, 1 }, { 10, 0, 1 }, { 10, 33, 1 }, { 10, 1, 0 }, { 10, 1, 17 },
        { 20, 2, 1 },                           /* 256 MiB + a little: over SEALBOX_MAXMEM */
    };
    char          *box = seal("{}", 2, pw), *bad;
    size_t         len;
    unsigned char *raw = raw_of(box, &len);

    (void) state;
    for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++) {
        const struct sealbox_kdf *k = &out_of_range[i];

        assert_null(sealbox_seal("x", 1, pw, strlen(pw), k));
        raw[6] = (unsigned char) k->log2_n;
        raw[7] = (unsigned char) k->r;
        raw[8] = (unsigned char) k->p;
        bad = sealbox_base64_encode(raw, len);
        expect_refused(bad, "key derivation parameters");
        free(bad);
    }
    raw[6] = 10;
    raw[7] = 1;
    raw[8] = 1;
    raw[5] = 2;                                 /* an unknown key derivation */
    bad = sealbox_base64_encode(raw, len);
    expect_refused(bad, "key derivation parameters");
    free(bad);
    free(raw);
    free(box);
}

static void
test_base64_codec(void **state)
{
    static const char *vectors[][2] = {             /* RFC 4648 section 10 */
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };
    unsigned char bytes[256];

    (void) state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char          *e = sealbox_base64_encode(vectors[i][0], strlen(vectors[i][0]));
        size_t         len;
        unsigned char *d = sealbox_base64_decode(vectors[i][1], &len);

        assert_string_equal(e, vectors[i][1]);
        assert_non_null(d);
        assert_int_equal(len, strlen(vectors[i][0]));
        assert_string_equal((char *) d, vectors[i][0]);
        free(e);
        free(d);
    }
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char) (255 - i);
    for (size_t n = 0; n <= sizeof(bytes); n++) {
        char          *e = sealbox_base64_encode(bytes, n);
        size_t         len;
        unsigned char *d = sealbox_base64_decode(e, &len);

        assert_non_null(d);
        assert_int_equal(len, n);
        if (n > 0)
            assert_memory_equal(d, bytes, n);
        free(e);
        free(d);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_default_parameters),
        cmocka_unit_test(test_fresh_salt_and_nonce),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_every_byte_flip),
        cmocka_unit_test(test_every_character_change),
        cmocka_unit_test(test_truncated_and_extended),
        cmocka_unit_test(test_bad_base64),
        cmocka_unit_test(test_wrong_version_and_magic),
        cmocka_unit_test(test_kdf_parameters),
        cmocka_unit_test(test_base64_codec),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
