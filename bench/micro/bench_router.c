/* SPDX-License-Identifier: MIT
 *
 * bench_router.c: per-request cost of cz_router_find() on a router shaped like a small service
 * (about thirty routes over four methods, static and parameter segments mixed). Prints one
 * "name value" line per measure so bench/run.sh can collect them:
 *   router_find_static_ns  GET /hello
 *   router_find_param_ns   GET /users/:id
 *   router_find_deep_ns    GET /orgs/:org/repos/:repo/issues/:n
 *   router_clean_ns        cz_path_clean on "/api//v1/./users/../users/42/"
 * Each figure is the best of several rounds of ITER calls (least disturbed by other load).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "czero/router.h"

#define ITER 2000000
#define ROUNDS 5

static const char *const routes[][2] = {
    {"GET", "/"},
    {"GET", "/hello"},
    {"GET", "/health"},
    {"GET", "/metrics"},
    {"GET", "/users"},
    {"POST", "/users"},
    {"GET", "/users/:id"},
    {"PUT", "/users/:id"},
    {"DELETE", "/users/:id"},
    {"GET", "/users/me"},
    {"GET", "/users/:id/orders"},
    {"GET", "/users/:id/orders/:oid"},
    {"GET", "/orders"},
    {"GET", "/orders/:oid"},
    {"GET", "/orgs/:org"},
    {"GET", "/orgs/:org/repos"},
    {"GET", "/orgs/:org/repos/:repo"},
    {"GET", "/orgs/:org/repos/:repo/issues"},
    {"GET", "/orgs/:org/repos/:repo/issues/:n"},
    {"POST", "/orgs/:org/repos/:repo/issues"},
    {"GET", "/api/v1/items"},
    {"GET", "/api/v1/items/:id"},
    {"GET", "/api/v1/search"},
    {"GET", "/static/css"},
    {"GET", "/static/js"},
    {"GET", "/static/img"},
    {"GET", "/login"},
    {"POST", "/login"},
    {"GET", "/logout"},
    {"PATCH", "/settings"},
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile unsigned long sink;

static double bench_find(const cz_router_t *r, const char *path)
{
    cz_str_t p = cz_str_c(path), get = CZ_STR("GET");
    cz_route_match_t m;
    double best = 1e30;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_ns();
        for (int i = 0; i < ITER; i++) {
            if (cz_router_find(r, get, p, &m) != 0)
                abort();
            sink += m.nparams;
        }
        double ns = (now_ns() - t0) / ITER;
        if (ns < best)
            best = ns;
    }
    return best;
}

static double bench_clean(void)
{
    static const char in[] = "/api//v1/./users/../users/42/";
    char out[sizeof in + 1];
    double best = 1e30;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_ns();
        for (int i = 0; i < ITER; i++) {
            /* The opaque asm keeps the compiler from hoisting the call out of the loop. */
            __asm__ volatile("" ::: "memory");
            sink += cz_path_clean(in, sizeof in - 1, out);
        }
        double ns = (now_ns() - t0) / ITER;
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(void)
{
    cz_router_t *r = cz_router_new();
    static int data[64];
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        cz_diag_t d;
        if (!r || cz_router_add(r, routes[i][0], routes[i][1], &data[i], &d) != 0) {
            fprintf(stderr, "bench_router: add %s %s failed\n", routes[i][0], routes[i][1]);
            return 1;
        }
    }
    printf("router_find_static_ns %.1f\n", bench_find(r, "/hello"));
    printf("router_find_param_ns %.1f\n", bench_find(r, "/users/12345"));
    printf("router_find_deep_ns %.1f\n", bench_find(r, "/orgs/zeromicro/repos/go-zero/issues/42"));
    printf("router_clean_ns %.1f\n", bench_clean());
    cz_router_free(r);
    return 0;
}
