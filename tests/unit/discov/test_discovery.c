/* SPDX-License-Identifier: MIT
 *
 * Tests for the static and DNS discovery sources on a private libuv loop. DNS runs against a
 * scripted resolver, so the change / no-change / failure cases are exact: one answer per
 * resolution, in order, whatever the timing (the interval is 1 ms to keep the run short).
 */
#include <criterion/criterion.h>
#include <string.h>
#include <uv.h>
#include "czero/discovery.h"

typedef struct reports {
    int n;
    size_t sizes[8];
    char sets[8][4][64];
    uint32_t weights[8][4];
} reports_t;

static void on_set(const cz_endpoint_t *eps, size_t n, void *ud)
{
    reports_t *r = ud;
    cr_assert_lt(r->n, 8);
    r->sizes[r->n] = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        snprintf(r->sets[r->n][i], 64, "%s", eps[i].addr);
        r->weights[r->n][i] = eps[i].weight;
    }
    r->n++;
}

static void set_flag(void *ud) { *(int *)ud = 1; }

static void free_and_drain(uv_loop_t *loop, cz_discovery_t *d)
{
    int done = 0;
    cz_discovery_free(d, set_flag, &done);
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
    cr_assert_eq(uv_run(loop, UV_RUN_NOWAIT), 0, "handles left open");
    cr_assert_eq(uv_loop_close(loop), 0);
}

Test(discovery, static_list_is_reported_once_with_weights)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cz_endpoint_t eps[] = {{"127.0.0.1:8001", 3}, {"127.0.0.1:8002", 0}};
    cz_discovery_t *d = cz_discovery_static(eps, 2);
    cr_assert_not_null(d);
    reports_t r = {0};
    cr_assert_eq(cz_discovery_start(d, &loop, on_set, &r), 0);
    cr_assert_eq(cz_discovery_start(d, &loop, on_set, &r), CZ_EARG);
    cr_assert_eq(r.n, 0, "reported from inside start");
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.sizes[0], 2);
    cr_assert_str_eq(r.sets[0][0], "127.0.0.1:8001");
    cr_assert_eq(r.weights[0][0], 3);
    cr_assert_eq(r.weights[0][1], 1, "weight 0 means 1");
    free_and_drain(&loop, d);
}

Test(discovery, static_rejects_empty_addresses_and_frees_unstarted)
{
    cz_endpoint_t bad[] = {{"127.0.0.1:1", 1}, {"", 1}};
    cr_assert_null(cz_discovery_static(bad, 2));
    int done = 0;
    cz_discovery_free(cz_discovery_static(bad, 1), set_flag, &done);
    cr_assert(done, "a never-started discovery is freed at once");
}

Test(discovery, dns_rejects_names_without_port)
{
    cr_assert_null(cz_discovery_dns("localhost", 1000));
    cr_assert_null(cz_discovery_dns("localhost:", 1000));
    cr_assert_null(cz_discovery_dns("localhost:99999", 1000));
    cr_assert_null(cz_discovery_dns("::1:80", 1000));
    int done = 0;
    cz_discovery_free(cz_discovery_dns("[::1]:80", 1000), set_flag, &done);
    cr_assert(done);
}

/* One scripted answer per resolution. */
typedef struct script {
    int err;
    const char *addrs[4];
    size_t n;
} script_t;

typedef struct fake {
    const script_t *steps;
    size_t nsteps, calls;
    char host[64];
    uv_loop_t *loop;
} fake_t;

static void fake_resolve(void *ud, uv_loop_t *loop, const char *host, cz_resolve_cb cb,
                         void *cb_ud)
{
    fake_t *f = ud;
    snprintf(f->host, sizeof f->host, "%s", host);
    if (f->calls >= f->nsteps) {
        uv_stop(f->loop); /* the script is over: hand control back to the test */
        cb(CZ_ENOTFOUND, NULL, 0, cb_ud);
        return;
    }
    const script_t *s = &f->steps[f->calls++];
    cb(s->err, s->addrs, s->n, cb_ud);
}

Test(discovery, dns_reports_only_changes_and_keeps_the_set_on_failure)
{
    static const script_t steps[] = {
        {0, {"10.0.0.2", "10.0.0.1"}, 2},
        {0, {"10.0.0.1", "10.0.0.2", "10.0.0.1"}, 3}, /* same set, reordered, duplicated */
        {UV_EAI_AGAIN, {0}, 0},                       /* resolver down: keep */
        {0, {"::1", "10.0.0.1"}, 2},                  /* a node left, an IPv6 one came */
        {0, {0}, 0},                                  /* no answer at all: keep */
    };
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_t f = {steps, 5, 0, "", &loop};
    cz_resolver_t res = {fake_resolve, &f};
    cz_discovery_t *d = cz_discovery_dns_ex("svc.internal:80", 1, &res);
    cr_assert_not_null(d);
    reports_t r = {0};
    cr_assert_eq(cz_discovery_start(d, &loop, on_set, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT); /* until the script ends */
    cr_assert_eq(f.calls, 5);
    cr_assert_str_eq(f.host, "svc.internal");
    cr_assert_eq(r.n, 2, "%d reports", r.n);
    cr_assert_eq(r.sizes[0], 2);
    cr_assert_str_eq(r.sets[0][0], "10.0.0.1:80");
    cr_assert_str_eq(r.sets[0][1], "10.0.0.2:80");
    cr_assert_eq(r.sizes[1], 2);
    cr_assert_str_eq(r.sets[1][0], "10.0.0.1:80");
    cr_assert_str_eq(r.sets[1][1], "[::1]:80");
    cr_assert_eq(r.weights[1][1], 1);
    free_and_drain(&loop, d);
}
