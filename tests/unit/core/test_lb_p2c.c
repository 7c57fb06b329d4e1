/* SPDX-License-Identifier: MIT
 *
 * Tests for the P2C peak-EWMA balancer (src/core/lb/p2c.c): identical nodes share sequential
 * traffic, a slow node loses most of it, a node whose cost went up once is tried again as that
 * cost decays, the estimate is peak-sensitive and decays with time, requests in flight count in
 * the cost (and one that never returns keeps traffic away), a failing node loses its share, and
 * a node that returns ramps up over the slow-start window (or at once when slow start is off),
 * with one request at a time and with several in flight.
 *
 * Time is a manual clock. "Sequential requests" are simulated as a client would make them: a
 * pick, then the node's latency passes on the clock, then done() with that latency. Latencies
 * are jittered (+-20 %, and one request in 50 takes 2 to 5 times as long), as real ones are: with
 * exactly equal latencies every cost ties and even a balancer that never forgets looks fair.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include "czero/balancer.h"

static cz_clock_manual_t clk;
static uint64_t jit_state;

static cz_lb_t *mk_opts(int n, uint64_t seed, uint64_t slow_start_ns)
{
    cz_clock_manual_init(&clk, 100 * CZ_NS_PER_SEC);
    jit_state = seed * 0x9e3779b97f4a7c15ull + 1;
    cz_lb_opts_t o;
    cz_lb_opts_init(&o);
    cr_assert_eq(o.slow_start_ns, 10 * CZ_NS_PER_SEC, "default window");
    o.clock = &clk.clock;
    o.seed = seed;
    o.max_fails = 0; /* isolate p2c's own scores from passive health */
    o.slow_start_ns = slow_start_ns;
    cz_lb_t *lb = cz_lb_new(CZ_LB_P2C, &o);
    cr_assert_not_null(lb);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d:80", i);
        cr_assert_eq(cz_lb_add(lb, name, 1, NULL, NULL), 0);
    }
    return lb;
}

static cz_lb_t *mk(int n) { return mk_opts(n, 12345, 10 * CZ_NS_PER_SEC); }

static double unif(void) /* [0, 1), splitmix64 */
{
    uint64_t x = (jit_state += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return (double)((x ^ (x >> 31)) >> 11) / 9007199254740992.0;
}

static uint64_t jitter(uint64_t base)
{
    double l = (double)base * (0.8 + 0.4 * unif());
    if (unif() < 0.02)
        l *= 2 + 3 * unif();
    return (uint64_t)l;
}

static uint64_t now(void) { return cz_clock_now_ns(&clk.clock); }

/* One sequential request: pick, the node's (jittered) latency passes, done. */
static size_t seq1(cz_lb_t *lb, const uint64_t *base)
{
    size_t idx;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    uint64_t lat = jitter(base[idx]);
    cz_clock_manual_advance(&clk, lat);
    cz_lb_done(lb, idx, 0, lat);
    return idx;
}

/* One request with a fixed step and latency (for the tests of the arithmetic). */
static size_t run1(cz_lb_t *lb, const uint64_t *lat, const int *fail, uint64_t step)
{
    size_t idx;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cz_clock_manual_advance(&clk, step);
    cz_lb_done(lb, idx, fail ? fail[idx] : 0, lat[idx]);
    return idx;
}

Test(lb_p2c, identical_nodes_share_600_sequential_picks)
{
    const uint64_t base[3] = {CZ_NS_PER_MS, CZ_NS_PER_MS, CZ_NS_PER_MS};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        cz_lb_t *lb = mk_opts(3, seed, 10 * CZ_NS_PER_SEC);
        int cnt[3] = {0};
        for (int i = 0; i < 600; i++)
            cnt[seq1(lb, base)]++;
        cr_log_info("seed %lu: %d %d %d", (unsigned long)seed, cnt[0], cnt[1], cnt[2]);
        for (int i = 0; i < 3; i++) /* 25 % .. 42 % */
            cr_assert(cnt[i] >= 150 && cnt[i] <= 252, "seed %lu: node %d got %d of 600 (%d %d %d)",
                      (unsigned long)seed, i, cnt[i], cnt[0], cnt[1], cnt[2]);
        cz_lb_free(lb);
    }
}

Test(lb_p2c, a_node_10x_slower_gets_a_small_share)
{
    const uint64_t base[3] = {CZ_NS_PER_MS, CZ_NS_PER_MS, 10 * CZ_NS_PER_MS};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        cz_lb_t *lb = mk_opts(3, seed, 10 * CZ_NS_PER_SEC);
        int slow = 0;
        for (int i = 0; i < 600; i++)
            slow += seq1(lb, base) == 2;
        cr_log_info("seed %lu: the 10x node got %d of 600", (unsigned long)seed, slow);
        cr_assert_lt(slow, 60, "seed %lu: the 10x node got %d of 600", (unsigned long)seed, slow);
        cz_lb_free(lb);
    }
}

Test(lb_p2c, traffic_leaves_a_node_made_slow_which_is_still_probed)
{
    cz_lb_t *lb = mk(3);
    uint64_t base[3] = {CZ_NS_PER_MS, CZ_NS_PER_MS, CZ_NS_PER_MS};
    for (int i = 0; i < 600; i++)
        seq1(lb, base);
    base[2] = 100 * CZ_NS_PER_MS;
    for (int i = 0; i < 200; i++) /* it answers a request or two slowly */
        seq1(lb, base);
    int slow = 0;
    uint64_t t0 = now();
    for (int i = 0; i < 5000; i++)
        slow += seq1(lb, base) == 2;
    cr_log_info("slow node: %d of 5000 in %.1f s", slow, (double)(now() - t0) / 1e9);
    cr_assert_lt(slow, 100, "slow node got %d of 5000", slow);
    /* its cost decays while it is idle, so it is tried again (every second and a half here) */
    cr_assert_geq(slow, 2, "slow node got %d of 5000", slow);
    cz_lb_free(lb);
}

Test(lb_p2c, a_node_whose_cost_went_up_once_is_tried_again_as_it_decays)
{
    cz_lb_t *lb = mk(2);
    size_t idx;
    /* node 1 answers its first request in 30 ms (a cold connection), node 0 in 1 ms */
    uint64_t t_out = 0;
    int seen1 = 0;
    while (!seen1) {
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
        uint64_t lat = idx == 1 ? 30 * CZ_NS_PER_MS : CZ_NS_PER_MS;
        cz_clock_manual_advance(&clk, lat);
        cz_lb_done(lb, idx, 0, lat);
        if (idx == 1) {
            seen1 = 1;
            t_out = now();
        }
    }
    /* from then on both take 1 ms: node 1 comes back once 30 ms * exp(-t / (3 * 30 ms)) is
     * below node 0's 1 ms, after about 300 ms (go-zero: its 30 ms stays until a forced pick
     * after a second, then again and again until a 1 ms sample averages it down) */
    uint64_t back = 0;
    for (int i = 0; i < 2000 && !back; i++) {
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
        if (idx == 1)
            back = now() - t_out;
        cz_clock_manual_advance(&clk, CZ_NS_PER_MS);
        cz_lb_done(lb, idx, 0, CZ_NS_PER_MS);
    }
    cr_log_info("node 1 picked again after %lu ms", (unsigned long)(back / CZ_NS_PER_MS));
    cr_assert_gt(back, 200 * CZ_NS_PER_MS, "back after %lu ns", (unsigned long)back);
    cr_assert_lt(back, 500 * CZ_NS_PER_MS, "back after %lu ns", (unsigned long)back);
    int cnt[2] = {0};
    const uint64_t lat[2] = {CZ_NS_PER_MS, CZ_NS_PER_MS};
    for (int i = 0; i < 200; i++)
        cnt[run1(lb, lat, NULL, CZ_NS_PER_MS)]++;
    cr_assert(cnt[1] >= 70 && cnt[1] <= 130, "then it shares again: %d of 200", cnt[1]);
    cz_lb_free(lb);
}

Test(lb_p2c, ewma_is_peak_sensitive_and_decays_with_time)
{
    cz_lb_t *lb = mk(1);
    size_t idx;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cz_lb_done(lb, idx, 0, 4000000); /* first sample is taken as is */
    cz_lb_node_stats_t st;
    cz_lb_node_stats(lb, idx, &st);
    cr_assert_eq(st.ewma_lag_ns, 4000000);
    cr_assert_eq(st.success, 1000);

    /* half a decay time (3 x 4 ms) later, a lower sample: the estimate decayed toward 0 by
     * w = exp(-1/2), then averaged with the sample with the same weight; success follows
     * go-zero (10 s decay) */
    cz_clock_manual_advance(&clk, 6 * CZ_NS_PER_MS);
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cz_lb_done(lb, idx, 1, 1000000);
    cz_lb_node_stats(lb, idx, &st);
    double w = exp(-0.5), ws = exp(-6e6 / 1e10);
    double want = 4e6 * w * w + 1e6 * (1 - w);
    cr_assert(fabs((double)st.ewma_lag_ns - want) <= 2.0, "lag %lu, want %.0f",
              (unsigned long)st.ewma_lag_ns, want);
    cr_assert(fabs((double)st.success - 1000 * ws) <= 1.0, "success %lu",
              (unsigned long)st.success);

    /* a sample above the estimate replaces it at once */
    cz_clock_manual_advance(&clk, CZ_NS_PER_MS);
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cz_lb_done(lb, idx, 0, 9000000);
    cz_lb_node_stats(lb, idx, &st);
    cr_assert_eq(st.ewma_lag_ns, 9000000);
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

Test(lb_p2c, requests_that_do_not_return_keep_traffic_away)
{
    /* A node that stops answering reports nothing; its cost must not decay meanwhile (that
     * would draw ever more requests into it), and the requests it holds add to its cost. */
    cz_lb_t *lb = mk(3);
    const uint64_t base[3] = {CZ_NS_PER_MS, CZ_NS_PER_MS, CZ_NS_PER_MS};
    for (int i = 0; i < 300; i++)
        seq1(lb, base);
    int held = 0;
    for (int i = 0; i < 3000; i++) {
        size_t idx;
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
        if (idx == 2) {
            held++; /* never done */
            continue;
        }
        uint64_t lat = jitter(base[idx]);
        cz_clock_manual_advance(&clk, lat);
        cz_lb_done(lb, idx, 0, lat);
    }
    /* It holds a few: held + 1 times its last latency is a cost the others reach only with
     * their slowest answers (5x here). A decaying cost would have drawn about every request. */
    cr_log_info("the hung node holds %d requests", held);
    cr_assert_leq(held, 8, "the hung node took %d requests", held);
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

/* ---- slow start ---- */

/* Sequential 10 ms requests for `window` from the node's return: picks of node `who` and all
 * picks in the first tenth and the last fifth of the window. */
typedef struct {
    int first, first_n, last, last_n;
} ramp_t;

static ramp_t ramp(cz_lb_t *lb, size_t who, uint64_t window)
{
    const uint64_t base[3] = {10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS};
    ramp_t r = {0};
    uint64_t t0 = now();
    while (now() - t0 < window) {
        uint64_t t = now() - t0;
        size_t idx = seq1(lb, base);
        if (t < window / 10)
            r.first_n++, r.first += idx == who;
        else if (t >= window - window / 5)
            r.last_n++, r.last += idx == who;
    }
    cr_log_info("returning node: %d of %d at first, %d of %d at the end", r.first, r.first_n,
                r.last, r.last_n);
    return r;
}

static void warm(cz_lb_t *lb, int n)
{
    const uint64_t base[3] = {10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS};
    for (int i = 0; i < n; i++)
        seq1(lb, base);
}

Test(lb_p2c, a_returning_node_ramps_up_over_the_slow_start_window)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        cz_lb_t *lb = mk_opts(3, seed, 10 * CZ_NS_PER_SEC);
        warm(lb, 300);
        cr_assert_eq(cz_lb_set_down(lb, 2, 1), 0); /* ejected, or failed its health checks */
        warm(lb, 300);
        cr_assert_eq(cz_lb_set_down(lb, 2, 0), 0); /* back */
        cz_lb_node_stats_t st;
        cz_lb_node_stats(lb, 2, &st);
        cr_assert_eq(st.slow_start_pct, 10, "slow start begins at min_weight_percent");
        ramp_t r = ramp(lb, 2, 10 * CZ_NS_PER_SEC);
        cr_assert_lt(r.first * 5, r.first_n, "seed %lu: %d of %d in the first second (< 20 %%)",
                     (unsigned long)seed, r.first, r.first_n);
        cr_assert_geq(r.last * 4, r.last_n, "seed %lu: %d of %d in the last 2 s (>= 25 %%)",
                      (unsigned long)seed, r.last, r.last_n);
        cz_lb_node_stats(lb, 2, &st);
        cr_assert_eq(st.slow_start_pct, 100, "the window is over");
        int cnt = 0;
        const uint64_t base[3] = {10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS};
        for (int i = 0; i < 600; i++)
            cnt += seq1(lb, base) == 2;
        cr_assert(cnt >= 150 && cnt <= 252, "seed %lu: after the window %d of 600",
                  (unsigned long)seed, cnt);
        cz_lb_free(lb);
    }
}

Test(lb_p2c, without_slow_start_a_returning_node_gets_its_share_at_once)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        cz_lb_t *lb = mk_opts(3, seed, 0);
        warm(lb, 300);
        cr_assert_eq(cz_lb_set_down(lb, 2, 1), 0);
        warm(lb, 300);
        cr_assert_eq(cz_lb_set_down(lb, 2, 0), 0);
        cz_lb_node_stats_t st;
        cz_lb_node_stats(lb, 2, &st);
        cr_assert_eq(st.slow_start_pct, 100);
        const uint64_t base[3] = {10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS};
        int first = 0, cnt = 0;
        for (int i = 0; i < 300; i++) { /* 3 s */
            int k = seq1(lb, base) == 2;
            cnt += k;
            first += i < 30 && k;
        }
        cr_log_info("seed %lu: %d of the first 30, %d of 300", (unsigned long)seed, first, cnt);
        cr_assert_geq(first, 6, "seed %lu: %d of the first 30 picks", (unsigned long)seed, first);
        cr_assert(cnt >= 75 && cnt <= 126, "seed %lu: %d of 300 (25 %% .. 42 %%)",
                  (unsigned long)seed, cnt);
        cz_lb_free(lb);
    }
}

Test(lb_p2c, a_slow_node_that_returns_starts_afresh)
{
    /* Its latency estimate from before it left is forgotten: it was slow then (why it was
     * ejected, say), it may be fine now. */
    cz_lb_t *lb = mk_opts(3, 7, 0);
    uint64_t base[3] = {10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS};
    for (int i = 0; i < 300; i++)
        seq1(lb, base);
    base[2] = 5 * CZ_NS_PER_SEC;
    while (seq1(lb, base) != 2)
        ;
    cz_lb_node_stats_t st;
    cz_lb_node_stats(lb, 2, &st);
    cr_assert_geq(st.ewma_lag_ns, 4 * CZ_NS_PER_SEC);
    cr_assert_eq(cz_lb_set_down(lb, 2, 1), 0);
    cr_assert_eq(cz_lb_set_down(lb, 2, 0), 0);
    cz_lb_node_stats(lb, 2, &st);
    cr_assert_eq(st.ewma_lag_ns, 0);
    cr_assert_eq(st.success, 1000);
    base[2] = 10 * CZ_NS_PER_MS;
    int cnt = 0;
    for (int i = 0; i < 30; i++)
        cnt += seq1(lb, base) == 2;
    cr_assert_geq(cnt, 5, "%d of the first 30 picks", cnt);
    cz_lb_free(lb);
}

Test(lb_p2c, a_node_added_to_a_running_cluster_slow_starts_with_rejoin)
{
    cz_lb_t *lb = mk_opts(2, 3, 10 * CZ_NS_PER_SEC);
    warm(lb, 300);
    size_t idx;
    cr_assert_eq(cz_lb_add(lb, "n2:80", 1, NULL, &idx), 0);
    cr_assert_eq(idx, 2);
    cz_lb_node_stats_t st;
    cz_lb_node_stats(lb, 2, &st);
    cr_assert_eq(st.slow_start_pct, 100, "an added node takes its share at once");
    cr_assert_eq(cz_lb_rejoin(lb, idx), 0);
    cz_lb_node_stats(lb, 2, &st);
    cr_assert_eq(st.slow_start_pct, 10);
    ramp_t r = ramp(lb, 2, 10 * CZ_NS_PER_SEC);
    cr_assert_lt(r.first * 5, r.first_n);
    cr_assert_geq(r.last * 4, r.last_n);
    cr_assert_eq(cz_lb_rejoin(lb, 7), CZ_ENOTFOUND);
    cz_lb_free(lb);
}

Test(lb_p2c, slow_start_factor_grows_linearly_from_ten_percent)
{
    cz_lb_t *lb = mk_opts(2, 5, 10 * CZ_NS_PER_SEC);
    cr_assert_eq(cz_lb_rejoin(lb, 1), 0);
    cz_lb_node_stats_t st;
    const struct {
        uint64_t at_ms;
        uint32_t pct;
    } steps[] = {{0, 10}, {500, 10}, {1000, 10}, {2500, 25}, {5000, 50}, {9990, 99}, {10000, 100}};
    uint64_t t0 = now() | 1; /* what the balancer stamps: never 0 */
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        cz_clock_manual_set(&clk, t0 + steps[i].at_ms * CZ_NS_PER_MS);
        cz_lb_node_stats(lb, 1, &st);
        cr_assert_eq(st.slow_start_pct, steps[i].pct, "at %lu ms: %u",
                     (unsigned long)steps[i].at_ms, st.slow_start_pct);
    }
    cz_lb_free(lb);
}

/* ---- with requests in flight ---- */

#define CONC 8

typedef struct {
    size_t idx;
    uint64_t lat, end;
} flight_t;

static void start(cz_lb_t *lb, flight_t *f, const uint64_t *base)
{
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &f->idx), 0);
    f->lat = jitter(base[f->idx]);
    f->end = now() + f->lat;
}

/* CONC clients, each sending its next request when the last one is answered: the earliest
 * answer ends, the clock moves to it, the client picks again. Returns the node picked. */
static size_t step(cz_lb_t *lb, flight_t *fl, const uint64_t *base)
{
    int k = 0;
    for (int i = 1; i < CONC; i++)
        if (fl[i].end < fl[k].end)
            k = i;
    if (fl[k].end > now())
        cz_clock_manual_set(&clk, fl[k].end);
    cz_lb_done(lb, fl[k].idx, 0, fl[k].lat);
    start(lb, &fl[k], base);
    return fl[k].idx;
}

Test(lb_p2c, with_requests_in_flight_identical_nodes_share_and_a_returning_node_ramps_up)
{
    const uint64_t base[3] = {10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS, 10 * CZ_NS_PER_MS};
    cz_lb_t *lb = mk_opts(3, 11, 10 * CZ_NS_PER_SEC);
    flight_t fl[CONC];
    for (int i = 0; i < CONC; i++)
        start(lb, &fl[i], base);
    int cnt[3] = {0};
    for (int i = 0; i < 3000; i++)
        cnt[step(lb, fl, base)]++;
    cr_log_info("%d in flight: %d %d %d", CONC, cnt[0], cnt[1], cnt[2]);
    for (int i = 0; i < 3; i++)
        cr_assert(cnt[i] >= 750 && cnt[i] <= 1260, "node %d: %d of 3000", i, cnt[i]);

    cr_assert_eq(cz_lb_set_down(lb, 2, 1), 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_neq(step(lb, fl, base), 2);
    cr_assert_eq(cz_lb_set_down(lb, 2, 0), 0);
    int first = 0, first_n = 0, last = 0, last_n = 0;
    uint64_t t0 = now();
    while (now() - t0 < 10 * CZ_NS_PER_SEC) {
        uint64_t t = now() - t0;
        int hit = step(lb, fl, base) == 2;
        if (t < CZ_NS_PER_SEC)
            first += hit, first_n++;
        else if (t >= 8 * CZ_NS_PER_SEC)
            last += hit, last_n++;
    }
    cr_log_info("returning node, %d in flight: %d of %d at first, %d of %d at the end", CONC,
                first, first_n, last, last_n);
    cr_assert_lt(first * 5, first_n);
    cr_assert_geq(first, first_n / 50, "it is tried from the start");
    cr_assert_geq(last * 4, last_n);
    for (int i = 0; i < CONC; i++)
        cz_lb_done(lb, fl[i].idx, 0, fl[i].lat);
    cz_lb_free(lb);
}
