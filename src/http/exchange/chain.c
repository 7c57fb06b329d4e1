/* SPDX-License-Identifier: MIT
 *
 * chain.c: builds each route's middleware array at start (dispatch.c runs it per request).
 *
 * The order is go-zero's (rest/engine.go buildChainWithNativeMiddlewares and appendAuthHandler),
 * kept in one readable table below; each link is switched by the config's Middlewares section
 * or, for auth, by the route's options. Two of go-zero's links are not entries here because the
 * engine already does their work where it is cheapest: MaxBytes (the body limit is checked
 * while reading, from Content-Length before the body is read at all) and Recover (a
 * sigsetjmp around the chain and handler in dispatch.c, so a cz_panic() anywhere below answers
 * 500; mw/recover.c).
 *
 * Server and group links flagged CZ_MW_OUTER (CORS) are moved in front of maxconns, the first
 * built-in link that may answer: go-zero's corsRouter wraps the whole router, so its headers
 * are on a 401 from JWT or a 503 from the breaker too. Moving the link costs nothing per
 * request, where re-applying its headers at the end would cost every route a check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/mw/mw_int.h"
#include "czero/log.h"

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
