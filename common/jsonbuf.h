/* jsonbuf.h - a growing text buffer and a compact JSON writer for jansson
 * values, for the hot paths (frames, journal lines, envelopes): the same text
 * as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) at a fraction of the cost,
 * because it writes straight into one buffer instead of through a callback
 * per token and printf per number. Knows nothing of what it writes. */
#ifndef COMMON_JSONBUF_H
#define COMMON_JSONBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct jbuf {
    char   *p;              /* NUL-terminated once anything was added */
    size_t  len, cap;
};

#define JBUF_INIT { NULL, 0, 0 }

void jbuf_add(struct jbuf *b, const char *s, size_t n);
void jbuf_addc(struct jbuf *b, char c);
void jbuf_adds(struct jbuf *b, const char *s);            /* a C string, as is */
/* s (n bytes of valid UTF-8) as a JSON string literal, quotes included. */
void jbuf_str(struct jbuf *b, const char *s, size_t n);
void jbuf_int(struct jbuf *b, long long v);
/* Whether s (n bytes) is valid UTF-8 by jansson's rules (json_string()
 * refuses what this refuses). */
bool jbuf_utf8_valid(const char *s, size_t n);
/* v as compact JSON, objects in their iteration order. */
void jbuf_json(struct jbuf *b, const json_t *v);
/* The text (heap, NUL-terminated, never NULL) and its length; b is empty after. */
char *jbuf_take(struct jbuf *b, size_t *len);
void jbuf_reset(struct jbuf *b);                          /* keeps the memory */
void jbuf_free(struct jbuf *b);

/* json_dumps(v, JSON_COMPACT) through jbuf_json: heap string, length in *len
 * (len may be NULL). */
char *jbuf_dumps(const json_t *v, size_t *len);

/* json_loadb(buf, len, flags, NULL), faster for the documents this product
 * exchanges (frames, wire headers): objects, arrays, strings with simple
 * escapes, integers, literals. Anything else -- a \u escape, a real number,
 * an error of any kind -- is handed to jansson, so the result (value or NULL)
 * is always exactly what json_loadb gives. flags: JSON_REJECT_DUPLICATES and
 * JSON_DECODE_ANY; other flags go straight to jansson. */
json_t *jbuf_loadb(const char *buf, size_t len, size_t flags);

#endif /* COMMON_JSONBUF_H */
