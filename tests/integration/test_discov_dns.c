/* SPDX-License-Identifier: MIT
 *
 * DNS discovery with the real resolver (uv_getaddrinfo on the loop's thread pool): "localhost"
 * resolves to loopback addresses with the port attached, and an unresolvable name reports
 * nothing (no empty set) while the source keeps retrying.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include "czero/discovery.h"
#include "http_client.h"

typedef struct seen {
    int reports;
    size_t n;
    char addr[4][64];
} seen_t;

static void on_set(const cz_endpoint_t *eps, size_t n, void *ud)
{
    seen_t *s = ud;
    s->reports++;
    s->n = n;
    for (size_t i = 0; i < n && i < 4; i++)
        snprintf(s->addr[i], 64, "%s", eps[i].addr);
}

static void set_flag(void *ud) { *(int *)ud = 1; }
static void tick(uv_timer_t *t) { (void)t; }

static void run_ms(uv_loop_t *loop, long ms, const seen_t *stop_when_seen)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, tick, 5, 5);
    long t0 = tc_now_ms();
    while (tc_now_ms() - t0 < ms && !(stop_when_seen && stop_when_seen->reports))
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void free_sync(uv_loop_t *loop, cz_discovery_t *d)
{
    int done = 0;
    cz_discovery_free(d, set_flag, &done);
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
    cr_assert_eq(uv_loop_close(loop), 0);
}

Test(discov_dns, localhost_resolves_to_loopback_with_the_port)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_dns("localhost:8001", 50);
    cr_assert_eq(cz_discovery_start(d, &loop, on_set, &s), 0);
    run_ms(&loop, 3000, &s);
    cr_assert_eq(s.reports, 1);
    cr_assert_geq(s.n, 1);
    int loopback = 0;
    for (size_t i = 0; i < s.n && i < 4; i++)
        loopback += !strcmp(s.addr[i], "127.0.0.1:8001") || !strcmp(s.addr[i], "[::1]:8001");
    cr_assert_eq(loopback, (int)s.n, "first: %s", s.addr[0]);
    run_ms(&loop, 300, NULL); /* several more resolutions of an unchanged answer */
    cr_assert_eq(s.reports, 1, "an unchanged set was reported again");
    free_sync(&loop, d);
}

Test(discov_dns, unresolvable_name_reports_nothing)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    seen_t s = {0};
    cz_discovery_t *d = cz_discovery_dns("no-such-host.invalid:80", 50);
    cr_assert_eq(cz_discovery_start(d, &loop, on_set, &s), 0);
    run_ms(&loop, 400, NULL);
    cr_assert_eq(s.reports, 0);
    free_sync(&loop, d);
}
