/* SPDX-License-Identifier: MIT
 *
 * timeout.c: the timeout link (go-zero rest/handler/timeouthandler.go): a routed request goes
 * on its route's list on this worker (one list per route, one timeout each, so appending keeps
 * it sorted by deadline); the worker's tick answers 503 past the deadline, or tells a blocking
 * handler through cz_req_cancelled(). Leaving the list is an inline in http_int.h, since a
 * request the codec releases early leaves it too.
 */
#include "mw_int.h"

/* A handler that enforces the route's timeout itself takes the link's deadline over: the
 * proxy gives it to its upstream call, whose expiry answers 504 (an upstream timed out) where the
 * link's tick would answer 503 at the same instant, whichever of the two timers ran first. The
 * request leaves the timeout list; returns the ms left (at least 1), 0 when it was not on it. */
uint64_t cz__req_take_deadline(cz_req_t *r)
{
    if (!r->in_to_list)
        return 0;
    uint64_t now = uv_now(&r->w->loop);
    cz__timeout_remove(r);
    return r->to_deadline > now ? r->to_deadline - now : 1;
}

static void timeout_fire(cz_req_t *r)
{
    r->timed_out = true;
    if (!r->in_handler || r->res.ended)
        return;
    if (r->blocking || r->calling) {
        /* A pool thread owns res now: it gets 503 when it returns (cz__res_finish) and may
         * poll cz_req_cancelled() to stop early. */
        __atomic_store_n(&r->cancelled, true, __ATOMIC_RELEASE);
        return;
    }
    /* Answer 503 now; the connection closes after it because the handler still holds the
     * request and will end it later (its late answer is dropped). */
    r->codec->close_after(r);
    if (r->res.head_sent) {
        r->res.ended = true;
        r->codec->close(r);
        return;
    }
    r->res.streaming = false;
    r->res.hdrs_len = r->res.hdrs_mark; /* the handler's headers go, the middlewares' stay */
    r->res.has_ctype = false;
    r->res.refused = false; /* the handler was too slow: a failure for the breaker, as go-zero */
    cz__res_complete(r, 503, "Request Timeout");
    r->codec->flush(r);
    r->cancelled = true;
    if (r->cancel_cb) {
        void (*cb)(cz_req_t *, void *) = r->cancel_cb;
        r->cancel_cb = NULL;
        cb(r, r->cancel_ud);
    }
}

void cz__timeouts_tick(cz_worker_t *w, uint64_t now)
{
    if (!w->timeouts)
        return;
    for (size_t i = 0; i < w->srv->nroutes; i++) {
        struct cz__rlist *l = &w->timeouts[i];
        while (l->head && l->head->to_deadline <= now) {
            cz_req_t *r = l->head;
            cz__timeout_remove(r);
            timeout_fire(r);
        }
    }
}

/* The timeout link: puts the request on its route's list; the tick answers 503 past the
 * deadline (go-zero TimeoutHandler). */
static cz_mw_step_t timeout_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)res, (void)ctx;
    cz_worker_t *w = r->w;
    struct cz__rlist *l = &w->timeouts[r->route->index];
    r->to_deadline = uv_now(&w->loop) + (uint64_t)(uintptr_t)mw->data;
    r->to_prev = l->tail;
    r->to_next = NULL;
    if (l->tail)
        l->tail->to_next = r;
    else
        l->head = r;
    l->tail = r;
    r->in_to_list = true;
    return CZ_MW_NEXT;
}

static void timeout_leave(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)mw, (void)res, (void)ctx;
    cz__timeout_remove(r);
}

static const cz_mw_ops_t timeout_ops = {.name = "timeout", .enter = timeout_enter,
                                        .leave = timeout_leave};

static int timeout_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                         cz_diag_t *d)
{
    (void)state, (void)d;
    int64_t ms = rt->timeout_ms ? rt->timeout_ms : s->conf.timeout_ms;
    if (ms <= 0)
        return 0;
    out->ops = &timeout_ops;
    out->data = (void *)(uintptr_t)ms;
    return 0;
}

const cz__mw_module_t cz__mw_timeout = {.name = "timeout", .route = timeout_route};
