/* SPDX-License-Identifier: MIT
 *
 * backends.c: the loopback backends and YAML upstreams that the proxy and upstream tests
 * (test_proxy*.c, test_upstream*.c) drive (see backends.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <criterion/criterion.h>
#include <uv.h>
#include "backends.h"
#include "proc.h"

typedef struct delayed {
    uv_timer_t t;
    cz_res_t *res;
} delayed_t;

static void delayed_closed(uv_handle_t *h) { free(h->data); }

static void delayed_fire(uv_timer_t *t)
{
    cz_res_end(((delayed_t *)t->data)->res);
    uv_close((uv_handle_t *)t, delayed_closed);
}

static int who(cz_req_t *req, cz_res_t *res, void *ud)
{
    tb_backend_t *b = ud;
    atomic_fetch_add(&b->hits, 1);
    cz_res_status(res, atomic_load(&b->status));
    cz_res_header(res, "X-Instance", b->name);
    cz_res_write(res, b->name, strlen(b->name));
    int ms = atomic_load(&b->delay_ms);
    if (ms <= 0)
        return CZ_DONE;
    delayed_t *dl = calloc(1, sizeof *dl);
    dl->res = res;
    uv_timer_init(cz_req_loop(req), &dl->t);
    dl->t.data = dl;
    uv_timer_start(&dl->t, delayed_fire, (uint64_t)ms, 0);
    return CZ_AGAIN;
}

static int healthz(cz_req_t *req, cz_res_t *res, void *ud)
{
    tb_backend_t *b = ud;
    (void)req;
    cz_res_status(res, atomic_load(&b->healthy) ? 200 : 503);
    return CZ_DONE;
}

static int headers(cz_req_t *req, cz_res_t *res, void *ud)
{
    tb_backend_t *b = ud;
    atomic_fetch_add(&b->hits, 1);
    cz_res_header(res, "X-Instance", b->name);
    cz_str_t t = cz_req_target(req);
    cz_res_printf(res, "%.*s\n", (int)t.n, t.p);
    for (size_t i = 0; i < cz_req_header_count(req); i++) {
        cz_str_t n, v;
        cz_req_header_at(req, i, &n, &v);
        cz_res_printf(res, "%.*s: %.*s\n", (int)n.n, n.p, (int)v.n, v.p);
    }
    return CZ_DONE;
}

static int echo(cz_req_t *req, cz_res_t *res, void *ud)
{
    atomic_fetch_add(&((tb_backend_t *)ud)->hits, 1);
    cz_str_t b = cz_req_body(req);
    cz_res_write(res, b.p, b.n);
    return CZ_DONE;
}

char *tb_big_pattern(void)
{
    char *p = malloc(TB_BIG);
    cr_assert_not_null(p);
    for (size_t i = 0; i < TB_BIG; i++)
        p[i] = (char)('a' + (i * 7 + i / 4096) % 26);
    return p;
}

static int download(cz_req_t *req, cz_res_t *res, void *ud)
{
    tb_backend_t *b = ud;
    atomic_fetch_add(&b->hits, 1);
    (void)req;
    char *p = tb_big_pattern();
    cz_res_write(res, p, b->download_bytes < TB_BIG ? b->download_bytes : TB_BIG);
    free(p);
    return CZ_DONE;
}

static int big(cz_req_t *req, cz_res_t *res, void *ud)
{
    atomic_fetch_add(&((tb_backend_t *)ud)->hits, 1);
    cz_str_t q = cz_req_query(req, "n");
    char buf[24];
    snprintf(buf, sizeof buf, "%.*s", (int)q.n, q.p ? q.p : "");
    size_t n = (size_t)strtoul(buf, NULL, 10);
    char *p = malloc(n + 1);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + i % 26);
    cz_res_header(res, "X-Big", "yes");
    cz_res_write(res, p, n);
    free(p);
    return CZ_DONE;
}

void tb_backend_init(tb_backend_t *b, const char *name)
{
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    atomic_store(&b->status, 200);
    atomic_store(&b->healthy, 1);
    b->download_bytes = TB_BIG;
    ts_init(&b->ts);
    b->ts.conf.middlewares.breaker = false;
    b->ts.conf.middlewares.shedding = false;
}

void tb_backend_serve(tb_backend_t *b)
{
    cz_route_t r[] = {
        {.method = "GET", .path = "/who", .handler = who, .ud = b},
        {.method = "POST", .path = "/who", .handler = who, .ud = b},
        {.method = "GET", .path = "/healthz", .handler = healthz, .ud = b},
        {.method = "GET", .path = "/headers", .handler = headers, .ud = b},
        {.method = "POST", .path = "/big", .handler = echo, .ud = b},
        {.method = "GET", .path = "/big", .handler = big, .ud = b},
        {.method = "GET", .path = "/download", .handler = download, .ud = b},
    };
    ts_start(&b->ts, r, sizeof r / sizeof r[0]);
    snprintf(b->addr, sizeof b->addr, "127.0.0.1:%d", b->ts.port);
}

void tb_backend_start(tb_backend_t *b, const char *name)
{
    tb_backend_init(b, name);
    tb_backend_serve(b);
}

int tb_dead_port(void)
{
    int port = cz_test_free_port();
    cr_assert_gt(port, 0);
    return port;
}

cz_upstream_t *tb_upstream_yaml(const char *y)
{
    cz_upstream_conf_t c;
    memset(&c, 0, sizeof c); /* the loader zeroes only what its table describes, not .clock */
    cz_diag_t d;
    cr_assert_eq(cz_conf_load_string("t.yaml", y, strlen(y), cz_upstream_conf_fields, &c, &d), 0,
                 "%s: %s", d.key, d.msg);
    cz_upstream_t *u = cz_upstream_new(&c, &d);
    cz_conf_free(cz_upstream_conf_fields, &c);
    cr_assert_not_null(u, "%s: %s", d.key, d.msg);
    return u;
}

cz_upstream_t *tb_upstream(const char *policy, const char *extra, const char **addrs,
                           const int *weights, size_t n)
{
    char y[2048];
    int k = snprintf(y, sizeof y, "Name: t\nPolicy: %s\nNodes:\n", policy);
    for (size_t i = 0; i < n; i++)
        k += snprintf(y + k, sizeof y - (size_t)k, "  - {Addr: \"%s\", Weight: %d}\n", addrs[i],
                      weights ? weights[i] : 1);
    snprintf(y + k, sizeof y - (size_t)k, "%s", extra ? extra : "");
    return tb_upstream_yaml(y);
}

static void *raw_main(void *arg)
{
    tb_raw_t *r = arg;
    for (;;) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        if (read(c, buf, sizeof buf) > 0) {
            atomic_fetch_add(&r->requests, 1);
            const char *answer = atomic_load(&r->answer);
            if (answer) {
                if (write(c, answer, strlen(answer)) < 0)
                    perror("write");
                usleep(50000);
            }
        }
        close(c);
    }
}

void tb_raw_start(tb_raw_t *r, const char *answer)
{
    memset(r, 0, sizeof *r);
    atomic_store(&r->answer, answer);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(r->fd, (struct sockaddr *)&a, &l);
    r->port = ntohs(a.sin_port);
    snprintf(r->addr, sizeof r->addr, "127.0.0.1:%d", r->port);
    cr_assert_eq(listen(r->fd, 64), 0);
    cr_assert_eq(pthread_create(&r->th, NULL, raw_main, r), 0);
}

void tb_raw_stop(tb_raw_t *r)
{
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->th, NULL);
}
