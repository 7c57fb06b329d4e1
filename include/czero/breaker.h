/* SPDX-License-Identifier: MIT
 *
 * breaker.h: the adaptive circuit breaker (Google SRE client-side throttling, go-zero breaker).
 *
 * A breaker counts successes, failures and drops over a rolling window (10 s of 40 buckets) and
 * drops a request with probability
 *     max(0, (total - protection - w * accepts) / (total + 1)) * (buckets - working) / buckets
 * where protection = 5, w falls from K = 1.5 toward 1.1 as consecutive failing buckets pile up and
 * `working` counts the latest consecutive success-only buckets. After 1 s without a pass one
 * request is let through regardless (go-zero core/breaker/googlebreaker.go). There is no
 * open/closed state machine: the breaker "opens" as the ratio grows and recovers as successes
 * come back.
 *
 * Usage is allow -> promise -> settle: cz_breaker_allow() fills a cz_promise_t (a value on the
 * stack or in a request arena) and the caller settles it with cz_promise_accept() or
 * cz_promise_reject() when the call ends, or cz_promise_ignore() when it never really ran. The cz_breaker_do*() helpers wrap a synchronous call.
 * All functions are thread-safe; allow and accept never allocate.
 */
#ifndef CZERO_BREAKER_H
#define CZERO_BREAKER_H

#include <stdbool.h>
#include <stdint.h>
#include "clock.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_breaker cz_breaker_t;

/* Outcome of an allowed call. Settle exactly once; later settles are ignored. */
typedef struct cz_promise {
    cz_breaker_t *_b; /* NULL once settled, or for the nop breaker */
} cz_promise_t;

typedef struct cz_breaker_opts {
    const char *name;         /* copied; NULL or "" = a random name as go-zero */
    const cz_clock_t *clock;  /* NULL = cz_clock_coarse(); must outlive the breaker */
    /* Uniform [0,1) source for the random drop; NULL = a per-thread xorshift PRNG. */
    double (*rand)(void *ud);
    void *rand_ud;
    uint64_t window_ns;       /* 0 = 10 s */
    int buckets;              /* 0 = 40 */
} cz_breaker_opts_t;

/* Window counts and the current drop probability, for metrics. */
typedef struct cz_breaker_stat {
    int64_t total;    /* accepts + failures + drops in the window */
    int64_t accepts;
    int64_t failures;
    int64_t drops;
    double drop_ratio; /* probability the next allow is dropped (forced passes aside), 0..1 */
} cz_breaker_stat_t;

/** Create a breaker (opts may be NULL for defaults) into *out. 0, CZ_EARG or CZ_ENOMEM.
 *  Free with cz_breaker_free() once no thread uses it. */
CZ_EXTERN int cz_breaker_new(const cz_breaker_opts_t *opts, cz_breaker_t **out);
/** Free b (NULL and the nop breaker are ignored). Outstanding promises must be settled first. */
CZ_EXTERN void cz_breaker_free(cz_breaker_t *b);
/** The breaker that lets everything through and records nothing (go-zero NopBreaker). */
CZ_EXTERN cz_breaker_t *cz_breaker_nop(void);
/** Name of b; owned by b. */
CZ_EXTERN const char *cz_breaker_name(const cz_breaker_t *b);

/** Ask to make a call. 0: allowed, settle *p later; CZ_EBREAKER: dropped (the drop is counted,
 *  *p is cleared and needs no settle); CZ_EARG: b or p is NULL. No allocation, no system call
 *  besides the clock. */
CZ_EXTERN int cz_breaker_allow(cz_breaker_t *b, cz_promise_t *p);
/** The call succeeded. */
CZ_EXTERN void cz_promise_accept(cz_promise_t *p);
/** The call failed; reason (may be NULL, copied, truncated) joins the breaker's last errors. */
CZ_EXTERN void cz_promise_reject(cz_promise_t *p, const char *reason);
/** The call tells nothing about what the breaker guards (it was refused locally before doing
 *  any work: shed, rate-limited): settle *p recording neither a success nor a failure. */
CZ_EXTERN void cz_promise_ignore(cz_promise_t *p);

/* A call: returns 0 or an error code. */
typedef int (*cz_breaker_req_fn)(void *arg);
/* Whether err counts as success (go-zero Acceptable). The default accepts only 0. */
typedef bool (*cz_breaker_acceptable_fn)(int err, void *arg);
/* Runs instead of a dropped call; its result is returned (go-zero Fallback). */
typedef int (*cz_breaker_fallback_fn)(int err, void *arg);

/** Run req(arg) if allowed and record the result: returns req's result or CZ_EBREAKER. */
CZ_EXTERN int cz_breaker_do(cz_breaker_t *b, cz_breaker_req_fn req, void *arg);
/** As cz_breaker_do(); acceptable(err, arg) decides whether req's result is a success. */
CZ_EXTERN int cz_breaker_do_with_acceptable(cz_breaker_t *b, cz_breaker_req_fn req, void *arg,
                                            cz_breaker_acceptable_fn acceptable);
/** As cz_breaker_do(); a dropped call returns fallback(CZ_EBREAKER, arg) instead. */
CZ_EXTERN int cz_breaker_do_with_fallback(cz_breaker_t *b, cz_breaker_req_fn req, void *arg,
                                          cz_breaker_fallback_fn fallback);
/** Both of the above; NULL callbacks mean the defaults. */
CZ_EXTERN int cz_breaker_do_with_fallback_acceptable(cz_breaker_t *b, cz_breaker_req_fn req,
                                                     void *arg, cz_breaker_fallback_fn fallback,
                                                     cz_breaker_acceptable_fn acceptable);

/** Fill *st from the current window. The nop breaker reports zeros. */
CZ_EXTERN void cz_breaker_stat(cz_breaker_t *b, cz_breaker_stat_t *st);
/** Copy the last (up to 5) reject reasons, newest first, one "HH:MM:SS reason" per line, into
 *  buf (always NUL-terminated). Returns the number of reasons copied. */
CZ_EXTERN int cz_breaker_last_errors(cz_breaker_t *b, char *buf, size_t size);

/* ---- Registry of named breakers (go-zero breakers.go) ------------------------------------ */

/** The process-lifetime breaker named name, created on first use with default options and the
 *  system clock. Thread-safe. NULL only on out-of-memory or a NULL name. Never free it. */
CZ_EXTERN cz_breaker_t *cz_breakers_get(const char *name);
/** From now on cz_breakers_get(name) returns the nop breaker (go-zero NoBreakerFor).
 *  0 or CZ_ENOMEM. */
CZ_EXTERN int cz_breakers_disable(const char *name);
/** Call fn for every registered breaker (for metrics). fn must not call cz_breakers_*. */
CZ_EXTERN void cz_breakers_foreach(void (*fn)(cz_breaker_t *b, void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif
