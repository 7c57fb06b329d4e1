/* SPDX-License-Identifier: MIT
 *
 * Tests for the weighted random balancer (src/core/lb/random.c): shares follow weights for a
 * fixed seed, the seed makes sequences reproducible, unusable nodes are never drawn.
 */
#include <criterion/criterion.h>
#include "czero/balancer.h"

static cz_lb_t *mk(uint64_t seed)
{
    cz_lb_opts_t o;
    cz_lb_opts_init(&o);
    o.seed = seed;
    cz_lb_t *lb = cz_lb_new(CZ_LB_RANDOM, &o);
    cr_assert_not_null(lb);
    cr_assert_eq(cz_lb_add(lb, "a:1", 1, NULL, NULL), 0);
    cr_assert_eq(cz_lb_add(lb, "b:1", 2, NULL, NULL), 0);
    cr_assert_eq(cz_lb_add(lb, "c:1", 7, NULL, NULL), 0);
    return lb;
}

Test(lb_random, shares_follow_weights)
{
    cz_lb_t *lb = mk(42);
    int cnt[3] = {0};
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        size_t idx;
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
        cnt[idx]++;
        cz_lb_done(lb, idx, 0, 1);
    }
    const double want[3] = {0.1, 0.2, 0.7};
    for (int i = 0; i < 3; i++)
        cr_assert(cnt[i] > (want[i] - 0.01) * n && cnt[i] < (want[i] + 0.01) * n,
                  "node %d got %d of %d", i, cnt[i], n);
    cz_lb_free(lb);
}

Test(lb_random, seed_makes_sequence_reproducible)
{
    cz_lb_t *x = mk(7), *y = mk(7), *z = mk(8);
    int same_xy = 1, same_xz = 1;
    for (int i = 0; i < 64; i++) {
        size_t a, b, c;
        cz_lb_pick(x, CZ_STR_NULL, NULL, &a);
        cz_lb_pick(y, CZ_STR_NULL, NULL, &b);
        cz_lb_pick(z, CZ_STR_NULL, NULL, &c);
        same_xy &= a == b;
        same_xz &= a == c;
        cz_lb_done(x, a, 0, 1);
        cz_lb_done(y, b, 0, 1);
        cz_lb_done(z, c, 0, 1);
    }
    cr_assert(same_xy);
    cr_assert(!same_xz);
    cz_lb_free(x);
    cz_lb_free(y);
    cz_lb_free(z);
}

Test(lb_random, never_draws_unusable_nodes)
{
    cz_lb_t *lb = mk(3);
    cr_assert_eq(cz_lb_set_down(lb, 2, 1), 0); /* c, 70% of the weight */
    uint64_t tried[CZ_LB_TRIED_WORDS] = {0};
    CZ_LB_TRIED_SET(tried, 1);
    for (int i = 0; i < 1000; i++) {
        size_t idx;
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, tried, &idx), 0);
        cr_assert_eq(idx, 0);
        cz_lb_done(lb, idx, 0, 1);
    }
    CZ_LB_TRIED_SET(tried, 0);
    size_t idx;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, tried, &idx), CZ_ENOSERVICE);
    cz_lb_free(lb);
}
