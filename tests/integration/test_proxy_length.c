/* SPDX-License-Identifier: MIT
 *
 * test_proxy_length.c: cz_proxy_handler passes a backend's Content-Length on for answers too
 * large to collect (over 64 KiB: streamed with cz_res_stream_begin_length, not re-framed as
 * chunked, as nginx does), keeps it on HEAD, and cuts the client connection when the backend
 * sends fewer bytes than it announced. Real czero backend and gateway servers on loopback.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "czero/czero.h"
#include "czero/upstream.h"
#include "http_client.h"
#include "test_server.h"

#define BIG (1u << 20)

static char pat(size_t i) { return (char)('a' + (i * 7 + i / 4096) % 26); }

static int download(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    char *p = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        p[i] = pat(i);
    cz_res_header(res, "Content-Type", "application/octet-stream");
    cz_res_write(res, p, BIG);
    free(p);
    return CZ_DONE;
}

static cz_upstream_t *upstream_of(const char *addr)
{
    char y[512];
    snprintf(y, sizeof y, "Name: t\nPolicy: round_robin\nNodes:\n  - {Addr: \"%s\"}\n", addr);
    cz_upstream_conf_t c;
    memset(&c, 0, sizeof c);
    cz_diag_t d;
    cr_assert_eq(cz_conf_load_string("t.yaml", y, strlen(y), cz_upstream_conf_fields, &c, &d), 0,
                 "%s: %s", d.key, d.msg);
    cz_upstream_t *u = cz_upstream_new(&c, &d);
    cz_conf_free(cz_upstream_conf_fields, &c);
    cr_assert_not_null(u, "%s: %s", d.key, d.msg);
    return u;
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
    ts_t b;
    ts_init(&b);
    b.conf.timeout_ms = 0;
    cz_route_t br[] = {{.method = "GET", .path = "/download", .handler = download}};
    ts_start(&b, br, 1);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", b.port);
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
    size_t bad = 0;
    for (size_t i = 0; i < BIG; i++)
        bad += r.body[i] != pat(i);
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
    ts_stop(&b);
}

/* a backend that announces 1 MB and sends 4 bytes */
typedef struct rawsrv {
    int fd;
    pthread_t th;
} rawsrv_t;

static void *raw_main(void *arg)
{
    rawsrv_t *s = arg;
    static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nhalf";
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        if (read(c, buf, sizeof buf) > 0 && write(c, ans, sizeof ans - 1) < 0)
            perror("write");
        usleep(50000);
        close(c);
    }
}

Test(proxy_length, short_backend_answer_is_cut_not_completed)
{
    rawsrv_t raw = {.fd = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(raw.fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(raw.fd, (struct sockaddr *)&a, &l);
    listen(raw.fd, 16);
    pthread_create(&raw.th, NULL, raw_main, &raw);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
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
    shutdown(raw.fd, SHUT_RDWR);
    close(raw.fd);
    pthread_join(raw.th, NULL);
}
