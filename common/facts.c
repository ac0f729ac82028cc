/* facts.c - shared pieces of /v1/support. */
#include <stdlib.h>
#include <time.h>
#include "common/facts.h"
#include "common/log.h"
#include "common/xalloc.h"

json_t *
facts_iso_time(int64_t ms)
{
    time_t    t = (time_t) (ms / 1000);
    struct tm tm;
    char      buf[32];

    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

json_t *
facts_recent_errors(void)
{
    char  (*lines)[LOG_RECENT_LEN] = xmalloc(LOG_RECENT_MAX * sizeof(*lines));
    size_t  n = log_recent(lines, LOG_RECENT_MAX);
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++) {
        json_t *s = json_string(lines[i]);        /* NULL if cut inside a UTF-8 sequence */
        json_array_append_new(arr, s ? s : json_string("(line not valid UTF-8)"));
    }
    free(lines);
    return arr;
}
