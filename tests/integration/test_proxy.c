/* SPDX-License-Identifier: MIT
 *
 * test_proxy.c: cz_proxy_handler between a real client socket and real czero backends on
 * loopback: what the backend sees of the headers (hop-by-hop gone, X-Forwarded-*, X-Request-Id,
 * traceparent continuing the client's trace), prefix stripping, 10 MiB bodies both ways, the
 * 502/503/504 answers, retries past a dead node and consistent hashing on a header.
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
#include "czero/czero.h"
#include "czero/upstream.h"
#include "http_client.h"
#include <llhttp.h>
#include "backends.h"
#include "test_server.h"

/* The shared backends (backends.h), taking 10 MiB bodies. */
static void backend_start(tb_backend_t *b, const char *name)
{
    tb_backend_init(b, name);
    b->ts.conf.max_bytes = 16 << 20;
    b->ts.conf.timeout_ms = 0; /* 10 MiB under ASan takes seconds */
    tb_backend_serve(b);
}

/* A backend answering after delay_ms, behind a one-node round-robin upstream. */
static cz_upstream_t *slow_upstream(tb_backend_t *slow, int delay_ms)
{
    backend_start(slow, "slow");
    atomic_store(&slow->delay_ms, delay_ms);
    const char *addrs[] = {slow->addr};
    return tb_upstream("round_robin", NULL, addrs, NULL, 1);
}

typedef struct gw {
    ts_t ts;
    cz_proxy_route_t api, all;
} gw_t;

static void gw_start(gw_t *g, cz_upstream_t *u, int retries, uint64_t timeout_ms)
{
    memset(g, 0, sizeof *g);
    g->api = (cz_proxy_route_t){.up = u, .strip_prefix = "/api", .retries = retries,
                                .timeout_ms = timeout_ms};
    g->all = (cz_proxy_route_t){.up = u, .retries = retries, .timeout_ms = timeout_ms};
    ts_init(&g->ts);
    g->ts.conf.max_bytes = 16 << 20;
    g->ts.conf.timeout_ms = 0;
    g->ts.conf.middlewares.breaker = false;
    g->ts.conf.middlewares.shedding = false;
    const unsigned f = CZ_ROUTE_STREAM_BODY;
    cz_route_t r[] = {
        {.method = "GET", .path = "/api/*rest", .handler = cz_proxy_handler, .ud = &g->api,
         .flags = f},
        {.method = "GET", .path = "/p/*rest", .handler = cz_proxy_handler, .ud = &g->all,
         .flags = f},
        {.method = "POST", .path = "/big", .handler = cz_proxy_handler, .ud = &g->all,
         .flags = f},
        {.method = "GET", .path = "/download", .handler = cz_proxy_handler, .ud = &g->all,
         .flags = f},
        {.method = "GET", .path = "/who", .handler = cz_proxy_handler, .ud = &g->all, .flags = f},
    };
    ts_start(&g->ts, r, 5);
}

static bool has_line(const char *body, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = body; (p = strstr(p, line)); p++)
        if ((p == body || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

Test(proxy, backend_sees_forwarded_headers_and_no_hop_by_hop)
{
    tb_backend_t b;
    backend_start(&b, "a");
    const char *addrs[] = {b.addr};
    cz_upstream_t *u = tb_upstream("round_robin", NULL, addrs, NULL, 1);
    gw_t g;
    gw_start(&g, u, 1, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.ts.port, 2000), 0);
    const char *tid = "4bf92f3577b34da6a3ce929d0e0e4736", *sid = "00f067aa0ba902b7";
    tc_sendf(&c,
             "GET /api/headers?x=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, "
             "X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: p\r\n"
             "TE: trailers\r\nX-Forwarded-For: 10.0.0.1\r\nX-Request-Id: rid-1\r\n"
             "traceparent: 00-%s-%s-01\r\nX-Keep: yes\r\n\r\n",
             tid, sid);
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    const char *bd = r.body;
    cr_expect(strncmp(bd, "/headers?x=1\n", 13) == 0, "prefix stripped: %s", bd);
    cr_expect(has_line(bd, "X-Keep: yes"), "%s", bd);
    cr_expect(has_line(bd, "Host: shop.example"), "%s", bd);
    cr_expect(has_line(bd, "X-Forwarded-For: 10.0.0.1, 127.0.0.1"), "%s", bd);
    cr_expect(has_line(bd, "X-Forwarded-Proto: http"), "%s", bd);
    cr_expect(has_line(bd, "X-Forwarded-Host: shop.example"), "%s", bd);
    cr_expect(has_line(bd, "X-Request-Id: rid-1"), "%s", bd);
    cr_expect_null(strcasestr(bd, "X-Secret"), "named by Connection: %s", bd);
    cr_expect_null(strcasestr(bd, "Keep-Alive:"), "%s", bd);
    cr_expect_null(strcasestr(bd, "Proxy-Authorization"), "%s", bd);
    cr_expect_null(strcasestr(bd, "\nTE:"), "%s", bd);
    /* the backend continues the client's trace, as a child of the gateway's span */
    const char *tp = strstr(bd, "traceparent: 00-");
    cr_assert_not_null(tp, "%s", bd);
    tp += strlen("traceparent: 00-");
    cr_expect(strncmp(tp, tid, 32) == 0, "same trace id: %.55s", tp);
    cr_expect(strncmp(tp + 33, sid, 16) != 0, "the parent is the gateway's span: %.55s", tp);
    cr_expect_str_eq(tc_header(&r, "X-Instance"), "a", "response headers come back");
    cr_expect_not(r.chunked, "a small response keeps its Content-Length");
    /* one traceparent back, the gateway's: the backend's (its own span) is not passed on */
    int ntp = 0;
    for (int i = 0; i < r.nheaders; i++)
        if (strcasecmp(r.name[i], "traceparent") == 0) {
            ntp++;
            cr_expect(strncmp(r.value[i] + 3, tid, 32) == 0, "same trace: %s", r.value[i]);
            cr_expect(strncmp(r.value[i] + 36, tp + 33, 16) == 0,
                      "the gateway's span, the backend's parent: %s", r.value[i]);
        }
    cr_expect_eq(ntp, 1, "traceparent headers in the answer: %d", ntp);
    tc_resp_free(&r);

    /* no X-Request-Id: one is made up */
    tc_sendf(&c, "GET /api/headers HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, false), 0);
    const char *rid = strstr(r.body, "X-Request-Id: ");
    cr_assert_not_null(rid, "%s", r.body);
    rid += 14;
    size_t n = strcspn(rid, "\n");
    cr_expect_eq(n, 32, "a 128-bit hex id: %.*s", (int)n, rid);
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&g.ts);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}

/* Read one response and compare its body with want as it streams in: no 10 MiB buffer grown by
 * realloc (which ASan turns into copies of everything read so far). Returns the status, or -1. */
typedef struct chk {
    const char *want;
    size_t n, off;
    bool same, done;
} chk_t;

static int chk_body(llhttp_t *p, const char *at, size_t n)
{
    chk_t *k = p->data;
    if (k->off + n > k->n || memcmp(k->want + k->off, at, n) != 0)
        k->same = false;
    k->off += n;
    return 0;
}

static int chk_done(llhttp_t *p)
{
    ((chk_t *)p->data)->done = true;
    return HPE_PAUSED;
}

static int read_check(tc_conn_t *c, const char *want, size_t n, size_t *got, bool *same)
{
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_body = chk_body;
    st.on_message_complete = chk_done;
    llhttp_t p;
    llhttp_init(&p, HTTP_RESPONSE, &st);
    chk_t k = {.want = want, .n = n, .same = true};
    p.data = &k;
    static char buf[1 << 16];
    while (!k.done) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r <= 0)
            return -1;
        llhttp_errno_t e = llhttp_execute(&p, buf, (size_t)r);
        if (e != HPE_OK && e != HPE_PAUSED)
            return -1;
    }
    *got = k.off;
    *same = k.same && k.off == n;
    return p.status_code;
}

Test(proxy, ten_mib_both_ways)
{
    tb_backend_t b;
    backend_start(&b, "a");
    const char *addrs[] = {b.addr};
    cz_upstream_t *u = tb_upstream("round_robin", NULL, addrs, NULL, 1);
    gw_t g;
    gw_start(&g, u, 1, 0);
    char *big = tb_big_pattern();
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.ts.port, 5000), 0);
    long t0 = tc_now_ms();
    tc_sendf(&c, "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: %u\r\n\r\n", TB_BIG);
    cr_assert_eq(tc_send(&c, big, TB_BIG), 0);
    size_t got;
    bool same;
    cr_assert_eq(read_check(&c, big, TB_BIG, &got, &same), 200);
    cr_assert(same, "echoed %zu bytes, or they differ", got);
    long t1 = tc_now_ms();
    tc_sendf(&c, "GET /download HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(read_check(&c, big, TB_BIG, &got, &same), 200);
    cr_assert(same, "downloaded %zu bytes, or they differ", got);
    cr_log_info("10 MiB: upload+echo %ld ms, download %ld ms", t1 - t0, tc_now_ms() - t1);
    tc_close(&c);
    free(big);
    ts_stop(&g.ts);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}

static int get_status(int port, const char *path)
{
    tc_resp_t r;
    if (tc_get(port, path, &r) != 0)
        return -1;
    int s = r.status;
    tc_resp_free(&r);
    return s;
}

Test(proxy, answers_502_503_504)
{
    char dead[32];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", tb_dead_port());
    const char *daddr[] = {dead};
    cz_upstream_t *ud = tb_upstream("round_robin", NULL, daddr, NULL, 1);
    gw_t g;
    gw_start(&g, ud, 0, 0);
    cr_expect_eq(get_status(g.ts.port, "/who"), 502, "connect refused");
    cr_assert_eq(cz_upstream_set_nodes(ud, NULL, 0), 0);
    cr_expect_eq(get_status(g.ts.port, "/who"), 503, "no node");
    ts_stop(&g.ts);
    cz_upstream_free(ud);

    tb_backend_t slow;
    cz_upstream_t *us = slow_upstream(&slow, 1000);
    gw_start(&g, us, 0, 200);
    long t0 = tc_now_ms();
    cr_expect_eq(get_status(g.ts.port, "/who"), 504, "upstream timeout");
    cr_expect_lt(tc_now_ms() - t0, 900);
    ts_stop(&g.ts);
    cz_upstream_free(us);
    ts_stop(&slow.ts);
}

/* The route's Timeout link (server Timeout here, 250 ms) bounds the upstream call: a slow node
 * answers 504 at 250 ms. Before the proxy took the link's deadline over, the link's 100 ms tick
 * answered 503 at 300 ms, or raced the call's own timer when both fell on one instant. */
Test(proxy, route_timeout_link_bounds_the_upstream_call_with_504)
{
    tb_backend_t slow;
    cz_upstream_t *us = slow_upstream(&slow, 1000);
    gw_t g;
    memset(&g, 0, sizeof g);
    g.all = (cz_proxy_route_t){.up = us};
    ts_init(&g.ts);
    g.ts.conf.timeout_ms = 250;
    g.ts.conf.middlewares.breaker = false;
    g.ts.conf.middlewares.shedding = false;
    cz_route_t r[] = {{.method = "GET", .path = "/who", .handler = cz_proxy_handler,
                       .ud = &g.all, .flags = CZ_ROUTE_STREAM_BODY}};
    ts_start(&g.ts, r, 1);
    for (int i = 0; i < 3; i++) {
        long t0 = tc_now_ms();
        cr_expect_eq(get_status(g.ts.port, "/who"), 504, "upstream timeout, try %d", i);
        long took = tc_now_ms() - t0;
        cr_expect(took >= 245 && took < 350, "answered after %ld ms, want 250", took);
    }
    ts_stop(&g.ts);
    cz_upstream_free(us);
    ts_stop(&slow.ts);
}

Test(proxy, dead_node_costs_no_failed_get_and_hash_sticks)
{
    tb_backend_t b[2];
    backend_start(&b[0], "a");
    backend_start(&b[1], "b");
    char dead[32];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", tb_dead_port());
    const char *addrs[] = {b[0].addr, b[1].addr, dead};
    cz_upstream_t *u = tb_upstream("p2c_ewma", NULL, addrs, NULL, 3);
    gw_t g;
    gw_start(&g, u, 2, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.ts.port, 2000), 0);
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        tc_sendf(&c, "GET /who HTTP/1.1\r\nHost: h\r\n\r\n");
        tc_resp_t r;
        cr_assert_eq(tc_read(&c, &r, false), 0);
        ok += r.status == 200;
        tc_resp_free(&r);
    }
    cr_expect_eq(ok, 100);
    tc_close(&c);
    ts_stop(&g.ts);
    cz_upstream_free(u);

    u = tb_upstream("consistent_hash", "HashKey: header:X-User\n", addrs, NULL, 2);
    gw_start(&g, u, 1, 0);
    cr_assert_eq(tc_connect(&c, g.ts.port, 2000), 0);
    for (int user = 0; user < 10; user++) {
        char first[16] = "";
        for (int i = 0; i < 5; i++) {
            tc_sendf(&c, "GET /who HTTP/1.1\r\nHost: h\r\nX-User: u%d\r\n\r\n", user);
            tc_resp_t r;
            cr_assert_eq(tc_read(&c, &r, false), 0);
            cr_assert_eq(r.status, 200);
            if (i == 0)
                snprintf(first, sizeof first, "%s", r.body);
            else
                cr_expect_str_eq(r.body, first, "user u%d moved", user);
            tc_resp_free(&r);
        }
    }
    tc_close(&c);
    ts_stop(&g.ts);
    cz_upstream_free(u);
    ts_stop(&b[0].ts);
    ts_stop(&b[1].ts);
}

Test(proxy, upstream_failing_mid_response_closes_the_client_connection)
{
    /* a large body is streamed to the client as it comes */
    tb_raw_t raw; /* answers a head and part of a body, then closes */
    tb_raw_start(&raw, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nhalf");
    const char *addrs[] = {raw.addr};
    cz_upstream_t *u = tb_upstream("round_robin", NULL, addrs, NULL, 1);
    gw_t g;
    gw_start(&g, u, 2, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.ts.port, 2000), 0);
    tc_sendf(&c, "GET /who HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    int rc = tc_read(&c, &r, false);
    cr_expect_eq(rc, -1, "a truncated body must not look complete (status %d, %zu bytes)",
                 r.status, r.body_len);
    cr_expect_eq(r.status, 200, "the head had been passed on");
    tc_resp_free(&r);
    tc_close(&c);
    /* a small one is collected first (to keep its Content-Length), so it can still become a 502 */
    atomic_store(&raw.answer, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Up: 1\r\n\r\nhalf");
    cr_assert_eq(tc_connect(&c, g.ts.port, 2000), 0);
    tc_sendf(&c, "GET /who HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 502);
    cr_expect_null(tc_header(&r, "X-Up"), "the backend's headers are not on the error answer");
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&g.ts);
    cz_upstream_free(u);
    tb_raw_stop(&raw);
}

Test(proxy, client_gone_cancels_the_upstream_call)
{
    tb_backend_t slow;
    cz_upstream_t *u = slow_upstream(&slow, 300);
    gw_t g;
    gw_start(&g, u, 1, 0);
    for (int i = 0; i < 10; i++) {
        tc_conn_t c;
        cr_assert_eq(tc_connect(&c, g.ts.port, 2000), 0);
        tc_sendf(&c, "GET /who HTTP/1.1\r\nHost: h\r\n\r\n");
        usleep(20000);
        if (i % 2) { /* a reset */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        } /* else a FIN: the proxy registered a cancel callback, so it is an abort (nginx) */
        tc_close(&c);
    }
    /* a cancelled call's connection is closed, not pooled: once the backend's delayed answers
     * are done it holds no connection from the gateway (finished calls would leave idle ones) */
    usleep(600000);
    cr_expect_eq(cz_server_connections(slow.ts.srv), 0, "backend still holds %zu connections",
                 cz_server_connections(slow.ts.srv));
    atomic_store(&slow.delay_ms, 0);
    cr_expect_eq(get_status(g.ts.port, "/who"), 200, "the gateway serves on");
    ts_stop(&g.ts); /* leak-checked: every cancelled call released its state */
    cz_upstream_free(u);
    ts_stop(&slow.ts);
}

/* Send body as a chunked POST /big in three chunks. */
static void post_chunked(tc_conn_t *c, const char *body, size_t n)
{
    tc_sendf(c, "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t third = n / 3;
    size_t parts[] = {third, third, n - 2 * third};
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        tc_sendf(c, "%zx\r\n", parts[i]);
        tc_send(c, body + off, parts[i]);
        tc_sendf(c, "\r\n");
        off += parts[i];
    }
    tc_sendf(c, "0\r\n\r\n");
}

Test(proxy, chunked_upload_is_streamed_and_replayed_after_a_refused_connect)
{
    tb_backend_t good;
    backend_start(&good, "good");
    char dead[32];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", tb_dead_port());
    /* SWRR with weights 1000:1 tries the refusing node first every time (no ejection) */
    char y[256];
    snprintf(y, sizeof y,
             "Name: t\nPolicy: weighted\nOutlier: {MaxFails: 0}\nBreaker: false\nNodes:\n"
             "  - {Addr: \"%s\", Weight: 1000}\n  - {Addr: \"%s\", Weight: 1}\n",
             dead, good.addr);
    cz_upstream_conf_t uc;
    memset(&uc, 0, sizeof uc);
    cz_diag_t dg;
    cr_assert_eq(cz_conf_load_string("t.yaml", y, strlen(y), cz_upstream_conf_fields, &uc, &dg),
                 0, "%s", dg.msg);
    cz_upstream_t *u = cz_upstream_new(&uc, &dg);
    cz_conf_free(cz_upstream_conf_fields, &uc);
    cr_assert_not_null(u);
    gw_t g;
    gw_start(&g, u, 1, 0);
    char *body = tb_big_pattern();
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.ts.port, 2000), 0);
    for (int i = 0; i < 4; i++) {
        post_chunked(&c, body, 60000);
        size_t got;
        bool same;
        cr_assert_eq(read_check(&c, body, 60000, &got, &same), 200, "POST %d", i);
        cr_assert(same, "POST %d echoed %zu bytes, or they differ", i, got);
    }
    /* a large body: nothing drains before the connect, so what was written before the refusal
     * is all in the replay buffer and the body still arrives whole */
    post_chunked(&c, body, 3u << 20);
    size_t got;
    bool same;
    int st = read_check(&c, body, 3u << 20, &got, &same);
    cr_log_info("3 MiB chunked POST: status %d, %zu bytes back", st, got);
    cr_expect_eq(st, 200);
    cr_expect(same, "echoed %zu bytes, or they differ", got);
    cz_upstream_node_stat_t ns[2];
    cr_assert_eq(cz_upstream_nodes(u, ns, 2), 2);
    uint64_t to_dead = strcmp(ns[0].addr, dead) == 0 ? ns[0].requests : ns[1].requests;
    cr_expect_eq(to_dead, 5, "every POST was refused first, then replayed: %lu",
                 (unsigned long)to_dead);
    tc_close(&c);
    free(body);
    ts_stop(&g.ts);
    cz_upstream_free(u);
    ts_stop(&good.ts);
}

Test(proxy, head_request_has_no_body)
{
    tb_backend_t b;
    backend_start(&b, "a");
    const char *addrs[] = {b.addr};
    cz_upstream_t *u = tb_upstream("round_robin", NULL, addrs, NULL, 1);
    gw_t g;
    gw_start(&g, u, 1, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.ts.port, 2000), 0);
    tc_sendf(&c, "HEAD /who HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, true), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(tc_header(&r, "X-Instance"), "a");
    tc_resp_free(&r);
    tc_sendf(&c, "GET /who HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, false), 0, "the connection is still in step");
    cr_expect_str_eq(r.body, "a");
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&g.ts);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}
