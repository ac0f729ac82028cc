/* migrations.h - the numbered files of sql/, embedded at build time
 * (scripts/embed_sql.sh writes build/migrations_gen.c) so a binary needs no
 * path to them at run time. Ordered by name. */
#ifndef COMMON_MIGRATIONS_H
#define COMMON_MIGRATIONS_H

#include <stddef.h>

struct migration {
    const char *name;     /* file name, e.g. "001_init.sql" */
    const char *sql;
};

extern const struct migration db_migrations[];
extern const size_t db_migrations_count;

#endif /* COMMON_MIGRATIONS_H */
