/* SPDX-License-Identifier: MIT
 *
 * stat_metrics.c: the metrics link and go-zero's periodic stat line (rest/handler/metrichandler.go,
 * core/stat/metrics.go):
 *   (name) - qps: 12.3/s, drops: 0, avg time: 1.2ms, med: 1.1ms, 90th: 2.0ms, 99th: 3.1ms,
 *   99.9th: 4.0ms
 * logged with cz_log_statf every minute (go-zero logInterval) by a background thread, only for a
 * minute that saw requests or drops (go-zero's periodical executor goes idle too), and once
 * more when the server is freed, for the last partial minute. name is the
 * config Name, or host:port without one (engine.createMetrics). qps counts completed requests
 * over the interval; drops are requests breaker/shedding (and maxconns) refused, reported by the
 * prometheus link, which runs before them (metrics_int.h). When log lines were dropped in the
 * interval (cz_log_dropped, process-wide) the line ends with ", log dropped: N" and is logged
 * even without requests; otherwise it is go-zero's line unchanged.
 *
 * Per request: one clock read at leave (the start is the engine's), shared with the prometheus
 * link (cz__mw_metrics_leave_ns), then three counters and one bucket of a
 * log-linear latency histogram (16 sub-buckets per power of two of microseconds, so a
 * percentile is within about 3% of the exact value go-zero's sort would give), all in the
 * worker's own cache lines, written by that thread only with relaxed atomic stores. The flusher
 * reads the running totals and subtracts its previous snapshot; no lock, no reset race.
 * Percentiles follow go-zero's topK rule: the median is the (n/2)-th largest, the 90th the
 * (n/10)-th, and so on, with the maximum when the sample is too small.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "metrics_int.h"
#include "czero/log.h"

#define SUB 16                /* sub-buckets per power of two */
#define NBUCKETS (40 * SUB)   /* up to 2^43 us */
#define DEFAULT_INTERVAL_MS 60000

typedef struct stat_worker {
    uint64_t count, drops, sum_us;
    uint64_t h[NBUCKETS];
} __attribute__((aligned(64))) stat_worker_t;

typedef struct stat_state {
    char name[320];
    int nworkers;
    stat_worker_t *w;
    stat_worker_t *prev; /* the flusher's last snapshot */
    uint64_t *delta;     /* NBUCKETS, the flusher's */
    const cz_clock_t *clock;
    uint64_t interval_ms;
    uint64_t log_dropped; /* cz_log_dropped() at the last line */
    pthread_t thread;
    bool running, stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} stat_state_t;

typedef struct stat_ctx {
    uint64_t start_ns;
    bool entered;
} stat_ctx_t;

static uint64_t interval_override_ms;

void cz__mw_metrics_set_interval(uint64_t ms)
{
    __atomic_store_n(&interval_override_ms, ms, __ATOMIC_RELAXED);
}

static const cz_clock_t *clock_override;

void cz__mw_metrics_set_clock(const cz_clock_t *clock)
{
    __atomic_store_n(&clock_override, clock, __ATOMIC_RELEASE);
}

const cz_clock_t *cz__mw_metrics_clock(void)
{
    const cz_clock_t *c = __atomic_load_n(&clock_override, __ATOMIC_ACQUIRE);
    return c ? c : cz_clock_system();
}

static inline void bump(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline size_t bucket_of(uint64_t us)
{
    if (us < SUB)
        return (size_t)us;
    int e = 63 - __builtin_clzll(us); /* >= 4 */
    size_t i = (size_t)(e - 3) * SUB + ((us >> (e - 4)) & (SUB - 1));
    return i < NBUCKETS ? i : NBUCKETS - 1;
}

/* The middle of bucket i, in microseconds (exact below SUB us). */
static double bucket_mid_us(size_t i)
{
    if (i < SUB)
        return (double)i;
    int e = (int)(i / SUB) + 3;
    uint64_t width = 1ull << (e - 4);
    return (double)((SUB + i % SUB) * width) + (double)(width - 1) / 2.0;
}

static __thread struct {
    const cz_req_t *r;
    uint64_t start_ns, now_ns;
    bool mono;                /* now_ns is on the system clock (uv_hrtime's base) */
} last_leave;

uint64_t cz__mw_metrics_leave_ns(const cz_req_t *r)
{
    /* the request struct is reused on a keep-alive connection: its start time tells them apart */
    if (last_leave.r == r && last_leave.start_ns == r->start_ns)
        return last_leave.now_ns;
    return 0;
}

uint64_t cz__mw_metrics_leave_mono_ns(const cz_req_t *r)
{
    return last_leave.mono ? cz__mw_metrics_leave_ns(r) : 0;
}

static cz_mw_step_t stat_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)res;
    stat_ctx_t *sc = ctx;
    sc->start_ns = cz__mw_metrics_start(r, ((stat_state_t *)mw->data)->clock);
    sc->entered = true;
    return CZ_MW_NEXT;
}

static void stat_leave(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)res;
    stat_state_t *st = mw->data;
    uint64_t now = cz_clock_now_ns(st->clock);
    last_leave.r = r;
    last_leave.start_ns = r->start_ns;
    last_leave.now_ns = now;
    last_leave.mono = st->clock == cz_clock_system();
    uint64_t us = (now - ((stat_ctx_t *)ctx)->start_ns) / 1000;
    stat_worker_t *w = &st->w[cz__req_worker_id(r)];
    bump(&w->count, 1);
    bump(&w->sum_us, us);
    bump(&w->h[bucket_of(us)], 1);
}

static const cz_mw_ops_t stat_ops = {.name = "metrics",
                                     .ctx_size = sizeof(stat_ctx_t),
                                     .enter = stat_enter,
                                     .leave = stat_leave};

void cz__mw_metrics_drop(cz_req_t *r, cz_res_t *res)
{
    (void)res;
    const cz__route_t *rt = r->route;
    if (!rt)
        return;
    for (size_t i = 0; i < rt->nchain; i++) {
        if (rt->chain[i].ops != &stat_ops)
            continue;
        const stat_ctx_t *sc = cz_req_mw_ctx(r, "metrics");
        if (sc && !sc->entered) /* answered before the metrics link: a refusal */
            bump(&((stat_state_t *)rt->chain[i].data)->w[cz__req_worker_id(r)].drops, 1);
        return;
    }
}

/* ---- the flusher ---- */

/* The k-th largest sample (k >= 1) of the interval's histogram, in ms. */
static double kth_largest_ms(const uint64_t *h, uint64_t k)
{
    uint64_t seen = 0;
    for (size_t i = NBUCKETS; i-- > 0;) {
        seen += h[i];
        if (seen >= k)
            return bucket_mid_us(i) / 1000.0;
    }
    return 0;
}

static void flush(stat_state_t *st)
{
    uint64_t n = 0, drops = 0, sum_us = 0;
    memset(st->delta, 0, NBUCKETS * sizeof *st->delta);
    for (int i = 0; i < st->nworkers; i++) {
        stat_worker_t *w = &st->w[i], *p = &st->prev[i];
        uint64_t v;
        v = __atomic_load_n(&w->count, __ATOMIC_RELAXED);
        n += v - p->count;
        p->count = v;
        v = __atomic_load_n(&w->drops, __ATOMIC_RELAXED);
        drops += v - p->drops;
        p->drops = v;
        v = __atomic_load_n(&w->sum_us, __ATOMIC_RELAXED);
        sum_us += v - p->sum_us;
        p->sum_us = v;
        for (size_t b = 0; b < NBUCKETS; b++) {
            v = __atomic_load_n(&w->h[b], __ATOMIC_RELAXED);
            st->delta[b] += v - p->h[b];
            p->h[b] = v;
        }
    }
    uint64_t ld = cz_log_dropped(), log_drops = ld - st->log_dropped;
    st->log_dropped = ld;
    if (n == 0 && drops == 0 && log_drops == 0)
        return;
    /* the histogram was read apart from count: trust its own total for ranks */
    uint64_t size = 0;
    for (size_t b = 0; b < NBUCKETS; b++)
        size += st->delta[b];
    double avg = 0, med = 0, p90 = 0, p99 = 0, p999 = 0;
    if (size > 0) {
        double top = kth_largest_ms(st->delta, 1);
        avg = n ? (double)sum_us / 1000.0 / (double)n : 0;
        uint64_t half = size >> 1, ten = half / 5, one = ten / 10, pt = one / 10;
        med = half ? kth_largest_ms(st->delta, half) : top;
        p90 = ten ? kth_largest_ms(st->delta, ten) : top;
        p99 = one ? kth_largest_ms(st->delta, one) : top;
        p999 = pt ? kth_largest_ms(st->delta, pt) : top;
        if (!half)
            p90 = p99 = p999 = top;
        else if (!ten)
            p99 = p999 = top;
    }
    double secs = (double)st->interval_ms / 1000.0;
    char extra[64] = ""; /* go-zero's line stays as it is unless log lines were lost */
    if (log_drops)
        snprintf(extra, sizeof extra, ", log dropped: %llu", (unsigned long long)log_drops);
    cz_log_statf("(%s) - qps: %.1f/s, drops: %llu, avg time: %.1fms, med: %.1fms, "
                 "90th: %.1fms, 99th: %.1fms, 99.9th: %.1fms%s",
                 st->name, (double)n / secs, (unsigned long long)drops, avg, med, p90, p99, p999,
                 extra);
}

static void *flusher_main(void *arg)
{
    stat_state_t *st = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&st->mu);
    while (!st->stopping) {
        next.tv_sec += (time_t)(st->interval_ms / 1000);
        next.tv_nsec += (long)(st->interval_ms % 1000) * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!st->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&st->cv, &st->mu, &next);
        if (st->stopping)
            break;
        pthread_mutex_unlock(&st->mu);
        flush(st);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* ---- module ---- */

static void state_free(stat_state_t *st)
{
    if (!st)
        return;
    if (st->running) {
        pthread_mutex_lock(&st->mu);
        st->stopping = true;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->thread, NULL);
        flush(st); /* the last partial interval: go-zero flushes on shutdown too */
    }
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st->w);
    free(st->prev);
    free(st->delta);
    free(st);
}

static int stat_init(cz_server_t *s, void **state, cz_diag_t *d)
{
    const cz_rest_conf_t *c = cz__server_conf(s);
    stat_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return CZ_ENOMEM;
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    *state = st;
    st->nworkers = cz__server_nworkers(s);
    st->clock = cz__mw_metrics_clock();
    uint64_t iv = __atomic_load_n(&interval_override_ms, __ATOMIC_RELAXED);
    st->interval_ms = iv ? iv : DEFAULT_INTERVAL_MS;
    st->log_dropped = cz_log_dropped();
    if (c->name && *c->name)
        snprintf(st->name, sizeof st->name, "%s", c->name);
    else /* go-zero engine.createMetrics: fmt.Sprintf("%s:%d", Host, Port) */
        snprintf(st->name, sizeof st->name, "%s:%lld", c->host ? c->host : "",
                 (long long)c->port);
    size_t wsz = (size_t)st->nworkers * sizeof(stat_worker_t);
    st->w = aligned_alloc(64, wsz);
    st->prev = aligned_alloc(64, wsz);
    st->delta = calloc(NBUCKETS, sizeof *st->delta);
    if (!st->w || !st->prev || !st->delta)
        return CZ_ENOMEM;
    memset(st->w, 0, wsz);
    memset(st->prev, 0, wsz);
    if (pthread_create(&st->thread, NULL, flusher_main, st) != 0)
        return cz_diag_set(d, NULL, 0, 0, "Middlewares.Metrics", "cannot start the stat thread");
    st->running = true;
    return 0;
}

static int stat_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                      cz_diag_t *d)
{
    (void)s, (void)rt, (void)d;
    out->ops = &stat_ops;
    out->data = state;
    return 0;
}

static void stat_stop(cz_server_t *s, void *state)
{
    (void)s;
    stat_state_t *st = state;
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->stopping = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void stat_free(cz_server_t *s, void *state)
{
    (void)s;
    state_free(state);
}

const cz__mw_module_t cz__mw_metrics = {.name = "metrics",
                                        .init = stat_init,
                                        .route = stat_route,
                                        .stop = stat_stop,
                                        .free = stat_free};
