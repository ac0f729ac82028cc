/* tls.h - the webapp's TLS identity: an OpenSSL context built from PEM text,
 * replaceable while serving (new connections get the new certificate), and the
 * self-signed certificate made at first start when none is configured. */
#ifndef WEBAPP_TLS_H
#define WEBAPP_TLS_H

#include <stddef.h>

struct tls;
struct ssl_st;

/* Context from a PEM certificate chain and its private key. NULL with a
 * reason in err when they don't parse, don't match or the cert expired. */
struct tls *tls_new(const char *cert_pem, const char *key_pem, char *err, size_t errlen);
void tls_free(struct tls *t);
/* Swap in a new certificate and key; the old context stays alive for the
 * connections that use it. 0, or -1 with err (nothing changed). */
int tls_replace(struct tls *t, const char *cert_pem, const char *key_pem,
                char *err, size_t errlen);
/* A new SSL for one accepted connection. */
struct ssl_st *tls_ssl_new(struct tls *t);

/* Splits a PEM bundle (private key, certificate, intermediates in any order
 * of blocks) into heap strings: the key, the certificate chain (leaf first, as
 * given) and the last certificate (the CA end of the chain). 0, or -1 with a
 * reason in err. At least min_certs certificates are required. */
int tls_split_bundle(const char *pem, int min_certs, char **key_pem, char **chain_pem,
                     char **ca_pem, char *err, size_t errlen);

/* A P-256 key and a self-signed certificate for name (plus localhost,
 * 127.0.0.1 and ::1), valid 825 days. Heap PEM strings. 0 or -1. */
int tls_make_self_signed(const char *name, char **cert_pem, char **key_pem);

#endif /* WEBAPP_TLS_H */
