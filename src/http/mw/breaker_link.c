/* SPDX-License-Identifier: MIT
 *
 * breaker_link.c: the per-route circuit breaker link (go-zero rest/handler/breakerhandler.go).
 *
 * One Google-SRE breaker per route, named "METHOD://path" (go-zero's breakerSeparator), from
 * the process-wide registry so metrics can list them. A dropped request gets 503; a response
 * with status >= 500 (a timeout's 503 included: the handler was too slow) counts as a failure,
 * anything else a success, as go-zero's; unlike go-zero, an answer marked as a local refusal
 * (cz_res_mark_refused: the shedder's 503, a rate limiter's 429, a node breaker's drop in the
 * proxy) counts as neither. go-zero counts the shedder's 503 that sits inside its breaker, so
 * under overload its route breaker opens on its own shedding and keeps dropping after the load
 * is gone; the shedder already protects the process, and the breaker is for a failing handler.
 */
#include <stdio.h>
#include "mw_int.h"
#include "metrics_int.h"
#include "czero/breaker.h"
#include "czero/log.h"

typedef struct breaker_ctx {
    cz_promise_t promise;
} breaker_ctx_t;

static cz_mw_step_t breaker_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    breaker_ctx_t *bc = ctx;
    if (cz_breaker_allow(mw->data, &bc->promise) != 0) {
        cz__mw_log_dropped(r);
        cz__mw_refuse(res, 503);
        cz__mw_metrics_drop(r, res); /* go-zero: metrics.AddDrop() */
        return CZ_MW_DONE;
    }
    return CZ_MW_NEXT;
}

static void breaker_leave(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)mw, (void)r;
    breaker_ctx_t *bc = ctx;
    int status = cz_res_get_status(res);
    if (cz_res_refused(res)) {
        cz_promise_ignore(&bc->promise);
    } else if (status < 500) {
        cz_promise_accept(&bc->promise);
    } else {
        char reason[32];
        snprintf(reason, sizeof reason, "%d %s", status, cz_status_text(status));
        cz_promise_reject(&bc->promise, reason);
    }
}

static const cz_mw_ops_t breaker_ops = {.name = "breaker",
                                        .ctx_size = sizeof(breaker_ctx_t),
                                        .enter = breaker_enter,
                                        .leave = breaker_leave};

static int breaker_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                         cz_diag_t *d)
{
    (void)s, (void)state;
    char name[512];
    snprintf(name, sizeof name, "%s://%s", rt->method, rt->pattern);
    cz_breaker_t *b = cz_breakers_get(name);
    if (!b)
        return cz_diag_set(d, NULL, 0, 0, NULL, "cannot create breaker %s", name);
    out->ops = &breaker_ops;
    out->data = b;
    return 0;
}

const cz__mw_module_t cz__mw_breaker = {.name = "breaker", .route = breaker_route};
