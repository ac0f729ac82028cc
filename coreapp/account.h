/* account.h - registration of the business's number (spec/API.md §3.1-3.2)
 * and two-step verification (§13.7). Owns the account, account_keys and
 * account_pending tables: the number, its display name from the certificate,
 * the CURVE key pair the network knows us by, and a code requested but not
 * yet verified. The network (wa-sandbox) checks certificates, codes and pins;
 * this module validates the request's shape, decodes the certificate for the
 * display name, and tells the gateway who we are. */
#ifndef COREAPP_ACCOUNT_H
#define COREAPP_ACCOUNT_H

#include <stdbool.h>

struct coreapp;
struct account;

/* Registers the account and two-step commands; loads the registration at
 * every database connect and hands the gateway its identity. Sets app->account. */
void account_init(struct coreapp *app);
void account_free(struct account *a);                  /* NULL is fine */
/* Reads the registration from the database again (as at every connect) and
 * hands the gateway the identity found; for POST /v1/settings/restore, which
 * writes the tables directly. Queued on app->db, so a query queued there after
 * this call runs after the reload. */
void account_reload(struct coreapp *app);

/* The registered number's country calling code ("1") and wa_id, or NULL when
 * no number is registered (borrowed). */
const char *account_cc(const struct account *a);
const char *account_wa_id(const struct account *a);

/* Shape checks shared with the unit tests: strict base64 (RFC 4648, padded),
 * and the display name of one of the network's certificates for cc +
 * phone_number. account_cert_vname returns a heap string or NULL, with *why
 * saying what is wrong ("undecodable" or "other_number"). */
bool account_is_base64(const char *s);
char *account_cert_vname(const char *cert, const char *cc, const char *phone_number,
                         const char **why);

#endif /* COREAPP_ACCOUNT_H */
