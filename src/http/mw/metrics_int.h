/* SPDX-License-Identifier: MIT
 *
 * metrics_int.h: what the prometheus and metrics links and the dev server share (private).
 *
 * The metrics link (go-zero's stat line) sits after breaker and shedding in the chain, so it
 * never sees the requests they drop; they tell it (cz__mw_metrics_drop), as go-zero's
 * BreakerHandler/SheddingHandler call metrics.AddDrop() on the same stat.Metrics.
 */
#ifndef CZERO_MW_METRICS_INT_H
#define CZERO_MW_METRICS_INT_H

#include "mw_int.h"
#include "czero/metrics.h"

/* Count r as dropped by the breaker or the shedder (they call this when they refuse it).
 * Loop thread of r. */
void cz__mw_metrics_drop(cz_req_t *r, cz_res_t *res);
/* The stat line's period for servers started from now on (go-zero stat.logInterval, a minute);
 * 0 restores the default. For tests. */
void cz__mw_metrics_set_interval(uint64_t ms);

/* The clock both links time requests with, for servers started from now on (NULL: the system
 * clock). For tests, which drive a cz_clock_manual_t from a handler to get exact durations. */
void cz__mw_metrics_set_clock(const cz_clock_t *clock);
const cz_clock_t *cz__mw_metrics_clock(void);

/* When a request starts: the engine's r->start_ns (CLOCK_MONOTONIC, read once per request
 * anyway) with the system clock, else a fresh read of the injected clock. */
static inline uint64_t cz__mw_metrics_start(const cz_req_t *r, const cz_clock_t *clock)
{
    return clock == cz_clock_system() ? r->start_ns : cz_clock_now_ns(clock);
}
/* The time the metrics link's leave() read for r on this thread, or 0 when it did not run for
 * r: the prometheus link's leave() runs right after and reuses it (one clock read, not two). */
uint64_t cz__mw_metrics_leave_ns(const cz_req_t *r);
/* The same, but only when that time was read on the system clock (CLOCK_MONOTONIC, the base of
 * the engine's uv_hrtime() and r->start_ns), else 0: the log link's leave() runs a few links
 * later and times the access line with it. */
uint64_t cz__mw_metrics_leave_mono_ns(const cz_req_t *r);

/* ---- dev server (devserver.c): go-zero internal/devserver, and core/prometheus's agent ---- */
typedef struct cz__devserver cz__devserver_t;

/* Start a listener on host:port (Workers 1, every middleware off) answering GET metrics_path
 * (when not NULL) with the text of reg and of cz_metrics_default(), and GET health_path (when
 * not NULL) with "OK". 0 or a negative code (bind errors included). */
int cz__devserver_start(const cz__server_api_t *api, const char *host, int port,
                        const char *metrics_path, const char *health_path, cz_metrics_t *reg,
                        cz__devserver_t **out);
/* Begin shutdown (thread-safe, returns at once). */
void cz__devserver_stop(cz__devserver_t *d);
/* Shut down, wait for the worker, free. NULL is ignored. */
void cz__devserver_free(cz__devserver_t *d);
int cz__devserver_port(const cz__devserver_t *d);

#endif
