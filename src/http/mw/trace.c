/* SPDX-License-Identifier: MIT
 *
 * trace.c: the trace link of the middleware chain (go-zero rest/handler/tracehandler.go).
 *
 * Each request on a route not listed in TraceIgnorePaths gets a server span named by the route
 * pattern. An incoming W3C `traceparent` continues its trace (its span becomes the parent and its
 * sampled flag decides, as OpenTelemetry's ParentBased sampler); otherwise a new trace starts and
 * Telemetry.Sampler decides. Like go-zero's propagator.Inject into w.Header(), the response
 * carries `traceparent` (and the incoming `tracestate`). When the response is final, a sampled
 * span is copied into the exporter's queue, if Telemetry.Endpoint is set; without an endpoint
 * nothing is recorded but the ids still flow (headers, access log, cz_req_trace_id, the
 * handler's own lines through cz_req_logf).
 *
 * Per request the link costs two ids from the per-thread PRNG, a 55-byte format, one header scan
 * and, for an exported span, one lock-free queue push: no syscall, lock or allocation.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "mw_int.h"
#include "czero/clock.h"
#include "czero/log.h"
#include "czero/trace.h"

#define TRACESTATE_MAX 512 /* W3C trace-context: vendors MUST accept 512 characters */

typedef struct trace_state {
    cz_sampler_t sampler;
    cz_exporter_t *exp;       /* NULL: no Endpoint (or an unsupported Batcher) */
    const cz_clock_t *clock;  /* monotonic, the engine's uv_hrtime() base */
    uint64_t wall_off;        /* wall-clock ns minus monotonic ns, taken at start */
    const cz_server_t *srv;
    struct trace_state *next; /* registry for cz_server_trace_stats */
} trace_state_t;

typedef struct trace_ctx {
    char tp[CZ_TRACEPARENT_LEN + 1]; /* our traceparent: ids are views into it */
    cz_span_ctx_t sc;
    uint8_t parent[8];
    bool active, has_parent;
    cz_str_t tracestate; /* view into the request's headers */
} trace_ctx_t;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static trace_state_t *reg_head;

static void add_headers(cz_res_t *res, const trace_ctx_t *tc)
{
    cz_res_header_n(res, CZ_STR("traceparent"), (cz_str_t){tc->tp, CZ_TRACEPARENT_LEN});
    if (tc->tracestate.n)
        cz_res_header_n(res, CZ_STR("tracestate"), tc->tracestate);
}

static cz_mw_step_t trace_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    trace_state_t *st = mw->data;
    trace_ctx_t *tc = ctx;
    cz_str_t tp = CZ_STR_NULL, ts = CZ_STR_NULL;
    for (uint32_t i = 0; i < r->nheaders; i++) { /* one pass for both headers */
        cz_str_t n = r->hname[i];
        if (!tp.p && cz_str_ieq(n, CZ_STR("traceparent")))
            tp = r->hvalue[i];
        else if (!ts.p && cz_str_ieq(n, CZ_STR("tracestate")))
            ts = r->hvalue[i];
    }
    cz_span_ctx_t in;
    if (tp.n && cz_traceparent_parse(tp, &in) == 0) {
        memcpy(tc->sc.trace_id, in.trace_id, 16);
        memcpy(tc->parent, in.span_id, 8);
        tc->has_parent = true;
        tc->sc.flags = in.flags; /* ParentBased: the remote parent's decision wins */
        if (ts.n && ts.n <= TRACESTATE_MAX) /* tracestate only travels with a valid parent */
            tc->tracestate = ts;
    } else {
        cz_trace_new_trace_id(tc->sc.trace_id);
        tc->sc.flags = cz_sampler_sample(&st->sampler, tc->sc.trace_id) ? CZ_TRACE_FLAG_SAMPLED
                                                                        : 0;
    }
    cz_trace_new_span_id(tc->sc.span_id);
    cz_traceparent_format(&tc->sc, tc->tp);
    tc->active = true;
    r->trace_ctx = tc; /* ctx_of's answer from now on, without a walk of the chain */
    add_headers(res, tc);
    return CZ_MW_NEXT;
}

static void copy_cut(char *dst, size_t cap, cz_str_t s)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static void trace_leave(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    trace_state_t *st = mw->data;
    trace_ctx_t *tc = ctx;
    /* a timeout's 503 starts the headers afresh: put ours back */
    if (!res->head_sent && res->hdrs_len == 0)
        add_headers(res, tc);
    if (!st->exp || !(tc->sc.flags & CZ_TRACE_FLAG_SAMPLED))
        return;
    cz_span_t sp;
    memcpy(sp.trace_id, tc->sc.trace_id, 16);
    memcpy(sp.span_id, tc->sc.span_id, 8);
    memcpy(sp.parent_id, tc->parent, 8);
    sp.has_parent = tc->has_parent;
    sp.kind = CZ_SPAN_KIND_SERVER;
    sp.name = r->route->pattern;
    sp.start_unix_ns = r->start_ns + st->wall_off;
    sp.end_unix_ns = cz_clock_now_ns(st->clock) + st->wall_off;
    sp.status_code = cz_res_get_status(res);
    copy_cut(sp.method, sizeof sp.method, r->method);
    copy_cut(sp.target, sizeof sp.target, r->target);
    cz_exporter_push(st->exp, &sp); /* full: dropped and counted there */
}

static const cz_mw_ops_t trace_ops = {.name = "trace",
                                      .ctx_size = sizeof(trace_ctx_t),
                                      .enter = trace_enter,
                                      .leave = trace_leave};

static int trace_init(cz_server_t *s, void **state, cz_diag_t *d)
{
    (void)d;
    const cz_rest_conf_t *c = cz__server_conf(s);
    const cz_telemetry_conf_t *t = &c->telemetry;
    trace_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return CZ_ENOMEM;
    cz_sampler_init(&st->sampler, t->sampler);
    st->clock = cz_clock_system();
    st->wall_off = cz_wallclock_ns() - cz_clock_now_ns(st->clock);
    st->srv = s;
    if (t->endpoint && *t->endpoint) {
        cz_exporter_opts_t o = {.endpoint = t->endpoint,
                                .service_name = t->name && *t->name ? t->name : c->name};
        const char *b = t->batcher && *t->batcher ? t->batcher : "otlphttp";
        int rc = 0;
        if (strcmp(b, "zipkin") == 0) {
            o.format = CZ_EXPORT_ZIPKIN;
        } else if (strcmp(b, "otlphttp") == 0) {
            o.format = CZ_EXPORT_OTLP_HTTP;
            o.path = t->otlp_http_path;
        } else {
            rc = CZ_EARG;
        }
        if (!rc)
            rc = cz_exporter_new(&st->exp, &o);
        /* go-zero's startAgent logs and runs without an exporter when it cannot make one */
        if (rc)
            cz_log_error("trace: spans not exported (Batcher %s, Endpoint %s): %s", b,
                         t->endpoint, cz_strerror(rc));
    }
    pthread_mutex_lock(&reg_mu);
    st->next = reg_head;
    reg_head = st;
    pthread_mutex_unlock(&reg_mu);
    *state = st;
    return 0;
}

static int trace_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                       cz_diag_t *d)
{
    (void)d;
    const cz_conf_strings_t *ig = &cz__server_conf(s)->trace_ignore_paths;
    for (size_t i = 0; i < ig->n; i++) /* go-zero compares the span name: the route path */
        if (ig->items[i] && strcmp(ig->items[i], rt->pattern) == 0)
            return 0;
    out->ops = &trace_ops;
    out->data = state;
    return 0;
}

/* The exporter is flushed and stopped when the server is freed, after the workers have ended,
 * so the spans of requests that finish during a graceful shutdown are still sent. */
static void trace_free(cz_server_t *s, void *state)
{
    (void)s;
    trace_state_t *st = state;
    if (!st)
        return;
    pthread_mutex_lock(&reg_mu);
    for (trace_state_t **p = &reg_head; *p; p = &(*p)->next)
        if (*p == st) {
            *p = st->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    cz_exporter_free(st->exp);
    free(st);
}

const cz__mw_module_t cz__mw_trace = {
    .name = "trace", .init = trace_init, .route = trace_route, .free = trace_free};

/* ---- accessors ---- */

/* The request's trace ctx once the link's enter ran for it (the ids are set), else NULL. Asked
 * four times per proxied request (the proxy's headers, its answer, the access line). */
static const trace_ctx_t *ctx_of(const cz_req_t *r) { return r->trace_ctx; }

cz_str_t cz_req_trace_id(const cz_req_t *r)
{
    const trace_ctx_t *tc = ctx_of(r);
    return tc ? (cz_str_t){tc->tp + 3, 32} : CZ_STR_NULL;
}

cz_str_t cz_req_span_id(const cz_req_t *r)
{
    const trace_ctx_t *tc = ctx_of(r);
    return tc ? (cz_str_t){tc->tp + 36, 16} : CZ_STR_NULL;
}

/* logx.WithContext: a handler's line carries the ids its access line carries (log.h) */
void cz_req_logf(const cz_req_t *req, cz_log_level_t lv, const char *fmt, ...)
{
    if (!cz_log_enabled(lv))
        return;
    va_list ap;
    va_start(ap, fmt);
    cz_logv_trace(lv, cz_req_trace_id(req), cz_req_span_id(req), fmt, ap);
    va_end(ap);
}

size_t cz_req_traceparent(const cz_req_t *r, char buf[CZ_TRACEPARENT_LEN + 1])
{
    const trace_ctx_t *tc = ctx_of(r);
    if (!tc) {
        buf[0] = '\0';
        return 0;
    }
    memcpy(buf, tc->tp, CZ_TRACEPARENT_LEN + 1);
    return CZ_TRACEPARENT_LEN;
}

cz_str_t cz_req_tracestate(const cz_req_t *r)
{
    const trace_ctx_t *tc = ctx_of(r);
    return tc ? tc->tracestate : CZ_STR_NULL;
}

int cz_req_span_ctx(const cz_req_t *r, cz_span_ctx_t *out)
{
    const trace_ctx_t *tc = ctx_of(r);
    if (!tc)
        return CZ_ENOTFOUND;
    *out = tc->sc;
    return 0;
}

int cz_server_trace_stats(const cz_server_t *s, cz_exporter_stats_t *out)
{
    int rc = CZ_ENOTFOUND;
    pthread_mutex_lock(&reg_mu);
    for (trace_state_t *st = reg_head; st; st = st->next)
        if (st->srv == s && st->exp) {
            cz_exporter_stats(st->exp, out);
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    return rc;
}
