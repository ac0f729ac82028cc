/* links: */
/* test_prom.c - the metrics JSON object and its Prometheus text rendering
 * (common/prom.h): exposition syntax, escaping, histograms, number formats,
 * the format query parameter and the process metrics. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include "common/prom.h"

static char *
render(const json_t *m)
{
    size_t len;
    char  *s = prom_render(m, &len);

    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    return s;
}

static void
test_counter_and_gauge(void **state)
{
    json_t *m = json_object(), *d;
    char   *s;

    (void) state;
    d = prom_metric(m, "web_connections", "counter", "Accepted connections");
    prom_sample(d, json_pack("{s:s}", "node", "host1"), 42);
    d = prom_metric(m, "web_uptime", "gauge", "Seconds up");
    prom_sample(d, NULL, 7);
    /* asking again returns the same data array */
    assert_ptr_equal(prom_metric(m, "web_uptime", "gauge", "ignored"), d);
    s = render(m);
    assert_string_equal(s,
        "# HELP web_connections Accepted connections\n"
        "# TYPE web_connections counter\n"
        "web_connections{node=\"host1\"} 42\n"
        "# HELP web_uptime Seconds up\n"
        "# TYPE web_uptime gauge\n"
        "web_uptime 7\n");
    /* the JSON side: the documented shape, integers as integers */
    assert_true(json_is_integer(json_object_get(json_array_get(d, 0), "value")));
    assert_null(json_object_get(json_array_get(d, 0), "labels"));
    free(s);
    json_decref(m);
}

static void
test_escaping(void **state)
{
    json_t *m = json_object(), *d;
    char   *s;

    (void) state;
    d = prom_metric(m, "x", "gauge", "back\\slash and\nnewline \"quoted\"");
    prom_sample(d, json_pack("{s:s}", "v", "a\"b\\c\nd"), 1.5);
    s = render(m);
    assert_string_equal(s,
        "# HELP x back\\\\slash and\\nnewline \"quoted\"\n"
        "# TYPE x gauge\n"
        "x{v=\"a\\\"b\\\\c\\nd\"} 1.5\n");
    free(s);
    json_decref(m);
}

static void
test_empty_metric_and_bad_items(void **state)
{
    json_t *m = json_object(), *d;
    char   *s;

    (void) state;
    prom_metric(m, "callback_requests", "counter", "Callbacks");
    d = prom_metric(m, "y", "gauge", "");
    json_array_append_new(d, json_pack("{s:s}", "value", "not a number"));
    json_object_set_new(m, "broken", json_string("no type"));
    s = render(m);
    /* a family with no samples keeps its HELP/TYPE; no HELP line for "" */
    assert_string_equal(s,
        "# HELP callback_requests Callbacks\n"
        "# TYPE callback_requests counter\n"
        "# TYPE y gauge\n");
    free(s);
    json_decref(m);
}

static void
test_histogram(void **state)
{
    static const double   bounds[] = { 0.01, 0.1, 1 };
    static const uint64_t counts[] = { 2, 0, 1, 3 };
    json_t               *m = json_object(), *d, *item;
    char                 *s;

    (void) state;
    d = prom_metric(m, "h_seconds", "histogram", "Durations");
    prom_histogram_sample(d, json_pack("{s:s}", "route", "r"), bounds, counts, 3, 12.25);
    item = json_array_get(d, 0);
    assert_int_equal(json_integer_value(json_object_get(item, "value")), 6);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(item, "buckets"), "+Inf")), 6);
    s = render(m);
    assert_string_equal(s,
        "# HELP h_seconds Durations\n"
        "# TYPE h_seconds histogram\n"
        "h_seconds_bucket{route=\"r\",le=\"0.01\"} 2\n"
        "h_seconds_bucket{route=\"r\",le=\"0.1\"} 2\n"
        "h_seconds_bucket{route=\"r\",le=\"1\"} 3\n"
        "h_seconds_bucket{route=\"r\",le=\"+Inf\"} 6\n"
        "h_seconds_sum{route=\"r\"} 12.25\n"
        "h_seconds_count{route=\"r\"} 6\n");
    free(s);
    json_decref(m);
}

static void
test_format_double(void **state)
{
    char b[64];

    (void) state;
    prom_format_double(0.1, b, sizeof(b));
    assert_string_equal(b, "0.1");
    prom_format_double(0.0025, b, sizeof(b));
    assert_string_equal(b, "0.0025");
    prom_format_double(3, b, sizeof(b));
    assert_string_equal(b, "3");
    prom_format_double(1e20, b, sizeof(b));
    assert_float_equal(strtod(b, NULL), 1e20, 0);
    prom_format_double(1.0 / 3, b, sizeof(b));
    assert_true(strtod(b, NULL) == 1.0 / 3);
    prom_format_double(1.0 / 0.0, b, sizeof(b));
    assert_string_equal(b, "+Inf");
    prom_format_double(-1.0 / 0.0, b, sizeof(b));
    assert_string_equal(b, "-Inf");
}

static void
test_query_format(void **state)
{
    enum prom_format f;

    (void) state;
    assert_int_equal(prom_query_format(NULL, &f), 0);
    assert_int_equal(f, PROM_FORMAT_JSON);
    assert_int_equal(prom_query_format("format=prometheus", &f), 0);
    assert_int_equal(f, PROM_FORMAT_TEXT);
    assert_int_equal(prom_query_format("a=1&format=prometheus&b=2", &f), 0);
    assert_int_equal(f, PROM_FORMAT_TEXT);
    assert_int_equal(prom_query_format("format=json", &f), 0);
    assert_int_equal(f, PROM_FORMAT_JSON);
    assert_int_equal(prom_query_format("informat=prometheus", &f), 0);
    assert_int_equal(f, PROM_FORMAT_JSON);
    assert_int_equal(prom_query_format("format=xml", &f), -1);
    assert_int_equal(prom_query_format("format=", &f), -1);
    assert_int_equal(prom_query_format("format=prometheusx", &f), -1);
}

static void
test_process_metrics(void **state)
{
    json_t *m = json_object(), *labels = json_pack("{s:s}", "node", "n1");
    json_t *fds, *start;
    char   *s;

    (void) state;
    prom_add_process(m, labels, 1700000000.5);
    fds = json_array_get(json_object_get(json_object_get(m, "process_open_fds"), "data"), 0);
    assert_true(json_integer_value(json_object_get(fds, "value")) >= 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(fds, "labels"), "node")),
                        "n1");
    start = json_array_get(json_object_get(json_object_get(m, "process_start_time_seconds"),
                                           "data"), 0);
    assert_float_equal(json_number_value(json_object_get(start, "value")), 1700000000.5, 1e-6);
    assert_non_null(json_object_get(m, "process_cpu_seconds_total"));
    assert_non_null(json_object_get(m, "process_resident_memory_bytes"));
    s = render(m);
    assert_non_null(strstr(s, "# TYPE process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(s, "process_start_time_seconds{node=\"n1\"} 1700000000.5\n"));
    free(s);
    json_decref(labels);    /* borrowed by prom_add_process */
    json_decref(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_empty_metric_and_bad_items),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_format_double),
        cmocka_unit_test(test_query_format),
        cmocka_unit_test(test_process_metrics),
    };

    return cmocka_run_group_tests_name("prom", tests, NULL, NULL);
}
