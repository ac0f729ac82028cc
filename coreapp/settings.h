/* settings.h - the application settings (spec/API.md §13.1): GET, PATCH and
 * DELETE /v1/settings/application.
 *
 * Owns the app_settings table (sql/005) and the rules of every field: its
 * type, default and range, all in one table in settings.c. The effective
 * values live in memory for the other modules, which read them with
 * settings_get() and hear about changes through settings_on_change(); nothing
 * needs a restart. A change made by any coreapp reaches the others through
 * NOTIFY wa_settings. Uses its own PostgreSQL connection, so its transactions
 * never mix with another module's batch. Knows no HTTP and no ZeroMQ.
 *
 * Behaviour worth knowing (also in the README's compatibility notes):
 * - PATCH merges nested objects key by key. The whole body is validated
 *   first: an unknown key, a wrong type or a value out of range gives 1009
 *   with details naming the key (e.g. "webhooks.max_concurrent_requests"),
 *   and then nothing changes.
 * - "wa_id" is read-only: a string there is accepted and ignored, so a body
 *   read with GET can be sent back; any other type is 1009.
 * - "pass_through" can't be turned on (as since v2.35): true gives 1009.
 * - "webhooks.url" must be an https:// URL or "" (callbacks off).
 * - "webhooks.secret" (our addition, write-only: GET never shows it) turns
 *   on X-Hub-Signature-256 on callbacks; see coreapp/webhooks.h.
 * - Durations in ms accept an integer or a string of digits (the original
 *   documents both); GET returns integers.
 * - log_level / verbose_logging change the coreapp's log level at once; the
 *   level used is the most verbose of WA_LOG_LEVEL, log_level and
 *   verbose_logging (= debug).
 */
#ifndef COREAPP_SETTINGS_H
#define COREAPP_SETTINGS_H

#include <stdbool.h>

struct coreapp;
struct settings;

/* media.auto_download, as bits */
enum settings_media {
    SETTINGS_MEDIA_AUDIO    = 1 << 0,
    SETTINGS_MEDIA_DOCUMENT = 1 << 1,
    SETTINGS_MEDIA_VOICE    = 1 << 2,
    SETTINGS_MEDIA_VIDEO    = 1 << 3,
    SETTINGS_MEDIA_IMAGE    = 1 << 4,
    SETTINGS_MEDIA_STICKER  = 1 << 5,
};

/* The effective settings (defaults merged with what was set). Strings are
 * never NULL ("" when unset). */
struct app_settings {
    char *webhooks_url;                       /* "" = callbacks disabled */
    long  webhooks_max_concurrent_requests;   /* 6, 12, 18 or 24 */
    bool  webhooks_message_sent;
    bool  webhooks_message_delivered;
    bool  webhooks_message_read;
    char *webhooks_secret;                    /* "" = none set here */
    bool  sent_status;
    bool  callback_persist;
    long  callback_backoff_delay_ms;
    long  max_callback_backoff_delay_ms;
    unsigned media_auto_download;             /* enum settings_media bits */
    bool  pass_through;
    long  heartbeat_interval;                 /* s */
    long  unhealthy_interval;                 /* s */
    bool  gc_messages;                        /* garbagecollector_enable.messages */
    bool  gc_media;                           /* garbagecollector_enable.media */
    bool  db_garbagecollector_enable;
    bool  notify_user_change_number;
    bool  show_security_notifications;
    bool  axolotl_context_striping_disabled;
    bool  skip_referral_media_download;
    bool  webhook_payload_conversation_pricingmodel_disabled;
    char *on_call_pager;
    bool  verbose_logging;
    char *log_level;                          /* debug, info, warn, error */
};

/* Loads the settings (blocking, start-up only; defaults if the database
 * can't be read, until the connection's first connect reloads them), opens
 * the module's connection and registers the three commands. Stores its
 * state in app->settings. */
void settings_init(struct coreapp *app);
/* Answers what is still queued and frees everything; NULL is fine. Call
 * before dispatch_free(), after the modules that read settings. */
void settings_free(struct settings *s);

/* The current settings; borrowed, valid until the next change (read what you
 * need in the callback at hand, don't keep the pointer across loop turns).
 * Defaults before settings_init(). */
const struct app_settings *settings_get(const struct coreapp *app);

/* Called after every change, from PATCH/DELETE here or from another coreapp,
 * with the new and the previous settings (both borrowed, for the call only). */
typedef void (*settings_change_cb)(const struct app_settings *now,
                                   const struct app_settings *before, void *arg);
void settings_on_change(struct coreapp *app, settings_change_cb cb, void *arg);

/* Whether a status callback of this kind ("sent", "delivered", "read",
 * "failed", "deleted") is wanted: "sent" when webhooks.message.sent or the
 * older sent_status is true, "delivered"/"read" per webhooks.message.*, the
 * others always. For the messaging code, before it queues a status callback. */
bool settings_status_callback_wanted(const struct app_settings *s, const char *status);

#endif /* COREAPP_SETTINGS_H */
