/* SPDX-License-Identifier: MIT
 *
 * maxconns.c: the MaxConns link (go-zero rest/handler/maxconnshandler.go): at most MaxConns
 * requests in flight, beyond which the answer is 503 at once.
 *
 * go-zero builds one limiter per route, so its MaxConns is a per-route bound; an operator reads
 * "MaxConns" as the server's bound, and that is what protects the process, so czero counts all
 * routes and all workers together (one atomic counter).
 */
#include "mw_int.h"
#include "czero/log.h"

typedef struct maxconns_ctx {
    bool took;
} maxconns_ctx_t;

static cz_mw_step_t maxconns_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    cz_server_t *s = mw->data;
    long n = atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);
    if (n >= s->conf.max_conns) {
        atomic_fetch_sub_explicit(&s->inflight, 1, memory_order_relaxed);
        cz_log_error("concurrent connections over %lld, rejected with code 503",
                     (long long)s->conf.max_conns);
        cz__mw_refuse(res, 503); /* the breaker sits after this link; marked all the same */
        return CZ_MW_DONE;
    }
    ((maxconns_ctx_t *)ctx)->took = true;
    (void)r;
    return CZ_MW_NEXT;
}

static void maxconns_leave(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)r, (void)res;
    if (((maxconns_ctx_t *)ctx)->took)
        atomic_fetch_sub_explicit(&((cz_server_t *)mw->data)->inflight, 1, memory_order_relaxed);
}

static const cz_mw_ops_t maxconns_ops = {.name = "maxconns",
                                         .ctx_size = sizeof(maxconns_ctx_t),
                                         .enter = maxconns_enter,
                                         .leave = maxconns_leave};

static int maxconns_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                          cz_diag_t *d)
{
    (void)state, (void)rt, (void)d;
    if (s->conf.max_conns <= 0) /* go-zero: n <= 0 means no limit */
        return 0;
    out->ops = &maxconns_ops;
    out->data = s;
    return 0;
}

const cz__mw_module_t cz__mw_maxconns = {.name = "maxconns", .route = maxconns_route};
