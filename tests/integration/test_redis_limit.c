/* SPDX-License-Identifier: MIT
 *
 * Integration tests for the Redis store of the limiters (src/core/limit/) against a real
 * redis-server: the Lua scripts give the same decisions as the in-process store at exact window
 * edges (wall time is injected, so the scripts see the same instants), keys expire, several
 * loops share one quota through their own connections, a killed or frozen Redis costs at most
 * one command timeout, the token limiter falls back to its in-process bucket and returns to
 * Redis after a restart, and period/leaky fail open or closed as configured.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "czero/limiter.h"
#include "czero/log.h"
#include "czero/metrics.h"
#include "loop_run.h"
#include "redis_server.h"

#define MS CZ_NS_PER_MS

static cz_test_redis_t srv;
static uv_loop_t loop;
static cz_clock_manual_t mono, wall;

static void setup(void)
{
    if (!cz_test_redis_available())
        cr_skip_test("redis-server not installed");
    cr_assert_eq(cz_test_redis_start(&srv), 0, "redis-server did not start");
    uv_loop_init(&loop);
    cz_clock_manual_init(&mono, 1000 * CZ_NS_PER_SEC);
    cz_clock_manual_init(&wall, 1700000000000ull * MS);
}

static void close_any(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void teardown(void)
{
    if (srv.pid)
        cz_test_redis_kill(&srv);
    for (int i = 0; i < 10; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    int alive = uv_loop_alive(&loop);
    uv_walk(&loop, close_any, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    cr_assert_eq(alive, 0, "handles left open");
}

TestSuite(redis_limit, .init = setup, .fini = teardown);

/* Command timeout for the limiters mk() builds: generous, except where a test measures it. */
static uint64_t timeout_ms = 1000;

static cz_limiter_t *mk(cz_limit_kind_t kind, cz_limit_store_t store, uint64_t rate,
                        uint64_t burst, int fail_closed)
{
    cz_limiter_conf_t c = {.kind = kind, .store = store, .key_prefix = "t:", .period_ms = 60000,
                           .quota = burst, .rate = rate, .burst = burst,
                           .fail_closed = fail_closed, .clock = &mono.clock,
                           .wallclock = &wall.clock,
                           .redis = {.port = srv.port, .command_timeout_ms = timeout_ms,
                                     .backoff_min_ms = 20, .backoff_max_ms = 100}};
    cz_limiter_t *l = NULL;
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    return l;
}

typedef struct {
    int done, result, err;
    uint64_t at;
} got_t;

static void on_decision(void *ud, int result, int err)
{
    got_t *g = ud;
    g->done++;
    g->result = result;
    g->err = err;
    g->at = uv_now(&loop);
}

/* One decision through the loop; *sync tells whether it was made before take returned. */
static got_t take(cz_limiter_t *l, const char *key, uint64_t n, int *sync)
{
    got_t g = {0};
    cr_assert_eq(cz_limiter_take(l, &loop, cz_str_c(key), n, on_decision, &g), 0);
    if (sync)
        *sync = g.done;
    cr_assert(cz_test_run_until(&loop, &g.done, 3000), "no decision");
    cr_assert_eq(g.done, 1);
    return g;
}

/* Make sure the loop's connection is up and the script loaded before a test relies on a Redis
 * decision: on a loaded machine the very first command (connect + SCRIPT LOAD) may exceed the
 * 100 ms timeout the failure tests use. */
static void warm(cz_limiter_t *l)
{
    for (int i = 0; i < 100; i++) {
        int sync;
        got_t g = take(l, "warm-up", 1, &sync);
        if (!sync && g.err == 0)
            return;
        int never = 0;
        cz_test_run_until(&loop, &never, 50);
    }
    cr_assert_fail("Redis never answered within the timeout");
}

static void advance_ms(uint64_t ms)
{
    cz_clock_manual_advance(&mono, ms * MS);
    cz_clock_manual_advance(&wall, ms * MS);
}

Test(redis_limit, period_counts_and_expires_its_key)
{
    cz_limiter_t *l = mk(CZ_LIMIT_PERIOD, CZ_LIMIT_REDIS, 1, 3, 0);
    warm(l);
    int want[] = {CZ_LIMIT_ALLOWED, CZ_LIMIT_ALLOWED, CZ_LIMIT_HIT_QUOTA, CZ_LIMIT_OVER_QUOTA};
    for (int i = 0; i < 4; i++) {
        got_t g = take(l, "p", 1, NULL);
        cr_assert_eq(g.err, 0, "%s", cz_strerror(g.err));
        cr_assert_eq(g.result, want[i], "take %d: %s", i, cz_limit_result_name(g.result));
    }
    cr_assert_eq(cz_test_redis_int(&srv, "GET t:p"), 4); /* go-zero key: prefix + key */
    long long ttl = cz_test_redis_int(&srv, "PTTL t:p");
    cr_assert(ttl > 59000 && ttl <= 60000, "pttl %lld", ttl);
    cz_limiter_free(l);
}

Test(redis_limit, aligned_period_expires_at_the_boundary)
{
    /* 1699999980 s is a whole minute since the epoch: 250 ms are left in this minute. */
    cz_clock_manual_set(&wall, 1699999980000ull * MS + 59750 * MS);
    cz_limiter_t *l;
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_PERIOD, .store = CZ_LIMIT_REDIS, .period_ms = 60000,
                           .quota = 2, .align = 1, .wallclock = &wall.clock,
                           .redis = {.port = srv.port, .command_timeout_ms = 2000}};
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    got_t g = take(l, "a", 1, NULL);
    cr_assert_eq(g.result, CZ_LIMIT_ALLOWED);
    long long ttl = cz_test_redis_int(&srv, "PTTL a");
    cr_assert(ttl > 0 && ttl <= 250, "pttl %lld", ttl);
    cz_limiter_free(l);
}

/* Drive a local and a Redis limiter of the same kind through one pseudo-random sequence of
 * takes and whole-millisecond steps: every decision must agree, edges included. */
static void same_as_local(cz_limit_kind_t kind)
{
    cz_limiter_t *loc = mk(kind, CZ_LIMIT_LOCAL, 7, 5, 0);
    cz_limiter_t *red = mk(kind, CZ_LIMIT_REDIS, 7, 5, 0);
    warm(red);
    unsigned seed = 12345;
    int admitted = 0, refused = 0;
    for (int i = 0; i < 400; i++) {
        uint64_t n = 1 + rand_r(&seed) % 3;
        got_t g = take(red, "eq", n, NULL);
        int want = cz_limiter_allow(loc, CZ_STR("eq"), n);
        cr_assert_eq(g.err, 0);
        cr_assert_eq(g.result, want, "step %d (n=%llu): redis %s, local %s", i,
                     (unsigned long long)n, cz_limit_result_name(g.result),
                     cz_limit_result_name(want));
        admitted += want != CZ_LIMIT_OVER_QUOTA;
        refused += want == CZ_LIMIT_OVER_QUOTA;
        /* 1/7 s is 142.857 ms: steps straddle the instants where a unit becomes whole */
        advance_ms(rand_r(&seed) % 4 == 0 ? 142 + rand_r(&seed) % 3 : rand_r(&seed) % 60);
    }
    cr_assert(admitted > 50 && refused > 50, "sequence must exercise both sides");
    cz_limiter_free(loc);
    cz_limiter_free(red);
}

Test(redis_limit, token_script_decides_exactly_as_local_bucket) { same_as_local(CZ_LIMIT_TOKEN); }
Test(redis_limit, leaky_script_decides_exactly_as_local_bucket) { same_as_local(CZ_LIMIT_LEAKY); }

Test(redis_limit, bucket_edges_through_redis)
{
    cz_limiter_t *l = mk(CZ_LIMIT_TOKEN, CZ_LIMIT_REDIS, 2, 3, 0);
    warm(l);
    cr_assert_eq(take(l, "e", 3, NULL).result, CZ_LIMIT_HIT_QUOTA);
    advance_ms(499);
    cr_assert_eq(take(l, "e", 1, NULL).result, CZ_LIMIT_OVER_QUOTA);
    advance_ms(1);
    cr_assert_eq(take(l, "e", 1, NULL).result, CZ_LIMIT_HIT_QUOTA);
    /* one key with go-zero's cluster hash tag, and a TTL of twice the fill time */
    cr_assert_eq(cz_test_redis_int(&srv, "EXISTS {t:e}.bucket"), 1);
    long long ttl = cz_test_redis_int(&srv, "PTTL {t:e}.bucket");
    cr_assert(ttl > 0 && ttl <= 3000, "pttl %lld", ttl);
    cz_limiter_free(l);

    l = mk(CZ_LIMIT_LEAKY, CZ_LIMIT_REDIS, 2, 3, 0);
    warm(l);
    cr_assert_eq(take(l, "e", 3, NULL).result, CZ_LIMIT_HIT_QUOTA);
    advance_ms(499);
    cr_assert_eq(take(l, "e", 1, NULL).result, CZ_LIMIT_OVER_QUOTA);
    advance_ms(1);
    cr_assert_eq(take(l, "e", 1, NULL).result, CZ_LIMIT_HIT_QUOTA);
    ttl = cz_test_redis_int(&srv, "PTTL {t:e}.leaky"); /* until empty: 1.5 s */
    cr_assert(ttl > 0 && ttl <= 1501, "pttl %lld", ttl);
    cz_limiter_free(l);
}

Test(redis_limit, loops_have_their_own_connections_and_share_the_quota)
{
    uv_loop_t loop2;
    uv_loop_init(&loop2);
    cz_limiter_t *l = mk(CZ_LIMIT_PERIOD, CZ_LIMIT_REDIS, 1, 2, 0);
    warm(l);
    got_t a = take(l, "s", 1, NULL);
    got_t b = {0};
    cr_assert_eq(cz_limiter_take(l, &loop2, CZ_STR("s"), 1, on_decision, &b), 0);
    cr_assert(cz_test_run_until(&loop2, &b.done, 3000));
    cr_assert_eq(a.result, CZ_LIMIT_ALLOWED);
    cr_assert_eq(b.result, CZ_LIMIT_HIT_QUOTA); /* the second unit of one shared quota */
    cr_assert_not_null(cz_limiter_redis(l, &loop2));
    cr_assert_neq(cz_limiter_redis(l, &loop), cz_limiter_redis(l, &loop2));
    cz_limiter_detach_loop(l, &loop2);
    cr_assert_null(cz_limiter_redis(l, &loop2));
    uv_run(&loop2, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop2), 0);
    cz_limiter_free(l);
}

Test(redis_limit, token_falls_back_when_redis_is_killed_and_returns_after_restart)
{
    timeout_ms = 100;
    cz_limiter_t *l = mk(CZ_LIMIT_TOKEN, CZ_LIMIT_REDIS, 1, 3, 0);
    warm(l);
    int sync;
    got_t g = take(l, "k", 1, &sync);
    cr_assert_eq(g.err, 0);
    cr_assert_eq(sync, 0, "through Redis the decision comes from the loop");
    cr_assert_eq(cz_limiter_redis_alive(l, &loop), 1);

    cz_test_redis_kill(&srv);
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    g = take(l, "k", 1, NULL);
    cr_assert_neq(g.err, 0, "the failure is reported");
    cr_assert_eq(g.result, CZ_LIMIT_ALLOWED, "the in-process bucket (full) decided");
    cr_assert_leq(g.at - t0, 200, "decided within the 100 ms timeout, took %llu",
                  (unsigned long long)(g.at - t0));
    cr_assert_eq(cz_limiter_redis_alive(l, &loop), 0);
    /* On the fallback: decided before take returns; the local bucket has 2 tokens left. */
    g = take(l, "k", 1, &sync);
    cr_assert(sync);
    cr_assert_eq(g.result, CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, "k", 1, &sync).result, CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, "k", 1, &sync).result, CZ_LIMIT_OVER_QUOTA);

    cr_assert_eq(cz_test_redis_restart(&srv), 0);
    int back = 0;
    for (int i = 0; i < 300 && !back; i++) {
        int never = 0;
        cz_test_run_until(&loop, &never, 10);
        back = cz_limiter_redis_alive(l, &loop) == 1;
    }
    cr_assert(back, "the probe must switch back to Redis");
    g = take(l, "k", 1, &sync);
    cr_assert_eq(sync, 0);
    cr_assert_eq(g.err, 0);
    cr_assert_eq(g.result, CZ_LIMIT_ALLOWED); /* a fresh Redis: full bucket again */
    cr_assert_eq(cz_test_redis_int(&srv, "EXISTS {t:k}.bucket"), 1);
    cz_limiter_free(l);
}

Test(redis_limit, frozen_redis_costs_one_timeout_then_fallback)
{
    timeout_ms = 100;
    cz_limiter_t *l = mk(CZ_LIMIT_TOKEN, CZ_LIMIT_REDIS, 1, 3, 0);
    warm(l);
    cz_test_redis_freeze(&srv);
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    got_t g = take(l, "f", 1, NULL);
    cr_assert_eq(g.err, CZ_ETIMEOUT);
    cr_assert_eq(g.result, CZ_LIMIT_ALLOWED);
    cr_assert(g.at - t0 >= 100 && g.at - t0 <= 250, "took %llu ms",
              (unsigned long long)(g.at - t0));
    int sync;
    take(l, "f", 1, &sync);
    cr_assert(sync, "no second wait on a slow Redis");
    cz_test_redis_thaw(&srv);
    cz_limiter_free(l);
}

static void fail_mode(cz_limit_kind_t kind, int closed)
{
    timeout_ms = 100;
    cz_limiter_t *l = mk(kind, CZ_LIMIT_REDIS, 1, 1, closed);
    warm(l);
    cz_test_redis_kill(&srv);
    for (int i = 0; i < 3; i++) { /* never blocks and never falls back to local counting */
        got_t g = take(l, "m", 1, NULL);
        cr_assert_neq(g.err, 0);
        cr_assert_eq(g.result, closed ? CZ_LIMIT_OVER_QUOTA : CZ_LIMIT_ALLOWED);
    }
    cr_assert_eq(cz_limiter_redis_alive(l, &loop), 1, "no fallback for this kind");
    cz_limiter_free(l);
}

Test(redis_limit, period_fails_open_by_default) { fail_mode(CZ_LIMIT_PERIOD, 0); }
Test(redis_limit, period_fails_closed_when_configured) { fail_mode(CZ_LIMIT_PERIOD, 1); }
Test(redis_limit, leaky_fails_open_by_default) { fail_mode(CZ_LIMIT_LEAKY, 0); }
Test(redis_limit, leaky_fails_closed_when_configured) { fail_mode(CZ_LIMIT_LEAKY, 1); }

Test(redis_limit, too_long_key_is_an_argument_error)
{
    cz_limiter_t *l = mk(CZ_LIMIT_TOKEN, CZ_LIMIT_REDIS, 1, 1, 0);
    static char big[CZ_LIMITER_MAX_KEY + 1];
    memset(big, 'x', sizeof(big));
    got_t g = {0};
    cr_assert_eq(cz_limiter_take(l, &loop, (cz_str_t){big, sizeof(big)}, 1, on_decision, &g),
                 CZ_EARG);
    cr_assert_eq(g.done, 0);
    cz_limiter_free(l);
}

/* ---- an outage is said: one log line each way, and a gauge on /metrics ---- */

static char logdir[] = "/tmp/czredislog-XXXXXX";

static void log_to_files(void)
{
    cr_assert_not_null(mkdtemp(logdir));
    cz_log_conf_t c = {.mode = CZ_LOG_MODE_FILE, .encoding = CZ_LOG_ENC_PLAIN,
                       .level = CZ_LOG_INFO, .path = logdir};
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
}

/* error.log and access.log (info) together, as one string (static). */
static const char *logs(void)
{
    static char buf[1 << 16];
    size_t n = 0;
    cz_log_flush();
    const char *files[] = {"error.log", "access.log"};
    for (int i = 0; i < 2; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", logdir, files[i]);
        FILE *f = fopen(p, "rb");
        if (f) {
            n += fread(buf + n, 1, sizeof buf - 1 - n, f);
            fclose(f);
        }
    }
    buf[n] = '\0';
    return buf;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The sample "name{limiter="<prefix>",redis="127.0.0.1:<port>"} v" of the default registry. */
static double sample(const char *name, const char *prefix)
{
    char *text = NULL;
    cr_assert_eq(cz_metrics_write(cz_metrics_default(), &text, NULL), 0);
    char want[256];
    snprintf(want, sizeof want, "%s{limiter=\"%s\",redis=\"127.0.0.1:%d\"} ", name, prefix,
             srv.port);
    const char *p = strstr(text, want);
    double v = p ? atof(p + strlen(want)) : -1;
    free(text);
    return v;
}

static void log_cleanup(void)
{
    cz_log_close();
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", logdir);
    cr_assert_eq(system(cmd), 0);
}

Test(redis_limit, token_outage_and_recovery_are_logged_once_and_exported)
{
    log_to_files();
    timeout_ms = 100;
    cz_limiter_t *l = mk(CZ_LIMIT_TOKEN, CZ_LIMIT_REDIS, 1, 3, 0);
    warm(l);
    cr_assert_eq(sample("czero_limiter_redis_down", "t:"), 0);
    cz_test_redis_kill(&srv);
    for (int i = 0; i < 5; i++)
        take(l, "k", 1, NULL);
    cr_assert_eq(cz_limiter_redis_alive(l, &loop), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "Redis 127.0.0.1:%d failed", srv.port);
    cr_assert_eq(count(logs(), addr), 1, "one line for the outage:\n%s", logs());
    cr_assert(strstr(logs(), "the in-process token bucket decides"), "%s", logs());
    cr_assert_eq(sample("czero_limiter_redis_down", "t:"), 1);
    cr_assert_eq(sample("czero_limiter_redis_outages_total", "t:"), 1);

    cr_assert_eq(cz_test_redis_restart(&srv), 0);
    int back = 0;
    for (int i = 0; i < 300 && !back; i++) {
        int never = 0;
        cz_test_run_until(&loop, &never, 10);
        back = cz_limiter_redis_alive(l, &loop) == 1;
    }
    cr_assert(back);
    for (int i = 0; i < 3; i++)
        take(l, "k", 1, NULL);
    snprintf(addr, sizeof addr, "Redis 127.0.0.1:%d answers again", srv.port);
    cr_assert_eq(count(logs(), addr), 1, "one line for the recovery:\n%s", logs());
    cr_assert_eq(sample("czero_limiter_redis_down", "t:"), 0);
    cr_assert_eq(sample("czero_limiter_redis_outages_total", "t:"), 1);
    cz_limiter_free(l);
    log_cleanup();
}

Test(redis_limit, period_outage_fails_open_and_is_logged_once)
{
    log_to_files();
    timeout_ms = 100;
    cz_limiter_t *l = mk(CZ_LIMIT_PERIOD, CZ_LIMIT_REDIS, 1, 1, 0);
    warm(l);
    cz_test_redis_kill(&srv);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(take(l, "m", 1, NULL).result, CZ_LIMIT_ALLOWED);
    cr_assert_eq(count(logs(), "every request is allowed (fail open)"), 1, "%s", logs());
    cr_assert_eq(sample("czero_limiter_redis_down", "t:"), 1);
    cr_assert_eq(cz_test_redis_restart(&srv), 0);
    int ok = 0;
    for (int i = 0; i < 300 && !ok; i++) { /* no probe for this kind: the next good reply */
        ok = take(l, "m2", 1, NULL).err == 0;
        if (!ok) {
            int never = 0;
            cz_test_run_until(&loop, &never, 10);
        }
    }
    cr_assert(ok);
    cr_assert_eq(count(logs(), "answers again"), 1, "%s", logs());
    cr_assert_eq(sample("czero_limiter_redis_down", "t:"), 0);
    cz_limiter_free(l);
    log_cleanup();
}
