/* contacts.h - POST /v1/contacts and the identity edge (spec/API.md §5).
 * Owns the contacts_cache table (checks cached 7 days; force_check bypasses
 * it) and contact_identities (the last identity of each contact, acknowledged
 * or not). Numbers are normalised with common/phone.h using the registered
 * number's country code; the network (wa-sandbox) says who is on WhatsApp.
 * A batch holds at most CONTACTS_MAX_BATCH numbers. */
#ifndef COREAPP_CONTACTS_H
#define COREAPP_CONTACTS_H

#include <stdbool.h>

#define CONTACTS_MAX_BATCH 10000

struct coreapp;
struct contacts;

/* Registers the commands and the gateway's identity-change handler; sets
 * app->contacts. Needs app->gw and app->account. */
void contacts_init(struct coreapp *app);
void contacts_free(struct contacts *c);                /* NULL is fine */

/* Whether a message to wa_id must be refused with 1028: show_security_notifications
 * is on and the contact's latest identity change is not acknowledged yet. */
bool contacts_send_blocked(struct contacts *c, const char *wa_id);

#endif /* COREAPP_CONTACTS_H */
