/* SPDX-License-Identifier: MIT
 *
 * test_proxy_read_timeout.c: an upstream's ReadTimeout (nginx's proxy_read_timeout) through
 * cz_proxy_handler on loopback. A backend that sends its head and part of a large body, then
 * stalls without closing, is cut at the read timeout, long before the route's Timeout: the
 * client sees a truncated answer (the head went out, so no error status can follow). A backend
 * that trickles steadily, each gap below ReadTimeout, is passed on whole.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "czero/czero.h"
#include "czero/upstream.h"
#include "backends.h"
#include "http_client.h"
#include "test_server.h"

/* A backend answering each connection's first request by a script: the head, then n pieces of
 * body gap_ms apart, then it holds the connection open (stall) until stopped. */
typedef struct slow {
    int lfd, port;
    char addr[32];
    pthread_t th;
    atomic_int stop;
    const char *head;
    int pieces, gap_ms;
    int fds[16], nfds;
} slow_t;

static void *slow_main(void *arg)
{
    slow_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        char buf[4096];
        if (read(fd, buf, sizeof buf) <= 0 || send(fd, s->head, strlen(s->head), 0) < 0) {
            close(fd);
            continue;
        }
        for (int i = 0; i < s->pieces && !atomic_load(&s->stop); i++) {
            usleep((useconds_t)s->gap_ms * 1000);
            if (send(fd, "0123456789", 10, MSG_NOSIGNAL) < 0)
                break;
        }
        if (s->nfds < 16)
            s->fds[s->nfds++] = fd; /* held open: a stall, not a close */
        else
            close(fd);
    }
    return NULL;
}

static void slow_start(slow_t *s, const char *head, int pieces, int gap_ms)
{
    memset(s, 0, sizeof *s);
    s->head = head;
    s->pieces = pieces;
    s->gap_ms = gap_ms;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->lfd, 16), 0);
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", s->port);
    pthread_create(&s->th, NULL, slow_main, s);
}

static void slow_stop(slow_t *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    for (int i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    close(s->lfd);
}

typedef struct gw {
    ts_t ts;
    cz_proxy_route_t all;
} gw_t;

static void gw_start(gw_t *g, cz_upstream_t *u, uint64_t timeout_ms)
{
    memset(g, 0, sizeof *g);
    g->all = (cz_proxy_route_t){.up = u, .retries = 1, .timeout_ms = timeout_ms};
    ts_init(&g->ts);
    g->ts.conf.timeout_ms = 0;
    g->ts.conf.middlewares.breaker = false;
    g->ts.conf.middlewares.shedding = false;
    cz_route_t r[] = {{.method = "GET", .path = "/p", .handler = cz_proxy_handler, .ud = &g->all,
                       .flags = CZ_ROUTE_STREAM_BODY}};
    ts_start(&g->ts, r, 1);
}

Test(proxy_read_timeout, a_stalled_body_is_cut_at_read_timeout_not_the_route_timeout)
{
    slow_t s; /* a large body: streamed to the client as it comes */
    slow_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nhalf", 0, 0);
    const char *addrs[] = {s.addr};
    cz_upstream_t *u = tb_upstream("round_robin", "ReadTimeout: 200ms\n", addrs, NULL, 1);
    gw_t g;
    gw_start(&g, u, 5000);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.ts.port, 4000), 0);
    long t0 = tc_now_ms();
    tc_sendf(&c, "GET /p HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    int rc = tc_read(&c, &r, false);
    long ms = tc_now_ms() - t0;
    cr_expect_eq(rc, -1, "a cut body must not look complete (status %d, %zu bytes)", r.status,
                 r.body_len);
    cr_expect_eq(r.status, 200, "the head had been passed on");
    cr_expect_geq(ms, 190, "%ld ms", ms);
    cr_expect_lt(ms, 2000, "cut at ReadTimeout, not the route's 5 s Timeout: %ld ms", ms);
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&g.ts);
    cz_upstream_free(u);
    slow_stop(&s);
}

Test(proxy_read_timeout, a_steady_trickle_passes_whole)
{
    slow_t s; /* 10 pieces, 50 ms apart: 500 ms in all, each gap well below 200 ms */
    slow_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 10, 50);
    const char *addrs[] = {s.addr};
    cz_upstream_t *u = tb_upstream("round_robin", "ReadTimeout: 200ms\n", addrs, NULL, 1);
    gw_t g;
    gw_start(&g, u, 5000);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, g.ts.port, 4000), 0);
    tc_sendf(&c, "GET /p HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 200, "%d %s", r.status, r.body);
    cr_expect_eq(r.body_len, 100);
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&g.ts);
    cz_upstream_free(u);
    slow_stop(&s);
}

Test(proxy_read_timeout, read_timeout_is_checked_by_the_config)
{
    cz_upstream_conf_t c;
    memset(&c, 0, sizeof c);
    cz_diag_t d;
    const char *y = "Name: t\nNodes: [{Addr: 127.0.0.1:1}]\n";
    cr_assert_eq(cz_conf_load_string("t.yaml", y, strlen(y), cz_upstream_conf_fields, &c, &d), 0);
    cr_expect_eq(c.read_timeout_ms, 0, "off by default");
    cz_conf_free(cz_upstream_conf_fields, &c);
    memset(&c, 0, sizeof c);
    y = "Name: t\nNodes: [{Addr: 127.0.0.1:1}]\nReadTimeout: 1.5s\n";
    cr_assert_eq(cz_conf_load_string("t.yaml", y, strlen(y), cz_upstream_conf_fields, &c, &d), 0);
    cr_expect_eq(c.read_timeout_ms, 1500);
    cz_conf_free(cz_upstream_conf_fields, &c);
    memset(&c, 0, sizeof c);
    y = "Name: t\nNodes: [{Addr: 127.0.0.1:1}]\nReadTimeout: -1s\n";
    cr_expect_neq(cz_conf_load_string("t.yaml", y, strlen(y), cz_upstream_conf_fields, &c, &d), 0);
    cr_expect_str_eq(d.key, "ReadTimeout", "%s: %s", d.key, d.msg);
    cz_conf_free(cz_upstream_conf_fields, &c);
}
