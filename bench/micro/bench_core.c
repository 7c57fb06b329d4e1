/* SPDX-License-Identifier: MIT
 *
 * bench_core.c: hot-path cost of the resilience core on the real system clock.
 *
 * breaker_allow_accept: cz_breaker_allow + cz_promise_accept on one healthy breaker.
 * shedder_allow: cz_shedder_allow + cz_shedder_promise_pass on one shedder whose CPU source is
 * the real sampler (below threshold, as in normal operation); a request must be settled or the
 * in-flight count grows without bound, so the pair is the unit.
 * The _2t variants run two threads on the same object at once and report each thread's time per
 * operation (wall time / operations per thread), which includes cache-line contention.
 * Prints one `name value` line per measurement and nothing else. argv[1]: iterations (default 2M).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "czero/breaker.h"
#include "czero/shedder.h"

static long iters = 2000000;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *run_breaker(void *arg)
{
    cz_breaker_t *b = arg;
    for (long i = 0; i < iters; i++) {
        cz_promise_t p;
        if (cz_breaker_allow(b, &p) == 0)
            cz_promise_accept(&p);
    }
    return NULL;
}

static void *run_shedder(void *arg)
{
    cz_shedder_t *s = arg;
    for (long i = 0; i < iters; i++) {
        cz_shedder_promise_t p;
        if (cz_shedder_allow(s, &p) == 0)
            cz_shedder_promise_pass(&p);
    }
    return NULL;
}

/* Best of three runs with `threads` threads; returns ns per operation per thread. */
static double measure(void *(*fn)(void *), void *obj, int threads)
{
    double best = 1e18;
    for (int round = 0; round < 3; round++) {
        pthread_t t[2];
        uint64_t t0 = now_ns();
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, fn, obj);
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        double ns = (double)(now_ns() - t0) / (double)iters;
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iters = atol(argv[1]);
    if (iters <= 0)
        return 2;
    cz_breaker_t *b;
    cz_shedder_t *s;
    if (cz_breaker_new(NULL, &b) || cz_shedder_new(NULL, &s))
        return 1;
    run_breaker(b); /* warm up caches and the thread's PRNG */
    printf("breaker_allow_accept_ns %.1f\n", measure(run_breaker, b, 1));
    printf("breaker_allow_accept_2t_ns %.1f\n", measure(run_breaker, b, 2));
    run_shedder(s);
    printf("shedder_allow_ns %.1f\n", measure(run_shedder, s, 1));
    printf("shedder_allow_2t_ns %.1f\n", measure(run_shedder, s, 2));
    cz_breaker_free(b);
    cz_shedder_free(s);
    return 0;
}
