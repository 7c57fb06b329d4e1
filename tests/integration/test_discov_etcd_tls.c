/* SPDX-License-Identifier: MIT
 *
 * etcd over TLS, against a real etcd on loopback with an https client listener
 * (cz_test_etcd_start_tls: the test PKI of tests/support/tls_certs.sh, client certificates
 * required) and go-zero's EtcdConf keys (CertFile, CertKeyFile, CACertFile): a publisher
 * registers and a subscriber sees it over https; a czero server with such an Etcd block
 * registers Host:Port; a gateway upstream discovers its node through it; with the wrong CA
 * (other-ca) discovery degrades as documented: the error is logged with OpenSSL's reason, the
 * subscriber retries (the next attempt also fails, nothing crashes, the known set is kept, here
 * empty), and without a client certificate etcd refuses the handshake. User/Pass authenticate
 * through etcd's JSON gateway and renew an expired token. The client alone: an https:// address
 * without a context verifies against the system's CAs (which do not know the test CA), with one
 * it connects and a second connection resumes the session. Skipped without etcd.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "czero/czero.h"
#include "czero/discovery.h"
#include "czero/tls.h"
#include "czero/upstream.h"
#include "etcd_server.h"
#include "http_client.h"
#include "test_server.h"
#include "tls_pair.h"

static cz_test_etcd_t etcd;
static uv_loop_t loop;
static char pki[64], logdir[64];
static char *hosts[1];
static char ca[128], other_ca[128], cert[128], key[128];
static cz_etcd_opts_t fast;

#define SKIP_WITHOUT_ETCD()                                                                       \
    do {                                                                                          \
        if (!cz_test_etcd_available())                                                            \
            cr_skip_test("etcd binary not found on PATH (Debian package etcd-server)");           \
    } while (0)

static void setup(void)
{
    if (!cz_test_etcd_available())
        return;
    cz_tp_certs_make(pki, sizeof pki);
    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    snprintf(other_ca, sizeof other_ca, "%s/other-ca.pem", pki);
    snprintf(cert, sizeof cert, "%s/client.pem", pki);
    snprintf(key, sizeof key, "%s/client.key", pki);
    int rc = cz_test_etcd_start_tls(&etcd, pki, 1);
    cr_assert_eq(rc, 0, "etcd did not start: %d (log in %s)", rc, etcd.dir);
    hosts[0] = etcd.tls_host;
    snprintf(logdir, sizeof logdir, "/tmp/cz-etcd-tls-log-XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    cz_log_conf_t lc = {.mode = CZ_LOG_MODE_FILE, .path = logdir, .level = CZ_LOG_INFO};
    cz_diag_t d;
    cr_assert_eq(cz_log_setup(&lc, &d), 0, "%s", d.msg);
    uv_loop_init(&loop);
    cz_etcd_opts_init(&fast);
    fast.backoff_min_ms = 50;
    fast.backoff_max_ms = 400;
    fast.request_timeout_ms = 1000;
}

static void teardown(void)
{
    if (!etcd.dir[0])
        return;
    cz_log_close();
    cz_test_etcd_free(&etcd);
    cz_tp_certs_remove(pki);
    char cmd[96];
    if (getenv("CZ_KEEP_LOGS"))
        return;
    snprintf(cmd, sizeof cmd, "rm -rf %s", logdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", logdir);
}

TestSuite(discov_etcd_tls, .init = setup, .fini = teardown, .timeout = 90);

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

static void tick(uv_timer_t *t) { (void)t; }

static long run_until(int (*cond)(void *), void *arg, long timeout_ms)
{
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, tick, 5, 5);
    long t0 = tc_now_ms(), el = -1;
    for (;;) {
        if (cond(arg)) {
            el = tc_now_ms() - t0;
            break;
        }
        if (tc_now_ms() - t0 > timeout_ms)
            break;
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return el;
}

static int never(void *a) { return (void)a, 0; }
static int flag_set(void *a) { return *(int *)a; }
static void set_flag(void *ud) { *(int *)ud = 1; }
static int has_one(void *a) { return ((seen_t *)a)->n == 1; }

static cz_etcd_conf_t tls_conf(const char *k, const char *cafile, bool with_cert)
{
    cz_etcd_conf_t c = {.hosts = {hosts, 1}, .key = (char *)k, .ttl_s = 10};
    c.tls.ca_file = (char *)cafile;
    if (with_cert) {
        c.tls.cert_file = cert;
        c.tls.key_file = key;
    }
    return c;
}

static void discovery_free_sync(cz_discovery_t *d)
{
    int done = 0;
    cz_discovery_free(d, set_flag, &done);
    cr_assert_geq(run_until(flag_set, &done, 3000), 0, "discovery free never finished");
}

/* How many lines of a log file ("error", "access": go-zero's file mode) contain want. */
static int log_count_in(const char *file, const char *want)
{
    cz_log_flush();
    char path[128], line[2048];
    snprintf(path, sizeof path, "%s/%s.log", logdir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, want) != NULL;
    fclose(f);
    return n;
}

static int log_count(const char *want) { return log_count_in("error", want); }

Test(discov_etcd_tls, publisher_and_subscriber_over_https_with_a_client_certificate)
{
    SKIP_WITHOUT_ETCD();
    cz_etcd_conf_t c = tls_conf("svc.tls", ca, true);
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_etcd_ex(&c, &fast);
    cr_assert_not_null(d);
    cz_discovery_start(d, &loop, on_set, &s);
    cz_etcd_publisher_t *p = cz_etcd_publish_ex(&c, "127.0.0.1:9101", &loop, &fast);
    cr_assert_not_null(p);
    cr_assert_geq(run_until(has_one, &s, 5000), 0, "the subscriber saw nothing over https");
    cr_assert_str_eq(s.addr[0], "127.0.0.1:9101");
    char vals[4][64];
    cr_assert_eq(cz_test_etcd_values(&etcd, "svc.tls/", vals, 4), 1, "not in etcd");
    cr_assert_str_eq(vals[0], "127.0.0.1:9101");
    int done = 0;
    cz_etcd_unpublish(p, set_flag, &done);
    cr_assert_geq(run_until(flag_set, &done, 3000), 0);
    cr_assert_eq(cz_test_etcd_values(&etcd, "svc.tls/", vals, 4), 0, "revoke did not reach etcd");
    discovery_free_sync(d);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(discov_etcd_tls, a_server_with_go_zero_etcd_tls_keys_registers)
{
    SKIP_WITHOUT_ETCD();
    ts_t t;
    ts_init(&t);
    cz_etcd_conf_t *e = &t.conf.etcd; /* cz_conf_free frees these in ts_stop */
    e->hosts.items = malloc(sizeof(char *));
    e->hosts.items[0] = strdup(etcd.tls_host);
    e->hosts.n = 1;
    e->key = strdup("demo.tls");
    e->ttl_s = 10;
    e->tls.ca_file = strdup(ca);
    e->tls.cert_file = strdup(cert);
    e->tls.key_file = strdup(key);
    ts_start(&t, NULL, 0);
    char want[32], vals[4][64];
    snprintf(want, sizeof want, "127.0.0.1:%d", t.port);
    long t0 = tc_now_ms();
    int n;
    while ((n = cz_test_etcd_values(&etcd, "demo.tls/", vals, 4)) != 1 && tc_now_ms() - t0 < 3000)
        usleep(10000);
    cr_assert_eq(n, 1, "the server did not register over https within 3 s");
    cr_assert_str_eq(vals[0], want);
    ts_stop(&t);
    cr_assert_eq(cz_test_etcd_values(&etcd, "demo.tls/", vals, 4), 0, "still registered");
    uv_loop_close(&loop);
}

Test(discov_etcd_tls, a_gateway_upstream_discovers_its_node_over_https)
{
    SKIP_WITHOUT_ETCD();
    cr_assert_eq(cz_test_etcd_put(&etcd, "svc.up/1", "127.0.0.1:9102"), 0);
    char yaml[1024]; /* go-zero's EtcdConf keys, as a gateway's Upstreams entry carries them */
    snprintf(yaml, sizeof yaml,
             "Name: up\nEtcd:\n  Hosts: [\"%s\"]\n  Key: svc.up\n  CACertFile: %s\n"
             "  CertFile: %s\n  CertKeyFile: %s\n",
             etcd.tls_host, ca, cert, key);
    cz_upstream_conf_t uc = {0};
    cz_diag_t d = {0};
    cr_assert_eq(cz_conf_load_string("up.yaml", yaml, strlen(yaml), cz_upstream_conf_fields, &uc,
                                     &d), 0, "%s: %s", d.key, d.msg);
    cr_assert_str_eq(uc.etcd.tls.ca_file, ca);
    cz_upstream_t *u = cz_upstream_new(&uc, &d);
    cr_assert_not_null(u, "%s: %s", d.key, d.msg);
    cz_upstream_node_stat_t st[4];
    size_t n = 0;
    for (long t0 = tc_now_ms(); (n = cz_upstream_nodes(u, st, 4)) == 0 && tc_now_ms() - t0 < 5000;)
        usleep(10000);
    cr_assert_eq(n, 1, "no node discovered over https");
    cr_assert_str_eq(st[0].addr, "127.0.0.1:9102");
    cz_upstream_free(u);
    cz_conf_free(cz_upstream_conf_fields, &uc);
    uv_loop_close(&loop);
}

Test(discov_etcd_tls, a_wrong_ca_is_logged_with_the_reason_and_retried_without_a_crash)
{
    SKIP_WITHOUT_ETCD();
    cr_assert_eq(cz_test_etcd_put(&etcd, "svc.bad/1", "127.0.0.1:9103"), 0);
    cz_etcd_conf_t c = tls_conf("svc.bad", other_ca, true);
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_etcd_ex(&c, &fast);
    cr_assert_not_null(d);
    cz_discovery_start(d, &loop, on_set, &s);
    run_until(never, NULL, 1500); /* backoff 50, 100, 200, 400, 400 ms: several attempts */
    cr_assert_eq(s.n, 0, "a node came through an unverified etcd");
    cr_assert_geq(log_count("etcd discovery svc.bad: range on localhost:"), 2,
                  "the failure was not logged, or not retried");
    cr_assert_geq(log_count("certificate verify failed"), 1, "no OpenSSL reason in the log");
    discovery_free_sync(d);

    /* no client certificate: etcd (--client-cert-auth) refuses the handshake */
    cz_etcd_conf_t nc = tls_conf("svc.nocert", ca, false);
    seen_t s2 = {0};
    d = cz_discovery_etcd_ex(&nc, &fast);
    cz_discovery_start(d, &loop, on_set, &s2);
    run_until(never, NULL, 500);
    cr_assert_eq(s2.reports, 0);
    cr_assert_geq(log_count("etcd discovery svc.nocert: "), 1, "the refusal was not logged");
    discovery_free_sync(d);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

static int registered(void *p) { return cz_etcd_publisher_registered(p); }

Test(discov_etcd_tls, user_and_pass_authenticate_and_an_expired_token_is_renewed)
{
    SKIP_WITHOUT_ETCD();
    cr_assert_eq(cz_test_etcd_auth_enable(&etcd, "root", "s3cret"), 0);
    /* tokens that expire after 1 s unused; no client certificates: with auth on, etcd's JSON
     * gateway refuses a request that carries one ("CommonName of client sending a request
     * against gateway will be ignored"), so User/Pass go with server-only TLS */
    cz_test_etcd_stop(&etcd);
    snprintf(etcd.extra, sizeof etcd.extra, "--auth-token-ttl=1");
    etcd.client_auth = 0;
    cr_assert_eq(cz_test_etcd_restart(&etcd, 0), 0);
    cz_etcd_conf_t c = tls_conf("svc.auth", ca, false);
    c.user = "root";
    c.pass = "s3cret";
    seen_t s = {0};
    cz_etcd_opts_t o = fast;
    o.resync_ms = 2500; /* a range every 2.5 s: the token has expired by then */
    cz_discovery_t *d = cz_discovery_etcd_ex(&c, &o);
    cz_discovery_start(d, &loop, on_set, &s);
    cz_etcd_publisher_t *p = cz_etcd_publish_ex(&c, "127.0.0.1:9104", &loop, &fast);
    cr_assert_geq(run_until(has_one, &s, 5000), 0, "nothing seen with User/Pass");
    cr_assert_str_eq(s.addr[0], "127.0.0.1:9104");
    cr_assert_geq(run_until(registered, p, 1000), 0);
    /* the subscriber's resync ranges come after the token expired: each must re-authenticate
     * (a 401, then /v3/auth/authenticate, then the range again); etcd does not check tokens
     * on lease keepalives */
    run_until(never, NULL, 6000);
    cr_assert(cz_etcd_publisher_registered(p));
    cr_assert_geq(log_count_in("access", "authenticating again"), 1, "the token never expired");
    cr_assert_eq(log_count("status 401"), 0, "a request failed on the expired token");

    cz_etcd_conf_t bad = c; /* a wrong password: logged, nothing seen, retried */
    bad.key = "svc.auth";
    bad.pass = "wrong";
    seen_t s2 = {0};
    cz_discovery_t *d2 = cz_discovery_etcd_ex(&bad, &fast);
    cz_discovery_start(d2, &loop, on_set, &s2);
    run_until(never, NULL, 600);
    cr_assert_eq(s2.reports, 0);
    cr_assert_geq(log_count("etcd: authenticate as root on localhost:"), 2);
    discovery_free_sync(d2);

    int done = 0;
    cz_etcd_unpublish(p, set_flag, &done);
    cr_assert_geq(run_until(flag_set, &done, 3000), 0);
    discovery_free_sync(d);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

typedef struct got {
    int done, err, status, resumed;
    char why[160];
} got_t;

static void on_fetch(int err, const cz_fetch_res_t *res, void *ud)
{
    got_t *g = ud;
    g->done = 1;
    g->err = err;
    g->status = res ? res->status : 0;
    g->resumed = res && res->info.tls_resumed;
    snprintf(g->why, sizeof g->why, "%s", res && res->info.tls_error ? res->info.tls_error : "");
}

static got_t fetch(cz_client_t *cl, cz_tls_ctx_t *tls)
{
    got_t g = {0};
    cz_client_req_t rq = {.addr = etcd.tls_host, .method = CZ_STR("GET"),
                          .target = CZ_STR("/health"), .tls = tls, .pool_size = -1};
    cr_assert_eq(cz_client_fetch(cl, &rq, 0, on_fetch, &g), 0);
    cr_assert_geq(run_until(flag_set, &g.done, 3000), 0);
    return g;
}

/* The client itself (go-zero's httpc role): an https:// address without a context verifies
 * against the system's CAs; with one (CACertFile + a client certificate) it gets through, and a
 * second connection resumes the first one's session. */
Test(discov_etcd_tls, client_https_addresses_verify_and_resume)
{
    SKIP_WITHOUT_ETCD();
    cz_client_t *cl = cz_client_new(&loop, NULL);
    got_t g = fetch(cl, NULL);
    cr_assert_eq(g.err, CZ_ETLS, "err %d", g.err);
    cr_assert(strstr(g.why, "certificate verify failed") != NULL, "%s", g.why);

    cz_tls_client_conf_t tc = {.ca_file = ca, .cert_file = cert, .key_file = key};
    cz_tls_ctx_t *ctx;
    char err[256];
    cr_assert_eq(cz_tls_client_ctx_new(&tc, &ctx, err, sizeof err), 0, "%s", err);
    g = fetch(cl, ctx);
    cr_assert_eq(g.err, 0, "err %d (%s)", g.err, g.why);
    cr_assert_eq(g.status, 200);
    cr_assert_not(g.resumed);
    g = fetch(cl, ctx); /* no keep-alive (pool_size < 0): a new connection */
    cr_assert_eq(g.status, 200);
    cr_assert(g.resumed, "the second connection did not resume the session");
    cz_client_stats_t st;
    cz_client_stats(cl, &st);
    cr_assert_eq(st.tls_handshakes, 2);
    cr_assert_eq(st.tls_resumed, 1);
    int done = 0;
    cz_client_close(cl, set_flag, &done);
    cr_assert_geq(run_until(flag_set, &done, 3000), 0);
    cz_tls_ctx_unref(ctx);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}
