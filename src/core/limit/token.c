/* SPDX-License-Identifier: MIT
 *
 * token.c: the token bucket limiter, go-zero core/limit/tokenlimit.go.
 *
 * `rate` tokens per second refill a bucket of `burst` tokens that starts full; a take of n
 * tokens passes when n are there. The in-process bucket is the same algorithm as go-zero's
 * rescue limiter (golang.org/x/time/rate with Every(1s/rate) and burst), in exact integer
 * nano-tokens. With the Redis store it is also the fallback: src/redis/redis_limit.c switches a
 * loop to it when Redis fails and back when a PING probe succeeds.
 */
#include "limit_int.h"

static int check(const cz_limiter_conf_t *c)
{
    /* Bounds keep burst * 1e9 + rate inside uint64_t. */
    return c->rate >= 1 && c->rate <= 1000000000ull && c->burst >= 1 &&
                   c->burst <= 1000000000ull
               ? 0
               : CZ_EARG;
}

static int local(const cz_limiter_conf_t *c, cz__limit_entry_t *e, int fresh, uint64_t n,
                 uint64_t now)
{
    uint64_t cap = c->burst * CZ__LIMIT_SCALE, rate = c->rate;
    if (fresh) {
        e->count = cap;
    } else if (now > e->last) {
        e->count += cz__limit_flow(now - e->last, rate, cap - e->count);
    }
    if (fresh || now > e->last)
        e->last = now;
    int rc = CZ_LIMIT_OVER_QUOTA;
    if (n <= c->burst && e->count >= n * CZ__LIMIT_SCALE) {
        e->count -= n * CZ__LIMIT_SCALE;
        rc = e->count ? CZ_LIMIT_ALLOWED : CZ_LIMIT_HIT_QUOTA;
    }
    /* Forget the key once it would be full again: a fresh entry is exactly that. */
    e->expire = e->last + (cap - e->count + rate - 1) / rate;
    return rc;
}

const cz__limit_kind_t cz__limit_token = {
    .name = "token",
    .check = check,
    .local = local,
};
