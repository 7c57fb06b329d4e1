/* SPDX-License-Identifier: MIT
 *
 * swrr.c: nginx's smooth weighted round robin (ngx_http_upstream_get_peer). On each pick every
 * usable node's current weight grows by its effective weight, the largest wins and pays back the
 * sum, so weights 5,1,1 give a a b a c a a rather than a burst of five a. A failure lowers the
 * node's effective weight by weight / max_fails (ngx_http_upstream_free_round_robin_peer); every
 * pick that sees the node gives one unit back, so a flaky node returns to full share gradually.
 *
 * Every pick writes every node's current weight, so the whole pick runs under one mutex (adaptive:
 * it spins briefly before sleeping, which suits a critical section this short). See balancer.h
 * for why not per-thread state.
 */
#include "lb_int.h"

typedef struct {
    cz_lb_t super;
    pthread_mutex_t lock;
} swrr_t;

static int swrr_init(cz_lb_t *lb, const cz_lb_opts_t *o)
{
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    int rc = pthread_mutex_init(&((swrr_t *)lb)->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    return rc ? -rc : 0;
}

static void swrr_dispose(cz_lb_t *lb) { pthread_mutex_destroy(&((swrr_t *)lb)->lock); }

static void swrr_node_added(cz_lb_t *lb, cz__lb_node_t *nd)
{
    /* nginx init: current_weight = 0, effective_weight = weight. */
    __atomic_store_n(&nd->cur, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->eff, (int64_t)nd->weight, __ATOMIC_RELAXED);
}

/* cur/eff are only written under the lock; the relaxed atomics are for cz_lb_node_stats. */
#define LD(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n(p, v, __ATOMIC_RELAXED)

static int swrr_pick(cz_lb_t *lb, const cz__lb_snap_t *s, cz__lb_pickctx_t *c, uint32_t *slot)
{
    swrr_t *w = (swrr_t *)lb;
    cz__lb_node_t *best = NULL;
    int64_t total = 0;
    pthread_mutex_lock(&w->lock);
    for (uint32_t i = 0; i < s->n; i++) {
        if (!cz__lb_usable(lb, s->idx[i], c))
            continue;
        cz__lb_node_t *nd = &lb->nodes[s->idx[i]];
        int64_t eff = LD(&nd->eff);
        ST(&nd->cur, LD(&nd->cur) + eff);
        total += eff;
        if (eff < (int64_t)nd->weight)
            ST(&nd->eff, eff + 1);
        if (!best || LD(&nd->cur) > LD(&best->cur)) {
            best = nd;
            *slot = s->idx[i];
        }
    }
    if (best)
        ST(&best->cur, LD(&best->cur) - total);
    pthread_mutex_unlock(&w->lock);
    return best ? 0 : CZ_ENOSERVICE;
}

static void swrr_done(cz_lb_t *lb, cz__lb_node_t *nd, int failed, uint64_t lat, int live,
                      uint64_t now)
{
    if (!failed || !live || lb->max_fails == 0)
        return;
    swrr_t *w = (swrr_t *)lb;
    pthread_mutex_lock(&w->lock);
    int64_t eff = LD(&nd->eff) - (int64_t)(nd->weight / lb->max_fails);
    ST(&nd->eff, eff < 0 ? 0 : eff);
    pthread_mutex_unlock(&w->lock);
}

const cz__lb_ops_t cz__lb_swrr_ops = {
    .name = "swrr",
    .size = sizeof(swrr_t),
    .init = swrr_init,
    .dispose = swrr_dispose,
    .node_added = swrr_node_added,
    .pick = swrr_pick,
    .done = swrr_done,
};
