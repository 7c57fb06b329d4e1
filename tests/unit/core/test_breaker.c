/* SPDX-License-Identifier: MIT
 *
 * Tests for the SRE breaker: it drops exactly where go-zero's formula says (K lowered by failing
 * buckets, scaled by working buckets), forces a pass after 1 s of dropping, recovers as the window
 * slides, and the do* helpers, promises, error window, registry and nop object behave as in
 * go-zero; an ignored promise records nothing. Time is a manual clock and the coin is injected, so every threshold is exact.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include "czero/breaker.h"

#define MS CZ_NS_PER_MS
#define NEVER 0.99999999 /* a coin value no ratio below 1 drops */

static double coin; /* what the injected rand returns */
static double fixed_rand(void *ud)
{
    (void)ud;
    return coin;
}

static cz_clock_manual_t clk;

static cz_breaker_t *mk(void)
{
    cz_clock_manual_init(&clk, 1000 * CZ_NS_PER_SEC);
    cz_breaker_opts_t o = {.name = "test", .clock = &clk.clock, .rand = fixed_rand};
    cz_breaker_t *b;
    cr_assert_eq(cz_breaker_new(&o, &b), 0);
    coin = NEVER;
    return b;
}

/* Record outcomes without letting the breaker drop any of them. */
static void record(cz_breaker_t *b, int accepts, int failures)
{
    double saved = coin;
    coin = NEVER;
    for (int i = 0; i < accepts + failures; i++) {
        cz_promise_t p;
        cr_assert_eq(cz_breaker_allow(b, &p), 0);
        if (i < accepts)
            cz_promise_accept(&p);
        else
            cz_promise_reject(&p, "boom");
    }
    coin = saved;
}

/* The coin just below the ratio drops, just above passes. */
static void assert_threshold(cz_breaker_t *b, double ratio)
{
    cz_promise_t p;
    cz_breaker_stat_t st;
    cz_breaker_stat(b, &st);
    cr_assert(fabs(st.drop_ratio - ratio) < 1e-12, "stat ratio %.15f, formula %.15f",
              st.drop_ratio, ratio);
    coin = ratio + 1e-9;
    cr_assert_eq(cz_breaker_allow(b, &p), 0, "coin above ratio %.6f must pass", ratio);
    coin = ratio - 1e-9;
    cr_assert_eq(cz_breaker_allow(b, &p), CZ_EBREAKER, "coin below ratio %.6f must drop", ratio);
}

Test(breaker, healthy_traffic_always_passes)
{
    cz_breaker_t *b = mk();
    record(b, 1000, 0);
    coin = 0; /* the most eager coin */
    for (int i = 0; i < 100; i++) {
        cz_promise_t p;
        cr_assert_eq(cz_breaker_allow(b, &p), 0);
        cz_promise_accept(&p);
    }
    cz_breaker_stat_t st;
    cz_breaker_stat(b, &st);
    cr_assert_eq(st.accepts, 1100);
    cr_assert_eq(st.drop_ratio, 0);
    cz_breaker_free(b);
}

Test(breaker, protection_lets_the_first_failures_through)
{
    cz_breaker_t *b = mk();
    coin = 0;
    /* (total - 5) / (total + 1) <= 0 for total <= 5: five failures cannot open it. */
    for (int i = 0; i < 6; i++) {
        cz_promise_t p;
        cr_assert_eq(cz_breaker_allow(b, &p), 0, "call %d", i);
        cz_promise_reject(&p, "x");
    }
    cz_promise_t p;
    cr_assert_eq(cz_breaker_allow(b, &p), CZ_EBREAKER);
    cz_breaker_free(b);
}

Test(breaker, opens_at_the_sre_ratio)
{
    cz_breaker_t *b = mk();
    /* One bucket with successes and failures: no failing/working runs, so w = K = 1.5. */
    record(b, 20, 80);
    assert_threshold(b, (100.0 - 5 - 1.5 * 20) / 101);
    cz_breaker_free(b);
}

Test(breaker, failing_buckets_lower_k)
{
    cz_breaker_t *b = mk();
    record(b, 100, 0);
    for (int i = 0; i < 20; i++) {
        cz_clock_manual_advance(&clk, 250 * MS);
        record(b, 0, 10);
    }
    /* total 300, accepts 100, 20 failing buckets: w = 1.5 - 0.4 * 20 / 40 = 1.3. */
    assert_threshold(b, (295.0 - 1.3 * 100) / 301);
    cz_breaker_free(b);
}

Test(breaker, k_falls_to_1_11_after_39_failing_buckets)
{
    cz_breaker_t *b = mk();
    record(b, 5, 0);
    for (int i = 0; i < 39; i++) {
        cz_clock_manual_advance(&clk, 250 * MS);
        record(b, 0, 1);
    }
    /* 39 failing buckets after the success: w = 1.5 - 0.4 * 39 / 40 = 1.11. */
    assert_threshold(b, (44.0 - 5 - 1.11 * 5) / 45);
    cz_breaker_free(b);
}

Test(breaker, working_buckets_scale_the_ratio_down)
{
    cz_breaker_t *b = mk();
    record(b, 0, 100);
    for (int i = 0; i < 10; i++) {
        cz_clock_manual_advance(&clk, 250 * MS);
        record(b, 1, 0);
    }
    /* total 110, accepts 10, 10 trailing success-only buckets: ratio * (40 - 10) / 40. */
    assert_threshold(b, (105.0 - 1.5 * 10) / 111 * 30 / 40);
    cz_breaker_free(b);
}

Test(breaker, drops_at_the_formula_rate_with_the_default_prng)
{
    cz_clock_manual_init(&clk, 1);
    cz_breaker_opts_t o = {.clock = &clk.clock};
    cz_breaker_t *b;
    cr_assert_eq(cz_breaker_new(&o, &b), 0);
    for (int i = 0; i < 400; i++) {
        cz_promise_t p;
        if (cz_breaker_allow(b, &p) == 0)
            i % 2 ? cz_promise_accept(&p) : cz_promise_reject(&p, NULL);
    }
    /* Each call drops with the ratio stat reports just before it; compare the count of drops
     * with the sum of those probabilities (sd = sqrt(sum p(1-p)) < 32 for 4000 calls). */
    double expected = 0, var = 0;
    int drops = 0;
    for (int i = 0; i < 4000; i++) {
        cz_breaker_stat_t st;
        cz_breaker_stat(b, &st);
        expected += st.drop_ratio;
        var += st.drop_ratio * (1 - st.drop_ratio);
        cz_promise_t p;
        if (cz_breaker_allow(b, &p))
            drops++;
        else /* accepting 2/3 of the passes keeps the ratio roughly level */
            i % 3 ? cz_promise_accept(&p) : cz_promise_reject(&p, NULL);
    }
    cr_assert(expected > 1000, "the scenario must actually drop (expected %.1f)", expected);
    cr_assert(fabs(drops - expected) < 5 * sqrt(var), "drops %d, expected %.1f +- %.1f", drops,
              expected, sqrt(var));
    cz_breaker_free(b);
}

Test(breaker, forces_a_pass_after_one_second_of_drops)
{
    cz_breaker_t *b = mk();
    record(b, 0, 100);
    cz_promise_t p;
    cr_assert_eq(cz_breaker_allow(b, &p), 0); /* coin NEVER: a normal pass sets lastPass */
    coin = 0;
    cr_assert_eq(cz_breaker_allow(b, &p), CZ_EBREAKER);
    cz_clock_manual_advance(&clk, CZ_NS_PER_SEC);
    cr_assert_eq(cz_breaker_allow(b, &p), CZ_EBREAKER, "exactly 1 s is not yet > 1 s");
    cz_clock_manual_advance(&clk, 1);
    cr_assert_eq(cz_breaker_allow(b, &p), 0, "forced pass");
    cr_assert_eq(cz_breaker_allow(b, &p), CZ_EBREAKER, "one forced pass per second");
    cz_breaker_free(b);
}

Test(breaker, recovers_when_failures_leave_the_window_or_successes_return)
{
    cz_breaker_t *b = mk();
    record(b, 0, 100);
    coin = 0;
    cz_promise_t p;
    cr_assert_eq(cz_breaker_allow(b, &p), CZ_EBREAKER);
    /* Successes outweigh the failures: (total - 5 - 1.5 * accepts) <= 0 again. */
    cz_clock_manual_advance(&clk, 250 * MS);
    record(b, 200, 0);
    cr_assert_eq(cz_breaker_allow(b, &p), 0);
    cz_promise_accept(&p);

    record(b, 0, 300);
    cr_assert_eq(cz_breaker_allow(b, &p), CZ_EBREAKER);
    cz_clock_manual_advance(&clk, 10 * CZ_NS_PER_SEC); /* the whole 10 s window slides by */
    cr_assert_eq(cz_breaker_allow(b, &p), 0);
    cz_breaker_stat_t st;
    cz_breaker_stat(b, &st);
    cr_assert_eq(st.total, 0);
    cr_assert_eq(st.drop_ratio, 0);
    cz_breaker_free(b);
}

Test(breaker, stat_counts_and_promise_settles_once)
{
    cz_breaker_t *b = mk();
    cz_promise_t p;
    cr_assert_eq(cz_breaker_allow(b, &p), 0);
    cz_promise_accept(&p);
    cz_promise_accept(&p);
    cz_promise_reject(&p, "late");
    record(b, 0, 10);
    coin = 0;
    cr_assert_eq(cz_breaker_allow(b, &p), CZ_EBREAKER);
    cz_promise_accept(&p); /* a dropped promise needs no settle and records nothing */
    cz_breaker_stat_t st;
    cz_breaker_stat(b, &st);
    cr_assert_eq(st.accepts, 1);
    cr_assert_eq(st.failures, 10);
    cr_assert_eq(st.drops, 1);
    cr_assert_eq(st.total, 12);
    cz_breaker_free(b);
}

Test(breaker, ignored_promise_records_nothing)
{
    cz_breaker_t *b = mk();
    record(b, 0, 6); /* failing: past the protection, the drop ratio is above 0 */
    for (int i = 0; i < 100; i++) {
        cz_promise_t p;
        cr_assert_eq(cz_breaker_allow(b, &p), 0);
        cz_promise_ignore(&p); /* refused locally before it ran (shed, rate-limited) */
        cz_promise_reject(&p, "late"); /* settled already: ignored */
    }
    cz_breaker_stat_t st;
    cz_breaker_stat(b, &st);
    cr_assert_eq(st.total, 6);
    cr_assert_eq(st.failures, 6);
    cr_assert_eq(st.accepts, 0);
    cz_promise_ignore(NULL);
    cz_breaker_free(b);
}

static int calls;
static int req_ok(void *arg) { (void)arg; calls++; return 0; }
static int req_fail(void *arg) { (void)arg; calls++; return -5; }
static bool accept_minus5(int err, void *arg) { (void)arg; return err == 0 || err == -5; }
static int fallback_seen;
static int fallback(int err, void *arg)
{
    (void)arg;
    fallback_seen = err;
    return 42;
}

Test(breaker, do_variants_record_and_fall_back)
{
    cz_breaker_t *b = mk();
    cr_assert_eq(cz_breaker_do(b, req_ok, NULL), 0);
    cr_assert_eq(cz_breaker_do(b, req_fail, NULL), -5);
    cr_assert_eq(cz_breaker_do_with_acceptable(b, req_fail, NULL, accept_minus5), -5);
    cz_breaker_stat_t st;
    cz_breaker_stat(b, &st);
    cr_assert_eq(st.accepts, 2);
    cr_assert_eq(st.failures, 1);

    for (int i = 0; i < 20; i++)
        cz_breaker_do(b, req_fail, NULL);
    coin = 0;
    calls = 0;
    cr_assert_eq(cz_breaker_do(b, req_ok, NULL), CZ_EBREAKER);
    cr_assert_eq(cz_breaker_do_with_fallback(b, req_ok, NULL, fallback), 42);
    cr_assert_eq(fallback_seen, CZ_EBREAKER);
    cr_assert_eq(cz_breaker_do_with_fallback_acceptable(b, req_ok, NULL, fallback, NULL), 42);
    cr_assert_eq(calls, 0, "a dropped call must not run");
    char buf[512];
    cr_assert_eq(cz_breaker_last_errors(b, buf, sizeof(buf)), 5);
    cr_assert(strstr(buf, cz_strerror(-5)) != NULL, "%s", buf);
    cz_breaker_free(b);
}

Test(breaker, last_errors_newest_first_and_bounded)
{
    cz_breaker_t *b = mk();
    const char *reasons[] = {"r0", "r1", "r2", "r3", "r4", "r5"};
    for (int i = 0; i < 6; i++) {
        cz_promise_t p;
        coin = NEVER;
        cr_assert_eq(cz_breaker_allow(b, &p), 0);
        cz_promise_reject(&p, reasons[i]);
    }
    char buf[256];
    cr_assert_eq(cz_breaker_last_errors(b, buf, sizeof(buf)), 5);
    char *r5 = strstr(buf, " r5"), *r1 = strstr(buf, " r1");
    cr_assert(r5 && r1 && r5 < r1, "%s", buf);
    cr_assert_null(strstr(buf, " r0"));
    cz_breaker_free(b);
}

Test(breaker, nop_lets_everything_through)
{
    cz_breaker_t *b = cz_breaker_nop();
    cz_promise_t p;
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(cz_breaker_allow(b, &p), 0);
        cz_promise_reject(&p, "x");
    }
    calls = 0;
    cr_assert_eq(cz_breaker_do(b, req_fail, NULL), -5);
    cr_assert_eq(calls, 1);
    cz_breaker_stat_t st;
    cz_breaker_stat(b, &st);
    cr_assert_eq(st.total, 0);
    cr_assert_str_eq(cz_breaker_name(b), "nopBreaker");
    cr_assert_eq(cz_breaker_allow(NULL, &p), CZ_EARG);
    cr_assert_eq(cz_breaker_allow(b, NULL), CZ_EARG);
    cr_assert_eq(cz_breaker_do(NULL, req_ok, NULL), CZ_EARG);
    cz_promise_accept(NULL);
    cz_breaker_free(b); /* ignored */
}

static void count_fn(cz_breaker_t *b, void *arg)
{
    (void)b;
    (*(int *)arg)++;
}

static void *get_same(void *arg)
{
    (void)arg;
    return cz_breakers_get("shared-name");
}

Test(breaker, registry_returns_one_breaker_per_name)
{
    cz_breaker_t *a = cz_breakers_get("svc-a");
    cr_assert_not_null(a);
    cr_assert_eq(cz_breakers_get("svc-a"), a);
    cr_assert_str_eq(cz_breaker_name(a), "svc-a");
    cr_assert_neq(cz_breakers_get("svc-b"), a);
    cr_assert_null(cz_breakers_get(NULL));

    pthread_t t[2];
    void *r[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, get_same, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], &r[i]);
    cr_assert(r[0] && r[0] == r[1]);

    cr_assert_eq(cz_breakers_disable("svc-a"), 0);
    cr_assert_eq(cz_breakers_get("svc-a"), cz_breaker_nop());
    int n = 0;
    cz_breakers_foreach(count_fn, &n);
    cr_assert_eq(n, 3);
}

static void *hammer(void *arg)
{
    cz_breaker_t *b = arg;
    for (int i = 0; i < 50000; i++) {
        cz_promise_t p;
        if (cz_breaker_allow(b, &p) == 0)
            cz_promise_accept(&p);
    }
    return NULL;
}

Test(breaker, concurrent_accepts_are_all_counted)
{
    cz_breaker_t *b = mk();
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hammer, b);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cz_breaker_stat_t st;
    cz_breaker_stat(b, &st);
    cr_assert_eq(st.accepts, 100000);
    cz_breaker_free(b);
}
