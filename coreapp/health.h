/* health.h - GET /v1/health: the gateway status, and a database check, since
 * a coreapp that can't reach PostgreSQL can't do its work. */
#ifndef COREAPP_HEALTH_H
#define COREAPP_HEALTH_H

struct coreapp;

/* Registers the health command and loads the registration state. */
void health_init(struct coreapp *app);

#endif /* COREAPP_HEALTH_H */
