/* SPDX-License-Identifier: MIT
 *
 * shedder.h: adaptive load shedding (go-zero core/load) and the CPU usage it reacts to.
 *
 * A shedder drops a request (CZ_EOVERLOAD) when the system is hot, meaning CPU usage is at or above
 * the threshold (default 900 permille) or a drop happened less than 1 s (the cool-off) after the
 * last hot reading, AND the requests in flight, both current and smoothed (an EWMA sampled at
 * each arrival: go-zero samples at each settle, which an event loop's batched completions bias
 * toward 9), exceed the derived
 * limit maxPass * minRt * bucketsPerSecond / 1000, scaled down as CPU rises over the threshold.
 * maxPass is the busiest bucket and minRt the fastest bucket average (ms) over the window (5 s of
 * 50 buckets, the filling bucket ignored). Callers settle every allowed request with
 * cz_shedder_promise_pass() (served) or cz_shedder_promise_fail() (answered 503).
 *
 * Priority routes use a second shedder whose threshold is cz_shedder_priority_threshold(t), as
 * go-zero's rest engine does (WithPriority). All calls are thread-safe; allow/pass/fail do not
 * allocate.
 */
#ifndef CZERO_SHEDDER_H
#define CZERO_SHEDDER_H

#include <stdint.h>
#include "clock.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_shedder cz_shedder_t;

typedef struct cz_shedder_promise {
    cz_shedder_t *_s; /* NULL once settled, or for the nop shedder */
    uint64_t _start;
} cz_shedder_promise_t;

typedef struct cz_shedder_opts {
    const cz_clock_t *clock; /* NULL = system clock; must outlive the shedder */
    uint64_t window_ns;      /* 0 = 5 s */
    int buckets;             /* 0 = 50 */
    int64_t cpu_threshold;   /* permille, 0 = 900; must be < 1000 */
    /* CPU usage source in permille; NULL = cz_cpu_usage(). Tests may inject their own. */
    int64_t (*cpu)(void *ud);
    void *cpu_ud;
    /* The lowest the overload factor goes (go-zero: 0.1 at CPU 1000); 0 = 0.1, at most 1.
     * 1 = when hot, allow the in-flight count the window saw at its best, never a share of it:
     * a CPU reading that answers to the shedding itself (the HTTP engine's loop-busy share)
     * then settles near the threshold instead of swinging between 10% and all of that. */
    double overload_floor;
} cz_shedder_opts_t;

/* Counters since creation or the last reset (go-zero SheddingStat). */
typedef struct cz_shedder_stat {
    int64_t total; /* allow calls */
    int64_t pass;  /* promises settled with pass */
    int64_t drop;  /* allow calls answered CZ_EOVERLOAD */
} cz_shedder_stat_t;

/* The inputs of the last decision, for metrics, logs and tests. */
typedef struct cz_shedder_info {
    int64_t cpu;        /* permille */
    int64_t flying;     /* allowed and not yet settled */
    double avg_flying;  /* EWMA of flying, beta 0.9, sampled at each allow */
    int64_t max_pass;   /* busiest bucket (>= 1) */
    double min_rt_ms;   /* fastest bucket average (1000 when no data) */
    double max_flight;  /* maxPass * minRt * bucketsPerSecond / 1000, at least 1 */
    double overload_factor; /* (1000 - cpu) / (1000 - threshold) in [overload_floor, 1] */
    int hot;            /* within the cool-off after a hot reading with a drop */
} cz_shedder_info_t;

/** Create a shedder (opts may be NULL). 0, CZ_EARG or CZ_ENOMEM. */
CZ_EXTERN int cz_shedder_new(const cz_shedder_opts_t *opts, cz_shedder_t **out);
/** Free s (NULL and the nop shedder are ignored). Outstanding promises must be settled first. */
CZ_EXTERN void cz_shedder_free(cz_shedder_t *s);
/** The shedder that never drops and records nothing (go-zero nopShedder). */
CZ_EXTERN cz_shedder_t *cz_shedder_nop(void);
/** The threshold go-zero gives priority routes: halfway from threshold to 1000. */
CZ_EXTERN int64_t cz_shedder_priority_threshold(int64_t threshold);

/** 0: go ahead and settle *p later; CZ_EOVERLOAD: shed the request (*p needs no settle);
 *  CZ_EARG: s or p is NULL. */
CZ_EXTERN int cz_shedder_allow(cz_shedder_t *s, cz_shedder_promise_t *p);
/** The request was served: records its response time and a pass. */
CZ_EXTERN void cz_shedder_promise_pass(cz_shedder_promise_t *p);
/** The request failed (e.g. answered 503): it leaves the in-flight count only. */
CZ_EXTERN void cz_shedder_promise_fail(cz_shedder_promise_t *p);

/** Read the counters into *out; with reset != 0 also zero them (go-zero's per-minute log). */
CZ_EXTERN void cz_shedder_stat(cz_shedder_t *s, cz_shedder_stat_t *out, int reset);
/** Fill *out with the current decision inputs (reads the CPU source and the window). */
CZ_EXTERN void cz_shedder_info(cz_shedder_t *s, cz_shedder_info_t *out);

/* ---- CPU usage (go-zero core/stat/usage.go) ---------------------------------------------- */

/** This process's container (or machine) CPU usage in permille of its quota, smoothed
 *  (beta 0.95, 250 ms samples) from cgroup v2, cgroup v1 or /proc/stat, whichever is present.
 *  The sampling thread starts on first call. Returns the override when one is set. Thread-safe. */
CZ_EXTERN int64_t cz_cpu_usage(void);
/** Make cz_cpu_usage() return permille (tests, simulations); a negative value clears it. */
CZ_EXTERN void cz_cpu_set_override(int64_t permille);
/** "cgroup2", "cgroup1", "procstat" or "none": where the sampler reads. Starts the sampler. */
CZ_EXTERN const char *cz_cpu_source(void);

#ifdef __cplusplus
}
#endif
#endif
