/* SPDX-License-Identifier: MIT
 *
 * gw_cors.c: CORS as a per-route link of the gateway (cors.h only offers it server-wide).
 *
 * The headers and origin matching are the engine's (cz_cors_set_headers, go-zero's
 * rest/internal/cors); a "*" among the origins answers "*" to every origin, without credentials.
 * An OPTIONS request is answered 204 here, so a preflight never reaches the upstream. gw_routes.c
 * registers a CORS route's OPTIONS with this link alone, so the preflight needs no token even
 * when the route has Jwt. Every other answer of the route carries the headers, the route's
 * own refusals (401, 413, 429, 503) included.
 */
#include <stdlib.h>
#include <string.h>
#include "czero/cors.h"
#include "gw.h"

typedef struct gw_cors {
    char **origins;
    size_t n;
    bool any;
} gw_cors_t;

static cz_mw_step_t cors_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    const gw_cors_t *c = mw->data;
    (void)ctx;
    /* the engine's n == 0 means any origin, answered "*" (no credentials) */
    cz_cors_set_headers(req, res, (const char *const *)c->origins, c->any ? 0 : c->n);
    if (cz_str_eq(cz_req_method(req), CZ_STR("OPTIONS"))) {
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

/* No .free: the instance frees the link once (see gw_ratelimit.c). Outer (middleware.h): the
 * engine runs it before maxconns, breaker, shedding, timeout and Jwt, and before the rate
 * limit, so their early answers (401, 429, 503) and a 413 carry the CORS headers as well, as
 * behind go-zero's corsRouter. */
static const cz_mw_ops_t cors_ops = {.name = "cors", .enter = cors_enter, .flags = CZ_MW_OUTER};

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
