/* backup.h - POST /v1/settings/backup and /v1/settings/restore (spec/API.md
 * §13.3): the installation's settings and registration, sealed with a
 * password (common/sealbox.h: scrypt N=2^15 r=8 p=1, AES-256-GCM, base64), so
 * that another installation can become this business.
 *
 * What a backup holds (JSON inside the box, "format": 1):
 *   settings          the application settings as stored (sql/005 app_settings:
 *                     every field set away from its default, webhooks.secret too)
 *   webhook_ca        the webhook CA bundle (PEM) or null
 *   account           the registration, or null when no number is registered:
 *                     cc, phone_number, wa_id, vname, cert, two_step and the
 *                     business's CURVE key pair (public_key, secret_key). The
 *                     two-step pin itself is not here: the network keeps it and
 *                     this server never stores it (only whether it is on).
 *   profile           About text and photo (base64) with its type
 *   business_profile  address, description, email, vertical, websites
 * Not in it: users and their passwords, the webapp's TLS certificate and
 * token key, messages, contacts, media, sticker packs, callbacks in flight.
 *
 * Restore checks the password and the box first (every refusal is 400/1009
 * with details saying why, and changes nothing), then the contents' shape,
 * then writes every section in ONE SQL statement, so it applies completely or
 * not at all. Sections replace what is here; an "account" of null (a backup of
 * an unregistered installation) leaves the current registration alone, as do
 * a null profile or business_profile. After the write the account module
 * reloads the registration (account_reload()), so the gateway connects as the
 * restored business at once; settings and the webhook CA reload through their
 * NOTIFY triggers, in every coreapp.
 *
 * Password: a JSON string of 1 to BACKUP_PASSWORD_MAX bytes, any characters.
 * The key derivation runs on the coreapp's event loop (about 0.1 s per call):
 * fine for an admin-only, occasional operation.
 */
#ifndef COREAPP_BACKUP_H
#define COREAPP_BACKUP_H

struct coreapp;

#define BACKUP_FORMAT        1        /* of the JSON inside the box */
#define BACKUP_PASSWORD_MAX  1024     /* bytes */

/* Registers WIRE_BACKUP and WIRE_RESTORE. No state of its own. */
void backup_init(struct coreapp *app);

#endif /* COREAPP_BACKUP_H */
