/* support.h - GET /v1/support: the coreapp's facts (coreapp/support.h) plus
 * the webapp's own (version, uptime, connections, its last warn/error log
 * lines). Answers 200 even when the coreapp is unreachable, saying so: that
 * is when a support ticket needs the facts most. Never secrets. */
#ifndef WEBAPP_SUPPORT_H
#define WEBAPP_SUPPORT_H

#include "webapp/http_server.h"

struct webapp;

void route_support(struct http_req *req, struct webapp *app);

#endif /* WEBAPP_SUPPORT_H */
