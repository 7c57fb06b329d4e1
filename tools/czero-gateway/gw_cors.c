/* SPDX-License-Identifier: MIT
 *
 * gw_cors.c: CORS as a per-route link of the gateway (cors.h only offers it server-wide).
 *
 * The headers and origin matching follow go-zero's rest/internal/cors (as src/http/cors.c does for
 * a whole server): Vary: Origin always, the Allow-* set when the origin is allowed ("*", the same
 * origin, or a subdomain of a listed one), and an OPTIONS request is answered 204 here, so a
 * preflight never reaches the upstream. gw_routes.c registers a CORS route's OPTIONS with this
 * link alone, so the preflight needs no token even when the route has Jwt.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gw.h"

typedef struct gw_cors {
    char **origins;
    size_t n;
    bool any;
} gw_cors_t;

static bool allowed(const gw_cors_t *c, cz_str_t o)
{
    for (size_t i = 0; i < c->n; i++) {
        const char *a = c->origins[i];
        size_t an = strlen(a);
        if (o.n == an && strncasecmp(o.p, a, an) == 0)
            return true;
        if (o.n > an + 1 && o.p[o.n - an - 1] == '.' && strncasecmp(o.p + o.n - an, a, an) == 0)
            return true;
    }
    return false;
}

static cz_mw_step_t cors_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    const gw_cors_t *c = mw->data;
    (void)ctx;
    bool options = cz_str_eq(cz_req_method(req), CZ_STR("OPTIONS"));
    cz_res_header(res, "Vary", "Origin");
    if (options) {
        cz_res_header(res, "Vary", "Access-Control-Request-Method");
        cz_res_header(res, "Vary", "Access-Control-Request-Headers");
    }
    cz_str_t origin = cz_req_header(req, "Origin");
    if (!origin.p)
        origin = (cz_str_t){"", 0};
    if (c->any || allowed(c, origin)) {
        cz_str_t v = c->any ? CZ_STR("*") : origin;
        cz_res_header_n(res, CZ_STR("Access-Control-Allow-Origin"), v);
        cz_res_header(res, "Access-Control-Allow-Methods", "GET, HEAD, POST, PATCH, PUT, DELETE");
        cz_res_header(res, "Access-Control-Allow-Headers",
                      "Content-Type, Origin, X-CSRF-Token, Authorization, AccessToken, Token, "
                      "Range");
        cz_res_header(res, "Access-Control-Expose-Headers",
                      "Content-Length, Access-Control-Allow-Origin, Access-Control-Allow-Headers");
        if (!c->any)
            cz_res_header(res, "Access-Control-Allow-Credentials", "true");
        cz_res_header(res, "Access-Control-Max-Age", "86400");
    }
    if (options) {
        cz_res_status(res, 204);
        return CZ_MW_DONE;
    }
    return CZ_MW_NEXT;
}

void gw_cors_free(cz_mw_t *mw)
{
    gw_cors_t *c = mw->data;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->origins[i]);
    free(c->origins);
    free(c);
    mw->data = NULL;
}

/* No .free: the instance frees the link once (see gw_ratelimit.c). */
static const cz_mw_ops_t cors_ops = {.name = "cors", .enter = cors_enter};

int gw_cors_mw(const gw_cors_conf_t *cc, cz_mw_t *out)
{
    gw_cors_t *c = calloc(1, sizeof *c);
    if (!c || !(c->origins = calloc(cc->allow_origins.n + 1, sizeof *c->origins))) {
        free(c);
        return CZ_ENOMEM;
    }
    out->ops = &cors_ops;
    out->data = c;
    for (size_t i = 0; i < cc->allow_origins.n; i++) {
        const char *o = cc->allow_origins.items[i];
        if (strcmp(o, "*") == 0) {
            c->any = true;
            continue;
        }
        if (!(c->origins[c->n] = strdup(o))) {
            gw_cors_free(out);
            return CZ_ENOMEM;
        }
        c->n++;
    }
    return 0;
}
