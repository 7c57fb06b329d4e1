/* SPDX-License-Identifier: MIT
 *
 * test_gateway_breaker.c: what a gateway route's breaker counts, on a real gateway instance
 * (compiled in from tools/czero-gateway, as test_gateway_cors.c does) in front of a real backend
 * on loopback. A RateLimit 429 is a local refusal: the route breaker records it neither as a
 * success nor as a failure. A 503 the proxy answers because the node's own breaker dropped the
 * call is a local refusal too (the node breaker counted the node's failures already), while the
 * backend's 500 it forwarded is a failure of the route.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../../tools/czero-gateway/gw_conf.c"
#include "../../tools/czero-gateway/gw_cors.c"
#include "../../tools/czero-gateway/gw_drain.c"
#include "../../tools/czero-gateway/gw_ratelimit.c"
#include "../../tools/czero-gateway/gw_routes.c"
#include "czero/breaker.h"
#include "http_client.h"
#include "test_server.h"

static ts_t backend;
static gw_instance_t *gw;
static int gport;

static int fail500(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_error(res, 500, "boom");
    return CZ_DONE;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &n) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void setup(void)
{
    ts_init(&backend);
    /* the backend shares this process's breaker registry (names "GET:///fail"...): without its
     * own breakers, the names are the gateway's, and /fail always answers 500 */
    backend.conf.middlewares.breaker = false;
    static const cz_route_t extra[] = {{"GET", "/fail", fail500, NULL, 0}};
    ts_start(&backend, extra, 1);
    char yaml[2048];
    int port = free_port();
    /* no passive ejection on 5xx: a node the balancer ejected is a different 503 */
    snprintf(yaml, sizeof yaml,
             "Name: gw-breaker\nHost: 127.0.0.1\nPort: %d\nWorkers: 1\n"
             "Log: {Mode: console, Encoding: plain, Stat: false}\n"
             "Middlewares: {Log: false, Shedding: false}\n"
             "Upstreams:\n  - Name: a\n    Nodes: [{Addr: 127.0.0.1:%d}]\n"
             "    Outlier: {On5xx: false}\n"
             "Routes:\n"
             "  - Method: GET\n    Path: /hello\n    Upstream: a\n"
             "    RateLimit: {Kind: period, Quota: 1, Period: 60s}\n"
             "  - Method: GET\n    Path: /fail\n    Upstream: a\n",
             port, backend.port);
    gw_conf_t c;
    cz_diag_t d = {0};
    char msg[512];
    int rc = gw_conf_load_string("gw.yaml", yaml, strlen(yaml), &c, &d);
    cz_diag_format(&d, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    gw = gw_instance_start(&c, "gw.yaml", NULL, &d);
    cz_diag_format(&d, msg, sizeof msg);
    cr_assert_not_null(gw, "%s", msg);
    gport = gw_instance_port(gw);
}

static void teardown(void)
{
    if (gw)
        gw_instance_free(gw);
    gw = NULL;
    ts_stop(&backend);
}

TestSuite(gateway_breaker, .init = setup, .fini = teardown);

static int get_status(tc_conn_t *c, const char *path)
{
    tc_resp_t r;
    cr_assert_eq(tc_sendf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path), 0);
    cr_assert_eq(tc_read(c, &r, false), 0);
    int st = r.status;
    tc_resp_free(&r);
    return st;
}

static cz_breaker_stat_t breaker_of(const char *name)
{
    cz_breaker_stat_t st;
    cz_breaker_stat(cz_breakers_get(name), &st);
    return st;
}

Test(gateway_breaker, rate_limit_429_is_no_breaker_outcome)
{
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, gport, 5000), 0);
    cr_assert_eq(get_status(&c, "/hello"), 200);
    for (int i = 0; i < 30; i++)
        cr_assert_eq(get_status(&c, "/hello"), 429, "request %d is over the quota", i);
    tc_close(&c);
    cz_breaker_stat_t st = breaker_of("GET:///hello");
    cr_assert_eq(st.accepts, 1, "the proxied 200 is the one success (%lld)",
                 (long long)st.accepts);
    cr_assert_eq(st.total, 1, "the 429s count neither way (%lld in the window)",
                 (long long)st.total);
}

Test(gateway_breaker, node_breaker_503_is_no_route_failure)
{
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, gport, 5000), 0);
    int n500 = 0, n503 = 0;
    for (int i = 0; i < 400; i++) {
        int st = get_status(&c, "/fail");
        n500 += st == 500;
        n503 += st == 503;
        cr_assert(st == 500 || st == 503, "status %d", st);
    }
    tc_close(&c);
    cz_breaker_stat_t route = breaker_of("GET:///fail");
    /* the 503s are the route breaker's own drops plus the node breaker's refusals */
    long long node_refused = n503 - route.drops;
    cr_assert_gt(node_refused, 0, "the node's breaker refused some calls (500: %d, 503: %d, "
                 "route drops %lld)", n500, n503, (long long)route.drops);
    cr_assert_eq(route.failures, n500, "only the backend's 500s are route failures (%lld, "
                 "500: %d, node refusals: %lld)", (long long)route.failures, n500, node_refused);
}
