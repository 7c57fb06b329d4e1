/* SPDX-License-Identifier: MIT
 *
 * breaker.c: Google SRE adaptive throttling as go-zero's current googleBreaker.
 *
 * Reference: go-zero core/breaker/googlebreaker.go (window 10 s / 40 buckets, K 1.5, minK 1.1,
 * protection 5, forcePassDuration 1 s) and breaker.go (the five-entry error window reported when
 * the breaker drops); the formula is https://sre.google/sre-book/handling-overload/#eq2101.
 * The window buckets hold {total, success, failure, drop} (go-zero bucket.go).
 *
 * The hot path is one window lock to read the running totals: when even the smallest weight
 * (minK) leaves the drop ratio <= 0 the request passes without scanning buckets; only a breaker
 * that is actually failing pays for the 40-bucket history scan go-zero does on every call.
 * Not here: logging/reporting of drops (the middleware does that with cz_breaker_last_errors).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "czero/breaker.h"
#include "czero/window.h"
#include "internal.h"

#define DEFAULT_WINDOW_NS (10 * CZ_NS_PER_SEC) /* googlebreaker.go: window = 10s */
#define DEFAULT_BUCKETS 40                     /* googlebreaker.go: buckets = 40 (250 ms each) */
#define FORCE_PASS_NS CZ_NS_PER_SEC            /* googlebreaker.go: forcePassDuration = 1s */
#define K 1.5                                  /* googlebreaker.go: k = 1.5 */
#define MIN_K 1.1                              /* googlebreaker.go: minK = 1.1 */
#define PROTECTION 5                           /* googlebreaker.go: protection = 5 */
#define NUM_REASONS 5                          /* breaker.go: numHistoryReasons = 5 */
#define REASON_MAX 120

enum { F_TOTAL = 0, F_SUCCESS = 1, F_FAILURE = 2, F_DROP = 3 }; /* bucket.go Sum/Success/... */

struct cz_breaker {
    cz_window_t win;
    const cz_clock_t *clock;
    double (*rand)(void *ud);
    void *rand_ud;
    uint64_t last_pass; /* atomic; 0 = no pass recorded yet (go-zero lastPass == 0) */
    int buckets;
    bool nop;
    pthread_mutex_t err_lock; /* go-zero errorWindow */
    int err_index, err_count;
    uint64_t err_when[NUM_REASONS]; /* wall-clock ns, formatted only when read */
    char err_reason[NUM_REASONS][REASON_MAX];
    char name[];
};

static struct cz_breaker nop_breaker = {.nop = true};

/* Per-thread xorshift64* (Vigna): cheap, lock-free and good enough for a drop coin flip. */
static __thread uint64_t rng_state;

static double thread_rand(void *ud)
{
    (void)ud;
    uint64_t x = rng_state;
    if (cz__unlikely(x == 0)) {
        /* splitmix64 of time and a per-thread address gives each thread its own stream. */
        x = cz_wallclock_ns() ^ (uint64_t)(uintptr_t)&rng_state;
        x += 0x9E3779B97F4A7C15ull;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
        x ^= x >> 31;
        x |= 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

int cz_breaker_new(const cz_breaker_opts_t *o, cz_breaker_t **out)
{
    static const cz_breaker_opts_t defaults;
    char rname[32];
    if (!out)
        return CZ_EARG;
    *out = NULL;
    if (!o)
        o = &defaults;
    if (o->buckets < 0)
        return CZ_EARG;
    const char *name = o->name;
    if (!name || !*name) {
        snprintf(rname, sizeof(rname), "breaker-%016llx",
                 (unsigned long long)(thread_rand(NULL) * 0x1.0p53));
        name = rname;
    }
    size_t n = strlen(name);
    cz_breaker_t *b = calloc(1, sizeof(*b) + n + 1);
    if (!b)
        return CZ_ENOMEM;
    memcpy(b->name, name, n + 1);
    b->clock = o->clock ? o->clock : cz_clock_coarse(); /* 250 ms buckets: coarse is enough */
    b->rand = o->rand ? o->rand : thread_rand;
    b->rand_ud = o->rand ? o->rand_ud : NULL;
    b->buckets = o->buckets ? o->buckets : DEFAULT_BUCKETS;
    uint64_t window = o->window_ns ? o->window_ns : DEFAULT_WINDOW_NS;
    int rc = cz_window_init(&b->win, b->buckets, window / (uint64_t)b->buckets, 0, b->clock);
    if (rc) {
        free(b);
        return rc;
    }
    pthread_mutex_init(&b->err_lock, NULL);
    *out = b;
    return 0;
}

void cz_breaker_free(cz_breaker_t *b)
{
    if (!b || b->nop)
        return;
    cz_window_dispose(&b->win);
    pthread_mutex_destroy(&b->err_lock);
    free(b);
}

cz_breaker_t *cz_breaker_nop(void) { return &nop_breaker; }

const char *cz_breaker_name(const cz_breaker_t *b) { return b->nop ? "nopBreaker" : b->name; }

typedef struct history {
    int64_t accepts, total, failing, working;
} history_t;

/* googlebreaker.go history(): buckets come oldest first, so the trailing runs are the latest. */
static void scan_bucket(const cz_window_bucket_t *bk, void *arg)
{
    history_t *h = arg;
    h->accepts += bk->f[F_SUCCESS];
    h->total += bk->f[F_TOTAL];
    if (bk->f[F_FAILURE] > 0)
        h->working = 0;
    else if (bk->f[F_SUCCESS] > 0)
        h->working++;
    if (bk->f[F_SUCCESS] > 0)
        h->failing = 0;
    else if (bk->f[F_FAILURE] > 0)
        h->failing++;
}

/* The SRE ratio before the working-bucket scaling; > 0 means "consider dropping". */
static double base_ratio(const cz_breaker_t *b, const history_t *h)
{
    double w = K - (K - MIN_K) * (double)h->failing / b->buckets;
    if (w < MIN_K)
        w = MIN_K;
    return ((double)(h->total - PROTECTION) - w * (double)h->accepts) / (double)(h->total + 1);
}

static void mark(cz_breaker_t *b, int field)
{
    int64_t d[CZ_WINDOW_FIELDS] = {1, 0, 0, 0};
    d[field] = 1; /* field != F_TOTAL */
    cz_window_add_fields(&b->win, d);
}

/* googlebreaker.go accept(): 0 to pass, CZ_EBREAKER to drop. */
static int decide(cz_breaker_t *b)
{
    cz_window_bucket_t t;
    cz_window_totals(&b->win, &t);
    /* w >= MIN_K, so a ratio <= 0 with MIN_K is <= 0 for every weight: skip the scan. */
    if ((double)(t.f[F_TOTAL] - PROTECTION) - MIN_K * (double)t.f[F_SUCCESS] <= 0)
        return 0;

    history_t h = {0};
    cz_window_reduce(&b->win, scan_bucket, &h);
    double ratio = base_ratio(b, &h);
    if (ratio <= 0)
        return 0;

    uint64_t now = cz_clock_now_ns(b->clock);
    uint64_t last = __atomic_load_n(&b->last_pass, __ATOMIC_RELAXED);
    if (last > 0 && now - last > FORCE_PASS_NS) {
        __atomic_store_n(&b->last_pass, now ? now : 1, __ATOMIC_RELAXED);
        return 0;
    }
    ratio *= (double)(b->buckets - h.working) / b->buckets;
    if (b->rand(b->rand_ud) < ratio)
        return CZ_EBREAKER;
    __atomic_store_n(&b->last_pass, now ? now : 1, __ATOMIC_RELAXED);
    return 0;
}

int cz_breaker_allow(cz_breaker_t *b, cz_promise_t *p)
{
    if (cz__unlikely(!b || !p))
        return CZ_EARG;
    p->_b = NULL;
    if (b->nop)
        return 0;
    if (decide(b)) {
        mark(b, F_DROP);
        return CZ_EBREAKER;
    }
    p->_b = b;
    return 0;
}

void cz_promise_accept(cz_promise_t *p)
{
    cz_breaker_t *b = p ? p->_b : NULL;
    if (!b)
        return;
    p->_b = NULL;
    mark(b, F_SUCCESS);
}

void cz_promise_ignore(cz_promise_t *p)
{
    if (p)
        p->_b = NULL;
}

static void add_reason(cz_breaker_t *b, const char *reason)
{
    uint64_t when = cz_wallclock_ns();
    pthread_mutex_lock(&b->err_lock);
    snprintf(b->err_reason[b->err_index], REASON_MAX, "%s", reason);
    b->err_when[b->err_index] = when;
    b->err_index = (b->err_index + 1) % NUM_REASONS;
    if (b->err_count < NUM_REASONS)
        b->err_count++;
    pthread_mutex_unlock(&b->err_lock);
}

void cz_promise_reject(cz_promise_t *p, const char *reason)
{
    cz_breaker_t *b = p ? p->_b : NULL;
    if (!b)
        return;
    p->_b = NULL;
    if (reason)
        add_reason(b, reason);
    mark(b, F_FAILURE);
}

int cz_breaker_last_errors(cz_breaker_t *b, char *buf, size_t size)
{
    if (size == 0)
        return 0;
    buf[0] = '\0';
    if (b->nop)
        return 0;
    size_t used = 0;
    int n = 0;
    pthread_mutex_lock(&b->err_lock);
    for (int i = 0; i < b->err_count; i++) {
        int k = (b->err_index - 1 - i + NUM_REASONS) % NUM_REASONS;
        time_t sec = (time_t)(b->err_when[k] / CZ_NS_PER_SEC);
        struct tm tm;
        localtime_r(&sec, &tm);
        int w = snprintf(buf + used, size - used, "%s%02d:%02d:%02d %s", i ? "\n" : "",
                         tm.tm_hour, tm.tm_min, tm.tm_sec, b->err_reason[k]);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
        n++;
    }
    pthread_mutex_unlock(&b->err_lock);
    return n;
}

static bool default_acceptable(int err, void *arg)
{
    (void)arg;
    return err == 0;
}

int cz_breaker_do_with_fallback_acceptable(cz_breaker_t *b, cz_breaker_req_fn req, void *arg,
                                           cz_breaker_fallback_fn fallback,
                                           cz_breaker_acceptable_fn acceptable)
{
    cz_promise_t p;
    if (!b || !req)
        return CZ_EARG;
    if (cz_breaker_allow(b, &p))
        return fallback ? fallback(CZ_EBREAKER, arg) : CZ_EBREAKER;
    int err = req(arg);
    if ((acceptable ? acceptable : default_acceptable)(err, arg))
        cz_promise_accept(&p);
    else
        cz_promise_reject(&p, err ? cz_strerror(err) : NULL);
    return err;
}

int cz_breaker_do(cz_breaker_t *b, cz_breaker_req_fn req, void *arg)
{
    return cz_breaker_do_with_fallback_acceptable(b, req, arg, NULL, NULL);
}

int cz_breaker_do_with_acceptable(cz_breaker_t *b, cz_breaker_req_fn req, void *arg,
                                  cz_breaker_acceptable_fn acceptable)
{
    return cz_breaker_do_with_fallback_acceptable(b, req, arg, NULL, acceptable);
}

int cz_breaker_do_with_fallback(cz_breaker_t *b, cz_breaker_req_fn req, void *arg,
                                cz_breaker_fallback_fn fallback)
{
    return cz_breaker_do_with_fallback_acceptable(b, req, arg, fallback, NULL);
}

void cz_breaker_stat(cz_breaker_t *b, cz_breaker_stat_t *st)
{
    memset(st, 0, sizeof(*st));
    if (b->nop)
        return;
    cz_window_bucket_t t;
    cz_window_totals(&b->win, &t);
    st->total = t.f[F_TOTAL];
    st->accepts = t.f[F_SUCCESS];
    st->failures = t.f[F_FAILURE];
    st->drops = t.f[F_DROP];
    history_t h = {0};
    cz_window_reduce(&b->win, scan_bucket, &h);
    double r = base_ratio(b, &h);
    if (r > 0)
        st->drop_ratio = r * (double)(b->buckets - h.working) / b->buckets;
}
