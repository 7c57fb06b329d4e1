/* SPDX-License-Identifier: MIT
 *
 * leaky.c: the leaky bucket limiter (the seed's LeakyBucket; go-zero has no distributed one).
 *
 * Each admitted unit pours one unit of water into a bucket of capacity `burst`, which leaks
 * `rate` units per second; a take that would overflow is refused and adds nothing. The seed
 * admits only while water + 1 < capacity, which wastes the last unit; here water + n <=
 * capacity, so a bucket of capacity C admits C units from empty. State is exact integer
 * nano-units; the Redis twin (src/redis/redis_limit_lua.h) keeps milli-units in one Redis key per
 * limiter key.
 */
#include "limit_int.h"

static int check(const cz_limiter_conf_t *c)
{
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
        e->count = 0;
        e->last = now;
    } else if (now > e->last) {
        e->count -= cz__limit_flow(now - e->last, rate, e->count);
        e->last = now;
    }
    int rc = CZ_LIMIT_OVER_QUOTA;
    if (n <= c->burst && e->count + n * CZ__LIMIT_SCALE <= cap) {
        e->count += n * CZ__LIMIT_SCALE;
        rc = e->count < cap ? CZ_LIMIT_ALLOWED : CZ_LIMIT_HIT_QUOTA;
    }
    /* Forget the key once the bucket would be empty: a fresh entry is exactly that. */
    e->expire = e->last + (e->count + rate - 1) / rate;
    return rc;
}

const cz__limit_kind_t cz__limit_leaky = {
    .name = "leaky",
    .check = check,
    .local = local,
};
