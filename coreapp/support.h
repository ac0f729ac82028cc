/* support.h - GET /v1/support, the coreapp's half: installation facts for a
 * support ticket (version, libraries, uptime, database, registration and
 * gateway state, a digest of the application settings, the last warn/error
 * log lines). Never secrets: account keys and settings values stay out, the
 * settings only as a SHA-256 digest. The webapp adds its own half. */
#ifndef COREAPP_SUPPORT_H
#define COREAPP_SUPPORT_H

struct coreapp;

/* Registers the support command. */
void support_init(struct coreapp *app);

#endif /* COREAPP_SUPPORT_H */
