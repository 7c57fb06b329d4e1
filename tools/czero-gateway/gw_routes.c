/* SPDX-License-Identifier: MIT
 *
 * gw_routes.c: a checked gateway config turned into a running instance: one cz_server_t (the
 * whole default chain from Middlewares in front), one cz_upstream_t per Upstreams entry, and per
 * route the proxy handler (upstream.h) with the route's Jwt, Cors, RateLimit and MaxBytes links.
 *
 * A Prefix route is registered as the prefix itself and as the prefix followed by a "*rest"
 * segment, so a Path route under the same prefix still wins (static and ':' segments beat '*').
 * A route without Method is registered for every common method (HEAD comes with GET, as the
 * engine serves it); a CORS route also gets OPTIONS, with only its CORS link, which answers the
 * preflight (before JWT and rate limit, as go-zero's CORS handler runs in front of the router).
 * On the other methods the CORS link is outer (gw_cors.c): the engine runs it before maxconns,
 * the breaker and Jwt, so every answer of the route, a 401 or 429 included, carries its headers.
 *
 * An instance owns its config (jwt secrets, prefixes and names stay valid while it serves) and
 * frees everything once its server has stopped, so SIGHUP can run two instances side by side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw.h"

enum { MW_CORS, MW_RATELIMIT };

typedef struct route_mws {
    cz_mw_t mw[2];
    int kind[2];
    size_t n;
} route_mws_t;

struct gw_instance {
    gw_conf_t conf; /* owned: moved in by gw_instance_start */
    cz_server_t *srv;
    cz_upstream_t **ups;
    size_t nups;
    cz_proxy_route_t *proutes;
    route_mws_t *mws;
    size_t nroutes;
    bool shut;
    atomic_bool retiring; /* read by the drain link on every request */
};

static const char *const all_methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

/* Move a diagnostic from a library call under "Routes[i]" / "Upstreams[i]" (the library knows no
 * file position; the key is enough to find the entry). */
static void rekey(cz_diag_t *d, const char *file, const char *key)
{
    char msg[sizeof d->msg];
    if (d->key[0] && strncmp(d->key, key, strlen(key)) != 0)
        snprintf(msg, sizeof msg, "%.100s: %.150s", d->key, d->msg);
    else
        snprintf(msg, sizeof msg, "%.250s", d->msg);
    cz_diag_set(d, file, 0, 0, key, "%s", msg);
}

static int add_route(gw_instance_t *g, size_t i, const char *file, cz_diag_t *d)
{
    gw_route_conf_t *rc = &((gw_route_conf_t *)g->conf.routes.items)[i];
    cz_proxy_route_t *pr = &g->proutes[i];
    route_mws_t *m = &g->mws[i];
    char key[32];
    snprintf(key, sizeof key, "Routes[%zu]", i);
    const char *base = rc->path ? rc->path : rc->prefix;
    pr->up = g->ups[rc->upstream_index];
    pr->strip_prefix = rc->strip_prefix ? rc->strip_prefix : rc->rewrite ? base : NULL;
    pr->rewrite_prefix = rc->rewrite;
    pr->retries = (int)rc->retries;
    pr->timeout_ms = (uint64_t)rc->timeout_ms;

    if (rc->cors.allow_origins.n) {
        if (gw_cors_mw(&rc->cors, &m->mw[m->n]) != 0)
            return cz_diag_set(d, file, 0, 0, key, "out of memory");
        m->kind[m->n++] = MW_CORS;
    }
    if (rc->rate_limit.kind != GW_RL_NONE) {
        if (gw_ratelimit_mw(g->srv, &rc->rate_limit, base, &m->mw[m->n], d) != 0) {
            rekey(d, file, key);
            return CZ_EINVAL_CONF;
        }
        m->kind[m->n++] = MW_RATELIMIT;
    }

    /* patterns x methods */
    char rest[CZ_ROUTER_MAX_PREFIX + 8];
    const char *patterns[2] = {base, NULL};
    size_t npat = 1;
    if (rc->prefix) {
        size_t bn = strlen(base);
        snprintf(rest, sizeof rest, "%.*s/*rest", (int)(bn && base[bn - 1] == '/' ? bn - 1 : bn),
                 base);
        patterns[npat++] = rest;
    }
    /* A CORS route's OPTIONS is registered on its own, with only the CORS link: the preflight
     * is answered before auth and rate limit, as go-zero's CORS wraps the whole router. */
    bool cors = rc->cors.allow_origins.n > 0;
    const char *methods[8];
    size_t nm = 0;
    if (rc->method) {
        if (!cors || strcmp(rc->method, "OPTIONS") != 0)
            methods[nm++] = rc->method;
    } else {
        for (size_t k = 0; k < sizeof all_methods / sizeof *all_methods; k++)
            if (!cors || strcmp(all_methods[k], "OPTIONS") != 0)
                methods[nm++] = all_methods[k];
    }
    cz_route_t routes[16], pre[2];
    size_t n = 0;
    for (size_t p = 0; p < npat; p++) {
        for (size_t k = 0; k < nm; k++)
            routes[n++] = (cz_route_t){methods[k], patterns[p], cz_proxy_handler, pr,
                                       CZ_ROUTE_STREAM_BODY};
        pre[p] = (cz_route_t){"OPTIONS", patterns[p], cz_proxy_handler, pr, CZ_ROUTE_STREAM_BODY};
    }
    cz_route_opts_t opts = {
        .timeout_ms = rc->timeout_ms,
        .max_bytes = rc->max_bytes,
        .jwt = {.secret = rc->jwt.secret, .prev_secret = rc->jwt.prev_secret},
        .middlewares = m->n ? m->mw : NULL,
        .nmiddlewares = m->n,
    };
    cz_route_opts_t pre_opts = {.middlewares = m->mw, .nmiddlewares = 1}; /* mw[0] is CORS */
    if ((n && cz_server_add_routes(g->srv, routes, n, &opts, d) != 0) ||
        (cors && cz_server_add_routes(g->srv, pre, npat, &pre_opts, d) != 0)) {
        rekey(d, file, key);
        return CZ_EINVAL_CONF;
    }
    return 0;
}

static void free_parts(gw_instance_t *g)
{
    if (g->srv)
        cz_server_free(g->srv);
    for (size_t i = 0; g->mws && i < g->nroutes; i++)
        for (size_t k = 0; k < g->mws[i].n; k++) {
            if (g->mws[i].kind[k] == MW_CORS)
                gw_cors_free(&g->mws[i].mw[k]);
            else
                gw_ratelimit_free(&g->mws[i].mw[k]);
        }
    for (size_t i = 0; i < g->nups; i++)
        if (g->ups[i])
            cz_upstream_free(g->ups[i]);
    free(g->ups);
    free(g->proutes);
    free(g->mws);
    gw_conf_free(&g->conf);
    free(g);
}

gw_instance_t *gw_instance_start(gw_conf_t *c, const char *file, const gw_instance_t *from,
                                 cz_diag_t *d)
{
    gw_instance_t *g = calloc(1, sizeof *g);
    if (!g) {
        cz_diag_set(d, file, 0, 0, "", "out of memory");
        return NULL;
    }
    g->conf = *c;
    memset(c, 0, sizeof *c);
    g->nroutes = g->conf.routes.n;
    g->nups = g->conf.upstreams.n;
    g->ups = calloc(g->nups + 1, sizeof *g->ups);
    g->proutes = calloc(g->nroutes + 1, sizeof *g->proutes);
    g->mws = calloc(g->nroutes + 1, sizeof *g->mws);
    if (!g->ups || !g->proutes || !g->mws) {
        cz_diag_set(d, file, 0, 0, "", "out of memory");
        goto fail;
    }
    /* certificates reload with the rest of the config on SIGHUP (a new instance builds them,
     * keeping the old one's ticket keys), as nginx: no file watch behind the operator's back */
    g->conf.rest.tls.watch_interval_ms = 0;
    if (!(g->srv = cz_server_new(&g->conf.rest, d)))
        goto fail;
    if (gw_drain_mw(g->srv, &g->retiring) != 0) {
        cz_diag_set(d, file, 0, 0, "", "out of memory");
        goto fail;
    }
    cz_upstream_conf_t *ups = g->conf.upstreams.items;
    for (size_t i = 0; i < g->nups; i++) {
        char key[32];
        snprintf(key, sizeof key, "Upstreams[%zu]", i);
        if (!(g->ups[i] = cz_upstream_new(&ups[i], d))) {
            rekey(d, file, key);
            goto fail;
        }
    }
    for (size_t i = 0; i < g->nroutes; i++)
        if (add_route(g, i, file, d) != 0)
            goto fail;
    if (from)
        (void)cz_server_inherit_listeners(g->srv, from->srv); /* else it binds its own */
    int rc = cz_server_start(g->srv);
    if (rc != 0) {
        /* not the file's fault: the server logged which listener failed and why ("listen on
         * HOST:PORT: address already in use"); no file:key, see gw_main.c */
        cz_diag_set(d, NULL, 0, 0, NULL, "cannot start the server: %s", cz_strerror(rc));
        goto fail;
    }
    return g;
fail:
    free_parts(g);
    return NULL;
}

void gw_instance_shutdown(gw_instance_t *g)
{
    if (g->shut)
        return;
    g->shut = true;
    cz_server_shutdown(g->srv); /* the rate limits' Redis clients go with each worker */
}

void gw_instance_free(gw_instance_t *g)
{
    if (!g)
        return;
    gw_instance_shutdown(g);
    cz_server_wait(g->srv);
    free_parts(g);
}

void gw_instance_drain(gw_instance_t *g)
{
    atomic_store(&g->retiring, true);
    cz_server_stop_accepting(g->srv);
}

size_t gw_instance_connections(const gw_instance_t *g) { return cz_server_connections(g->srv); }

int gw_instance_port(const gw_instance_t *g) { return cz_server_port(g->srv); }
const gw_conf_t *gw_instance_conf(const gw_instance_t *g) { return &g->conf; }
