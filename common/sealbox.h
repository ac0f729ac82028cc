/* sealbox.h - password-sealed boxes: a byte buffer encrypted and authenticated
 * with a key derived from a password, carried as one base64 string. Used by
 * POST /v1/settings/backup and /restore (coreapp/backup.c). Pure: OpenSSL's
 * libcrypto only, no I/O, no event loop.
 *
 * FORMAT (version SEALBOX_VERSION = 1), base64 (RFC 4648, standard alphabet,
 * padded, no line breaks) of:
 *
 *   offset  size  field
 *        0     4  magic "WABK"
 *        4     1  format version (1)
 *        5     1  key derivation: 1 = scrypt (RFC 7914, OpenSSL EVP_PBE_scrypt)
 *        6     1  scrypt log2(N)
 *        7     1  scrypt r
 *        8     1  scrypt p
 *        9    16  salt (random per box)
 *       25    12  nonce (random per box)
 *       37     n  ciphertext: AES-256-GCM of the plaintext (n = its length)
 *     37+n    16  GCM tag
 *
 * The key is scrypt(password, salt, N, r, p) -> 32 bytes. The 37 header bytes
 * are GCM's additional authenticated data, so no byte of the box can change
 * without the tag check failing. Default parameters: N = 2^15, r = 8, p = 1
 * (32 MiB, about 0.1 s on one core). Opening accepts log2(N) 10-20, r 1-32,
 * p 1-16 with 128 * r * (N + p) at most SEALBOX_MAXMEM, so a forged header
 * can't make us spend unbounded memory or time before the tag is checked.
 */
#ifndef COMMON_SEALBOX_H
#define COMMON_SEALBOX_H

#include <stddef.h>
#include <stdint.h>
#include "common/errors.h"

#define SEALBOX_MAGIC       "WABK"
#define SEALBOX_VERSION     1
#define SEALBOX_KDF_SCRYPT  1
#define SEALBOX_SALT_LEN    16
#define SEALBOX_NONCE_LEN   12
#define SEALBOX_TAG_LEN     16
#define SEALBOX_HEADER_LEN  (4 + 1 + 1 + 3 + SEALBOX_SALT_LEN + SEALBOX_NONCE_LEN)   /* 37 */
#define SEALBOX_MAXMEM      (256u << 20)

struct sealbox_kdf {
    unsigned log2_n, r, p;
};
#define SEALBOX_KDF_DEFAULT ((struct sealbox_kdf) { 15, 8, 1 })

/* Seals len bytes of plain (may be 0) with password (password_len bytes, any
 * content). kdf NULL means SEALBOX_KDF_DEFAULT. Returns the box as a
 * NUL-terminated base64 heap string, or NULL when kdf is out of range or
 * OpenSSL fails (logged). */
char *sealbox_seal(const void *plain, size_t len, const char *password, size_t password_len,
                   const struct sealbox_kdf *kdf) __attribute__((warn_unused_result));

/* Opens box (a NUL-terminated string). On ERR_OK *out is the plaintext (heap,
 * with a NUL after its *out_len bytes, so text can be used as a string).
 * Otherwise *out is NULL and the error is
 *   ERR_PARAM_INVALID  the box is refused; *why says why, in words fit for an
 *                      API error's details: not base64, too short, not a box,
 *                      another version, parameters out of range, or "wrong
 *                      password, or the data was changed" (GCM can't tell the
 *                      two apart, by design)
 *   ERR_INTERNAL       OpenSSL failed (logged); *why says so.
 * *why is a static string. */
enum err_code sealbox_open(const char *box, const char *password, size_t password_len,
                           unsigned char **out, size_t *out_len, const char **why)
    __attribute__((warn_unused_result));

/* Strict base64 (standard alphabet, padded, length a multiple of 4, unused
 * bits zero, so each byte string has exactly one encoding). Returns the
 * decoded bytes (heap, NUL after *len bytes) or NULL if s is not such base64. */
unsigned char *sealbox_base64_decode(const char *s, size_t *len);
/* Base64 of len bytes, NUL-terminated heap string. */
char *sealbox_base64_encode(const void *data, size_t len);

#endif /* COMMON_SEALBOX_H */
