/* SPDX-License-Identifier: MIT
 *
 * metrics_int.h: what the prometheus and metrics links and the dev server share (private).
 *
 * The metrics link (go-zero's stat line) sits after breaker and shedding in the chain, so it
 * never sees the requests they drop; the prometheus link sits before them and tells it
 * (cz__mw_metrics_drop), which is how go-zero's BreakerHandler/SheddingHandler AddDrop() reach
 * the same stat.Metrics.
 */
#ifndef CZERO_MW_METRICS_INT_H
#define CZERO_MW_METRICS_INT_H

#include "mw_int.h"
#include "czero/metrics.h"

/* Count r as dropped when it was answered 503 before reaching the route's metrics link
 * (maxconns, breaker or shedding refused it). Loop thread of r. */
void cz__mw_metrics_drop(cz_req_t *r, cz_res_t *res);
/* The stat line's period for servers started from now on (go-zero stat.logInterval, a minute);
 * 0 restores the default. For tests. */
void cz__mw_metrics_set_interval(uint64_t ms);

/* ---- dev server (devserver.c): go-zero internal/devserver, and core/prometheus's agent ---- */
typedef struct cz__devserver cz__devserver_t;

/* Start a listener on host:port (Workers 1, every middleware off) answering GET metrics_path
 * (when not NULL) with the text of reg and of cz_metrics_default(), and GET health_path (when
 * not NULL) with "OK". 0 or a negative code (bind errors included). */
int cz__devserver_start(const char *host, int port, const char *metrics_path,
                        const char *health_path, cz_metrics_t *reg, cz__devserver_t **out);
/* Begin shutdown (thread-safe, returns at once). */
void cz__devserver_stop(cz__devserver_t *d);
/* Shut down, wait for the worker, free. NULL is ignored. */
void cz__devserver_free(cz__devserver_t *d);
int cz__devserver_port(const cz__devserver_t *d);

#endif
