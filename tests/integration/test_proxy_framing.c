/* SPDX-License-Identifier: MIT
 *
 * test_proxy_framing.c: what the gateway passes on of a request whose framing is doubtful. A
 * request the engine refuses (two Host headers, a folded header, an empty header name) gets its
 * 400 from the gateway and never reaches the backend, so it cannot count against a healthy
 * upstream; an absolute-form request (`GET http://a/x`) is forwarded in origin-form with its
 * authority as Host and X-Forwarded-Host (RFC 9112 3.2.2), whatever Host header came with it.
 * Real gateway (cz_proxy_handler) and backends on loopback.
 *
 * Not here: the engine's answers themselves (test_http_framing.c), the proxy's other headers
 * (test_proxy.c).
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>
#include "backends.h"
#include "czero/czero.h"
#include "czero/upstream.h"
#include "http_client.h"
#include "test_server.h"

static void gw_start(ts_t *g, cz_proxy_route_t *pr)
{
    ts_init(g);
    g->conf.timeout_ms = 0;
    g->conf.middlewares.breaker = false;
    g->conf.middlewares.shedding = false;
    cz_route_t r[] = {
        {.method = "GET", .path = "/api/*rest", .handler = cz_proxy_handler, .ud = pr,
         .flags = CZ_ROUTE_STREAM_BODY},
    };
    ts_start(g, r, 1);
}

static bool has_line(const char *body, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = body; (p = strstr(p, line)); p++)
        if ((p == body || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

Test(proxy_framing, absolute_form_is_forwarded_as_origin_form_with_its_host)
{
    tb_backend_t b;
    tb_backend_start(&b, "b");
    const char *addr = b.addr;
    cz_upstream_t *u = tb_upstream("round_robin", NULL, &addr, NULL, 1);
    cz_proxy_route_t pr = {.up = u, .strip_prefix = "/api", .retries = 1};
    ts_t g;
    gw_start(&g, &pr);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.port, 5000), 0);
    tc_sendf(&c, "GET http://a.example/api/headers?x=1 HTTP/1.1\r\nHost: other.example\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    const char *bd = r.body;
    cr_expect(strncmp(bd, "/headers?x=1\n", 13) == 0, "origin-form, prefix stripped: %s", bd);
    cr_expect(has_line(bd, "Host: a.example"), "%s", bd);
    cr_expect(has_line(bd, "X-Forwarded-Host: a.example"), "%s", bd);
    cr_expect_null(strstr(bd, "other.example"), "the Host header is replaced: %s", bd);
    tc_resp_free(&r);
    /* the same connection goes on: the answer was an ordinary one */
    tc_sendf(&c, "GET http://a.example:8080/api/headers HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 200);
    cr_expect(strncmp(r.body, "/headers\n", 9) == 0, "%s", r.body);
    cr_expect(has_line(r.body, "Host: a.example:8080"), "%s", r.body);
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&g);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}

Test(proxy_framing, refused_requests_never_reach_the_backend)
{
    tb_raw_t raw;
    tb_raw_start(&raw, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    const char *addr = raw.addr;
    cz_upstream_t *u = tb_upstream("round_robin", NULL, &addr, NULL, 1);
    cz_proxy_route_t pr = {.up = u, .retries = 1};
    ts_t g;
    gw_start(&g, &pr);
    const char *bad[] = {
        "GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /api/x HTTP/1.1\r\nHost: a\r\nX-Foo: a\r\n b\r\n\r\n",
        "GET /api/x HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n",
        "GET http://u@a/api/x HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tc_conn_t c;
        cr_assert_eq(tc_connect(&c, g.port, 5000), 0);
        tc_sendf(&c, "%s", bad[i]);
        tc_resp_t r;
        cr_assert_eq(tc_read(&c, &r, false), 0, "case %zu", i);
        cr_expect_eq(r.status, 400, "case %zu: %d", i, r.status);
        tc_resp_free(&r);
        cr_expect(tc_closed(&c, 5000), "case %zu", i);
        tc_close(&c);
    }
    cr_expect_eq(atomic_load(&raw.requests), 0, "a refused request reached the backend");
    /* the same route does reach it with a well-formed request */
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.port, 5000), 0);
    tc_sendf(&c, "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 200);
    tc_resp_free(&r);
    tc_close(&c);
    cr_expect_eq(atomic_load(&raw.requests), 1);
    ts_stop(&g);
    cz_upstream_free(u);
    tb_raw_stop(&raw);
}
