/* SPDX-License-Identifier: MIT
 *
 * singleflight.h: concurrent calls for one key share one execution (go-zero core/syncx).
 *
 * While fn runs for a key, other threads calling cz_singleflight_do() with the same key block
 * until it returns and then get the same return code and result pointer instead of running fn
 * again. Once the call finishes the key is forgotten: a later call runs fn afresh (this is not a
 * cache). For threads that may block; an event loop must not call it.
 */
#ifndef CZERO_SINGLEFLIGHT_H
#define CZERO_SINGLEFLIGHT_H

#include <pthread.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CZ__SF_SLOTS 64

/* Caller-owned; fields are private. */
typedef struct cz_singleflight {
    pthread_mutex_t _lock;
    struct cz__sf_call *_slots[CZ__SF_SLOTS];
} cz_singleflight_t;

/* The shared work: returns 0 or an error and may set *result. */
typedef int (*cz_singleflight_fn)(void *arg, void **result);

/** Initialise g. Returns 0 or -errno. */
CZ_EXTERN int cz_singleflight_init(cz_singleflight_t *g);
/** Release g; no call may be in flight. */
CZ_EXTERN void cz_singleflight_dispose(cz_singleflight_t *g);

/** Run fn(arg, result) for key unless a call for key is in flight, in which case wait for it and
 *  share its outcome. Returns fn's return code (or CZ_ENOMEM/CZ_EARG); *result (may be NULL when
 *  the caller does not want it) gets fn's result, the same pointer for every sharer: who owns it
 *  is up to fn's contract (e.g. reference counted, or process lifetime). key is copied. */
CZ_EXTERN int cz_singleflight_do(cz_singleflight_t *g, const char *key, cz_singleflight_fn fn,
                                 void *arg, void **result);
/** As cz_singleflight_do(); *fresh (may be NULL) is 1 if this caller ran fn, 0 if it shared
 *  another call's outcome (go-zero DoEx). */
CZ_EXTERN int cz_singleflight_do_ex(cz_singleflight_t *g, const char *key, cz_singleflight_fn fn,
                                    void *arg, void **result, int *fresh);

#ifdef __cplusplus
}
#endif
#endif
