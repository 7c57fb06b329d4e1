/* SPDX-License-Identifier: MIT
 *
 * chain.c: builds each route's middleware array at start, and runs it per request.
 *
 * The order is go-zero's (rest/engine.go buildChainWithNativeMiddlewares and appendAuthHandler),
 * kept in one readable table below; each link is switched by the config's Middlewares section
 * or, for auth, by the route's options. Two of go-zero's links are not entries here because the
 * engine already does their work where it is cheapest: MaxBytes (the body limit is checked
 * while reading, from Content-Length before the body is read at all) and Recover (a
 * sigsetjmp around the chain and handler, so a cz_panic() anywhere below answers 500).
 *
 * A request runs the array with a cursor (r->mw_i); middlewares [0, mw_i) have passed and get
 * their leave() in reverse when the response is final. A parked request (CZ_MW_AGAIN) resumes
 * at the same index.
 *
 * Server and group links flagged CZ_MW_OUTER (CORS) are moved in front of maxconns, the first
 * built-in link that may answer: go-zero's corsRouter wraps the whole router, so its headers
 * are on a 401 from JWT or a 503 from the breaker too. Moving the link costs nothing per
 * request, where re-applying its headers at the end would cost every route a check.
 */
#include <execinfo.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/mw/mw_int.h"
#include "czero/log.h"
#include "czero/panic.h"

#define SWITCH(f) offsetof(cz_middlewares_conf_t, f)
#define ALWAYS SIZE_MAX /* not switched by Middlewares: applies by route options */

static const struct {
    const cz__mw_module_t *module;
    size_t sw;        /* offset of the bool in cz_middlewares_conf_t */
    bool init_always; /* server-wide part runs even when the link is off */
} chain_order[] = {
    {&cz__mw_trace, SWITCH(trace)},
    {&cz__mw_log, SWITCH(log)},
    /* the module also runs the DevServer / Prometheus listener, which go-zero starts whatever
     * Middlewares.Prometheus says (/healthz must answer) */
    {&cz__mw_prometheus, SWITCH(prometheus), true},
    {&cz__mw_maxconns, SWITCH(max_conns)},
    {&cz__mw_breaker, SWITCH(breaker)},
    {&cz__mw_shedding, SWITCH(shedding)},
    {&cz__mw_timeout, SWITCH(timeout)},
    /* recover: engine (see above) */
    {&cz__mw_metrics, SWITCH(metrics)},
    /* maxbytes: engine (see above) */
    {&cz__mw_gunzip, SWITCH(gunzip)},
    {&cz__mw_jwt, ALWAYS},
    {&cz__mw_signature, ALWAYS},
};
#define NMODULES (sizeof chain_order / sizeof chain_order[0])

static bool module_on(const cz_server_t *s, size_t i)
{
    if (chain_order[i].sw == ALWAYS)
        return true;
    return *(const bool *)((const char *)&s->conf.middlewares + chain_order[i].sw);
}

static bool module_inited(const cz_server_t *s, size_t i)
{
    return chain_order[i].init_always || module_on(s, i);
}

static bool is_outer(const cz_mw_t *mw) { return mw->ops->flags & CZ_MW_OUTER; }

/* The route's outer links (server ones first, as go-zero's Use wraps the group's), at n. */
static size_t put_outer(cz__route_t *rt, const cz_server_t *s, size_t n)
{
    for (size_t i = 0; i < s->nuse; i++)
        if (is_outer(&s->use[i]))
            rt->chain[n++] = s->use[i];
    for (size_t i = 0; i < rt->ngroup_mws; i++)
        if (is_outer(&rt->group_mws[i]))
            rt->chain[n++] = rt->group_mws[i];
    return n;
}

int cz__chain_build(cz_server_t *s, cz_diag_t *d)
{
    s->mw_state = calloc(NMODULES, sizeof *s->mw_state);
    if (!s->mw_state)
        return CZ_ENOMEM;
    for (size_t i = 0; i < NMODULES; i++) {
        const cz__mw_module_t *m = chain_order[i].module;
        if (module_inited(s, i) && m->init) {
            int rc = m->init(s, &s->mw_state[i], d);
            if (rc)
                return rc;
        }
    }
    for (size_t ri = 0; ri < s->nroutes; ri++) {
        cz__route_t *rt = s->routes[ri];
        rt->index = (int)ri;
        rt->recover = s->conf.middlewares.recover;
        if (!s->conf.middlewares.max_bytes)
            rt->body_limit = 0;
        else
            rt->body_limit = rt->max_bytes > 0 ? rt->max_bytes : s->conf.max_bytes;
        size_t cap = NMODULES + s->nuse + rt->ngroup_mws;
        rt->chain = calloc(cap, sizeof *rt->chain);
        rt->ctx_off = calloc(cap, sizeof *rt->ctx_off);
        if (!rt->chain || !rt->ctx_off)
            return CZ_ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < NMODULES; i++) {
            const cz__mw_module_t *m = chain_order[i].module;
            if (m == &cz__mw_maxconns) /* trace, log and prometheus still see every answer */
                n = put_outer(rt, s, n);
            if (!module_on(s, i) || !m->route)
                continue;
            /* a streamed body never sits whole in the request: skip the links that need it */
            if ((rt->flags & CZ_ROUTE_STREAM_BODY) && (m == &cz__mw_gunzip || m == &cz__mw_signature))
                continue;
            cz_mw_t mw = {0};
            int rc = m->route(s, s->mw_state[i], rt, &mw, d);
            if (rc) {
                if (d && !d->key[0])
                    snprintf(d->key, sizeof d->key, "%s %s", rt->method, rt->pattern);
                return rc;
            }
            if (mw.ops)
                rt->chain[n++] = mw;
        }
        for (size_t i = 0; i < s->nuse; i++)
            if (!is_outer(&s->use[i]))
                rt->chain[n++] = s->use[i];
        for (size_t i = 0; i < rt->ngroup_mws; i++)
            if (!is_outer(&rt->group_mws[i]))
                rt->chain[n++] = rt->group_mws[i];
        rt->nchain = (uint16_t)n;
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            rt->ctx_off[i] = off;
            off += (rt->chain[i].ops->ctx_size + 15) & ~(size_t)15;
        }
        rt->ctx_size = off;
    }
    return 0;
}

void cz__chain_stop(cz_server_t *s)
{
    if (!s->mw_state)
        return;
    for (size_t i = 0; i < NMODULES; i++)
        if (module_inited(s, i) && chain_order[i].module->stop)
            chain_order[i].module->stop(s, s->mw_state[i]);
}

void cz__chain_free(cz_server_t *s)
{
    for (size_t ri = 0; ri < s->nroutes; ri++) {
        cz__route_t *rt = s->routes[ri];
        /* built-in links own their data; user middlewares are freed once, below (the outer
         * ones sit among the built-ins, the others after them) */
        size_t nbuiltin = rt->chain ? rt->nchain - s->nuse - rt->ngroup_mws : 0;
        for (size_t i = 0; rt->chain && i < rt->nchain && nbuiltin; i++) {
            if (is_outer(&rt->chain[i]))
                continue;
            nbuiltin--;
            if (rt->chain[i].ops->free)
                rt->chain[i].ops->free(&rt->chain[i]);
        }
        for (size_t i = 0; i < rt->ngroup_mws; i++)
            if (rt->group_mws[i].ops->free)
                rt->group_mws[i].ops->free(&rt->group_mws[i]);
        free(rt->chain);
        free(rt->ctx_off);
        free(rt->group_mws);
        rt->chain = NULL;
        rt->ctx_off = NULL;
    }
    for (size_t i = 0; i < s->nuse; i++)
        if (s->use[i].ops->free)
            s->use[i].ops->free(&s->use[i]);
    free(s->use);
    if (s->mw_state) {
        for (size_t i = 0; i < NMODULES; i++)
            if (module_inited(s, i) && chain_order[i].module->free)
                chain_order[i].module->free(s, s->mw_state[i]);
        free(s->mw_state);
        s->mw_state = NULL;
    }
}

size_t cz_server_route_chain(const cz_server_t *s, const char *method, const char *pattern,
                             const char **names, size_t max)
{
    for (size_t ri = 0; ri < s->nroutes; ri++) {
        const cz__route_t *rt = s->routes[ri];
        if (strcmp(rt->method, method) != 0 || strcmp(rt->pattern, pattern) != 0)
            continue;
        for (size_t i = 0; i < rt->nchain && i < max; i++)
            names[i] = rt->chain[i].ops->name;
        return rt->nchain;
    }
    return 0;
}

/* ---- per request ---- */

static inline void *ctx_of(cz_req_t *r, size_t i)
{
    const cz__route_t *rt = r->route;
    if (!rt->chain[i].ops->ctx_size)
        return NULL;
    return (char *)r->mw_ctx + rt->ctx_off[i];
}

void *cz_req_mw_ctx(const cz_req_t *r, const char *name)
{
    const cz__route_t *rt = r->route;
    if (!rt || !r->mw_ctx)
        return NULL;
    for (size_t i = 0; i < rt->nchain; i++)
        if (strcmp(rt->chain[i].ops->name, name) == 0)
            return ctx_of((cz_req_t *)r, i);
    return NULL;
}

void cz__mw_answer(cz_res_t *res, int status, const char *body)
{
    res->status = status;
    res->body_len = 0;
    if (body) {
        cz_res_header_n(res, CZ_STR("Content-Type"), CZ_STR("text/plain; charset=utf-8"));
        cz_res_write(res, body, strlen(body));
    }
}

void cz__mw_refuse(cz_res_t *res, int status)
{
    cz__mw_answer(res, status, NULL);
    res->refused = true;
}

/* go-zero logs every drop; a shedder refusing thousands of requests a second then spends a
 * good part of the loop it protects formatting the same line. Each worker logs the first drop of
 * each second in go-zero's words and counts the rest into one line at its next drop. */
static __thread uint64_t drop_sec, drop_more;

void cz__mw_log_dropped(cz_req_t *r)
{
    uint64_t sec = uv_now(&r->w->loop) / 1000;
    if (sec == drop_sec) {
        drop_more++;
        return;
    }
    if (drop_more)
        cz_log_error("[http] dropped %llu more requests since %llus ago",
                     (unsigned long long)drop_more, (unsigned long long)(sec - drop_sec));
    drop_sec = sec;
    drop_more = 0;
    cz_str_t remote = cz_req_remote(r);
    cz_str_t ua = cz_req_header(r, "User-Agent");
    cz_log_error("[http] dropped, %.*s - %.*s - %.*s", (int)r->target.n, r->target.p,
                 (int)remote.n, remote.p, (int)ua.n, ua.p ? ua.p : "");
}

/* The outer links of chain[0, n) that keep no per-request context, enter only: what they set
 * stays on res. True when one of them answered (a CORS preflight's 204). */
static bool run_outer(const cz_mw_t *chain, size_t n, cz_req_t *r)
{
    bool answered = false;
    for (size_t i = 0; i < n; i++) {
        cz_mw_t *mw = (cz_mw_t *)&chain[i];
        if (is_outer(mw) && !mw->ops->ctx_size &&
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

bool cz__chain_outer_unrouted(cz_req_t *r, const cz__route_t *sibling)
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
            mw->ops->leave((cz_mw_t *)mw, r, &r->res, ctx_of(r, i));
    }
}

/* ---- recover: cz_panic() unwinds to the innermost running chain on this thread ---- */

static __thread sigjmp_buf *panic_target;

void cz_panic(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    void *frames[48];
    int n = backtrace(frames, 48);
    char **names = backtrace_symbols(frames, n);
    char stack[4096];
    size_t o = 0;
    for (int i = 1; names && i < n && o < sizeof stack - 1; i++) {
        int w = snprintf(stack + o, sizeof stack - o, "\n\t%s", names[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    stack[o < sizeof stack ? o : sizeof stack - 1] = '\0';
    free(names);
    /* go-zero recoverhandler: logx.ErrorStack(fmt.Sprintf("%v\n%s", result, debug.Stack())) */
    cz_log_error("%s%s", msg, stack);
    if (!panic_target) {
        cz_log_severe("cz_panic outside a request: %s", msg);
        cz_log_flush();
        abort();
    }
    siglongjmp(*panic_target, 1);
}

sigjmp_buf *cz__panic_swap(sigjmp_buf *target)
{
    sigjmp_buf *prev = panic_target;
    panic_target = target;
    return prev;
}

static void answer_panic(cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    r->calling = false;
    r->panicked = true;
    if (r->res.head_sent) { /* a streamed response cannot change its status any more */
        r->res.ended = true;
        r->in_handler = false;
        cz__conn_close(c);
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
        cz_mw_step_t st = mw->ops->enter(mw, r, &r->res, ctx_of(r, r->mw_i));
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
        cz__conn_request_done(r->conn);
        return;
    }
    if (step == CZ_MW_NEXT) {
        r->mw_i++;
        cz__chain_run(r);
    } else {
        cz__res_finish(r);
    }
    if (!r->conn->in_process)
        cz__conn_flush(r->conn);
}

/* ---- timeouts: one list per route and worker, so appending keeps each sorted ---- */

void cz__timeout_remove(cz_req_t *r)
{
    if (!r->in_to_list)
        return;
    struct cz__rlist *l = &r->w->timeouts[r->route->index];
    if (r->to_prev)
        r->to_prev->to_next = r->to_next;
    else
        l->head = r->to_next;
    if (r->to_next)
        r->to_next->to_prev = r->to_prev;
    else
        l->tail = r->to_prev;
    r->to_prev = r->to_next = NULL;
    r->in_to_list = false;
}

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
    cz_conn_t *c = r->conn;
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
    c->close_after = true;
    if (r->res.head_sent) {
        r->res.ended = true;
        cz__conn_close(c);
        return;
    }
    r->res.streaming = false;
    r->res.hdrs_len = r->res.hdrs_mark; /* the handler's headers go, the middlewares' stay */
    r->res.has_ctype = false;
    r->res.refused = false; /* the handler was too slow: a failure for the breaker, as go-zero */
    cz__res_complete(r, 503, "Request Timeout");
    cz__conn_flush(c);
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
