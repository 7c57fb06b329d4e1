/* SPDX-License-Identifier: MIT
 *
 * Tests for the consistent-hash balancer (src/core/lb/chash.c): a key keeps its node across calls
 * and rebuilds, about 1/N of keys move when one of N nodes leaves or joins (and only those of that
 * node), weights scale shares, down/tried nodes pass their keys on and get them back, and the
 * bounded-load option caps the node of a hot key at ceil((1+eps) x mean).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include "czero/balancer.h"

#define NKEYS 10000

static cz_lb_t *mk(double eps)
{
    cz_lb_opts_t o;
    cz_lb_opts_init(&o);
    o.seed = 1;
    o.chash_bound_eps = eps;
    cz_lb_t *lb = cz_lb_new(CZ_LB_CHASH, &o);
    cr_assert_not_null(lb);
    return lb;
}

static void add_nodes(cz_lb_t *lb, int from, int to)
{
    for (int i = from; i < to; i++) {
        char name[32];
        snprintf(name, sizeof(name), "10.0.0.%d:8080", i);
        cr_assert_eq(cz_lb_add(lb, name, 1, NULL, NULL), 0);
    }
}

/* Node name (its last octet) for every key. */
static void map_keys(cz_lb_t *lb, int *out)
{
    for (int k = 0; k < NKEYS; k++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "user:%d", k);
        size_t idx;
        cr_assert_eq(cz_lb_pick(lb, (cz_str_t){key, (size_t)n}, NULL, &idx), 0);
        out[k] = atoi(cz_lb_node_name(lb, idx) + 7);
        cz_lb_done(lb, idx, 0, 1);
    }
}

static int keys_a[NKEYS], keys_b[NKEYS];

Test(lb_chash, same_key_same_node_across_calls_and_rebuilds)
{
    cz_lb_t *x = mk(0), *y = mk(0);
    add_nodes(x, 0, 8);
    for (int i = 7; i >= 0; i--) /* other add order, so other slots */
        add_nodes(y, i, i + 1);
    map_keys(x, keys_a);
    map_keys(y, keys_b);
    cr_assert_arr_eq(keys_a, keys_b, sizeof(keys_a));
    map_keys(x, keys_b);
    cr_assert_arr_eq(keys_a, keys_b, sizeof(keys_a));
    /* remove and re-add a node: the ring is rebuilt, the mapping is the same */
    size_t idx;
    cr_assert_eq(cz_lb_find(x, "10.0.0.3:8080", &idx), 0);
    cr_assert_eq(cz_lb_remove(x, idx), 0);
    add_nodes(x, 3, 4);
    map_keys(x, keys_b);
    cr_assert_arr_eq(keys_a, keys_b, sizeof(keys_a));
    /* shares are roughly even with 100 virtual nodes each */
    int cnt[8] = {0};
    for (int k = 0; k < NKEYS; k++)
        cnt[keys_a[k]]++;
    for (int i = 0; i < 8; i++)
        cr_assert(cnt[i] > NKEYS / 8 / 2 && cnt[i] < NKEYS / 8 * 3 / 2, "node %d: %d", i, cnt[i]);
    cz_lb_free(x);
    cz_lb_free(y);
}

Test(lb_chash, about_one_nth_of_keys_move_on_leave_and_join)
{
    const int n = 10;
    cz_lb_t *lb = mk(0);
    add_nodes(lb, 0, n);
    map_keys(lb, keys_a);
    size_t idx;
    cr_assert_eq(cz_lb_find(lb, "10.0.0.4:8080", &idx), 0);
    cr_assert_eq(cz_lb_remove(lb, idx), 0);
    map_keys(lb, keys_b);
    int moved = 0;
    for (int k = 0; k < NKEYS; k++) {
        if (keys_a[k] != keys_b[k]) {
            moved++;
            cr_assert_eq(keys_a[k], 4, "key %d moved off a node that stayed", k);
        }
    }
    cr_log_info("leave: %d of %d keys moved (1/N = %d)", moved, NKEYS, NKEYS / n);
    cr_assert(moved > NKEYS / 2 / n && moved < NKEYS * 3 / 2 / n, "moved %d on leave", moved);

    /* join: an 11th node takes about 1/11, all moved keys go to it */
    add_nodes(lb, 4, 5);
    add_nodes(lb, n, n + 1);
    map_keys(lb, keys_a);
    cr_assert_eq(cz_lb_find(lb, "10.0.0.10:8080", &idx), 0);
    cr_assert_eq(cz_lb_remove(lb, idx), 0);
    map_keys(lb, keys_b); /* keys_b: 10 nodes, keys_a: 11 nodes */
    moved = 0;
    for (int k = 0; k < NKEYS; k++) {
        if (keys_a[k] != keys_b[k]) {
            moved++;
            cr_assert_eq(keys_a[k], 10, "key %d moved to an old node", k);
        }
    }
    cr_log_info("join: %d of %d keys moved (1/N = %d)", moved, NKEYS, NKEYS / (n + 1));
    cr_assert(moved > NKEYS / 2 / (n + 1) && moved < NKEYS * 3 / 2 / (n + 1), "moved %d", moved);
    cz_lb_free(lb);
}

Test(lb_chash, weight_scales_share)
{
    cz_lb_t *lb = mk(0);
    cr_assert_eq(cz_lb_add(lb, "10.0.0.0:1", 1, NULL, NULL), 0);
    cr_assert_eq(cz_lb_add(lb, "10.0.0.1:1", 3, NULL, NULL), 0);
    map_keys(lb, keys_a);
    int heavy = 0;
    for (int k = 0; k < NKEYS; k++)
        heavy += keys_a[k] == 1;
    cr_assert(heavy > NKEYS * 65 / 100 && heavy < NKEYS * 85 / 100, "heavy got %d", heavy);
    cz_lb_free(lb);
}

Test(lb_chash, down_and_tried_nodes_pass_keys_on_then_get_them_back)
{
    cz_lb_t *lb = mk(0);
    add_nodes(lb, 0, 5);
    map_keys(lb, keys_a);
    size_t idx;
    cr_assert_eq(cz_lb_find(lb, "10.0.0.2:8080", &idx), 0);
    cr_assert_eq(cz_lb_set_down(lb, idx, 1), 0);
    map_keys(lb, keys_b);
    for (int k = 0; k < NKEYS; k++)
        cr_assert(keys_a[k] == 2 ? keys_b[k] != 2 : keys_b[k] == keys_a[k]);
    cr_assert_eq(cz_lb_set_down(lb, idx, 0), 0);
    map_keys(lb, keys_b);
    cr_assert_arr_eq(keys_a, keys_b, sizeof(keys_a));

    /* a retry of a key avoids the tried node and lands on the same fallback each time */
    uint64_t tried[CZ_LB_TRIED_WORDS] = {0};
    size_t first, again, alt;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR("user:1"), NULL, &first), 0);
    cz_lb_done(lb, first, 0, 1);
    CZ_LB_TRIED_SET(tried, first);
    cr_assert_eq(cz_lb_pick(lb, CZ_STR("user:1"), tried, &alt), 0);
    cz_lb_done(lb, alt, 0, 1);
    cr_assert_eq(cz_lb_pick(lb, CZ_STR("user:1"), tried, &again), 0);
    cz_lb_done(lb, again, 0, 1);
    cr_assert_neq(alt, first);
    cr_assert_eq(alt, again);
    cz_lb_free(lb);
}

Test(lb_chash, empty_key_spreads_at_random)
{
    cz_lb_t *lb = mk(0);
    add_nodes(lb, 0, 4);
    int cnt[4] = {0};
    for (int i = 0; i < 4000; i++) {
        size_t idx;
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, NULL, &idx), 0);
        cnt[idx]++;
        cz_lb_done(lb, idx, 0, 1);
    }
    for (int i = 0; i < 4; i++)
        cr_assert(cnt[i] > 500 && cnt[i] < 1500, "node %d: %d", i, cnt[i]);
    cz_lb_free(lb);
}

Test(lb_chash, bounded_load_caps_a_hot_key)
{
    /* Unbounded: 100 concurrent requests for one key all sit on one node. */
    cz_lb_t *lb = mk(0);
    add_nodes(lb, 0, 4);
    size_t idx[100];
    for (int i = 0; i < 100; i++)
        cr_assert_eq(cz_lb_pick(lb, CZ_STR("hot"), NULL, &idx[i]), 0);
    cz_lb_node_stats_t st;
    cz_lb_node_stats(lb, idx[0], &st);
    cr_assert_eq(st.inflight, 100);
    for (int i = 0; i < 100; i++)
        cz_lb_done(lb, idx[i], 0, 1);
    cz_lb_free(lb);

    /* eps 0.25: no node above ceil(1.25 * in-flight / 4) at any moment. */
    lb = mk(0.25);
    add_nodes(lb, 0, 4);
    int64_t most = 0;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(cz_lb_pick(lb, CZ_STR("hot"), NULL, &idx[i]), 0);
        int64_t cap = (int64_t)ceil(1.25 * (i + 1) / 4);
        for (size_t s = 0; s < 4; s++) {
            cz_lb_node_stats(lb, s, &st);
            cr_assert(st.inflight <= cap, "node %zu: %ld > %ld", s, (long)st.inflight, (long)cap);
            most = st.inflight > most ? st.inflight : most;
        }
    }
    cr_assert_eq(most, 32); /* ceil(1.25 * 100 / 4) */
    /* the hot key's own node is the one that is full */
    cz_lb_node_stats(lb, idx[0], &st);
    cr_assert_eq(st.inflight, 32);
    for (int i = 0; i < 100; i++)
        cz_lb_done(lb, idx[i], 0, 1);
    /* load gone: the key is back on its own node */
    size_t again;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR("hot"), NULL, &again), 0);
    cr_assert_eq(again, idx[0]);
    cz_lb_done(lb, again, 0, 1);
    cz_lb_free(lb);
}
