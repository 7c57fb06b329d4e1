/* SPDX-License-Identifier: MIT
 *
 * bench_mw_trace.c: per-request cost of the trace link (enter + leave), driven directly on a
 * request structure as the chain would, single thread.
 *
 * Prints:
 *   mw_trace_ns <v>         new root trace, sampled (Sampler 1.0), no Endpoint: ids, format,
 *                           response header; nothing recorded
 *   mw_trace_parent_ns <v>  the same with an incoming traceparent + tracestate to parse and echo
 *   mw_trace_export_ns <v>  new root, sampled, Endpoint set: the span is also pushed on the
 *                           exporter's queue (a fake collector on loopback takes the posts)
 * The export case is timed in runs of 1024 requests (half the default 2048 queue) with an untimed
 * wait for the exporter thread to drain between runs, so the number is the request thread's
 * cost and no span is dropped. Each number is the median over chunks (see run_plain).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "http/mw/mw_int.h"
#include "czero/trace.h"
#include "fake_collector.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct rig {
    cz_server_t srv;
    cz__route_t rt;
    cz_req_t req;
    cz_mw_t mw;
    void *state;
    void *ctx;
} rig_t;

static int rig_init(rig_t *g, const char *endpoint, bool parent)
{
    memset(g, 0, sizeof *g);
    g->srv.conf.name = "bench";
    g->srv.conf.telemetry.sampler = 1.0;
    g->srv.conf.telemetry.batcher = "otlphttp";
    g->srv.conf.telemetry.otlp_http_path = "/v1/traces";
    g->srv.conf.telemetry.endpoint = (char *)endpoint;
    g->rt.pattern = "/users/:id";
    g->rt.method = "GET";
    cz_diag_t d = {0};
    if (cz__mw_trace.init(&g->srv, &g->state, &d) ||
        cz__mw_trace.route(&g->srv, g->state, &g->rt, &g->mw, &d) || !g->mw.ops)
        return -1;
    cz_req_t *r = &g->req;
    r->route = &g->rt;
    cz_arena_init(&r->arena, 4096);
    r->method = CZ_STR("GET");
    r->target = CZ_STR("/users/12345?verbose=1");
    static const char *names[] = {"Host", "User-Agent", "Accept", "traceparent", "tracestate"};
    static const char *values[] = {"localhost:8888", "wrk/4.2.0", "*/*",
                                   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                   "congo=t61rcWkgMzE"};
    r->nheaders = parent ? 5 : 3;
    for (uint32_t i = 0; i < r->nheaders; i++) {
        r->hname[i] = cz_str_c(names[i]);
        r->hvalue[i] = cz_str_c(values[i]);
    }
    g->ctx = cz_arena_calloc(&r->arena, g->mw.ops->ctx_size);
    return g->ctx ? 0 : -1;
}

static inline void one(rig_t *g)
{
    cz_req_t *r = &g->req;
    r->res.hdrs_len = 0; /* the header buffer is reused, as a kept-alive request's arena is */
    r->start_ns = 1;
    memset(g->ctx, 0, g->mw.ops->ctx_size);
    g->mw.ops->enter(&g->mw, r, &r->res, g->ctx);
    r->res.status = 200;
    g->mw.ops->leave(&g->mw, r, &r->res, g->ctx);
}

static void rig_free(rig_t *g)
{
    cz__mw_trace.free(&g->srv, g->state);
    cz_arena_dispose(&g->req.arena);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median over chunks of 10000 requests (about 1 ms each): the box is shared, and a chunk in
 * which this thread was preempted would otherwise inflate a plain mean. */
static double run_plain(bool parent, int n)
{
    rig_t g;
    if (rig_init(&g, NULL, parent))
        return -1;
    for (int i = 0; i < 10000; i++)
        one(&g);
    enum { CHUNK = 10000 };
    int chunks = n / CHUNK > 0 ? n / CHUNK : 1;
    double *per = malloc(sizeof *per * (size_t)chunks);
    for (int c = 0; c < chunks; c++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < CHUNK; i++)
            one(&g);
        per[c] = (double)(now_ns() - t0) / CHUNK;
    }
    qsort(per, (size_t)chunks, sizeof *per, cmp_d);
    double ns = per[chunks / 2];
    free(per);
    rig_free(&g);
    return ns;
}

static double run_export(int runs)
{
    fc_t *f = fc_start(FC_OK);
    if (!f)
        return -1;
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", fc_port(f));
    rig_t g;
    if (rig_init(&g, ep, false))
        return -1;
    const int per_run = 1024;
    double *per = malloc(sizeof *per * (size_t)runs);
    cz_exporter_stats_t st;
    for (int b = 0; b < runs; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < per_run; i++)
            one(&g);
        per[b] = (double)(now_ns() - t0) / per_run;
        do { /* untimed: let the exporter thread post the two batches */
            sched_yield();
            cz_server_trace_stats(&g.srv, &st);
        } while (st.exported + st.failed < st.queued);
    }
    qsort(per, (size_t)runs, sizeof *per, cmp_d);
    double ns = per[runs / 2];
    free(per);
    cz_server_trace_stats(&g.srv, &st);
    if (st.dropped || st.failed)
        fprintf(stderr, "warning: %llu spans dropped, %llu failed\n",
                (unsigned long long)st.dropped, (unsigned long long)st.failed);
    rig_free(&g);
    fc_free(f);
    return ns;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000000;
    printf("mw_trace_ns %.1f\n", run_plain(false, n));
    printf("mw_trace_parent_ns %.1f\n", run_plain(true, n));
    printf("mw_trace_export_ns %.1f\n", run_export(n / 1024 / 8 > 0 ? n / 1024 / 8 : 1));
    return 0;
}
