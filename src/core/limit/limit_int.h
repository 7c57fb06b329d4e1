/* SPDX-License-Identifier: MIT
 *
 * limit_int.h: what the limiter kinds (period.c, token.c, leaky.c) share with the common code in
 * limiter.c. A kind is a table of functions: how to decide on one key's state in process, how
 * to phrase the same decision as an EVALSHA call, and how to read the script's reply. limiter.c
 * owns everything else: the striped key store, per-loop Redis clients, the token fallback.
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

/* Arguments for one EVALSHA: keys first, then arguments. */
#define CZ__LIMIT_MAX_ARGS 8
typedef struct cz__limit_args {
    int nkeys, argc;
    const char *argv[CZ__LIMIT_MAX_ARGS];
    size_t len[CZ__LIMIT_MAX_ARGS];
    char keys[2][CZ_LIMITER_MAX_KEY + 16];
    char nums[4][24];
} cz__limit_args_t;

typedef struct cz__limit_kind {
    const char *name;
    const char *lua;
    int redis_fallback; /* Redis failures go to the in-process store (token) */
    int (*check)(const cz_limiter_conf_t *c);
    /* Decide on e at monotonic time now. fresh: e is new or expired and must be (re)initialised.
     * Must set e->expire. Returns CZ_LIMIT_*. Called with the stripe lock held. */
    int (*local)(const cz_limiter_t *l, cz__limit_entry_t *e, int fresh, uint64_t n, uint64_t now);
    /* Build the script call for prefixed key pk. */
    void (*redis_args)(const cz_limiter_t *l, cz_str_t pk, uint64_t n, cz__limit_args_t *a);
} cz__limit_kind_t;

#define CZ__LIMIT_STRIPES 64

typedef struct cz__limit_stripe {
    pthread_mutex_t mu;
    cz__limit_entry_t **tab;
    size_t cap, n;
} __attribute__((aligned(64))) cz__limit_stripe_t;

struct cz_limiter {
    const cz__limit_kind_t *kind; /* NULL for the nop limiter */
    cz_limiter_conf_t conf;
    cz_redis_script_t script;
    cz__limit_stripe_t stripes[CZ__LIMIT_STRIPES];
    pthread_mutex_t bind_mu;
    uv_loop_t *loops[CZ_LIMITER_MAX_LOOPS]; /* read without the lock (atomics) */
    struct cz__limit_binding *binds[CZ_LIMITER_MAX_LOOPS];
    int nbind;
    /* Redis outages (limiter.c): loops whose Redis path fails now, outages begun (atomics) */
    int redis_down;
    uint64_t redis_outages;
    char redis_addr[280]; /* host:port, for the log and the metrics label */
};

extern const cz__limit_kind_t cz__limit_period;
extern const cz__limit_kind_t cz__limit_token;
extern const cz__limit_kind_t cz__limit_leaky;

/* Map a script's reply code (go-zero periodscript.lua: 0 over, 1 allowed, 2 hit) to CZ_LIMIT_*. */
int cz__limit_map_code(long long code);
/* Wall-clock ns from the limiter's wall clock. */
uint64_t cz__limit_wall_ns(const cz_limiter_t *l);
/* Set a->argv[i] to the decimal form of v (uses a->nums[slot]). */
void cz__limit_arg_u64(cz__limit_args_t *a, int i, int slot, uint64_t v);
/* Set a->argv[i] to "{pk}suffix", or pk alone when suffix is NULL (uses a->keys[slot]);
 * the braces are go-zero's cluster hash tag. */
void cz__limit_arg_key(cz__limit_args_t *a, int i, int slot, cz_str_t pk, const char *suffix);
/* The bucket scripts' arguments (token and leaky): KEYS[1] = pk + suffix, ARGV = rate, burst,
 * wall time in ms, n. */
void cz__limit_bucket_args(const cz_limiter_t *l, cz_str_t pk, uint64_t n, const char *suffix,
                           cz__limit_args_t *a);

/* Nano-units gained/lost over dt ns at rate units/s, saturating at cap. */
static inline uint64_t cz__limit_flow(uint64_t dt, uint64_t rate, uint64_t cap)
{
    if (dt >= cap / rate + 1)
        return cap;
    uint64_t v = dt * rate;
    return v < cap ? v : cap;
}

#endif
