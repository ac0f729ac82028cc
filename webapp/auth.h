/* auth.h - the rules of who may call: password policy and hashing (PBKDF2-
 * HMAC-SHA256 from OpenSSL), Basic credentials, signed tokens (JWT, HS256
 * under WA_WEB_JWT_CRYPTO_KEY), the set of revoked tokens, and the slow-down
 * of repeated failed logins. Pure logic: no database, no HTTP, no clock of its
 * own (callers pass now_ms), so it is unit-tested directly. */
#ifndef WEBAPP_AUTH_H
#define WEBAPP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/errors.h"

#define AUTH_ROLE_ADMIN "ROLE_ADMIN"
#define AUTH_ROLE_USER  "ROLE_USER"

/* Username: 4-32 characters of [A-Za-z0-9._@-]. */
bool auth_username_is_valid(const char *name);
/* Password rules of spec/API.md §2.1. Returns true, or false with the
 * unmet rule written to why. */
bool auth_password_is_strong(const char *pw, char *why, size_t whylen);

/* "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>", heap string. */
char *auth_password_hash(const char *pw, int iterations);
/* Constant-time check of pw against a stored hash. */
bool auth_password_verify(const char *pw, const char *stored);

/* Splits "Basic base64(user:pass)". 0 with heap strings, or -1. */
int auth_parse_basic(const char *header, char **user, char **pass);
/* "Bearer <token>" -> pointer into header, or NULL. Same for "Apikey <key>". */
const char *auth_bearer_token(const char *header);
const char *auth_apikey(const char *header);
/* Constant-time string equality. */
bool auth_equal(const char *a, const char *b);

struct auth_claims {
    char    user[64];
    char    role[16];
    char    jti[33];
    int64_t iat_ms;
    int64_t exp_s;
};

/* A signed token for user/role valid ttl_s seconds from now_ms; heap string.
 * claims (may be NULL) receives what was signed. */
char *auth_token_issue(const char *key, const char *user, const char *role,
                       int64_t now_ms, long ttl_s, struct auth_claims *claims);
/* Checks signature, shape and expiry. ERR_OK with claims filled, or
 * ERR_BAD_CREDENTIALS (details in why). */
enum err_code auth_token_verify(const char *key, const char *token, int64_t now_ms,
                                struct auth_claims *claims, char *why, size_t whylen);

/* Tokens already verified, so that a client's next requests cost a lookup
 * instead of an HMAC, a base64 decode and a JSON parse. Only the signature and
 * shape are remembered: expiry is checked at every use, and revocation stays
 * the caller's to check every time (auth_is_revoked). A fixed table (a new
 * token takes the slot of an older one); entries are tied to the key. */
struct auth_token_cache;
struct auth_token_cache *auth_token_cache_new(void);
void auth_token_cache_free(struct auth_token_cache *tc);             /* NULL is fine */
/* auth_token_verify(), answered from tc when it can. */
enum err_code auth_token_verify_cached(struct auth_token_cache *tc, const char *key,
                                       const char *token, int64_t now_ms,
                                       struct auth_claims *claims, char *why, size_t whylen);

/* Revoked tokens: single tokens by jti, and all of a user's tokens issued
 * before a time (password change, deletion). */
struct auth_revocations;
struct auth_revocations *auth_revocations_new(void);
void auth_revocations_free(struct auth_revocations *r);
void auth_revocations_clear(struct auth_revocations *r);
void auth_revoke_jti(struct auth_revocations *r, const char *jti);
void auth_revoke_user_before(struct auth_revocations *r, const char *user, int64_t before_ms);
bool auth_is_revoked(const struct auth_revocations *r, const struct auth_claims *c);

/* Failed-login slow-down, keyed by a name (username, peer address): after
 * free_failures failures, each further attempt waits 2^(n-free) * 250 ms,
 * capped at 16 s; failures older than 15 minutes are forgotten. */
struct auth_throttle;
struct auth_throttle *auth_throttle_new(int free_failures);
void auth_throttle_free(struct auth_throttle *t);
/* Delay to apply before answering a login attempt for key. */
int64_t auth_throttle_delay_ms(struct auth_throttle *t, const char *key, int64_t now_ms);
void auth_throttle_failure(struct auth_throttle *t, const char *key, int64_t now_ms);
void auth_throttle_success(struct auth_throttle *t, const char *key);

#endif /* WEBAPP_AUTH_H */
