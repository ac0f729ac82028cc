/* profile.h - the business's public face (spec/API.md §13.4-13.6), kept in
 * PostgreSQL (sql/006_admin.sql) so every coreapp serves the same:
 *   /v1/settings/profile/about     GET, PATCH {"text": 1-139 characters}
 *   /v1/settings/profile/photo     GET (binary, or ?format=link), POST (binary
 *                                  JPEG or PNG up to PROFILE_PHOTO_MAX bytes;
 *                                  Content-Type and magic bytes must agree),
 *                                  DELETE
 *   /v1/settings/business/profile  GET, POST (partial update, §13.4 limits)
 * The photo link: this server is its own CDN, so ?format=link answers the
 * API path that serves the photo, relative to the API's base URL, with the
 * photo's digest as a cache key ("/v1/settings/profile/photo?v=<16 hex>");
 * fetching it needs an admin token like the binary GET. Admin-only (the
 * webapp's route table checks the role).
 *
 * The network shows customers the current profile: after every change that
 * committed, and every time the link comes up (after a restart, a network
 * outage, a registration), the whole profile goes to the network in one
 * "profile" request (common/netproto.h): About text, the photo's SHA-256,
 * size and type (not its bytes), and the business profile. Pushes never
 * overlap; a change during one is pushed right after it. A push that fails
 * (link down longer than PROFILE_PUSH_TIMEOUT_MS) is made good by the push
 * when the link comes back up. */
#ifndef COREAPP_PROFILE_H
#define COREAPP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

struct coreapp;
struct profile;

#define PROFILE_ABOUT_MAX     139          /* characters (code points) */
#define PROFILE_PHOTO_MAX     (5u << 20)   /* bytes */
#define BUSINESS_TEXT_MAX     256          /* address, description, each website */
#define BUSINESS_EMAIL_MAX    128
#define BUSINESS_WEBSITES_MAX 2
#define PROFILE_PUSH_TIMEOUT_MS 30000

/* Registers the profile commands and follows the network link (call after
 * gateway_init()); stores its state in app->profile. Not "profile_init":
 * libkrb5 (pulled in by libpq) exports profile_init and other profile_*
 * names, and ours would replace its own at link time. */
void profile_settings_init(struct coreapp *app);
/* NULL is fine. Call before gateway_free(): a push still waiting for the
 * network or the database is let go by its callback. */
void profile_settings_free(struct profile *p);

/* "image/jpeg" or "image/png" when data is one (magic bytes plus a header
 * with non-zero dimensions), else NULL. */
const char *profile_image_type(const unsigned char *data, size_t len);
/* Number of code points in valid UTF-8 s. */
size_t profile_utf8_len(const char *s);
/* A plausible address: local@domain.tld, no spaces, one '@'. */
bool profile_email_is_valid(const char *s);

#endif /* COREAPP_PROFILE_H */
