/* xalloc.h - allocation that aborts on OOM, so callers keep NULL checks for
 * things that can really fail. */
#ifndef COMMON_XALLOC_H
#define COMMON_XALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void
xalloc_die(size_t n)
{
    fprintf(stderr, "level=fatal msg=\"out of memory allocating %zu bytes\"\n", n);
    abort();
}

static inline void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        xalloc_die(n);
    return p;
}

static inline void *
xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        xalloc_die(nmemb * size);
    return p;
}

static inline void *
xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);
    if (p == NULL)
        xalloc_die(n);
    return p;
}

static inline char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static inline char *
xstrndup(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

#endif /* COMMON_XALLOC_H */
