/* SPDX-License-Identifier: MIT
 *
 * loop_run.h: drive a libuv loop from a test until a flag is set or a time limit passes, with
 * a guard timer so a test that waits for something that never happens ends instead of hanging.
 */
#ifndef CZ_TEST_LOOP_RUN_H
#define CZ_TEST_LOOP_RUN_H

#include <stdint.h>
#include <uv.h>

/* Run loop until *flag is non-zero or ms of loop time pass; returns *flag. The guard timer is
 * closed before returning, so no handle of its own is left on the loop. */
int cz_test_run_until(uv_loop_t *loop, volatile int *flag, uint64_t ms);

/* Run loop for ms of loop time. */
void cz_test_run_for(uv_loop_t *loop, uint64_t ms);

#endif
