/* SPDX-License-Identifier: MIT
 *
 * bench_lb.c: cost of one balancer pick, for every policy, on the balancers' default clock.
 *
 * A pick is always followed by its done() (that is how the gateway uses a balancer, and P2C and
 * the bounded hash need done to keep their counts right), so the timed unit is pick + done,
 * `lb_<policy>_pick_done_ns`. Eight nodes of weights 1..8 ("10.0.0.i:8080"); chash picks
 * rotate over 1024 precomputed keys of ~12 bytes and runs with bounded load (eps 0.25); latencies
 * fed to done are a small fixed pattern. `lb_<policy>_done_ns` is done() alone on one node, and
 * `lb_<policy>_pick_ns` (pick alone) is the difference. The _2t_ns variants run two threads on the same
 * balancer at once (each pick + done), so cache-line contention shows.
 * Times are each thread's CPU time (CLOCK_THREAD_CPUTIME_ID) per operation, not wall time: the
 * machine is shared, and wall time would count the periods other processes held the core. For
 * two threads it is the mean of both threads' figures; they start together at a barrier, but on
 * a busy machine they may seldom run at the same instant, and then contention is under-counted.
 * `lb_clock_now_ns` is one read of cz_clock_system(): P2C reads the clock in pick and in done.
 * Balancers run on their default (coarse) clock, except `lb_p2c_sysclock_*`: P2C on
 * cz_clock_system(), as the gateway runs it (its latencies are often below a coarse tick).
 * Each figure is the best of ROUNDS rounds.
 * Prints one `name value` line per measure.
 * argv[1]: iterations per round (default 1M).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "czero/balancer.h"

#define ROUNDS 3
#define NKEYS 1024

static long iters = 1000000;
static pthread_barrier_t start_line; /* both threads start timing together */
static char keys[NKEYS][16];
static cz_str_t keyv[NKEYS];

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct {
    cz_lb_t *lb;
    int done_only;
    int threads;
    double ns; /* out: CPU ns per operation */
} job_t;

static void *run(void *arg)
{
    job_t *j = arg;
    if (j->threads > 1)
        pthread_barrier_wait(&start_line);
    uint64_t t0 = cpu_ns();
    for (long i = 0; i < iters; i++) {
        size_t idx = 0;
        if (!j->done_only && cz_lb_pick(j->lb, keyv[i & (NKEYS - 1)], NULL, &idx) != 0)
            abort();
        cz_lb_done(j->lb, idx, 0, 200000 + (uint64_t)(i & 15) * 10000);
    }
    j->ns = (double)(cpu_ns() - t0) / (double)iters;
    return NULL;
}

static const cz_clock_t *bench_clock; /* NULL: the balancer's default */

static cz_lb_t *mk(cz_lb_kind_t kind)
{
    cz_lb_opts_t o;
    cz_lb_opts_init(&o);
    o.clock = bench_clock;
    o.seed = 1;
    o.chash_bound_eps = kind == CZ_LB_CHASH ? 0.25 : 0;
    cz_lb_t *lb = cz_lb_new(kind, &o);
    for (int i = 0; lb && i < 8; i++) {
        char name[32];
        snprintf(name, sizeof(name), "10.0.0.%d:8080", i + 1);
        cz_lb_add(lb, name, (uint32_t)i + 1, NULL, NULL);
    }
    return lb;
}

static double measure(cz_lb_kind_t kind, int threads, int done_only)
{
    double best = 1e18;
    for (int r = 0; r < ROUNDS; r++) {
        cz_lb_t *lb = mk(kind);
        if (!lb)
            abort();
        pthread_t t[2];
        job_t j[2] = {{lb, done_only, threads, 0}, {lb, done_only, threads, 0}};
        double ns = 0;
        if (threads == 1) {
            run(&j[0]);
            ns = j[0].ns;
        } else {
            pthread_barrier_init(&start_line, NULL, (unsigned)threads);
            for (int i = 0; i < threads; i++)
                pthread_create(&t[i], NULL, run, &j[i]);
            for (int i = 0; i < threads; i++) {
                pthread_join(t[i], NULL);
                ns += j[i].ns / threads;
            }
            pthread_barrier_destroy(&start_line);
        }
        best = ns < best ? ns : best;
        cz_lb_free(lb);
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iters = atol(argv[1]);
    for (int i = 0; i < NKEYS; i++)
        keyv[i] = (cz_str_t){keys[i], (size_t)snprintf(keys[i], sizeof(keys[i]), "user:%d", i)};
    static const cz_lb_kind_t kinds[] = {CZ_LB_RR, CZ_LB_RANDOM, CZ_LB_SWRR, CZ_LB_CHASH,
                                         CZ_LB_P2C};
    size_t nk = sizeof(kinds) / sizeof(kinds[0]);
    const cz_clock_t *clk = cz_clock_system();
    uint64_t sink = 0, t0 = cpu_ns();
    for (long i = 0; i < iters; i++)
        sink += cz_clock_now_ns(clk);
    printf("lb_clock_now_ns %.1f\n", (double)(cpu_ns() - t0) / (double)iters + (double)(sink & 0));
    for (size_t k = 0; k < nk; k++) {
        double both = measure(kinds[k], 1, 0), done = measure(kinds[k], 1, 1);
        const char *n = cz_lb_kind_name(kinds[k]);
        printf("lb_%s_pick_done_ns %.1f\nlb_%s_done_ns %.1f\nlb_%s_pick_ns %.1f\n", n, both, n, done,
               n, both > done ? both - done : 0.0);
    }
    for (size_t k = 0; k < nk; k++)
        printf("lb_%s_pick_2t_ns %.1f\n", cz_lb_kind_name(kinds[k]), measure(kinds[k], 2, 0));
    bench_clock = clk;
    double both = measure(CZ_LB_P2C, 1, 0), done = measure(CZ_LB_P2C, 1, 1);
    printf("lb_p2c_sysclock_pick_done_ns %.1f\nlb_p2c_sysclock_done_ns %.1f\n"
           "lb_p2c_sysclock_pick_2t_ns %.1f\n",
           both, done, measure(CZ_LB_P2C, 2, 0));
    return 0;
}
