/* SPDX-License-Identifier: MIT
 *
 * adaptive.c: the adaptive load shedder, go-zero core/load/adaptiveshedder.go in C.
 *
 * Constants come from adaptiveshedder.go: window 5 s of 50 buckets, CPU threshold 900 permille,
 * default min RT 1000 ms, flying EWMA beta 0.9, cool-off 1 s, overload factor lower bound 0.1.
 * go-zero keeps two rolling windows (passes, response times) that are always added to together,
 * so one window serves both here: a bucket's count is its pass count and its sum the response
 * times in ms. The pass/drop/total counters of go-zero's SheddingStat live in the shedder.
 * One departure: the in-flight average is sampled when a request arrives, not when one
 * settles (see sample_flying). Not here: the per-minute stat log and the drop log line (the
 * middleware owns logging), nor where the CPU reading comes from (the caller's opts.cpu).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "czero/shedder.h"
#include "czero/window.h"

#define DEFAULT_BUCKETS 50                 /* adaptiveshedder.go: defaultBuckets */
#define DEFAULT_WINDOW_NS (5 * CZ_NS_PER_SEC) /* defaultWindow = 5s */
#define DEFAULT_CPU_THRESHOLD 900          /* defaultCpuThreshold, 1000m notation */
#define DEFAULT_MIN_RT 1000.0              /* defaultMinRt = 1s in ms */
#define FLYING_BETA 0.9                    /* flyingBeta */
#define COOL_OFF_NS CZ_NS_PER_SEC          /* coolOffDuration = 1s */
#define CPU_MAX 1000                       /* cpuMax (millicpu) */
#define OVERLOAD_FACTOR_LOWER_BOUND 0.1    /* overloadFactorLowerBound */
#define TOP_CPU_USAGE 1000                 /* rest/engine.go: topCpuUsage */

struct cz_shedder {
    cz_window_t win; /* sum = response time (ms), count = passes; filling bucket ignored */
    const cz_clock_t *clock;
    int64_t (*cpu)(void *ud);
    void *cpu_ud;
    int64_t threshold;
    double factor_floor;    /* opts.overload_floor, or go-zero's 0.1 */
    double window_scale;    /* buckets per second / 1000 */
    int64_t flying;         /* atomic */
    uint64_t avg_flying;    /* atomic; bits of a double */
    uint64_t overload_time; /* atomic; 0 = never overloaded */
    int dropped_recently;   /* atomic bool */
    int64_t total, pass, drop; /* atomic */
    bool nop;
};

static struct cz_shedder nop_shedder = {.nop = true};

static int64_t default_cpu(void *ud)
{
    (void)ud;
    return cz_cpu_usage();
}

int cz_shedder_new(const cz_shedder_opts_t *o, cz_shedder_t **out)
{
    static const cz_shedder_opts_t defaults;
    if (!out)
        return CZ_EARG;
    *out = NULL;
    if (!o)
        o = &defaults;
    int buckets = o->buckets ? o->buckets : DEFAULT_BUCKETS;
    uint64_t window = o->window_ns ? o->window_ns : DEFAULT_WINDOW_NS;
    int64_t threshold = o->cpu_threshold ? o->cpu_threshold : DEFAULT_CPU_THRESHOLD;
    if (buckets < 1 || window < (uint64_t)buckets || threshold < 0 || threshold >= CPU_MAX)
        return CZ_EARG;
    cz_shedder_t *s = calloc(1, sizeof(*s));
    if (!s)
        return CZ_ENOMEM;
    s->clock = o->clock ? o->clock : cz_clock_system();
    s->cpu = o->cpu ? o->cpu : default_cpu;
    s->cpu_ud = o->cpu ? o->cpu_ud : NULL;
    s->threshold = threshold;
    s->factor_floor = o->overload_floor > 0 ? (o->overload_floor < 1 ? o->overload_floor : 1)
                                            : OVERLOAD_FACTOR_LOWER_BOUND;
    uint64_t bucket_ns = window / (uint64_t)buckets;
    s->window_scale = (double)CZ_NS_PER_SEC / (double)bucket_ns / 1000.0;
    int rc = cz_window_init(&s->win, buckets, bucket_ns, CZ_WINDOW_IGNORE_CURRENT, s->clock);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void cz_shedder_free(cz_shedder_t *s)
{
    if (!s || s->nop)
        return;
    cz_window_dispose(&s->win);
    free(s);
}

cz_shedder_t *cz_shedder_nop(void) { return &nop_shedder; }

int64_t cz_shedder_priority_threshold(int64_t threshold)
{
    return (threshold + TOP_CPU_USAGE) >> 1;
}

static double load_avg(cz_shedder_t *s)
{
    uint64_t bits = __atomic_load_n(&s->avg_flying, __ATOMIC_RELAXED);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* The in-flight count moves here; its average moves in sample_flying(), at each arrival. */
static void add_flying(cz_shedder_t *s, int64_t delta)
{
    __atomic_add_fetch(&s->flying, delta, __ATOMIC_RELAXED);
}

/* The EWMA of the in-flight count as each arrival sees it. go-zero samples when a request
 * finishes, which in Go (one goroutine per request, finishing one by one) tracks the load; on an
 * event loop finished requests settle in batches (every timer or upstream answer due in one loop
 * turn), so a settle-time sample walks down each batch to 0 and the average sits near
 * beta / (1 - beta) = 9 whatever the load: the shedder then never drops, or, with the limit
 * scaled below 9, drops nearly everything. Arrivals see the time average (PASTA), batches or
 * not. */
static void sample_flying(cz_shedder_t *s)
{
    int64_t flying = __atomic_load_n(&s->flying, __ATOMIC_RELAXED);
    uint64_t old = __atomic_load_n(&s->avg_flying, __ATOMIC_RELAXED), nbits;
    do {
        double d;
        memcpy(&d, &old, sizeof(d));
        d = d * FLYING_BETA + (double)flying * (1 - FLYING_BETA);
        memcpy(&nbits, &d, sizeof(d));
    } while (!__atomic_compare_exchange_n(&s->avg_flying, &old, nbits, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
}

typedef struct window_view {
    int64_t max_pass;
    double min_rt;
} window_view_t;

static void view_bucket(const cz_window_bucket_t *b, void *arg)
{
    window_view_t *v = arg;
    if (b->f[CZ_WINDOW_COUNT] > v->max_pass)
        v->max_pass = b->f[CZ_WINDOW_COUNT];
    if (b->f[CZ_WINDOW_COUNT] <= 0)
        return;
    double avg = round((double)b->f[CZ_WINDOW_SUM] / (double)b->f[CZ_WINDOW_COUNT]);
    if (avg < v->min_rt)
        v->min_rt = avg;
}

static double max_flight(cz_shedder_t *s, window_view_t *v)
{
    v->max_pass = 1;
    v->min_rt = DEFAULT_MIN_RT;
    cz_window_reduce(&s->win, view_bucket, v);
    double mf = (double)v->max_pass * v->min_rt * s->window_scale;
    return mf < 1 ? 1 : mf;
}

static double overload_factor(const cz_shedder_t *s, int64_t cpu)
{
    double f = (double)(CPU_MAX - cpu) / (double)(CPU_MAX - s->threshold);
    return f < s->factor_floor ? s->factor_floor : f > 1 ? 1 : f;
}

static bool high_thru(cz_shedder_t *s, int64_t cpu)
{
    window_view_t v;
    double limit = max_flight(s, &v) * overload_factor(s, cpu);
    return load_avg(s) > limit && (double)__atomic_load_n(&s->flying, __ATOMIC_RELAXED) > limit;
}

static bool still_hot(cz_shedder_t *s, uint64_t now)
{
    if (!__atomic_load_n(&s->dropped_recently, __ATOMIC_RELAXED))
        return false;
    uint64_t ot = __atomic_load_n(&s->overload_time, __ATOMIC_RELAXED);
    if (ot == 0)
        return false;
    if (now - ot < COOL_OFF_NS)
        return true;
    __atomic_store_n(&s->dropped_recently, 0, __ATOMIC_RELAXED);
    return false;
}

static bool should_drop(cz_shedder_t *s, uint64_t now)
{
    int64_t cpu = s->cpu(s->cpu_ud);
    bool overloaded = cpu >= s->threshold;
    if (overloaded)
        __atomic_store_n(&s->overload_time, now ? now : 1, __ATOMIC_RELAXED);
    return (overloaded || still_hot(s, now)) && high_thru(s, cpu);
}

int cz_shedder_allow(cz_shedder_t *s, cz_shedder_promise_t *p)
{
    if (__builtin_expect(!s || !p, 0))
        return CZ_EARG;
    p->_s = NULL;
    if (s->nop)
        return 0;
    __atomic_add_fetch(&s->total, 1, __ATOMIC_RELAXED);
    sample_flying(s);
    uint64_t now = cz_clock_now_ns(s->clock);
    if (should_drop(s, now)) {
        __atomic_store_n(&s->dropped_recently, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&s->drop, 1, __ATOMIC_RELAXED);
        return CZ_EOVERLOAD;
    }
    add_flying(s, 1);
    p->_s = s;
    p->_start = now;
    return 0;
}

void cz_shedder_promise_pass(cz_shedder_promise_t *p)
{
    cz_shedder_t *s = p ? p->_s : NULL;
    if (!s)
        return;
    p->_s = NULL;
    uint64_t now = cz_clock_now_ns(s->clock);
    /* go-zero rounds the response time up to whole milliseconds. */
    int64_t rt_ms = (int64_t)((now - p->_start + CZ_NS_PER_MS - 1) / CZ_NS_PER_MS);
    add_flying(s, -1);
    const int64_t d[CZ_WINDOW_FIELDS] = {rt_ms, 1, 0, 0};
    cz_window_add_fields_at(&s->win, now, d);
    __atomic_add_fetch(&s->pass, 1, __ATOMIC_RELAXED);
}

void cz_shedder_promise_fail(cz_shedder_promise_t *p)
{
    cz_shedder_t *s = p ? p->_s : NULL;
    if (!s)
        return;
    p->_s = NULL;
    add_flying(s, -1);
}

void cz_shedder_stat(cz_shedder_t *s, cz_shedder_stat_t *out, int reset)
{
    memset(out, 0, sizeof(*out));
    if (s->nop)
        return;
    if (reset) {
        out->total = __atomic_exchange_n(&s->total, 0, __ATOMIC_RELAXED);
        out->pass = __atomic_exchange_n(&s->pass, 0, __ATOMIC_RELAXED);
        out->drop = __atomic_exchange_n(&s->drop, 0, __ATOMIC_RELAXED);
    } else {
        out->total = __atomic_load_n(&s->total, __ATOMIC_RELAXED);
        out->pass = __atomic_load_n(&s->pass, __ATOMIC_RELAXED);
        out->drop = __atomic_load_n(&s->drop, __ATOMIC_RELAXED);
    }
}

void cz_shedder_info(cz_shedder_t *s, cz_shedder_info_t *out)
{
    memset(out, 0, sizeof(*out));
    if (s->nop)
        return;
    window_view_t v;
    out->cpu = s->cpu(s->cpu_ud);
    out->flying = __atomic_load_n(&s->flying, __ATOMIC_RELAXED);
    out->avg_flying = load_avg(s);
    out->max_flight = max_flight(s, &v);
    out->max_pass = v.max_pass;
    out->min_rt_ms = v.min_rt;
    out->overload_factor = overload_factor(s, out->cpu);
    uint64_t ot = __atomic_load_n(&s->overload_time, __ATOMIC_RELAXED);
    out->hot = __atomic_load_n(&s->dropped_recently, __ATOMIC_RELAXED) && ot &&
               cz_clock_now_ns(s->clock) - ot < COOL_OFF_NS;
}
