/* SPDX-License-Identifier: MIT
 *
 * Tests of the metrics registry (src/core/metrics.c): exact exposition text, escaping,
 * histogram buckets, gauge functions, collectors, and the checks on names and shapes.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "czero/metrics.h"

static cz_metrics_t *M;

static void setup(void) { cr_assert_eq(cz_metrics_new(&M), 0); }
static void teardown(void) { cz_metrics_free(M); }

TestSuite(metrics, .init = setup, .fini = teardown);

static char *scrape(void)
{
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(cz_metrics_write(M, &out, &len), 0);
    cr_assert_eq(strlen(out), len);
    return out;
}

#define ASSERT_TEXT(want)                                                                         \
    do {                                                                                          \
        char *got_ = scrape();                                                                    \
        cr_assert_str_eq(got_, want);                                                             \
        free(got_);                                                                               \
    } while (0)

Test(metrics, empty_registry_writes_nothing)
{
    cz_metric_t *c;
    cr_assert_eq(cz_metrics_counter(M, "unused_total", "no series yet", NULL, 0, &c), 0);
    ASSERT_TEXT("");
}

Test(metrics, counter_and_gauge_exact_text)
{
    cz_metric_t *c, *g;
    const char *labels[] = {"path", "code"};
    cr_assert_eq(cz_metrics_counter(M, "req_total", "requests.", labels, 2, &c), 0);
    cr_assert_eq(cz_metric_add(c, (const char *[]){"/a", "200"}, 1), 0);
    cr_assert_eq(cz_metric_add(c, (const char *[]){"/a", "200"}, 2), 0);
    cr_assert_eq(cz_metric_add(c, (const char *[]){"/b", "500"}, 1), 0);
    cr_assert_eq(cz_metrics_gauge(M, "temp", "a gauge", NULL, 0, &g), 0);
    cr_assert_eq(cz_metric_set(g, NULL, -2.5), 0);
    cr_assert_eq(cz_metric_add(g, NULL, 0.25), 0);
    ASSERT_TEXT("# HELP req_total requests.\n"
                "# TYPE req_total counter\n"
                "req_total{path=\"/a\",code=\"200\"} 3\n"
                "req_total{path=\"/b\",code=\"500\"} 1\n"
                "# HELP temp a gauge\n"
                "# TYPE temp gauge\n"
                "temp -2.25\n");
}

Test(metrics, escaping_of_label_values_and_help)
{
    cz_metric_t *g;
    const char *labels[] = {"v"};
    cr_assert_eq(cz_metrics_gauge(M, "esc", "line1\nback\\slash \"q\"", labels, 1, &g), 0);
    cr_assert_eq(cz_metric_set(g, (const char *[]){"a\"b\\c\nd"}, 1), 0);
    ASSERT_TEXT("# HELP esc line1\\nback\\\\slash \"q\"\n"
                "# TYPE esc gauge\n"
                "esc{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

Test(metrics, histogram_buckets_are_cumulative_with_inf_sum_count)
{
    cz_metric_t *h;
    const char *labels[] = {"path"};
    const double b[] = {5, 10, 0.5};
    cr_assert_eq(cz_metrics_histogram(M, "dur_ms", "d", labels, 1, b, 3, &h), CZ_EARG,
                 "bounds must increase");
    const double bounds[] = {0.5, 5, 10};
    cr_assert_eq(cz_metrics_histogram(M, "dur_ms", "d", labels, 1, bounds, 3, &h), 0);
    const char *v[] = {"/x"};
    double obs[] = {0.25, 0.5, 5, 7, 10, 11, 1000};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        cr_assert_eq(cz_metric_observe(h, v, obs[i]), 0);
    cr_assert_eq(cz_metric_add(h, v, 1), CZ_EARG, "add is not for histograms");
    ASSERT_TEXT("# HELP dur_ms d\n"
                "# TYPE dur_ms histogram\n"
                "dur_ms_bucket{path=\"/x\",le=\"0.5\"} 2\n"
                "dur_ms_bucket{path=\"/x\",le=\"5\"} 3\n"
                "dur_ms_bucket{path=\"/x\",le=\"10\"} 5\n"
                "dur_ms_bucket{path=\"/x\",le=\"+Inf\"} 7\n"
                "dur_ms_sum{path=\"/x\"} 1033.75\n"
                "dur_ms_count{path=\"/x\"} 7\n");
}

Test(metrics, histogram_set_replaces_state_and_works_without_labels)
{
    cz_metric_t *h;
    const double bounds[] = {1, 2};
    cr_assert_eq(cz_metrics_histogram(M, "h", "", NULL, 0, bounds, 2, &h), 0);
    cr_assert_eq(cz_metric_observe(h, NULL, 100), 0);
    const uint64_t counts[] = {4, 0, 1};
    cr_assert_eq(cz_metric_histogram_set(h, NULL, counts, 9.5), 0);
    ASSERT_TEXT("# HELP h \n"
                "# TYPE h histogram\n"
                "h_bucket{le=\"1\"} 4\n"
                "h_bucket{le=\"2\"} 4\n"
                "h_bucket{le=\"+Inf\"} 5\n"
                "h_sum 9.5\n"
                "h_count 5\n");
}

Test(metrics, special_values_and_shortest_floats)
{
    cz_metric_t *g;
    const char *labels[] = {"k"};
    cr_assert_eq(cz_metrics_gauge(M, "g", "h", labels, 1, &g), 0);
    cz_metric_set(g, (const char *[]){"inf"}, 1.0 / 0.0);
    cz_metric_set(g, (const char *[]){"ninf"}, -1.0 / 0.0);
    cz_metric_set(g, (const char *[]){"tenth"}, 0.1);
    cz_metric_set(g, (const char *[]){"big"}, 1e300);
    ASSERT_TEXT("# HELP g h\n# TYPE g gauge\n"
                "g{k=\"inf\"} +Inf\n"
                "g{k=\"ninf\"} -Inf\n"
                "g{k=\"tenth\"} 0.1\n"
                "g{k=\"big\"} 1e+300\n");
}

static double forty_two(void *ud) { return *(double *)ud; }

Test(metrics, gauge_functions_are_read_at_scrape_time_and_removable)
{
    double v = 1;
    const char *labels[] = {"name"};
    cr_assert_eq(cz_metrics_gauge_func(M, "lim", "limiter", labels, (const char *[]){"a"}, 1,
                                       forty_two, &v), 0);
    cr_assert_eq(cz_metrics_gauge_func(M, "lim", "limiter", labels, (const char *[]){"a"}, 1,
                                       forty_two, &v), CZ_EDUPLICATE);
    v = 42;
    ASSERT_TEXT("# HELP lim limiter\n# TYPE lim gauge\nlim{name=\"a\"} 42\n");
    cr_assert_eq(cz_metric_set(NULL, NULL, 1), CZ_EARG);
    cr_assert_eq(cz_metrics_remove_func(M, forty_two, &v), 1);
    ASSERT_TEXT("");
}

static int ncollect;
static void collect(cz_metrics_t *m, void *ud)
{
    cz_metric_t *c;
    cr_assert_eq(cz_metrics_counter(m, "scrapes_total", "scrapes", NULL, 0, &c), 0);
    cz_metric_set(c, NULL, ++ncollect);
    (void)ud;
}

Test(metrics, collectors_run_at_each_scrape_until_removed)
{
    cr_assert_eq(cz_metrics_collector_add(M, collect, NULL), 0);
    ASSERT_TEXT("# HELP scrapes_total scrapes\n# TYPE scrapes_total counter\nscrapes_total 1\n");
    ASSERT_TEXT("# HELP scrapes_total scrapes\n# TYPE scrapes_total counter\nscrapes_total 2\n");
    cr_assert_eq(cz_metrics_collector_remove(M, collect, NULL), 0);
    cr_assert_eq(cz_metrics_collector_remove(M, collect, NULL), CZ_ENOTFOUND);
    ASSERT_TEXT("# HELP scrapes_total scrapes\n# TYPE scrapes_total counter\nscrapes_total 2\n");
}

Test(metrics, names_labels_and_shapes_are_checked)
{
    cz_metric_t *f;
    const char *bad_label[] = {"9x"};
    const char *reserved[] = {"__x"};
    const char *le[] = {"le"};
    const char *twice[] = {"a", "a"};
    cr_assert_eq(cz_metrics_counter(M, "1abc", "", NULL, 0, &f), CZ_EARG);
    cr_assert_eq(cz_metrics_counter(M, "a-b", "", NULL, 0, &f), CZ_EARG);
    cr_assert_eq(cz_metrics_counter(M, "ns:ok_total", "", NULL, 0, &f), 0);
    cr_assert_eq(cz_metrics_counter(M, "x", "", bad_label, 1, &f), CZ_EARG);
    cr_assert_eq(cz_metrics_counter(M, "x", "", reserved, 1, &f), CZ_EARG);
    cr_assert_eq(cz_metrics_counter(M, "x", "", twice, 2, &f), CZ_EARG);
    cr_assert_eq(cz_metrics_histogram(M, "x", "", le, 1, NULL, 0, &f), CZ_EARG);
    cr_assert_eq(cz_metrics_counter(M, "x", "", le, 1, &f), 0, "le is fine off histograms");
    cz_metric_t *again;
    cr_assert_eq(cz_metrics_counter(M, "x", "", le, 1, &again), 0);
    cr_assert_eq(again, f, "same shape returns the same family");
    cr_assert_eq(cz_metrics_gauge(M, "x", "", le, 1, &again), CZ_EDUPLICATE);
    cr_assert_eq(cz_metric_add(f, (const char *[]){"1"}, -1), CZ_EARG, "counters only grow");
    cr_assert_eq(cz_metric_observe(f, (const char *[]){"1"}, 1), CZ_EARG);
    cr_assert_eq(cz_metrics_remove(M, "x"), 0);
    cr_assert_eq(cz_metrics_remove(M, "x"), CZ_ENOTFOUND);
}

Test(metrics, default_registry_is_one_instance)
{
    cr_assert_not_null(cz_metrics_default());
    cr_assert_eq(cz_metrics_default(), cz_metrics_default());
}

static double keys(void *ud) { return (double)*(int *)ud; }

Test(metrics, limiter_gauges_land_in_the_default_registry)
{
    int n = 7;
    cr_assert_eq(cz_metrics_limiter_gauge("login", "local_keys", "keys held", keys, &n), 0);
    cr_assert_eq(cz_metrics_limiter_gauge("login", "bad-name", "", keys, &n), CZ_EARG);
    char *out;
    cr_assert_eq(cz_metrics_write(cz_metrics_default(), &out, NULL), 0);
    cr_assert_not_null(strstr(out, "# TYPE czero_limiter_local_keys gauge\n"
                                   "czero_limiter_local_keys{limiter=\"login\"} 7\n"), "%s", out);
    free(out);
    cr_assert_eq(cz_metrics_remove_func(cz_metrics_default(), keys, &n), 1);
}
