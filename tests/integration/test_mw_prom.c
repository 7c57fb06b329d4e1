/* SPDX-License-Identifier: MIT
 *
 * Integration tests of the prometheus and metrics links and the dev listener: a real server
 * with DevServer on an ephemeral port, requests through the chain, /metrics scraped with the
 * test client and parsed back (counts by path, method and code, histogram buckets, shedder and
 * breaker gauges), /healthz, `promtool check metrics` when promtool is installed, and the
 * periodic stat line (qps, drops) with a shortened interval.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "http_client.h"
#include "test_server.h"
#include "http/mw/metrics_int.h"

static ts_t T;

static int code_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t n = cz_req_param(req, "n");
    char buf[8] = {0};
    memcpy(buf, n.p, n.n < 7 ? n.n : 7);
    cz_res_status(res, atoi(buf));
    return CZ_DONE;
}

static const cz_route_t extra[] = {{"GET", "/code/:n", code_handler, NULL, 0}};

static void start_dev(void)
{
    ts_init(&T);
    T.conf.dev_server.enabled = true;
    free(T.conf.dev_server.host);
    T.conf.dev_server.host = strdup("127.0.0.1");
    T.conf.dev_server.port = 0;
    ts_start(&T, extra, 1);
    cr_assert_gt(cz_server_dev_port(T.srv), 0);
    cr_assert_neq(cz_server_dev_port(T.srv), T.port);
}

static void stop(void) { ts_stop(&T); }

static void get(int port, const char *path, int want)
{
    tc_resp_t r;
    cr_assert_eq(tc_get(port, path, &r), 0, "GET %s", path);
    cr_assert_eq(r.status, want, "GET %s: %d", path, r.status);
    tc_resp_free(&r);
}

static char *scrape(void)
{
    tc_resp_t r;
    cr_assert_eq(tc_get(cz_server_dev_port(T.srv), "/metrics", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(tc_header(&r, "Content-Type"), CZ_METRICS_CONTENT_TYPE);
    return r.body; /* ours now */
}

/* Parse the exposition back: every sample line must be `name[{labels}] value` with the family's
 * TYPE seen before it; returns the value of the sample `name{labels}` (labels as written), or
 * -1 when absent. */
static double sample(const char *text, const char *name, const char *labels)
{
    char want[512];
    snprintf(want, sizeof want, labels && *labels ? "%s{%s}" : "%s%s", name, labels ? labels : "");
    double found = -1;
    char family[256] = "";
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            cr_assert_fail("line without a newline: %s", p);
        size_t n = (size_t)(eol - p);
        if (n > 7 && strncmp(p, "# TYPE ", 7) == 0) {
            size_t fn = strcspn(p + 7, " ");
            snprintf(family, sizeof family, "%.*s", (int)fn, p + 7);
        } else if (p[0] != '#') {
            /* plain ifs: Criterion allocates for every assertion, even passing ones */
            const char *sp = p + n;
            while (sp > p && sp[-1] != ' ')
                sp--;
            char *end;
            double v = strtod(sp, &end);
            if (sp == p || (end != eol && strncmp(sp, "+Inf", 4) != 0 && strncmp(sp, "NaN", 3)))
                cr_assert_fail("bad sample line: %.*s", (int)n, p);
            if (!family[0] || strncmp(p, family, strlen(family)) != 0)
                cr_assert_fail("sample %.*s before its TYPE", (int)n, p);
            if ((size_t)(sp - 1 - p) == strlen(want) && strncmp(p, want, strlen(want)) == 0)
                found = v;
        }
        p = eol + 1;
    }
    return found;
}

#define LBL(path, code) "path=\"" path "\",method=\"GET\",code=\"" code "\""

Test(prom, metrics_are_counted_by_path_method_and_code, .init = start_dev, .fini = stop,
     .timeout = 30)
{
    for (int i = 0; i < 3; i++)
        get(T.port, "/hello", 200);
    get(T.port, "/users/7", 200);
    get(T.port, "/users/8", 200);
    get(T.port, "/code/500", 500);
    get(T.port, "/code/404", 404);
    get(T.port, "/code/404", 404);
    get(T.port, "/nowhere", 404); /* no route: no chain, not counted */
    char *m = scrape();
    const char *c = "http_server_requests_code_total";
    cr_assert_eq(sample(m, c, LBL("/hello", "200")), 3, "%s", m);
    cr_assert_eq(sample(m, c, LBL("/users/:id", "200")), 2);
    cr_assert_eq(sample(m, c, LBL("/code/:n", "500")), 1);
    cr_assert_eq(sample(m, c, LBL("/code/:n", "404")), 2);
    cr_assert_eq(sample(m, c, LBL("/nowhere", "404")), -1);
    cr_assert_null(strstr(m, "path=\"/metrics\""), "the dev listener is not measured");
    const char *h = "http_server_requests_duration_ms";
    char name[128];
    snprintf(name, sizeof name, "%s_bucket", h);
    cr_assert_eq(sample(m, name, LBL("/hello", "200") ",le=\"5\""), 3, "fast requests <= 5ms");
    cr_assert_eq(sample(m, name, LBL("/hello", "200") ",le=\"750\""), 3);
    cr_assert_eq(sample(m, name, LBL("/hello", "200") ",le=\"+Inf\""), 3);
    snprintf(name, sizeof name, "%s_count", h);
    cr_assert_eq(sample(m, name, LBL("/code/:n", "404")), 2);
    snprintf(name, sizeof name, "%s_sum", h);
    cr_assert_geq(sample(m, name, LBL("/hello", "200")), 0);
    cr_assert_not_null(strstr(m, "# TYPE http_server_requests_duration_ms histogram\n"));
    cr_assert_not_null(strstr(m, "# HELP http_server_requests_code_total "));
    /* the server's shedders and the process' breakers are exposed as well */
    cr_assert_geq(sample(m, "czero_shedder_cpu_permille", "shedder=\"normal\""), 0);
    cr_assert_geq(sample(m, "czero_shedder_flying", "shedder=\"priority\""), 0);
    cr_assert_eq(sample(m, "czero_shedder_requests_total", "shedder=\"normal\",result=\"pass\""),
                 8);
    cr_assert_eq(sample(m, "czero_breaker_window_requests",
                        "name=\"GET:///hello\",result=\"accept\""), 3);
    cr_assert_eq(sample(m, "czero_breaker_window_requests",
                        "name=\"GET:///code/:n\",result=\"failure\""), 1);
    cr_assert_eq(sample(m, "czero_breaker_drop_ratio", "name=\"GET:///hello\""), 0);
    free(m);
    /* a second scrape sees the counts grow */
    get(T.port, "/hello", 200);
    m = scrape();
    cr_assert_eq(sample(m, c, LBL("/hello", "200")), 4);
    free(m);
}

Test(prom, healthz_answers_ok, .init = start_dev, .fini = stop, .timeout = 30)
{
    tc_resp_t r;
    cr_assert_eq(tc_get(cz_server_dev_port(T.srv), "/healthz", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "OK");
    tc_resp_free(&r);
    get(cz_server_dev_port(T.srv), "/other", 404);
}

Test(prom, no_dev_listener_and_no_link_without_exposure, .timeout = 30)
{
    ts_init(&T);
    ts_start(&T, NULL, 0);
    cr_assert_eq(cz_server_dev_port(T.srv), 0);
    const char *names[16];
    size_t n = cz_server_route_chain(T.srv, "GET", "/hello", names, 16);
    bool has_prom = false;
    for (size_t i = 0; i < n && i < 16; i++)
        has_prom |= strcmp(names[i], "prometheus") == 0;
    /* nothing serves /metrics: no prometheus link (drops reach the stat line from the breaker
     * and shedder links directly) */
    cr_assert(!has_prom);
    get(T.port, "/hello", 200);
    ts_stop(&T);
}

Test(prom, promtool_accepts_the_scrape, .init = start_dev, .fini = stop, .timeout = 60)
{
    const char *tool = getenv("PROMTOOL");
    if (!tool || !*tool)
        tool = "promtool";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    if (system(cmd) != 0) {
        cr_skip_test("promtool not installed (Debian package prometheus)");
        return;
    }
    get(T.port, "/hello", 200);
    get(T.port, "/code/503", 503);
    char *m = scrape();
    char path[] = "/tmp/cz_prom_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, m, strlen(m)), (ssize_t)strlen(m));
    close(fd);
    free(m);
    snprintf(cmd, sizeof cmd, "%s check metrics < %s 2>&1", tool, path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char out[4096] = "";
    size_t got = fread(out, 1, sizeof out - 1, f);
    out[got] = '\0';
    int rc = pclose(f);
    unlink(path);
    /* exit 3 = lint problems only (1 = unparsable). go-zero's own histogram name has "_ms",
     * which promtool's unit lint dislikes; czero keeps go-zero's name, so that one lint is
     * expected and any other problem fails the test. */
    cr_assert(rc == 0 || WEXITSTATUS(rc) == 3, "promtool could not parse the scrape:\n%s", out);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        cr_assert_str_eq(line, "http_server_requests_duration_ms metric names should not contain "
                               "abbreviated units", "promtool: %s", line);
}

/* ---- the stat line ---- */

static char logdir[64];

static int fail500(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_status(res, 500);
    return CZ_DONE;
}
static const cz_route_t fail_routes[] = {{"GET", "/fail", fail500, NULL, 0}};

static void start_stat(void)
{
    snprintf(logdir, sizeof logdir, "/tmp/cz_stat_XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    cz_log_conf_t lc = {.mode = CZ_LOG_MODE_FILE, .encoding = CZ_LOG_ENC_PLAIN, .path = logdir,
                        .level = CZ_LOG_INFO, .stat = true};
    cr_assert_eq(cz_log_setup(&lc, NULL), 0);
    cz__mw_metrics_set_interval(200);
    ts_init(&T);
    ts_start(&T, fail_routes, 1);
}

static void stop_stat(void)
{
    ts_stop(&T);
    cz__mw_metrics_set_interval(0);
    cz_log_close();
    static const char *files[] = {"access.log", "error.log", "severe.log", "slow.log",
                                  "stat.log"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", logdir, files[i]);
        unlink(p);
    }
    rmdir(logdir);
}

/* Sum requests (qps * 0.2 s) and drops over every stat line so far. */
static int read_stats(long *reqs, long *drops)
{
    char p[128];
    snprintf(p, sizeof p, "%s/stat.log", logdir);
    FILE *f = fopen(p, "r");
    *reqs = *drops = 0;
    if (!f)
        return 0;
    char line[1024];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        const char *c = strstr(line, "(test) - qps: ");
        cr_assert_not_null(c, "unexpected stat line: %s", line);
        double qps, avg, med, p90, p99, p999;
        long d;
        int n = sscanf(c, "(test) - qps: %lf/s, drops: %ld, avg time: %lfms, med: %lfms, "
                          "90th: %lfms, 99th: %lfms, 99.9th: %lfms",
                       &qps, &d, &avg, &med, &p90, &p99, &p999);
        cr_assert_eq(n, 7, "stat line format: %s", line);
        cr_assert(med <= p90 && p90 <= p99 && p99 <= p999, "percentiles ordered: %s", line);
        *reqs += (long)(qps * 0.2 + 0.5);
        *drops += d;
        lines++;
    }
    fclose(f);
    return lines;
}

Test(prom, stat_line_reports_qps_and_drops, .init = start_stat, .fini = stop_stat, .timeout = 30)
{
    /* a failing route: its breaker opens and drops calls, which go-zero counts as drops */
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 5000), 0);
    long n503 = 0, n500 = 0;
    for (int i = 0; i < 100; i++) {
        tc_resp_t r;
        cr_assert_eq(tc_sendf(&c, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        cr_assert_eq(tc_read(&c, &r, false), 0);
        n503 += r.status == 503;
        n500 += r.status == 500;
        tc_resp_free(&r);
    }
    tc_close(&c);
    cr_assert_gt(n503, 0, "the breaker dropped some calls");
    long reqs = 0, drops = 0;
    long deadline = tc_now_ms() + 5000;
    while (tc_now_ms() < deadline) {
        cz_log_flush();
        read_stats(&reqs, &drops);
        if (reqs >= n500 && drops >= n503)
            break;
        usleep(50 * 1000);
    }
    cr_assert_eq(reqs, n500, "requests that reached the metrics link");
    cr_assert_eq(drops, n503, "every breaker refusal is a drop");
}

/* ---- exact durations: the handler moves a manual clock by ?ms= ---- */

static cz_clock_manual_t MC;

static int advance_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud, (void)res;
    cz_str_t v = cz_req_query(req, "ms");
    char buf[16] = {0};
    memcpy(buf, v.p, v.n < 15 ? v.n : 15);
    cz_clock_manual_advance(&MC, (uint64_t)atol(buf) * CZ_NS_PER_MS);
    return CZ_DONE;
}

static void start_exact(void)
{
    snprintf(logdir, sizeof logdir, "/tmp/cz_stat_XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    cz_log_conf_t lc = {.mode = CZ_LOG_MODE_FILE, .encoding = CZ_LOG_ENC_PLAIN, .path = logdir,
                        .level = CZ_LOG_INFO, .stat = true};
    cr_assert_eq(cz_log_setup(&lc, NULL), 0);
    cz_clock_manual_init(&MC, 1000 * CZ_NS_PER_SEC);
    cz__mw_metrics_set_clock(&MC.clock);
    cz__mw_metrics_set_interval(1000000); /* the line comes from the flush at free */
    ts_init(&T);
    T.conf.dev_server.enabled = true;
    free(T.conf.dev_server.host);
    T.conf.dev_server.host = strdup("127.0.0.1");
    T.conf.dev_server.port = 0;
    static const cz_route_t adv[] = {{"GET", "/adv", advance_handler, NULL, 0}};
    ts_start(&T, adv, 1);
}

static void stop_exact(void)
{
    stop_stat();
    cz__mw_metrics_set_clock(NULL);
}

Test(prom, exact_durations_fill_buckets_and_percentiles, .init = start_exact, .fini = stop_exact,
     .timeout = 30)
{
    /* 1..10 ms, plus one of 2 s: go-zero's buckets and the stat line's topK percentiles */
    for (int ms = 1; ms <= 10; ms++) {
        char path[32];
        snprintf(path, sizeof path, "/adv?ms=%d", ms);
        get(T.port, path, 200);
    }
    char *m = scrape();
    const char *b = "http_server_requests_duration_ms_bucket";
    cr_assert_eq(sample(m, b, LBL("/adv", "200") ",le=\"5\""), 5, "%s", m);
    cr_assert_eq(sample(m, b, LBL("/adv", "200") ",le=\"10\""), 10);
    cr_assert_eq(sample(m, "http_server_requests_duration_ms_sum", LBL("/adv", "200")), 55);
    free(m);
    get(T.port, "/adv?ms=2000", 200);
    m = scrape();
    cr_assert_eq(sample(m, b, LBL("/adv", "200") ",le=\"1000\""), 10);
    cr_assert_eq(sample(m, b, LBL("/adv", "200") ",le=\"+Inf\""), 11);
    free(m);
    /* the stat line, from the final flush: 11 requests over the 1000 s interval; avg 2055/11
     * ms; the median is the 11/2 = 5th largest (7 ms), the 90th the 11/2/5 = 1st largest, as
     * are the 99th and 99.9th; values are bucket middles (2000 ms reads 1998.8) */
    ts_stop(&T);
    char p[128], line[1024] = "";
    snprintf(p, sizeof p, "%s/stat.log", logdir);
    long deadline = tc_now_ms() + 5000;
    while (tc_now_ms() < deadline && !line[0]) {
        cz_log_flush();
        FILE *f = fopen(p, "r");
        if (f) {
            if (!fgets(line, sizeof line, f))
                line[0] = '\0';
            fclose(f);
        }
        if (!line[0])
            usleep(50 * 1000);
    }
    cr_assert_not_null(strstr(line, "\tstat\t(test) - qps: 0.0/s, drops: 0, avg time: 186.8ms, "
                                    "med: 7.0ms, 90th: 1998.8ms, 99th: 1998.8ms, "
                                    "99.9th: 1998.8ms\n"),
                       "%s", line);
}

Test(prom, prometheus_agent_serves_its_path_only, .timeout = 30)
{
    ts_init(&T);
    T.conf.prometheus.host = strdup("127.0.0.1"); /* go-zero core/prometheus.StartAgent */
    T.conf.prometheus.port = 0;
    free(T.conf.prometheus.path);
    T.conf.prometheus.path = strdup("/prom");
    ts_start(&T, NULL, 0);
    int dev = cz_server_dev_port(T.srv);
    cr_assert_gt(dev, 0);
    get(T.port, "/hello", 200);
    tc_resp_t r;
    cr_assert_eq(tc_get(dev, "/prom", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(sample(r.body, "http_server_requests_code_total", LBL("/hello", "200")), 1);
    tc_resp_free(&r);
    get(dev, "/healthz", 404); /* health is the DevServer's, not the agent's */
    ts_stop(&T);
}
