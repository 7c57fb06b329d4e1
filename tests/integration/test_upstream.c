/* SPDX-License-Identifier: MIT
 *
 * test_upstream.c: cz_upstream_call against real czero servers on loopback, each answering with
 * its name in X-Instance: weights, consistent hashing and node removal, retries past a dead node,
 * no retry of a POST that reached a node, the per-node breaker, active health checks, timeouts,
 * and p2c: a slow node gets a small share, identical nodes share one call at a time.
 * The calls run on a uv loop in the test thread with a czero client, as a handler would.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "czero/client.h"
#include "czero/czero.h"
#include "czero/upstream.h"
#include "gateway/gw_int.h"
#include "http_client.h"
#include "backends.h"
#include "test_server.h"

/* ---- the calling side: a loop, a client, N calls with `conc` in flight ---- */

typedef struct drv drv_t;
typedef struct slot {
    drv_t *d;
    int i;
    char key[32];
    char inst[16];
    cz_upstream_req_t rq;
} slot_t;

struct drv {
    uv_loop_t loop;
    cz_client_t *c;
    cz_upstream_t *u;
    const char *method;
    bool idempotent;
    int retries;
    uint64_t timeout_ms;
    int next, total, done;
    int ok, failed, retried, last_err;
    char inst[2000][16]; /* per call index: who answered ("" on failure) */
    int status[2000];
    void (*on_each)(drv_t *d, int i); /* after call i ended */
    slot_t slots[8];
};

static void start_one(drv_t *d, slot_t *s);

static int d_head(cz_call_t *call, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                  void *ud)
{
    slot_t *s = ud;
    (void)call;
    s->d->status[s->i] = status;
    for (size_t i = 0; i < n; i++)
        if (cz_str_ieq(hn[i], CZ_STR("X-Instance")))
            snprintf(s->inst, sizeof s->inst, "%.*s", (int)hv[i].n, hv[i].p);
    return 0;
}

static void d_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    slot_t *s = ud;
    drv_t *d = s->d;
    (void)call, (void)info;
    if (err == 0) {
        d->ok++;
        snprintf(d->inst[s->i], sizeof d->inst[0], "%s", s->inst);
    } else {
        d->failed++;
        d->last_err = err;
    }
    d->done++;
    if (d->on_each)
        d->on_each(d, s->i);
    if (d->next < d->total)
        start_one(d, s);
}

static const cz_call_cbs_t d_cbs = {.on_head = d_head, .on_done = d_done};

static void start_one(drv_t *d, slot_t *s)
{
    s->d = d;
    s->i = d->next++;
    s->inst[0] = '\0';
    snprintf(s->key, sizeof s->key, "user-%d", s->i % 1000);
    s->rq = (cz_upstream_req_t){
        .http = {.method = cz_str_c(d->method), .target = CZ_STR("/who"),
                 .total_timeout_ms = d->timeout_ms},
        .key = cz_str_c(s->key),
        .retries = d->retries,
        .idempotent = d->idempotent,
    };
    cz_upcall_t *uc;
    int rc = cz_upstream_call(d->u, d->c, &s->rq, &d_cbs, s, &uc);
    if (rc != 0) {
        d->failed++;
        d->last_err = rc;
        d->done++;
        if (d->next < d->total)
            start_one(d, s);
    }
}

static drv_t *drv_new(cz_upstream_t *u)
{
    drv_t *d = calloc(1, sizeof *d);
    uv_loop_init(&d->loop);
    d->c = cz_client_new(&d->loop, NULL);
    cr_assert_not_null(d->c);
    d->u = u;
    d->method = "GET";
    d->idempotent = true;
    d->retries = 2;
    return d;
}

static void drv_run(drv_t *d, int n, int conc)
{
    d->next = d->done = d->ok = d->failed = 0;
    d->total = n;
    memset(d->inst, 0, sizeof d->inst);
    for (int k = 0; k < conc && d->next < n; k++)
        start_one(d, &d->slots[k]);
    while (d->done < n)
        uv_run(&d->loop, UV_RUN_ONCE);
}

static void drv_free(drv_t *d)
{
    cz_client_close(d->c, NULL, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&d->loop), 0);
    free(d);
}

static int count(drv_t *d, const char *name)
{
    int k = 0;
    for (int i = 0; i < d->total; i++)
        k += strcmp(d->inst[i], name) == 0;
    return k;
}

Test(upstream, weighted_is_smooth_wrr_exact)
{
    tb_backend_t b[3];
    const char *names[] = {"a", "b", "c"}, *addrs[3];
    for (int i = 0; i < 3; i++) {
        tb_backend_start(&b[i], names[i]);
        addrs[i] = b[i].addr;
    }
    const int w[] = {1, 2, 7};
    cz_upstream_t *u = tb_upstream("weighted", NULL, addrs, w, 3);
    drv_t *d = drv_new(u);
    drv_run(d, 1000, 1);
    cr_expect_eq(d->ok, 1000, "failed %d (%s)", d->failed, cz_strerror(d->last_err));
    cr_expect_eq(count(d, "a"), 100);
    cr_expect_eq(count(d, "b"), 200);
    cr_expect_eq(count(d, "c"), 700);
    drv_free(d);
    cz_upstream_free(u);
    for (int i = 0; i < 3; i++)
        ts_stop(&b[i].ts);
}

Test(upstream, consistent_hash_keeps_keys_and_moves_a_quarter_on_removal)
{
    tb_backend_t b[4];
    const char *names[] = {"a", "b", "c", "d"}, *addrs[4];
    for (int i = 0; i < 4; i++) {
        tb_backend_start(&b[i], names[i]);
        addrs[i] = b[i].addr;
    }
    cz_upstream_t *u = tb_upstream("consistent_hash", NULL, addrs, NULL, 4);
    drv_t *d = drv_new(u);
    static char first[1000][16];
    drv_run(d, 1000, 1);
    cr_assert_eq(d->ok, 1000);
    memcpy(first, d->inst, sizeof first);
    drv_run(d, 1000, 1);
    for (int i = 0; i < 1000; i++)
        cr_assert_str_eq(d->inst[i], first[i], "key user-%d moved without a node change", i);
    for (int i = 0; i < 4; i++)
        cr_expect_gt(count(d, names[i]), 100, "node %s holds %d of 1000 keys", names[i],
                     count(d, names[i]));
    cz_endpoint_t eps[] = {{addrs[0], 1}, {addrs[1], 1}, {addrs[2], 1}};
    cr_assert_eq(cz_upstream_set_nodes(u, eps, 3), 0);
    drv_run(d, 1000, 1);
    cr_assert_eq(d->ok, 1000);
    int moved = 0;
    for (int i = 0; i < 1000; i++) {
        cr_assert_str_neq(d->inst[i], "d");
        moved += strcmp(d->inst[i], first[i]) != 0;
    }
    cr_log_info("removing 1 of 4 nodes moved %d of 1000 keys", moved);
    cr_expect(moved >= 150 && moved <= 350, "moved %d of 1000 keys", moved);
    drv_free(d);
    cz_upstream_free(u);
    for (int i = 0; i < 4; i++)
        ts_stop(&b[i].ts);
}

static tb_backend_t *kill_me;
static void kill_at_100(drv_t *d, int i)
{
    (void)i;
    if (d->done == 100 && kill_me) {
        ts_stop(&kill_me->ts);
        kill_me = NULL;
    }
}

Test(upstream, dead_and_dying_nodes_cost_no_failed_get)
{
    tb_backend_t b[3];
    const char *names[] = {"a", "b", "c"}, *addrs[4];
    for (int i = 0; i < 3; i++) {
        tb_backend_start(&b[i], names[i]);
        addrs[i] = b[i].addr;
    }
    char dead[32];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", tb_dead_port());
    addrs[3] = dead;
    cz_upstream_t *u = tb_upstream("p2c_ewma", NULL, addrs, NULL, 4);
    drv_t *d = drv_new(u);
    kill_me = &b[2];
    d->on_each = kill_at_100;
    drv_run(d, 600, 4);
    cr_expect_eq(d->failed, 0, "%d failed, last %s", d->failed, cz_strerror(d->last_err));
    cr_expect_eq(d->ok, 600);
    cr_expect_gt(count(d, "a") + count(d, "b"), 450);
    drv_free(d);
    cz_upstream_free(u);
    ts_stop(&b[0].ts);
    ts_stop(&b[1].ts);
}

Test(upstream, post_that_reached_a_node_is_not_retried_get_is)
{
    tb_backend_t good;
    tb_backend_start(&good, "good");
    tb_raw_t raw; /* reads one request per connection and closes without answering */
    tb_raw_start(&raw, NULL);
    const char *addrs[] = {good.addr, raw.addr};
    /* no ejection and no breaker, so round robin keeps sending every other call to the bad node */
    cz_upstream_t *u =
        tb_upstream("round_robin", "Outlier: {MaxFails: 0}\nBreaker: false\n", addrs, NULL, 2);
    drv_t *d = drv_new(u);
    d->method = "POST";
    d->idempotent = false;
    drv_run(d, 10, 1);
    cr_expect_eq(d->failed, 5, "POSTs that reached the closing node fail: %d", d->failed);
    cr_expect_eq(atomic_load(&raw.requests), 5, "and each reached it once");
    d->method = "GET";
    d->idempotent = true;
    drv_run(d, 10, 1);
    cr_expect_eq(d->failed, 0, "GETs are retried on the good node");
    cr_expect_eq(count(d, "good"), 10);
    int seen = atomic_load(&raw.requests);
    cr_expect(seen > 5 && seen <= 15, "each GET reached the bad node at most once: %d", seen);
    drv_free(d);
    cz_upstream_free(u);
    tb_raw_stop(&raw);
    ts_stop(&good.ts);
}

Test(upstream, connect_refused_post_is_retried)
{
    tb_backend_t good;
    tb_backend_start(&good, "good");
    char dead[32];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", tb_dead_port());
    const char *addrs[] = {good.addr, dead};
    cz_upstream_t *u = tb_upstream("round_robin", "Outlier: {MaxFails: 0}\n", addrs, NULL, 2);
    drv_t *d = drv_new(u);
    d->method = "POST";
    d->idempotent = false;
    d->retries = 1;
    drv_run(d, 10, 1);
    cr_expect_eq(d->failed, 0, "nothing was sent, so a POST may go elsewhere");
    drv_free(d);
    cz_upstream_free(u);
    ts_stop(&good.ts);
}

Test(upstream, breaker_opens_on_a_node_answering_500)
{
    tb_backend_t good, bad;
    tb_backend_start(&good, "good");
    tb_backend_start(&bad, "bad");
    atomic_store(&bad.status, 500);
    const char *addrs[] = {good.addr, bad.addr};
    cz_upstream_t *u = tb_upstream("round_robin", "Outlier: {MaxFails: 0}\n", addrs, NULL, 2);
    drv_t *d = drv_new(u);
    drv_run(d, 400, 1);
    int nbad = count(d, "bad"), ngood = count(d, "good");
    cr_log_info("breaker: bad node answered %d of 400, good %d", nbad, ngood);
    cr_expect_lt(nbad, 60, "the breaker drops most calls to the failing node: %d", nbad);
    cr_expect_eq(nbad + ngood, 400, "a dropped call goes to the other node, not to the client");
    cz_breaker_stat_t st;
    cz__up_node_t *n = u->nodes;
    while (n && strcmp(n->addr, bad.addr) != 0)
        n = n->next;
    cr_assert_not_null(n);
    cz_breaker_stat(n->breaker, &st);
    cr_expect_gt(st.drops, 100);
    drv_free(d);
    cz_upstream_free(u);
    ts_stop(&good.ts);
    ts_stop(&bad.ts);
}

static bool wait_unhealthy(cz_upstream_t *u, const char *addr, bool want, int ms)
{
    for (int t = 0; t < ms; t += 10) {
        cz_upstream_node_stat_t st[4];
        size_t n = cz_upstream_nodes(u, st, 4);
        for (size_t i = 0; i < n && i < 4; i++) /* n counts every live node */
            if (strcmp(st[i].addr, addr) == 0 && st[i].unhealthy == want)
                return true;
        usleep(10000);
    }
    return false;
}

Test(upstream, active_health_checks_take_a_node_out_and_back)
{
    tb_backend_t a, b;
    tb_backend_start(&a, "a");
    tb_backend_start(&b, "b");
    const char *addrs[] = {a.addr, b.addr};
    cz_upstream_t *u = tb_upstream(
        "round_robin",
        "Health: {Path: /healthz, Interval: 50ms, Timeout: 500ms, UnhealthyThreshold: 3, "
        "HealthyThreshold: 2}\n",
        addrs, NULL, 2);
    usleep(300000);
    cr_assert(wait_unhealthy(u, b.addr, false, 10), "healthy while /healthz answers 200");
    long t0 = tc_now_ms();
    atomic_store(&b.healthy, 0);
    cr_assert(wait_unhealthy(u, b.addr, true, 3000), "marked down after failing checks");
    long down_ms = tc_now_ms() - t0;
    cr_expect_geq(down_ms, 100, "not before 3 failed checks 50 ms apart (%ld ms)", down_ms);
    drv_t *d = drv_new(u);
    drv_run(d, 20, 1);
    cr_expect_eq(count(d, "a"), 20, "an unhealthy node gets no calls");
    atomic_store(&b.healthy, 1);
    cr_assert(wait_unhealthy(u, b.addr, false, 3000), "back after passing checks");
    drv_run(d, 20, 1);
    cr_expect_eq(count(d, "b"), 10);
    drv_free(d);
    cz_upstream_free(u);
    ts_stop(&a.ts);
    ts_stop(&b.ts);
}

Test(upstream, timeout_and_no_node)
{
    tb_backend_t slow;
    tb_backend_start(&slow, "slow");
    atomic_store(&slow.delay_ms, 1000);
    const char *addrs[] = {slow.addr};
    cz_upstream_t *u = tb_upstream("p2c_ewma", NULL, addrs, NULL, 1);
    drv_t *d = drv_new(u);
    d->timeout_ms = 200;
    long t0 = tc_now_ms();
    drv_run(d, 1, 1);
    long took = tc_now_ms() - t0;
    cr_expect_eq(d->failed, 1);
    cr_expect_eq(d->last_err, CZ_ETIMEOUT, "got %s", cz_strerror(d->last_err));
    cr_expect(took >= 190 && took < 900, "the call's deadline holds across retries: %ld ms",
              took);
    cr_assert_eq(cz_upstream_set_nodes(u, NULL, 0), 0);
    cz_upstream_req_t rq = {.http = {.method = CZ_STR("GET"), .target = CZ_STR("/who")}};
    cz_upcall_t *uc;
    cr_expect_eq(cz_upstream_call(u, d->c, &rq, &d_cbs, &d->slots[0], &uc), CZ_ENOSERVICE);
    drv_free(d);
    cz_upstream_free(u);
    ts_stop(&slow.ts);
}

/* ---- discovery-fed clusters ---- */

/* Run d's loop until u has `want` nodes, at most ms; returns the time it took or -1. */
static long wait_nodes(drv_t *d, size_t want, long ms)
{
    long t0 = tc_now_ms();
    cz_upstream_node_stat_t st[8];
    while (tc_now_ms() - t0 <= ms) {
        if (cz_upstream_nodes(d->u, st, 8) == want)
            return tc_now_ms() - t0;
        uv_run(&d->loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    return -1;
}

Test(upstream, dns_name_is_resolved_into_nodes)
{
    tb_backend_t a;
    tb_backend_start(&a, "a");
    char y[256];
    snprintf(y, sizeof y, "Name: t\nDns: \"localhost:%d\"\nDnsInterval: 100ms\n", a.ts.port);
    cz_upstream_t *u = tb_upstream_yaml(y);
    drv_t *d = drv_new(u);
    long t0 = tc_now_ms();
    cz_upstream_node_stat_t st[8];
    while (cz_upstream_nodes(u, st, 8) == 0 && tc_now_ms() - t0 < 2000)
        usleep(5000);
    cr_assert_gt(cz_upstream_nodes(u, st, 8), 0, "localhost resolved within 2 s");
    /* localhost may also resolve to ::1, where nothing listens: retries cover it */
    drv_run(d, 20, 1);
    cr_expect_eq(d->ok, 20, "%s", cz_strerror(d->last_err));
    cr_expect_eq(count(d, "a"), 20);
    drv_free(d);
    cz_upstream_free(u);
    ts_stop(&a.ts);
}

#include "etcd_server.h"

static void unpublished(void *ud) { *(int *)ud = 1; }

Test(upstream, etcd_registered_nodes_join_and_leave_within_a_second)
{
    if (!cz_test_etcd_available())
        cr_skip_test("no etcd binary on PATH");
    cz_test_etcd_t e;
    cr_assert_eq(cz_test_etcd_start(&e), 0);
    tb_backend_t a, b;
    tb_backend_start(&a, "a");
    tb_backend_start(&b, "b");
    char y[256];
    snprintf(y, sizeof y, "Name: t\nPolicy: round_robin\nEtcd: {Hosts: [\"%s\"], Key: svc}\n",
             e.host);
    cz_upstream_t *u = tb_upstream_yaml(y);
    drv_t *d = drv_new(u);
    char *hosts[] = {e.host};
    cz_etcd_conf_t ec = {.hosts = {.items = hosts, .n = 1}, .key = "svc", .ttl_s = 5};
    cz_etcd_publisher_t *pa = cz_etcd_publish(&ec, a.addr, &d->loop);
    cr_assert_not_null(pa);
    long ms = wait_nodes(d, 1, 3000);
    cr_log_info("etcd: registered node routed after %ld ms", ms);
    cr_expect(ms >= 0 && ms < 1000, "registered -> in the cluster in %ld ms", ms);
    drv_run(d, 10, 1);
    cr_expect_eq(count(d, "a"), 10);
    cz_etcd_publisher_t *pb = cz_etcd_publish(&ec, b.addr, &d->loop);
    ms = wait_nodes(d, 2, 3000);
    cr_expect(ms >= 0 && ms < 1000, "second node in %ld ms", ms);
    drv_run(d, 10, 1);
    cr_expect_eq(count(d, "a"), 5);
    cr_expect_eq(count(d, "b"), 5);
    int gone = 0;
    cz_etcd_unpublish(pa, unpublished, &gone);
    ms = wait_nodes(d, 1, 3000);
    cr_log_info("etcd: withdrawn node left after %ld ms", ms);
    cr_expect(ms >= 0 && ms < 1000, "withdrawn -> out in %ld ms", ms);
    drv_run(d, 10, 1);
    cr_expect_eq(count(d, "b"), 10, "no call to the withdrawn node");
    cz_etcd_unpublish(pb, NULL, NULL);
    while (!gone)
        uv_run(&d->loop, UV_RUN_ONCE);
    drv_free(d);
    cz_upstream_free(u);
    ts_stop(&a.ts);
    ts_stop(&b.ts);
    cz_test_etcd_free(&e);
}

Test(upstream, p2c_gives_a_slow_node_a_small_share)
{
    tb_backend_t b[3];
    const char *names[] = {"a", "b", "slow"}, *addrs[3];
    for (int i = 0; i < 3; i++) {
        tb_backend_start(&b[i], names[i]);
        addrs[i] = b[i].addr;
    }
    atomic_store(&b[2].delay_ms, 50);
    cz_upstream_t *u = tb_upstream("p2c_ewma", NULL, addrs, NULL, 3);
    drv_t *d = drv_new(u);
    drv_run(d, 400, 4);
    cr_expect_eq(d->ok, 400);
    int slow = count(d, "slow");
    cr_log_info("p2c: the 50 ms node answered %d of 400", slow);
    cr_expect_lt(slow, 40, "a third would be 133; the slow node got %d", slow);
    drv_free(d);
    cz_upstream_free(u);
    for (int i = 0; i < 3; i++)
        ts_stop(&b[i].ts);
}

Test(upstream, p2c_spreads_sequential_calls_over_identical_nodes)
{
    /* One call at a time, as a lightly loaded gateway sees them. go-zero's p2c kept the node
     * with the luckiest first answer on top (the others had only a forced pick a second). The
     * backends take 2 ms so that a scheduling hiccup of this shared machine is not a 10x
     * outlier of a 0.2 ms answer. */
    tb_backend_t b[3];
    const char *names[] = {"a", "b", "c"}, *addrs[3];
    for (int i = 0; i < 3; i++) {
        tb_backend_start(&b[i], names[i]);
        atomic_store(&b[i].delay_ms, 2);
        addrs[i] = b[i].addr;
    }
    cz_upstream_t *u = tb_upstream("p2c_ewma", NULL, addrs, NULL, 3);
    drv_t *d = drv_new(u);
    drv_run(d, 300, 1);
    cr_expect_eq(d->ok, 300, "failed %d (%s)", d->failed, cz_strerror(d->last_err));
    int k[3];
    for (int i = 0; i < 3; i++)
        k[i] = count(d, names[i]);
    cr_log_info("p2c, 300 sequential calls: a %d, b %d, c %d", k[0], k[1], k[2]);
    /* The 25-42 % band of the issue is asserted with an injected clock (unit/core/test_lb_p2c.c);
     * here real latencies on a machine shared with the rest of the suite jitter, so the check is
     * the one that fails on go-zero's behaviour (a node starved at 0.2 %): each node gets at
     * least 15 % (45 of 300), and none more than half. */
    for (int i = 0; i < 3; i++)
        cr_expect(k[i] >= 45 && k[i] <= 150, "%s answered %d of 300 (15 %% .. 50 %%): %d %d %d",
                  names[i], k[i], k[0], k[1], k[2]);
    drv_free(d);
    cz_upstream_free(u);
    for (int i = 0; i < 3; i++)
        ts_stop(&b[i].ts);
}

Test(upstream, a_call_in_flight_to_a_removed_node_finishes)
{
    tb_backend_t slow, other;
    tb_backend_start(&slow, "slow");
    tb_backend_start(&other, "other");
    atomic_store(&slow.delay_ms, 300);
    const char *addrs[] = {slow.addr};
    cz_upstream_t *u = tb_upstream("p2c_ewma", NULL, addrs, NULL, 1);
    drv_t *d = drv_new(u);
    d->total = 1;
    start_one(d, &d->slots[0]);
    long t0 = tc_now_ms();
    while (tc_now_ms() - t0 < 100)
        uv_run(&d->loop, UV_RUN_NOWAIT); /* the call is now waiting on the slow node */
    cz_endpoint_t eps[] = {{other.addr, 1}};
    cr_assert_eq(cz_upstream_set_nodes(u, eps, 1), 0); /* discovery drops the slow node */
    while (d->done < 1)
        uv_run(&d->loop, UV_RUN_ONCE);
    cr_expect_eq(d->ok, 1, "%s", cz_strerror(d->last_err));
    cr_expect_str_eq(d->inst[0], "slow");
    drv_run(d, 5, 1);
    cr_expect_eq(count(d, "other"), 5, "new calls go to the nodes discovery reports");
    drv_free(d);
    cz_upstream_free(u);
    ts_stop(&slow.ts);
    ts_stop(&other.ts);
}
