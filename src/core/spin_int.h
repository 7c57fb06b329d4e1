/* SPDX-License-Identifier: MIT
 *
 * spin_int.h: a tiny test-and-test-and-set spin lock for czero's resilience core (private).
 *
 * The rolling window, breaker and shedder hold their locks for a few dozen instructions, so a
 * spin lock beats a pthread mutex on the uncontended path (one atomic exchange, one release
 * store). After a short busy spin the waiter yields the CPU, as go-zero's syncx.SpinLock calls
 * runtime.Gosched(), so a preempted holder is not starved on a small machine. Not for long
 * critical sections and not re-entrant.
 */
#ifndef CZERO_SPIN_INT_H
#define CZERO_SPIN_INT_H

#include <sched.h>
#include <stdint.h>

static inline void cz__spin_lock(uint32_t *l)
{
    for (;;) {
        if (!__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
            return;
        for (int i = 0; __atomic_load_n(l, __ATOMIC_RELAXED); i++) {
            if (i >= 64)
                sched_yield();
#if defined(__x86_64__) || defined(__i386__)
            else
                __builtin_ia32_pause();
#endif
        }
    }
}

static inline void cz__spin_unlock(uint32_t *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

#endif
