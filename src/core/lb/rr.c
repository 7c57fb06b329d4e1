/* SPDX-License-Identifier: MIT
 *
 * rr.c: round robin, the seed's first balancer: a cursor walks the node list and skips nodes that
 * are down, failed or already tried ("if node is dead, idx++"). Weights are ignored; use swrr for
 * weighted rotation. The cursor is one shared atomic counter so all threads share one rotation.
 */
#include "lb_int.h"

typedef struct {
    cz_lb_t super;
    uint64_t next __attribute__((aligned(64))); /* own cache line: every pick adds to it */
} rr_t;

static int rr_pick(cz_lb_t *lb, const cz__lb_snap_t *s, cz__lb_pickctx_t *c, uint32_t *slot)
{
    rr_t *rr = (rr_t *)lb;
    uint64_t start = __atomic_fetch_add(&rr->next, 1, __ATOMIC_RELAXED);
    uint32_t i = (uint32_t)(start % s->n);
    for (uint32_t k = 0; k < s->n; k++) {
        if (cz__lb_usable(lb, s->idx[i], c)) {
            *slot = s->idx[i];
            return 0;
        }
        if (++i == s->n)
            i = 0;
    }
    return CZ_ENOSERVICE;
}

const cz__lb_ops_t cz__lb_rr_ops = {
    .name = "rr",
    .size = sizeof(rr_t),
    .pick = rr_pick,
};
