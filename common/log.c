/* log.c - key=value event lines on stderr. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include "common/log.h"

static const char     *log_proc = "wa";
static enum log_level  log_min = LOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* The last warn/error lines, for /v1/support; a mutex because pool threads
 * may log too. */
static char            recent[LOG_RECENT_MAX][LOG_RECENT_LEN];
static unsigned long   recent_total;
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;

size_t
log_recent(char (*out)[LOG_RECENT_LEN], size_t max)
{
    size_t n, first;

    pthread_mutex_lock(&recent_lock);
    n = recent_total < LOG_RECENT_MAX ? recent_total : LOG_RECENT_MAX;
    n = n < max ? n : max;
    first = recent_total - n;                       /* the newest n, oldest first */
    for (size_t i = 0; i < n; i++)
        memcpy(out[i], recent[(first + i) % LOG_RECENT_MAX], LOG_RECENT_LEN);
    pthread_mutex_unlock(&recent_lock);
    return n;
}

void
log_init(const char *proc, enum log_level min_level)
{
    log_proc = proc;
    log_min = min_level;
    setvbuf(stderr, NULL, _IOLBF, 0);
}

void log_set_level(enum log_level min_level) { log_min = min_level; }

int
log_level_parse(const char *s, enum log_level *out)
{
    for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level) i;
            return 0;
        }
    }
    return -1;
}

const char *
log_quote(const char *s, char *buf, unsigned n)
{
    unsigned j = 0;

    if (n == 0)
        return "";
    for (; s != NULL && *s != '\0' && j + 2 < n; s++) {
        if (*s == '\n' || *s == '\r')
            continue;
        if (*s == '"' || *s == '\\')
            buf[j++] = '\\';
        buf[j++] = *s;
    }
    buf[j] = '\0';
    return buf;
}

void
log_event(enum log_level lvl, const char *rid, const char *event,
          const char *fmt, ...)
{
    char            line[2048];
    struct timeval  tv;
    struct tm       tm;
    int             len;
    va_list         ap;

    if (lvl < log_min)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    len = snprintf(line, sizeof(line),
                   "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ proc=%s level=%s%s%s event=%s",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, (long) (tv.tv_usec / 1000), log_proc,
                   level_names[lvl], rid ? " rid=" : "", rid ? rid : "", event);
    if (fmt != NULL && fmt[0] != '\0' && len > 0 && (size_t) len < sizeof(line) - 1) {
        line[len++] = ' ';
        va_start(ap, fmt);
        vsnprintf(line + len, sizeof(line) - (size_t) len, fmt, ap);
        va_end(ap);
    }
    fprintf(stderr, "%s\n", line);
    if (lvl >= LOG_WARN) {
        /* long lines are cut: their start says what happened */
        size_t n = strnlen(line, LOG_RECENT_LEN - 1);

        pthread_mutex_lock(&recent_lock);
        memcpy(recent[recent_total % LOG_RECENT_MAX], line, n);
        recent[recent_total % LOG_RECENT_MAX][n] = '\0';
        recent_total++;
        pthread_mutex_unlock(&recent_lock);
    }
}
