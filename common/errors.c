/* errors.c - lookup tables generated from errors.def. */
#include <string.h>
#include "common/errors.h"

struct err_row {
    const char *name;
    int         http;
    int         code;
    const char *title;
};

static const struct err_row rows[ERR__COUNT] = {
#define ERR_DEF(name, http, code, title) { #name, http, code, title },
#include "common/errors.def"
#undef ERR_DEF
};

static const struct err_row *
row_get(enum err_code e)
{
    if ((unsigned) e >= ERR__COUNT)
        e = ERR_GENERIC;
    return &rows[e];
}

int err_http_status(enum err_code e) { return row_get(e)->http; }
int err_api_code(enum err_code e)    { return row_get(e)->code; }
const char *err_title(enum err_code e) { return row_get(e)->title; }
const char *err_name(enum err_code e)  { return row_get(e)->name; }

enum err_code
err_from_name(const char *name)
{
    for (int i = 0; i < ERR__COUNT; i++)
        if (name != NULL && strcmp(rows[i].name, name) == 0)
            return (enum err_code) i;
    return ERR_GENERIC;
}
