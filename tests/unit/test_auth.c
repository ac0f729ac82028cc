/* links: webapp/auth.c */
/* test_auth.c - webapp/auth.c: usernames, the password policy of spec/API.md
 * §2.1, PBKDF2 hashes, Basic/Bearer/Apikey headers, HS256 tokens (checked
 * against a signer written here with OpenSSL, so the format stays JWT), the
 * revocation set, the failed-login throttle, and a fixed-seed fuzz loop over
 * auth_token_verify and auth_parse_basic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "webapp/auth.h"
#include "common/xalloc.h"

#define ITER 1000                       /* low PBKDF2 cost: tests stay fast */
#define KEY  "test-jwt-key-0123456789"
#define NOW  1764093600123LL            /* 2025-11-25T18:00:00.123Z */
#define TTL  (7 * 24 * 3600L)           /* ENVELOPE.md §2: 7 days */
#define MIN15 (15 * 60 * 1000LL)
#define FREE 3                          /* failures without delay, as webapp uses */

static const char specials[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/* ---- helpers: base64url and an independent HS256 signer ----------------- */

static char *
b64url(const void *in, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    int   n = EVP_EncodeBlock((unsigned char *) out, in, (int) len);

    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

/* "<b64url(header)>.<b64url(payload)>.<b64url(HMAC-SHA256(key, h.p))>" */
static char *
jwt_sign(const char *key, const char *header, const char *payload)
{
    char          *h = b64url(header, strlen(header));
    char          *p = b64url(payload, strlen(payload));
    char          *signing = xmalloc(strlen(h) + strlen(p) + 2), *sig, *out;
    unsigned char  mac[32];
    unsigned int   maclen = sizeof(mac);

    sprintf(signing, "%s.%s", h, p);
    HMAC(EVP_sha256(), key, (int) strlen(key), (unsigned char *) signing, strlen(signing),
         mac, &maclen);
    sig = b64url(mac, maclen);
    out = xmalloc(strlen(signing) + strlen(sig) + 2);
    sprintf(out, "%s.%s", signing, sig);
    free(h);
    free(p);
    free(signing);
    free(sig);
    return out;
}

static const char jwt_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* Verifies with the test key and fresh buffers; returns the code. */
static enum err_code
verify(const char *token, int64_t now_ms, struct auth_claims *c)
{
    struct auth_claims scratch;
    char               why[128];

    return auth_token_verify(KEY, token, now_ms, c ? c : &scratch, why, sizeof(why));
}

/* ---- usernames ------------------------------------------------------------ */

static void
test_username(void **state)
{
    static const char *ok[] = { "admin", "abcd", "a.b_c@d-e", "user1234", "0123",
                                "abcdefghijklmnopqrstuvwxyz012345" /* 32 */ };
    static const char *bad[] = { "", "abc", "abcdefghijklmnopqrstuvwxyz0123456" /* 33 */,
                                 "ad min", "admin!", "adm/in", "admin\n", "ädmin", "a:bcd",
                                 "a\"bcd", "a%bcd" };

    (void) state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!auth_username_is_valid(ok[i]))
            fail_msg("rejected username \"%s\"", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (auth_username_is_valid(bad[i]))
            fail_msg("accepted username \"%s\"", bad[i]);
}

/* ---- password policy ------------------------------------------------------ */

static void
expect_weak(const char *pw)
{
    char why[256] = "";

    if (auth_password_is_strong(pw, why, sizeof(why)))
        fail_msg("accepted weak password \"%s\"", pw);
    assert_true(why[0] != '\0');
}

static void
expect_strong(const char *pw)
{
    char why[256] = "";

    if (!auth_password_is_strong(pw, why, sizeof(why)))
        fail_msg("rejected \"%s\": %s", pw, why);
}

static void
test_password_lengths(void **state)
{
    char pw[80];

    (void) state;
    expect_weak("");
    expect_weak("Ab1!xyz");                      /* 7 */
    expect_strong("Ab1!xyzw");                   /* 8 */
    memset(pw, 'a', sizeof(pw));
    memcpy(pw, "Ab1!", 4);
    pw[64] = '\0';                               /* 64 */
    expect_strong(pw);
    pw[64] = 'a';
    pw[65] = '\0';                               /* 65 */
    expect_weak(pw);
    pw[79] = '\0';
    expect_weak(pw);
}

static void
test_password_classes(void **state)
{
    (void) state;
    expect_strong("Secret1!");
    expect_weak("secret1!");                     /* no upper */
    expect_weak("SECRET1!");                     /* no lower */
    expect_weak("Secretx!");                     /* no digit */
    expect_weak("Secret12");                     /* no special */
    expect_weak("secretxx");                     /* only lower */
    expect_weak("12345678");                     /* only digits */
    expect_weak("!!!!!!!!");                     /* only specials */
    expect_weak("Secret1 ");                     /* space is not in the special set */
    expect_weak("secret");                       /* the default admin password */
}

/* Each character of the documented special set counts, wherever it stands. */
static void
test_password_every_special(void **state)
{
    char pw[16];

    (void) state;
    for (const char *s = specials; *s; s++) {
        snprintf(pw, sizeof(pw), "Abcdef1%c", *s);
        expect_strong(pw);
        snprintf(pw, sizeof(pw), "%cAbcdef1", *s);
        expect_strong(pw);
    }
}

/* The length message and the complexity message are different, and a tiny
 * (or zero-length) reason buffer is never overrun. */
static void
test_password_reasons(void **state)
{
    char why_len[256], why_cx[256], tiny[4];

    (void) state;
    assert_false(auth_password_is_strong("Ab1!", why_len, sizeof(why_len)));
    assert_false(auth_password_is_strong("abcdefgh", why_cx, sizeof(why_cx)));
    assert_string_not_equal(why_len, why_cx);
    memset(tiny, 'Z', sizeof(tiny));
    assert_false(auth_password_is_strong("abcdefgh", tiny, 2));
    assert_int_equal(strlen(tiny), 1);
    assert_int_equal(tiny[2], 'Z');
    assert_false(auth_password_is_strong("abcdefgh", NULL, 0));
}

/* ---- password hashing ----------------------------------------------------- */

static void
test_hash_round_trip(void **state)
{
    char *h1 = auth_password_hash("Secret1!", ITER);
    char *h2 = auth_password_hash("Secret1!", ITER);
    int   dollars = 0;

    (void) state;
    assert_non_null(h1);
    assert_true(strncmp(h1, "pbkdf2-sha256$1000$", 19) == 0);
    for (const char *p = h1; *p; p++)
        dollars += *p == '$';
    assert_int_equal(dollars, 3);
    assert_null(strstr(h1, "Secret1!"));
    assert_string_not_equal(h1, h2);             /* salted */
    assert_true(auth_password_verify("Secret1!", h1));
    assert_true(auth_password_verify("Secret1!", h2));
    assert_false(auth_password_verify("Secret1?", h1));
    assert_false(auth_password_verify("secret1!", h1));
    assert_false(auth_password_verify("Secret1!x", h1));
    assert_false(auth_password_verify("Secret1", h1));
    assert_false(auth_password_verify("", h1));
    free(h1);
    free(h2);
}

static void
test_hash_odd_passwords(void **state)
{
    static const char *pws[] = { "", "x", "pässwörd ✓", "with$dollar$signs", "a:b:c" };

    (void) state;
    for (size_t i = 0; i < sizeof(pws) / sizeof(pws[0]); i++) {
        char *h = auth_password_hash(pws[i], ITER);

        assert_true(auth_password_verify(pws[i], h));
        assert_false(auth_password_verify("Secret1!", h));
        free(h);
    }
}

/* The stored value is checked, not trusted: every corruption fails closed. */
static void
test_hash_corrupted(void **state)
{
    char *h = auth_password_hash("Secret1!", ITER);
    char *salt = strchr(strchr(h, '$') + 1, '$') + 1;
    char *hash = strchr(salt, '$') + 1;
    char  buf[256];

    (void) state;
    /* one character of the hash changed */
    snprintf(buf, sizeof(buf), "%s", h);
    buf[hash - h] = buf[hash - h] == 'A' ? 'B' : 'A';
    assert_false(auth_password_verify("Secret1!", buf));
    /* one character of the salt changed */
    snprintf(buf, sizeof(buf), "%s", h);
    buf[salt - h] = buf[salt - h] == 'A' ? 'B' : 'A';
    assert_false(auth_password_verify("Secret1!", buf));
    /* hash truncated */
    snprintf(buf, sizeof(buf), "%s", h);
    buf[strlen(buf) - 4] = '\0';
    assert_false(auth_password_verify("Secret1!", buf));
    /* hash part dropped */
    snprintf(buf, sizeof(buf), "%.*s", (int) (hash - h - 1), h);
    assert_false(auth_password_verify("Secret1!", buf));
    /* other iteration count */
    snprintf(buf, sizeof(buf), "pbkdf2-sha256$1001$%s", salt);
    assert_false(auth_password_verify("Secret1!", buf));
    /* other scheme */
    snprintf(buf, sizeof(buf), "pbkdf2-sha1$1000$%s", salt);
    assert_false(auth_password_verify("Secret1!", buf));
    /* bad iteration counts */
    snprintf(buf, sizeof(buf), "pbkdf2-sha256$0$%s", salt);
    assert_false(auth_password_verify("Secret1!", buf));
    snprintf(buf, sizeof(buf), "pbkdf2-sha256$-5$%s", salt);
    assert_false(auth_password_verify("Secret1!", buf));
    snprintf(buf, sizeof(buf), "pbkdf2-sha256$abc$%s", salt);
    assert_false(auth_password_verify("Secret1!", buf));
    /* not base64 */
    snprintf(buf, sizeof(buf), "pbkdf2-sha256$1000$!!!!$%s", hash);
    assert_false(auth_password_verify("Secret1!", buf));
    snprintf(buf, sizeof(buf), "pbkdf2-sha256$1000$%.*s$****", (int) (hash - salt - 1), salt);
    assert_false(auth_password_verify("Secret1!", buf));
    /* valid base64 of the wrong length (31 bytes) */
    snprintf(buf, sizeof(buf), "pbkdf2-sha256$1000$%.*s$%s", (int) (hash - salt - 1), salt,
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_false(auth_password_verify("Secret1!", buf));
    /* shapes */
    assert_false(auth_password_verify("Secret1!", ""));
    assert_false(auth_password_verify("Secret1!", "$"));
    assert_false(auth_password_verify("Secret1!", "$$$"));
    assert_false(auth_password_verify("Secret1!", "pbkdf2-sha256"));
    assert_false(auth_password_verify("Secret1!", "pbkdf2-sha256$$$"));
    assert_false(auth_password_verify("Secret1!", "Secret1!"));
    free(h);
}

/* ---- Basic header --------------------------------------------------------- */

/* Parses header; returns rc and, when 0, checks user and pass. */
static void
expect_basic(const char *header, int want_rc, const char *want_user, const char *want_pass)
{
    char *user = (char *) 1, *pass = (char *) 1;
    int   rc = auth_parse_basic(header, &user, &pass);

    if (rc != want_rc) {
        if (rc == 0) {
            free(user);
            free(pass);
        }
        fail_msg("\"%s\": rc %d, wanted %d", header ? header : "(null)", rc, want_rc);
    }
    if (rc == 0) {
        assert_string_equal(user, want_user);
        assert_string_equal(pass, want_pass);
        free(user);
        free(pass);
    } else {
        assert_null(user);
        assert_null(pass);
    }
}

static void
test_basic_valid(void **state)
{
    (void) state;
    expect_basic("Basic dXNlcjpwYXNz", 0, "user", "pass");                /* user:pass */
    expect_basic("Basic YWRtaW46c2VjcmV0", 0, "admin", "secret");         /* admin:secret */
    expect_basic("basic dXNlcjpwYXNz", 0, "user", "pass");                /* scheme is case-insensitive */
    expect_basic("BASIC dXNlcjpwYXNz", 0, "user", "pass");
    expect_basic("Basic dXNlcjpwYXNzIQ==", 0, "user", "pass!");           /* padded */
    expect_basic("Basic dXNlcjpwYXNzIQ", 0, "user", "pass!");             /* unpadded */
    expect_basic("Basic dXNlcjpwYTpzOnM=", 0, "user", "pa:s:s");          /* colon in password */
    expect_basic("Basic dXNlcjpw4pyTc3M=", 0, "user", "p\xe2\x9c\x93ss"); /* UTF-8 */
}

static void
test_basic_extra_spaces(void **state)
{
    (void) state;
    expect_basic("Basic  dXNlcjpwYXNz", 0, "user", "pass");
    expect_basic("Basic      dXNlcjpwYXNz", 0, "user", "pass");
    expect_basic("Basic dXNl cjpwYXNz", -1, NULL, NULL);                  /* space inside */
    expect_basic(" Basic dXNlcjpwYXNz", -1, NULL, NULL);
    expect_basic("Basic", -1, NULL, NULL);
    expect_basic("Basic ", -1, NULL, NULL);
    expect_basic("Basic    ", -1, NULL, NULL);
}

static void
test_basic_missing_colon(void **state)
{
    (void) state;
    expect_basic("Basic dXNlcnBhc3M=", -1, NULL, NULL);                   /* userpass */
    expect_basic("Basic YQ==", -1, NULL, NULL);                           /* a */
}

/* "user:" parses to an empty password and ":" to two empty strings; the
 * login then fails on them, not the parser. */
static void
test_basic_empty_parts(void **state)
{
    (void) state;
    expect_basic("Basic dXNlcjo=", 0, "user", "");
    expect_basic("Basic OnBhc3M=", 0, "", "pass");
    expect_basic("Basic Og==", 0, "", "");
}

static void
test_basic_bad_base64(void **state)
{
    static const char *bad[] = {
        "Basic !!!!", "Basic dXNl*jpwYXNz", "Basic a", "Basic =", "Basic ====",
        "Basic dXNlcjpwYXNz\x01", "Basic dXNlcj=wYXNz", "Basic %%%%%%%%",
        "Basic dXNlcjpwYXNz\xff",
    };

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_basic(bad[i], -1, NULL, NULL);
}

/* A NUL byte inside the decoded credentials is refused rather than silently
 * cutting the name or password short. */
static void
test_basic_embedded_nul(void **state)
{
    (void) state;
    expect_basic("Basic dXMAZXI6cGFzcw==", -1, NULL, NULL);              /* "us\0er:pass" */
    expect_basic("Basic dXNlcjpwYQBzcw==", -1, NULL, NULL);              /* "user:pa\0ss" */
}

static void
test_basic_other_schemes(void **state)
{
    (void) state;
    expect_basic(NULL, -1, NULL, NULL);
    expect_basic("", -1, NULL, NULL);
    expect_basic("Bearer dXNlcjpwYXNz", -1, NULL, NULL);
    expect_basic("Apikey dXNlcjpwYXNz", -1, NULL, NULL);
    expect_basic("Digest username=\"user\"", -1, NULL, NULL);
    expect_basic("BasicdXNlcjpwYXNz", -1, NULL, NULL);
    expect_basic("Basics dXNlcjpwYXNz", -1, NULL, NULL);
    expect_basic("dXNlcjpwYXNz", -1, NULL, NULL);
}

static void
test_basic_long_header(void **state)
{
    size_t n = 20000;
    char  *h = xmalloc(n + 7);

    (void) state;
    memcpy(h, "Basic ", 6);
    memset(h + 6, 'A', n);
    h[6 + n] = '\0';
    expect_basic(h, -1, NULL, NULL);             /* decodes to NULs, no colon */
    free(h);
}

/* ---- Bearer / Apikey ------------------------------------------------------ */

static void
test_bearer(void **state)
{
    const char *h = "Bearer abc.def.ghi";

    (void) state;
    assert_ptr_equal(auth_bearer_token(h), h + 7);          /* a pointer into header */
    assert_string_equal(auth_bearer_token("bearer tok"), "tok");
    assert_string_equal(auth_bearer_token("BEARER tok"), "tok");
    assert_string_equal(auth_bearer_token("Bearer    tok"), "tok");
    assert_null(auth_bearer_token(NULL));
    assert_null(auth_bearer_token(""));
    assert_null(auth_bearer_token("Bearer"));
    assert_null(auth_bearer_token("Bearer "));
    assert_null(auth_bearer_token("Bearer     "));
    assert_null(auth_bearer_token("Bearertok"));
    assert_null(auth_bearer_token("Basic dXNlcjpwYXNz"));
    assert_null(auth_bearer_token("Apikey k"));
    assert_null(auth_bearer_token(" Bearer tok"));
    assert_null(auth_bearer_token("tok"));
}

static void
test_apikey(void **state)
{
    const char *h = "Apikey 0123456789abcdef";

    (void) state;
    assert_ptr_equal(auth_apikey(h), h + 7);
    assert_string_equal(auth_apikey("apikey k1"), "k1");
    assert_string_equal(auth_apikey("APIKEY  k1"), "k1");
    assert_null(auth_apikey(NULL));
    assert_null(auth_apikey(""));
    assert_null(auth_apikey("Apikey"));
    assert_null(auth_apikey("Apikey "));
    assert_null(auth_apikey("Apikeyk1"));
    assert_null(auth_apikey("Bearer k1"));
    assert_null(auth_apikey("Basic k1"));
}

/* ---- auth_equal ----------------------------------------------------------- */

static void
test_equal(void **state)
{
    (void) state;
    assert_true(auth_equal("secret-key-1", "secret-key-1"));
    assert_true(auth_equal("x", "x"));
    assert_false(auth_equal("secret-key-1", "secret-key-2"));
    assert_false(auth_equal("secret-key-1", "Secret-key-1"));
    assert_false(auth_equal("abc", "abcd"));
    assert_false(auth_equal("abcd", "abc"));
    assert_false(auth_equal("abab", "ab"));      /* a repeat of the shorter one */
    assert_false(auth_equal("ab", "abab"));
    assert_false(auth_equal("", "x"));
    assert_false(auth_equal("x", ""));
}

/* ---- tokens --------------------------------------------------------------- */

static void
test_token_issue_verify(void **state)
{
    struct auth_claims issued, got;
    char              *tok = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, &issued);
    char               why[128] = "x";
    int                dots = 0;

    (void) state;
    assert_non_null(tok);
    for (const char *p = tok; *p; p++) {
        dots += *p == '.';
        /* base64url, no padding */
        assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.');
    }
    assert_int_equal(dots, 2);
    assert_string_equal(issued.user, "alice");
    assert_string_equal(issued.role, AUTH_ROLE_USER);
    assert_int_equal(strlen(issued.jti), 32);
    assert_true(issued.iat_ms == NOW);
    assert_true(issued.exp_s == NOW / 1000 + TTL);

    assert_int_equal(auth_token_verify(KEY, tok, NOW, &got, why, sizeof(why)), ERR_OK);
    assert_string_equal(why, "");
    assert_string_equal(got.user, "alice");
    assert_string_equal(got.role, AUTH_ROLE_USER);
    assert_string_equal(got.jti, issued.jti);
    assert_true(got.iat_ms == NOW);
    assert_true(got.exp_s == issued.exp_s);
    free(tok);
}

static void
test_token_unique_and_null_claims(void **state)
{
    struct auth_claims a, b;
    char              *t1 = auth_token_issue(KEY, "admin", AUTH_ROLE_ADMIN, NOW, TTL, NULL);
    char              *t2 = auth_token_issue(KEY, "admin", AUTH_ROLE_ADMIN, NOW, TTL, NULL);

    (void) state;
    assert_string_not_equal(t1, t2);
    assert_int_equal(verify(t1, NOW, &a), ERR_OK);
    assert_int_equal(verify(t2, NOW, &b), ERR_OK);
    assert_string_not_equal(a.jti, b.jti);
    assert_string_equal(a.role, AUTH_ROLE_ADMIN);
    free(t1);
    free(t2);
}

/* What the module verifies is a standard HS256 JWT: one signed here (with
 * the claim names the module uses) is accepted. */
static void
test_token_is_standard_hs256(void **state)
{
    struct auth_claims c;
    char               payload[256], *tok;

    (void) state;
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"bob\",\"role\":\"ROLE_USER\",\"jti\":\"00112233445566778899aabbccddeeff\","
             "\"iat\":%lld,\"iat_ms\":%lld,\"exp\":%lld}",
             NOW / 1000, NOW, NOW / 1000 + 60);
    tok = jwt_sign(KEY, jwt_header, payload);
    assert_int_equal(verify(tok, NOW, &c), ERR_OK);
    assert_string_equal(c.user, "bob");
    assert_string_equal(c.jti, "00112233445566778899aabbccddeeff");
    free(tok);
}

static void
test_token_wrong_key(void **state)
{
    struct auth_claims c;
    char               why[128] = "";
    char              *tok = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, NULL);

    (void) state;
    memset(&c, 0x5a, sizeof(c));
    assert_int_equal(auth_token_verify("another-key", tok, NOW, &c, why, sizeof(why)),
                     ERR_BAD_CREDENTIALS);
    assert_true(why[0] != '\0');
    assert_string_equal(c.user, "");             /* nothing leaks into claims */
    assert_string_equal(c.role, "");
    assert_int_equal(auth_token_verify(KEY "x", tok, NOW, &c, why, sizeof(why)),
                     ERR_BAD_CREDENTIALS);
    assert_int_equal(auth_token_verify("", tok, NOW, &c, why, sizeof(why)),
                     ERR_BAD_CREDENTIALS);
    free(tok);
}

/* A payload changed after signing: the signature no longer matches. */
static void
test_token_tampered_payload(void **state)
{
    char              *tok = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, NULL);
    char              *dot1 = strchr(tok, '.'), *dot2 = strchr(dot1 + 1, '.');
    char               payload[256], *forged, *mixed;
    struct auth_claims c;

    (void) state;
    /* one character of the payload segment changed */
    for (char *p = dot1 + 1; p < dot2; p += 7) {
        char saved = *p;
        *p = *p == 'A' ? 'B' : 'A';
        assert_int_equal(verify(tok, NOW, NULL), ERR_BAD_CREDENTIALS);
        *p = saved;
    }
    assert_int_equal(verify(tok, NOW, NULL), ERR_OK);

    /* privilege escalation: an admin payload with alice's signature */
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"alice\",\"role\":\"ROLE_ADMIN\",\"jti\":\"x\",\"iat\":1,\"iat_ms\":%lld,"
             "\"exp\":%lld}", NOW, NOW / 1000 + TTL);
    forged = jwt_sign("not-the-key", jwt_header, payload);
    mixed = xmalloc(strlen(forged) + strlen(tok));
    sprintf(mixed, "%.*s%s", (int) (strrchr(forged, '.') - forged), forged, dot2);
    assert_int_equal(verify(mixed, NOW, &c), ERR_BAD_CREDENTIALS);
    assert_int_equal(verify(forged, NOW, &c), ERR_BAD_CREDENTIALS);
    free(forged);
    free(mixed);
    free(tok);
}

static void
test_token_tampered_signature(void **state)
{
    char *tok = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, NULL);
    char *sig = strrchr(tok, '.') + 1;
    char *buf = xmalloc(strlen(tok) + 8);
    size_t siglen = strlen(sig);

    (void) state;
    for (size_t i = 0; i < siglen; i++) {        /* every signature character */
        char saved = sig[i];
        sig[i] = sig[i] == 'A' ? 'B' : 'A';
        assert_int_equal(verify(tok, NOW, NULL), ERR_BAD_CREDENTIALS);
        sig[i] = saved;
    }
    sprintf(buf, "%.*s", (int) (strlen(tok) - 1), tok);          /* truncated */
    assert_int_equal(verify(buf, NOW, NULL), ERR_BAD_CREDENTIALS);
    sprintf(buf, "%sA", tok);                                     /* extended */
    assert_int_equal(verify(buf, NOW, NULL), ERR_BAD_CREDENTIALS);
    sprintf(buf, "%sAA", tok);
    assert_int_equal(verify(buf, NOW, NULL), ERR_BAD_CREDENTIALS);
    sprintf(buf, "%.*s", (int) (sig - tok), tok);                 /* "h.p." alg none */
    assert_int_equal(verify(buf, NOW, NULL), ERR_BAD_CREDENTIALS);
    sprintf(buf, "%.*s=", (int) strlen(tok), tok);                /* padding added */
    (void) verify(buf, NOW, NULL);               /* either answer, no crash */
    free(buf);
    free(tok);
}

/* An "alg":"none" token, unsigned, is refused. */
static void
test_token_alg_none(void **state)
{
    char  payload[256];
    char *h, *p, *tok;

    (void) state;
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"admin\",\"role\":\"ROLE_ADMIN\",\"jti\":\"j\",\"iat\":1,\"iat_ms\":%lld,"
             "\"exp\":%lld}", NOW, NOW / 1000 + TTL);
    h = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", 27);
    p = b64url(payload, strlen(payload));
    tok = xmalloc(strlen(h) + strlen(p) + 3);
    sprintf(tok, "%s.%s.", h, p);
    assert_int_equal(verify(tok, NOW, NULL), ERR_BAD_CREDENTIALS);
    free(h);
    free(p);
    free(tok);
}

static void
test_token_expiry(void **state)
{
    struct auth_claims c;
    char               why[128];
    char              *tok = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, 60, &c);
    int64_t            exp_ms = c.exp_s * 1000;
    char              *zero;

    (void) state;
    assert_int_equal(verify(tok, NOW + 59000, NULL), ERR_OK);
    assert_int_equal(verify(tok, exp_ms - 1, NULL), ERR_OK);
    assert_int_equal(auth_token_verify(KEY, tok, exp_ms, &c, why, sizeof(why)),
                     ERR_BAD_CREDENTIALS);
    assert_non_null(strstr(why, "expired"));
    assert_int_equal(verify(tok, exp_ms + 1, NULL), ERR_BAD_CREDENTIALS);
    assert_int_equal(verify(tok, NOW + 8LL * 24 * 3600 * 1000, NULL), ERR_BAD_CREDENTIALS);
    free(tok);

    zero = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, 0, NULL);   /* ttl 0 */
    assert_int_equal(verify(zero, NOW, NULL), ERR_BAD_CREDENTIALS);
    free(zero);

    tok = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, NULL);  /* 7 days */
    assert_int_equal(verify(tok, NOW + (TTL - 1) * 1000, NULL), ERR_OK);
    assert_int_equal(verify(tok, NOW + (TTL + 1) * 1000, NULL), ERR_BAD_CREDENTIALS);
    free(tok);
}

static void
test_token_garbage(void **state)
{
    static const char *bad[] = {
        "", ".", "..", "...", "a", "a.b", "a.b.", ".b.c", "a..c", "a.b.c", "a.b.c.d",
        "a.b.c.d.e", "Bearer a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.",
        "!!!.!!!.!!!", "\xff\xfe.\xff.\xff", "=.=.=", "====.====.====",
    };
    struct auth_claims c;
    char               why[64];

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (auth_token_verify(KEY, bad[i], NOW, &c, why, sizeof(why)) != ERR_BAD_CREDENTIALS)
            fail_msg("accepted token \"%s\"", bad[i]);
        assert_true(why[0] != '\0');
        assert_string_equal(c.user, "");
    }
}

static void
test_token_huge(void **state)
{
    size_t n = 5000;
    char  *t = xmalloc(n + 1);
    char  *valid, *padded;

    (void) state;
    memset(t, 'a', n);
    t[n] = '\0';
    assert_int_equal(verify(t, NOW, NULL), ERR_BAD_CREDENTIALS);           /* no dots */
    t[1000] = '.';
    t[3000] = '.';
    assert_int_equal(verify(t, NOW, NULL), ERR_BAD_CREDENTIALS);           /* three parts */
    memset(t, '.', n);
    assert_int_equal(verify(t, NOW, NULL), ERR_BAD_CREDENTIALS);           /* all dots */
    free(t);

    /* a real token with 5000 bytes of junk in the middle part */
    valid = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, NULL);
    padded = xmalloc(strlen(valid) + 5001);
    sprintf(padded, "%.*s", (int) (strchr(valid, '.') - valid + 1), valid);
    memset(padded + strlen(padded), 'Q', 5000);
    padded[strchr(valid, '.') - valid + 1 + 5000] = '\0';
    strcat(padded, strrchr(valid, '.'));
    assert_int_equal(verify(padded, NOW, NULL), ERR_BAD_CREDENTIALS);
    free(padded);
    free(valid);
}

/* Correctly signed (with the key) but wrong inside: each is refused. */
static void
test_token_signed_but_malformed(void **state)
{
    static const char *payloads[] = {
        "not json",
        "[]",
        "null",
        "{}",
        "{\"sub\":\"a\",\"role\":\"ROLE_USER\",\"jti\":\"j\",\"iat_ms\":1}",          /* no exp */
        "{\"role\":\"ROLE_USER\",\"jti\":\"j\",\"iat_ms\":1,\"exp\":99999999999}",    /* no sub */
        "{\"sub\":\"a\",\"jti\":\"j\",\"iat_ms\":1,\"exp\":99999999999}",             /* no role */
        "{\"sub\":\"a\",\"role\":\"ROLE_USER\",\"iat_ms\":1,\"exp\":99999999999}",    /* no jti */
        "{\"sub\":1,\"role\":\"ROLE_USER\",\"jti\":\"j\",\"iat_ms\":1,\"exp\":99999999999}",
        "{\"sub\":\"a\",\"role\":\"ROLE_USER\",\"jti\":\"j\",\"iat_ms\":1,\"exp\":\"99999999999\"}",
        "{\"sub\":\"a\",\"role\":\"ROLE_USER\",\"jti\":\"j\",\"iat_ms\":1,\"exp\":1.5e11}",
        /* sub of 64 characters: longer than claims.user can hold */
        "{\"sub\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
        "\"role\":\"ROLE_USER\",\"jti\":\"j\",\"iat_ms\":1,\"exp\":99999999999}",
        "{\"sub\":\"a\",\"role\":\"ROLE_USER_AND_MORE\",\"jti\":\"j\",\"iat_ms\":1,\"exp\":99999999999}",
        "{\"sub\":\"a\",\"role\":\"ROLE_USER\",\"jti\":\"00112233445566778899aabbccddeeff0\","
        "\"iat_ms\":1,\"exp\":99999999999}",
    };

    (void) state;
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        char *tok = jwt_sign(KEY, jwt_header, payloads[i]);
        int   rc = verify(tok, NOW, NULL);

        free(tok);
        if (rc != ERR_BAD_CREDENTIALS)
            fail_msg("accepted payload %s", payloads[i]);
    }
}

/* An exp far in the future (signed with the key) must neither overflow nor be
 * taken as expired-in-the-past arithmetic garbage: it is simply not expired,
 * or refused as out of range; either way without undefined behaviour (the
 * sanitizer build checks that). */
static void
test_token_extreme_exp(void **state)
{
    static const char *exps[] = { "9223372036854775807", "9223372036854776", "-9223372036854775808",
                                  "0", "-1" };
    char payload[256];

    (void) state;
    for (size_t i = 0; i < sizeof(exps) / sizeof(exps[0]); i++) {
        char *tok;
        int   rc;

        snprintf(payload, sizeof(payload),
                 "{\"sub\":\"a\",\"role\":\"ROLE_USER\",\"jti\":\"j\",\"iat_ms\":1,\"exp\":%s}",
                 exps[i]);
        tok = jwt_sign(KEY, jwt_header, payload);
        rc = verify(tok, NOW, NULL);
        free(tok);
        if (exps[i][0] == '-' || strcmp(exps[i], "0") == 0)
            assert_int_equal(rc, ERR_BAD_CREDENTIALS);
        else
            assert_true(rc == ERR_OK || rc == ERR_BAD_CREDENTIALS);
    }
}

/* ---- revocations ---------------------------------------------------------- */

static void
test_revoke_jti(void **state)
{
    struct auth_revocations *r = auth_revocations_new();
    struct auth_claims       a, b;
    char                    *t1 = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, &a);
    char                    *t2 = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, &b);

    (void) state;
    assert_false(auth_is_revoked(r, &a));
    auth_revoke_jti(r, a.jti);
    assert_true(auth_is_revoked(r, &a));
    assert_false(auth_is_revoked(r, &b));        /* the user's other session lives */
    auth_revoke_jti(r, a.jti);                   /* twice is fine */
    assert_true(auth_is_revoked(r, &a));
    auth_revocations_clear(r);
    assert_false(auth_is_revoked(r, &a));
    auth_revoke_jti(r, b.jti);                   /* usable after clear */
    assert_true(auth_is_revoked(r, &b));
    auth_revocations_free(r);
    auth_revocations_free(NULL);
    free(t1);
    free(t2);
}

static void
test_revoke_user_before(void **state)
{
    struct auth_revocations *r = auth_revocations_new();
    struct auth_claims       old, at, after, other;
    const int64_t            change = NOW + 5000;          /* password changed here */

    (void) state;
    free(auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, &old));
    free(auth_token_issue(KEY, "alice", AUTH_ROLE_USER, change, TTL, &at));
    free(auth_token_issue(KEY, "alice", AUTH_ROLE_USER, change + 1, TTL, &after));
    free(auth_token_issue(KEY, "bob", AUTH_ROLE_USER, NOW, TTL, &other));

    auth_revoke_user_before(r, "alice", change);
    assert_true(auth_is_revoked(r, &old));
    assert_true(auth_is_revoked(r, &at));        /* "before" includes the same ms */
    assert_false(auth_is_revoked(r, &after));    /* the login after the change */
    assert_false(auth_is_revoked(r, &other));

    /* a later, earlier-dated revocation does not shorten the first */
    auth_revoke_user_before(r, "alice", NOW - 1000);
    assert_true(auth_is_revoked(r, &old));
    /* a later cut-off extends it */
    auth_revoke_user_before(r, "alice", change + 10);
    assert_true(auth_is_revoked(r, &after));
    auth_revocations_free(r);
}

/* A user named like a jti, or a jti shaped like the internal user key, does
 * not revoke the wrong thing. */
static void
test_revoke_namespaces(void **state)
{
    struct auth_revocations *r = auth_revocations_new();
    struct auth_claims       c;

    (void) state;
    memset(&c, 0, sizeof(c));
    snprintf(c.user, sizeof(c.user), "alice");
    snprintf(c.jti, sizeof(c.jti), "alice");
    c.iat_ms = NOW;
    auth_revoke_user_before(r, "bob", NOW + 1);
    auth_revoke_jti(r, "bob");
    assert_false(auth_is_revoked(r, &c));
    auth_revoke_user_before(r, "alice", NOW - 1);   /* before this token */
    assert_false(auth_is_revoked(r, &c));
    auth_revocations_free(r);
}

/* Past the initial 1024 slots the table grows and keeps every entry. */
static void
test_revoke_growth(void **state)
{
    struct auth_revocations *r = auth_revocations_new();
    struct auth_claims       c;
    const int                n = 5000;

    (void) state;
    memset(&c, 0, sizeof(c));
    for (int i = 0; i < n; i += 2) {
        char jti[33];
        snprintf(jti, sizeof(jti), "%032x", i);
        auth_revoke_jti(r, jti);
        if (i % 10 == 0) {
            char user[32];
            snprintf(user, sizeof(user), "user%d", i);
            auth_revoke_user_before(r, user, NOW);
        }
    }
    for (int i = 0; i < n; i++) {
        snprintf(c.jti, sizeof(c.jti), "%032x", i);
        snprintf(c.user, sizeof(c.user), "nobody");
        if (auth_is_revoked(r, &c) != (i % 2 == 0))
            fail_msg("jti %d: revoked=%d", i, !(i % 2 == 0));
        snprintf(c.jti, sizeof(c.jti), "none");
        snprintf(c.user, sizeof(c.user), "user%d", i);
        c.iat_ms = NOW - 1;
        if (auth_is_revoked(r, &c) != (i % 10 == 0))
            fail_msg("user%d: revoked=%d", i, !(i % 10 == 0));
        c.iat_ms = NOW + 1;
        assert_false(auth_is_revoked(r, &c));
    }
    auth_revocations_clear(r);
    snprintf(c.jti, sizeof(c.jti), "%032x", 0);
    assert_false(auth_is_revoked(r, &c));
    auth_revocations_free(r);
}

/* ---- throttle ------------------------------------------------------------- */

static void
test_throttle_schedule(void **state)
{
    static const int64_t want[] = { 0, 0, 0, 250, 500, 1000, 2000, 4000, 8000, 16000,
                                    16000, 16000 };
    struct auth_throttle *t = auth_throttle_new(FREE);
    int64_t               now = NOW;

    (void) state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int64_t d = auth_throttle_delay_ms(t, "admin", now);
        if (d != want[i])
            fail_msg("after %zu failures: delay %lld, wanted %lld", i, (long long) d,
                     (long long) want[i]);
        auth_throttle_failure(t, "admin", now);
        now += 1000;
    }
    for (int i = 0; i < 100; i++)                /* many more: still capped */
        auth_throttle_failure(t, "admin", now++);
    assert_int_equal(auth_throttle_delay_ms(t, "admin", now), 16000);
    auth_throttle_free(t);
    auth_throttle_free(NULL);
}

/* The number of free failures is the caller's; the doubling starts after it. */
static void
test_throttle_free_failures_param(void **state)
{
    struct auth_throttle *one = auth_throttle_new(1);
    struct auth_throttle *five = auth_throttle_new(5);

    (void) state;
    assert_int_equal(auth_throttle_delay_ms(one, "k", NOW), 0);
    auth_throttle_failure(one, "k", NOW);
    assert_int_equal(auth_throttle_delay_ms(one, "k", NOW + 1), 250);
    auth_throttle_failure(one, "k", NOW + 2);
    assert_int_equal(auth_throttle_delay_ms(one, "k", NOW + 3), 500);

    for (int i = 0; i < 5; i++) {
        assert_int_equal(auth_throttle_delay_ms(five, "k", NOW + i), 0);
        auth_throttle_failure(five, "k", NOW + i);
    }
    assert_int_equal(auth_throttle_delay_ms(five, "k", NOW + 10), 250);
    for (int i = 0; i < 20; i++)
        auth_throttle_failure(five, "k", NOW + 20 + i);
    assert_int_equal(auth_throttle_delay_ms(five, "k", NOW + 50), 16000);
    auth_throttle_free(one);
    auth_throttle_free(five);
}

static void
test_throttle_success_resets(void **state)
{
    struct auth_throttle *t = auth_throttle_new(FREE);

    (void) state;
    for (int i = 0; i < 6; i++)
        auth_throttle_failure(t, "admin", NOW + i);
    assert_int_equal(auth_throttle_delay_ms(t, "admin", NOW + 10), 2000);
    auth_throttle_success(t, "admin");
    assert_int_equal(auth_throttle_delay_ms(t, "admin", NOW + 11), 0);
    for (int i = 0; i < 3; i++)                  /* three free failures again */
        auth_throttle_failure(t, "admin", NOW + 20 + i);
    assert_int_equal(auth_throttle_delay_ms(t, "admin", NOW + 30), 250);
    auth_throttle_success(t, "never-failed");    /* unknown key: harmless */
    auth_throttle_free(t);
}

static void
test_throttle_forgets_after_15_minutes(void **state)
{
    struct auth_throttle *t = auth_throttle_new(FREE);
    int64_t               last = NOW + 4;

    (void) state;
    for (int i = 0; i < 5; i++)
        auth_throttle_failure(t, "10.0.0.1", NOW + i);
    assert_int_equal(auth_throttle_delay_ms(t, "10.0.0.1", last + MIN15 - 1), 1000);
    assert_int_equal(auth_throttle_delay_ms(t, "10.0.0.1", last + MIN15), 1000);
    assert_int_equal(auth_throttle_delay_ms(t, "10.0.0.1", last + MIN15 + 1), 0);
    /* and a new failure after the window starts from one */
    auth_throttle_failure(t, "10.0.0.1", last + MIN15 + 2);
    assert_int_equal(auth_throttle_delay_ms(t, "10.0.0.1", last + MIN15 + 3), 0);
    auth_throttle_free(t);
}

/* A new failure long after the old ones also starts from one, even when no
 * delay was asked for in between. */
static void
test_throttle_failure_after_window(void **state)
{
    struct auth_throttle *t = auth_throttle_new(FREE);

    (void) state;
    for (int i = 0; i < 8; i++)
        auth_throttle_failure(t, "bob", NOW + i);
    auth_throttle_failure(t, "bob", NOW + 7 + MIN15 + 1);
    auth_throttle_failure(t, "bob", NOW + 7 + MIN15 + 2);
    assert_int_equal(auth_throttle_delay_ms(t, "bob", NOW + 7 + MIN15 + 3), 0);
    auth_throttle_free(t);
}

static void
test_throttle_keys_independent(void **state)
{
    struct auth_throttle *t = auth_throttle_new(FREE);

    (void) state;
    for (int i = 0; i < 5; i++)
        auth_throttle_failure(t, "alice", NOW + i);
    assert_int_equal(auth_throttle_delay_ms(t, "alice", NOW + 10), 1000);
    assert_int_equal(auth_throttle_delay_ms(t, "bob", NOW + 10), 0);
    assert_int_equal(auth_throttle_delay_ms(t, "", NOW + 10), 0);
    assert_int_equal(auth_throttle_delay_ms(t, "alice", NOW + 10), 1000);
    auth_throttle_free(t);
}

/* Failed login attempts for other names (an attacker can pick them freely)
 * must not lower the delay owed by a throttled key: otherwise one request for
 * a name that lands in the same table slot wipes the counter of "admin". */
static void
test_throttle_not_reset_by_other_keys(void **state)
{
    struct auth_throttle *t = auth_throttle_new(FREE);
    int64_t               now = NOW + 100, delay;
    char                  key[32];

    (void) state;
    for (int i = 0; i < 6; i++)
        auth_throttle_failure(t, "admin", NOW + i);
    assert_int_equal(auth_throttle_delay_ms(t, "admin", now), 2000);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "user%d", i);
        (void) auth_throttle_delay_ms(t, key, now);
        auth_throttle_failure(t, key, now);
    }
    delay = auth_throttle_delay_ms(t, "admin", now);
    auth_throttle_free(t);
    assert_true(delay >= 2000);
}

/* ---- fuzz-style loop ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t
rng(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* A NUL-terminated fuzz string: random non-NUL bytes, random characters of
 * the token alphabet, or the seed with a few characters changed or cut. */
static void
fuzz_string(char *buf, size_t cap, const char *seed)
{
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/: ";
    size_t            n;

    switch (rng() % 3) {
    case 0:
        n = rng() % (cap - 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char) (rng() % 255 + 1);
        break;
    case 1:
        n = rng() % (cap - 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = alpha[rng() % (sizeof(alpha) - 1)];
        break;
    default:
        n = strlen(seed);
        if (n > cap - 1)
            n = cap - 1;
        memcpy(buf, seed, n);
        for (int k = (int) (rng() % 3) + 1; k > 0 && n > 0; k--) {
            size_t at = rng() % n;
            if (rng() % 4 == 0)
                n = at;
            else
                buf[at] = alpha[rng() % (sizeof(alpha) - 1)];
        }
        break;
    }
    buf[n] = '\0';
}

static void
test_fuzz_token_verify(void **state)
{
    char              *seed = auth_token_issue(KEY, "alice", AUTH_ROLE_USER, NOW, TTL, NULL);
    char               buf[600], why[64];
    struct auth_claims c;
    int                ok = 0;

    (void) state;
    rng_state = 0x2545f4914f6cdd1dULL;
    for (int i = 0; i < 20000; i++) {
        enum err_code rc;

        fuzz_string(buf, sizeof(buf), seed);
        rc = auth_token_verify(KEY, buf, NOW, &c, why, sizeof(why));
        assert_true(rc == ERR_OK || rc == ERR_BAD_CREDENTIALS);
        if (rc == ERR_OK) {
            /* only the untouched token (or one equal to it) may pass */
            assert_string_equal(c.user, "alice");
            ok++;
        }
    }
    free(seed);
    (void) ok;
}

static void
test_fuzz_parse_basic(void **state)
{
    char buf[300], hdr[320];

    (void) state;
    rng_state = 0x94d049bb133111ebULL;
    for (int i = 0; i < 20000; i++) {
        char *user = NULL, *pass = NULL;
        int   rc;

        fuzz_string(buf, sizeof(buf), "dXNlcjpwYXNzIQ==");
        snprintf(hdr, sizeof(hdr), "%s%s", i % 4 ? "Basic " : "", buf);
        rc = auth_parse_basic(hdr, &user, &pass);
        assert_true(rc == 0 || rc == -1);
        if (rc == 0) {
            assert_non_null(user);
            assert_non_null(pass);
            assert_null(strchr(user, ':'));
        } else {
            assert_null(user);
            assert_null(pass);
        }
        free(user);
        free(pass);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_username),
        cmocka_unit_test(test_password_lengths),
        cmocka_unit_test(test_password_classes),
        cmocka_unit_test(test_password_every_special),
        cmocka_unit_test(test_password_reasons),
        cmocka_unit_test(test_hash_round_trip),
        cmocka_unit_test(test_hash_odd_passwords),
        cmocka_unit_test(test_hash_corrupted),
        cmocka_unit_test(test_basic_valid),
        cmocka_unit_test(test_basic_extra_spaces),
        cmocka_unit_test(test_basic_missing_colon),
        cmocka_unit_test(test_basic_empty_parts),
        cmocka_unit_test(test_basic_bad_base64),
        cmocka_unit_test(test_basic_embedded_nul),
        cmocka_unit_test(test_basic_other_schemes),
        cmocka_unit_test(test_basic_long_header),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_apikey),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_token_issue_verify),
        cmocka_unit_test(test_token_unique_and_null_claims),
        cmocka_unit_test(test_token_is_standard_hs256),
        cmocka_unit_test(test_token_wrong_key),
        cmocka_unit_test(test_token_tampered_payload),
        cmocka_unit_test(test_token_tampered_signature),
        cmocka_unit_test(test_token_alg_none),
        cmocka_unit_test(test_token_expiry),
        cmocka_unit_test(test_token_garbage),
        cmocka_unit_test(test_token_huge),
        cmocka_unit_test(test_token_signed_but_malformed),
        cmocka_unit_test(test_revoke_jti),
        cmocka_unit_test(test_revoke_user_before),
        cmocka_unit_test(test_revoke_namespaces),
        cmocka_unit_test(test_revoke_growth),
        cmocka_unit_test(test_throttle_schedule),
        cmocka_unit_test(test_throttle_free_failures_param),
        cmocka_unit_test(test_throttle_success_resets),
        cmocka_unit_test(test_throttle_forgets_after_15_minutes),
        cmocka_unit_test(test_throttle_failure_after_window),
        cmocka_unit_test(test_throttle_keys_independent),
        cmocka_unit_test(test_throttle_not_reset_by_other_keys),
        cmocka_unit_test(test_fuzz_token_verify),
        cmocka_unit_test(test_fuzz_parse_basic),
        /* last: under -fno-sanitize-recover a UBSan finding here ends the run */
        cmocka_unit_test(test_token_extreme_exp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
