/* SPDX-License-Identifier: MIT
 *
 * gw_ratelimit.c: the RateLimit link of a gateway route: a middleware that asks a limiter
 * (limiter.h: period, token or leaky; in process or in Redis) and answers 429 when it says no.
 *
 * The key is the client IP, a request header or a JWT claim (the engine's jwt link runs before
 * route middlewares, so cz_req_claims() is ready). A missing header or claim is its own key ("-"),
 * shared by everyone who sends none. With Redis the decision is asynchronous: the request is
 * parked and resumed from the limiter callback; when the limiter decides before returning (local
 * store, Redis known down, the token fallback) the request goes on without parking.
 *
 * Each worker loop that used Redis holds a client the limiter created for it, which keeps the
 * loop alive: the server's per-worker stop hook (cz_server_on_worker_stop) detaches it on the
 * worker's own thread once the worker's requests are done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "czero/jwt.h"
#include "gw.h"

typedef struct gw_rl {
    cz_limiter_t *lim;
    bool redis;
    int key_kind;
    char *key_name;
} gw_rl_t;

typedef struct rl_ctx {
    cz_req_t *req;
    cz_res_t *res;
    bool in_enter, decided; /* the limiter may decide before cz_limiter_take returns */
    int result;
} rl_ctx_t;

static bool admitted(int result) { return result != CZ_LIMIT_OVER_QUOTA; }

/* Marked as a local refusal: the route's breaker, in front, counts it neither way. */
static void refuse(cz_res_t *res)
{
    cz_res_error(res, 429, "Too Many Requests");
    cz_res_mark_refused(res);
}

static void on_decision(void *ud, int result, int err)
{
    rl_ctx_t *x = ud;
    (void)err; /* the limiter already chose the fallback decision */
    if (x->in_enter) {
        x->decided = true;
        x->result = result;
        return;
    }
    if (admitted(result)) {
        cz_mw_resume(x->req, CZ_MW_NEXT);
    } else {
        refuse(x->res);
        cz_mw_resume(x->req, CZ_MW_DONE);
    }
}

/* The server's worker-stop hook: no request of this loop runs any more. */
static void loop_stop(void *loop, void *ud)
{
    gw_rl_t *rl = ud;
    cz_limiter_detach_loop(rl->lim, loop);
}

static cz_str_t request_key(const gw_rl_t *rl, cz_req_t *req, char *buf, size_t size)
{
    cz_str_t k = CZ_STR_NULL;
    if (rl->key_kind == GW_KEY_IP) {
        k = cz_req_remote(req);
        for (size_t i = k.n; i > 0; i--) /* "ip:port" and "[v6]:port" lose the port */
            if (k.p[i - 1] == ':') {
                k.n = i - 1;
                break;
            }
    } else if (rl->key_kind == GW_KEY_HEADER) {
        k = cz_req_header(req, rl->key_name);
    } else {
        json_t *claims = cz_req_claims(req);
        json_t *v = claims ? json_object_get(claims, rl->key_name) : NULL;
        if (json_is_string(v)) {
            k = (cz_str_t){json_string_value(v), json_string_length(v)};
        } else if (json_is_integer(v)) {
            int n = snprintf(buf, size, "%lld", (long long)json_integer_value(v));
            k = (cz_str_t){buf, (size_t)n};
        }
    }
    if (!k.p || !k.n)
        k = CZ_STR("-");
    if (k.n > 256) /* the limiter caps keys; a long header must not turn into a 500 */
        k.n = 256;
    return k;
}

static cz_mw_step_t rl_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    gw_rl_t *rl = mw->data;
    rl_ctx_t *x = ctx;
    char buf[32];
    cz_str_t key = request_key(rl, req, buf, sizeof buf);
    int result;
    if (!rl->redis) {
        result = cz_limiter_allow(rl->lim, key, 1);
        if (result < 0)
            return CZ_MW_NEXT; /* ENOMEM in the limiter: admit rather than fail the request */
    } else {
        uv_loop_t *loop = cz_req_loop(req);
        *x = (rl_ctx_t){.req = req, .res = res, .in_enter = true};
        if (cz_limiter_take(rl->lim, loop, key, 1, on_decision, x) != 0)
            return CZ_MW_NEXT;
        x->in_enter = false;
        if (!x->decided)
            return CZ_MW_AGAIN;
        result = x->result;
    }
    if (admitted(result))
        return CZ_MW_NEXT;
    refuse(res);
    return CZ_MW_DONE;
}

void gw_ratelimit_free(cz_mw_t *mw)
{
    gw_rl_t *rl = mw->data;
    if (!rl)
        return;
    cz_limiter_free(rl->lim);
    free(rl->key_name);
    free(rl);
    mw->data = NULL;
}

static const cz_mw_ops_t rl_ops = {
    .name = "ratelimit", .ctx_size = sizeof(rl_ctx_t), .enter = rl_enter};
/* No .free: one link serves every method of a route and the engine frees per registered route,
 * so the instance (gw_routes.c) frees it once with gw_ratelimit_free(). */

int gw_ratelimit_mw(cz_server_t *srv, const gw_ratelimit_conf_t *rc, const char *route_name,
                    cz_mw_t *out, cz_diag_t *d)
{
    static const cz_limit_kind_t kinds[] = {
        [GW_RL_PERIOD] = CZ_LIMIT_PERIOD, [GW_RL_TOKEN] = CZ_LIMIT_TOKEN,
        [GW_RL_LEAKY] = CZ_LIMIT_LEAKY};
    char prefix[160], host[128];
    snprintf(prefix, sizeof prefix, "czgw:%s:", route_name);
    cz_limiter_conf_t lc = {
        .kind = kinds[rc->kind],
        .key_prefix = rc->key_prefix ? rc->key_prefix : prefix,
        .period_ms = (uint64_t)rc->period_ms,
        .quota = (uint64_t)rc->quota,
        .rate = (uint64_t)rc->rate,
        .burst = (uint64_t)rc->burst,
    };
    if (rc->redis.host) {
        snprintf(host, sizeof host, "%s", rc->redis.host);
        char *colon = strrchr(host, ':');
        *colon = 0;
        lc.store = CZ_LIMIT_REDIS;
        lc.redis.host = host;
        lc.redis.port = atoi(colon + 1);
        lc.redis.password = rc->redis.pass;
        lc.redis.command_timeout_ms = (uint64_t)rc->redis.timeout_ms;
        lc.redis.connect_timeout_ms = (uint64_t)rc->redis.connect_timeout_ms;
    }
    gw_rl_t *rl = calloc(1, sizeof *rl);
    if (!rl)
        return cz_diag_set(d, "", 0, 0, route_name, "out of memory"), CZ_ENOMEM;
    int rc2 = cz_limiter_new(&lc, &rl->lim);
    if (rc2 != 0) {
        free(rl);
        return cz_diag_set(d, "", 0, 0, route_name, "rate limiter: %s", cz_strerror(rc2));
    }
    rl->redis = rc->redis.host != NULL;
    rl->key_kind = rc->key_kind;
    rl->key_name = rc->key_name ? strdup(rc->key_name) : NULL;
    if (rl->redis && cz_server_on_worker_stop(srv, loop_stop, rl) != 0) {
        cz_limiter_free(rl->lim);
        free(rl->key_name);
        free(rl);
        return cz_diag_set(d, "", 0, 0, route_name, "out of memory"), CZ_ENOMEM;
    }
    out->ops = &rl_ops;
    out->data = rl;
    return 0;
}
