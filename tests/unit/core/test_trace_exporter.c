/* SPDX-License-Identifier: MIT
 *
 * Unit tests of src/core/trace/exporter.c against a fake collector on loopback: OTLP/HTTP JSON
 * and Zipkin v2 JSON bodies (parsed with jansson), batching, flush on stop, endpoint forms,
 * failed posts, and a full queue that drops and counts instead of blocking. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include "czero/trace.h"
#include "fake_collector.h"

static cz_span_t span_n(int i, int status)
{
    cz_span_t s;
    memset(&s, 0, sizeof s);
    memset(s.trace_id, 0x10 + i, 16);
    memset(s.span_id, 0x20 + i, 8);
    memset(s.parent_id, 0x30 + i, 8);
    s.has_parent = i % 2 == 0;
    s.kind = CZ_SPAN_KIND_SERVER;
    s.name = "/users/:id";
    s.start_unix_ns = 1700000000123456789ull;
    s.end_unix_ns = s.start_unix_ns + 2500000; /* 2.5 ms */
    s.status_code = status;
    strcpy(s.method, "GET");
    snprintf(s.target, sizeof s.target, "/users/%d?x=1", i);
    return s;
}

static cz_exporter_t *mk(fc_t *f, cz_export_format_t fmt, const char *ep_fmt, size_t q,
                         size_t batch)
{
    char ep[128];
    snprintf(ep, sizeof ep, ep_fmt, fc_port(f));
    cz_exporter_opts_t o = {.endpoint = ep, .format = fmt, .service_name = "svc",
                            .queue_size = q, .batch_size = batch, .delay_ms = 60000,
                            .timeout_ms = 5000};
    cz_exporter_t *e;
    cr_assert_eq(cz_exporter_new(&e, &o), 0);
    return e;
}

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

Test(exporter, otlp_body_has_resource_scope_and_span_fields)
{
    fc_t *f = fc_start(FC_OK);
    cz_exporter_t *e = mk(f, CZ_EXPORT_OTLP_HTTP, "127.0.0.1:%d", 0, 0);
    cz_span_t a = span_n(0, 200), b = span_n(1, 503);
    cr_assert_eq(cz_exporter_push(e, &a), 0);
    cr_assert_eq(cz_exporter_push(e, &b), 0);
    cz_exporter_flush(e);
    cr_assert_eq(fc_count(f), 1);
    cr_assert_str_eq(fc_path(f, 0), "/v1/traces");
    json_error_t err;
    json_t *root = json_loads(fc_body(f, 0), 0, &err);
    cr_assert_not_null(root, "%s", err.text);
    json_t *rs = json_array_get(json_object_get(root, "resourceSpans"), 0);
    json_t *svc = attr(json_object_get(json_object_get(rs, "resource"), "attributes"),
                       "service.name");
    cr_assert_str_eq(json_string_value(json_object_get(svc, "stringValue")), "svc");
    json_t *spans = json_object_get(json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans");
    cr_assert_eq(json_array_size(spans), 2);
    json_t *s0 = json_array_get(spans, 0), *s1 = json_array_get(spans, 1);
    cr_assert_str_eq(json_string_value(json_object_get(s0, "traceId")),
                     "10101010101010101010101010101010");
    cr_assert_str_eq(json_string_value(json_object_get(s0, "spanId")), "2020202020202020");
    cr_assert_str_eq(json_string_value(json_object_get(s0, "parentSpanId")), "3030303030303030");
    cr_assert_null(json_object_get(s1, "parentSpanId"), "a root span has no parent");
    cr_assert_str_eq(json_string_value(json_object_get(s0, "name")), "/users/:id");
    cr_assert_eq(json_integer_value(json_object_get(s0, "kind")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(s0, "startTimeUnixNano")),
                     "1700000000123456789");
    cr_assert_str_eq(json_string_value(json_object_get(s0, "endTimeUnixNano")),
                     "1700000000125956789");
    json_t *at = json_object_get(s0, "attributes");
    cr_assert_str_eq(json_string_value(json_object_get(attr(at, "http.method"), "stringValue")),
                     "GET");
    cr_assert_str_eq(json_string_value(json_object_get(attr(at, "http.route"), "stringValue")),
                     "/users/:id");
    cr_assert_str_eq(json_string_value(json_object_get(attr(at, "http.target"), "stringValue")),
                     "/users/0?x=1");
    cr_assert_str_eq(json_string_value(json_object_get(attr(at, "http.status_code"), "intValue")),
                     "200");
    cr_assert_null(json_object_get(json_object_get(s0, "status"), "code"));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(s1, "status"), "code")), 2);
    json_decref(root);
    cz_exporter_stats_t st;
    cz_exporter_stats(e, &st);
    cr_assert_eq(st.queued, 2);
    cr_assert_eq(st.exported, 2);
    cr_assert_eq(st.posts, 1);
    cr_assert_eq(st.dropped + st.failed, 0);
    cz_exporter_free(e);
    fc_free(f);
}

Test(exporter, zipkin_body_is_an_array_of_v2_spans)
{
    fc_t *f = fc_start(FC_OK);
    cz_exporter_t *e = mk(f, CZ_EXPORT_ZIPKIN, "http://127.0.0.1:%d", 0, 0);
    cz_span_t a = span_n(0, 500);
    cz_exporter_push(e, &a);
    cz_exporter_flush(e);
    cr_assert_eq(fc_count(f), 1);
    cr_assert_str_eq(fc_path(f, 0), "/api/v2/spans");
    json_t *root = json_loads(fc_body(f, 0), 0, NULL);
    cr_assert(json_is_array(root));
    json_t *s = json_array_get(root, 0);
    cr_assert_str_eq(json_string_value(json_object_get(s, "traceId")),
                     "10101010101010101010101010101010");
    cr_assert_str_eq(json_string_value(json_object_get(s, "id")), "2020202020202020");
    cr_assert_str_eq(json_string_value(json_object_get(s, "parentId")), "3030303030303030");
    cr_assert_str_eq(json_string_value(json_object_get(s, "name")), "/users/:id");
    cr_assert_str_eq(json_string_value(json_object_get(s, "kind")), "SERVER");
    cr_assert_eq(json_integer_value(json_object_get(s, "timestamp")), 1700000000123456);
    cr_assert_eq(json_integer_value(json_object_get(s, "duration")), 2500);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "localEndpoint"),
                                                       "serviceName")),
                     "svc");
    json_t *tags = json_object_get(s, "tags");
    cr_assert_str_eq(json_string_value(json_object_get(tags, "http.method")), "GET");
    cr_assert_str_eq(json_string_value(json_object_get(tags, "http.status_code")), "500");
    cr_assert_str_eq(json_string_value(json_object_get(tags, "http.target")), "/users/0?x=1");
    cr_assert_str_eq(json_string_value(json_object_get(tags, "otel.status_code")), "ERROR");
    json_decref(root);
    cz_exporter_free(e);
    fc_free(f);
}

Test(exporter, endpoint_path_wins_and_https_is_refused)
{
    fc_t *f = fc_start(FC_OK);
    cz_exporter_t *e = mk(f, CZ_EXPORT_OTLP_HTTP, "http://127.0.0.1:%d/custom/traces", 0, 0);
    cz_span_t a = span_n(0, 200);
    cz_exporter_push(e, &a);
    cz_exporter_flush(e);
    cr_assert_str_eq(fc_path(f, 0), "/custom/traces");
    cz_exporter_free(e);
    fc_free(f);
    static const char *bad[] = {"https://127.0.0.1:4318", "", "127.0.0.1:", "127.0.0.1:12x",
                                "ftp://h:1", "[::1", ":4318"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cz_exporter_opts_t o = {.endpoint = bad[i]};
        cr_assert_eq(cz_exporter_new(&e, &o), CZ_EARG, "accepted %s", bad[i]);
        cr_assert_null(e);
    }
}

Test(exporter, batches_of_batch_size)
{
    fc_t *f = fc_start(FC_OK);
    cz_exporter_t *e = mk(f, CZ_EXPORT_ZIPKIN, "127.0.0.1:%d", 64, 4);
    for (int i = 0; i < 10; i++) {
        cz_span_t s = span_n(i, 200);
        cr_assert_eq(cz_exporter_push(e, &s), 0);
    }
    cz_exporter_flush(e);
    /* how the thread splits them depends on when it wakes, but never more than 4 a post */
    size_t posts = fc_count(f);
    cr_assert_geq(posts, 3);
    size_t total = 0;
    for (size_t i = 0; i < posts; i++) {
        json_t *root = json_loads(fc_body(f, i), 0, NULL);
        cr_assert_leq(json_array_size(root), 4);
        total += json_array_size(root);
        json_decref(root);
    }
    cr_assert_eq(total, 10);
    cz_exporter_free(e);
    fc_free(f);
}

Test(exporter, stop_flushes_what_is_queued)
{
    fc_t *f = fc_start(FC_OK);
    cz_exporter_t *e = mk(f, CZ_EXPORT_OTLP_HTTP, "127.0.0.1:%d", 0, 0); /* delay 60 s */
    for (int i = 0; i < 3; i++) {
        cz_span_t s = span_n(i, 200);
        cz_exporter_push(e, &s);
    }
    cz_exporter_stop(e);
    cr_assert_eq(fc_count(f), 1);
    cz_span_t s = span_n(9, 200);
    cr_assert_eq(cz_exporter_push(e, &s), CZ_EFULL, "a stopped exporter takes no spans");
    cz_exporter_stats_t st;
    cz_exporter_stats(e, &st);
    cr_assert_eq(st.exported, 3);
    cr_assert_eq(st.dropped, 1);
    cz_exporter_free(e);
    fc_free(f);
}

Test(exporter, failed_posts_are_counted)
{
    fc_t *f = fc_start(FC_FAIL);
    cz_exporter_t *e = mk(f, CZ_EXPORT_OTLP_HTTP, "127.0.0.1:%d", 0, 0);
    cz_span_t s = span_n(0, 200);
    cz_exporter_push(e, &s);
    cz_exporter_flush(e);
    cz_exporter_stats_t st;
    cz_exporter_stats(e, &st);
    cr_assert_eq(st.failed, 1);
    cr_assert_eq(st.exported, 0);
    cz_exporter_free(e);
    fc_free(f);
}

Test(exporter, full_queue_drops_and_counts_while_the_collector_stalls)
{
    fc_t *f = fc_start(FC_HANG);
    cz_exporter_t *e = mk(f, CZ_EXPORT_OTLP_HTTP, "127.0.0.1:%d", 4, 1);
    cz_span_t s = span_n(0, 200);
    cr_assert_eq(cz_exporter_push(e, &s), 0); /* batch size 1: the thread posts it and stalls */
    cr_assert(fc_wait(f, 1, 5000));
    for (int i = 0; i < 4; i++)
        cr_assert_eq(cz_exporter_push(e, &s), 0, "push %d", i);
    cr_assert_eq(cz_exporter_push(e, &s), CZ_EFULL);
    cr_assert_eq(cz_exporter_push(e, &s), CZ_EFULL);
    cz_exporter_stats_t st;
    cz_exporter_stats(e, &st);
    cr_assert_eq(st.queued, 5);
    cr_assert_eq(st.dropped, 2);
    /* the collector dies: the stalled post fails, later posts are refused, and stop gives up
     * at its first failed post: every span is accounted for as failed or dropped */
    fc_stop(f);
    cz_exporter_stop(e);
    cz_exporter_stats(e, &st);
    cr_assert_eq(st.exported, 0);
    cr_assert_geq(st.failed, 2);
    cr_assert_eq(st.failed + st.dropped, 5 + 2);
    cz_exporter_free(e);
    fc_free(f);
}

Test(exporter, encode_matches_what_is_posted)
{
    fc_t *f = fc_start(FC_OK);
    cz_exporter_t *e = mk(f, CZ_EXPORT_ZIPKIN, "127.0.0.1:%d", 0, 0);
    cz_span_t s = span_n(3, 200);
    char *body = cz_exporter_encode(e, &s, 1);
    cz_exporter_push(e, &s);
    cz_exporter_flush(e);
    cr_assert_str_eq(fc_body(f, 0), body);
    free(body);
    cz_exporter_free(e);
    fc_free(f);
}
