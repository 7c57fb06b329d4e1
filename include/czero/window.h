/* SPDX-License-Identifier: MIT
 *
 * window.h: a rolling window of time buckets (go-zero core/collection/rollingwindow.go).
 *
 * A window is `size` buckets of `interval` nanoseconds each; the current bucket is the one whose
 * interval contains "now" on the window's clock, and buckets older than size*interval are reset
 * as time moves on. Bucket boundaries are aligned to the time the window was created, as in
 * go-zero. Each bucket holds CZ_WINDOW_FIELDS int64 counters: cz_window_add() treats field 0 as
 * go-zero's Bucket.Sum and field 1 as Bucket.Count; specialised users (the circuit breaker) give
 * every field their own meaning through cz_window_add_fields().
 *
 * The window keeps a running total of every field, so cz_window_totals() is O(1); reduce visits
 * the buckets oldest first. All calls are thread-safe (a short spin lock; the event loops of
 * several threads share breakers and shedders) and never allocate after init.
 */
#ifndef CZERO_WINDOW_H
#define CZERO_WINDOW_H

#include <stdint.h>
#include "clock.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CZ_WINDOW_FIELDS 4
enum { CZ_WINDOW_SUM = 0, CZ_WINDOW_COUNT = 1 };

/* Reduce and totals leave out the current, still filling bucket (go-zero IgnoreCurrentBucket). */
#define CZ_WINDOW_IGNORE_CURRENT 0x1

typedef struct cz_window_bucket {
    int64_t f[CZ_WINDOW_FIELDS];
} cz_window_bucket_t;

/* Caller-owned storage; fields are private (they are public only so the struct can be embedded). */
typedef struct cz_window {
    uint32_t _lock;
    int _size;
    int _offset;   /* index of the current bucket */
    int _flags;
    uint64_t _interval;
    uint64_t _last; /* start time of the current bucket */
    const cz_clock_t *_clock;
    cz_window_bucket_t _total; /* sum of all buckets, kept up to date on add and reset */
    cz_window_bucket_t *_buckets;
} cz_window_t;

/** Initialise w with `size` buckets of `interval_ns` each, read time from `clock` (NULL = the
 *  system clock; it must outlive w). flags: 0 or CZ_WINDOW_IGNORE_CURRENT.
 *  Returns 0, CZ_EARG (size < 1, interval 0) or CZ_ENOMEM. Release with cz_window_dispose(). */
CZ_EXTERN int cz_window_init(cz_window_t *w, int size, uint64_t interval_ns, int flags,
                             const cz_clock_t *clock);
/** Free the buckets. w may be reused with cz_window_init(). Not thread-safe against other calls. */
CZ_EXTERN void cz_window_dispose(cz_window_t *w);

/** Add v to the current bucket's sum and 1 to its count (go-zero RollingWindow.Add). */
CZ_EXTERN void cz_window_add(cz_window_t *w, int64_t v);
/** Add delta[i] to field i of the current bucket. */
CZ_EXTERN void cz_window_add_fields(cz_window_t *w, const int64_t delta[CZ_WINDOW_FIELDS]);
/** As cz_window_add_fields() at time now_ns, which the caller read from the window's clock
 *  (saves a second clock read on hot paths that already know the time). */
CZ_EXTERN void cz_window_add_fields_at(cz_window_t *w, uint64_t now_ns,
                                       const int64_t delta[CZ_WINDOW_FIELDS]);

/** Call fn on every bucket inside the window, oldest first (go-zero RollingWindow.Reduce),
 *  skipping the current one with CZ_WINDOW_IGNORE_CURRENT. fn runs under the window's lock: it
 *  must be short and must not call back into w. */
CZ_EXTERN void cz_window_reduce(cz_window_t *w, void (*fn)(const cz_window_bucket_t *b, void *arg),
                                void *arg);
/** Store in *out the field-wise sum of the buckets reduce would visit. O(1), and lock-free while
 *  no bucket has expired (without CZ_WINDOW_IGNORE_CURRENT): under concurrent adds the fields
 *  are each current but not necessarily from the same instant. */
CZ_EXTERN void cz_window_totals(cz_window_t *w, cz_window_bucket_t *out);

#ifdef __cplusplus
}
#endif
#endif
