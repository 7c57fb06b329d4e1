/* SPDX-License-Identifier: MIT
 *
 * Tests for nginx smooth weighted round robin (src/core/lb/swrr.c): the exact 5,1,1 sequence,
 * the sequence after a failure lowers a node's effective weight and its recovery by one unit per
 * pick, and a node disabled by max_fails coming back after fail_timeout. Expected sequences were
 * worked out by hand from ngx_http_upstream_get_peer / ngx_http_upstream_free_round_robin_peer.
 */
#include <criterion/criterion.h>
#include "czero/balancer.h"

static cz_clock_manual_t clk;

static cz_lb_t *mk(uint32_t max_fails, const char *names, const uint32_t *w)
{
    cz_clock_manual_init(&clk, 1000 * CZ_NS_PER_SEC);
    cz_lb_opts_t o;
    cz_lb_opts_init(&o);
    o.clock = &clk.clock;
    o.max_fails = max_fails;
    cz_lb_t *lb = cz_lb_new(CZ_LB_SWRR, &o);
    cr_assert_not_null(lb);
    for (int i = 0; names[i]; i++) {
        char name[8] = {names[i], ':', '8', '0', 0};
        cr_assert_eq(cz_lb_add(lb, name, w[i], NULL, NULL), 0);
    }
    return lb;
}

static char pick1(cz_lb_t *lb, size_t *idx)
{
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, idx), 0);
    return cz_lb_node_name(lb, *idx)[0];
}

static void seq(cz_lb_t *lb, int k, char *out)
{
    for (int i = 0; i < k; i++) {
        size_t idx;
        out[i] = pick1(lb, &idx);
        cz_lb_done(lb, idx, 0, 1000);
    }
    out[k] = 0;
}

static int64_t eff(cz_lb_t *lb, size_t idx)
{
    cz_lb_node_stats_t st;
    cr_assert_eq(cz_lb_node_stats(lb, idx, &st), 0);
    return st.effective_weight;
}

Test(lb_swrr, nginx_sequence_for_5_1_1)
{
    cz_lb_t *lb = mk(1, "abc", (uint32_t[]){5, 1, 1});
    char s[32];
    seq(lb, 14, s);
    cr_assert_str_eq(s, "aabacaaaabacaa");
    cz_lb_free(lb);
}

Test(lb_swrr, failure_lowers_effective_weight_then_it_recovers)
{
    /* Baseline for 2,8: b b a b b b b a b b b b. */
    cz_lb_t *lb = mk(2, "ab", (uint32_t[]){2, 8});
    char s[32];
    seq(lb, 12, s);
    cr_assert_str_eq(s, "bbabbbbabbbb");
    cz_lb_free(lb);

    /* Same start, but the first request (on b) fails: effective 8 - 8/max_fails = 4, one unit
     * back per pick, so a gets its turns earlier: b a b b b a b b b b a b. */
    lb = mk(2, "ab", (uint32_t[]){2, 8});
    size_t b;
    cr_assert_eq(pick1(lb, &b), 'b');
    cz_lb_done(lb, b, 1, 1000);
    cr_assert_eq(eff(lb, b), 4);
    char rest[32];
    int64_t effs[5];
    for (int i = 0; i < 11; i++) {
        size_t idx;
        rest[i] = pick1(lb, &idx);
        cz_lb_done(lb, idx, 0, 1000);
        if (i < 5)
            effs[i] = eff(lb, b);
    }
    rest[11] = 0;
    cr_assert_str_eq(rest, "abbbabbbbab");
    cr_assert(effs[0] == 5 && effs[1] == 6 && effs[2] == 7 && effs[3] == 8 && effs[4] == 8);
    cz_lb_free(lb);
}

Test(lb_swrr, disabled_by_max_fails_until_fail_timeout)
{
    cz_lb_t *lb = mk(1, "ab", (uint32_t[]){1, 1});
    size_t idx, b;
    cr_assert_eq(pick1(lb, &idx), 'a');
    cz_lb_done(lb, idx, 0, 1);
    cr_assert_eq(pick1(lb, &b), 'b');
    cz_lb_done(lb, b, 1, 1); /* max_fails 1: b is out for 10 s, effective weight 0 */
    cr_assert_eq(eff(lb, b), 0);
    for (int i = 0; i < 20; i++) {
        cz_clock_manual_advance(&clk, 400 * CZ_NS_PER_MS); /* 8 s in all */
        cr_assert_eq(pick1(lb, &idx), 'a');
        cz_lb_done(lb, idx, 0, 1);
    }
    cz_clock_manual_advance(&clk, 2001 * CZ_NS_PER_MS); /* past fail_timeout */
    /* b is back with effective weight 0, growing by one per pick (slow start), so a wins the
     * first pass outright and the tie on the second: a a b a. */
    char s[8];
    seq(lb, 4, s);
    cr_assert_str_eq(s, "aaba");
    cz_lb_node_stats_t st;
    cz_lb_node_stats(lb, b, &st);
    cr_assert_eq(st.fails, 0); /* the trial succeeded */
    cr_assert_eq(st.effective_weight, 1);
    cz_lb_free(lb);
}
