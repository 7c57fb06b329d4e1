/* SPDX-License-Identifier: MIT
 *
 * dispatch.c: one exchange from dispatch to release: the route's middleware chain, then its
 * handler (inline, async or on the blocking pool), or the 404/405 answer; the end of the answer
 * (collected or streamed), the chain's leave() in reverse, and the hand-over to the codec.
 *
 * A request runs the route's link array with a cursor (r->mw_i); links [0, mw_i) have passed
 * and get their leave() in reverse when the response is final. A parked request (CZ_MW_AGAIN)
 * resumes at the same index. Recover (Middlewares.Recover) is a sigsetjmp around the chain and
 * handler here, so a cz_panic() anywhere below answers 500 (mw/recover.c unwinds to it).
 *
 * The wire is reached only through r->codec (cz__codec_ops_t): this file does not know which
 * protocol or transport carries the request. What this file is not: building the chain at start
 * (chain.c), the answer's builder API (response.c), serialising (the codec's).
 */
#include <setjmp.h>
#include <string.h>
#include "http/http_int.h"
#include "http/mw/mw_int.h"

static inline cz_req_t *req_of(cz_res_t *res) { return cz__container_of(res, cz_req_t, res); }

/* ---- the chain, per request ---- */

/* The outer links of chain[0, n) that keep no per-request context, enter only: what they set
 * stays on res. True when one of them answered (a CORS preflight's 204). */
static bool run_outer(const cz_mw_t *chain, size_t n, cz_req_t *r)
{
    bool answered = false;
    for (size_t i = 0; i < n; i++) {
        cz_mw_t *mw = (cz_mw_t *)&chain[i];
        if ((mw->ops->flags & CZ_MW_OUTER) && !mw->ops->ctx_size &&
            mw->ops->enter(mw, r, &r->res, NULL) == CZ_MW_DONE)
            answered = true;
    }
    return answered;
}

const char *cz__chain_outer_headers(cz_req_t *r)
{
    const cz__route_t *rt = r->route;
    cz_res_t *res = &r->res;
    if (!rt || !rt->chain || r->in_handler || res->ended)
        return NULL;
    size_t mark = res->hdrs_len;
    (void)run_outer(rt->chain, rt->nchain, r); /* an OPTIONS 204 is not the answer here */
    size_t n = res->hdrs_len - mark;
    char *h = n ? cz_arena_alloc(&r->arena, n + 1) : NULL;
    if (h) {
        memcpy(h, res->hdrs + mark, n);
        h[n] = '\0';
    }
    return h;
}

/* An unrouted request passes the outer links too, as go-zero's corsRouter wraps the router: the
 * server's, or for a 405 those of a route on the same path (sibling), which include them. True
 * when one answered (a CORS preflight: 204). */
static bool chain_outer_unrouted(cz_req_t *r, const cz__route_t *sibling)
{
    if (sibling && sibling->chain)
        return run_outer(sibling->chain, sibling->nchain, r);
    const cz_server_t *s = r->w->srv;
    return run_outer(s->use, s->nuse, r);
}

void cz__chain_leave(cz_req_t *r)
{
    const cz__route_t *rt = r->route;
    if (!rt)
        return;
    while (r->mw_i > 0) {
        size_t i = --r->mw_i;
        const cz_mw_t *mw = &rt->chain[i];
        if (mw->ops->leave)
            mw->ops->leave((cz_mw_t *)mw, r, &r->res, cz__chain_ctx(r, i));
    }
}

/* A cz_panic() below the chain: 500, or a close when a streamed head is out already. */
static void answer_panic(cz_req_t *r)
{
    r->calling = false;
    r->panicked = true;
    if (r->res.head_sent) { /* a streamed response cannot change its status any more */
        r->res.ended = true;
        r->in_handler = false;
        r->codec->close(r);
        return;
    }
    r->res.streaming = false;
    r->res.refused = false;
    cz__mw_answer(&r->res, 500, NULL);
    r->ended_early = false;
    cz__res_finish(r);
}

static void run_steps(cz_req_t *r)
{
    const cz__route_t *rt = r->route;
    while (r->mw_i < rt->nchain) {
        cz_mw_t *mw = &rt->chain[r->mw_i];
        cz_mw_step_t st = mw->ops->enter(mw, r, &r->res, cz__chain_ctx(r, r->mw_i));
        if (st == CZ_MW_NEXT) {
            r->mw_i++;
            continue;
        }
        if (st == CZ_MW_AGAIN) {
            r->parked = true;
            return;
        }
        cz__res_finish(r); /* the middleware answered */
        return;
    }
    cz__run_handler(r);
}

void cz__chain_run(cz_req_t *r)
{
    const cz__route_t *rt = r->route;
    r->in_handler = true;
    if (rt->ctx_size && !r->mw_ctx) {
        r->mw_ctx = cz_arena_calloc(&r->arena, rt->ctx_size);
        if (!r->mw_ctx) {
            cz__mw_answer(&r->res, 503, "out of memory");
            cz__res_finish(r);
            return;
        }
    }
    if (!rt->recover) {
        run_steps(r);
        return;
    }
    /* the recover link: here, not in mw/recover.c, since the frame sigsetjmp marks must stay on
     * the stack while the chain and handler run */
    sigjmp_buf jb;
    sigjmp_buf *prev = cz__panic_swap(&jb);
    if (sigsetjmp(jb, 0) == 0) {
        run_steps(r);
        cz__panic_swap(prev);
    } else {
        cz__panic_swap(prev);
        answer_panic(r);
    }
}

void cz_mw_resume(cz_req_t *r, cz_mw_step_t step)
{
    if (!r->parked)
        return;
    r->parked = false;
    if (r->cancelled) { /* the client left while parked: settle the chain, release */
        r->res.ended = true;
        r->in_handler = false;
        r->res.status = 499;
        cz__chain_leave(r);
        r->codec->done(r);
        return;
    }
    if (step == CZ_MW_NEXT) {
        r->mw_i++;
        cz__chain_run(r);
    } else {
        cz__res_finish(r);
    }
    r->codec->flush(r);
}

/* ---- dispatch ---- */

static int default_not_found(cz_req_t *r, cz_res_t *res, void *ud)
{
    (void)r, (void)ud;
    cz_res_error(res, 404, "404 page not found"); /* net/http's NotFound, which go-zero uses */
    return CZ_DONE;
}

/* The route's handler, after its middlewares: inline, async or on the blocking pool. */
void cz__run_handler(cz_req_t *r)
{
    const cz__route_t *rt = r->route;
    cz_res_t *res = &r->res;
    r->in_handler = true;
    res->hdrs_mark = res->hdrs_len;
    if (rt->flags & CZ_ROUTE_BLOCKING) {
        r->blocking = true;
        if (cz__pool_submit(r->w->srv->pool, r) == 0)
            return;
        r->blocking = false;
        cz_res_error(res, 503, "service unavailable: blocking pool is full");
        res->refused = true; /* the pool sheds, the handler did not fail: no breaker failure */
        cz__res_finish(r);
        return;
    }
    r->calling = true;
    int rc = rt->handler(r, res, rt->ud);
    r->calling = false;
    if (rc == CZ_AGAIN && !r->ended_early) {
        r->async = true;
        return;
    }
    cz__res_finish(r);
}

/* A route answering for another method on r's path (the first in Allow), whose outer links
 * then put their headers on the 405 (the gateway's per-route Cors). */
static const cz__route_t *sibling_route(cz_server_t *s, cz_req_t *r, const char *allow, size_t an)
{
    const char *comma = memchr(allow, ',', an);
    cz_route_match_t m;
    cz_str_t method = {allow, comma ? (size_t)(comma - allow) : an};
    return cz_router_find(s->router, method, r->path, &m) == 0 ? m.data : NULL;
}

/* No chain runs for an unrouted request, as go-zero's router calls its not-found handlers
 * directly, but the outer links (CORS) do: go-zero's corsRouter wraps the router, so an unknown
 * path's preflight is 204 and its 404 has the CORS headers. */
void cz__dispatch(cz_req_t *r)
{
    if (r->route) {
        cz__chain_run(r);
        return;
    }
    cz_server_t *s = r->w->srv;
    cz_res_t *res = &r->res;
    cz_handler_fn fn;
    void *ud;
    char allow[256];
    size_t an = cz_router_allowed(s->router, r->path, allow, sizeof allow);
    if (an >= sizeof allow)
        an = sizeof allow - 1;
    r->in_handler = true;
    if (chain_outer_unrouted(r, an ? sibling_route(s, r, allow, an) : NULL)) {
        cz__res_finish(r);
        return;
    }
    if (an) {
        cz_res_header_n(res, CZ_STR("Allow"), (cz_str_t){allow, an});
        res->status = 405;
        fn = s->not_allowed;
        ud = s->not_allowed_ud;
    } else {
        fn = s->not_found ? s->not_found : default_not_found;
        ud = s->not_found_ud;
    }
    if (!fn) { /* 405 without a custom handler: empty body, as go-zero */
        cz__res_finish(r);
        return;
    }
    r->calling = true;
    int rc = fn(r, res, ud);
    r->calling = false;
    if (rc == CZ_AGAIN && !r->ended_early) {
        r->async = true;
        return;
    }
    cz__res_finish(r);
}

/* ---- the end of the answer ---- */

void cz__res_sent_unrouted(cz_req_t *r, int status, uint64_t bytes)
{
    cz__access_log(r, status, bytes, 0); /* routed requests are logged by the log link */
}

void cz__req_refused_logged(cz_req_t *r, int status, uint64_t bytes)
{
    if (r->method.n)
        cz__access_log(r, status, bytes, 0);
}

/* A blocking handler outlived its timeout: go-zero answers 503 (cz__res_settle). */
void cz__res_timed_out(cz_req_t *r)
{
    cz_res_t *res = &r->res;
    res->status = 503;
    res->refused = false; /* real slowness: the breaker counts it */
    res->body_len = 0;
    res->hdrs_len = res->hdrs_mark;
    res->has_ctype = false;
    cz_res_write(res, "Request Timeout", 15);
}

void cz__res_complete(cz_req_t *r, int status, const char *body)
{
    cz_res_t *res = &r->res;
    res->ended = true;
    if (status) {
        res->status = status;
        res->body_len = 0;
        if (body) {
            cz_res_header_n(res, CZ_STR("Content-Type"), CZ_STR("text/plain; charset=utf-8"));
            cz_res_write(res, body, strlen(body));
        }
    }
    cz__chain_leave(r);
    r->codec->send(r); /* the 503 body is small: copied, so the request stays the handler's */
}

void cz__res_finish(cz_req_t *r)
{
    cz_res_t *res = &r->res;
    if (res->ended) {
        if ((r->timed_out || r->engine_answered) && r->in_handler) { /* a late answer after
                                                                        * the engine's own */
            r->in_handler = false;
            r->codec->done(r);
        }
        return;
    }
    res->ended = true;
    r->in_handler = false;
    if ((r->cancelled && !r->timed_out) || r->link_closed) {
        /* nobody reads the answer, but the chain's bookkeeping (MaxConns slot, breaker and
         * shedder promises, metrics, log) must still settle; 499 is nginx's "client closed".
         * An aborted answer keeps the status its head went out with (nginx logs it so). */
        if (!res->aborted)
            res->status = 499;
        cz__chain_leave(r);
        r->codec->done(r);
        return;
    }
    if (res->streaming) {
        res->ended = false;
        cz_res_stream_end(res);
        return;
    }
    r->codec->finish(r);
}

void cz_res_end(cz_res_t *res)
{
    cz_req_t *r = req_of(res);
    if (r->calling) { /* called from inside the handler: finish when it returns */
        r->ended_early = true;
        return;
    }
    cz__res_finish(r);
    r->codec->flush(r);
}

void cz__worker_drain_done(cz_worker_t *w)
{
    pthread_mutex_lock(&w->done_mu);
    cz_req_t *list = w->done;
    w->done = NULL;
    pthread_mutex_unlock(&w->done_mu);
    while (list) {
        cz_req_t *r = list;
        list = r->pool_next;
        r->blocking = false;
        cz__res_finish(r);
        r->codec->flush(r);
    }
}

/* ---- streamed answers (cz_res_stream_*): the framing is the codec's ---- */

int cz_res_stream_begin(cz_res_t *res) { return cz__res_stream_begin(res, false, 0); }

int cz_res_stream_begin_length(cz_res_t *res, int64_t len)
{
    if (len < 0)
        return CZ_EARG;
    return cz__res_stream_begin(res, true, (uint64_t)len);
}

int cz_res_stream_write(cz_res_t *res, const void *data, size_t n)
{
    return cz__res_stream_write(res, data, n);
}

/* Close the connection under the request without telling the handler (it asked for this). */
static void close_under(cz_req_t *r)
{
    bool held = r->in_handler;
    r->res.aborted = r->res.head_sent; /* the chain settles with the status sent, else 499 */
    r->cancel_cb = NULL;
    r->in_handler = true; /* so the close marks the request cancelled and waits for its end */
    r->codec->close(r);
    r->in_handler = held;
}

void cz_res_stream_end(cz_res_t *res)
{
    cz_req_t *r = req_of(res);
    res->ended = true;
    r->in_handler = false;
    if (res->fixed_len && res->body_len < res->fixed_total && !r->head && !r->cancelled &&
        !r->link_closed && cz__body_allowed(res->status ? res->status : 200))
        close_under(r); /* short of its Content-Length: the client must see it truncated */
    if (r->cancelled || r->link_closed) {
        if (!res->aborted)
            res->status = 499;
        cz__chain_leave(r); /* a no-op when cz__res_finish already left the chain */
        r->codec->done(r);
        return;
    }
    if (!res->head_sent && cz_res_stream_begin(res) != 0) {
        r->codec->close(r);
        return;
    }
    r->codec->stream_end(r);
}

void cz_res_abort(cz_res_t *res)
{
    cz_req_t *r = req_of(res);
    if (!res->ended && r->in_handler && !r->cancelled && !r->link_closed)
        close_under(r);
    cz_res_end(res); /* settles the chain with the status already sent */
}

size_t cz_res_stream_pending(const cz_res_t *res)
{
    const cz_req_t *r = cz__container_of(res, cz_req_t, res);
    if (r->link_closed)
        return 0;
    return r->codec->pending(r);
}

void cz_res_on_drain(cz_res_t *res, void (*cb)(cz_res_t *res, void *ud), void *ud)
{
    cz_req_t *r = req_of(res);
    res->drain_cb = NULL;
    if (!cb || res->ended || r->cancelled || r->link_closed)
        return;
    if (r->codec->pending(r) == 0) {
        cb(res, ud);
        return;
    }
    res->drain_cb = cb;
    res->drain_ud = ud;
}
