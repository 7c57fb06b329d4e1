/* SPDX-License-Identifier: MIT
 *
 * limiter.h: rate limiters (go-zero core/limit), each kind with an in-process and a Redis store.
 *
 * Kinds:
 *   - period (go-zero PeriodLimit): at most `quota` units per `period` per key, the window either
 *     starting at a key's first request or aligned to period boundaries of wall time
 *     (e.g. "5 SMS per calendar day"). Results: ALLOWED, HIT_QUOTA (this request used the last
 *     unit), OVER_QUOTA.
 *   - token bucket (go-zero TokenLimiter): `rate` tokens per second, bucket of `burst` tokens,
 *     starts full. With the Redis store, a Redis error or timeout switches the loop to an
 *     in-process bucket with the same parameters and a PING probe every probe_interval_ms
 *     switches back once Redis answers (go-zero's rescueLimiter + waitForRedis).
 *   - leaky bucket (the seed's LeakyBucket, the distributed version built here): each admitted
 *     unit adds water, which drains at `rate` per second; a request that would overflow
 *     `burst` (the capacity) is refused. As a pass/refuse meter it admits what a token bucket
 *     of the same size would; it differs in how its state is kept (water rising from empty).
 *   Buckets also report HIT_QUOTA when the request took the last token / filled the bucket;
 *   both ALLOWED and HIT_QUOTA mean "admitted".
 *
 * Stores: local (a mutex-striped hash of keys; every thread may call; idle keys expire: period
 * keys when their window ends, buckets once full/empty again, so memory follows the live keys)
 * and redis (one atomic Lua script per decision, EVALSHA, on a connection of the caller's loop).
 *
 * Redis connections: the limiter creates one cz_redis_t per libuv loop lazily, on the first
 * cz_limiter_take() from that loop, keyed by the loop pointer, and owns it (up to
 * CZ_LIMITER_MAX_LOOPS loops). Call cz_limiter_detach_loop() on each loop's thread before that
 * loop stops, or cz_limiter_free() after all loops stopped; then run the loop(s) once more so
 * the closed handles are released (libuv's close contract).
 *
 * Redis failure without a fallback (period, leaky): fail_closed = 0 (the default) admits the
 * request, 1 refuses it. Open is the default because the limiter protects capacity, not
 * correctness: refusing everyone while Redis is down would turn a Redis outage into a full
 * outage of the service, whereas the breaker and the load shedder still guard it. Choose closed
 * when the quota guards money or abuse (SMS codes, paid API calls). The token limiter never
 * needs this: its in-process bucket decides instead (note: go-zero refuses on a Redis timeout;
 * czero falls back for timeouts too, so a slow Redis costs at most one timeout per loop).
 *
 * An outage is said once each way: when the first loop's Redis path fails the limiter logs an
 * error naming the Redis address, the error and what decides meanwhile; when the last failing
 * loop has Redis again (the token kind's PING probe, or the next good reply for the others) it
 * logs the recovery. A Redis-store limiter also reports, in cz_metrics_default() (every czero
 * /metrics listener shows it), czero_limiter_redis_down{limiter="<key_prefix>",redis="host:port"}
 * (loops failing now, 0 when Redis decides) and czero_limiter_redis_outages_total.
 */
#ifndef CZERO_LIMITER_H
#define CZERO_LIMITER_H

#include <stdint.h>
#include <uv.h>
#include "clock.h"
#include "error.h"
#include "redis.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values follow go-zero's limit.Allowed / HitQuota / OverQuota. */
#define CZ_LIMIT_ALLOWED 1
#define CZ_LIMIT_HIT_QUOTA 2
#define CZ_LIMIT_OVER_QUOTA 3

#define CZ_LIMITER_MAX_LOOPS 64
#define CZ_LIMITER_MAX_KEY 400 /* bytes, prefix included */
/* align_utc_offset_s value meaning "the host's local time zone", as go-zero's Align() does. */
#define CZ_LIMIT_TZ_LOCAL INT32_MIN

typedef enum { CZ_LIMIT_PERIOD = 1, CZ_LIMIT_TOKEN, CZ_LIMIT_LEAKY } cz_limit_kind_t;
typedef enum { CZ_LIMIT_LOCAL = 0, CZ_LIMIT_REDIS } cz_limit_store_t;

typedef struct cz_limiter_conf {
    cz_limit_kind_t kind;
    cz_limit_store_t store;
    const char *key_prefix; /* prepended to every key; copied; default "" */

    /* period */
    uint64_t period_ms; /* window length (go-zero takes seconds) */
    uint64_t quota;     /* units per window */
    int align;          /* windows end at multiples of period in wall time (plus offset) */
    int32_t align_utc_offset_s; /* zone used by align; 0 = UTC; CZ_LIMIT_TZ_LOCAL = host zone */

    /* token (rate, burst) and leaky (rate, burst = capacity) */
    uint64_t rate;  /* units per second, >= 1 */
    uint64_t burst; /* >= 1 */

    int fail_closed; /* see the file comment; default 0 = fail open */
    uint64_t probe_interval_ms; /* token + redis: PING period while on the fallback; default
                                 * 100 (go-zero pingInterval) */

    const cz_clock_t *clock;     /* monotonic time for local stores; default cz_clock_system() */
    const cz_clock_t *wallclock; /* ns since the epoch, for alignment and the timestamps sent to
                                  * Redis (shared by all hosts); default cz_wallclock_ns() */
    cz_redis_conf_t redis;       /* store = CZ_LIMIT_REDIS: how each loop's client connects */
} cz_limiter_conf_t;

typedef struct cz_limiter cz_limiter_t;

/**
 * Decision callback. result is CZ_LIMIT_ALLOWED, CZ_LIMIT_HIT_QUOTA or CZ_LIMIT_OVER_QUOTA,
 * always a usable decision; err is 0, or the Redis error (CZ_ETIMEOUT, CZ_ECLOSED, -ENOTCONN,
 * CZ_EREDIS...) that made the fallback bucket or the fail_closed setting decide instead.
 */
typedef void (*cz_limit_cb)(void *ud, int result, int err);

/** Create a limiter. conf is copied. Returns 0, or CZ_EARG for an invalid conf (zero quota,
 *  rate, burst or period, unknown kind), or CZ_ENOMEM. */
CZ_EXTERN int cz_limiter_new(const cz_limiter_conf_t *conf, cz_limiter_t **out);

/** Free the limiter and any Redis clients it still holds (see the file comment for when this
 *  may be called). NULL and the nop limiter are ignored. */
CZ_EXTERN void cz_limiter_free(cz_limiter_t *l);

/** A limiter that admits everything (go-zero's "disabled" as a value). Static; free is a no-op. */
CZ_EXTERN cz_limiter_t *cz_limiter_nop(void);

/**
 * Synchronous decision, local store only (no allocation for a known key, one stripe lock).
 * Returns CZ_LIMIT_* or CZ_EARG (n == 0, key too long), CZ_ENOMEM, -ENOTSUP for a Redis store.
 * Thread-safe.
 */
CZ_EXTERN int cz_limiter_allow(cz_limiter_t *l, cz_str_t key, uint64_t n);

/**
 * Asynchronous decision for any store, called on loop's thread. The local store, the token
 * fallback and fast failures (Redis known down) call cb before returning; otherwise cb runs
 * later on loop when the reply arrives or the Redis command timeout expires, never later than
 * that. key is copied as needed. Returns 0 when cb has been or will be called exactly once,
 * or CZ_EARG / CZ_ENOMEM / CZ_EFULL (too many loops) and cb is not called.
 */
CZ_EXTERN int cz_limiter_take(cz_limiter_t *l, uv_loop_t *loop, cz_str_t key, uint64_t n,
                              cz_limit_cb cb, void *ud);

/** Close the Redis client this limiter holds for loop (no-op if none); pending takes complete
 *  first. Call on loop's thread, e.g. when a worker shuts down. */
CZ_EXTERN void cz_limiter_detach_loop(cz_limiter_t *l, uv_loop_t *loop);

/** Whether loop's Redis path is in use: 1 Redis, 0 on the token fallback, CZ_ENOTFOUND when
 *  this loop has no client yet. Loop thread only. */
CZ_EXTERN int cz_limiter_redis_alive(cz_limiter_t *l, uv_loop_t *loop);

/** The Redis client used for loop, or NULL (for stats and tests). Loop thread only. */
CZ_EXTERN cz_redis_t *cz_limiter_redis(cz_limiter_t *l, uv_loop_t *loop);

/** Number of keys the local store holds, expired ones not yet swept included. Thread-safe. */
CZ_EXTERN size_t cz_limiter_local_keys(cz_limiter_t *l);

/** "allowed", "hit_quota", "over_quota", or "unknown". */
CZ_EXTERN const char *cz_limit_result_name(int result);

#ifdef __cplusplus
}
#endif
#endif
