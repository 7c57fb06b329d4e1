/* SPDX-License-Identifier: MIT
 *
 * clock.h: the injectable monotonic clock.
 *
 * Every time-dependent component (rolling windows, breakers, buckets, EWMA, timeouts) reads time
 * through a cz_clock_t so tests can drive time by hand and stay exact. cz_clock_system() is the
 * real CLOCK_MONOTONIC; cz_clock_manual_t is a clock a test (or a simulation) moves itself.
 */
#ifndef CZERO_CLOCK_H
#define CZERO_CLOCK_H

#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_clock {
    uint64_t (*now_ns)(void *ud); /* monotonic nanoseconds; never goes back */
    void *ud;
} cz_clock_t;

static inline uint64_t cz_clock_now_ns(const cz_clock_t *c) { return c->now_ns(c->ud); }
static inline uint64_t cz_clock_now_ms(const cz_clock_t *c) { return c->now_ns(c->ud) / 1000000u; }

/** The process-wide CLOCK_MONOTONIC clock. Static storage, thread-safe. */
CZ_EXTERN const cz_clock_t *cz_clock_system(void);

/** CLOCK_MONOTONIC_COARSE: resolution of a kernel tick (1-4 ms) at a fraction of the cost of a
 *  precise read, for components whose time buckets are far wider than that (the breaker's 250 ms
 *  buckets). Never mix its readings with cz_clock_system()'s. Static storage, thread-safe. */
CZ_EXTERN const cz_clock_t *cz_clock_coarse(void);

/** Wall-clock time in nanoseconds since the Unix epoch (CLOCK_REALTIME), for logs and limiters
 *  that align to calendar periods. */
CZ_EXTERN uint64_t cz_wallclock_ns(void);

/* A clock that only moves when told to. Thread-safe (atomic). */
typedef struct cz_clock_manual {
    cz_clock_t clock; /* pass &m->clock to components */
    uint64_t now;     /* ns; accessed atomically */
} cz_clock_manual_t;

CZ_EXTERN void cz_clock_manual_init(cz_clock_manual_t *m, uint64_t start_ns);
CZ_EXTERN void cz_clock_manual_set(cz_clock_manual_t *m, uint64_t now_ns);
CZ_EXTERN void cz_clock_manual_advance(cz_clock_manual_t *m, uint64_t delta_ns);

#define CZ_NS_PER_MS 1000000ull
#define CZ_NS_PER_SEC 1000000000ull

#ifdef __cplusplus
}
#endif
#endif
