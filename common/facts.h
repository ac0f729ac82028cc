/* facts.h - small pieces of /v1/support that both processes report the same
 * way: timestamps in ISO 8601 and the recent warning/error log lines. */
#ifndef COMMON_FACTS_H
#define COMMON_FACTS_H

#include <stdint.h>
#include <jansson.h>

/* "2026-11-25T18:00:00Z" for epoch milliseconds; new reference. */
json_t *facts_iso_time(int64_t ms);
/* The last warn/error log lines of this process (log_recent()), oldest
 * first, as an array of strings; new reference. */
json_t *facts_recent_errors(void);

#endif /* COMMON_FACTS_H */
