/* SPDX-License-Identifier: MIT
 *
 * window.c: the rolling window shared by the circuit breaker and the load shedder.
 *
 * Follows go-zero core/collection/rollingwindow.go: `offset` is the current bucket, `last` the
 * start of its interval (aligned to the creation time), and moving into a later interval resets
 * the buckets passed over. Unlike go-zero, reads also move the window forward (under the same
 * lock) instead of computing a read-only span; the buckets visited are the same, because the
 * buckets go-zero's Reduce skips are exactly those the move resets to zero. A running total per
 * field makes the breaker's common "nothing is failing" check O(1) instead of a 40-bucket scan.
 */
#include <stdlib.h>
#include <string.h>
#include "czero/window.h"
#include "spin_int.h"

int cz_window_init(cz_window_t *w, int size, uint64_t interval_ns, int flags,
                   const cz_clock_t *clock)
{
    memset(w, 0, sizeof(*w));
    if (size < 1 || interval_ns == 0)
        return CZ_EARG;
    w->_buckets = calloc((size_t)size, sizeof(*w->_buckets));
    if (!w->_buckets)
        return CZ_ENOMEM;
    w->_size = size;
    w->_interval = interval_ns;
    w->_flags = flags;
    w->_clock = clock ? clock : cz_clock_system();
    w->_last = cz_clock_now_ns(w->_clock);
    return 0;
}

void cz_window_dispose(cz_window_t *w)
{
    free(w->_buckets);
    w->_buckets = NULL;
    w->_size = 0;
}

/* _total and _last are written under the lock but read without it by cz_window_totals(), so the
 * writers store them atomically (a plain store on x86; no read-modify-write needed). */
static inline void total_add(cz_window_t *w, int f, int64_t d)
{
    __atomic_store_n(&w->_total.f[f], w->_total.f[f] + d, __ATOMIC_RELAXED);
}

static void reset_bucket(cz_window_t *w, int i)
{
    cz_window_bucket_t *b = &w->_buckets[i];
    for (int f = 0; f < CZ_WINDOW_FIELDS; f++)
        total_add(w, f, -b->f[f]);
    memset(b, 0, sizeof(*b));
}

/* go-zero updateOffset(): called with the lock held. */
static void advance(cz_window_t *w, uint64_t now)
{
    if (now < w->_last + w->_interval) /* also covers a clock that did not move */
        return;
    uint64_t elapsed = now - w->_last;
    uint64_t span = elapsed / w->_interval;
    if (span >= (uint64_t)w->_size) {
        memset(w->_buckets, 0, sizeof(*w->_buckets) * (size_t)w->_size);
        for (int f = 0; f < CZ_WINDOW_FIELDS; f++)
            __atomic_store_n(&w->_total.f[f], 0, __ATOMIC_RELAXED);
        w->_offset = (int)((w->_offset + span) % (uint64_t)w->_size);
    } else {
        for (uint64_t i = 1; i <= span; i++)
            reset_bucket(w, (int)((w->_offset + i) % (uint64_t)w->_size));
        w->_offset = (int)((w->_offset + span) % (uint64_t)w->_size);
    }
    /* Align to the interval boundary; release pairs with the acquire in cz_window_totals(). */
    __atomic_store_n(&w->_last, now - elapsed % w->_interval, __ATOMIC_RELEASE);
}

void cz_window_add_fields_at(cz_window_t *w, uint64_t now, const int64_t delta[CZ_WINDOW_FIELDS])
{
    cz__spin_lock(&w->_lock);
    advance(w, now);
    cz_window_bucket_t *b = &w->_buckets[w->_offset];
    for (int f = 0; f < CZ_WINDOW_FIELDS; f++) {
        b->f[f] += delta[f];
        total_add(w, f, delta[f]);
    }
    cz__spin_unlock(&w->_lock);
}

void cz_window_add_fields(cz_window_t *w, const int64_t delta[CZ_WINDOW_FIELDS])
{
    cz_window_add_fields_at(w, cz_clock_now_ns(w->_clock), delta);
}

void cz_window_add(cz_window_t *w, int64_t v)
{
    const int64_t d[CZ_WINDOW_FIELDS] = {v, 1, 0, 0};
    cz_window_add_fields_at(w, cz_clock_now_ns(w->_clock), d);
}

void cz_window_reduce(cz_window_t *w, void (*fn)(const cz_window_bucket_t *b, void *arg),
                      void *arg)
{
    uint64_t now = cz_clock_now_ns(w->_clock);
    cz__spin_lock(&w->_lock);
    advance(w, now);
    int n = (w->_flags & CZ_WINDOW_IGNORE_CURRENT) ? w->_size - 1 : w->_size;
    /* Oldest first: the bucket after the current one is the oldest still in the window. */
    for (int i = 0; i < n; i++)
        fn(&w->_buckets[(w->_offset + 1 + i) % w->_size], arg);
    cz__spin_unlock(&w->_lock);
}

void cz_window_totals(cz_window_t *w, cz_window_bucket_t *out)
{
    uint64_t now = cz_clock_now_ns(w->_clock);
    /* Fast path without the lock (the breaker asks on every request): when no bucket has
     * expired since the last move, the running totals are current. */
    uint64_t last = __atomic_load_n(&w->_last, __ATOMIC_ACQUIRE);
    if (!(w->_flags & CZ_WINDOW_IGNORE_CURRENT) && now >= last && now - last < w->_interval) {
        for (int f = 0; f < CZ_WINDOW_FIELDS; f++)
            out->f[f] = __atomic_load_n(&w->_total.f[f], __ATOMIC_RELAXED);
        return;
    }
    cz__spin_lock(&w->_lock);
    advance(w, now);
    *out = w->_total;
    if (w->_flags & CZ_WINDOW_IGNORE_CURRENT) {
        for (int f = 0; f < CZ_WINDOW_FIELDS; f++)
            out->f[f] -= w->_buckets[w->_offset].f[f];
    }
    cz__spin_unlock(&w->_lock);
}
