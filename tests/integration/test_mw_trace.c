/* SPDX-License-Identifier: MIT
 *
 * Integration tests of the trace link (src/http/mw/trace.c) on a real server: W3C traceparent
 * continued or started, traceparent/tracestate on the response, the request accessors, the
 * sampler, TraceIgnorePaths, the access log's ids, and export of finished spans to a fake
 * collector as OTLP/HTTP JSON and Zipkin v2 JSON, with a stalled collector that never blocks
 * requests and whose overflow is dropped and counted. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "czero/trace.h"
#include "fake_collector.h"
#include "http_client.h"
#include "test_server.h"

#define IN_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define IN_SPAN "00f067aa0ba902b7"
#define IN_TP "00-" IN_TRACE "-" IN_SPAN "-01"

/* Answers with what the accessors see. */
static int ids_handler(cz_req_t *r, cz_res_t *res, void *ud)
{
    (void)ud;
    char tp[CZ_TRACEPARENT_LEN + 1];
    size_t n = cz_req_traceparent(r, tp);
    cz_str_t t = cz_req_trace_id(r), s = cz_req_span_id(r), ts = cz_req_tracestate(r);
    cz_span_ctx_t sc;
    int has = cz_req_span_ctx(r, &sc) == 0;
    cz_res_printf(res, "%.*s %.*s %zu:%s [%.*s] %d", (int)t.n, t.p ? t.p : "", (int)s.n,
                  s.p ? s.p : "", n, tp, (int)ts.n, ts.p ? ts.p : "", has);
    return CZ_DONE;
}

static int fail_handler(cz_req_t *r, cz_res_t *res, void *ud)
{
    (void)r, (void)ud;
    cz_res_status(res, 500);
    return CZ_DONE;
}

static const cz_route_t extra[] = {
    {"GET", "/trace/ids", ids_handler, NULL, 0},
    {"GET", "/trace/fail", fail_handler, NULL, 0},
};

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = v ? strdup(v) : NULL;
}

static void start(ts_t *t) { ts_start(t, extra, 2); }

/* One request with optional extra header lines; fills r. */
static void get(int port, const char *path, const char *headers, tc_resp_t *r)
{
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, port, 5000), 0);
    tc_sendf(&c, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, headers ? headers : "");
    cr_assert_eq(tc_read(&c, r, false), 0);
    tc_close(&c);
}

static void assert_tp(const char *tp, cz_span_ctx_t *out)
{
    cr_assert_not_null(tp, "no traceparent on the response");
    cr_assert_eq(cz_traceparent_parse(cz_str_c(tp), out), 0, "invalid traceparent %s", tp);
}

Test(mw_trace, incoming_traceparent_continues_the_trace)
{
    ts_t t;
    ts_init(&t);
    start(&t);
    tc_resp_t r;
    get(t.port, "/trace/ids", "traceparent: " IN_TP "\r\ntracestate: congo=t61rcWkgMzE\r\n", &r);
    cr_assert_eq(r.status, 200);
    const char *tp = tc_header(&r, "traceparent");
    cz_span_ctx_t sc;
    assert_tp(tp, &sc);
    cr_assert(strncmp(tp, "00-" IN_TRACE "-", 36) == 0, "same trace: %s", tp);
    cr_assert(strncmp(tp + 36, IN_SPAN, 16) != 0, "a new span id: %s", tp);
    cr_assert_eq(tp[54], '1', "sampled flag carried");
    cr_assert_str_eq(tc_header(&r, "tracestate"), "congo=t61rcWkgMzE");
    /* the accessors see the same ids as the response header */
    char want[200];
    snprintf(want, sizeof want, "%s %.16s 55:%s [congo=t61rcWkgMzE] 1", IN_TRACE, tp + 36, tp);
    cr_assert_str_eq(r.body, want);
    tc_resp_free(&r);
    ts_stop(&t);
}

Test(mw_trace, no_or_invalid_header_starts_a_new_trace)
{
    ts_t t;
    ts_init(&t);
    start(&t);
    tc_resp_t a, b, c;
    get(t.port, "/users/1", NULL, &a);
    get(t.port, "/users/2", NULL, &b);
    get(t.port, "/users/3",
        "traceparent: 00-00000000000000000000000000000000-" IN_SPAN "-01\r\n"
        "tracestate: k=v\r\n",
        &c);
    cz_span_ctx_t sa, sb, scc;
    assert_tp(tc_header(&a, "traceparent"), &sa);
    assert_tp(tc_header(&b, "traceparent"), &sb);
    assert_tp(tc_header(&c, "traceparent"), &scc);
    cr_assert(memcmp(sa.trace_id, sb.trace_id, 16) != 0, "each request its own trace");
    cr_assert_eq(sa.flags, 1, "Sampler defaults to 1.0");
    cr_assert_null(tc_header(&c, "tracestate"), "tracestate only travels with a valid parent");
    tc_resp_free(&a);
    tc_resp_free(&b);
    tc_resp_free(&c);
    ts_stop(&t);
}

Test(mw_trace, sampler_decides_roots_and_the_parent_flag_wins)
{
    ts_t t;
    ts_init(&t);
    t.conf.telemetry.sampler = 0;
    start(&t);
    tc_resp_t a, b, c;
    get(t.port, "/users/1", NULL, &a);
    get(t.port, "/users/1", "traceparent: " IN_TP "\r\n", &b);
    get(t.port, "/users/1", "traceparent: 00-" IN_TRACE "-" IN_SPAN "-00\r\n", &c);
    cr_assert_eq(tc_header(&a, "traceparent")[54], '0', "Sampler 0: a new root is not sampled");
    cr_assert_eq(tc_header(&b, "traceparent")[54], '1', "a sampled parent wins");
    cr_assert_eq(tc_header(&c, "traceparent")[54], '0');
    tc_resp_free(&a);
    tc_resp_free(&b);
    tc_resp_free(&c);
    ts_stop(&t);
}

Test(mw_trace, ignore_paths_and_the_switch_turn_it_off)
{
    ts_t t;
    ts_init(&t);
    t.conf.trace_ignore_paths.items = calloc(1, sizeof(char *));
    t.conf.trace_ignore_paths.items[0] = strdup("/users/:id"); /* the route pattern, as go-zero */
    t.conf.trace_ignore_paths.n = 1;
    start(&t);
    tc_resp_t a, b;
    get(t.port, "/users/5", "traceparent: " IN_TP "\r\n", &a);
    get(t.port, "/trace/ids", NULL, &b);
    cr_assert_eq(a.status, 200);
    cr_assert_null(tc_header(&a, "traceparent"));
    cr_assert_not_null(tc_header(&b, "traceparent"));
    tc_resp_free(&a);
    tc_resp_free(&b);
    ts_stop(&t);

    ts_init(&t);
    t.conf.middlewares.trace = false;
    start(&t);
    get(t.port, "/trace/ids", "traceparent: " IN_TP "\r\n", &a);
    cr_assert_null(tc_header(&a, "traceparent"));
    cr_assert_str_eq(a.body, "  0: [] 0", "accessors are empty when not traced");
    cr_assert_eq(cz_server_trace_stats(t.srv, &(cz_exporter_stats_t){0}), CZ_ENOTFOUND);
    tc_resp_free(&a);
    ts_stop(&t);
}

Test(mw_trace, access_log_carries_the_ids)
{
    char dir[] = "/tmp/cz-trace-log-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cz_log_conf_t lc = {.mode = CZ_LOG_MODE_FILE, .encoding = CZ_LOG_ENC_JSON, .path = dir,
                        .level = CZ_LOG_INFO};
    cz_diag_t d;
    cr_assert_eq(cz_log_setup(&lc, &d), 0, "%s", d.msg);
    ts_t t;
    ts_init(&t);
    t.conf.middlewares.log = true;
    start(&t);
    tc_resp_t r;
    get(t.port, "/users/9", "traceparent: " IN_TP "\r\n", &r);
    const char *tp = tc_header(&r, "traceparent");
    cr_assert_not_null(tp);
    char span[17];
    memcpy(span, tp + 36, 16);
    span[16] = '\0';
    tc_resp_free(&r);
    ts_stop(&t);
    cz_log_flush();
    char path[128], line[2048] = {0};
    snprintf(path, sizeof path, "%s/access.log", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    cz_log_close();
    cr_assert_gt(n, 0);
    json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
    cr_assert_not_null(j, "%s", line);
    cr_assert_str_eq(json_string_value(json_object_get(j, "trace")), IN_TRACE);
    cr_assert_str_eq(json_string_value(json_object_get(j, "span")), span);
    json_decref(j);
}

/* ---- export ---- */

static json_t *attr(json_t *attrs, const char *key)
{
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0)
            return json_object_get(a, "value");
    }
    return NULL;
}

/* The span with this span id among all bodies the collector got (OTLP). */
static json_t *otlp_find(fc_t *f, const char *span_id, json_t **roots, size_t *nroots)
{
    json_t *found = NULL;
    for (size_t i = 0; i < fc_count(f); i++) {
        json_t *root = json_loads(fc_body(f, i), 0, NULL);
        cr_assert_not_null(root);
        roots[(*nroots)++] = root;
        json_t *rs = json_array_get(json_object_get(root, "resourceSpans"), 0);
        json_t *svc = attr(json_object_get(json_object_get(rs, "resource"), "attributes"),
                           "service.name");
        cr_assert_str_eq(json_string_value(json_object_get(svc, "stringValue")), "test");
        json_t *spans =
            json_object_get(json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans");
        size_t k;
        json_t *s;
        json_array_foreach(spans, k, s)
        {
            if (strcmp(json_string_value(json_object_get(s, "spanId")), span_id) == 0)
                found = s;
        }
    }
    return found;
}

Test(mw_trace, exports_otlp_json_spans)
{
    fc_t *f = fc_start(FC_OK);
    ts_t t;
    ts_init(&t);
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", fc_port(f));
    set_str(&t.conf.telemetry.endpoint, ep);
    start(&t);
    tc_resp_t a, b, c;
    get(t.port, "/users/7?x=1", "traceparent: " IN_TP "\r\n", &a);
    get(t.port, "/trace/fail", NULL, &b);
    get(t.port, "/users/8", "traceparent: 00-" IN_TRACE "-" IN_SPAN "-00\r\n", &c);
    cr_assert_eq(b.status, 500);
    char sa[17] = {0}, sb[17] = {0}, sc[17] = {0};
    memcpy(sa, tc_header(&a, "traceparent") + 36, 16);
    memcpy(sb, tc_header(&b, "traceparent") + 36, 16);
    memcpy(sc, tc_header(&c, "traceparent") + 36, 16);
    tc_resp_free(&a);
    tc_resp_free(&b);
    tc_resp_free(&c);
    cz_exporter_stats_t st;
    cr_assert_eq(cz_server_trace_stats(t.srv, &st), 0);
    cr_assert_eq(st.queued, 2, "the unsampled request is not recorded");
    ts_stop(&t); /* flushes the exporter */
    cr_assert_geq(fc_count(f), 1);
    cr_assert_str_eq(fc_path(f, 0), "/v1/traces");
    json_t *roots[64];
    size_t nroots = 0;
    json_t *s = otlp_find(f, sa, roots, &nroots);
    cr_assert_not_null(s, "span %s not exported", sa);
    cr_assert_str_eq(json_string_value(json_object_get(s, "traceId")), IN_TRACE);
    cr_assert_str_eq(json_string_value(json_object_get(s, "parentSpanId")), IN_SPAN);
    cr_assert_str_eq(json_string_value(json_object_get(s, "name")), "/users/:id");
    cr_assert_eq(json_integer_value(json_object_get(s, "kind")), 2);
    unsigned long long t0 = strtoull(json_string_value(json_object_get(s, "startTimeUnixNano")),
                                     NULL, 10);
    unsigned long long t1 = strtoull(json_string_value(json_object_get(s, "endTimeUnixNano")),
                                     NULL, 10);
    cr_assert(t0 > 1600000000ull * 1000000000ull && t1 >= t0, "wall-clock times %llu %llu", t0,
              t1);
    json_t *at = json_object_get(s, "attributes");
    cr_assert_str_eq(json_string_value(json_object_get(attr(at, "http.method"), "stringValue")),
                     "GET");
    cr_assert_str_eq(json_string_value(json_object_get(attr(at, "http.target"), "stringValue")),
                     "/users/7?x=1");
    cr_assert_str_eq(json_string_value(json_object_get(attr(at, "http.route"), "stringValue")),
                     "/users/:id");
    cr_assert_str_eq(json_string_value(json_object_get(attr(at, "http.status_code"), "intValue")),
                     "200");
    json_t *fs = otlp_find(f, sb, roots, &nroots);
    cr_assert_not_null(fs);
    cr_assert_null(json_object_get(fs, "parentSpanId"), "a new trace has no parent");
    cr_assert_str_eq(json_string_value(json_object_get(fs, "name")), "/trace/fail");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(fs, "status"), "code")), 2);
    cr_assert_null(otlp_find(f, sc, roots, &nroots), "unsampled span exported");
    for (size_t i = 0; i < nroots; i++)
        json_decref(roots[i]);
    fc_free(f);
}

Test(mw_trace, exports_zipkin_json_spans)
{
    fc_t *f = fc_start(FC_OK);
    ts_t t;
    ts_init(&t);
    char ep[96];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d/api/v2/spans", fc_port(f));
    set_str(&t.conf.telemetry.endpoint, ep);
    set_str(&t.conf.telemetry.batcher, "zipkin");
    set_str(&t.conf.telemetry.name, "zsvc");
    start(&t);
    tc_resp_t a;
    get(t.port, "/users/7", "traceparent: " IN_TP "\r\n", &a);
    char sa[17] = {0};
    memcpy(sa, tc_header(&a, "traceparent") + 36, 16);
    tc_resp_free(&a);
    ts_stop(&t);
    cr_assert_eq(fc_count(f), 1);
    cr_assert_str_eq(fc_path(f, 0), "/api/v2/spans");
    json_t *root = json_loads(fc_body(f, 0), 0, NULL);
    cr_assert(json_is_array(root) && json_array_size(root) == 1, "%s", fc_body(f, 0));
    json_t *s = json_array_get(root, 0);
    cr_assert_str_eq(json_string_value(json_object_get(s, "traceId")), IN_TRACE);
    cr_assert_str_eq(json_string_value(json_object_get(s, "id")), sa);
    cr_assert_str_eq(json_string_value(json_object_get(s, "parentId")), IN_SPAN);
    cr_assert_str_eq(json_string_value(json_object_get(s, "name")), "/users/:id");
    cr_assert_str_eq(json_string_value(json_object_get(s, "kind")), "SERVER");
    cr_assert_gt(json_integer_value(json_object_get(s, "timestamp")), 1600000000000000);
    cr_assert_geq(json_integer_value(json_object_get(s, "duration")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "localEndpoint"),
                                                       "serviceName")),
                     "zsvc");
    json_t *tags = json_object_get(s, "tags");
    cr_assert_str_eq(json_string_value(json_object_get(tags, "http.status_code")), "200");
    cr_assert_str_eq(json_string_value(json_object_get(tags, "http.method")), "GET");
    json_decref(root);
    fc_free(f);
}

Test(mw_trace, stalled_collector_never_blocks_requests_and_drops_are_counted)
{
    /* the OpenTelemetry SDK's environment knobs shrink the queue for the test */
    setenv("OTEL_BSP_MAX_QUEUE_SIZE", "8", 1);
    setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1", 1);
    setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "3000", 1);
    fc_t *f = fc_start(FC_HANG);
    ts_t t;
    ts_init(&t);
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", fc_port(f));
    set_str(&t.conf.telemetry.endpoint, ep);
    start(&t);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, t.port, 5000), 0);
    tc_resp_t r;
    tc_sendf(&c, "GET /users/0 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, false), 0);
    tc_resp_free(&r);
    cr_assert(fc_wait(f, 1, 5000), "the exporter posted the first span, and now waits");
    long t0 = tc_now_ms();
    for (int i = 1; i < 40; i++) {
        tc_sendf(&c, "GET /users/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        cr_assert_eq(tc_read(&c, &r, false), 0);
        cr_assert_eq(r.status, 200);
        tc_resp_free(&r);
    }
    long took = tc_now_ms() - t0;
    /* the post waits up to 3 s for an answer; requests must not wait with it */
    cr_assert_lt(took, 1500, "39 requests took %ld ms behind a stalled collector", took);
    cz_exporter_stats_t st;
    cr_assert_eq(cz_server_trace_stats(t.srv, &st), 0);
    cr_assert_eq(st.queued + st.dropped, 40);
    cr_assert_geq(st.dropped, 40 - 1 - 8 - 1, "queue of 8: the rest is dropped (%llu)",
                  (unsigned long long)st.dropped);
    cr_assert_eq(st.exported, 0);
    tc_close(&c);
    fc_stop(f); /* the collector dies: shutdown does not wait out the post timeout per span */
    long s0 = tc_now_ms();
    ts_stop(&t);
    cr_assert_lt(tc_now_ms() - s0, 2500);
    fc_free(f);
}

Test(mw_trace, refused_collector_counts_failed_posts)
{
    setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1", 1); /* post each span at once */
    fc_t *f = fc_start(FC_OK);
    int dead_port = fc_port(f);
    fc_free(f); /* nothing listens there any more */
    ts_t t;
    ts_init(&t);
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", dead_port);
    set_str(&t.conf.telemetry.endpoint, ep);
    start(&t);
    for (int i = 0; i < 5; i++) {
        tc_resp_t r;
        get(t.port, "/users/1", NULL, &r);
        cr_assert_eq(r.status, 200);
        cr_assert_not_null(tc_header(&r, "traceparent"));
        tc_resp_free(&r);
    }
    cz_exporter_stats_t st = {0};
    long t0 = tc_now_ms();
    while (tc_now_ms() - t0 < 5000) { /* the exporter thread works asynchronously */
        cr_assert_eq(cz_server_trace_stats(t.srv, &st), 0);
        if (st.failed + st.dropped == 5)
            break;
        usleep(1000);
    }
    cr_assert_eq(st.queued, 5);
    cr_assert_eq(st.exported, 0);
    cr_assert_eq(st.failed, 5, "every refused post is counted (%llu)",
                 (unsigned long long)st.failed);
    ts_stop(&t);
}
