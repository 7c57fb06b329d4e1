/* SPDX-License-Identifier: MIT
 *
 * Tests for the rolling window: bucket placement, expiry, alignment to the creation time,
 * ignore-current, running totals versus reduce, and no lost updates across threads.
 * Scenarios follow go-zero core/collection/rollingwindow_test.go with a manual clock.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include "czero/window.h"

#define MS CZ_NS_PER_MS

typedef struct collect {
    int n;
    int64_t sum[16], count[16];
} collect_t;

static void collect_fn(const cz_window_bucket_t *b, void *arg)
{
    collect_t *c = arg;
    c->sum[c->n] = b->f[CZ_WINDOW_SUM];
    c->count[c->n] = b->f[CZ_WINDOW_COUNT];
    c->n++;
}

static collect_t buckets_of(cz_window_t *w)
{
    collect_t c = {0};
    cz_window_reduce(w, collect_fn, &c);
    return c;
}

Test(window, rejects_bad_arguments)
{
    cz_window_t w;
    cr_assert_eq(cz_window_init(&w, 0, MS, 0, NULL), CZ_EARG);
    cr_assert_eq(cz_window_init(&w, 3, 0, 0, NULL), CZ_EARG);
}

Test(window, adds_land_in_time_buckets_oldest_first)
{
    cz_clock_manual_t clk;
    cz_clock_manual_init(&clk, 1000 * MS);
    cz_window_t w;
    cr_assert_eq(cz_window_init(&w, 3, 50 * MS, 0, &clk.clock), 0);

    cz_window_add(&w, 1);
    collect_t c = buckets_of(&w);
    cr_assert_eq(c.n, 3);
    cr_assert_eq(c.sum[0] + c.sum[1], 0);
    cr_assert_eq(c.sum[2], 1);

    cz_clock_manual_advance(&clk, 50 * MS);
    cz_window_add(&w, 2);
    cz_window_add(&w, 3);
    c = buckets_of(&w);
    cr_assert_eq(c.sum[1], 1);
    cr_assert_eq(c.sum[2], 5);
    cr_assert_eq(c.count[2], 2);

    cz_clock_manual_advance(&clk, 50 * MS);
    cz_window_add(&w, 4);
    c = buckets_of(&w);
    cr_assert(c.sum[0] == 1 && c.sum[1] == 5 && c.sum[2] == 4);

    /* One more interval pushes the first bucket out. */
    cz_clock_manual_advance(&clk, 50 * MS);
    c = buckets_of(&w);
    cr_assert(c.sum[0] == 5 && c.sum[1] == 4 && c.sum[2] == 0);
    cz_window_dispose(&w);
}

Test(window, long_idle_resets_everything)
{
    cz_clock_manual_t clk;
    cz_clock_manual_init(&clk, 0);
    cz_window_t w;
    cz_window_init(&w, 4, 10 * MS, 0, &clk.clock);
    for (int i = 0; i < 4; i++) {
        cz_window_add(&w, 10);
        cz_clock_manual_advance(&clk, 10 * MS);
    }
    cz_window_bucket_t t;
    cz_window_totals(&w, &t);
    cr_assert_eq(t.f[CZ_WINDOW_SUM], 30); /* the first bucket just expired */
    cz_clock_manual_advance(&clk, 1000 * MS);
    cz_window_totals(&w, &t);
    cr_assert_eq(t.f[CZ_WINDOW_SUM], 0);
    cr_assert_eq(t.f[CZ_WINDOW_COUNT], 0);
    cz_window_add(&w, 7);
    cz_window_totals(&w, &t);
    cr_assert_eq(t.f[CZ_WINDOW_SUM], 7);
    cz_window_dispose(&w);
}

Test(window, buckets_align_to_creation_time)
{
    /* go-zero TestRollingWindowBucketTimeBoundary: interval 30 ms, adds at 0, 45 and 60 ms. */
    cz_clock_manual_t clk;
    cz_clock_manual_init(&clk, 5 * MS);
    cz_window_t w;
    cz_window_init(&w, 3, 30 * MS, 0, &clk.clock);
    cz_window_add(&w, 1);
    cz_window_add(&w, 2);
    cz_clock_manual_advance(&clk, 45 * MS); /* 45 ms in: second bucket [30,60) */
    cz_window_add(&w, 3);
    cz_window_add(&w, 4);
    collect_t c = buckets_of(&w);
    cr_assert(c.sum[1] == 3 && c.sum[2] == 7);
    cz_clock_manual_advance(&clk, 15 * MS); /* 60 ms: a new bucket, not 30 ms after the add */
    cz_window_add(&w, 5);
    c = buckets_of(&w);
    cr_assert(c.sum[0] == 3 && c.sum[1] == 7 && c.sum[2] == 5);
    cr_assert(c.count[0] == 2 && c.count[1] == 2 && c.count[2] == 1);
    cz_window_dispose(&w);
}

Test(window, ignore_current_leaves_out_the_filling_bucket)
{
    cz_clock_manual_t clk;
    cz_clock_manual_init(&clk, 0);
    cz_window_t w;
    cz_window_init(&w, 4, 10 * MS, CZ_WINDOW_IGNORE_CURRENT, &clk.clock);
    cz_window_add(&w, 100);
    collect_t c = buckets_of(&w);
    cr_assert_eq(c.n, 3);
    cr_assert_eq(c.sum[0] + c.sum[1] + c.sum[2], 0);
    cz_window_bucket_t t;
    cz_window_totals(&w, &t);
    cr_assert_eq(t.f[CZ_WINDOW_SUM], 0);

    cz_clock_manual_advance(&clk, 10 * MS);
    cz_window_add(&w, 1);
    c = buckets_of(&w);
    cr_assert_eq(c.sum[2], 100);
    cz_window_totals(&w, &t);
    cr_assert_eq(t.f[CZ_WINDOW_SUM], 100);
    cz_window_dispose(&w);
}

Test(window, totals_equal_reduce_for_every_field)
{
    cz_clock_manual_t clk;
    cz_clock_manual_init(&clk, 0);
    cz_window_t w;
    cz_window_init(&w, 5, 7 * MS, 0, &clk.clock);
    for (int i = 0; i < 200; i++) {
        const int64_t d[CZ_WINDOW_FIELDS] = {i, 1, i % 3, -i};
        cz_window_add_fields(&w, d);
        cz_clock_manual_advance(&clk, (uint64_t)(i % 11) * MS);
        collect_t c = buckets_of(&w);
        int64_t s = 0, n = 0;
        for (int k = 0; k < c.n; k++) {
            s += c.sum[k];
            n += c.count[k];
        }
        cz_window_bucket_t t;
        cz_window_totals(&w, &t);
        cr_assert_eq(t.f[0], s, "step %d: total %ld vs reduce %ld", i, (long)t.f[0], (long)s);
        cr_assert_eq(t.f[1], n);
    }
    cz_window_dispose(&w);
}

static void *adder(void *arg)
{
    cz_window_t *w = arg;
    for (int i = 0; i < 100000; i++)
        cz_window_add(w, 2);
    return NULL;
}

Test(window, concurrent_adds_are_not_lost)
{
    cz_clock_manual_t clk;
    cz_clock_manual_init(&clk, 0);
    cz_window_t w;
    cz_window_init(&w, 10, CZ_NS_PER_SEC, 0, &clk.clock);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, adder, &w);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cz_window_bucket_t tot;
    cz_window_totals(&w, &tot);
    cr_assert_eq(tot.f[CZ_WINDOW_COUNT], 200000);
    cr_assert_eq(tot.f[CZ_WINDOW_SUM], 400000);
    cz_window_dispose(&w);
}
