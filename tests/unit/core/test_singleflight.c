/* SPDX-License-Identifier: MIT
 *
 * Tests for single flight: concurrent callers of one key share one execution and its outcome,
 * different keys run independently, and a finished key runs afresh (go-zero singleflight_test).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include "core/singleflight_int.h"

static cz_singleflight_t g;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open, runs, entered;
static int result_value = 7;

/* Blocks until the test opens the gate, so the other callers pile up behind it. */
static int slow_fn(void *arg, void **result)
{
    pthread_mutex_lock(&gate_lock);
    runs++;
    entered = 1;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    *result = arg;
    return -42;
}

typedef struct caller {
    pthread_t t;
    const char *key;
    int rc, fresh;
    void *res;
} caller_t;

static void *call(void *arg)
{
    caller_t *c = arg;
    c->rc = cz_singleflight_do_ex(&g, c->key, slow_fn, &result_value, &c->res, &c->fresh);
    return NULL;
}

static void wait_entered(void)
{
    pthread_mutex_lock(&gate_lock);
    while (!entered)
        pthread_cond_wait(&gate_cv, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_lock);
}

Test(singleflight, concurrent_callers_share_one_run)
{
    cr_assert_eq(cz_singleflight_init(&g), 0);
    caller_t c[4];
    for (int i = 0; i < 4; i++)
        c[i] = (caller_t){.key = "k"};
    pthread_create(&c[0].t, NULL, call, &c[0]);
    wait_entered();
    for (int i = 1; i < 4; i++)
        pthread_create(&c[i].t, NULL, call, &c[i]);
    /* Wait (bounded, so a broken group fails instead of hanging) for all four to share. */
    for (int spins = 0; cz__singleflight_sharers(&g, "k") < 4; spins++) {
        cr_assert(spins < 10000, "callers did not join the in-flight call");
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    open_gate();
    int fresh = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(c[i].t, NULL);
        cr_assert_eq(c[i].rc, -42);
        cr_assert_eq(c[i].res, &result_value);
        fresh += c[i].fresh;
    }
    cr_assert_eq(runs, 1);
    cr_assert_eq(fresh, 1, "exactly one caller ran fn");
    cr_assert_eq(cz__singleflight_sharers(&g, "k"), 0, "gone once everyone has its result");
    cz_singleflight_dispose(&g);
}

static int count_fn(void *arg, void **result)
{
    (*(int *)arg)++;
    *result = NULL;
    return 0;
}

Test(singleflight, finished_keys_run_again_and_keys_are_independent)
{
    cr_assert_eq(cz_singleflight_init(&g), 0);
    int n = 0;
    void *res = &n;
    cr_assert_eq(cz_singleflight_do(&g, "a", count_fn, &n, &res), 0);
    cr_assert_null(res);
    cr_assert_eq(cz_singleflight_do(&g, "a", count_fn, &n, NULL), 0);
    cr_assert_eq(n, 2);

    /* While "x" is stuck, "y" still runs. */
    caller_t cx = {.key = "x"};
    pthread_create(&cx.t, NULL, call, &cx);
    wait_entered();
    cr_assert_eq(cz_singleflight_do(&g, "y", count_fn, &n, NULL), 0);
    cr_assert_eq(n, 3);
    open_gate();
    pthread_join(cx.t, NULL);
    cr_assert_eq(cx.rc, -42);
    cr_assert_eq(cx.fresh, 1);
    cr_assert_eq(cz_singleflight_do(&g, NULL, count_fn, &n, NULL), CZ_EARG);
    cz_singleflight_dispose(&g);
}
