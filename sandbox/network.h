/* network.h - the rules the sandbox enforces (spec/SANDBOX.md): registration
 * codes and certificates, two-step pins, who is on WhatsApp, identities,
 * message routing with acks, delivery, reads, the 24-hour window and
 * templates, the events owed to each business, settings and counters. Both
 * faces call in here: link.c with protocol frames, control.c with HTTP
 * requests (each control handler returns an HTTP status and sets *out to the
 * answer body, {"error":{"message":...}} on failure). */
#ifndef SANDBOX_NETWORK_H
#define SANDBOX_NETWORK_H

#include <jansson.h>

struct sandbox;
struct network;
struct link_session;

struct network *network_new(struct sandbox *sb);
void network_free(struct network *n);                  /* NULL is fine */

/* link.c's frame callback; arg is the network. */
void network_on_frame(struct link_session *s, json_t *frame, void *arg);

/* Control API handlers: param is the path parameter (wa_id or number) or NULL;
 * body the parsed JSON body or NULL. */
typedef int (*network_ctl_fn)(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_health(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_cert(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_registration(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_registration_expire(struct network *n, const char *param, json_t *body,
                                    json_t **out);
int network_ctl_businesses(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_business(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_customer_put(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_customer_get(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_identity_change(struct network *n, const char *param, json_t *body,
                                json_t **out);
int network_ctl_customer_messages(struct network *n, const char *param, json_t *body,
                                  json_t **out);
int network_ctl_customer_send(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_customer_read(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_window_close(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_number_change(struct network *n, const char *param, json_t *body,
                              json_t **out);
int network_ctl_customer_receipts(struct network *n, const char *param, json_t *body,
                                  json_t **out);
int network_ctl_template_add(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_templates(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_settings_get(struct network *n, const char *param, json_t *body, json_t **out);
int network_ctl_settings_patch(struct network *n, const char *param, json_t *body,
                               json_t **out);
int network_ctl_stats(struct network *n, const char *param, json_t *body, json_t **out);

#endif /* SANDBOX_NETWORK_H */
