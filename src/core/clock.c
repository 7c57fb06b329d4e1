/* SPDX-License-Identifier: MIT
 *
 * clock.c: the system monotonic clock and the manual clock tests drive.
 */
#include <time.h>
#include "czero/clock.h"

static uint64_t system_now_ns(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * CZ_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static const cz_clock_t system_clock = {system_now_ns, NULL};

const cz_clock_t *cz_clock_system(void) { return &system_clock; }

static uint64_t coarse_now_ns(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * CZ_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static const cz_clock_t coarse_clock = {coarse_now_ns, NULL};

const cz_clock_t *cz_clock_coarse(void) { return &coarse_clock; }

uint64_t cz_wallclock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * CZ_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t manual_now_ns(void *ud)
{
    return __atomic_load_n(&((cz_clock_manual_t *)ud)->now, __ATOMIC_ACQUIRE);
}

void cz_clock_manual_init(cz_clock_manual_t *m, uint64_t start_ns)
{
    m->clock.now_ns = manual_now_ns;
    m->clock.ud = m;
    __atomic_store_n(&m->now, start_ns, __ATOMIC_RELEASE);
}

void cz_clock_manual_set(cz_clock_manual_t *m, uint64_t now_ns)
{
    __atomic_store_n(&m->now, now_ns, __ATOMIC_RELEASE);
}

void cz_clock_manual_advance(cz_clock_manual_t *m, uint64_t delta_ns)
{
    __atomic_add_fetch(&m->now, delta_ns, __ATOMIC_ACQ_REL);
}
