/* SPDX-License-Identifier: MIT
 *
 * jwt_auth.c: the jwt link (go-zero rest/handler/authhandler.go with rest/token/tokenparser.go).
 *
 * On a route added with cz_route_opts_t.jwt.secret, the request must carry a token in the
 * Authorization header, "Bearer " prefix optional and case-insensitive (golang-jwt's
 * request.AuthorizationHeaderExtractor). A refused request gets 401 through the server's
 * unauthorized callback (cz_server_set_unauthorized). The verified claims stay in the link's
 * per-request state until the request's arena is reset; handlers read them with cz_req_claims.
 *
 * Secret rotation (go-zero WithJwtTransition): with a previous secret, the key that verified
 * more tokens recently is tried first, like tokenparser's per-secret counters, so the common
 * case costs one HMAC whichever side of the rotation most clients are on. The counters are
 * reset every 24 hours (tokenparser's claimHistoryResetDuration) so the order follows the
 * clients as they move to the new secret.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mw_int.h"
#include "czero/jwt.h"
#include "czero/log.h"

#define HISTORY_RESET_NS (24ull * 3600 * CZ_NS_PER_SEC) /* tokenparser claimHistoryResetDuration */

typedef struct jwt_link {
    char *secret, *prev;
    unsigned algs;
    int64_t leeway_s;
    cz_unauthorized_fn unauthorized;
    void *unauthorized_ud;
    _Atomic uint64_t uses[2]; /* tokens verified by secret, by prev */
    _Atomic uint64_t reset_at;
} jwt_link_t;

typedef struct jwt_ctx {
    json_t *claims;
} jwt_ctx_t;

void cz_server_set_unauthorized(cz_server_t *s, cz_unauthorized_fn fn, void *ud)
{
    if (!s)
        return;
    s->unauthorized = fn;
    s->unauthorized_ud = ud;
}

int cz_server_set_jwt_policy(cz_server_t *s, unsigned algs, int64_t leeway_s)
{
    if (!s || (algs & ~CZ_JWT_HMAC) || leeway_s < 0)
        return CZ_EARG;
    s->jwt_algs = algs;
    s->jwt_leeway_s = leeway_s;
    return 0;
}

json_t *cz_req_claims(const cz_req_t *req)
{
    jwt_ctx_t *c = req ? cz_req_mw_ctx(req, "jwt") : NULL;
    return c ? c->claims : NULL;
}

static void claims_release(void *p) { json_decref(p); }

static cz_mw_step_t refuse(jwt_link_t *l, cz_req_t *r, cz_res_t *res, const char *why)
{
    /* go-zero logs the whole request; the token is a credential, so only the line here */
    cz_log_error("authorize failed: %s => %.*s %.*s", why, (int)r->method.n, r->method.p,
                 (int)r->target.n, r->target.p);
    res->status = 0;
    if (l->unauthorized)
        l->unauthorized(r, res, why, l->unauthorized_ud);
    if (res->status == 0) /* go-zero's header-once writer: the callback's status wins */
        res->status = 401;
    return CZ_MW_DONE;
}

static cz_mw_step_t jwt_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    jwt_link_t *l = mw->data;
    jwt_ctx_t *jc = ctx;
    cz_str_t tok = cz_req_header(r, "Authorization");
    /* golang-jwt stripBearerPrefixFromTokenString: len > 6 and upper(tok[0:7]) == "BEARER " */
    if (tok.p && tok.n > 6 && strncasecmp(tok.p, "Bearer ", 7) == 0) {
        tok.p += 7;
        tok.n -= 7;
    }
    if (!tok.p || tok.n == 0)
        return refuse(l, r, res, "no token present in request");

    uint64_t now = cz_clock_now_ns(cz_clock_coarse());
    uint64_t reset = atomic_load_explicit(&l->reset_at, memory_order_relaxed);
    if (now > reset + HISTORY_RESET_NS &&
        atomic_compare_exchange_strong(&l->reset_at, &reset, now)) {
        atomic_store_explicit(&l->uses[0], 0, memory_order_relaxed);
        atomic_store_explicit(&l->uses[1], 0, memory_order_relaxed);
    }
    /* tokenparser: the secret with more recent successes first; ties go to prev, as there */
    bool prev_first = l->prev && atomic_load_explicit(&l->uses[0], memory_order_relaxed) <=
                                     atomic_load_explicit(&l->uses[1], memory_order_relaxed);
    cz_jwt_keys_t keys = {
        .secret = prev_first ? l->prev : l->secret,
        .secret_n = strlen(prev_first ? l->prev : l->secret),
        .prev = l->prev ? (prev_first ? l->secret : l->prev) : NULL,
        .prev_n = l->prev ? strlen(prev_first ? l->secret : l->prev) : 0,
        .algs = l->algs,
        .leeway_s = l->leeway_s,
    };
    const char *why = NULL;
    int used = 0;
    json_t *claims = NULL;
    int rc = cz_jwt_verify2(tok.p, tok.n, &keys, NULL, &claims, &why, &used);
    if (rc)
        return refuse(l, r, res, why ? why : "invalid auth token");
    if (l->prev) /* index 0 = secret, 1 = prev in l->uses */
        atomic_fetch_add_explicit(&l->uses[(used == 1) != prev_first], 1, memory_order_relaxed);
    if (cz_arena_defer(&r->arena, claims_release, claims) != 0) {
        json_decref(claims);
        cz__mw_answer(res, 503, NULL);
        return CZ_MW_DONE;
    }
    jc->claims = claims;
    return CZ_MW_NEXT;
}

static void jwt_free(cz_mw_t *mw)
{
    jwt_link_t *l = mw->data;
    if (!l)
        return;
    free(l->secret);
    free(l->prev);
    free(l);
    mw->data = NULL;
}

static const cz_mw_ops_t jwt_ops = {
    .name = "jwt", .ctx_size = sizeof(jwt_ctx_t), .enter = jwt_enter, .free = jwt_free};

static int jwt_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                     cz_diag_t *d)
{
    (void)state;
    if (!rt->jwt_secret)
        return 0;
    jwt_link_t *l = calloc(1, sizeof *l);
    if (!l)
        return CZ_ENOMEM;
    l->secret = strdup(rt->jwt_secret);
    l->prev = rt->jwt_prev && rt->jwt_prev[0] ? strdup(rt->jwt_prev) : NULL;
    if (!l->secret || (rt->jwt_prev && rt->jwt_prev[0] && !l->prev)) {
        free(l->secret);
        free(l->prev);
        free(l);
        return CZ_ENOMEM;
    }
    l->algs = s->jwt_algs;
    l->leeway_s = s->jwt_leeway_s;
    l->unauthorized = s->unauthorized;
    l->unauthorized_ud = s->unauthorized_ud;
    atomic_init(&l->reset_at, cz_clock_now_ns(cz_clock_coarse()));
    out->ops = &jwt_ops;
    out->data = l;
    (void)d;
    return 0;
}

const cz__mw_module_t cz__mw_jwt = {.name = "jwt", .route = jwt_route};
