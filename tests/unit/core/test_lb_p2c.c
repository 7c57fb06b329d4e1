/* SPDX-License-Identifier: MIT
 *
 * Tests for the P2C EWMA balancer (src/core/lb/p2c.c, go-zero p2c_ewma): traffic leaves a node
 * made slow, a node not chosen for over a second is force-picked once per second, the EWMA and
 * success scores follow go-zero's decay formula exactly, in-flight counts enter the load, and a
 * failing node loses its share. Time is a manual clock; latencies are injected.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include "czero/balancer.h"

static cz_clock_manual_t clk;

static cz_lb_t *mk(int n)
{
    cz_clock_manual_init(&clk, 100 * CZ_NS_PER_SEC);
    cz_lb_opts_t o;
    cz_lb_opts_init(&o);
    o.clock = &clk.clock;
    o.seed = 12345;
    o.max_fails = 0; /* isolate p2c's own scores from passive health */
    cz_lb_t *lb = cz_lb_new(CZ_LB_P2C, &o);
    cr_assert_not_null(lb);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d:80", i);
        cr_assert_eq(cz_lb_add(lb, name, 1, NULL, NULL), 0);
    }
    return lb;
}

/* One request: pick, let `step` pass, report lat[idx] (and failure if fail[idx]). */
static size_t run1(cz_lb_t *lb, const uint64_t *lat, const int *fail, uint64_t step)
{
    size_t idx;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cz_clock_manual_advance(&clk, step);
    cz_lb_done(lb, idx, fail ? fail[idx] : 0, lat[idx]);
    return idx;
}

Test(lb_p2c, traffic_leaves_a_node_made_slow)
{
    cz_lb_t *lb = mk(3);
    uint64_t lat[3] = {CZ_NS_PER_MS, CZ_NS_PER_MS, CZ_NS_PER_MS};
    int cnt[3] = {0};
    for (int i = 0; i < 3000; i++)
        cnt[run1(lb, lat, NULL, CZ_NS_PER_MS)]++;
    for (int i = 0; i < 3; i++) /* equal nodes share the load */
        cr_assert(cnt[i] > 600, "node %d: %d", i, cnt[i]);

    lat[2] = 100 * CZ_NS_PER_MS;
    for (int i = 0; i < 2000; i++) /* warm-up: the EWMA learns */
        run1(lb, lat, NULL, CZ_NS_PER_MS);
    int slow = 0;
    for (int i = 0; i < 5000; i++)
        slow += run1(lb, lat, NULL, CZ_NS_PER_MS) == 2;
    cr_log_info("slow node: %d of 5000", slow);
    cr_assert(slow < 500, "slow node got %d of 5000", slow);
    cr_assert(slow >= 4, "force pick should still probe it about once a second, got %d", slow);
    cz_lb_free(lb);
}

Test(lb_p2c, idle_node_is_force_picked_once_per_second)
{
    cz_lb_t *lb = mk(2);
    uint64_t lat[2] = {CZ_NS_PER_MS, 50 * CZ_NS_PER_MS};
    uint64_t t_last = 0, forced = 0;
    for (int i = 0; i < 10; i++) { /* both get a first sample */
        uint64_t now = cz_clock_now_ns(&clk.clock);
        if (run1(lb, lat, NULL, CZ_NS_PER_MS) == 1)
            t_last = now;
    }
    cr_assert_neq(t_last, 0);
    cz_lb_node_stats_t st;
    cz_lb_node_stats(lb, 1, &st);
    cr_assert_eq(st.ewma_lag_ns, 50 * CZ_NS_PER_MS);

    /* From here on node 1 always loses on load; it is chosen only when its last pick is more
     * than forcePick (1 s) old. 10 ms per request over 3.5 s: exactly three forced picks. */
    uint64_t when[8];
    for (int i = 0; i < 350; i++) {
        uint64_t now = cz_clock_now_ns(&clk.clock);
        if (run1(lb, lat, NULL, 10 * CZ_NS_PER_MS) == 1) {
            cr_assert_lt(forced, 8);
            when[forced++] = now;
        }
    }
    cr_assert_eq(forced, 3);
    for (uint64_t k = 0; k < forced; k++) {
        cr_assert_gt(when[k] - t_last, CZ_NS_PER_SEC);
        cr_assert_leq(when[k] - t_last, CZ_NS_PER_SEC + 20 * CZ_NS_PER_MS);
        t_last = when[k];
    }
    cz_lb_free(lb);
}

Test(lb_p2c, ewma_follows_go_zero_decay)
{
    cz_lb_t *lb = mk(1);
    size_t idx;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cz_lb_done(lb, idx, 0, 4000000); /* first sample is taken as is */
    cz_lb_node_stats_t st;
    cz_lb_node_stats(lb, idx, &st);
    cr_assert_eq(st.ewma_lag_ns, 4000000);
    cr_assert_eq(st.success, 1000);

    cz_clock_manual_advance(&clk, 10 * CZ_NS_PER_SEC); /* one decayTime: w = 1/e */
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cz_lb_done(lb, idx, 1, 1000000);
    cz_lb_node_stats(lb, idx, &st);
    double w = exp(-1.0);
    cr_assert(fabs((double)st.ewma_lag_ns - (4e6 * w + 1e6 * (1 - w))) <= 1.0, "lag %lu",
              (unsigned long)st.ewma_lag_ns);
    cr_assert(fabs((double)st.success - 1000 * w) <= 1.0, "success %lu",
              (unsigned long)st.success);
    cz_lb_free(lb);
}

Test(lb_p2c, inflight_requests_count_in_the_load)
{
    cz_lb_t *lb = mk(2);
    uint64_t lat[2] = {CZ_NS_PER_MS, CZ_NS_PER_MS};
    run1(lb, lat, NULL, CZ_NS_PER_MS);
    run1(lb, lat, NULL, CZ_NS_PER_MS);
    /* equal latency: requests held open spread evenly, as load = lag * (inflight + 1) */
    size_t idx[40];
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx[i]), 0);
        cz_lb_node_stats_t a, b;
        cz_lb_node_stats(lb, 0, &a);
        cz_lb_node_stats(lb, 1, &b);
        cr_assert(llabs(a.inflight - b.inflight) <= 1, "%ld vs %ld", (long)a.inflight,
                  (long)b.inflight);
    }
    for (int i = 0; i < 40; i++)
        cz_lb_done(lb, idx[i], 0, CZ_NS_PER_MS);
    cz_lb_node_stats_t a;
    cz_lb_node_stats(lb, 0, &a);
    cr_assert_eq(a.inflight, 0);
    cz_lb_free(lb);
}

Test(lb_p2c, failing_node_loses_its_share)
{
    cz_lb_t *lb = mk(5);
    uint64_t lat[5] = {CZ_NS_PER_MS, CZ_NS_PER_MS, CZ_NS_PER_MS, CZ_NS_PER_MS, CZ_NS_PER_MS};
    int fail[5] = {0, 0, 0, 0, 1};
    int bad = 0;
    for (int i = 0; i < 5000; i++)
        bad += run1(lb, lat, fail, CZ_NS_PER_MS) == 4;
    cz_lb_node_stats_t st;
    cz_lb_node_stats(lb, 4, &st);
    cr_assert_lt(st.success, 500); /* below throttleSuccess: unhealthy */
    cr_log_info("failing node: %d of 5000", bad);
    cr_assert(bad < 500, "failing node got %d of 5000 (a fair share is 1000)", bad);
    cz_lb_free(lb);
}
