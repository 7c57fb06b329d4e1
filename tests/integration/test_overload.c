/* SPDX-License-Identifier: MIT
 *
 * test_overload.c: goodput under 2x overload with the load shedder on and off, on real sockets,
 * the looser twin of bench/overload.sh. Two servers in this process (Workers: 1, Timeout 1 s)
 * serve the demo's GET /work?cpu=500&ms=20 (500 µs of CPU on the loop, then the answer from a
 * 20 ms timer); one sheds at CpuThreshold 900, one has no shedder. The capacity C is the 2xx
 * rate the unshed one reaches under 3x its nominal rate; then each gets 2C from the open-loop
 * generator (tests/support/loadgen.c). With shedding, the goodput must stay at least 0.6x the
 * unshed goodput (the bench's target is 0.9x; this machine is shared) and the admitted
 * requests' p99 under the route Timeout (2 s here), while without shedding they queue for
 * seconds. go-zero's shedder on an event loop fails one or the other: reading the container
 * CPU and scaling its limit to 10% it collapses the goodput, or its settle-time average never
 * passes the limit and it sheds nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include "loadgen.h"
#include "test_server.h"

#define PATH "/work?cpu=500&ms=20"
#define TIMEOUT_MS 2000

static void start(ts_t *t, int64_t threshold)
{
    ts_init(t);
    t->conf.cpu_threshold = threshold;
    t->conf.timeout_ms = TIMEOUT_MS;
    t->conf.max_conns = 0;
    ts_start(t, NULL, 0);
}

static lg_result_t drive(const ts_t *t, double rate, double secs)
{
    lg_conf_t c = {.port = t->port, .path = PATH, .rate = rate, .seconds = secs,
                   .max_conns = 2000};
    lg_result_t r;
    cr_assert_eq(lg_run(&c, &r), 0);
    return r;
}

Test(overload, shedding_keeps_goodput_and_bounds_latency, .timeout = 120)
{
    ts_t on, off;
    start(&on, 900);
    start(&off, 0);
    lg_result_t cal = drive(&off, 6000, 2), cal2 = drive(&off, 6000, 2);
    if (cal2.goodput > cal.goodput) /* the machine is shared: take its better moment */
        cal = cal2;
    double rate = 2 * cal.goodput;
    cr_assert_gt(rate, 100, "calibration: %.0f 2xx/s", cal.goodput);
    (void)drive(&on, rate, 2);
    lg_result_t a = drive(&on, rate, 5);
    (void)drive(&off, rate, 2);
    lg_result_t b = drive(&off, rate, 5);
    fprintf(stderr,
            "capacity %.0f/s, offered %.0f/s; shedding on: %.0f 2xx/s, p99 %.0f ms, %llu 503; "
            "off: %.0f 2xx/s, p99 %.0f ms\n",
            cal.goodput, rate, a.goodput, a.p99_ms, (unsigned long long)a.s503, b.goodput,
            b.p99_ms);
    cr_expect_geq(a.goodput, 0.6 * b.goodput, "goodput with shedding %.0f/s vs %.0f/s without",
                  a.goodput, b.goodput);
    cr_expect_lt(a.p99_ms, TIMEOUT_MS, "p99 of the admitted requests %.0f ms", a.p99_ms);
    ts_stop(&on);
    ts_stop(&off);
}
