/* SPDX-License-Identifier: MIT
 *
 * Tests for the leaky bucket's in-process store (src/core/limit/leaky.c): a bucket of capacity C
 * admits C units from empty (not C-1 as the seed's sketch), drains at exactly rate units per
 * second, refuses what would overflow without adding water, and empties completely.
 */
#include <criterion/criterion.h>
#include "czero/limiter.h"

#define MS CZ_NS_PER_MS
#define SEC CZ_NS_PER_SEC

static cz_clock_manual_t mono;

static cz_limiter_t *mk(uint64_t rate, uint64_t cap)
{
    cz_clock_manual_init(&mono, 7 * SEC);
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_LEAKY, .rate = rate, .burst = cap,
                           .clock = &mono.clock};
    cz_limiter_t *l = NULL;
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    return l;
}

static int take(cz_limiter_t *l, uint64_t n) { return cz_limiter_allow(l, CZ_STR("k"), n); }

Test(limit_leaky, fills_to_capacity_then_drains_at_rate)
{
    cz_limiter_t *l = mk(2, 3);
    cr_assert_eq(take(l, 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA); /* bucket exactly full */
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 500 * MS - 1);
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1); /* one unit has leaked out */
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_limiter_free(l);
}

Test(limit_leaky, empties_completely_and_never_below_zero)
{
    cz_limiter_t *l = mk(5, 2);
    cr_assert_eq(take(l, 2), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 100 * SEC);
    cr_assert_eq(take(l, 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_limiter_free(l);
}

Test(limit_leaky, overflowing_take_is_refused_and_adds_no_water)
{
    cz_limiter_t *l = mk(1, 4);
    cr_assert_eq(take(l, 5), CZ_LIMIT_OVER_QUOTA);
    cr_assert_eq(take(l, 3), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, 2), CZ_LIMIT_OVER_QUOTA);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cz_limiter_free(l);
}

Test(limit_leaky, drain_is_exact_for_rates_that_do_not_divide_a_second)
{
    cz_limiter_t *l = mk(3, 1);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 333333333);
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cz_limiter_free(l);
}

Test(limit_leaky, rejects_invalid_configuration)
{
    cz_limiter_t *l = NULL;
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_LEAKY, .rate = 1, .burst = 0};
    cr_assert_eq(cz_limiter_new(&c, &l), CZ_EARG);
    c.burst = 1, c.rate = 0;
    cr_assert_eq(cz_limiter_new(&c, &l), CZ_EARG);
    cr_assert_null(l);
}
