/* config.c - environment-variable configuration driven by a key table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/config.h"
#include "common/xalloc.h"

static int
parse_bool(const char *s, long *out)
{
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on"))
        *out = 1;
    else if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
             !strcasecmp(s, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int
load_key(const struct cfg_key *k, void *conf, char *err, size_t errlen)
{
    const char *v = getenv(k->env);
    char       *end = NULL;
    long        num;

    if (v == NULL || v[0] == '\0')         /* empty means "not set" */
        v = k->def;
    switch (k->type) {
    case CFG_T_STR:
        if (v != NULL && k->max > 0 && v[0] != '\0' &&
            ((long) strlen(v) < k->min || (long) strlen(v) > k->max)) {
            snprintf(err, errlen, "%s: length must be %ld..%ld characters", k->env,
                     k->min, k->max);
            return -1;
        }
        *(char **) ((char *) conf + k->offset) = (v && v[0]) ? xstrdup(v) : NULL;
        return 0;
    case CFG_T_INT:
        errno = 0;
        num = strtol(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || num < k->min || num > k->max) {
            snprintf(err, errlen, "%s: \"%s\" is not an integer in %ld..%ld", k->env, v,
                     k->min, k->max);
            return -1;
        }
        *(long *) ((char *) conf + k->offset) = num;
        return 0;
    case CFG_T_BOOL:
        if (parse_bool(v, &num) != 0) {
            snprintf(err, errlen, "%s: \"%s\" is not a boolean (1/0, true/false)", k->env, v);
            return -1;
        }
        *(long *) ((char *) conf + k->offset) = num;
        return 0;
    }
    return -1;
}

int
cfg_load(const struct cfg_key *keys, size_t n, void *conf, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (load_key(&keys[i], conf, err, errlen) != 0) {
            cfg_cleanup(keys, i, conf);
            return -1;
        }
    }
    return 0;
}

void
cfg_cleanup(const struct cfg_key *keys, size_t n, void *conf)
{
    for (size_t i = 0; i < n; i++) {
        if (keys[i].type == CFG_T_STR) {
            char **p = (char **) ((char *) conf + keys[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}

void
cfg_print_help(FILE *out, const struct cfg_key *keys, size_t n)
{
    fprintf(out, "Environment variables:\n");
    for (size_t i = 0; i < n; i++) {
        const struct cfg_key *k = &keys[i];
        fprintf(out, "  %-30s %s", k->env, k->help);
        if (k->type == CFG_T_INT)
            fprintf(out, " (%ld..%ld)", k->min, k->max);
        if (k->def != NULL && k->def[0] != '\0')
            fprintf(out, " [default: %s]", k->def);
        fputc('\n', out);
    }
}

void
cfg_print(FILE *out, const struct cfg_key *keys, size_t n, const void *conf)
{
    for (size_t i = 0; i < n; i++) {
        const struct cfg_key *k = &keys[i];
        const char *base = (const char *) conf + k->offset;

        if (k->type == CFG_T_STR) {
            const char *s = *(char *const *) base;
            fprintf(out, "%s=%s\n", k->env,
                    s == NULL ? "" : k->secret ? "(set, hidden)" : s);
        } else {
            fprintf(out, "%s=%ld\n", k->env, *(const long *) base);
        }
    }
}

int
cfg_main_args(int argc, char **argv, const char *prog, const char *what,
              const struct cfg_key *keys, size_t n, void *conf)
{
    char err[256];
    int  check = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("Usage: %s [--help] [--check-config]\n%s\n\n", prog, what);
            cfg_print_help(stdout, keys, n);
            return 0;
        } else if (!strcmp(argv[i], "--check-config")) {
            check = 1;
        } else {
            fprintf(stderr, "%s: unknown argument \"%s\" (try --help)\n", prog, argv[i]);
            return 2;
        }
    }
    if (cfg_load(keys, n, conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: bad configuration: %s\n", prog, err);
        return 1;
    }
    if (check) {
        cfg_print(stdout, keys, n, conf);
        printf("%s: configuration ok\n", prog);
        cfg_cleanup(keys, n, conf);
        return 0;
    }
    return -1;
}
