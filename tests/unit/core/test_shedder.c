/* SPDX-License-Identifier: MIT
 *
 * Tests for the adaptive shedder and the CPU sampler: the shedder drops exactly when CPU is at or
 * over the threshold (or within the 1 s cool-off after a drop) and in-flight requests exceed
 * maxPass * minRt * bucketsPerSecond / 1000 scaled by the overload factor; the in-flight
 * average moves at arrivals, so batched settles do not hide the load; it stops once the
 * cool-off ends; priority thresholds, stats and the nop object work. The CPU sampler is checked
 * against fake cgroup v2 / v1 / proc trees with exact arithmetic.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "czero/shedder.h"
#include "core/shed/cpu_int.h"

#define MS CZ_NS_PER_MS

static int64_t cpu_now;
static int64_t fake_cpu(void *ud)
{
    (void)ud;
    return cpu_now;
}

static cz_clock_manual_t clk;

static cz_shedder_t *mk(int64_t threshold)
{
    cz_shedder_opts_t o = {.clock = &clk.clock, .cpu = fake_cpu, .cpu_threshold = threshold};
    cz_shedder_t *s;
    cr_assert_eq(cz_shedder_new(&o, &s), 0);
    return s;
}

static cz_shedder_promise_t inflight[400];
static int ninflight;

/* 200 requests in flight; 50 of them pass after 100 ms, then time moves to the next bucket so
 * the window sees maxPass 50 and minRt 100 ms: maxFlight = 50 * 100 * 10 / 1000 = 50. */
static void load_up(cz_shedder_t *s)
{
    cpu_now = 0;
    for (ninflight = 0; ninflight < 200; ninflight++)
        cr_assert_eq(cz_shedder_allow(s, &inflight[ninflight]), 0);
    cz_clock_manual_advance(&clk, 100 * MS);
    for (int i = 0; i < 50; i++)
        cz_shedder_promise_pass(&inflight[--ninflight]);
    cz_clock_manual_advance(&clk, 100 * MS);
}

static void settle_until(int flying)
{
    while (ninflight > flying)
        cz_shedder_promise_fail(&inflight[--ninflight]);
}

Test(shedder, rejects_bad_options)
{
    cz_shedder_t *s;
    cz_shedder_opts_t o = {.cpu_threshold = 1000};
    cr_assert_eq(cz_shedder_new(&o, &s), CZ_EARG);
    o = (cz_shedder_opts_t){.buckets = -1};
    cr_assert_eq(cz_shedder_new(&o, &s), CZ_EARG);
}

Test(shedder, derives_the_inflight_limit_from_the_window)
{
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    cz_shedder_info_t in;
    cz_shedder_info(s, &in);
    cr_assert_eq(in.max_pass, 1); /* go-zero defaults with an empty window */
    cr_assert_eq(in.min_rt_ms, 1000);
    cr_assert(fabs(in.max_flight - 10) < 1e-9, "%f", in.max_flight);
    load_up(s);
    cpu_now = 950;
    cz_shedder_info(s, &in);
    cr_assert_eq(in.max_pass, 50);
    cr_assert_eq(in.min_rt_ms, 100);
    cr_assert(fabs(in.max_flight - 50) < 1e-9, "%f", in.max_flight);
    cr_assert_eq(in.overload_factor, 0.5); /* (1000 - 950) / (1000 - 900) */
    cr_assert_eq(in.flying, 150);
    cr_assert(in.avg_flying > 150, "avg %.2f lags above a falling flying count", in.avg_flying);
    cpu_now = 1000;
    cz_shedder_info(s, &in);
    cr_assert_eq(in.overload_factor, 0.1); /* lower bound */
    settle_until(0);
    cz_shedder_free(s);
}

Test(shedder, overload_floor_keeps_the_limit_at_what_the_window_saw)
{
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_opts_t o = {.clock = &clk.clock, .cpu = fake_cpu, .cpu_threshold = 900,
                           .overload_floor = 1};
    cz_shedder_t *s;
    cr_assert_eq(cz_shedder_new(&o, &s), 0);
    load_up(s); /* maxFlight 50, 150 in flight */
    cpu_now = 1000;
    cz_shedder_info_t in;
    cz_shedder_info(s, &in);
    cr_assert_eq(in.overload_factor, 1, "go-zero would scale to 0.1 here");
    settle_until(50);
    cz_shedder_promise_t p;
    cr_assert_eq(cz_shedder_allow(s, &p), 0, "50 in flight is not over 50");
    cz_shedder_promise_fail(&p);
    cr_assert_eq(cz_shedder_allow(s, &inflight[ninflight++]), 0);
    cr_assert_eq(cz_shedder_allow(s, &p), CZ_EOVERLOAD, "51 in flight > 50");
    settle_until(0);
    cz_shedder_free(s);
}

Test(shedder, never_drops_below_the_cpu_threshold)
{
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    load_up(s);
    cpu_now = 899;
    cz_shedder_promise_t p;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(cz_shedder_allow(s, &p), 0);
        cz_shedder_promise_fail(&p);
    }
    settle_until(0);
    cz_shedder_free(s);
}

Test(shedder, drops_when_hot_and_flying_exceeds_the_limit)
{
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    load_up(s);
    cpu_now = 950; /* limit = 50 * 0.5 = 25 */
    cz_shedder_promise_t p;
    cr_assert_eq(cz_shedder_allow(s, &p), CZ_EOVERLOAD);
    settle_until(26);
    cr_assert_eq(cz_shedder_allow(s, &p), CZ_EOVERLOAD, "26 in flight > 25");
    settle_until(25);
    cz_shedder_info_t in;
    cz_shedder_info(s, &in);
    cr_assert(in.avg_flying > 25, "avg %.2f", in.avg_flying);
    cr_assert_eq(cz_shedder_allow(s, &p), 0, "25 in flight is not over the limit");
    cz_shedder_promise_fail(&p);

    cpu_now = 1000; /* factor 0.1: limit 5 */
    settle_until(6);
    cz_shedder_info(s, &in);
    cr_assert(in.avg_flying > 5);
    cr_assert_eq(cz_shedder_allow(s, &p), CZ_EOVERLOAD);
    settle_until(5);
    cr_assert_eq(cz_shedder_allow(s, &p), 0);
    cz_shedder_promise_fail(&p);
    settle_until(0);

    cz_shedder_stat_t st;
    cz_shedder_stat(s, &st, 1);
    cr_assert_eq(st.drop, 3);
    cr_assert_eq(st.pass, 50);
    cr_assert_eq(st.total, 205);
    cz_shedder_stat(s, &st, 0);
    cr_assert_eq(st.total + st.pass + st.drop, 0, "reset zeroes the counters");
    cz_shedder_free(s);
}

Test(shedder, cpu_at_the_threshold_counts_as_overloaded)
{
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    load_up(s);
    cpu_now = 900; /* go-zero: CpuUsage() >= cpuThreshold */
    cz_shedder_promise_t p;
    cr_assert_eq(cz_shedder_allow(s, &p), CZ_EOVERLOAD);
    settle_until(0);
    cz_shedder_free(s);
}

Test(shedder, avg_flying_follows_arrivals_with_beta_0_9)
{
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    cz_shedder_promise_t p[3];
    cz_shedder_info_t in;
    cr_assert_eq(cz_shedder_allow(s, &p[0]), 0); /* sees 0 in flight: 0 */
    cr_assert_eq(cz_shedder_allow(s, &p[1]), 0); /* sees 1: 0 * 0.9 + 1 * 0.1 */
    cz_shedder_info(s, &in);
    cr_assert(fabs(in.avg_flying - 0.1) < 1e-12, "%f", in.avg_flying);
    cr_assert_eq(cz_shedder_allow(s, &p[2]), 0); /* sees 2: 0.1 * 0.9 + 2 * 0.1 */
    cz_shedder_info(s, &in);
    cr_assert(fabs(in.avg_flying - 0.29) < 1e-12, "%f", in.avg_flying);
    cz_shedder_promise_fail(&p[0]);
    cz_shedder_promise_pass(&p[1]);
    cz_shedder_info(s, &in);
    cr_assert(fabs(in.avg_flying - 0.29) < 1e-12, "settles do not move it: %f", in.avg_flying);
    cz_shedder_promise_fail(&p[2]);
    cz_shedder_free(s);
}

Test(shedder, a_fresh_burst_passes_until_the_average_catches_up)
{
    /* Flying far over the limit is not enough: the lagging average must be over it too. */
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    load_up(s);
    settle_until(0);
    for (int i = 0; i < 100; i++) { /* idle arrivals: the average decays toward 0 */
        cz_shedder_promise_t p;
        cr_assert_eq(cz_shedder_allow(s, &p), 0);
        cz_shedder_promise_fail(&p);
    }
    cz_shedder_info_t in;
    cz_shedder_info(s, &in);
    cr_assert(in.avg_flying < 1, "%f", in.avg_flying);
    cpu_now = 950; /* limit 25 */
    for (ninflight = 0; ninflight < 30; ninflight++)
        cr_assert_eq(cz_shedder_allow(s, &inflight[ninflight]), 0, "burst request %d", ninflight);
    int dropped = 0;
    for (int i = 0; i < 70; i++) {
        if (cz_shedder_allow(s, &inflight[ninflight]) == 0)
            ninflight++;
        else
            dropped++;
    }
    cr_assert_gt(dropped, 0, "once the average passes the limit, the burst is shed");
    settle_until(0);
    cz_shedder_free(s);
}

/* An event loop settles its requests in batches: every timer or upstream answer due in one
 * loop turn finishes together. Sampled at settle (go-zero), the average walks each batch down to
 * 0 and sits near 9 however many are in flight, and the shedder never drops; sampled at arrival
 * it sees the load. */
Test(shedder, batched_settles_do_not_hide_the_load)
{
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    load_up(s); /* maxFlight 50 */
    settle_until(0);
    cpu_now = 950; /* limit 25 */
    int dropped = 0;
    for (int turn = 0; turn < 20; turn++) {
        for (int i = 0; i < 60; i++) { /* 60 arrivals in one loop turn */
            if (cz_shedder_allow(s, &inflight[ninflight]) == 0)
                ninflight++;
            else
                dropped++;
        }
        cz_clock_manual_advance(&clk, 20 * MS);
        while (ninflight > 0) /* a later turn: their timers fire together */
            cz_shedder_promise_pass(&inflight[--ninflight]);
    }
    cr_assert_gt(dropped, 20 * 10, "60 arrivals a turn against a limit of 25 (dropped %d)",
                 dropped);
    cz_shedder_free(s);
}

Test(shedder, keeps_dropping_during_cool_off_then_stops)
{
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    load_up(s);
    cpu_now = 950;
    cz_shedder_promise_t p;
    cr_assert_eq(cz_shedder_allow(s, &p), CZ_EOVERLOAD);
    cpu_now = 500; /* CPU recovers, requests are still piled up */
    cr_assert_eq(cz_shedder_allow(s, &p), CZ_EOVERLOAD, "still hot right after a drop");
    cz_clock_manual_advance(&clk, 999 * MS);
    cz_shedder_info_t in;
    cz_shedder_info(s, &in);
    cr_assert(in.hot);
    cr_assert_eq(cz_shedder_allow(s, &p), CZ_EOVERLOAD, "999 ms into the 1 s cool-off");
    cz_clock_manual_advance(&clk, 1 * MS);
    cr_assert_eq(cz_shedder_allow(s, &p), 0, "cool-off over");
    cz_shedder_promise_fail(&p);
    cz_shedder_info(s, &in);
    cr_assert(!in.hot);
    cr_assert_eq(cz_shedder_allow(s, &p), 0);
    cz_shedder_promise_fail(&p);
    settle_until(0);
    cz_shedder_free(s);
}

Test(shedder, no_drop_without_a_recent_drop_even_if_overloaded_earlier)
{
    /* A hot CPU reading alone does not make later cool readings hot: only a drop does. */
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    cpu_now = 990;
    cz_shedder_promise_t p;
    cr_assert_eq(cz_shedder_allow(s, &p), 0); /* 1 in flight is under the minimum limit */
    cz_shedder_promise_pass(&p);
    load_up(s);
    cpu_now = 100;
    cr_assert_eq(cz_shedder_allow(s, &p), 0);
    cz_shedder_promise_fail(&p);
    settle_until(0);
    cz_shedder_free(s);
}

Test(shedder, priority_threshold_sheds_later)
{
    cr_assert_eq(cz_shedder_priority_threshold(900), 950);
    cr_assert_eq(cz_shedder_priority_threshold(800), 900);
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *normal = mk(900), *prio = mk(cz_shedder_priority_threshold(900));
    load_up(prio);
    cz_shedder_promise_t prio_inflight[200];
    memcpy(prio_inflight, inflight, sizeof(prio_inflight));
    int nprio = ninflight;
    load_up(normal); /* 200 ms later: prio's window still holds its passes */
    cpu_now = 940;
    cz_shedder_promise_t p;
    cr_assert_eq(cz_shedder_allow(normal, &p), CZ_EOVERLOAD);
    cr_assert_eq(cz_shedder_allow(prio, &p), 0);
    cz_shedder_promise_fail(&p);
    settle_until(0);
    while (nprio > 0)
        cz_shedder_promise_fail(&prio_inflight[--nprio]);
    cz_shedder_free(normal);
    cz_shedder_free(prio);
}

Test(shedder, response_time_rounds_up_to_milliseconds)
{
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_t *s = mk(900);
    cz_shedder_promise_t p;
    cr_assert_eq(cz_shedder_allow(s, &p), 0);
    cz_clock_manual_advance(&clk, 7 * MS + 1);
    cz_shedder_promise_pass(&p);
    cz_shedder_promise_pass(&p); /* settled once only */
    cz_clock_manual_advance(&clk, 100 * MS);
    cz_shedder_info_t in;
    cz_shedder_info(s, &in);
    cr_assert_eq(in.min_rt_ms, 8);
    cr_assert_eq(in.max_pass, 1);
    cr_assert_eq(in.flying, 0);
    cz_shedder_free(s);
}

Test(shedder, nop_never_drops)
{
    cz_shedder_t *s = cz_shedder_nop();
    cz_shedder_promise_t p;
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(cz_shedder_allow(s, &p), 0);
        cz_shedder_promise_pass(&p);
    }
    cz_shedder_stat_t st;
    cz_shedder_stat(s, &st, 0);
    cr_assert_eq(st.total, 0);
    cr_assert_eq(cz_shedder_allow(NULL, &p), CZ_EARG);
    cr_assert_eq(cz_shedder_allow(s, NULL), CZ_EARG);
    cz_shedder_promise_pass(NULL);
    cz_shedder_free(s);
}

Test(shedder, default_cpu_source_honours_the_override)
{
    cz_cpu_set_override(970);
    cr_assert_eq(cz_cpu_usage(), 970);
    cz_clock_manual_init(&clk, 10 * CZ_NS_PER_SEC);
    cz_shedder_opts_t o = {.clock = &clk.clock};
    cz_shedder_t *s;
    cr_assert_eq(cz_shedder_new(&o, &s), 0);
    cz_shedder_info_t in;
    cz_shedder_info(s, &in);
    cr_assert_eq(in.cpu, 970);
    cz_shedder_free(s);
    cz_cpu_set_override(-1);
    int64_t real = cz_cpu_usage();
    cr_assert(real >= 0 && real <= 1000);
    const char *src = cz_cpu_source();
    cr_assert(strcmp(src, "cgroup2") == 0 || strcmp(src, "cgroup1") == 0 ||
              strcmp(src, "procstat") == 0 || strcmp(src, "none") == 0, "%s", src);
}

/* ---- CPU sampler on fake trees -------------------------------------------------------------- */

static char root[128];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void make_root(void)
{
    snprintf(root, sizeof(root), "/tmp/cz-cpu-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void rm_root(void)
{
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

static const char *path_of(const char *rel)
{
    static char p[256];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    return p;
}

Test(cpu, count_list)
{
    cr_assert_eq(cz__cpu_count_list("0-3,5"), 5);
    cr_assert_eq(cz__cpu_count_list("0"), 1);
    cr_assert_eq(cz__cpu_count_list("0-1,1"), 2);
    cr_assert_eq(cz__cpu_count_list("3-1"), -1);
    cr_assert_eq(cz__cpu_count_list("x"), -1);
}

Test(cpu, smoothing_is_go_zero_beta)
{
    cr_assert_eq(cz__cpu_smooth(0, 1000), 50);
    cr_assert_eq(cz__cpu_smooth(1000, 0), 950);
    cr_assert_eq(cz__cpu_smooth(500, 500), 500);
}

Test(cpu, cgroup_v2_usage_against_the_quota)
{
    make_root();
    put("cgroup.controllers", "cpu cpuset\n");
    put("cpu.stat", "usage_usec 1000000\nuser_usec 600000\nsystem_usec 400000\n");
    put("cpu.max", "100000 100000\n"); /* a quota of one CPU */
    put("cpuset.cpus.effective", "0-3\n");
    put("stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n");
    cz__cpu_sampler_t s;
    cr_assert_eq(cz__cpu_sampler_init(&s, root, path_of("stat")), CZ__CPU_CGROUP2);
    cr_assert_eq(s.cores, 4);
    cr_assert_eq(s.limit, 1);
    /* 0.5 s of cgroup CPU while the 4-CPU machine ran 4 s (one wall second): half the quota. */
    put("cpu.stat", "usage_usec 1500000\nuser_usec 900000\nsystem_usec 600000\n");
    put("stat", "cpu  200 0 200 1000 0 0 0 0 0 0\n");
    cr_assert_eq(cz__cpu_sampler_refresh(&s), 500);
    /* More than the quota reads as 1000. */
    put("cpu.stat", "usage_usec 3500000\n");
    put("stat", "cpu  300 0 300 1200 0 0 0 0 0 0\n");
    cr_assert_eq(cz__cpu_sampler_refresh(&s), 1000);
    /* "max": no quota, the limit is the CPU count. */
    put("cpu.max", "max 100000\n");
    cr_assert_eq(cz__cpu_sampler_init(&s, root, path_of("stat")), CZ__CPU_CGROUP2);
    cr_assert_eq(s.limit, 4);
    rm_root();
}

Test(cpu, cgroup_v1_usage)
{
    make_root();
    mkdir(path_of("cpu"), 0755);
    mkdir(path_of("cpuacct"), 0755);
    mkdir(path_of("cpuset"), 0755);
    put("cpu/cpu.cfs_quota_us", "-1\n");
    put("cpu/cpu.cfs_period_us", "100000\n");
    put("cpuset/cpuset.cpus", "0-1\n");
    put("cpuacct/cpuacct.usage", "5000000000\n");
    put("stat", "cpu  100 0 100 800 0 0 0 0 0 0\n");
    cz__cpu_sampler_t s;
    cr_assert_eq(cz__cpu_sampler_init(&s, root, path_of("stat")), CZ__CPU_CGROUP1);
    cr_assert_eq(s.limit, 2);
    /* 0.5 s used of 2 s machine time (1 wall second on 2 CPUs): 250 permille of 2 CPUs. */
    put("cpuacct/cpuacct.usage", "5500000000\n");
    put("stat", "cpu  150 0 150 900 0 0 0 0 0 0\n");
    cr_assert_eq(cz__cpu_sampler_refresh(&s), 250);
    /* With a 0.5-CPU quota, 0.25 s used in one wall second is half the quota. */
    put("cpu/cpu.cfs_quota_us", "50000\n");
    cr_assert_eq(cz__cpu_sampler_init(&s, root, path_of("stat")), CZ__CPU_CGROUP1);
    cr_assert_eq(s.limit, 0.5);
    put("cpuacct/cpuacct.usage", "5750000000\n");
    put("stat", "cpu  200 0 200 1000 0 0 0 0 0 0\n");
    cr_assert_eq(cz__cpu_sampler_refresh(&s), 500);
    rm_root();
}

Test(cpu, proc_stat_fallback_and_none)
{
    make_root();
    put("stat", "cpu  100 0 100 800 0 0 0 0 0 0\n");
    cz__cpu_sampler_t s;
    cr_assert_eq(cz__cpu_sampler_init(&s, root, path_of("stat")), CZ__CPU_PROCSTAT);
    /* busy 300 of 1000 new ticks (idle 650 + iowait 50 are not busy) */
    put("stat", "cpu  300 0 200 1450 50 0 0 0 0 0\n");
    cr_assert_eq(cz__cpu_sampler_refresh(&s), 300);
    cr_assert_eq(cz__cpu_sampler_init(&s, root, path_of("missing")), CZ__CPU_NONE);
    cr_assert_eq(cz__cpu_sampler_refresh(&s), 0);
    rm_root();
}
