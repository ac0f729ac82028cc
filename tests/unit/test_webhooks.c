/* links: coreapp/webhooks.c coreapp/settings.c coreapp/stats.c coreapp/dispatch.c coreapp/health.c */
/* test_webhooks.c - the pure parts of coreapp/webhooks.h and settings.h: the
 * producers' SQL with its literals escaped, the X-Hub-Signature-256 value,
 * what a webhook CA upload accepts, the defaults and the status switches.
 * Delivery itself is tested end to end in tests/integration/test_webhooks.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "coreapp/settings.h"
#include "coreapp/webhooks.h"

/* two self-signed EC certificates and a key, made with openssl req -x509 */
static const char cert_a[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBjzCCATWgAwIBAgIUCbIDkiPyXmCWbP/MwJX19pUXq7gwCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRd2EgdW5pdCB0ZXN0IENBIGEwIBcNMjYxMTI1MTgyOTA3WhgP\n"
    "MjEyNjExMDExODI5MDdaMBwxGjAYBgNVBAMMEXdhIHVuaXQgdGVzdCBDQSBhMFkw\n"
    "EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAL8VBcoF10lhDPr4OVUCo+9w7CofWOtv\n"
    "sT8qgTbW65+0PTYZwbs/rpC10VzLlVH7nepR/0JFd/mt8srWqdVqlKNTMFEwHQYD\n"
    "VR0OBBYEFNpjqCEGrG3A6lUN4YDpBbw6peJOMB8GA1UdIwQYMBaAFNpjqCEGrG3A\n"
    "6lUN4YDpBbw6peJOMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIg\n"
    "Sgx22FyjifUcLkVKPVNX+A3gzFyvv3w3DAKif4P+BNMCIQC2p27q+Kei1pQtRm6B\n"
    "MrGMsC/DcuJl5YuWNDGT/kUukw==\n"
    "-----END CERTIFICATE-----\n";
static const char cert_b[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBjzCCATWgAwIBAgIUEmfn2cD1qMln73JIEjEvP+JbvqUwCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRd2EgdW5pdCB0ZXN0IENBIGIwIBcNMjYxMTI1MTgyOTA3WhgP\n"
    "MjEyNjExMDExODI5MDdaMBwxGjAYBgNVBAMMEXdhIHVuaXQgdGVzdCBDQSBiMFkw\n"
    "EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEawpFpNL1aFD/GJ/LOOzMXcLjstkDKnzB\n"
    "cHKUUw50wfcoYZG76pAVIA8qBw5GWERc1WlLs0r2RgidLtfBDh2C1qNTMFEwHQYD\n"
    "VR0OBBYEFPMUdoDF1JyBJPQLDFralNcYR7dKMB8GA1UdIwQYMBaAFPMUdoDF1JyB\n"
    "JPQLDFralNcYR7dKMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIh\n"
    "AKSKDPXVHoAK186A4au9LH7oIulaGMb89jc1WBKvVKnfAiBKBclM0VDQaOWmR4vL\n"
    "r5UqgIZPC2Jhv35TU9XAFJZo2g==\n"
    "-----END CERTIFICATE-----\n";
static const char key_a[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAYYqxFYbBoPSExXb\n"
    "4Ij2bVr5LVWIGOg2FEXptvVqzlShRANCAAQAvxUFygXXSWEM+vg5VQKj73DsKh9Y\n"
    "62+xPyqBNtbrn7Q9NhnBuz+ukLXRXMuVUfud6lH/QkV3+a3yytap1WqU\n"
    "-----END PRIVATE KEY-----\n";

static int
count(const char *pem)
{
    return webhooks_ca_count(pem, strlen(pem));
}

static void
test_ca_count(void **state)
{
    char buf[4096];

    (void) state;
    assert_int_equal(count(cert_a), 1);
    snprintf(buf, sizeof(buf), "%s%s", cert_a, cert_b);
    assert_int_equal(count(buf), 2);
    snprintf(buf, sizeof(buf), "some text before\n%s\n\n%s", cert_a, cert_b);
    assert_int_equal(count(buf), 2);                 /* text between blocks is fine */
    assert_int_equal(count(key_a), -1);              /* a key is not a certificate */
    snprintf(buf, sizeof(buf), "%s%s", cert_a, key_a);
    assert_int_equal(count(buf), -1);                /* nor is a bundle holding one */
    assert_int_equal(count(""), -1);
    assert_int_equal(count("garbage"), -1);
    assert_int_equal(count("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
                     -1);
    snprintf(buf, sizeof(buf), "%s", cert_a);
    buf[100] = buf[100] == 'A' ? 'B' : 'A';          /* a damaged body */
    assert_int_equal(count(buf), -1);
    snprintf(buf, sizeof(buf), "%s", cert_a);
    buf[strlen(buf) - 10] = '\0';                    /* cut short */
    assert_int_equal(count(buf), -1);
    assert_int_equal(webhooks_ca_count(cert_a, 10), -1);     /* a NUL inside */
    assert_int_equal(webhooks_ca_count(NULL, 0), -1);
}

static void
test_signature(void **state)
{
    char sig[WEBHOOKS_SIGNATURE_LEN];

    (void) state;
    /* RFC 4231 test case 2 */
    webhooks_signature("Jefe", "what do ya want for nothing?", 28, sig);
    assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c7"
                             "5a003f089d2739839dec58b964ec3843");
    webhooks_signature("k", "", 0, sig);
    assert_int_equal(strlen(sig), 7 + 64);
    assert_memory_equal(sig, "sha256=", 7);
}

static void
test_insert_sql(void **state)
{
    char *sql;

    (void) state;
    assert_string_equal(webhook_kind_name(WEBHOOK_INBOUND_MESSAGE), "inbound_message");
    assert_string_equal(webhook_kind_name(WEBHOOK_STATUS_CHANGE), "status_change");
    assert_string_equal(webhook_kind_name(WEBHOOK_SYSTEM), "system");
    assert_string_equal(webhook_kind_name(WEBHOOK_SERVICE), "service");
    assert_string_equal(webhook_kind_name(WEBHOOK_ERROR), "error");
    sql = webhooks_insert_sql(WEBHOOK_STATUS_CHANGE, "{\"a\":\"it's\",\"b\":\"c:\\\\d\"}");
    assert_string_equal(sql, "INSERT INTO wa_callbacks (kind, body) VALUES "
                             "(E'status_change', E'{\"a\":\"it''s\",\"b\":\"c:\\\\\\\\d\"}')");
    free(sql);
    sql = webhooks_insert_sql(WEBHOOK_SERVICE, "");
    assert_string_equal(sql, "INSERT INTO wa_callbacks (kind, body) VALUES (E'service', E'')");
    free(sql);
    assert_string_equal(WEBHOOKS_INSERT_SQL,
                        "INSERT INTO wa_callbacks (kind, body) VALUES ($1, $2)");
}

static void
test_defaults_and_status_switches(void **state)
{
    const struct app_settings *s = settings_get(NULL);
    struct app_settings        t;

    (void) state;
    assert_string_equal(s->webhooks_url, "");
    assert_int_equal(s->webhooks_max_concurrent_requests, 6);
    assert_true(s->callback_persist);
    assert_int_equal(s->callback_backoff_delay_ms, 3000);
    assert_int_equal(s->max_callback_backoff_delay_ms, 900000);
    assert_int_equal(s->media_auto_download, SETTINGS_MEDIA_AUDIO | SETTINGS_MEDIA_DOCUMENT |
                     SETTINGS_MEDIA_VOICE | SETTINGS_MEDIA_VIDEO | SETTINGS_MEDIA_IMAGE |
                     SETTINGS_MEDIA_STICKER);
    assert_string_equal(s->log_level, "info");
    assert_string_equal(s->webhooks_secret, "");
    t = *s;
    assert_true(settings_status_callback_wanted(&t, "sent"));
    t.webhooks_message_sent = false;
    assert_false(settings_status_callback_wanted(&t, "sent"));
    t.sent_status = true;                            /* the older switch still works */
    assert_true(settings_status_callback_wanted(&t, "sent"));
    t.webhooks_message_read = false;
    assert_false(settings_status_callback_wanted(&t, "read"));
    assert_true(settings_status_callback_wanted(&t, "delivered"));
    t.webhooks_message_delivered = false;
    assert_false(settings_status_callback_wanted(&t, "delivered"));
    assert_true(settings_status_callback_wanted(&t, "failed"));
    assert_true(settings_status_callback_wanted(&t, "deleted"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_count),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_insert_sql),
        cmocka_unit_test(test_defaults_and_status_switches),
    };

    return cmocka_run_group_tests_name("webhooks", tests, NULL, NULL);
}
