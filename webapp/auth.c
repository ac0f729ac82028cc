/* auth.c - passwords, tokens, revocations and login throttling. */
#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/xalloc.h"
#include "webapp/auth.h"

#define PW_SPECIALS "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

bool
auth_username_is_valid(const char *name)
{
    size_t n = strlen(name);

    if (n < 4 || n > 32)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char) *p) && !strchr("._@-", *p))
            return false;
    return true;
}

bool
auth_password_is_strong(const char *pw, char *why, size_t whylen)
{
    size_t n = strlen(pw);
    bool   digit = false, upper = false, lower = false, special = false;

    if (n < 8 || n > 64) {
        snprintf(why, whylen, "password must be 8 to 64 characters long");
        return false;
    }
    for (const char *p = pw; *p; p++) {
        unsigned char c = (unsigned char) *p;
        digit |= isdigit(c) != 0;
        upper |= isupper(c) != 0;
        lower |= islower(c) != 0;
        special |= c != '\0' && strchr(PW_SPECIALS, c) != NULL;
    }
    if (!digit || !upper || !lower || !special) {
        snprintf(why, whylen, "Password doesn't meet complexity requirements: it needs at "
                 "least one digit, one upper-case letter, one lower-case letter and one of %s",
                 PW_SPECIALS);
        return false;
    }
    return true;
}

/* ---- base64 ------------------------------------------------------------- */

static char *
b64_encode(const unsigned char *in, size_t len, bool url)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    int   n = EVP_EncodeBlock((unsigned char *) out, in, (int) len);

    if (url) {
        while (n > 0 && out[n - 1] == '=')
            n--;
        out[n] = '\0';
        for (char *p = out; *p; p++)
            *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    }
    return out;
}

/* Decodes standard or url-safe base64 with or without padding. Returns a heap
 * buffer (NUL-terminated) and its length, or NULL. */
static unsigned char *
b64_decode(const char *in, size_t len, size_t *outlen)
{
    size_t         padded, pad;
    char          *tmp;
    unsigned char *out;
    int            n;

    while (len > 0 && in[len - 1] == '=')
        len--;
    pad = (4 - len % 4) % 4;
    if (len == 0 || pad == 3)
        return NULL;
    padded = len + pad;
    tmp = xmalloc(padded + 1);
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    memset(tmp + len, '=', pad);
    tmp[padded] = '\0';
    out = xmalloc(padded / 4 * 3 + 1);
    n = EVP_DecodeBlock(out, (unsigned char *) tmp, (int) padded);
    free(tmp);
    if (n < 0) {
        free(out);
        return NULL;
    }
    n -= (int) pad;             /* EVP_DecodeBlock counts padding as zero bytes */
    out[n] = '\0';
    *outlen = (size_t) n;
    return out;
}

/* ---- passwords ---------------------------------------------------------- */

char *
auth_password_hash(const char *pw, int iterations)
{
    unsigned char salt[16], hash[32];
    char         *s, *h, *out;

    RAND_bytes(salt, sizeof(salt));
    PKCS5_PBKDF2_HMAC(pw, (int) strlen(pw), salt, sizeof(salt), iterations, EVP_sha256(),
                      sizeof(hash), hash);
    s = b64_encode(salt, sizeof(salt), false);
    h = b64_encode(hash, sizeof(hash), false);
    out = xmalloc(strlen(s) + strlen(h) + 40);
    sprintf(out, "pbkdf2-sha256$%d$%s$%s", iterations, s, h);
    free(s);
    free(h);
    return out;
}

bool
auth_password_verify(const char *pw, const char *stored)
{
    char          *copy = xstrdup(stored), *save = NULL;
    const char    *scheme = strtok_r(copy, "$", &save);
    const char    *iters = strtok_r(NULL, "$", &save);
    const char    *salt64 = strtok_r(NULL, "$", &save);
    const char    *hash64 = strtok_r(NULL, "$", &save);
    unsigned char *salt = NULL, *want = NULL, got[32];
    size_t         saltlen = 0, wantlen = 0;
    bool           ok = false;
    int            n;

    if (!scheme || strcmp(scheme, "pbkdf2-sha256") || !iters || !salt64 || !hash64)
        goto done;
    n = atoi(iters);
    salt = b64_decode(salt64, strlen(salt64), &saltlen);
    want = b64_decode(hash64, strlen(hash64), &wantlen);
    if (n < 1 || salt == NULL || want == NULL || wantlen != sizeof(got))
        goto done;
    PKCS5_PBKDF2_HMAC(pw, (int) strlen(pw), salt, (int) saltlen, n, EVP_sha256(),
                      sizeof(got), got);
    ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
done:
    free(salt);
    free(want);
    free(copy);
    return ok;
}

/* ---- headers ------------------------------------------------------------ */

static const char *
after_scheme(const char *header, const char *scheme)
{
    size_t n = strlen(scheme);

    if (header == NULL || strncasecmp(header, scheme, n) != 0 || header[n] != ' ')
        return NULL;
    header += n;
    while (*header == ' ')
        header++;
    return *header ? header : NULL;
}

int
auth_parse_basic(const char *header, char **user, char **pass)
{
    const char    *b64 = after_scheme(header, "Basic");
    unsigned char *raw;
    size_t         len = 0;
    char          *colon;

    *user = *pass = NULL;
    if (b64 == NULL || (raw = b64_decode(b64, strlen(b64), &len)) == NULL)
        return -1;
    colon = memchr(raw, ':', len);
    if (colon == NULL || memchr(raw, '\0', len) != NULL) {
        free(raw);
        return -1;
    }
    *user = xstrndup((char *) raw, (size_t) (colon - (char *) raw));
    *pass = xstrdup(colon + 1);
    free(raw);
    return 0;
}

const char *auth_bearer_token(const char *h) { return after_scheme(h, "Bearer"); }
const char *auth_apikey(const char *h)       { return after_scheme(h, "Apikey"); }

bool
auth_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;

    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char) (a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0 && lb > 0;
}

/* ---- tokens ------------------------------------------------------------- */

static char *
sign(const char *key, const char *msg)
{
    unsigned char mac[32];
    unsigned int  maclen = sizeof(mac);

    HMAC(EVP_sha256(), key, (int) strlen(key), (const unsigned char *) msg, strlen(msg),
         mac, &maclen);
    return b64_encode(mac, maclen, true);
}

char *
auth_token_issue(const char *key, const char *user, const char *role, int64_t now_ms,
                 long ttl_s, struct auth_claims *claims)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    unsigned char     rnd[16];
    char              jti[33], *h64, *p64, *payload, *signing, *sig, *out;
    json_t           *p;

    RAND_bytes(rnd, sizeof(rnd));
    for (int i = 0; i < 16; i++)
        snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
    p = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "sub", user, "role", role, "jti", jti,
                  "iat", (json_int_t) (now_ms / 1000), "iat_ms", (json_int_t) now_ms,
                  "exp", (json_int_t) (now_ms / 1000 + ttl_s));
    payload = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    h64 = b64_encode((const unsigned char *) header, strlen(header), true);
    p64 = b64_encode((const unsigned char *) payload, strlen(payload), true);
    signing = xmalloc(strlen(h64) + strlen(p64) + 2);
    sprintf(signing, "%s.%s", h64, p64);
    sig = sign(key, signing);
    out = xmalloc(strlen(signing) + strlen(sig) + 2);
    sprintf(out, "%s.%s", signing, sig);
    if (claims != NULL) {
        memset(claims, 0, sizeof(*claims));
        snprintf(claims->user, sizeof(claims->user), "%s", user);
        snprintf(claims->role, sizeof(claims->role), "%s", role);
        memcpy(claims->jti, jti, sizeof(jti));
        claims->iat_ms = now_ms;
        claims->exp_s = now_ms / 1000 + ttl_s;
    }
    free(payload);
    free(h64);
    free(p64);
    free(signing);
    free(sig);
    return out;
}

enum err_code
auth_token_verify(const char *key, const char *token, int64_t now_ms,
                  struct auth_claims *c, char *why, size_t whylen)
{
    const char    *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    char          *signing = NULL, *sig = NULL;
    unsigned char *payload = NULL;
    size_t         plen = 0;
    json_t        *p = NULL;
    const char    *sub = NULL, *role = NULL, *jti = NULL;
    json_int_t     iat_ms = 0, exp = 0;
    enum err_code  rc = ERR_BAD_CREDENTIALS;

    memset(c, 0, sizeof(*c));
    snprintf(why, whylen, "invalid token");
    if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL || strlen(token) > 4096)
        return rc;
    signing = xstrndup(token, (size_t) (dot2 - token));
    sig = sign(key, signing);
    if (!auth_equal(sig, dot2 + 1))
        goto done;
    payload = b64_decode(dot1 + 1, (size_t) (dot2 - dot1 - 1), &plen);
    if (payload == NULL || (p = json_loadb((char *) payload, plen, 0, NULL)) == NULL)
        goto done;
    if (json_unpack(p, "{s:s, s:s, s:s, s:I, s:I}", "sub", &sub, "role", &role, "jti", &jti,
                    "iat_ms", &iat_ms, "exp", &exp) != 0 ||
        strlen(sub) >= sizeof(c->user) || strlen(role) >= sizeof(c->role) ||
        strlen(jti) >= sizeof(c->jti))
        goto done;
    if (exp <= now_ms / 1000) {
        snprintf(why, whylen, "token expired");
        goto done;
    }
    strcpy(c->user, sub);
    strcpy(c->role, role);
    strcpy(c->jti, jti);
    c->iat_ms = iat_ms;
    c->exp_s = exp;
    rc = ERR_OK;
    why[0] = '\0';
done:
    json_decref(p);
    free(payload);
    free(signing);
    free(sig);
    return rc;
}

/* ---- verified tokens ---------------------------------------------------- */

#define TOKEN_SLOTS 512

struct token_slot {
    char              *token;        /* NULL: empty */
    const char        *key;          /* the key it was verified with */
    uint64_t           hash;
    struct auth_claims claims;
};

struct auth_token_cache {
    struct token_slot slots[TOKEN_SLOTS];
};

static uint64_t fnv1a(const char *s);

struct auth_token_cache *
auth_token_cache_new(void)
{
    return xcalloc(1, sizeof(struct auth_token_cache));
}

void
auth_token_cache_free(struct auth_token_cache *tc)
{
    if (tc == NULL)
        return;
    for (size_t i = 0; i < TOKEN_SLOTS; i++)
        free(tc->slots[i].token);
    free(tc);
}

enum err_code
auth_token_verify_cached(struct auth_token_cache *tc, const char *key, const char *token,
                         int64_t now_ms, struct auth_claims *c, char *why, size_t whylen)
{
    uint64_t           h = fnv1a(token);
    struct token_slot *s = &tc->slots[h % TOKEN_SLOTS];
    enum err_code      rc;

    if (s->token != NULL && s->hash == h && s->key == key && strcmp(s->token, token) == 0) {
        *c = s->claims;
        if (c->exp_s <= now_ms / 1000) {       /* as auth_token_verify() says it */
            memset(c, 0, sizeof(*c));
            snprintf(why, whylen, "token expired");
            return ERR_BAD_CREDENTIALS;
        }
        why[0] = '\0';
        return ERR_OK;
    }
    rc = auth_token_verify(key, token, now_ms, c, why, whylen);
    if (rc == ERR_OK) {
        free(s->token);
        s->token = xstrdup(token);
        s->key = key;
        s->hash = h;
        s->claims = *c;
    }
    return rc;
}

/* ---- revocations -------------------------------------------------------- */

struct rev_entry {
    struct rev_entry *next;
    char             *key;       /* jti, or "user:<name>" */
    int64_t           before_ms; /* for user entries */
};

struct auth_revocations {
    struct rev_entry **buckets;
    size_t             nbuckets, count;
};

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    return h;
}

struct auth_revocations *
auth_revocations_new(void)
{
    struct auth_revocations *r = xcalloc(1, sizeof(*r));

    r->nbuckets = 1024;
    r->buckets = xcalloc(r->nbuckets, sizeof(*r->buckets));
    return r;
}

void
auth_revocations_clear(struct auth_revocations *r)
{
    for (size_t i = 0; i < r->nbuckets; i++) {
        while (r->buckets[i]) {
            struct rev_entry *e = r->buckets[i];
            r->buckets[i] = e->next;
            free(e->key);
            free(e);
        }
    }
    r->count = 0;
}

void
auth_revocations_free(struct auth_revocations *r)
{
    if (r == NULL)
        return;
    auth_revocations_clear(r);
    free(r->buckets);
    free(r);
}

static struct rev_entry *
rev_find(const struct auth_revocations *r, const char *key)
{
    for (struct rev_entry *e = r->buckets[fnv1a(key) % r->nbuckets]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void
rev_grow(struct auth_revocations *r)
{
    size_t             n = r->nbuckets * 2;
    struct rev_entry **b = xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < r->nbuckets; i++) {
        while (r->buckets[i]) {
            struct rev_entry *e = r->buckets[i];
            r->buckets[i] = e->next;
            e->next = b[fnv1a(e->key) % n];
            b[fnv1a(e->key) % n] = e;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = n;
}

static void
rev_put(struct auth_revocations *r, const char *key, int64_t before_ms)
{
    struct rev_entry *e = rev_find(r, key);
    size_t            b;

    if (e != NULL) {
        if (before_ms > e->before_ms)
            e->before_ms = before_ms;
        return;
    }
    if (r->count >= r->nbuckets)
        rev_grow(r);
    e = xcalloc(1, sizeof(*e));
    e->key = xstrdup(key);
    e->before_ms = before_ms;
    b = fnv1a(key) % r->nbuckets;
    e->next = r->buckets[b];
    r->buckets[b] = e;
    r->count++;
}

void auth_revoke_jti(struct auth_revocations *r, const char *jti) { rev_put(r, jti, 0); }

void
auth_revoke_user_before(struct auth_revocations *r, const char *user, int64_t before_ms)
{
    char key[80];

    snprintf(key, sizeof(key), "user:%s", user);
    rev_put(r, key, before_ms);
}

bool
auth_is_revoked(const struct auth_revocations *r, const struct auth_claims *c)
{
    const struct rev_entry *e;
    char                    key[80];

    if (rev_find(r, c->jti) != NULL)
        return true;
    snprintf(key, sizeof(key), "user:%s", c->user);
    e = rev_find(r, key);
    return e != NULL && c->iat_ms <= e->before_ms;
}

/* ---- throttle ----------------------------------------------------------- */

#define THROTTLE_SLOTS 1024
#define THROTTLE_WINDOW_MS (15 * 60 * 1000)

struct throttle_slot {
    int      failures;
    int64_t  last_ms;
};

struct auth_throttle {
    int                  free_failures;
    struct throttle_slot slots[THROTTLE_SLOTS];
};

struct auth_throttle *
auth_throttle_new(int free_failures)
{
    struct auth_throttle *t = xcalloc(1, sizeof(*t));

    t->free_failures = free_failures;
    return t;
}

void auth_throttle_free(struct auth_throttle *t) { free(t); }

/* A fixed table: colliding keys share a slot, which can only make
 * throttling stricter; a key can't reset another key's count. */
static struct throttle_slot *
slot_of(struct auth_throttle *t, const char *key)
{
    return &t->slots[fnv1a(key) % THROTTLE_SLOTS];
}

int64_t
auth_throttle_delay_ms(struct auth_throttle *t, const char *key, int64_t now_ms)
{
    struct throttle_slot *s = slot_of(t, key);
    int                   over;

    if (now_ms - s->last_ms > THROTTLE_WINDOW_MS)
        s->failures = 0;
    over = s->failures - t->free_failures;
    if (over < 0)
        return 0;
    return over >= 6 ? 16000 : 250LL << over;
}

void
auth_throttle_failure(struct auth_throttle *t, const char *key, int64_t now_ms)
{
    struct throttle_slot *s = slot_of(t, key);

    if (now_ms - s->last_ms > THROTTLE_WINDOW_MS)
        s->failures = 0;
    s->failures++;
    s->last_ms = now_ms;
}

void
auth_throttle_success(struct auth_throttle *t, const char *key)
{
    slot_of(t, key)->failures = 0;
}
