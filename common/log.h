/* log.h - one line per event on stderr, as key=value pairs:
 *   ts=2026-11-25T18:00:00.123Z proc=webapp level=info rid=5f3a.. event=http_request status=200 ...
 * The request id (rid) follows a request from webapp to coreapp, so grepping one
 * id shows its whole path. Not thread-safe beyond what stdio gives. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Process name written on every line ("webapp", "coreapp", "sandbox"). */
void log_init(const char *proc, enum log_level min_level);
void log_set_level(enum log_level min_level);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int log_level_parse(const char *s, enum log_level *out);

/* rid may be NULL. fmt continues the line with more key=value pairs; quote
 * values that may hold spaces with %s inside \"...\" (see log_quote). */
void log_event(enum log_level lvl, const char *rid, const char *event,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Copies s into buf (size n) with quotes and backslashes escaped and
 * newlines dropped, so untrusted text can't forge a log line; returns buf. */
const char *log_quote(const char *s, char *buf, unsigned n);

/* The most recent warn and error lines (at most LOG_RECENT_MAX, each cut to
 * LOG_RECENT_LEN - 1 bytes), oldest first, for /v1/support: copies up to max
 * of them into out and returns how many. */
#define LOG_RECENT_MAX 32
#define LOG_RECENT_LEN 512
size_t log_recent(char (*out)[LOG_RECENT_LEN], size_t max);

#define log_debug(rid, ev, ...) log_event(LOG_DEBUG, rid, ev, __VA_ARGS__)
#define log_info(rid, ev, ...)  log_event(LOG_INFO, rid, ev, __VA_ARGS__)
#define log_warn(rid, ev, ...)  log_event(LOG_WARN, rid, ev, __VA_ARGS__)
#define log_error(rid, ev, ...) log_event(LOG_ERROR, rid, ev, __VA_ARGS__)

#endif /* COMMON_LOG_H */
