/* SPDX-License-Identifier: MIT
 *
 * bench_limit.c: cost of a rate-limit decision. Prints "name value" lines for bench/run.sh:
 *   limit_period_local_ns, limit_token_local_ns, limit_leaky_local_ns
 *       ns per cz_limiter_allow() on the in-process store, one thread, 1024 keys in rotation
 *       (best of several rounds, the least disturbed by other load);
 *   redis_period_decisions_per_s, redis_token_decisions_per_s, redis_leaky_decisions_per_s
 *       decisions per second through Redis on ONE connection with WINDOW takes in flight
 *       (pipelined by the async client), against a redis-server this program starts on a
 *       loopback port; printed only when redis-server is installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "czero/limiter.h"
#include "redis_server.h"

#define ITER 1000000
#define ROUNDS 5
#define NKEYS 1024
#define WINDOW 512
#define REDIS_MS 1000

static char keys[NKEYS][16];
static cz_str_t keyv[NKEYS];

static uint64_t now_ns(void) { return cz_clock_now_ns(cz_clock_system()); }

static cz_limiter_conf_t conf(cz_limit_kind_t kind, cz_limit_store_t store, int port)
{
    /* Quotas large enough that the benchmark measures admitted and refused decisions alike. */
    return (cz_limiter_conf_t){.kind = kind, .store = store, .period_ms = 1000, .quota = 1000,
                               .rate = 1000, .burst = 100, .key_prefix = "bench:",
                               .redis = {.port = port, .command_timeout_ms = 1000}};
}

static void bench_local(const char *name, cz_limit_kind_t kind)
{
    cz_limiter_conf_t c = conf(kind, CZ_LIMIT_LOCAL, 0);
    cz_limiter_t *l;
    if (cz_limiter_new(&c, &l) < 0)
        return;
    double best = 1e18;
    volatile int sink = 0;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < ITER; i++)
            sink += cz_limiter_allow(l, keyv[i & (NKEYS - 1)], 1);
        double ns = (double)(now_ns() - t0) / ITER;
        if (ns < best)
            best = ns;
    }
    printf("%s %.1f\n", name, best);
    fflush(stdout);
    cz_limiter_free(l);
}

typedef struct {
    uv_loop_t *loop;
    cz_limiter_t *l;
    uint64_t deadline, issued, decided, errors;
    int in_flight;
} run_t;

static void issue(run_t *r);

static void on_decision(void *ud, int result, int err)
{
    run_t *r = ud;
    r->in_flight--;
    r->decided++;
    r->errors += err != 0;
    if (uv_now(r->loop) < r->deadline)
        issue(r);
}

static void issue(run_t *r)
{
    r->in_flight++;
    r->issued++;
    if (cz_limiter_take(r->l, r->loop, keyv[r->issued & (NKEYS - 1)], 1, on_decision, r) < 0)
        r->in_flight--;
}

static void bench_redis(const char *name, cz_limit_kind_t kind, int port)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cz_limiter_conf_t c = conf(kind, CZ_LIMIT_REDIS, port);
    run_t r = {.loop = &loop};
    if (cz_limiter_new(&c, &r.l) < 0)
        return;
    /* Warm up: connect and load the script (deadline 0: no re-issue). */
    issue(&r);
    while (r.in_flight)
        uv_run(&loop, UV_RUN_ONCE);
    uv_update_time(&loop);
    r.decided = r.errors = 0;
    uint64_t t0 = now_ns();
    r.deadline = uv_now(&loop) + REDIS_MS;
    for (int i = 0; i < WINDOW; i++)
        issue(&r);
    while (r.in_flight)
        uv_run(&loop, UV_RUN_ONCE);
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("%s %.0f\n", name, (double)r.decided / secs);
    if (r.errors)
        printf("%s_errors %llu\n", name, (unsigned long long)r.errors);
    cz_limiter_detach_loop(r.l, &loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    cz_limiter_free(r.l);
    uv_loop_close(&loop);
}

int main(void)
{
    for (int i = 0; i < NKEYS; i++) {
        int n = snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        keyv[i] = (cz_str_t){keys[i], (size_t)n};
    }
    bench_local("limit_period_local_ns", CZ_LIMIT_PERIOD);
    bench_local("limit_token_local_ns", CZ_LIMIT_TOKEN);
    bench_local("limit_leaky_local_ns", CZ_LIMIT_LEAKY);

    cz_test_redis_t srv;
    if (cz_test_redis_start(&srv) < 0) {
        fprintf(stderr, "bench_limit: redis-server not available, Redis figures skipped\n");
        return 0;
    }
    bench_redis("redis_period_decisions_per_s", CZ_LIMIT_PERIOD, srv.port);
    bench_redis("redis_token_decisions_per_s", CZ_LIMIT_TOKEN, srv.port);
    bench_redis("redis_leaky_decisions_per_s", CZ_LIMIT_LEAKY, srv.port);
    cz_test_redis_stop(&srv);
    return 0;
}
