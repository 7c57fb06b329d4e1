/* SPDX-License-Identifier: MIT
 *
 * Registration and discovery end to end, as the gateway issue asks: czero servers with an Etcd
 * block register themselves in a real etcd, an upstream whose nodes come from the same key
 * routes to them within 1 s, a server shut down gracefully leaves the node set within 1 s (its
 * lease is revoked) while calls keep succeeding, and a server killed without a goodbye leaves
 * when its lease expires. Calls run through cz_upstream_call on a uv loop in the test thread.
 * Skipped without etcd.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>
#include "czero/client.h"
#include "czero/czero.h"
#include "czero/upstream.h"
#include "etcd_server.h"
#include "http_client.h"
#include "test_server.h"

static void with_etcd(ts_t *t, const cz_test_etcd_t *e, const char *key, int64_t ttl)
{
    t->conf.etcd.hosts.items = malloc(sizeof(char *)); /* cz_conf_free frees these in ts_stop */
    t->conf.etcd.hosts.items[0] = strdup(e->host);
    t->conf.etcd.hosts.n = 1;
    t->conf.etcd.key = strdup(key);
    t->conf.etcd.ttl_s = ttl;
}

static int listed(cz_upstream_t *u, const char *addr)
{
    cz_upstream_node_stat_t st[8];
    size_t n = cz_upstream_nodes(u, st, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (strcmp(st[i].addr, addr) == 0)
            return 1;
    return 0;
}

/* ms until addr is listed (want 1) or not (want 0), or -1 after timeout_ms */
static long wait_listed(cz_upstream_t *u, const char *addr, int want, long timeout_ms)
{
    long t0 = tc_now_ms();
    while (listed(u, addr) != want) {
        if (tc_now_ms() - t0 > timeout_ms)
            return -1;
        usleep(5000);
    }
    return tc_now_ms() - t0;
}

typedef struct call {
    int done, err, status;
} call_t;

static int on_head(cz_call_t *c, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                   void *ud)
{
    ((call_t *)ud)->status = status;
    return 0;
}

static void on_done(cz_call_t *c, int err, const cz_call_info_t *info, void *ud)
{
    ((call_t *)ud)->err = err;
    ((call_t *)ud)->done = 1;
}

static const cz_call_cbs_t cbs = {.on_head = on_head, .on_done = on_done};

/* One GET /hello through u; the HTTP status, or a negative error. */
static int get_hello(cz_upstream_t *u, cz_client_t *c, uv_loop_t *loop)
{
    cz_upstream_req_t rq = {
        .http = {.method = {"GET", 3}, .target = {"/hello", 6}},
        .retries = 2,
        .idempotent = true,
    };
    call_t k = {0};
    int rc = cz_upstream_call(u, c, &rq, &cbs, &k, NULL);
    if (rc)
        return rc;
    while (!k.done)
        uv_run(loop, UV_RUN_ONCE);
    return k.err ? k.err : k.status;
}

static void set_flag(void *ud) { *(int *)ud = 1; }

Test(discov_upstream, etcd_nodes_are_routed_within_1s_and_leave_on_shutdown_or_lease_expiry,
     .timeout = 60)
{
    if (!cz_test_etcd_available())
        cr_skip_test("etcd binary not found on PATH (Debian package etcd-server)");
    cz_test_etcd_t etcd;
    int rc = cz_test_etcd_start(&etcd);
    cr_assert_eq(rc, 0, "etcd did not start: %d", rc);

    /* The server that will be killed runs in a child forked now, before this process has any
     * threads, and starts when told to (so its registration happens under test control). */
    int go[2], port_pipe[2];
    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(port_pipe), 0);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        char b;
        if (read(go[0], &b, 1) != 1)
            _exit(1);
        ts_t t;
        ts_init(&t);
        with_etcd(&t, &etcd, "e2e.api", 2);
        ts_start(&t, NULL, 0);
        if (write(port_pipe[1], &t.port, sizeof t.port) != sizeof t.port)
            _exit(1);
        for (;;)
            pause();
    }

    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "Name: api\nPolicy: round_robin\nEtcd:\n  Hosts: [%s]\n  Key: e2e.api\n", etcd.host);
    cz_upstream_conf_t uc = {0}; /* the loader zeroes only the keys it knows (not .clock) */
    cz_diag_t d = {0};
    cr_assert_eq(cz_conf_load_string("up.yaml", yaml, strlen(yaml), cz_upstream_conf_fields, &uc,
                                     &d), 0, "%s: %s", d.key, d.msg);
    cz_upstream_t *u = cz_upstream_new(&uc, &d);
    cr_assert_not_null(u, "%s: %s", d.key, d.msg);

    ts_t a, b;
    ts_init(&a);
    ts_init(&b);
    with_etcd(&a, &etcd, "e2e.api", 10);
    with_etcd(&b, &etcd, "e2e.api", 10);
    ts_start(&a, NULL, 0);
    ts_start(&b, NULL, 0);
    char aa[32], ba[32];
    snprintf(aa, sizeof aa, "127.0.0.1:%d", a.port);
    snprintf(ba, sizeof ba, "127.0.0.1:%d", b.port);
    cr_assert_geq(wait_listed(u, aa, 1, 1000), 0, "server a not routed within 1 s");
    cr_assert_geq(wait_listed(u, ba, 1, 1000), 0, "server b not routed within 1 s");

    uv_loop_t loop;
    uv_loop_init(&loop);
    cz_client_t *c = cz_client_new(&loop, NULL);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(get_hello(u, c, &loop), 200);
    cz_upstream_node_stat_t st[8];
    size_t n = cz_upstream_nodes(u, st, 8);
    cr_assert_eq(n, 2);
    cr_assert_eq(st[0].requests + st[1].requests, 20);
    cr_assert_gt(st[0].requests, 0);
    cr_assert_gt(st[1].requests, 0);

    /* graceful shutdown: the lease is revoked before the listener closes */
    long t0 = tc_now_ms();
    ts_stop(&a);
    cr_assert_geq(wait_listed(u, aa, 0, 1000 - (tc_now_ms() - t0)), 0,
                  "server a still routed 1 s after its shutdown");
    for (int i = 0; i < 10; i++)
        cr_assert_eq(get_hello(u, c, &loop), 200);

    /* killed: the node goes when its 2 s lease expires */
    cr_assert_eq(write(go[1], "g", 1), 1);
    int cport = 0;
    cr_assert_eq(read(port_pipe[0], &cport, sizeof cport), (ssize_t)sizeof cport);
    char ca[32];
    snprintf(ca, sizeof ca, "127.0.0.1:%d", cport);
    cr_assert_geq(wait_listed(u, ca, 1, 1000), 0, "child server not routed within 1 s");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    long gone = wait_listed(u, ca, 0, 5000);
    cr_assert_geq(gone, 0, "a killed server stayed routed past its lease");
    cr_assert_geq(gone, 300, "gone after %ld ms: sooner than a lease can expire", gone);
    for (int i = 0; i < 10; i++) /* calls meanwhile may have hit the dead node: retried */
        cr_assert_eq(get_hello(u, c, &loop), 200);

    int closed = 0;
    cz_client_close(c, set_flag, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    uv_loop_close(&loop);
    ts_stop(&b);
    cz_upstream_free(u);
    cz_conf_free(cz_upstream_conf_fields, &uc);
    cz_test_etcd_free(&etcd);
}
