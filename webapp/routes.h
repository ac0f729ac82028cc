/* routes.h - the table of every documented path: method, pattern, who may
 * call it, what body it takes, and either a local handler (users) or the
 * coreapp command it forwards to. Matches requests, enforces auth and body
 * rules, then dispatches. */
#ifndef WEBAPP_ROUTES_H
#define WEBAPP_ROUTES_H

#include "webapp/http_server.h"

struct webapp;
struct routes;

struct routes *routes_new(struct webapp *app);
void routes_free(struct routes *r);
/* The http_server handler: arg is the struct webapp. */
void routes_dispatch(struct http_req *req, void *arg);

/* Local handlers (routes_users.c). req->user/role are set for authenticated
 * routes; req->json is the parsed body for JSON routes. */
void route_login(struct http_req *req, struct webapp *app);
void route_logout(struct http_req *req, struct webapp *app);
void route_user_create(struct http_req *req, struct webapp *app);
void route_user_get(struct http_req *req, struct webapp *app);
void route_user_update(struct http_req *req, struct webapp *app);
void route_user_delete(struct http_req *req, struct webapp *app);

/* routes_certs.c: the webapp's TLS certificate, and keeping every instance
 * serving the stored one. */
void route_cert_external_set(struct http_req *req, struct webapp *app);
void route_cert_external_ca_get(struct http_req *req, struct webapp *app);
void certs_sync_start(struct webapp *app);

/* Shared by handlers: the JSON string field name of obj, or reply 400
 * (1008 missing, 1009 wrong type/length) and return NULL. */
const char *json_str_field_or_reply(struct http_req *req, json_t *obj, const char *name,
                                    size_t min_len, size_t max_len);

#endif /* WEBAPP_ROUTES_H */
