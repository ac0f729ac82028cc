/* tls.c - OpenSSL server context and self-signed certificates. */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>
#include "common/log.h"
#include "common/xalloc.h"
#include "webapp/tls.h"

struct tls {
    SSL_CTX *ctx;     /* reference held; SSL objects hold their own */
};

static void
openssl_reason(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char          buf[256] = "";

    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    snprintf(err, errlen, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

static SSL_CTX *
ctx_build(const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
    SSL_CTX  *ctx = NULL;
    BIO      *bio = NULL;
    X509     *cert = NULL, *extra = NULL;
    EVP_PKEY *key = NULL;

    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        openssl_reason(err, errlen, "could not create TLS context");
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    bio = BIO_new_mem_buf(cert_pem, -1);
    cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (cert == NULL) {
        openssl_reason(err, errlen, "certificate is not valid PEM");
        goto fail;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        snprintf(err, errlen, "certificate has expired");
        goto fail;
    }
    if (SSL_CTX_use_certificate(ctx, cert) != 1) {
        openssl_reason(err, errlen, "certificate not usable");
        goto fail;
    }
    /* the rest of the PEM is the chain */
    while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            openssl_reason(err, errlen, "chain certificate not usable");
            goto fail;
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    bio = BIO_new_mem_buf(key_pem, -1);
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (key == NULL) {
        openssl_reason(err, errlen, "private key is not valid PEM");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        openssl_reason(err, errlen, "private key does not match the certificate");
        goto fail;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(bio);
    return ctx;
fail:
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(bio);
    SSL_CTX_free(ctx);
    return NULL;
}

struct tls *
tls_new(const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
    SSL_CTX    *ctx = ctx_build(cert_pem, key_pem, err, errlen);
    struct tls *t;

    if (ctx == NULL)
        return NULL;
    t = xcalloc(1, sizeof(*t));
    t->ctx = ctx;
    return t;
}

void
tls_free(struct tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

int
tls_replace(struct tls *t, const char *cert_pem, const char *key_pem, char *err,
            size_t errlen)
{
    SSL_CTX *ctx = ctx_build(cert_pem, key_pem, err, errlen);

    if (ctx == NULL)
        return -1;
    SSL_CTX_free(t->ctx);       /* live SSLs keep their own reference */
    t->ctx = ctx;
    return 0;
}

struct ssl_st *
tls_ssl_new(struct tls *t)
{
    return SSL_new(t->ctx);
}

static char *
bio_to_string(BIO *bio)
{
    char  *data;
    long   n = BIO_get_mem_data(bio, &data);

    return xstrndup(data, (size_t) n);
}

static int
add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX      ctx;
    X509_EXTENSION *ext;
    int             rc;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    rc = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ext);
    return rc;
}

int
tls_make_self_signed(const char *name, char **cert_pem, char **key_pem)
{
    EVP_PKEY      *key = EVP_EC_gen("P-256");
    X509          *cert = X509_new();
    X509_NAME     *subj;
    BIO           *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    unsigned char  serial[16];
    BIGNUM        *bn = NULL;
    char           san[512];
    int            rc = -1;

    *cert_pem = *key_pem = NULL;
    if (key == NULL || cert == NULL || cb == NULL || kb == NULL)
        goto done;
    X509_set_version(cert, 2);
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 825L * 24 * 3600);
    X509_set_pubkey(cert, key);
    subj = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC, (const unsigned char *) "wa self-signed", -1, -1, 0);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *) name, -1, -1, 0);
    X509_set_issuer_name(cert, subj);
    snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", name);
    if (add_ext(cert, NID_subject_alt_name, san) != 0 ||
        add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(cert, NID_ext_key_usage, "serverAuth") != 0)
        goto done;
    if (X509_sign(cert, key, EVP_sha256()) == 0)
        goto done;
    if (PEM_write_bio_X509(cb, cert) != 1 ||
        PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto done;
    *cert_pem = bio_to_string(cb);
    *key_pem = bio_to_string(kb);
    rc = 0;
done:
    if (rc != 0)
        log_error(NULL, "tls_selfsigned_failed", "reason=\"%s\"",
                  ERR_reason_error_string(ERR_get_error()));
    BN_free(bn);
    BIO_free(cb);
    BIO_free(kb);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int
tls_split_bundle(const char *pem, int min_certs, char **key_pem, char **chain_pem,
                 char **ca_pem, char *err, size_t errlen)
{
    BIO      *in = BIO_new_mem_buf(pem, -1), *chain = BIO_new(BIO_s_mem());
    BIO      *kb = BIO_new(BIO_s_mem()), *cab = NULL;
    char     *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long      len;
    int       ncerts = 0, nkeys = 0, rc = -1;

    *key_pem = *chain_pem = *ca_pem = NULL;
    while (PEM_read_bio(in, &name, &header, &data, &len) == 1) {
        if (strcmp(name, "CERTIFICATE") == 0) {
            const unsigned char *p = data;
            X509 *x = d2i_X509(NULL, &p, len);
            if (x == NULL) {
                snprintf(err, errlen, "certificate %d does not parse", ncerts + 1);
                goto done;
            }
            PEM_write_bio_X509(chain, x);
            BIO_free(cab);
            cab = BIO_new(BIO_s_mem());
            PEM_write_bio_X509(cab, x);
            X509_free(x);
            ncerts++;
        } else if (strstr(name, "PRIVATE KEY") != NULL) {
            PEM_write_bio(kb, name, header, data, len);
            nkeys++;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
    }
    ERR_clear_error();
    if (nkeys != 1) {
        snprintf(err, errlen, "expected one PEM private key, found %d", nkeys);
        goto done;
    }
    if (ncerts < min_certs) {
        snprintf(err, errlen, "expected the certificate and at least %d intermediate "
                 "certificate(s), found %d certificate(s)", min_certs - 1, ncerts);
        goto done;
    }
    *key_pem = bio_to_string(kb);
    *chain_pem = bio_to_string(chain);
    *ca_pem = bio_to_string(cab);
    rc = 0;
done:
    OPENSSL_free(name);         /* set when a block failed to parse */
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(in);
    BIO_free(chain);
    BIO_free(kb);
    BIO_free(cab);
    return rc;
}
