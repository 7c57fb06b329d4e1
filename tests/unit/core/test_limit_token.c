/* SPDX-License-Identifier: MIT
 *
 * Tests for the token bucket's in-process store (src/core/limit/token.c): a full bucket at
 * start, exact refill at the nanosecond where a token becomes whole, the burst cap, takes
 * larger than the bucket, and that a refused take consumes nothing.
 */
#include <criterion/criterion.h>
#include "czero/limiter.h"

#define MS CZ_NS_PER_MS
#define SEC CZ_NS_PER_SEC

static cz_clock_manual_t mono;

static cz_limiter_t *mk(uint64_t rate, uint64_t burst)
{
    cz_clock_manual_init(&mono, 5 * SEC);
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_TOKEN, .rate = rate, .burst = burst,
                           .clock = &mono.clock};
    cz_limiter_t *l = NULL;
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    return l;
}

static int take(cz_limiter_t *l, uint64_t n) { return cz_limiter_allow(l, CZ_STR("k"), n); }

Test(limit_token, starts_full_then_refills_one_token_per_interval)
{
    cz_limiter_t *l = mk(2, 3);
    cr_assert_eq(take(l, 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA); /* took the last token */
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 500 * MS - 1);
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1); /* 500 ms at 2/s: exactly one token */
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_limiter_free(l);
}

Test(limit_token, refill_is_exact_for_rates_that_do_not_divide_a_second)
{
    cz_limiter_t *l = mk(3, 1); /* one token every 333333333.33 ns */
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 333333333);
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cz_limiter_free(l);
}

Test(limit_token, refill_is_capped_at_burst)
{
    cz_limiter_t *l = mk(10, 2);
    cr_assert_eq(take(l, 2), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 3600 * SEC);
    cr_assert_eq(take(l, 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    cz_limiter_free(l);
}

Test(limit_token, refused_take_consumes_nothing)
{
    cz_limiter_t *l = mk(1, 5);
    cr_assert_eq(take(l, 6), CZ_LIMIT_OVER_QUOTA); /* more than the bucket holds: never */
    cr_assert_eq(take(l, 4), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, 2), CZ_LIMIT_OVER_QUOTA); /* one left: refused, still one left */
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cz_limiter_free(l);
}

Test(limit_token, partial_tokens_accumulate_across_takes)
{
    cz_limiter_t *l = mk(4, 1);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    for (int i = 0; i < 3; i++) { /* three quarter-intervals: still short of one token */
        cz_clock_manual_advance(&mono, 62500 * 1000);
        cr_assert_eq(take(l, 1), CZ_LIMIT_OVER_QUOTA);
    }
    cz_clock_manual_advance(&mono, 62500 * 1000);
    cr_assert_eq(take(l, 1), CZ_LIMIT_HIT_QUOTA);
    cz_limiter_free(l);
}

Test(limit_token, rejects_invalid_configuration)
{
    cz_limiter_t *l = NULL;
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_TOKEN, .rate = 0, .burst = 1};
    cr_assert_eq(cz_limiter_new(&c, &l), CZ_EARG);
    c.rate = 1, c.burst = 0;
    cr_assert_eq(cz_limiter_new(&c, &l), CZ_EARG);
    c.burst = 2000000000ull; /* would overflow the nano-token arithmetic */
    cr_assert_eq(cz_limiter_new(&c, &l), CZ_EARG);
    cr_assert_null(l);
}
