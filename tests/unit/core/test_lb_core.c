/* SPDX-License-Identifier: MIT
 *
 * Tests for the balancer interface shared by all policies (src/core/lb/lb.c): argument checks,
 * slot bookkeeping, passive health (nginx max_fails / fail_timeout and the trial request), the
 * all-failed recovery, tried bitmaps and CZ_ENOSERVICE for every policy, and concurrent picks
 * while another thread adds and removes nodes (meant to run under ASan).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include "czero/balancer.h"

static const cz_lb_kind_t kinds[] = {CZ_LB_RR, CZ_LB_RANDOM, CZ_LB_SWRR, CZ_LB_CHASH, CZ_LB_P2C};
static cz_clock_manual_t clk;

static cz_lb_t *mk(cz_lb_kind_t kind, uint32_t max_fails, uint32_t max_nodes)
{
    cz_clock_manual_init(&clk, 50 * CZ_NS_PER_SEC);
    cz_lb_opts_t o;
    cz_lb_opts_init(&o);
    o.clock = &clk.clock;
    o.seed = 99;
    o.max_fails = max_fails;
    o.max_nodes = max_nodes;
    cz_lb_t *lb = cz_lb_new(kind, &o);
    cr_assert_not_null(lb);
    return lb;
}

Test(lb_core, arguments_and_slots)
{
    cz_lb_opts_t o;
    cz_lb_opts_init(&o);
    cr_assert_null(cz_lb_new((cz_lb_kind_t)42, &o));
    o.max_nodes = CZ_LB_MAX_NODES + 1;
    cr_assert_null(cz_lb_new(CZ_LB_RR, &o));
    cr_assert_str_eq(cz_lb_kind_name(CZ_LB_P2C), "p2c");
    cz_lb_t *def = cz_lb_new(CZ_LB_SWRR, NULL); /* defaults, system clock */
    cr_assert_not_null(def);
    cr_assert_eq(cz_lb_add(def, "a:1", 3, NULL, NULL), 0);
    size_t only;
    cr_assert_eq(cz_lb_pick(def, CZ_STR_NULL, NULL, &only), 0);
    cz_lb_done(def, only, 0, 1);
    cz_lb_free(def);

    cz_lb_t *lb = mk(CZ_LB_RR, 1, 2);
    int data = 7;
    size_t a, b, c;
    cr_assert_eq(cz_lb_add(lb, "", 1, NULL, NULL), CZ_EARG);
    cr_assert_eq(cz_lb_add(lb, "a:1", 0, NULL, NULL), CZ_EARG);
    cr_assert_eq(cz_lb_add(lb, "a:1", 1001, NULL, NULL), CZ_EARG);
    cr_assert_eq(cz_lb_add(lb, "a:1", 1, &data, &a), 0);
    cr_assert_eq(cz_lb_add(lb, "a:1", 1, NULL, NULL), CZ_EDUPLICATE);
    cr_assert_eq(cz_lb_add(lb, "b:1", 1, NULL, &b), 0);
    cr_assert_eq(cz_lb_add(lb, "c:1", 1, NULL, NULL), CZ_EFULL);
    cr_assert_eq(cz_lb_node_data(lb, a), &data);
    cr_assert_str_eq(cz_lb_node_name(lb, b), "b:1");
    cr_assert_null(cz_lb_node_name(lb, 5));
    cr_assert_eq(cz_lb_set_down(lb, 5, 1), CZ_ENOTFOUND);
    cr_assert_eq(cz_lb_find(lb, "zz", &c), CZ_ENOTFOUND);
    size_t idx;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, NULL), CZ_EARG);
    cr_assert_eq(cz_lb_pick(NULL, CZ_STR_NULL, NULL, &idx), CZ_EARG);

    /* a pick outlives the removal of its node: its done() is ignored, the slot is reused */
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cr_assert_eq(idx, a);
    cr_assert_eq(cz_lb_remove(lb, a), 0);
    cr_assert_eq(cz_lb_add(lb, "c:1", 1, NULL, &c), 0);
    cr_assert_eq(c, a);
    cz_lb_done(lb, idx, 1, 1);
    cz_lb_node_stats_t st;
    cr_assert_eq(cz_lb_node_stats(lb, c, &st), 0);
    cr_assert_eq(st.inflight, 0);
    cr_assert_eq(st.fails, 1); /* the reused slot took the late report: documented, rare */
    cr_assert_eq(cz_lb_size(lb), 2);
    cz_lb_done(lb, 9999, 1, 1); /* out of range: ignored */
    cz_lb_free(lb);
    cz_lb_free(NULL);
}

Test(lb_core, freed_slots_are_reused_oldest_first_after_fresh_ones)
{
    cz_lb_t *lb = mk(CZ_LB_RR, 1, 4);
    size_t s[4], x;
    cr_assert_eq(cz_lb_add(lb, "a:1", 1, NULL, &s[0]), 0);
    cr_assert_eq(cz_lb_add(lb, "b:1", 1, NULL, &s[1]), 0);
    cr_assert_eq(cz_lb_remove(lb, s[0]), 0);
    cr_assert_eq(cz_lb_add(lb, "c:1", 1, NULL, &x), 0);
    cr_assert_eq(x, 2); /* never-used slot first */
    cr_assert_eq(cz_lb_remove(lb, s[1]), 0);
    cr_assert_eq(cz_lb_add(lb, "d:1", 1, NULL, &x), 0);
    cr_assert_eq(x, 3);
    cr_assert_eq(cz_lb_add(lb, "e:1", 1, NULL, &x), 0);
    cr_assert_eq(x, s[0]); /* then the one freed longest ago */
    cr_assert_eq(cz_lb_add(lb, "f:1", 1, NULL, &x), 0);
    cr_assert_eq(x, s[1]);
    cz_lb_free(lb);
}

Test(lb_core, max_fails_disables_until_fail_timeout_then_one_trial)
{
    cz_lb_t *lb = mk(CZ_LB_RR, 1, 8);
    size_t a, b, idx;
    cz_lb_add(lb, "a:1", 1, NULL, &a);
    cz_lb_add(lb, "b:1", 1, NULL, &b);
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cz_lb_done(lb, idx, 0, 1);
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
    cr_assert_eq(idx, b);
    cz_lb_done(lb, b, 1, 1);
    cz_lb_node_stats_t st;
    cz_lb_node_stats(lb, b, &st);
    cr_assert(st.fails == 1 && !st.usable);
    for (int i = 0; i < 10; i++) { /* 10 s exactly: still out (nginx: now - checked <= t) */
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
        cr_assert_eq(idx, a);
        cz_lb_done(lb, idx, 0, 1);
        cz_clock_manual_advance(&clk, CZ_NS_PER_SEC);
    }
    cz_clock_manual_advance(&clk, 1);
    /* one trial request reaches b; while it is out, b is not picked again */
    int got_b = 0;
    size_t trial = 0;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
        if (idx == b) {
            got_b++;
            trial = idx;
        } else {
            cz_lb_done(lb, idx, 0, 1);
        }
    }
    cr_assert_eq(got_b, 1);
    cz_lb_done(lb, trial, 1, 1); /* the trial fails: out for another fail_timeout */
    cz_clock_manual_advance(&clk, 5 * CZ_NS_PER_SEC);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
        cr_assert_eq(idx, a);
        cz_lb_done(lb, idx, 0, 1);
    }
    cz_clock_manual_advance(&clk, 6 * CZ_NS_PER_SEC);
    got_b = 0;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
        got_b += idx == b;
        cz_lb_done(lb, idx, 0, 1); /* this time the trial succeeds: b is fully back */
    }
    cr_assert_eq(got_b, 2);
    cz_lb_node_stats(lb, b, &st);
    cr_assert(st.fails == 0 && st.usable);
    cz_lb_free(lb);
}

Test(lb_core, every_policy_avoids_tried_and_reports_no_service)
{
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        cz_lb_t *lb = mk(kinds[k], 1, 64);
        size_t idx;
        cr_assert_eq(cz_lb_pick(lb, CZ_STR("x"), NULL, &idx), CZ_ENOSERVICE); /* empty */
        for (int i = 0; i < 6; i++) {
            char name[16];
            snprintf(name, sizeof(name), "n%d:80", i);
            cr_assert_eq(cz_lb_add(lb, name, 1 + i, NULL, NULL), 0);
        }
        uint64_t tried[CZ_LB_TRIED_WORDS] = {0};
        for (int i = 0; i < 6; i++)
            if (i != 3)
                CZ_LB_TRIED_SET(tried, i);
        for (int i = 0; i < 50; i++) {
            char key[16];
            int n = snprintf(key, sizeof(key), "k%d", i);
            cr_assert_eq(cz_lb_pick(lb, (cz_str_t){key, (size_t)n}, tried, &idx), 0);
            cr_assert_eq(idx, 3, "%s picked %zu", cz_lb_kind_name(kinds[k]), idx);
            cz_lb_done(lb, idx, 0, 1000);
        }
        cr_assert_eq(cz_lb_set_down(lb, 3, 1), 0);
        cr_assert_eq(cz_lb_pick(lb, CZ_STR("k"), tried, &idx), CZ_ENOSERVICE);
        for (int i = 0; i < 6; i++)
            cr_assert_eq(cz_lb_set_down(lb, (size_t)i, 1), 0);
        for (int i = 0; i < 3; i++) /* admin down is not forgotten like failures are */
            cr_assert_eq(cz_lb_pick(lb, CZ_STR("k"), NULL, &idx), CZ_ENOSERVICE);
        cr_assert_eq(cz_lb_set_down(lb, 4, 0), 0);
        cr_assert_eq(cz_lb_pick(lb, CZ_STR("k"), NULL, &idx), 0);
        cr_assert_eq(idx, 4);
        cz_lb_done(lb, idx, 0, 1000);
        cz_lb_free(lb);
    }
}

Test(lb_core, all_failed_returns_no_service_once_then_recovers)
{
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        cz_lb_t *lb = mk(kinds[k], 1, 8);
        cz_lb_add(lb, "a:1", 1, NULL, NULL);
        cz_lb_add(lb, "b:1", 1, NULL, NULL);
        cz_lb_done(lb, 0, 1, 1);
        cz_lb_done(lb, 1, 1, 1);
        size_t idx;
        /* nginx: all peers failed -> busy now, failures forgotten for quick recovery */
        cr_assert_eq(cz_lb_pick(lb, CZ_STR("k"), NULL, &idx), CZ_ENOSERVICE);
        cr_assert_eq(cz_lb_pick(lb, CZ_STR("k"), NULL, &idx), 0);
        cz_lb_done(lb, idx, 0, 1);
        cz_lb_free(lb);
    }
}

/* ---- concurrency: two pickers, one writer churning nodes ---- */

typedef struct {
    cz_lb_t *lb;
    int iters;
    int bad;
} worker_t;

static void *picker(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < w->iters; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "k%d", i & 1023);
        size_t idx;
        int rc = cz_lb_pick(w->lb, (cz_str_t){key, (size_t)n}, NULL, &idx);
        /* the two stable nodes are always usable, so every pick must succeed */
        if (rc != 0 || idx >= 64) {
            w->bad++;
            continue;
        }
        cz_lb_done(w->lb, idx, (i % 97) == 0, 1000 + (uint64_t)(i & 7) * 100);
    }
    return NULL;
}

static void *churner(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < w->iters; i++) {
        char name[16];
        snprintf(name, sizeof(name), "churn%d:80", i % 5);
        size_t idx;
        if (cz_lb_find(w->lb, name, &idx) == 0) {
            if (cz_lb_remove(w->lb, idx) != 0)
                w->bad++;
        } else if (cz_lb_add(w->lb, name, 1 + (uint32_t)(i % 3), NULL, &idx) != 0) {
            w->bad++;
        } else if (i % 7 == 0) {
            cz_lb_set_down(w->lb, idx, 1);
        }
    }
    return NULL;
}

Test(lb_core, concurrent_picks_while_nodes_change)
{
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        cz_lb_opts_t o;
        cz_lb_opts_init(&o);
        o.max_nodes = 64;
        o.max_fails = 0; /* keep the two stable nodes usable throughout */
        o.chash_bound_eps = kinds[k] == CZ_LB_CHASH ? 0.25 : 0;
        cz_lb_t *lb = cz_lb_new(kinds[k], &o);
        cr_assert_not_null(lb);
        size_t s0, s1;
        cr_assert_eq(cz_lb_add(lb, "stable0:80", 1, NULL, &s0), 0);
        cr_assert_eq(cz_lb_add(lb, "stable1:80", 1, NULL, &s1), 0);
        worker_t p1 = {lb, 20000, 0}, p2 = {lb, 20000, 0}, ch = {lb, 400, 0};
        pthread_t t1, t2, t3;
        pthread_create(&t1, NULL, picker, &p1);
        pthread_create(&t2, NULL, picker, &p2);
        pthread_create(&t3, NULL, churner, &ch);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        pthread_join(t3, NULL);
        cr_assert_eq(p1.bad + p2.bad + ch.bad, 0, "%s", cz_lb_kind_name(kinds[k]));
        cz_lb_node_stats_t st;
        cr_assert_eq(cz_lb_node_stats(lb, s0, &st), 0);
        cr_assert_eq(st.inflight, 0);
        cr_assert_eq(cz_lb_node_stats(lb, s1, &st), 0);
        cr_assert_eq(st.inflight, 0);
        cr_assert_eq(cz_lb_size(lb), 2); /* each churn name was added and removed 80 times */
        cz_lb_free(lb);
    }
}
