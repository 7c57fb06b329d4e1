/* SPDX-License-Identifier: MIT
 *
 * test_upstream.c: the upstream cluster without a network: its config table and checks, passive
 * ejection with doubling back-off on a manual clock, active-check thresholds, node-set changes
 * as discovery would make them, and p2c's slow start for a node that returns from each of
 * those. Calls over real sockets are in
 * tests/integration/test_upstream.c.
 */
#include <criterion/criterion.h>
#include <string.h>
#include "czero/czero.h"
#include "czero/upstream.h"
#include "gateway/gw_int.h"

static int load(const char *yaml, cz_upstream_conf_t *c, cz_diag_t *d)
{
    memset(d, 0, sizeof *d);
    memset(c, 0, sizeof *c); /* the loader zeroes only what its table describes, not .clock */
    int rc = cz_conf_load_string("up.yaml", yaml, strlen(yaml), cz_upstream_conf_fields, c, d);
    if (rc == 0)
        rc = cz_upstream_conf_check(c, "Upstreams[0]", d);
    return rc;
}

Test(upstream_conf, defaults_follow_nginx_and_envoy)
{
    cz_upstream_conf_t c;
    cz_diag_t d;
    cr_assert_eq(load("Name: users\nNodes:\n  - Addr: 127.0.0.1:8001\n", &c, &d), 0, "%s",
                 d.msg);
    cr_expect_eq(c.policy, CZ_UP_P2C_EWMA);
    cr_expect_eq(c.pool.size, 64);
    cr_expect_eq(c.pool.idle_timeout_ms, 60000);
    cr_expect_eq(c.connect_timeout_ms, 1000);
    cr_expect_not(c.health.enabled);
    cr_expect_eq(c.health.interval_ms, 5000);
    cr_expect_eq(c.health.timeout_ms, 1000);
    cr_expect_eq(c.health.expect_status, 200);
    cr_expect_eq(c.health.healthy, 2);
    cr_expect_eq(c.health.unhealthy, 3);
    cr_expect_eq(c.outlier.max_fails, 1);
    cr_expect_eq(c.outlier.base_ejection_ms, 1000);
    cr_expect_eq(c.outlier.max_ejection_ms, 30000);
    cr_expect(c.outlier.on_5xx);
    cr_expect(c.breaker);
    cr_expect_str_eq(c.hash_key, "path");
    cr_expect_eq(c.slow_start_ms, 10000);
    cz_upstream_node_conf_t *n = c.nodes.items;
    cr_expect_eq(n[0].weight, 1);
    cz_conf_free(cz_upstream_conf_fields, &c);
}

Test(upstream_conf, full_example_loads)
{
    cz_upstream_conf_t c;
    cz_diag_t d;
    const char *y = "Name: users\nPolicy: consistent_hash\nHashKey: header:X-User\n"
                    "Nodes: [{Addr: 127.0.0.1:8001, Weight: 2}, {Addr: 127.0.0.1:8002}]\n"
                    "Pool: {Size: 8, IdleTimeout: 5s}\nConnectTimeout: 250ms\n"
                    "Health: {Path: /healthz, Interval: 2s, UnhealthyThreshold: 5}\n"
                    "Outlier: {MaxFails: 3, BaseEjection: 500ms, MaxEjection: 10s, On5xx: false}\n"
                    "Breaker: false\nSlowStart: 2500ms\n";
    cr_assert_eq(load(y, &c, &d), 0, "%s: %s", d.key, d.msg);
    cr_expect_eq(c.policy, CZ_UP_CONSISTENT_HASH);
    cr_expect_eq(c.nodes.n, 2);
    cr_expect_eq(((cz_upstream_node_conf_t *)c.nodes.items)[0].weight, 2);
    cr_expect_eq(c.pool.size, 8);
    cr_expect_eq(c.pool.idle_timeout_ms, 5000);
    cr_expect_eq(c.connect_timeout_ms, 250);
    cr_expect(c.health.enabled);
    cr_expect_eq(c.health.interval_ms, 2000);
    cr_expect_eq(c.health.unhealthy, 5);
    cr_expect_eq(c.outlier.max_fails, 3);
    cr_expect_eq(c.outlier.base_ejection_ms, 500);
    cr_expect_not(c.outlier.on_5xx);
    cr_expect_not(c.breaker);
    cr_expect_eq(c.slow_start_ms, 2500);
    cz_conf_free(cz_upstream_conf_fields, &c);
}

Test(upstream_conf, errors_name_the_key)
{
    static const struct {
        const char *yaml, *key, *msg;
    } cases[] = {
        {"Name: a\nPolicy: fastest\nNodes: [{Addr: 127.0.0.1:1}]\n", "Policy", "p2c_ewma"},
        {"Name: a\n", "Upstreams[0].Nodes", "one of Nodes, Dns or Etcd"},
        {"Name: a\nNodes: [{Addr: 127.0.0.1:1}]\nDns: x:80\n", "Upstreams[0].Nodes", "only one"},
        {"Name: a\nNodes: [{Addr: nohost}]\n", "Upstreams[0].Nodes[0].Addr", "host:port"},
        {"Name: a\nNodes: [{Addr: a:1}, {Addr: a:1}]\n", "Upstreams[0].Nodes[1].Addr", "dupl"},
        {"Name: a\nNodes: [{Addr: a:1}]\nHashKey: body\n", "Upstreams[0].HashKey", "header:"},
        {"Name: a\nNodes: [{Addr: a:1, Weight: 0}]\n", "Weight", ""},
        {"Name: a\nNodes: [{Addr: a:1}]\nHealth: {Path: healthz}\n", "Upstreams[0].Health.Path",
         "/"},
        {"Name: a\nNodes: [{Addr: a:1}]\nOutlier: {BaseEjection: 5s, MaxEjection: 1s}\n",
         "Upstreams[0].Outlier.MaxEjection", "BaseEjection"},
        {"Name: a\nEtcd: {Hosts: [127.0.0.1:2379]}\n", "Upstreams[0].Etcd", "Key"},
        {"Name: a\nNodes: [{Addr: a:1}]\nSlowStart: 2h\n", "SlowStart", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cz_upstream_conf_t c;
        cz_diag_t d;
        cr_expect_eq(load(cases[i].yaml, &c, &d), CZ_EINVAL_CONF, "case %zu loaded", i);
        cr_expect(strstr(d.key, cases[i].key) != NULL, "case %zu: key %s", i, d.key);
        cr_expect(strstr(d.msg, cases[i].msg) != NULL, "case %zu: msg %s", i, d.msg);
        cz_conf_free(cz_upstream_conf_fields, &c);
    }
}

/* ---- a cluster on a manual clock ---- */

static cz_clock_manual_t clk;

static cz_upstream_t *cluster_of(const char *nodes, const char *extra, int policy)
{
    char y[512];
    snprintf(y, sizeof y, "Name: t\nNodes: %s\n%s", nodes, extra ? extra : "");
    cz_upstream_conf_t c;
    cz_diag_t d;
    cr_assert_eq(load(y, &c, &d), 0, "%s", d.msg);
    c.policy = policy;
    cz_clock_manual_init(&clk, 1000 * CZ_NS_PER_SEC);
    c.clock = &clk.clock;
    cz_upstream_t *u = cz_upstream_new(&c, &d);
    cz_conf_free(cz_upstream_conf_fields, &c);
    cr_assert_not_null(u, "%s", d.msg);
    return u;
}

static cz_upstream_t *cluster(const char *extra, int policy)
{
    return cluster_of("[{Addr: 127.0.0.1:1}, {Addr: 127.0.0.1:2}]", extra, policy);
}

static cz__up_node_t *node(cz_upstream_t *u, const char *addr)
{
    for (cz__up_node_t *n = u->nodes; n; n = n->next)
        if (strcmp(n->addr, addr) == 0)
            return n;
    cr_assert_fail("no node %s", addr);
    return NULL;
}

static cz_upstream_node_stat_t stat_of(cz_upstream_t *u, const char *addr)
{
    cz_upstream_node_stat_t st[8];
    size_t n = cz_upstream_nodes(u, st, 8);
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].addr, addr) == 0)
            return st[i];
    cr_assert_fail("no stat for %s", addr);
    return st[0];
}

/* How many of 20 round-robin picks land on addr. */
static int picks_of(cz_upstream_t *u, const char *addr)
{
    int k = 0;
    for (int i = 0; i < 20; i++) {
        size_t idx;
        if (cz_lb_pick(u->lb, CZ_STR_NULL, NULL, &idx) != 0)
            continue;
        if (strcmp(cz_lb_node_name(u->lb, idx), addr) == 0)
            k++;
        cz_lb_done(u->lb, idx, 0, 1000);
    }
    return k;
}

static uint64_t now(void) { return cz_clock_now_ns(&clk.clock); }

static void advance_ms(cz_upstream_t *u, uint64_t ms)
{
    cz_clock_manual_advance(&clk, ms * CZ_NS_PER_MS);
    cz__outlier_tick(u, now());
}

Test(outlier, ejection_doubles_up_to_the_cap_and_a_success_clears_it)
{
    cz_upstream_t *u = cluster(NULL, CZ_UP_ROUND_ROBIN);
    cz__up_node_t *a = node(u, "127.0.0.1:1");
    const uint64_t expect[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++) {
        cz__outlier_result(u, a, true, now()); /* MaxFails 1 (or the trial) ejects at once */
        cr_assert(stat_of(u, "127.0.0.1:1").ejected, "ejection %zu", k);
        cr_assert_eq(stat_of(u, "127.0.0.1:1").ejections, k + 1);
        cr_assert_eq(picks_of(u, "127.0.0.1:1"), 0, "an ejected node is not picked");
        advance_ms(u, expect[k] - 1);
        cr_assert(stat_of(u, "127.0.0.1:1").ejected, "still out 1 ms before %lu ms",
                  (unsigned long)expect[k]);
        advance_ms(u, 1);
        cr_assert_not(stat_of(u, "127.0.0.1:1").ejected, "back after %lu ms",
                      (unsigned long)expect[k]);
        cr_assert_eq(picks_of(u, "127.0.0.1:1"), 10, "on trial it gets its share again");
    }
    /* the trial succeeds: the record is clear and the next failure costs base time again */
    cz__outlier_result(u, a, false, now());
    cr_assert_eq(stat_of(u, "127.0.0.1:1").ejections, 0);
    cz__outlier_result(u, a, true, now());
    advance_ms(u, 1000);
    cr_assert_not(stat_of(u, "127.0.0.1:1").ejected);
    cz_upstream_free(u);
}

Test(outlier, max_fails_counts_consecutive_failures)
{
    cz_upstream_t *u = cluster("Outlier: {MaxFails: 3}\n", CZ_UP_ROUND_ROBIN);
    cz__up_node_t *a = node(u, "127.0.0.1:1");
    cz__outlier_result(u, a, true, now());
    cz__outlier_result(u, a, true, now());
    cz__outlier_result(u, a, false, now()); /* a success in between starts the count again */
    cz__outlier_result(u, a, true, now());
    cz__outlier_result(u, a, true, now());
    cr_assert_not(stat_of(u, "127.0.0.1:1").ejected);
    cr_assert_eq(stat_of(u, "127.0.0.1:1").fails, 2);
    cz__outlier_result(u, a, true, now());
    cr_assert(stat_of(u, "127.0.0.1:1").ejected);
    /* failures of calls still in flight when it was ejected do not extend the ejection */
    cz__outlier_result(u, a, true, now());
    advance_ms(u, 1000);
    cr_assert_not(stat_of(u, "127.0.0.1:1").ejected);
    /* on trial one failure is enough, and the time doubles */
    cz__outlier_result(u, a, true, now());
    advance_ms(u, 1999);
    cr_assert(stat_of(u, "127.0.0.1:1").ejected);
    cz_upstream_free(u);
}

Test(outlier, max_fails_zero_turns_ejection_off)
{
    cz_upstream_t *u = cluster("Outlier: {MaxFails: 0}\n", CZ_UP_ROUND_ROBIN);
    for (int i = 0; i < 10; i++)
        cz__outlier_result(u, node(u, "127.0.0.1:1"), true, now());
    cr_assert_not(stat_of(u, "127.0.0.1:1").ejected);
    cz_upstream_free(u);
}

Test(outlier, all_ejected_are_released_together)
{
    cz_upstream_t *u = cluster(NULL, CZ_UP_P2C_EWMA);
    cz__outlier_result(u, node(u, "127.0.0.1:1"), true, now());
    cr_assert_eq(cz__outlier_release_all(u), 0, "one node still serves: nothing released");
    cz__outlier_result(u, node(u, "127.0.0.1:2"), true, now());
    size_t idx;
    cr_assert_eq(cz_lb_pick(u->lb, CZ_STR_NULL, NULL, &idx), CZ_ENOSERVICE);
    cr_assert_eq(cz__outlier_release_all(u), 2);
    cr_assert_eq(cz_lb_pick(u->lb, CZ_STR_NULL, NULL, &idx), 0);
    cz_lb_done(u->lb, idx, 0, 0);
    cz_upstream_free(u);
}

Test(health, thresholds_take_a_node_down_and_back)
{
    cz_upstream_t *u = cluster("Health: {Path: /healthz, Interval: 1h}\n", CZ_UP_ROUND_ROBIN);
    cz__up_node_t *b = node(u, "127.0.0.1:2");
    cz__health_result(u, b, false);
    cz__health_result(u, b, false);
    cr_assert_not(stat_of(u, "127.0.0.1:2").unhealthy, "2 failures < UnhealthyThreshold 3");
    cz__health_result(u, b, true); /* a pass resets the failure run */
    cz__health_result(u, b, false);
    cz__health_result(u, b, false);
    cr_assert_not(stat_of(u, "127.0.0.1:2").unhealthy);
    cz__health_result(u, b, false);
    cr_assert(stat_of(u, "127.0.0.1:2").unhealthy);
    cr_assert_eq(picks_of(u, "127.0.0.1:2"), 0);
    cz__health_result(u, b, true);
    cr_assert(stat_of(u, "127.0.0.1:2").unhealthy, "1 pass < HealthyThreshold 2");
    cz__health_result(u, b, true);
    cr_assert_not(stat_of(u, "127.0.0.1:2").unhealthy);
    cr_assert_eq(picks_of(u, "127.0.0.1:2"), 10);
    cz_upstream_free(u);
}

Test(nodes, set_nodes_adds_removes_and_keeps)
{
    cz_upstream_t *u = cluster(NULL, CZ_UP_ROUND_ROBIN);
    cz__up_node_t *a = node(u, "127.0.0.1:1");
    cz__outlier_result(u, a, true, now());
    cz_endpoint_t eps[] = {{"127.0.0.1:2", 1}, {"127.0.0.1:3", 1}};
    cr_assert_eq(cz_upstream_set_nodes(u, eps, 2), 0);
    cz_upstream_node_stat_t st[8];
    cr_assert_eq(cz_upstream_nodes(u, st, 8), 2);
    cr_assert_eq(picks_of(u, "127.0.0.1:1"), 0);
    cr_assert_eq(picks_of(u, "127.0.0.1:3"), 10);
    /* a node that comes back starts with a clean record */
    cz_endpoint_t back[] = {{"127.0.0.1:1", 1}};
    cr_assert_eq(cz_upstream_set_nodes(u, back, 1), 0);
    cr_assert_eq(cz_upstream_nodes(u, st, 8), 1);
    cr_assert_not(stat_of(u, "127.0.0.1:1").ejected);
    cr_assert_eq(picks_of(u, "127.0.0.1:1"), 20);
    cr_assert_eq(cz_upstream_set_nodes(u, NULL, 0), 0);
    size_t idx;
    cr_assert_eq(cz_lb_pick(u->lb, CZ_STR_NULL, NULL, &idx), CZ_ENOSERVICE);
    cz_upstream_free(u);
}

/* ---- slow start (p2c_ewma): when a node returns ---- */

#define NODES3 "[{Addr: 127.0.0.1:1}, {Addr: 127.0.0.1:2}, {Addr: 127.0.0.1:3}]"

static uint64_t jit = 1;

/* ~10 ms, +-20 % (a realistic spread: with equal latencies every cost ties) */
static uint64_t lat10(void)
{
    jit = jit * 6364136223846793005ull + 1442695040888963407ull;
    return 8 * CZ_NS_PER_MS + (jit >> 33) % (4 * CZ_NS_PER_MS);
}

/* One sequential call as the proxy makes it: pick, the node answers in ~10 ms, done. Returns
 * 1 if it went to addr. */
static int call1(cz_upstream_t *u, const char *addr)
{
    size_t idx;
    cr_assert_eq(cz_lb_pick(u->lb, CZ_STR_NULL, NULL, &idx), 0);
    int hit = strcmp(cz_lb_node_name(u->lb, idx), addr) == 0;
    uint64_t l = lat10();
    cz_clock_manual_advance(&clk, l);
    cz__outlier_tick(u, now());
    cz_lb_done(u->lb, idx, 0, l);
    return hit;
}

static uint32_t slow_start_pct(cz_upstream_t *u, const char *addr)
{
    return stat_of(u, addr).slow_start_pct;
}

/* 10 s of sequential calls after addr came back: some calls but under a fifth of them in the
 * first second (10 % of its share, rising), at least a quarter in the last two seconds (a third
 * is its fair share). */
static void expect_ramp(cz_upstream_t *u, const char *addr)
{
    cr_assert_eq(slow_start_pct(u, addr), 10);
    int first = 0, first_n = 0, last = 0, last_n = 0;
    uint64_t t0 = now();
    while (now() - t0 < 10 * CZ_NS_PER_SEC) {
        uint64_t t = now() - t0;
        int hit = call1(u, addr);
        if (t < CZ_NS_PER_SEC)
            first += hit, first_n++;
        else if (t >= 8 * CZ_NS_PER_SEC)
            last += hit, last_n++;
    }
    cr_log_info("%s: %d of %d calls in the first second, %d of %d in the last two", addr, first,
                first_n, last, last_n);
    cr_expect_lt(first * 5, first_n, "%d of %d in the first second", first, first_n);
    cr_expect_geq(first, 2, "%d of %d in the first second: it is tried at once", first, first_n);
    cr_expect_geq(last * 4, last_n, "%d of %d in the last two seconds", last, last_n);
    cr_expect_eq(slow_start_pct(u, addr), 100);
}

static void warm(cz_upstream_t *u, int n)
{
    for (int i = 0; i < n; i++)
        call1(u, "");
}

Test(slow_start, a_node_back_from_ejection_ramps_up_over_the_window)
{
    cz_upstream_t *u = cluster_of(NODES3, NULL, CZ_UP_P2C_EWMA);
    warm(u, 300);
    cz__outlier_result(u, node(u, "127.0.0.1:3"), true, now());
    cr_assert(stat_of(u, "127.0.0.1:3").ejected);
    cr_assert_eq(slow_start_pct(u, "127.0.0.1:3"), 100, "not while it is out");
    while (stat_of(u, "127.0.0.1:3").ejected) /* for BaseEjection, 1 s */
        call1(u, "");
    expect_ramp(u, "127.0.0.1:3");
    cz_upstream_free(u);
}

Test(slow_start, a_node_healthy_again_ramps_up_over_the_window)
{
    cz_upstream_t *u = cluster_of(NODES3, "Health: {Path: /healthz, Interval: 1h}\n",
                                  CZ_UP_P2C_EWMA);
    warm(u, 300);
    cz__up_node_t *c = node(u, "127.0.0.1:3");
    for (int i = 0; i < 3; i++)
        cz__health_result(u, c, false);
    cr_assert(stat_of(u, "127.0.0.1:3").unhealthy);
    warm(u, 300);
    cz__health_result(u, c, true);
    cz__health_result(u, c, true);
    cr_assert_not(stat_of(u, "127.0.0.1:3").unhealthy);
    expect_ramp(u, "127.0.0.1:3");
    cz_upstream_free(u);
}

Test(slow_start, a_node_discovery_adds_to_a_serving_cluster_ramps_up_the_first_do_not)
{
    cz_upstream_t *u = cluster_of("[{Addr: 127.0.0.1:1}, {Addr: 127.0.0.1:2}]", NULL,
                                  CZ_UP_P2C_EWMA);
    cr_assert_eq(slow_start_pct(u, "127.0.0.1:1"), 100, "the initial nodes take their share");
    warm(u, 300);
    cz_endpoint_t three[] = {{"127.0.0.1:1", 1}, {"127.0.0.1:2", 1}, {"127.0.0.1:3", 1}};
    cr_assert_eq(cz_upstream_set_nodes(u, three, 3), 0);
    cr_assert_eq(slow_start_pct(u, "127.0.0.1:1"), 100);
    expect_ramp(u, "127.0.0.1:3");
    /* a node that left and comes back joins again */
    cr_assert_eq(cz_upstream_set_nodes(u, three, 2), 0);
    warm(u, 100);
    cr_assert_eq(cz_upstream_set_nodes(u, three, 3), 0);
    expect_ramp(u, "127.0.0.1:3");
    /* an emptied cluster's new nodes have no one to leave traffic to */
    cr_assert_eq(cz_upstream_set_nodes(u, NULL, 0), 0);
    cz_endpoint_t fresh[] = {{"127.0.0.1:4", 1}, {"127.0.0.1:5", 1}};
    cr_assert_eq(cz_upstream_set_nodes(u, fresh, 2), 0);
    cr_assert_eq(slow_start_pct(u, "127.0.0.1:4"), 100);
    cr_assert_eq(slow_start_pct(u, "127.0.0.1:5"), 100);
    cz_upstream_free(u);
}

Test(slow_start, slow_start_0_gives_a_returning_node_its_share_at_once)
{
    cz_upstream_t *u = cluster_of(NODES3, "SlowStart: 0\n", CZ_UP_P2C_EWMA);
    warm(u, 300);
    cz__outlier_result(u, node(u, "127.0.0.1:3"), true, now());
    while (stat_of(u, "127.0.0.1:3").ejected)
        call1(u, "");
    cr_assert_eq(slow_start_pct(u, "127.0.0.1:3"), 100);
    int k = 0;
    for (int i = 0; i < 300; i++)
        k += call1(u, "127.0.0.1:3");
    cr_log_info("SlowStart 0: %d of the first 300 calls", k);
    cr_expect(k >= 75 && k <= 126, "%d of 300 (25 %% .. 42 %%)", k);
    cz_upstream_free(u);
}
