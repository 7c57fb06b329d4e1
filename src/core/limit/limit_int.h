/* SPDX-License-Identifier: MIT
 *
 * limit_int.h: core's in-process rate limiting, shared by the kinds (period.c, token.c, leaky.c)
 * and the striped key store (limit_store.c), and used by the public limiter
 * (src/redis/redis_limit.c), which puts the Redis store beside it. A kind is a table of
 * functions: how to check a configuration and how to decide on one key's state in process.
 * Nothing here knows Redis: the Redis twin of each kind (its Lua script and arguments) lives in
 * src/redis/, and this layer is never called back from there.
 */
#ifndef CZERO_LIMIT_INT_H
#define CZERO_LIMIT_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "czero/limiter.h"

/* Bucket levels are kept in nano-units (one unit = 1e9) so that refilling/draining by
 * elapsed_ns * rate is exact integer arithmetic: no float drift at window edges. */
#define CZ__LIMIT_SCALE 1000000000ull

typedef struct cz__limit_entry {
    struct cz__limit_entry *next;
    uint64_t hash;
    uint64_t expire; /* monotonic ns: from here on the entry equals a fresh one */
    uint64_t count;  /* period: units used; buckets: level in nano-units */
    uint64_t last;   /* buckets: monotonic ns of the last update */
    size_t klen;
    char key[];
} cz__limit_entry_t;

typedef struct cz__limit_kind {
    const char *name;
    int (*check)(const cz_limiter_conf_t *c);
    /* Decide on e at monotonic time now. fresh: e is new or expired and must be (re)initialised.
     * Must set e->expire. Returns CZ_LIMIT_*. Called with the stripe lock held. */
    int (*local)(const cz_limiter_conf_t *c, cz__limit_entry_t *e, int fresh, uint64_t n,
                 uint64_t now);
} cz__limit_kind_t;

#define CZ__LIMIT_STRIPES 64

typedef struct cz__limit_stripe {
    pthread_mutex_t mu;
    cz__limit_entry_t **tab;
    size_t cap, n;
} __attribute__((aligned(64))) cz__limit_stripe_t;

/* The in-process key store of one limiter: a hash split into stripes, each with its mutex. */
typedef struct cz__limit_store {
    const cz__limit_kind_t *kind;
    const cz_limiter_conf_t *conf; /* the owner's copy; clock and wallclock set */
    cz__limit_stripe_t stripes[CZ__LIMIT_STRIPES];
} cz__limit_store_t;

extern const cz__limit_kind_t cz__limit_period;
extern const cz__limit_kind_t cz__limit_token;
extern const cz__limit_kind_t cz__limit_leaky;

/* The kind conf asks for, when conf is valid for it; NULL otherwise. */
const cz__limit_kind_t *cz__limit_kind_for(const cz_limiter_conf_t *conf);
void cz__limit_store_init(cz__limit_store_t *st, const cz__limit_kind_t *kind,
                          const cz_limiter_conf_t *conf);
void cz__limit_store_fini(cz__limit_store_t *st);
/* Decide for key in process: CZ_LIMIT_* or CZ_ENOMEM. Thread-safe. */
int cz__limit_store_decide(cz__limit_store_t *st, cz_str_t key, uint64_t n);
/* Keys held, expired ones not yet swept included. Thread-safe. */
size_t cz__limit_store_keys(cz__limit_store_t *st);

/* Wall-clock ns from conf's wall clock. */
uint64_t cz__limit_wall_ns(const cz_limiter_conf_t *c);
/* period: time left in the current window (the whole period, or up to the aligned boundary). */
uint64_t cz__limit_period_window_ns(const cz_limiter_conf_t *c);

/* Nano-units gained/lost over dt ns at rate units/s, saturating at cap. */
static inline uint64_t cz__limit_flow(uint64_t dt, uint64_t rate, uint64_t cap)
{
    if (dt >= cap / rate + 1)
        return cap;
    uint64_t v = dt * rate;
    return v < cap ? v : cap;
}

#endif
