/* sealbox.c - scrypt + AES-256-GCM boxes and strict base64 (see sealbox.h). */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <string.h>
#include "common/log.h"
#include "common/sealbox.h"
#include "common/xalloc.h"

#define KEY_LEN 32

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- base64 ------------------------------------------------------------------- */

char *
sealbox_base64_encode(const void *data, size_t len)
{
    const unsigned char *in = data;
    char                *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;

    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned) in[i] << 16;
        size_t   n = len - i < 3 ? len - i : 3;

        if (n > 1)
            v |= (unsigned) in[i + 1] << 8;
        if (n > 2)
            v |= in[i + 2];
        *o++ = b64_alphabet[v >> 18 & 63];
        *o++ = b64_alphabet[v >> 12 & 63];
        *o++ = n > 1 ? b64_alphabet[v >> 6 & 63] : '=';
        *o++ = n > 2 ? b64_alphabet[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static int
b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;

    return p ? (int) (p - b64_alphabet) : -1;
}

unsigned char *
sealbox_base64_decode(const char *s, size_t *len)
{
    size_t         n = strlen(s), pad = 0, o = 0;
    unsigned char *out;

    *len = 0;
    if (n % 4 != 0)
        return NULL;
    if (n > 0 && s[n - 1] == '=')
        pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
    out = xmalloc(n / 4 * 3 + 1);
    for (size_t i = 0; i < n; i += 4) {
        bool     last = i + 4 == n;
        int      q = last ? 4 - (int) pad : 4;       /* significant characters */
        unsigned v = 0;

        for (int k = 0; k < 4; k++) {
            int d = k < q ? b64_value(s[i + k]) : 0;

            if (d < 0)
                goto bad;                            /* also '=' before the end */
            v = v << 6 | (unsigned) d;
        }
        /* Unused bits must be zero: otherwise two strings decode to the same
         * bytes, and a changed character would go unnoticed. */
        if ((q == 2 && (v & 0xffff)) || (q == 3 && (v & 0xff)))
            goto bad;
        out[o++] = (unsigned char) (v >> 16);
        if (q > 2)
            out[o++] = (unsigned char) (v >> 8);
        if (q > 3)
            out[o++] = (unsigned char) v;
    }
    out[o] = '\0';
    *len = o;
    return out;
bad:
    free(out);
    return NULL;
}

/* ---- key derivation --------------------------------------------------------------- */

static bool
kdf_in_range(const struct sealbox_kdf *k)
{
    uint64_t mem;

    if (k->log2_n < 10 || k->log2_n > 20 || k->r < 1 || k->r > 32 || k->p < 1 || k->p > 16)
        return false;
    /* what EVP_PBE_scrypt allocates: B (128 r p) and V (128 r (N + 2)) */
    mem = 128ull * k->r * ((1ull << k->log2_n) + 2 + k->p);
    return mem <= SEALBOX_MAXMEM;
}

static void
log_openssl(const char *what)
{
    char buf[256];

    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    ERR_clear_error();
    log_error(NULL, "sealbox_failed", "op=%s reason=\"%s\"", what, buf);
}

static int
derive(const char *password, size_t password_len, const unsigned char *salt,
       const struct sealbox_kdf *k, unsigned char key[KEY_LEN])
{
    if (EVP_PBE_scrypt(password_len ? password : "", password_len, salt, SEALBOX_SALT_LEN,
                       (uint64_t) 1 << k->log2_n, k->r, k->p, SEALBOX_MAXMEM, key,
                       KEY_LEN) != 1) {
        log_openssl("scrypt");
        return -1;
    }
    return 0;
}

/* AES-256-GCM over in (len bytes) into out, with the header as AAD. enc: tag
 * is written; otherwise tag is checked. Returns 1 ok, 0 tag mismatch, -1
 * OpenSSL failure (logged). */
static int
gcm(bool enc, const unsigned char key[KEY_LEN], const unsigned char *header,
    const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
    const unsigned char *nonce = header + SEALBOX_HEADER_LEN - SEALBOX_NONCE_LEN;
    EVP_CIPHER_CTX      *ctx = EVP_CIPHER_CTX_new();
    int                  n, rc = -1;

    if (ctx == NULL || len > INT32_MAX ||
        EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEALBOX_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &n, header, SEALBOX_HEADER_LEN) != 1 ||
        (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int) len) != 1)) {
        log_openssl(enc ? "encrypt" : "decrypt");
        goto done;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEALBOX_TAG_LEN, tag) != 1) {
        log_openssl("decrypt");
        goto done;
    }
    if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
        if (enc)
            log_openssl("encrypt");
        else
            ERR_clear_error();              /* the tag didn't match: not our failure */
        rc = enc ? -1 : 0;
        goto done;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEALBOX_TAG_LEN, tag) != 1) {
        log_openssl("encrypt");
        goto done;
    }
    rc = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* ---- boxes ---------------------------------------------------------------------- */

char *
sealbox_seal(const void *plain, size_t len, const char *password, size_t password_len,
             const struct sealbox_kdf *kdf)
{
    struct sealbox_kdf k = kdf ? *kdf : SEALBOX_KDF_DEFAULT;
    unsigned char      key[KEY_LEN], *box = NULL;
    char              *out = NULL;

    if (!kdf_in_range(&k) || len > INT32_MAX - SEALBOX_HEADER_LEN - SEALBOX_TAG_LEN)
        return NULL;
    box = xmalloc(SEALBOX_HEADER_LEN + len + SEALBOX_TAG_LEN);
    memcpy(box, SEALBOX_MAGIC, 4);
    box[4] = SEALBOX_VERSION;
    box[5] = SEALBOX_KDF_SCRYPT;
    box[6] = (unsigned char) k.log2_n;
    box[7] = (unsigned char) k.r;
    box[8] = (unsigned char) k.p;
    if (RAND_bytes(box + 9, SEALBOX_SALT_LEN + SEALBOX_NONCE_LEN) != 1) {
        log_openssl("random");
        goto done;
    }
    if (derive(password, password_len, box + 9, &k, key) != 0)
        goto done;
    if (gcm(true, key, box, plain, len, box + SEALBOX_HEADER_LEN,
            box + SEALBOX_HEADER_LEN + len) != 1)
        goto done;
    out = sealbox_base64_encode(box, SEALBOX_HEADER_LEN + len + SEALBOX_TAG_LEN);
done:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(box, SEALBOX_HEADER_LEN + len);      /* the plaintext went through here */
    free(box);
    return out;
}

enum err_code
sealbox_open(const char *box, const char *password, size_t password_len, unsigned char **out,
             size_t *out_len, const char **why)
{
    struct sealbox_kdf k;
    unsigned char      key[KEY_LEN], *raw = NULL, *plain = NULL;
    size_t             len = 0, n;
    enum err_code      rc = ERR_PARAM_INVALID;
    int                ok = -1;

    *out = NULL;
    *out_len = 0;
    if ((raw = sealbox_base64_decode(box, &len)) == NULL) {
        *why = "data is not base64";
        return ERR_PARAM_INVALID;
    }
    /* The checks go from the front, so each reason names the first thing wrong. */
    if (len < 5) {
        *why = "data is too short to be a backup";
        goto done;
    }
    if (memcmp(raw, SEALBOX_MAGIC, 4) != 0) {
        *why = "data is not a backup made by this server";
        goto done;
    }
    if (raw[4] != SEALBOX_VERSION) {
        *why = "data is a backup in a format version this server can't read (it reads version 1)";
        goto done;
    }
    if (len < SEALBOX_HEADER_LEN + SEALBOX_TAG_LEN) {
        *why = "data is truncated";
        goto done;
    }
    k = (struct sealbox_kdf) { raw[6], raw[7], raw[8] };
    if (raw[5] != SEALBOX_KDF_SCRYPT || !kdf_in_range(&k)) {
        *why = "data has key derivation parameters this server does not accept";
        goto done;
    }
    n = len - SEALBOX_HEADER_LEN - SEALBOX_TAG_LEN;
    plain = xmalloc(n + 1);
    if (derive(password, password_len, raw + 9, &k, key) != 0 ||
        (ok = gcm(false, key, raw, raw + SEALBOX_HEADER_LEN, n, plain, raw + len - SEALBOX_TAG_LEN))
            < 0) {
        rc = ERR_INTERNAL;
        *why = "could not decrypt the data";
        goto done;
    }
    if (ok == 0) {
        *why = "wrong password, or the data was changed";
        goto done;
    }
    plain[n] = '\0';
    *out = plain;
    *out_len = n;
    plain = NULL;
    rc = ERR_OK;
    *why = NULL;
done:
    OPENSSL_cleanse(key, sizeof(key));
    if (plain != NULL) {
        OPENSSL_cleanse(plain, n);           /* may hold unauthenticated plaintext */
        free(plain);
    }
    free(raw);
    return rc;
}
