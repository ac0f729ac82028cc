/* contacts.h - POST /v1/contacts and the identity edge (spec/API.md §5).
 * Owns the contacts_cache table (checks cached 7 days; force_check bypasses
 * it) and contact_identities (the last identity of each contact, acknowledged
 * or not). Numbers are normalised with common/phone.h using the registered
 * number's country code; the network (wa-sandbox) says who is on WhatsApp.
 * A batch holds at most CONTACTS_MAX_BATCH numbers. */
#ifndef COREAPP_CONTACTS_H
#define COREAPP_CONTACTS_H

#include <jansson.h>

#define CONTACTS_MAX_BATCH 10000

struct coreapp;
struct contacts;

/* Registers the commands and the gateway's identity-change handler; sets
 * app->contacts. Needs app->gw and app->account. */
void contacts_init(struct coreapp *app);
void contacts_free(struct contacts *c);                /* NULL is fine */

/* While show_security_notifications is on: {hash, created_timestamp (ms)} of
 * wa_id's latest identity change if it is not acknowledged yet (messages to
 * wa_id are then refused with 1028, and its inbound messages carry it), else
 * NULL. Borrowed. */
const json_t *contacts_unacked_identity(struct contacts *c, const char *wa_id);

#endif /* COREAPP_CONTACTS_H */
