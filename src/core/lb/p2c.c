/* SPDX-License-Identifier: MIT
 *
 * p2c.c: go-zero's p2c_ewma balancer (zrpc/internal/balancer/p2c/p2c.go). Draw two distinct
 * nodes at random (up to pickTimes draws to find a healthy pair), take the one with the lower
 * load = sqrt(ewma_latency + 1) * (inflight + 1), except that a node not chosen for more than
 * forcePick is taken once anyway, so a node that was slow gets a chance to show it recovered.
 * done() folds the latency and the success (initSuccess on success, 0 on failure) into
 * time-decayed averages: w = exp(-dt / decayTime), new = old * w + sample * (1 - w), with the
 * first sample taken as is. Latency is the caller's measure (ns), not a timer started here.
 * Unusable nodes (down, failed, tried) are never chosen; if the draws cannot find two usable
 * nodes, a scan from a random offset takes the first two usable ones.
 */
#include <math.h>
#include "lb_int.h"

/* go-zero p2c.go constants. */
#define DECAY_TIME (10 * CZ_NS_PER_SEC) /* decayTime: "default value from finagle" */
#define FORCE_PICK CZ_NS_PER_SEC        /* forcePick */
#define INIT_SUCCESS 1000               /* initSuccess */
#define THROTTLE_SUCCESS (INIT_SUCCESS / 2)
#define PENALTY ((uint64_t)INT32_MAX) /* penalty = math.MaxInt32 */
#define PICK_TIMES 3

#define NONE UINT32_MAX

static void p2c_node_added(cz_lb_t *lb, cz__lb_node_t *nd)
{
    __atomic_store_n(&nd->lag_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->success, INIT_SUCCESS, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->last_ns, 0, __ATOMIC_RELAXED);
    /* go-zero's clock starts at process start, so nothing is force-picked in the first second;
     * stamping the add time gives a new node the same grace. */
    __atomic_store_n(&nd->pick_ns, cz_clock_now_ns(lb->clock), __ATOMIC_RELAXED);
}

static uint64_t load(const cz__lb_node_t *nd)
{
    /* plus one to avoid multiplying by zero (go-zero) */
    uint64_t lag = (uint64_t)sqrt((double)(__atomic_load_n(&nd->lag_ns, __ATOMIC_RELAXED) + 1));
    int64_t in = __atomic_load_n(&nd->inflight, __ATOMIC_RELAXED);
    uint64_t l = lag * (uint64_t)((in < 0 ? 0 : in) + 1);
    return l ? l : PENALTY;
}

static int healthy(const cz__lb_node_t *nd)
{
    return __atomic_load_n(&nd->success, __ATOMIC_RELAXED) > THROTTLE_SUCCESS;
}

static uint32_t choose(cz_lb_t *lb, cz__lb_pickctx_t *c, uint32_t a, uint32_t b)
{
    uint64_t now = cz__lb_now(lb, c);
    if (b == NONE) {
        __atomic_store_n(&lb->nodes[a].pick_ns, now, __ATOMIC_RELAXED);
        return a;
    }
    if (load(&lb->nodes[a]) > load(&lb->nodes[b])) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    uint64_t *bp = &lb->nodes[b].pick_ns;
    uint64_t pick = __atomic_load_n(bp, __ATOMIC_RELAXED);
    if (now > pick && now - pick > FORCE_PICK &&
        __atomic_compare_exchange_n(bp, &pick, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return b;
    __atomic_store_n(&lb->nodes[a].pick_ns, now, __ATOMIC_RELAXED);
    return a;
}

static int p2c_pick(cz_lb_t *lb, const cz__lb_snap_t *s, cz__lb_pickctx_t *c, uint32_t *slot)
{
    uint32_t n = s->n, a = NONE, b = NONE;
    if (n <= 2) {
        for (uint32_t i = 0; i < n; i++)
            if (cz__lb_usable(lb, s->idx[i], c)) {
                if (a == NONE)
                    a = s->idx[i];
                else
                    b = s->idx[i];
            }
    } else {
        for (int t = 0; t < PICK_TIMES; t++) {
            uint32_t i = cz__lb_rand_n(c, n), j = cz__lb_rand_n(c, n - 1);
            if (j >= i)
                j++;
            a = s->idx[i];
            b = s->idx[j];
            if (!cz__lb_usable(lb, a, c) || !cz__lb_usable(lb, b, c)) {
                a = b = NONE;
                continue;
            }
            if (healthy(&lb->nodes[a]) && healthy(&lb->nodes[b]))
                break;
        }
        if (a == NONE) {
            uint32_t i = cz__lb_rand_n(c, n);
            for (uint32_t k = 0; k < n && b == NONE; k++, i = (i + 1 == n) ? 0 : i + 1)
                if (cz__lb_usable(lb, s->idx[i], c)) {
                    if (a == NONE)
                        a = s->idx[i];
                    else
                        b = s->idx[i];
                }
        }
    }
    if (a == NONE)
        return CZ_ENOSERVICE;
    *slot = choose(lb, c, a, b);
    return 0;
}

/* exp(-x). Under load done() runs every few ms, so x = dt / 10 s is tiny and four Taylor terms
 * are exact to 1e-9; libm's exp is for the rest. */
static double decay(double x)
{
    if (x < 1.0 / 64)
        return 1 - x * (1 - x * (0.5 - x * (1.0 / 6)));
    return exp(-x);
}

static void p2c_done(cz_lb_t *lb, cz__lb_node_t *nd, int failed, uint64_t lat, int live)
{
    if (!live)
        return;
    uint64_t now = cz_clock_now_ns(lb->clock);
    /* go-zero swaps atomically; two done() racing on one node may both decay from the same
     * `last`, which only weighs one sample slightly more. A plain load/store skips a lock. */
    uint64_t last = __atomic_load_n(&nd->last_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->last_ns, now, __ATOMIC_RELAXED);
    uint64_t td = now > last ? now - last : 0;
    double w = decay((double)td / (double)DECAY_TIME);
    uint64_t olag = __atomic_load_n(&nd->lag_ns, __ATOMIC_RELAXED);
    if (olag == 0)
        w = 0;
    __atomic_store_n(&nd->lag_ns, (uint64_t)((double)olag * w + (double)lat * (1 - w)),
                     __ATOMIC_RELAXED);
    uint64_t osucc = __atomic_load_n(&nd->success, __ATOMIC_RELAXED);
    double succ = failed ? 0 : INIT_SUCCESS;
    __atomic_store_n(&nd->success, (uint64_t)((double)osucc * w + succ * (1 - w)),
                     __ATOMIC_RELAXED);
}

const cz__lb_ops_t cz__lb_p2c_ops = {
    .name = "p2c",
    .size = sizeof(cz_lb_t),
    .node_added = p2c_node_added,
    .pick = p2c_pick,
    .done = p2c_done,
};
