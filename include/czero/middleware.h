/* SPDX-License-Identifier: MIT
 *
 * middleware.h: the middleware chain (go-zero's rest handler chain), as data.
 *
 * Every route gets, at cz_server_start(), an array of middlewares built once in go-zero's
 * order (rest/engine.go buildChainWithNativeMiddlewares): trace, log, prometheus, maxconns,
 * breaker, shedding, timeout, recover, metrics, maxbytes, gunzip; then the route's auth
 * (signature, JWT); then the server's middlewares (cz_server_use, go-zero server.Use); then the
 * group's (cz_route_opts_t.middlewares, go-zero rest.WithMiddlewares); then the handler.
 * Each built-in link is switched by the config's Middlewares section.
 *
 * A request runs the array with a cursor (nginx's phase handler): each enter() returns
 *   CZ_MW_NEXT  go on with the next middleware (or the handler);
 *   CZ_MW_DONE  the middleware answered (e.g. 503): the handler does not run;
 *   CZ_MW_AGAIN the middleware parked the request (waiting on Redis, say) and will call
 *               cz_mw_resume() later, from the request's loop thread.
 * When the response is final (the handler or a middleware ended it, or a timeout did), leave()
 * runs for every middleware whose enter() ran, in reverse order, before the response is written:
 * a leave() may still add headers. That is where a breaker settles its promise, metrics record
 * the duration, and the access log writes its line. There is no recursion and no closure.
 */
#ifndef CZERO_MIDDLEWARE_H
#define CZERO_MIDDLEWARE_H

#include <stddef.h>
#include "error.h"
#include "request.h"
#include "response.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CZ_MW_NEXT = 0, CZ_MW_DONE = 1, CZ_MW_AGAIN = 2 } cz_mw_step_t;

typedef struct cz_mw cz_mw_t;

typedef struct cz_mw_ops {
    const char *name; /* "breaker"; also how cz_req_mw_ctx() finds a middleware's state */
    /* Bytes of per-request state: zeroed, from the request arena, passed as ctx. 0 = none. */
    size_t ctx_size;
    cz_mw_step_t (*enter)(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx);
    /* After the response is final, before it is written. May be NULL. */
    void (*leave)(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx);
    /* Release mw->data when the server is freed. May be NULL. */
    void (*free)(cz_mw_t *mw);
    unsigned flags; /* CZ_MW_OUTER or 0 */
} cz_mw_ops_t;

/* ops->flags: the link wraps its whole route, as go-zero's router wrappers (rest.WithCors's
 * corsRouter) do, so what it sets is on every answer of the route, the early ones included.
 * A server (cz_server_use) or group link with it runs before every built-in link that may
 * answer (after trace, log and prometheus, which only observe), so before maxconns, breaker,
 * shedding, timeout and JWT. Its enter() must be stateless (ctx_size 0) and only set headers
 * or answer: the engine also calls it, keeping only the headers, for an answer it gives before
 * the chain runs (413 on an announced body over MaxBytes). Costs nothing on other routes. */
#define CZ_MW_OUTER 1u

struct cz_mw {
    const cz_mw_ops_t *ops;
    void *data; /* the middleware's own configuration and shared state */
};

/** Continue a request parked with CZ_MW_AGAIN. step CZ_MW_NEXT runs the next middleware;
 *  CZ_MW_DONE means the middleware has set the answer on res and it is final. Loop thread. */
CZ_EXTERN void cz_mw_resume(cz_req_t *req, cz_mw_step_t step);
/** The per-request state of the middleware named `name` on this request's route, or NULL when
 *  the route has no such middleware (or it has no state). */
CZ_EXTERN void *cz_req_mw_ctx(const cz_req_t *req, const char *name);

#ifdef __cplusplus
}
#endif
#endif
