/* SPDX-License-Identifier: MIT
 *
 * period.c: the period (fixed window) limiter, go-zero core/limit/periodlimit.go.
 *
 * A key may use `quota` units per window. The window starts with the key's first request and
 * lasts period_ms, or, with align, ends at the next multiple of the period in wall time shifted
 * by the configured zone (go-zero's calcExpireSeconds, here in ns instead of whole seconds).
 * Like go-zero's INCRBY script, refused requests still count: a client hammering the limit
 * does not get through earlier.
 */
#include <time.h>
#include "limit_int.h"

static int check(const cz_limiter_conf_t *c)
{
    return c->period_ms >= 1 && c->period_ms <= UINT64_MAX / CZ_NS_PER_MS && c->quota >= 1
               ? 0
               : CZ_EARG;
}

static int64_t zone_offset_s(const cz_limiter_conf_t *c, uint64_t wall_ns)
{
    if (c->align_utc_offset_s != CZ_LIMIT_TZ_LOCAL)
        return c->align_utc_offset_s;
    time_t t = (time_t)(wall_ns / CZ_NS_PER_SEC);
    struct tm tm;
    return localtime_r(&t, &tm) ? tm.tm_gmtoff : 0;
}

/* Time left in the current window: the whole period, or up to the next aligned boundary. */
uint64_t cz__limit_period_window_ns(const cz_limiter_conf_t *c)
{
    uint64_t period = c->period_ms * CZ_NS_PER_MS;
    if (!c->align)
        return period;
    uint64_t wall = cz__limit_wall_ns(c);
    int64_t off = zone_offset_s(c, wall);
    /* Signed 128-bit: wall + off is negative only before 1970 in that zone, and must not wrap. */
    __int128 local = (__int128)wall + (__int128)off * (__int128)CZ_NS_PER_SEC;
    __int128 into = ((local % (__int128)period) + (__int128)period) % (__int128)period;
    return period - (uint64_t)into;
}

static int map_count(uint64_t count, uint64_t quota)
{
    return count < quota ? CZ_LIMIT_ALLOWED : count == quota ? CZ_LIMIT_HIT_QUOTA
                                                              : CZ_LIMIT_OVER_QUOTA;
}

static int local(const cz_limiter_conf_t *c, cz__limit_entry_t *e, int fresh, uint64_t n,
                 uint64_t now)
{
    if (fresh) {
        e->count = 0;
        e->expire = now + cz__limit_period_window_ns(c);
    }
    e->count = e->count + n < e->count ? UINT64_MAX : e->count + n;
    return map_count(e->count, c->quota);
}

const cz__limit_kind_t cz__limit_period = {
    .name = "period",
    .check = check,
    .local = local,
};
