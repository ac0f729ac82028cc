/* config.h - configuration from environment variables, one table row per key:
 * name, type, field, default, bounds. Loading validates every row, so a bad
 * value stops start-up with a message naming the variable. */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum cfg_type { CFG_T_STR, CFG_T_INT, CFG_T_BOOL };

struct cfg_key {
    const char    *env;        /* variable name, e.g. "WA_DB_PORT" */
    enum cfg_type  type;
    size_t         offset;     /* of a char * (STR) or long (INT, BOOL) field */
    const char    *def;        /* default as text; NULL = unset (STR only) */
    long           min, max;   /* bounds for INT; for STR, length bounds when max > 0 */
    int            secret;     /* never printed */
    const char    *help;
};

#define CFG_STR(env, type, field, def, help) \
    { env, CFG_T_STR, offsetof(type, field), def, 0, 0, 0, help }
#define CFG_STR_LEN(env, type, field, def, lo, hi, secret, help) \
    { env, CFG_T_STR, offsetof(type, field), def, lo, hi, secret, help }
#define CFG_SECRET(env, type, field, help) \
    { env, CFG_T_STR, offsetof(type, field), NULL, 0, 0, 1, help }
#define CFG_INT(env, type, field, def, lo, hi, help) \
    { env, CFG_T_INT, offsetof(type, field), def, lo, hi, 0, help }
#define CFG_BOOL(env, type, field, def, help) \
    { env, CFG_T_BOOL, offsetof(type, field), def, 0, 1, 0, help }

/* Fills conf from the environment (or defaults). Returns 0, or -1 with a
 * message naming the key in err. Strings are heap copies: cfg_cleanup(). */
int cfg_load(const struct cfg_key *keys, size_t n, void *conf, char *err, size_t errlen);
void cfg_cleanup(const struct cfg_key *keys, size_t n, void *conf);
/* The table as --help text. */
void cfg_print_help(FILE *out, const struct cfg_key *keys, size_t n);
/* Effective values, secrets masked (for --check-config). */
void cfg_print(FILE *out, const struct cfg_key *keys, size_t n, const void *conf);

/* Shared handling of --help / --check-config for main(): returns -1 to go on,
 * or an exit status. */
int cfg_main_args(int argc, char **argv, const char *prog, const char *what,
                  const struct cfg_key *keys, size_t n, void *conf);

#endif /* COMMON_CONFIG_H */
