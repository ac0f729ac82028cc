/* users.h - the webapp's standing user state: the default admin account made
 * at first start, and this instance's copy of the revoked tokens, kept in step
 * with every other webapp through PostgreSQL LISTEN/NOTIFY (reloaded in full
 * after each reconnect, so a missed notification can't leave a revoked token
 * usable). */
#ifndef WEBAPP_USERS_H
#define WEBAPP_USERS_H

#define USERS_ADMIN           "admin"
#define USERS_ADMIN_DEFAULT   "secret"
#define USERS_NOTIFY_CHANNEL  "wa_token_revoked"

struct webapp;

/* Blocking, at start-up: creates admin/secret (to be changed at first login)
 * unless it exists. 0 or -1. */
int users_seed_admin(struct webapp *app);
/* Hooks the revocation cache to app->db. */
void users_sync_start(struct webapp *app);
/* A valid hash of nothing anyone knows, to spend the same time on unknown users. */
const char *users_dummy_hash(void);

#endif /* WEBAPP_USERS_H */
