/* SPDX-License-Identifier: MIT
 *
 * bench_mw_prom.c: per-request cost of the prometheus and metrics links.
 *
 * A real server is started (DevServer on an ephemeral loopback port, so the prometheus link
 * records) and the compiled chain of one route is taken from it; the bench then calls each
 * link's enter() and leave() in a loop on a request that stands for worker 0's, with the real
 * system clock (each call reads it once), alternating status 200 and 404 so the code-slot
 * lookup is not always a first-slot hit.
 * mw_prometheus_ns: prometheus enter+leave; mw_metrics_ns: metrics enter+leave;
 * mw_prometheus_metrics_ns: both, as a request runs them.
 * Prints one `name value` line per measurement and nothing else. argv[1]: iterations (2M).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "http/mw/mw_int.h"
#include "czero/log.h"

static long iters = 2000000;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int hello(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)res, (void)ud;
    return CZ_DONE;
}

static cz_mw_t *find(const cz__route_t *rt, const char *name)
{
    for (size_t i = 0; i < rt->nchain; i++)
        if (strcmp(rt->chain[i].ops->name, name) == 0)
            return &rt->chain[i];
    fprintf(stderr, "no %s link on the route\n", name);
    exit(1);
}

/* Best of three: ns per request through the given links. */
static double measure(cz_req_t *r, cz_mw_t **mw, int n)
{
    double best = 1e18;
    static char ctx[4][64] __attribute__((aligned(16)));
    for (int round = 0; round < 3; round++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            r->res.status = (i & 7) ? 200 : 404;
            for (int k = 0; k < n; k++)
                mw[k]->ops->enter(mw[k], r, &r->res, ctx[k]);
            for (int k = n; k-- > 0;)
                mw[k]->ops->leave(mw[k], r, &r->res, ctx[k]);
        }
        double ns = (double)(now_ns() - t0) / (double)iters;
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iters = atol(argv[1]);
    cz_log_set_level(CZ_LOG_ERROR);
    cz_rest_conf_t conf;
    cz_diag_t d = {0};
    if (cz_conf_defaults(cz_rest_conf_fields, &conf, &d) != 0)
        return 1;
    free(conf.host);
    free(conf.dev_server.host);
    conf.host = strdup("127.0.0.1");
    conf.dev_server.host = strdup("127.0.0.1");
    conf.name = strdup("bench");
    conf.port = 0;
    conf.dev_server.port = 0;
    conf.dev_server.enabled = true;
    conf.workers = 1;
    cz_server_t *s = cz_server_new(&conf, &d);
    cz_route_t rt = {"GET", "/hello", hello, NULL, 0};
    if (!s || cz_server_add_route(s, &rt, &d) != 0 || cz_server_start(s) != 0) {
        fprintf(stderr, "server: %s\n", d.msg);
        return 1;
    }
    const cz__route_t *route = s->routes[0];
    cz_req_t *r = calloc(1, sizeof *r);
    r->w = &s->workers[0];
    r->route = route;
    r->start_ns = now_ns(); /* the engine's request start, which the links use */
    cz_mw_t *prom = find(route, "prometheus"), *met = find(route, "metrics");
    cz_mw_t *both[] = {prom, met};
    printf("mw_prometheus_ns %.1f\n", measure(r, &prom, 1));
    printf("mw_metrics_ns %.1f\n", measure(r, &met, 1));
    printf("mw_prometheus_metrics_ns %.1f\n", measure(r, both, 2));
    free(r);
    cz_server_shutdown(s);
    cz_server_wait(s);
    cz_server_free(s);
    cz_conf_free(cz_rest_conf_fields, &conf);
    return 0;
}
