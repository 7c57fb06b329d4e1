/* SPDX-License-Identifier: MIT
 *
 * test_proxy_length.c: cz_proxy_handler passes a backend's Content-Length on for answers too
 * large to collect (over 64 KiB: streamed with cz_res_stream_begin_length, not re-framed as
 * chunked, as nginx does), keeps it on HEAD, and cuts the client connection when the backend
 * sends fewer bytes than it announced. Real czero backend and gateway servers on loopback.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "backends.h"
#include "czero/czero.h"
#include "czero/upstream.h"
#include "http_client.h"
#include "test_server.h"

#define BIG (1u << 20)

static cz_upstream_t *upstream_of(const char *addr)
{
    return tb_upstream("round_robin", NULL, &addr, NULL, 1);
}

static void gw_start(ts_t *g, cz_proxy_route_t *pr)
{
    ts_init(g);
    g->conf.timeout_ms = 0;
    g->conf.middlewares.breaker = false;
    g->conf.middlewares.shedding = false;
    cz_route_t r[] = {
        {.method = "GET", .path = "/download", .handler = cz_proxy_handler, .ud = pr,
         .flags = CZ_ROUTE_STREAM_BODY},
        {.method = "HEAD", .path = "/download", .handler = cz_proxy_handler, .ud = pr,
         .flags = CZ_ROUTE_STREAM_BODY},
    };
    ts_start(g, r, 2);
}

Test(proxy_length, large_answer_keeps_its_content_length_and_head_too)
{
    tb_backend_t b;
    tb_backend_init(&b, "b");
    b.ts.conf.timeout_ms = 0;
    b.download_bytes = BIG;
    tb_backend_serve(&b);
    const char *addr = b.addr;
    cz_upstream_t *u = upstream_of(addr);
    cz_proxy_route_t pr = {.up = u, .retries = 1};
    ts_t g;
    gw_start(&g, &pr);

    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.port, 5000), 0);
    tc_sendf(&c, "GET /download HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 200);
    cr_expect(!r.chunked, "the backend's framing is kept, not re-chunked");
    const char *cl = tc_header(&r, "Content-Length");
    cr_assert_not_null(cl);
    cr_expect_eq(atol(cl), (long)BIG);
    cr_assert_eq(r.body_len, (size_t)BIG);
    char *pat = tb_big_pattern();
    size_t bad = 0;
    for (size_t i = 0; i < BIG; i++)
        bad += r.body[i] != pat[i];
    free(pat);
    cr_expect_eq(bad, 0);
    tc_resp_free(&r);
    /* HEAD: the backend's length, no body, and the connection stays in step */
    tc_sendf(&c, "HEAD /download HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, true), 0);
    cr_expect_eq(r.status, 200);
    cl = tc_header(&r, "Content-Length");
    cr_expect(cl && atol(cl) == (long)BIG, "HEAD keeps the length: %s", cl ? cl : "(none)");
    cr_expect_null(tc_header(&r, "Transfer-Encoding"));
    tc_resp_free(&r);
    tc_sendf(&c, "GET /download HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, false), 0, "keep-alive after HEAD");
    cr_expect_eq(r.body_len, (size_t)BIG);
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&g);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}

/* a backend that announces 1 MB and sends 4 bytes */
Test(proxy_length, short_backend_answer_is_cut_not_completed)
{
    tb_raw_t raw;
    tb_raw_start(&raw, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nhalf");
    const char *addr = raw.addr;
    cz_upstream_t *u = upstream_of(addr);
    cz_proxy_route_t pr = {.up = u, .retries = 1};
    ts_t g;
    gw_start(&g, &pr);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.port, 3000), 0);
    tc_sendf(&c, "GET /download HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    cr_expect_eq(tc_read(&c, &r, false), -1, "a truncated body must not look complete");
    cr_expect_eq(r.status, 200, "the head had been passed on");
    const char *cl = tc_header(&r, "Content-Length");
    cr_expect(cl && strcmp(cl, "1000000") == 0, "the announced length: %s", cl ? cl : "(none)");
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&g);
    cz_upstream_free(u);
    tb_raw_stop(&raw);
}
