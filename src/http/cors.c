/* SPDX-License-Identifier: MIT
 *
 * cors.c: CORS for a server, as go-zero's rest.WithCors / WithCustomCors do it
 * (rest/internal/cors/handlers.go): a server middleware that sets the headers and answers
 * OPTIONS with 204, and a not-allowed handler that answers preflights to paths routed for other
 * methods. The header values are go-zero's constants, quoted in include/czero/cors.h. Both
 * pieces share one immutable configuration, freed with the server through the middleware's
 * free() (cz_server_use hands ownership of mw->data over when the ops have one).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http_int.h"
#include "czero/cors.h"

typedef struct cors {
    char **origins;
    size_t n;
    cz_cors_header_fn header_fn;
    cz_cors_not_allowed_fn not_allowed_fn;
    void *ud;
} cors_t;

/* go-zero isOriginAllowed: "*", the same origin, or a subdomain of an allowed one. */
static bool origin_allowed(const char *const *origins, size_t n, cz_str_t origin)
{
    for (size_t i = 0; i < n; i++) {
        const char *a = origins[i];
        size_t an = strlen(a);
        if (strcmp(a, "*") == 0)
            return true;
        if (origin.n == an && (an == 0 || strncasecmp(origin.p, a, an) == 0))
            return true;
        if (origin.n > an + 1 && origin.p[origin.n - an - 1] == '.' &&
            strncasecmp(origin.p + origin.n - an, a, an) == 0)
            return true;
    }
    return false;
}

static void set_allow(cz_res_t *res, cz_str_t origin)
{
    cz_res_header_n(res, CZ_STR("Access-Control-Allow-Origin"), origin);
    cz_res_header(res, "Access-Control-Allow-Methods", "GET, HEAD, POST, PATCH, PUT, DELETE");
    cz_res_header(res, "Access-Control-Allow-Headers",
                  "Content-Type, Origin, X-CSRF-Token, Authorization, AccessToken, Token, Range");
    cz_res_header(res, "Access-Control-Expose-Headers",
                  "Content-Length, Access-Control-Allow-Origin, Access-Control-Allow-Headers");
    if (!cz_str_eq(origin, CZ_STR("*")))
        cz_res_header(res, "Access-Control-Allow-Credentials", "true");
    cz_res_header(res, "Access-Control-Max-Age", "86400");
}

static bool is_options(const cz_req_t *r) { return cz_str_eq(r->method, CZ_STR("OPTIONS")); }

/* go-zero checkAndSetHeaders */
void cz_cors_set_headers(const cz_req_t *r, cz_res_t *res, const char *const *origins, size_t n)
{
    cz_res_header(res, "Vary", "Origin");
    if (is_options(r)) {
        cz_res_header(res, "Vary", "Access-Control-Request-Method");
        cz_res_header(res, "Vary", "Access-Control-Request-Headers");
    }
    if (n == 0) {
        set_allow(res, CZ_STR("*"));
        return;
    }
    cz_str_t origin = cz_req_header(r, "Origin");
    if (!origin.p)
        origin = (cz_str_t){"", 0}; /* Go's Header.Get gives "" (allowed only by "*") */
    if (origin_allowed(origins, n, origin))
        set_allow(res, origin);
}

static void check_and_set(const cors_t *c, const cz_req_t *r, cz_res_t *res)
{
    cz_cors_set_headers(r, res, (const char *const *)c->origins, c->n);
}

static cz_mw_step_t cors_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)ctx;
    const cors_t *c = mw->data;
    check_and_set(c, r, res);
    if (c->header_fn)
        c->header_fn(res, c->ud);
    if (is_options(r)) { /* go-zero cors.Middleware: OPTIONS never reaches the handler */
        cz_res_status(res, 204);
        return CZ_MW_DONE;
    }
    return CZ_MW_NEXT;
}

static void cors_free(cz_mw_t *mw)
{
    cors_t *c = mw->data;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->origins[i]);
    free(c->origins);
    free(c);
    mw->data = NULL;
}

/* Outer: go-zero's corsRouter wraps the whole router, so a 401 from JWT or a 503 from the
 * breaker carries the headers too, and a preflight to an OPTIONS route needs no token. */
static const cz_mw_ops_t cors_ops = {.name = "cors", .enter = cors_enter, .free = cors_free,
                                     .flags = CZ_MW_OUTER};

/* go-zero cors.NotAllowedHandler: the dispatcher has set 405 and Allow, and the CORS link has
 * already set its headers (unrouted requests pass the outer links, cz__dispatch) and answered
 * a preflight; a hook's own status wins (go-zero's header-once writer), else 404. */
static int cors_not_allowed(cz_req_t *r, cz_res_t *res, void *ud)
{
    const cors_t *c = ud;
    cz_res_status(res, 0);
    if (c->not_allowed_fn)
        c->not_allowed_fn(res, c->ud);
    if (res->status == 0)
        cz_res_status(res, is_options(r) ? 204 : 404);
    return CZ_DONE;
}

int cz_server_cors_custom(cz_server_t *s, cz_cors_header_fn header_fn,
                          cz_cors_not_allowed_fn not_allowed_fn, void *ud,
                          const char *const *origins, size_t n)
{
    if (!s || (n && !origins))
        return CZ_EARG;
    for (size_t i = 0; i < n; i++)
        if (!origins[i])
            return CZ_EARG;
    cors_t *c = calloc(1, sizeof *c);
    if (!c)
        return CZ_ENOMEM;
    cz_mw_t mw = {.ops = &cors_ops, .data = c};
    c->header_fn = header_fn;
    c->not_allowed_fn = not_allowed_fn;
    c->ud = ud;
    if (n && !(c->origins = calloc(n, sizeof *c->origins))) {
        cors_free(&mw);
        return CZ_ENOMEM;
    }
    for (; c->n < n; c->n++) {
        if (!(c->origins[c->n] = strdup(origins[c->n]))) {
            cors_free(&mw);
            return CZ_ENOMEM;
        }
    }
    int rc = cz_server_use(s, &mw);
    if (rc) {
        cors_free(&mw);
        return rc;
    }
    cz_server_set_not_allowed(s, cors_not_allowed, c);
    return 0;
}

int cz_server_cors(cz_server_t *s, const char *const *origins, size_t n)
{
    return cz_server_cors_custom(s, NULL, NULL, NULL, origins, n);
}
