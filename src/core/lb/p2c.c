/* SPDX-License-Identifier: MIT
 *
 * p2c.c: the P2C balancer: go-zero's p2c_ewma (zrpc/internal/balancer/p2c/p2c.go) with Finagle's
 * peak EWMA for the latency estimate and Envoy's slow start for nodes that return.
 *
 * As go-zero: draw two distinct nodes at random (up to pickTimes draws to find a pair whose
 * success scores are healthy) and take the cheaper; done() folds each outcome into a success
 * score (initSuccess on success, 0 on failure) decayed with time over decayTime (10 s), and a
 * node below throttleSuccess counts as unhealthy. Unusable nodes (down, failed, tried) are never
 * chosen; if the draws cannot find two usable nodes, a scan from a random offset takes the
 * first two usable ones. Latency is the caller's measure (ns), not a timer started here.
 *
 * What differs from go-zero, and why. go-zero's cost is sqrt(ewma + 1) * (inflight + 1) with the
 * EWMA updated only by done(): a node that is not picked keeps its estimate forever, so at low
 * concurrency the node with the luckiest sample took nearly everything (one of three identical
 * instances got 0.2 % of 600 sequential requests), and the remedy, a forced pick of a node idle
 * for a second, is too rare to spread load or to bring a node back. Here:
 *  - cost = lag * (inflight + 1) (Finagle), where lag, while nothing is in flight on the node,
 *    decays toward 0 by exp(-idle / tau) since its last done(): an idle node becomes attractive
 *    again, so identical nodes share sequential traffic, and a node that answered slowly once
 *    is soon tried again. While requests are in flight the decay stops: a node that stops
 *    answering must not look ever cheaper, which would draw every request into it.
 *  - tau = 3 x the node's own lag, at most 1 s (DECAY_LAGS, DECAY_MAX). A fixed tau (Finagle's
 *    10 s) is thousands of millisecond requests: a peak would hold a node out for hundreds of
 *    them. Relative to its latency, a node 10x slower than its peers is tried again after
 *    3 x 10 x ln 10 = 70 of their latencies (~2 % of sequential traffic), one 2x slower after 4
 *    (~15 %), one that answered 3x slower once after 10; and with tau <= 1 s even a very slow
 *    one after ln(ratio) seconds (7 s for a 1 s answer among 1 ms ones). The 3 came from
 *    simulating sequential traffic with +-20 % jitter and 2 % of 2-5x outliers: identical nodes
 *    stay within 25-42 % over 300 requests, where 5 already lets outliers skew that.
 *  - peak sensitivity (Finagle): a sample above the decayed estimate replaces it at once; a lower
 *    one is averaged in with weight 1 - exp(-dt / tau). A node that turns slow loses traffic at
 *    its first slow answer.
 *  - a node without a sample costs 0, so it is tried at once, but a huge PENALTY while a request
 *    to it is in flight (Finagle), so a burst does not all go to the unknown node.
 *  - no forced pick: the decay brings idle nodes back, continuously rather than once a second.
 *  - slow start (Envoy's slow_start_window, aggression 1.0): a node that returns (lb.c: rejoin)
 *    starts with fresh scores, and until its window is over, when it wins a comparison it is
 *    taken only with probability max(10 %, elapsed / window), else the other node of the pair
 *    is. Its share grows about linearly to a fair one at the end of the window.
 */
#include <math.h>
#include "lb_int.h"

/* go-zero p2c.go constants. */
#define SUCCESS_DECAY (10 * CZ_NS_PER_SEC) /* decayTime, for the success score */
#define INIT_SUCCESS 1000                  /* initSuccess */
#define THROTTLE_SUCCESS (INIT_SUCCESS / 2)
#define PICK_TIMES 3
/* Latency decay: tau = DECAY_LAGS x lag, at most DECAY_MAX. */
#define DECAY_LAGS 3
#define DECAY_MAX CZ_NS_PER_SEC
/* Cost of a node without a sample while a request to it is in flight: above any real cost (ns x
 * requests), small enough that adding the in-flight count still changes it. */
#define PENALTY 1e15

#define NONE UINT32_MAX

static void p2c_node_added(cz_lb_t *lb, cz__lb_node_t *nd)
{
    (void)lb;
    __atomic_store_n(&nd->lag_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->success, INIT_SUCCESS, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->last_ns, 0, __ATOMIC_RELAXED);
}

/* exp(-x). With many requests x is tiny, and three Taylor terms are exact to 1e-6, plenty to
 * rank two nodes; libm's exp is for the rest. */
static inline double decay(double x)
{
    if (x < 1.0 / 64)
        return 1 - x * (1 - x * 0.5);
    return exp(-x);
}

/* ns as a double. Through int64_t: one instruction, where uint64_t takes a branch (the values
 * are far below 2^63). */
static inline double dbl(uint64_t ns) { return (double)(int64_t)ns; }

static inline double tau(uint64_t lag)
{
    return lag < DECAY_MAX / DECAY_LAGS ? dbl(lag * DECAY_LAGS) : dbl(DECAY_MAX);
}

static double cost(const cz__lb_node_t *nd, uint64_t now)
{
    uint64_t lag = __atomic_load_n(&nd->lag_ns, __ATOMIC_RELAXED);
    int64_t in = __atomic_load_n(&nd->inflight, __ATOMIC_RELAXED);
    if (in <= 0) {
        if (lag == 0)
            return 0;
        uint64_t last = __atomic_load_n(&nd->last_ns, __ATOMIC_RELAXED);
        return now > last ? dbl(lag) * decay(dbl(now - last) / tau(lag)) : dbl(lag);
    }
    return lag ? dbl(lag) * (double)(in + 1) : PENALTY + (double)in;
}

static int healthy(const cz__lb_node_t *nd)
{
    return __atomic_load_n(&nd->success, __ATOMIC_RELAXED) > THROTTLE_SUCCESS;
}

static uint32_t choose(cz_lb_t *lb, cz__lb_pickctx_t *c, uint32_t a, uint32_t b)
{
    if (b == NONE)
        return a;
    uint64_t now = cz__lb_now(lb, c);
    if (cost(&lb->nodes[a], now) > cost(&lb->nodes[b], now)) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    if (lb->slow_start) {
        uint64_t w = cz__lb_ss_weight(lb, &lb->nodes[a], now);
        if (w < lb->slow_start &&
            (uint64_t)(((unsigned __int128)cz__lb_rand(c) * lb->slow_start) >> 64) >= w)
            return b;
    }
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

static void p2c_done(cz_lb_t *lb, cz__lb_node_t *nd, int failed, uint64_t lat, int live,
                     uint64_t now)
{
    if (!live)
        return;
    if (!now)
        now = cz_clock_now_ns(lb->clock);
    /* go-zero swaps atomically; two done() racing on one node may both decay from the same
     * `last`, which only weighs one sample slightly more. A plain load/store skips a lock. */
    uint64_t last = __atomic_load_n(&nd->last_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->last_ns, now, __ATOMIC_RELAXED);
    uint64_t td = now > last ? now - last : 0;
    uint64_t olag = __atomic_load_n(&nd->lag_ns, __ATOMIC_RELAXED), nlag = lat;
    if (olag != 0) { /* else the first sample is taken as is (go-zero) */
        double w = decay(dbl(td) / tau(olag)), d = dbl(olag) * w;
        if (dbl(lat) < d) /* else the peak replaces the estimate */
            nlag = (uint64_t)(d * w + dbl(lat) * (1 - w));
    }
    __atomic_store_n(&nd->lag_ns, nlag, __ATOMIC_RELAXED);
    uint64_t osucc = __atomic_load_n(&nd->success, __ATOMIC_RELAXED);
    if (!failed && osucc == INIT_SUCCESS)
        return; /* the average of 1000s: nothing to compute */
    double ws = olag ? decay(dbl(td) / dbl(SUCCESS_DECAY)) : 0;
    double succ = failed ? 0 : INIT_SUCCESS;
    __atomic_store_n(&nd->success, (uint64_t)((double)osucc * ws + succ * (1 - ws)),
                     __ATOMIC_RELAXED);
}

const cz__lb_ops_t cz__lb_p2c_ops = {
    .name = "p2c",
    .size = sizeof(cz_lb_t),
    .node_added = p2c_node_added,
    .rejoined = p2c_node_added, /* atomic stores: safe beside picks */
    .pick = p2c_pick,
    .done = p2c_done,
};
