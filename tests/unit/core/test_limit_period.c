/* SPDX-License-Identifier: MIT
 *
 * Tests for the period limiter's in-process store (src/core/limit/period.c): go-zero's
 * Allowed / HitQuota / OverQuota sequence, the exact window edges, multi-unit takes, and
 * alignment to wall-clock period boundaries in a chosen zone. Time is manual throughout.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <time.h>
#include "czero/limiter.h"

#define MS CZ_NS_PER_MS
#define SEC CZ_NS_PER_SEC

static cz_clock_manual_t mono, wall;

static cz_limiter_t *mk(uint64_t period_ms, uint64_t quota, int align, int32_t off)
{
    cz_clock_manual_init(&mono, 1000 * SEC);
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_PERIOD, .period_ms = period_ms, .quota = quota,
                           .align = align, .align_utc_offset_s = off, .clock = &mono.clock,
                           .wallclock = &wall.clock};
    cz_limiter_t *l = NULL;
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    return l;
}

static int take(cz_limiter_t *l, const char *key, uint64_t n)
{
    return cz_limiter_allow(l, cz_str_c(key), n);
}

Test(limit_period, allowed_hit_over_then_new_window_at_exact_edge)
{
    cz_clock_manual_init(&wall, 1700000000ull * SEC);
    cz_limiter_t *l = mk(1000, 3, 0, 0);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1000 * MS - 1); /* last nanosecond of the window */
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1); /* the window starts over exactly here */
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_limiter_free(l);
}

Test(limit_period, window_starts_at_first_request_not_at_creation)
{
    cz_clock_manual_init(&wall, 1700000000ull * SEC);
    cz_limiter_t *l = mk(1000, 1, 0, 0);
    cz_clock_manual_advance(&mono, 700 * MS);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 999 * MS);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1 * MS);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_limiter_free(l);
}

Test(limit_period, multi_unit_takes_and_refused_requests_still_count)
{
    cz_clock_manual_init(&wall, 1700000000ull * SEC);
    cz_limiter_t *l = mk(1000, 5, 0, 0);
    cr_assert_eq(take(l, "k", 3), CZ_LIMIT_ALLOWED);
    cr_assert_eq(take(l, "k", 2), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cr_assert_eq(take(l, "j", 6), CZ_LIMIT_OVER_QUOTA); /* one take larger than the quota */
    cr_assert_eq(take(l, "j", 1), CZ_LIMIT_OVER_QUOTA); /* go-zero INCRBY counts refusals */
    cz_limiter_free(l);
}

Test(limit_period, keys_are_independent)
{
    cz_clock_manual_init(&wall, 1700000000ull * SEC);
    cz_limiter_t *l = mk(1000, 1, 0, 0);
    cr_assert_eq(take(l, "a", 1), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, "b", 1), CZ_LIMIT_HIT_QUOTA);
    cr_assert_eq(take(l, "a", 1), CZ_LIMIT_OVER_QUOTA);
    cr_assert_eq(cz_limiter_allow(l, (cz_str_t){"ab", 1}, 1), CZ_LIMIT_OVER_QUOTA); /* "a" */
    cr_assert_eq(take(l, "", 1), CZ_LIMIT_HIT_QUOTA); /* the empty key is a key too */
    cz_limiter_free(l);
}

Test(limit_period, aligned_window_ends_at_period_boundary_of_wall_time)
{
    /* Wall time 10.75 s into a 1 s period: the first window is only 250 ms long. */
    cz_clock_manual_init(&wall, 1700000010ull * SEC + 750 * MS);
    cz_limiter_t *l = mk(1000, 1, 1, 0);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 250 * MS - 1);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1);
    cz_clock_manual_advance(&wall, 250 * MS); /* wall is now on a boundary: a full window */
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 1000 * MS - 1);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_limiter_free(l);
}

Test(limit_period, aligned_day_uses_the_configured_zone)
{
    /* 23:00 UTC is midnight in UTC+1: a daily quota there starts a whole day now... */
    uint64_t day = 86400ull * SEC, t = 19700ull * day + 23ull * 3600 * SEC;
    cz_clock_manual_init(&wall, t);
    cz_limiter_t *l = mk(86400000, 1, 1, 3600);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, day - 1);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_limiter_free(l);
    /* ...while in UTC the same instant has one hour left. */
    cz_clock_manual_init(&wall, t);
    l = mk(86400000, 1, 1, 0);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 3600 * SEC - 1);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_limiter_free(l);
}

Test(limit_period, rejects_invalid_configuration)
{
    cz_limiter_t *l = (cz_limiter_t *)1;
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_PERIOD, .period_ms = 1000, .quota = 0};
    cr_assert_eq(cz_limiter_new(&c, &l), CZ_EARG);
    cr_assert_null(l);
    c.quota = 1, c.period_ms = 0;
    cr_assert_eq(cz_limiter_new(&c, &l), CZ_EARG);
    c.period_ms = 1, c.kind = 99;
    cr_assert_eq(cz_limiter_new(&c, &l), CZ_EARG);
    c.kind = CZ_LIMIT_PERIOD;
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    cr_assert_eq(cz_limiter_allow(l, CZ_STR("k"), 0), CZ_EARG);
    cz_limiter_free(l);
}

Test(limit_period, aligned_day_west_of_utc_and_host_zone)
{
    /* 05:00 UTC is midnight in UTC-5: a whole day of window. */
    uint64_t day = 86400ull * SEC, t = 19700ull * day + 5ull * 3600 * SEC;
    cz_clock_manual_init(&wall, t);
    cz_limiter_t *l = mk(86400000, 1, 1, -5 * 3600);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, day - 1);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_limiter_free(l);
    /* The host zone (go-zero's default), here forced to UTC: 19 hours left at 05:00. */
    setenv("TZ", "UTC", 1);
    tzset();
    cz_clock_manual_init(&wall, t);
    l = mk(86400000, 1, 1, CZ_LIMIT_TZ_LOCAL);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_clock_manual_advance(&mono, 19 * 3600 * SEC - 1);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_OVER_QUOTA);
    cz_clock_manual_advance(&mono, 1);
    cr_assert_eq(take(l, "k", 1), CZ_LIMIT_HIT_QUOTA);
    cz_limiter_free(l);
}
