/* SPDX-License-Identifier: MIT
 *
 * random.c: random choice in proportion to weight (the seed's "random round robin", made
 * weighted so an upstream's Weight means the same thing as under swrr). Each snapshot carries the
 * prefix sums of the weights; a pick draws r in [0, total) and binary-searches them. Unusable
 * draws are retried a few times, then the list is scanned from the draw so a pick never fails
 * while some node is usable.
 */
#include <stdlib.h>
#include "lb_int.h"

#define REDRAWS 3

static int random_build(cz_lb_t *lb, cz__lb_snap_t *s)
{
    uint64_t *cum = malloc(sizeof(uint64_t) * (s->n ? s->n : 1));
    if (!cum)
        return CZ_ENOMEM;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < s->n; i++)
        cum[i] = sum += lb->nodes[s->idx[i]].weight;
    s->ext = cum;
    return 0;
}

/* First i with cum[i] > r. */
static uint32_t upper(const uint64_t *cum, uint32_t n, uint64_t r)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cum[mid] > r)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int random_pick(cz_lb_t *lb, const cz__lb_snap_t *s, cz__lb_pickctx_t *c, uint32_t *slot)
{
    const uint64_t *cum = s->ext;
    uint32_t i = 0;
    for (int t = 0; t < REDRAWS; t++) {
        uint64_t r = (uint64_t)(((unsigned __int128)cz__lb_rand(c) * s->total_weight) >> 64);
        i = upper(cum, s->n, r);
        if (cz__lb_usable(lb, s->idx[i], c)) {
            *slot = s->idx[i];
            return 0;
        }
    }
    for (uint32_t k = 0; k < s->n; k++) {
        if (++i == s->n)
            i = 0;
        if (cz__lb_usable(lb, s->idx[i], c)) {
            *slot = s->idx[i];
            return 0;
        }
    }
    return CZ_ENOSERVICE;
}

const cz__lb_ops_t cz__lb_random_ops = {
    .name = "random",
    .size = sizeof(cz_lb_t),
    .build = random_build,
    .pick = random_pick,
};
