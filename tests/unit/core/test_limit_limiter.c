/* SPDX-License-Identifier: MIT
 *
 * Tests for the code all limiters share (src/core/limit/limiter.c): the nop limiter, the async
 * entry point on the local store, argument checks, key expiry that bounds the store's memory,
 * and exact counting when several threads hit one key at once.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include "czero/limiter.h"

#define SEC CZ_NS_PER_SEC

static cz_clock_manual_t mono;

static cz_limiter_t *mk(cz_limit_kind_t kind, cz_limit_store_t store)
{
    cz_clock_manual_init(&mono, SEC);
    cz_limiter_conf_t c = {.kind = kind, .store = store, .period_ms = 1000, .quota = 3,
                           .rate = 10, .burst = 3, .clock = &mono.clock};
    cz_limiter_t *l = NULL;
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    return l;
}

typedef struct {
    int calls, result, err;
} got_t;

static void on_decision(void *ud, int result, int err)
{
    got_t *g = ud;
    g->calls++;
    g->result = result;
    g->err = err;
}

Test(limit_limiter, nop_admits_everything_sync_and_async)
{
    cz_limiter_t *l = cz_limiter_nop();
    for (int i = 0; i < 100; i++)
        cr_assert_eq(cz_limiter_allow(l, CZ_STR("k"), 1000), CZ_LIMIT_ALLOWED);
    got_t g = {0};
    cr_assert_eq(cz_limiter_take(l, NULL, CZ_STR("k"), 1, on_decision, &g), 0);
    cr_assert_eq(g.calls, 1);
    cr_assert_eq(g.result, CZ_LIMIT_ALLOWED);
    cz_limiter_free(l); /* a no-op, must not crash */
    cr_assert_eq(cz_limiter_local_keys(l), 0);
}

Test(limit_limiter, take_on_local_store_decides_before_returning)
{
    cz_limiter_t *l = mk(CZ_LIMIT_PERIOD, CZ_LIMIT_LOCAL);
    int want[] = {CZ_LIMIT_ALLOWED, CZ_LIMIT_ALLOWED, CZ_LIMIT_HIT_QUOTA, CZ_LIMIT_OVER_QUOTA};
    for (int i = 0; i < 4; i++) {
        got_t g = {0};
        cr_assert_eq(cz_limiter_take(l, NULL, CZ_STR("k"), 1, on_decision, &g), 0);
        cr_assert_eq(g.calls, 1);
        cr_assert_eq(g.result, want[i], "take %d: %s", i, cz_limit_result_name(g.result));
        cr_assert_eq(g.err, 0);
    }
    cz_limiter_free(l);
}

Test(limit_limiter, bad_arguments_are_errors_not_decisions)
{
    cz_limiter_t *l = mk(CZ_LIMIT_TOKEN, CZ_LIMIT_LOCAL);
    got_t g = {0};
    cr_assert_eq(cz_limiter_allow(NULL, CZ_STR("k"), 1), CZ_EARG);
    cr_assert_eq(cz_limiter_allow(l, CZ_STR("k"), 0), CZ_EARG);
    cr_assert_eq(cz_limiter_allow(l, (cz_str_t){NULL, 3}, 1), CZ_EARG);
    cr_assert_eq(cz_limiter_take(l, NULL, CZ_STR("k"), 1, NULL, &g), CZ_EARG);
    cr_assert_eq(cz_limiter_take(l, NULL, CZ_STR("k"), 0, on_decision, &g), CZ_EARG);
    cr_assert_eq(g.calls, 0);
    cz_limiter_free(l);

    cz_limiter_t *r = mk(CZ_LIMIT_TOKEN, CZ_LIMIT_REDIS);
    cr_assert_eq(cz_limiter_allow(r, CZ_STR("k"), 1), -ENOTSUP);
    cr_assert_eq(cz_limiter_take(r, NULL, CZ_STR("k"), 1, on_decision, &g), CZ_EARG);
    cr_assert_eq(cz_limiter_redis_alive(r, NULL), CZ_ENOTFOUND);
    cz_limiter_free(r);
}

Test(limit_limiter, result_names)
{
    cr_assert_str_eq(cz_limit_result_name(CZ_LIMIT_ALLOWED), "allowed");
    cr_assert_str_eq(cz_limit_result_name(CZ_LIMIT_HIT_QUOTA), "hit_quota");
    cr_assert_str_eq(cz_limit_result_name(CZ_LIMIT_OVER_QUOTA), "over_quota");
    cr_assert_str_eq(cz_limit_result_name(-1), "unknown");
}

static void fill_keys(cz_limiter_t *l, int from, int count)
{
    char key[32];
    for (int i = from; i < from + count; i++) {
        int n = snprintf(key, sizeof(key), "user-%d", i);
        cr_assert_geq(cz_limiter_allow(l, (cz_str_t){key, (size_t)n}, 1), CZ_LIMIT_ALLOWED);
    }
}

Test(limit_limiter, expired_keys_are_reclaimed_so_memory_follows_live_keys)
{
    cz_limiter_t *l = mk(CZ_LIMIT_PERIOD, CZ_LIMIT_LOCAL);
    fill_keys(l, 0, 20000);
    cr_assert_eq(cz_limiter_local_keys(l), 20000);
    cz_clock_manual_advance(&mono, 2 * SEC); /* every window is over */
    for (int round = 1; round <= 5; round++) {
        fill_keys(l, round * 20000, 20000);
        cz_clock_manual_advance(&mono, 2 * SEC);
    }
    /* 120000 distinct keys were seen, never more than 20000 at once: without expiry the store
     * would hold all of them. Sweeps run when a stripe would grow, so allow some slack. */
    cr_assert_leq(cz_limiter_local_keys(l), 45000, "%zu keys", cz_limiter_local_keys(l));
    cz_limiter_free(l);
}

Test(limit_limiter, bucket_key_forgotten_when_full_again_behaves_as_fresh)
{
    cz_limiter_t *l = mk(CZ_LIMIT_TOKEN, CZ_LIMIT_LOCAL); /* rate 10, burst 3 */
    cr_assert_eq(cz_limiter_allow(l, CZ_STR("k"), 3), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 300 * CZ_NS_PER_MS); /* exactly full again */
    cr_assert_eq(cz_limiter_allow(l, CZ_STR("k"), 3), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(cz_limiter_allow(l, CZ_STR("k"), 1), CZ_LIMIT_OVER_QUOTA);
    cz_limiter_free(l);
}

typedef struct {
    cz_limiter_t *l;
    int admitted, hit;
} worker_t;

static void *hammer(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 20000; i++) {
        int r = cz_limiter_allow(w->l, CZ_STR("shared"), 1);
        w->admitted += r == CZ_LIMIT_ALLOWED || r == CZ_LIMIT_HIT_QUOTA;
        w->hit += r == CZ_LIMIT_HIT_QUOTA;
    }
    return NULL;
}

Test(limit_limiter, concurrent_takes_on_one_key_admit_exactly_the_quota)
{
    cz_clock_manual_init(&mono, SEC);
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_PERIOD, .period_ms = 1000, .quota = 50000,
                           .clock = &mono.clock};
    cz_limiter_t *l;
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    pthread_t t[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){l, 0, 0};
        pthread_create(&t[i], NULL, hammer, &w[i]);
    }
    int admitted = 0, hit = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        admitted += w[i].admitted;
        hit += w[i].hit;
    }
    cr_assert_eq(admitted, 50000); /* 80000 takes, exactly the quota admitted */
    cr_assert_eq(hit, 1);
    cz_limiter_free(l);
}
