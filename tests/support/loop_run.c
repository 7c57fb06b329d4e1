/* SPDX-License-Identifier: MIT
 *
 * loop_run.c: see loop_run.h.
 */
#include "loop_run.h"

static void on_guard(uv_timer_t *t) { *(int *)t->data = 1; }

int cz_test_run_until(uv_loop_t *loop, volatile int *flag, uint64_t ms)
{
    int expired = 0;
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    guard.data = &expired;
    uv_timer_start(&guard, on_guard, ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

void cz_test_run_for(uv_loop_t *loop, uint64_t ms)
{
    int never = 0;
    cz_test_run_until(loop, &never, ms);
}
