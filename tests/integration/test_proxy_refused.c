/* SPDX-License-Identifier: MIT
 *
 * test_proxy_refused.c: a request the upstream client refuses to write is the client's error,
 * never a node's. Through the proxy: each such request is answered 400 at once, no backend sees
 * it, no node's breaker, ejection record or request count moves, the route breaker stays shut,
 * and the healthy nodes go on answering 200. Through cz_upstream_call / cz_upstream_fetch (the
 * same accounting, whatever the HTTP parser lets in): CZ_EARG before any node is picked.
 * Not here: what the proxy forwards of a good request (test_proxy.c).
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include "czero/client.h"
#include "czero/czero.h"
#include "czero/upstream.h"
#include "gateway/gw_int.h"
#include "http_client.h"
#include "backends.h"
#include "test_server.h"

/* Both nodes untouched: no call sent, no failure, not ejected, breakers empty. */
static void expect_nodes_untouched(cz_upstream_t *u, const char *when)
{
    cz_upstream_node_stat_t st[2];
    cr_assert_eq(cz_upstream_nodes(u, st, 2), 2);
    for (int i = 0; i < 2; i++) {
        cr_expect(st[i].usable, "%s: node %s usable", when, st[i].addr);
        cr_expect_not(st[i].ejected, "%s: node %s ejected", when, st[i].addr);
        cr_expect_eq(st[i].fails, 0, "%s: node %s fails %u", when, st[i].addr, st[i].fails);
        cr_expect_eq(st[i].requests, 0, "%s: node %s got %llu calls", when, st[i].addr,
                     (unsigned long long)st[i].requests);
    }
    for (cz__up_node_t *n = u->nodes; n; n = n->next) {
        cz_breaker_stat_t bs;
        cz_breaker_stat(n->breaker, &bs);
        cr_expect_eq(bs.total, 0, "%s: node %s breaker saw %lld calls (%lld failures)", when,
                     n->addr, (long long)bs.total, (long long)bs.failures);
    }
}

static void two_backends(tb_backend_t *a, tb_backend_t *b, cz_upstream_t **u)
{
    tb_backend_start(a, "a");
    tb_backend_start(b, "b");
    const char *addrs[] = {a->addr, b->addr};
    /* nginx's defaults: one failure ejects (MaxFails 1), breakers on */
    *u = tb_upstream("round_robin", NULL, addrs, NULL, 2);
}

/* One request on a fresh connection (the parser may close it after a 400); its status. */
static int status_of(int port, const char *raw)
{
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, port, 3000), 0);
    cr_assert_eq(tc_send(&c, raw, strlen(raw)), 0);
    tc_resp_t r;
    int st = tc_read(&c, &r, false) == 0 ? r.status : -1;
    if (st != -1)
        tc_resp_free(&r);
    tc_close(&c);
    return st;
}

/* The bug of issue 12: one client's requests with a header the upstream client refuses (a
 * folded line, an empty name) made the gateway try every node, answer 503 and eject the nodes,
 * so other clients' good requests failed with 503 too. Whether the server's parser refuses
 * these (400 at parse time) or the proxy does (400 before a node is picked), the nodes must
 * not hear of them. */
Test(proxy_refused, malformed_headers_are_400_and_blame_no_node)
{
    tb_backend_t a, b;
    cz_upstream_t *u;
    two_backends(&a, &b, &u);
    static cz_proxy_route_t route;
    route = (cz_proxy_route_t){.up = u, .retries = 2};
    ts_t gw;
    ts_init(&gw);
    gw.conf.middlewares.breaker = true; /* the route breaker: counts 5xx answers */
    gw.conf.middlewares.shedding = false;
    cz_route_t r[] = {
        {.method = "GET", .path = "/who", .handler = cz_proxy_handler, .ud = &route,
         .flags = CZ_ROUTE_STREAM_BODY},
    };
    ts_start(&gw, r, 1);

    static const char *const bad[] = {
        "GET /who HTTP/1.1\r\nHost: h\r\nX-Foo: a\r\n b\r\n\r\n",
        "GET /who HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n",
        "GET /who HTTP/1.1\r\nHost: h\r\nX-Foo: a\r\n\tb\r\nX-Bar: c\r\n\r\n",
    };
    int n400 = 0, other = 0, last_other = 0;
    for (int i = 0; i < 60; i++) {
        int st = status_of(gw.port, bad[i % 3]);
        if (st == 400)
            n400++;
        else
            other++, last_other = st;
    }
    cr_expect_eq(n400, 60, "answers 400: %d of 60 (another status %d times, last %d)", n400,
                 other, last_other);
    cr_expect_eq(atomic_load(&a.hits) + atomic_load(&b.hits), 0, "the backends saw nothing");
    expect_nodes_untouched(u, "after the malformed requests");

    /* other clients are served as before, by both nodes */
    for (int i = 0; i < 6; i++)
        cr_expect_eq(status_of(gw.port, "GET /who HTTP/1.1\r\nHost: h\r\n\r\n"), 200,
                     "good request %d", i);
    cr_expect_eq(atomic_load(&a.hits), 3);
    cr_expect_eq(atomic_load(&b.hits), 3);

    ts_stop(&gw);
    cz_upstream_free(u);
    ts_stop(&a.ts);
    ts_stop(&b.ts);
}

/* ---- the same accounting through the API, independent of what the HTTP parser admits ---- */

typedef struct api {
    uv_loop_t loop;
    cz_client_t *c;
    int done, status, err;
} api_t;

static void api_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    api_t *t = ud;
    (void)call;
    t->done++;
    t->err = err;
    t->status = info ? info->status : 0;
}

static const cz_call_cbs_t api_cbs = {.on_done = api_done};

static void api_fetched(int err, const cz_fetch_res_t *res, void *ud)
{
    api_t *t = ud;
    t->done++;
    t->err = err;
    t->status = res->status;
}

Test(proxy_refused, upstream_call_refuses_an_unwritable_request_before_any_node)
{
    tb_backend_t a, b;
    cz_upstream_t *u;
    two_backends(&a, &b, &u);
    api_t t = {0};
    uv_loop_init(&t.loop);
    t.c = cz_client_new(&t.loop, NULL);
    cr_assert_not_null(t.c);

    /* what the client refuses to write: a header value with CR LF (a folded line), NUL, an
     * empty name, a name with ':'; a target with a space */
    struct {
        const char *name, *value, *target;
        size_t vlen;
    } cases[] = {
        {"X-Foo", "a\r\n b", "/who", 5}, {"X-Foo", "a\0b", "/who", 3},
        {"", "v", "/who", 1},            {"X:Y", "v", "/who", 1},
        {"X-Ok", "v", "/w ho", 1},
    };
    for (int round = 0; round < 10; round++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            cz_str_t hn = cz_str_c(cases[i].name), hv = {cases[i].value, cases[i].vlen};
            cz_upstream_req_t rq = {
                .http = {.method = CZ_STR("GET"), .target = cz_str_c(cases[i].target),
                         .hname = &hn, .hvalue = &hv, .nheaders = 1},
                .retries = 2,
                .idempotent = true,
            };
            cr_expect_eq(cz_upstream_call(u, t.c, &rq, &api_cbs, &t, NULL), CZ_EARG,
                         "call, case %zu", i);
            cr_expect_eq(cz_upstream_fetch(u, t.c, &rq, 0, api_fetched, &t, NULL), CZ_EARG,
                         "fetch, case %zu", i);
        }
    uv_run(&t.loop, UV_RUN_NOWAIT);
    cr_expect_eq(t.done, 0, "no callback for a refused call");
    cr_expect_eq(atomic_load(&a.hits) + atomic_load(&b.hits), 0, "the backends saw nothing");
    expect_nodes_untouched(u, "after the refused calls");

    /* a good call goes through */
    cz_upstream_req_t ok = {.http = {.method = CZ_STR("GET"), .target = CZ_STR("/who")},
                            .retries = 2, .idempotent = true};
    cr_assert_eq(cz_upstream_call(u, t.c, &ok, &api_cbs, &t, NULL), 0);
    while (t.done == 0)
        uv_run(&t.loop, UV_RUN_ONCE);
    cr_expect_eq(t.err, 0);
    cr_expect_eq(t.status, 200);
    cr_expect_eq(atomic_load(&a.hits) + atomic_load(&b.hits), 1);

    cz_client_close(t.c, NULL, NULL);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&t.loop), 0);
    cz_upstream_free(u);
    ts_stop(&a.ts);
    ts_stop(&b.ts);
}
