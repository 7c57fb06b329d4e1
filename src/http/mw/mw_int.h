/* SPDX-License-Identifier: MIT
 *
 * mw_int.h: how the built-in middlewares plug into the engine (private).
 *
 * Each built-in link is a module (nginx's module idea): optional server-wide state made once at
 * start (a shedder, a metrics registry, a span exporter), and a per-route factory that fills a
 * cz_mw_t for a route, or leaves out->ops NULL when the link does not apply to that route.
 * chain.c lists the modules in go-zero's order and builds every route's array at start.
 */
#ifndef CZERO_MW_INT_H
#define CZERO_MW_INT_H

#include "../http_int.h"
#include "czero/middleware.h"

typedef struct cz__mw_module {
    const char *name;
    /* Once per server, at start, before any route is compiled. May be NULL. */
    int (*init)(cz_server_t *s, void **state, cz_diag_t *d);
    /* Fill *out for route rt (out->ops NULL = not on this route). May be NULL (never applies). */
    int (*route)(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out, cz_diag_t *d);
    /* When shutdown begins (stop background work). May be NULL. */
    void (*stop)(cz_server_t *s, void *state);
    /* When the server is freed. May be NULL. */
    void (*free)(cz_server_t *s, void *state);
} cz__mw_module_t;

/* The built-in modules, in chain order (chain.c). */
extern const cz__mw_module_t cz__mw_trace, cz__mw_log, cz__mw_prometheus, cz__mw_maxconns,
    cz__mw_breaker, cz__mw_shedding, cz__mw_timeout, cz__mw_metrics, cz__mw_gunzip, cz__mw_jwt,
    cz__mw_signature;

/* Helpers for middlewares. */
static inline int cz__req_worker_id(const cz_req_t *r) { return r->w->id; }
static inline int cz__server_nworkers(const cz_server_t *s) { return s->nworkers; }
static inline const cz_rest_conf_t *cz__server_conf(const cz_server_t *s) { return &s->conf; }
/* Answer now from a middleware: status + text body (go-zero handlers mostly WriteHeader only). */
void cz__mw_answer(cz_res_t *res, int status, const char *body);
/* The same, marked as a local refusal (cz_res_mark_refused): shedding, MaxConns, breaker. */
void cz__mw_refuse(cz_res_t *res, int status);
/* go-zero's "[http] dropped, <uri> - <remote> - <user agent>" error line (breaker, shedding),
 * for the first drop of each second on a worker; later ones are counted into one line. */
void cz__mw_log_dropped(cz_req_t *r);

#endif
