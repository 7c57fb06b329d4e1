/* SPDX-License-Identifier: MIT
 *
 * etcd discovery and registration against a real etcd on loopback (tests/support/
 * etcd_server.c): a publisher's key reaches a subscriber within 1 s and leaves within 1 s of a
 * revoke; a SIGKILLed publisher's key goes with its TTL; a subscriber keeps its set while etcd
 * is down; after etcd comes back as a brand-new cluster the publisher registers again and the
 * subscriber sees it; two publishers are two endpoints; a dead first host is skipped; periodic
 * resync does not re-report an unchanged set and rides out a frozen member; a czero server with
 * an Etcd block registers Host:Port and leaves on shutdown. Skipped without etcd. Without etcd:
 * a half-given Etcd block refuses the server's start, and a server lifecycle hook of the user's
 * (cz_server_add_hook, the interface the registration runs through) sees the bound port at start
 * and runs its stop at shutdown, before the listeners close.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>
#include "czero/czero.h"
#include "czero/discovery.h"
#include "discov/discov_int.h"
#include "etcd_server.h"
#include "http_client.h"
#include "test_server.h"

typedef struct seen {
    int reports;
    size_t n;
    char addr[8][64];
} seen_t;

static void on_set(const cz_endpoint_t *eps, size_t n, void *ud)
{
    seen_t *s = ud;
    s->reports++;
    s->n = n < 8 ? n : 8;
    for (size_t i = 0; i < s->n; i++)
        snprintf(s->addr[i], 64, "%s", eps[i].addr);
}

static int has(const seen_t *s, const char *addr)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->addr[i], addr) == 0)
            return 1;
    return 0;
}

static void tick(uv_timer_t *t) { (void)t; }

/* Run loop until cond(arg) holds or timeout_ms pass; returns the elapsed ms, or -1 on timeout. */
static long run_until(uv_loop_t *loop, int (*cond)(void *), void *arg, long timeout_ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, tick, 5, 5);
    long t0 = tc_now_ms(), el = -1;
    for (;;) {
        if (cond(arg)) {
            el = tc_now_ms() - t0;
            break;
        }
        if (tc_now_ms() - t0 > timeout_ms)
            break;
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return el;
}

static int never(void *arg) { return (void)arg, 0; }
static void run_for(uv_loop_t *loop, long ms) { run_until(loop, never, NULL, ms); }

typedef struct want {
    seen_t *s;
    const char *addr;
    size_t n;
} want_t;
static int has_addr(void *a) { return has(((want_t *)a)->s, ((want_t *)a)->addr); }
static int lacks_addr(void *a) { return !has_addr(a); }
static int has_n(void *a)
{
    const want_t *w = a;
    return w->s->reports > 0 && w->s->n == w->n;
}
static int reported(void *a) { return ((seen_t *)a)->reports > 0; }
static int flag_set(void *a) { return *(int *)a; }
static void set_flag(void *ud) { *(int *)ud = 1; }
static int is_registered(void *p) { return cz_etcd_publisher_registered(p); }

static cz_test_etcd_t etcd;
static uv_loop_t loop;
static char *hosts[2];
static cz_etcd_opts_t fast; /* short backoff so recovery fits a short test */

static void setup(void)
{
    if (!cz_test_etcd_available())
        return;
    int rc = cz_test_etcd_start(&etcd);
    cr_assert_eq(rc, 0, "etcd did not start: %d (log in %s)", rc, etcd.dir);
    hosts[0] = etcd.host;
    uv_loop_init(&loop);
    cz_etcd_opts_init(&fast);
    fast.backoff_min_ms = 50;
    fast.backoff_max_ms = 400;
    fast.request_timeout_ms = 1000;
}

static void teardown(void)
{
    if (etcd.dir[0])
        cz_test_etcd_free(&etcd);
}

#define SKIP_WITHOUT_ETCD()                                                                       \
    do {                                                                                          \
        if (!cz_test_etcd_available())                                                            \
            cr_skip_test("etcd binary not found on PATH (Debian package etcd-server)");           \
    } while (0)

static cz_etcd_conf_t conf_for(const char *key, int64_t ttl)
{
    return (cz_etcd_conf_t){.hosts = {hosts, 1}, .key = (char *)key, .ttl_s = ttl};
}

static void unpublish_sync(cz_etcd_publisher_t *p)
{
    int done = 0;
    cz_etcd_unpublish(p, set_flag, &done);
    cr_assert_geq(run_until(&loop, flag_set, &done, 3000), 0, "unpublish never finished");
}

static void discovery_free_sync(cz_discovery_t *d)
{
    int done = 0;
    cz_discovery_free(d, set_flag, &done);
    cr_assert_geq(run_until(&loop, flag_set, &done, 3000), 0, "discovery free never finished");
}

static void close_loop(void)
{
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(&loop), 0, "handles left open on the loop");
}

TestSuite(discov_etcd, .init = setup, .fini = teardown, .timeout = 60);

Test(discov_etcd, published_key_is_seen_within_1s_and_revoke_removes_it_within_1s)
{
    SKIP_WITHOUT_ETCD();
    cz_etcd_conf_t c = conf_for("svc.a", 10);
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_etcd_ex(&c, &fast);
    cr_assert_not_null(d);
    cr_assert_eq(cz_discovery_start(d, &loop, on_set, &s), 0);
    cr_assert_geq(run_until(&loop, reported, &s, 2000), 0, "no first (empty) report");
    cr_assert_eq(s.n, 0);

    cz_etcd_publisher_t *p = cz_etcd_publish_ex(&c, "127.0.0.1:9001", &loop, &fast);
    cr_assert_not_null(p);
    want_t w = {&s, "127.0.0.1:9001", 1};
    long el = run_until(&loop, has_addr, &w, 1000);
    cr_assert_geq(el, 0, "not routed within 1 s");
    /* the put's answer and the watch event travel on different connections: either may be first */
    cr_assert_geq(run_until(&loop, is_registered, p, 1000), 0);
    char vals[4][64];
    cr_assert_eq(cz_test_etcd_values(&etcd, "svc.a/", vals, 4), 1);
    cr_assert_str_eq(vals[0], "127.0.0.1:9001");

    long t0 = tc_now_ms();
    int done = 0;
    cz_etcd_unpublish(p, set_flag, &done);
    el = run_until(&loop, lacks_addr, &w, 1000);
    cr_assert_geq(el, 0, "still routed 1 s after the revoke");
    cr_assert_lt(tc_now_ms() - t0, 1000);
    cr_assert_eq(cz_test_etcd_values(&etcd, "svc.a/", vals, 4), 0);
    cr_assert_geq(run_until(&loop, flag_set, &done, 1000), 0, "unpublish never finished");
    discovery_free_sync(d);
    close_loop();
}

Test(discov_etcd, killed_publisher_disappears_after_its_ttl)
{
    SKIP_WITHOUT_ETCD();
    cz_etcd_conf_t c = conf_for("svc.b", 2);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) { /* a publisher that dies without revoking */
        uv_loop_t l;
        uv_loop_init(&l);
        cz_etcd_publish_ex(&c, "127.0.0.1:9002", &l, &fast);
        uv_run(&l, UV_RUN_DEFAULT);
        _exit(0);
    }
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_etcd_ex(&c, &fast);
    cz_discovery_start(d, &loop, on_set, &s);
    want_t w = {&s, "127.0.0.1:9002", 1};
    cr_assert_geq(run_until(&loop, has_addr, &w, 3000), 0, "the child never registered");
    run_for(&loop, 300); /* let at least one keep-alive land */
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    long el = run_until(&loop, lacks_addr, &w, 5000);
    cr_assert_geq(el, 0, "still listed 5 s after the kill (TTL 2 s)");
    /* the lease had up to 2 s left when the child died; etcd does not drop it early */
    cr_assert_geq(el, 500, "gone after %ld ms: before the lease could expire", el);
    discovery_free_sync(d);
    close_loop();
}

Test(discov_etcd, subscriber_keeps_its_set_while_etcd_is_down_and_recovers_on_a_new_cluster)
{
    SKIP_WITHOUT_ETCD();
    cz_etcd_conf_t c = conf_for("svc.c", 3);
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_etcd_ex(&c, &fast);
    cz_discovery_start(d, &loop, on_set, &s);
    cz_etcd_publisher_t *p = cz_etcd_publish_ex(&c, "127.0.0.1:9003", &loop, &fast);
    want_t w = {&s, "127.0.0.1:9003", 1};
    cr_assert_geq(run_until(&loop, has_addr, &w, 2000), 0);

    cz_test_etcd_stop(&etcd);
    int before = s.reports;
    run_for(&loop, 1500); /* watch breaks, ranges fail, keep-alives fail */
    cr_assert_eq(s.reports, before, "reported while etcd was down");
    cr_assert(has(&s, "127.0.0.1:9003"), "the last known set was dropped");

    /* a brand-new cluster: the lease and key are gone, the publisher must put them back */
    cr_assert_eq(cz_test_etcd_restart(&etcd, 1), 0);
    char vals[4][64];
    long t0 = tc_now_ms();
    while (cz_test_etcd_values(&etcd, "svc.c/", vals, 4) != 1 && tc_now_ms() - t0 < 6000)
        run_for(&loop, 50);
    cr_assert_eq(cz_test_etcd_values(&etcd, "svc.c/", vals, 4), 1, "not registered again");
    cr_assert_str_eq(vals[0], "127.0.0.1:9003");
    /* and the subscriber follows the new cluster: a node added there is routed */
    cr_assert_eq(cz_test_etcd_put(&etcd, "svc.c/extra", "127.0.0.1:9333"), 0);
    want_t w2 = {&s, "127.0.0.1:9333", 2};
    cr_assert_geq(run_until(&loop, has_addr, &w2, 3000), 0, "subscriber did not recover");
    cr_assert(has(&s, "127.0.0.1:9003"));
    unpublish_sync(p);
    discovery_free_sync(d);
    close_loop();
}

Test(discov_etcd, two_publishers_are_two_endpoints_and_a_dead_first_host_is_skipped)
{
    SKIP_WITHOUT_ETCD();
    char dead[] = "127.0.0.1:1";
    char *two[] = {dead, etcd.host};
    cz_etcd_conf_t c = {.hosts = {two, 2}, .key = "svc.d", .ttl_s = 10};
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_etcd_ex(&c, &fast);
    cz_discovery_start(d, &loop, on_set, &s);
    cz_etcd_publisher_t *p1 = cz_etcd_publish_ex(&c, "127.0.0.1:9004", &loop, &fast);
    cz_etcd_publisher_t *p2 = cz_etcd_publish_ex(&c, "127.0.0.1:9005", &loop, &fast);
    want_t w = {&s, NULL, 2};
    cr_assert_geq(run_until(&loop, has_n, &w, 3000), 0, "got %zu endpoints", s.n);
    cr_assert_str_eq(s.addr[0], "127.0.0.1:9004");
    cr_assert_str_eq(s.addr[1], "127.0.0.1:9005");
    unpublish_sync(p1);
    want_t w1 = {&s, NULL, 1};
    cr_assert_geq(run_until(&loop, has_n, &w1, 1000), 0);
    cr_assert_str_eq(s.addr[0], "127.0.0.1:9005");
    unpublish_sync(p2);
    discovery_free_sync(d);
    close_loop();
}

Test(discov_etcd, server_with_etcd_conf_registers_and_leaves_on_shutdown)
{
    SKIP_WITHOUT_ETCD();
    ts_t t;
    ts_init(&t);
    t.conf.etcd.hosts.items = malloc(sizeof(char *)); /* cz_conf_free frees these in ts_stop */
    t.conf.etcd.hosts.items[0] = strdup(etcd.host);
    t.conf.etcd.hosts.n = 1;
    t.conf.etcd.key = strdup("demo.api");
    t.conf.etcd.ttl_s = 10;
    ts_start(&t, NULL, 0);
    char want[32], vals[4][64];
    snprintf(want, sizeof want, "127.0.0.1:%d", t.port);
    long t0 = tc_now_ms();
    int n;
    while ((n = cz_test_etcd_values(&etcd, "demo.api/", vals, 4)) != 1 && tc_now_ms() - t0 < 1000)
        usleep(10000);
    cr_assert_eq(n, 1, "the server did not register within 1 s");
    cr_assert_str_eq(vals[0], want);
    ts_stop(&t);
    cr_assert_eq(cz_test_etcd_values(&etcd, "demo.api/", vals, 4), 0,
                 "still registered after shutdown");
    uv_loop_close(&loop);
}

Test(discov_etcd, wildcard_host_registers_an_interface_address)
{
    char out[64];
    cr_assert_eq(cz__discov_server_addr("10.1.2.3", 80, out, sizeof out), 0);
    cr_assert_str_eq(out, "10.1.2.3:80");
    cr_assert_eq(cz__discov_server_addr("0.0.0.0", 8080, out, sizeof out), 0);
    cr_assert(strncmp(out, "0.0.0.0", 7) != 0, "%s", out);
    cr_assert(strstr(out, ":8080") != NULL, "%s", out);
    cr_assert_eq(cz__discov_server_addr("::1", 80, out, sizeof out), 0);
    cr_assert_str_eq(out, "[::1]:80");
    if (etcd.dir[0])
        uv_loop_close(&loop);
}

Test(discov_etcd, resync_is_silent_when_nothing_changed_and_survives_a_frozen_member)
{
    SKIP_WITHOUT_ETCD();
    cz_etcd_conf_t c = conf_for("svc.e", 10);
    cz_etcd_opts_t o = fast;
    o.resync_ms = 150;
    o.request_timeout_ms = 300;
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_etcd_ex(&c, &o);
    cz_discovery_start(d, &loop, on_set, &s);
    cr_assert_eq(cz_test_etcd_put(&etcd, "svc.e/1", "127.0.0.1:9006"), 0);
    want_t w = {&s, "127.0.0.1:9006", 1};
    cr_assert_geq(run_until(&loop, has_addr, &w, 2000), 0);
    int before = s.reports;
    run_for(&loop, 800); /* about five resyncs */
    cr_assert_eq(s.reports, before, "an unchanged set was reported again by a resync");

    cz_test_etcd_freeze(&etcd); /* resync ranges time out; the set must stay */
    run_for(&loop, 1000);
    cr_assert_eq(s.reports, before);
    cr_assert(has(&s, "127.0.0.1:9006"));
    cz_test_etcd_thaw(&etcd);
    cr_assert_eq(cz_test_etcd_put(&etcd, "svc.e/2", "127.0.0.1:9007"), 0);
    want_t w2 = {&s, "127.0.0.1:9007", 2};
    cr_assert_geq(run_until(&loop, has_addr, &w2, 3000), 0, "no recovery after the thaw");
    discovery_free_sync(d);
    close_loop();
}

Test(discov_etcd, restart_with_data_kept_keeps_the_registration_and_the_watch_resumes)
{
    SKIP_WITHOUT_ETCD();
    cz_etcd_conf_t c = conf_for("svc.f", 5);
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_etcd_ex(&c, &fast);
    cz_discovery_start(d, &loop, on_set, &s);
    cz_etcd_publisher_t *p = cz_etcd_publish_ex(&c, "127.0.0.1:9008", &loop, &fast);
    want_t w = {&s, "127.0.0.1:9008", 1};
    cr_assert_geq(run_until(&loop, has_addr, &w, 2000), 0);
    cz_test_etcd_stop(&etcd);
    run_for(&loop, 300);
    cr_assert_eq(cz_test_etcd_restart(&etcd, 0), 0);
    /* a change made after the restart arrives: the subscriber ranged and watches again */
    cr_assert_eq(cz_test_etcd_put(&etcd, "svc.f/extra", "127.0.0.1:9009"), 0);
    want_t w2 = {&s, "127.0.0.1:9009", 2};
    cr_assert_geq(run_until(&loop, has_addr, &w2, 3000), 0, "subscriber did not resume");
    cr_assert(has(&s, "127.0.0.1:9008"), "the registration was lost over the restart");
    run_for(&loop, 2000); /* keep-alives on the restarted member (TTL 5 s: one every 1.7 s) */
    cr_assert(cz_etcd_publisher_registered(p));
    char vals[4][64];
    cr_assert_eq(cz_test_etcd_values(&etcd, "svc.f/", vals, 4), 2);
    unpublish_sync(p);
    discovery_free_sync(d);
    close_loop();
}

Test(discov_etcd, half_an_etcd_block_refuses_the_start)
{
    ts_t t;
    ts_init(&t);
    t.conf.etcd.hosts.items = malloc(sizeof(char *)); /* Hosts without Key */
    t.conf.etcd.hosts.items[0] = strdup("127.0.0.1:1");
    t.conf.etcd.hosts.n = 1;
    cz_diag_t d = {0};
    cz_server_t *s = cz_server_new(&t.conf, &d);
    cr_assert_not_null(s, "%s", d.msg);
    cr_assert_eq(cz_server_start(s), CZ_EINVAL_CONF);
    cz_server_free(s);
    cz_conf_free(cz_rest_conf_fields, &t.conf);
}

typedef struct hook_seen {
    int checks, starts, stops, port_at_start, accepting_at_stop;
} hook_seen_t;

static int hook_check(const cz_server_t *s, const cz_rest_conf_t *conf, void *ud)
{
    ((hook_seen_t *)ud)->checks++;
    return 0;
}

static void hook_start(const cz_server_t *s, const cz_rest_conf_t *conf, int port, void *ud)
{
    hook_seen_t *h = ud;
    h->starts++;
    h->port_at_start = port;
}

static void hook_stop(const cz_server_t *s, void *ud)
{
    hook_seen_t *h = ud;
    if (h->stops++ == 0) { /* the first stop is the shutdown's: the listener still answers */
        tc_resp_t r;
        h->accepting_at_stop = tc_get(h->port_at_start, "/ping", &r) == 0;
        if (h->accepting_at_stop)
            tc_resp_free(&r);
    }
}

Test(discov_etcd, a_server_hook_runs_at_start_and_before_the_listeners_close)
{
    static hook_seen_t seen;
    static const cz_server_hook_t hook = {hook_check, hook_start, hook_stop, &seen};
    cr_assert_eq(cz_server_add_hook(&hook), 0);
    cr_assert_eq(cz_server_add_hook(&hook), 0); /* the same hook again: still once */
    cr_assert_eq(cz_server_add_hook(NULL), CZ_EARG);
    ts_t t;
    ts_init(&t);
    ts_start(&t, NULL, 0);
    cr_assert_eq(seen.checks, 1);
    cr_assert_eq(seen.starts, 1);
    cr_assert_eq(seen.port_at_start, t.port);
    cr_assert_eq(seen.stops, 0);
    ts_stop(&t);
    cr_assert_geq(seen.stops, 1);
    cr_assert(seen.accepting_at_stop, "the listener was closed before the hook's stop ran");
}
