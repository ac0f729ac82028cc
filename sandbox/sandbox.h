/* sandbox.h - wa-sandbox's process-wide context, built by main.c. The
 * sandbox stands in for WhatsApp's servers (spec/SANDBOX.md): link.c is its
 * network face (ZeroMQ, common/netproto.h), control.c its HTTP control API,
 * network.c the rules both faces share, store.c the state they keep. */
#ifndef SANDBOX_SANDBOX_H
#define SANDBOX_SANDBOX_H

#include <stdint.h>

struct event_base;
struct store;
struct link;
struct control;
struct network;

struct sandbox_config {
    char *endpoint;         /* ZeroMQ ROUTER bind */
    char *control;          /* host:port of the control API (loopback) */
    char *state_dir;
    char *log_level;
};

struct sandbox {
    struct sandbox_config  cfg;
    struct event_base     *base;
    struct store          *store;
    struct link           *link;
    struct control        *control;
    struct network        *net;
};

#endif /* SANDBOX_SANDBOX_H */
