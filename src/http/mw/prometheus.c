/* SPDX-License-Identifier: MIT
 *
 * prometheus.c: the prometheus link (go-zero rest/handler/prometheushandler.go), the server's
 * metrics registry and its listeners (DevServer, Prometheus agent).
 *
 * go-zero's metrics, same names, labels and buckets:
 *   http_server_requests_duration_ms{path,method,code}  histogram, ms, {5,10,25,50,100,250,500,
 *                                                         750,1000}
 *   http_server_requests_code_total{path,method,code}    counter
 * where path is the route pattern. The link records only when something exposes them
 * (DevServer.Enabled with EnableMetrics, or Prometheus.Host), as go-zero records only when
 * prometheus.Enabled().
 *
 * The request path takes no lock and does no contended atomic: every (route, worker) pair has
 * its own cache-line-aligned list of code slots, written only by that worker's thread with
 * relaxed load+store; a collector sums the workers when /metrics is scraped. A new status code
 * takes the next free slot (a new chunk is allocated past SLOTS codes, once per code), published
 * with a release store, so the scraper never reads a half-made slot.
 *
 * The same module exposes, at scrape time, the server's shedders, connection counters
 * (accept.c) and TLS handshake and reload counters (server_tls.c), and (process-wide, once) every registered breaker and the log lines dropped. It also tells the metrics link about drops (metrics_int.h): when the
 * metrics link is on but nothing exposes Prometheus, the link still runs for that alone.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics_int.h"
#include "czero/breaker.h"
#include "czero/log.h"

#define NB 9    /* go-zero's bucket count */
#define SLOTS 4 /* status codes per chunk: a route rarely answers more than 200/4xx/5xx */

static const double bounds[NB] = CZ_METRICS_HTTP_BUCKETS;

typedef struct slot {
    uint32_t code;
    uint64_t count;
    uint64_t sum_ms;
    uint64_t b[NB + 1]; /* per bucket; the last is "> 1000" */
} slot_t;

typedef struct chunk {
    slot_t s[SLOTS];
    uint32_t n;         /* published slots */
    struct chunk *next; /* published with release */
} __attribute__((aligned(64))) chunk_t;

typedef struct prom_route {
    const char *path, *method; /* the route's, which outlive the chain */
    int nworkers;
    chunk_t *w; /* nworkers first chunks */
    const cz_clock_t *clock;
} prom_route_t;

typedef struct prom_state {
    cz_server_t *s;
    cz_metrics_t *reg;
    cz__devserver_t *agent; /* Prometheus.Host listener, when set apart from the DevServer */
    bool exposed;
    prom_route_t **routes;
    size_t nroutes, cap;
} prom_state_t;

typedef struct prom_ctx {
    uint64_t start_ns;
} prom_ctx_t;

/* Owner-thread increment: the scraper may read concurrently, so the store is atomic, but no
 * other thread writes, so no read-modify-write instruction is needed. */
static inline void bump(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static slot_t *slot_for(chunk_t *c, uint32_t code)
{
    for (;;) {
        uint32_t n = c->n; /* only this thread writes n */
        for (uint32_t i = 0; i < n; i++)
            if (c->s[i].code == code)
                return &c->s[i];
        if (n < SLOTS) {
            c->s[n].code = code;
            __atomic_store_n(&c->n, n + 1, __ATOMIC_RELEASE);
            return &c->s[n];
        }
        if (!c->next) {
            chunk_t *nc = aligned_alloc(64, sizeof *nc);
            if (!nc)
                return NULL;
            memset(nc, 0, sizeof *nc);
            __atomic_store_n(&c->next, nc, __ATOMIC_RELEASE);
        }
        c = c->next;
    }
}

static cz_mw_step_t prom_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)res;
    prom_route_t *pr = mw->data;
    ((prom_ctx_t *)ctx)->start_ns = cz__mw_metrics_start(r, pr->clock);
    return CZ_MW_NEXT;
}

static void prom_leave(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    prom_route_t *pr = mw->data;
    int status = cz_res_get_status(res);
    uint64_t now = cz__mw_metrics_leave_ns(r);
    if (!now)
        now = cz_clock_now_ns(pr->clock);
    uint64_t ms = (now - ((prom_ctx_t *)ctx)->start_ns) / CZ_NS_PER_MS;
    slot_t *s = slot_for(&pr->w[cz__req_worker_id(r)], (uint32_t)status);
    if (cz__unlikely(!s))
        return; /* no memory for a new code's chunk: this one observation is lost */
    size_t b = 0;
    while (b < NB && (double)ms > bounds[b])
        b++;
    bump(&s->count, 1);
    bump(&s->sum_ms, ms);
    bump(&s->b[b], 1);
}

static void route_free(prom_route_t *pr)
{
    for (int i = 0; i < pr->nworkers; i++) {
        chunk_t *c = pr->w[i].next;
        while (c) {
            chunk_t *next = c->next;
            free(c);
            c = next;
        }
    }
    free(pr->w);
    free(pr);
}

static const cz_mw_ops_t prom_ops = {.name = "prometheus",
                                     .ctx_size = sizeof(prom_ctx_t),
                                     .enter = prom_enter,
                                     .leave = prom_leave};

/* ---- scrape time ---- */

typedef struct sum {
    uint32_t code;
    uint64_t count, sum_ms, b[NB + 1];
} sum_t;

static void collect_route(cz_metric_t *hist, cz_metric_t *codes, const prom_route_t *pr)
{
    sum_t sums[64];
    size_t n = 0;
    for (int w = 0; w < pr->nworkers; w++) {
        for (const chunk_t *c = &pr->w[w]; c; c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE)) {
            uint32_t nslots = __atomic_load_n(&c->n, __ATOMIC_ACQUIRE);
            for (uint32_t i = 0; i < nslots; i++) {
                const slot_t *s = &c->s[i];
                size_t k = 0;
                while (k < n && sums[k].code != s->code)
                    k++;
                if (k == n) {
                    if (n == sizeof sums / sizeof sums[0])
                        continue;
                    memset(&sums[n], 0, sizeof sums[n]);
                    sums[n++].code = s->code;
                }
                sums[k].count += __atomic_load_n(&s->count, __ATOMIC_RELAXED);
                sums[k].sum_ms += __atomic_load_n(&s->sum_ms, __ATOMIC_RELAXED);
                for (int b = 0; b <= NB; b++)
                    sums[k].b[b] += __atomic_load_n(&s->b[b], __ATOMIC_RELAXED);
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        char code[12];
        snprintf(code, sizeof code, "%u", sums[k].code);
        const char *values[] = {pr->path, pr->method, code};
        /* count is read apart from the buckets: use the buckets' total, so _count == +Inf */
        uint64_t total = 0;
        for (int b = 0; b <= NB; b++)
            total += sums[k].b[b];
        cz_metric_histogram_set(hist, values, sums[k].b, (double)sums[k].sum_ms);
        cz_metric_set(codes, values, (double)total);
    }
}

static void shedder_gauges(cz_metrics_t *m, cz_shedder_t *sh, const char *name)
{
    if (!sh)
        return;
    static const char *const lab[] = {"shedder"};
    static const char *const lab2[] = {"shedder", "result"};
    cz_shedder_info_t in;
    cz_shedder_stat_t st;
    cz_shedder_info(sh, &in);
    cz_shedder_stat(sh, &st, 0);
    const char *v[] = {name};
    static const struct {
        const char *name, *help;
        size_t off;
        bool is_double;
    } g[] = {
        {"czero_shedder_cpu_permille", "CPU usage the shedder decides on, permille.",
         offsetof(cz_shedder_info_t, cpu), false},
        {"czero_shedder_flying", "Requests allowed and not finished.",
         offsetof(cz_shedder_info_t, flying), false},
        {"czero_shedder_avg_flying", "Moving average of flying requests.",
         offsetof(cz_shedder_info_t, avg_flying), true},
        {"czero_shedder_max_flight", "Flying requests the shedder allows when hot.",
         offsetof(cz_shedder_info_t, max_flight), true},
        {"czero_shedder_min_response_seconds", "Fastest bucket's average response time.",
         offsetof(cz_shedder_info_t, min_rt_ms), true},
        {"czero_shedder_max_pass", "Busiest bucket's passed requests.",
         offsetof(cz_shedder_info_t, max_pass), false},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        cz_metric_t *f;
        const char *p = (const char *)&in + g[i].off;
        double val = g[i].is_double ? *(const double *)p : (double)*(const int64_t *)p;
        if (g[i].off == offsetof(cz_shedder_info_t, min_rt_ms))
            val /= 1000.0; /* base unit, as Prometheus names want */
        if (cz_metrics_gauge(m, g[i].name, g[i].help, lab, 1, &f) == 0)
            cz_metric_set(f, v, val);
    }
    cz_metric_t *f;
    if (cz_metrics_counter(m, "czero_shedder_requests_total",
                           "Requests seen by the shedder, by result (go-zero SheddingStat).",
                           lab2, 2, &f) == 0) {
        cz_metric_set(f, (const char *[]){name, "pass"}, (double)st.pass);
        cz_metric_set(f, (const char *[]){name, "drop"}, (double)st.drop);
        cz_metric_set(f, (const char *[]){name, "total"}, (double)st.total);
    }
}

/* The engine's connection counters (accept.c): MaxConnections and descriptor exhaustion. */
static void conn_metrics(cz_metrics_t *m, const cz_server_t *s)
{
    cz__conn_stats_t st;
    cz__server_conn_stats(s, &st);
    static const struct {
        const char *name, *help;
        bool counter;
        size_t off;
    } f[] = {
        {"czero_http_connections_open", "Client connections open.", false,
         offsetof(cz__conn_stats_t, open)},
        {"czero_http_connections_max", "MaxConnections: client connections the server holds at "
         "most.", false, offsetof(cz__conn_stats_t, max)},
        {"czero_http_connections_drained_total", "Idle connections (keep-alive, or new with "
         "nothing sent) closed to admit new ones, at MaxConnections or out of file descriptors.",
         true, offsetof(cz__conn_stats_t, drained)},
        {"czero_http_connections_refused_total", "New connections closed at once: MaxConnections "
         "reached or out of file descriptors, with no idle connection to close.", true,
         offsetof(cz__conn_stats_t, refused)},
        {"czero_http_accept_no_fd_total", "Accepts that failed for lack of file descriptors "
         "(EMFILE, ENFILE).", true, offsetof(cz__conn_stats_t, accept_nofd)},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        cz_metric_t *fam;
        int rc = f[i].counter ? cz_metrics_counter(m, f[i].name, f[i].help, NULL, 0, &fam)
                              : cz_metrics_gauge(m, f[i].name, f[i].help, NULL, 0, &fam);
        if (rc == 0)
            cz_metric_set(fam, NULL, (double)*(const uint64_t *)((const char *)&st + f[i].off));
    }
}

/* A TLS listener's handshakes and certificate reloads (server_tls.c, the context's counters). */
static void tls_metrics(cz_metrics_t *m, const cz_server_t *s)
{
    if (!s->tls)
        return;
    cz__server_tls_stats_t st;
    cz__server_tls_stats(s, &st);
    static const char *const lab[] = {"result"};
    cz_metric_t *f;
    if (cz_metrics_counter(m, "czero_tls_handshakes_total",
                           "TLS handshakes on the listener by result: ok (completed, resumed "
                           "or not), failed (an error, or begun and never finished), plaintext "
                           "(a plain HTTP request, answered 400).", lab, 1, &f) == 0) {
        cz_metric_set(f, (const char *[]){"ok"}, (double)st.ctx.handshakes);
        cz_metric_set(f, (const char *[]){"failed"}, (double)st.ctx.failed);
        cz_metric_set(f, (const char *[]){"plaintext"}, (double)st.ctx.plaintext);
    }
    if (cz_metrics_counter(m, "czero_tls_handshakes_resumed_total",
                           "Completed TLS handshakes that resumed a session (ticket).", NULL, 0,
                           &f) == 0)
        cz_metric_set(f, NULL, (double)st.ctx.resumed);
    if (cz_metrics_counter(m, "czero_tls_ticket_key_rotations_total",
                           "Session-ticket keys replaced (Tls.TicketKeyRotation).", NULL, 0,
                           &f) == 0)
        cz_metric_set(f, NULL, (double)st.ctx.ticket_rotations);
    if (cz_metrics_counter(m, "czero_tls_reloads_total",
                           "Certificate reloads by result (a failed one keeps the old "
                           "certificates).", lab, 1, &f) == 0) {
        cz_metric_set(f, (const char *[]){"ok"}, (double)st.reloads);
        cz_metric_set(f, (const char *[]){"failed"}, (double)st.reload_failures);
    }
}

static void collect_server(cz_metrics_t *m, void *ud)
{
    prom_state_t *ps = ud;
    static const char *const lab[] = {"path", "method", "code"};
    cz_metric_t *hist = NULL, *codes = NULL;
    if (ps->exposed && ps->nroutes &&
        cz_metrics_histogram(m, "http_server_requests_duration_ms",
                             "http server requests duration(ms).", lab, 3, bounds, NB,
                             &hist) == 0 &&
        cz_metrics_counter(m, "http_server_requests_code_total",
                           "http server requests error count.", lab, 3, &codes) == 0) {
        for (size_t i = 0; i < ps->nroutes; i++)
            collect_route(hist, codes, ps->routes[i]);
    }
    shedder_gauges(m, ps->s->shedder, "normal");
    shedder_gauges(m, ps->s->priority_shedder, "priority");
    conn_metrics(m, ps->s);
    tls_metrics(m, ps->s);
}

static void breaker_one(cz_breaker_t *b, void *arg)
{
    cz_metric_t **f = arg;
    cz_breaker_stat_t st;
    cz_breaker_stat(b, &st);
    const char *name = cz_breaker_name(b);
    cz_metric_set(f[0], (const char *[]){name, "accept"}, (double)st.accepts);
    cz_metric_set(f[0], (const char *[]){name, "failure"}, (double)st.failures);
    cz_metric_set(f[0], (const char *[]){name, "drop"}, (double)st.drops);
    cz_metric_set(f[1], (const char *[]){name}, st.drop_ratio);
}

static void collect_breakers(cz_metrics_t *m, void *ud)
{
    (void)ud;
    static const char *const lab[] = {"name", "result"};
    cz_metric_t *f[2];
    if (cz_metrics_gauge(m, "czero_breaker_window_requests",
                         "Requests in the breaker's 10s window, by result.", lab, 2, &f[0]) ||
        cz_metrics_gauge(m, "czero_breaker_drop_ratio",
                         "Probability the breaker drops the next request.", lab, 1, &f[1]))
        return;
    cz_breakers_foreach(breaker_one, f);
}

/* Process-wide: what the log writer lost (a line each, the error log says why). */
static void collect_log(cz_metrics_t *m, void *ud)
{
    (void)ud;
    cz_metric_t *f;
    if (cz_metrics_counter(m, "czero_log_dropped_lines_total",
                           "Log lines dropped: the writer fell behind or a write failed.", NULL,
                           0, &f) == 0)
        cz_metric_set(f, NULL, (double)cz_log_dropped());
}

static pthread_once_t breakers_once = PTHREAD_ONCE_INIT;
static void breakers_register(void)
{
    cz_metrics_collector_add(cz_metrics_default(), collect_breakers, NULL);
    cz_metrics_collector_add(cz_metrics_default(), collect_log, NULL);
}

/* ---- module ---- */

static int prom_init(cz_server_t *s, void **state, cz_diag_t *d)
{
    const cz_rest_conf_t *c = &s->conf;
    prom_state_t *ps = calloc(1, sizeof *ps);
    if (!ps)
        return CZ_ENOMEM;
    *state = ps;
    ps->s = s;
    bool dev = c->dev_server.enabled;
    bool agent = c->prometheus.host && *c->prometheus.host;
    ps->exposed = (dev && c->dev_server.enable_metrics) || agent;
    if (!dev && !agent)
        return 0;
    int rc = cz_metrics_new(&ps->reg);
    if (rc == 0)
        rc = cz_metrics_collector_add(ps->reg, collect_server, ps);
    if (rc)
        return cz_diag_set(d, NULL, 0, 0, "Prometheus", "%s", cz_strerror(rc));
    pthread_once(&breakers_once, breakers_register);
    /* go-zero: devserver.StartAgent and prometheus.StartAgent. There a listener that cannot bind
     * is logged and the service runs on without it; here the start-up fails, as nginx's does, so
     * a port held by another process is seen at once rather than as metrics that never come.
     * The listener logged why; no diagnostic, so the chain adds no second line. */
    const cz_dev_server_conf_t *ds = &c->dev_server;
    if (dev && (rc = cz__devserver_start(s->api, ds->host, (int)ds->port,
                                         ds->enable_metrics ? ds->metrics_path : NULL,
                                         ds->health_path, ps->reg, &s->dev)) != 0)
        return rc;
    if (agent) {
        const char *path = c->prometheus.path && *c->prometheus.path ? c->prometheus.path
                                                                      : "/metrics";
        rc = cz__devserver_start(s->api, c->prometheus.host, (int)c->prometheus.port, path,
                                 NULL, ps->reg, dev ? &ps->agent : &s->dev);
    }
    return rc;
}

static int prom_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                      cz_diag_t *d)
{
    (void)d;
    prom_state_t *ps = state;
    if (!ps->exposed) /* nothing serves /metrics: record nothing (go-zero) */
        return 0;
    if (ps->nroutes == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        prom_route_t **nr = realloc(ps->routes, cap * sizeof *nr);
        if (!nr)
            return CZ_ENOMEM;
        ps->routes = nr;
        ps->cap = cap;
    }
    prom_route_t *pr = calloc(1, sizeof *pr);
    if (!pr)
        return CZ_ENOMEM;
    pr->nworkers = cz__server_nworkers(s);
    pr->w = aligned_alloc(64, (size_t)pr->nworkers * sizeof *pr->w);
    if (!pr->w) {
        free(pr);
        return CZ_ENOMEM;
    }
    memset(pr->w, 0, (size_t)pr->nworkers * sizeof *pr->w);
    pr->path = rt->pattern;
    pr->method = rt->method;
    pr->clock = cz__mw_metrics_clock();
    ps->routes[ps->nroutes++] = pr;
    out->ops = &prom_ops;
    out->data = pr;
    return 0;
}

static void prom_stop(cz_server_t *s, void *state)
{
    prom_state_t *ps = state;
    cz__devserver_stop(s->dev);
    if (ps)
        cz__devserver_stop(ps->agent);
}

static void prom_module_free(cz_server_t *s, void *state)
{
    prom_state_t *ps = state;
    /* the listeners go first: a scrape reads the routes' counters and the shedders */
    cz__devserver_free(s->dev);
    s->dev = NULL;
    if (!ps)
        return;
    cz__devserver_free(ps->agent);
    cz_metrics_free(ps->reg);
    /* not with the chains (no ops->free): the dev listener may read them until joined above */
    for (size_t i = 0; i < ps->nroutes; i++)
        route_free(ps->routes[i]);
    free(ps->routes);
    free(ps);
}

const cz__mw_module_t cz__mw_prometheus = {.name = "prometheus",
                                           .init = prom_init,
                                           .route = prom_route,
                                           .stop = prom_stop,
                                           .free = prom_module_free};
