/* SPDX-License-Identifier: MIT
 *
 * relay.c: GET /relay/:path[?query], the demo of a handler calling another service through a named
 * upstream (the `peers` entry of the config's Upstreams). The handler starts a buffered fetch on
 * its worker's client and returns CZ_AGAIN; the fetch's callback answers and ends the response.
 * If the client goes away first, the cancel callback abandons the fetch and ends the request.
 * Errors map as the gateway maps them: no usable peer 503, peer timeout 504, anything else 502.
 */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "czero/czero.h"
#include "demo.h"

#define RELAY_TIMEOUT_MS 2000 /* under the service Timeout, so the caller gets our 504 */
#define RELAY_MAX_BODY (64u * 1024u)

typedef struct relay_call {
    cz_req_t *req;
    cz_res_t *res;
    const demo_relay_t *r;
    cz_upfetch_t *f;
} relay_call_t;

static int error_status(int err)
{
    if (err == CZ_ENOSERVICE || err == CZ_EBREAKER)
        return 503;
    return err == CZ_ETIMEOUT ? 504 : 502;
}

static void relay_done(int err, const cz_fetch_res_t *fr, void *ud)
{
    relay_call_t *rc = ud;
    cz_req_on_cancel(rc->req, NULL, NULL); /* the fetch is over: nothing left to cancel */
    if (err) {
        char msg[128];
        snprintf(msg, sizeof msg, "peers: %s", cz_strerror(err));
        cz_res_error(rc->res, error_status(err), msg);
        cz_res_end(rc->res);
        return;
    }
    char peer[128] = "";
    for (size_t i = 0; i < fr->nheaders; i++)
        if (cz_str_ieq(fr->hname[i], CZ_STR("X-Instance")))
            snprintf(peer, sizeof peer, "%.*s", (int)fr->hvalue[i].n, fr->hvalue[i].p);
    /* the peer's JSON as JSON; any other body as a string */
    json_t *answer = json_loadb(fr->body.p, fr->body.n, JSON_DECODE_ANY, NULL);
    if (!answer)
        answer = json_stringn_nocheck(fr->body.p, fr->body.n);
    json_t *out = json_pack("{s:s, s:s, s:i, s:o}", "via", rc->r->via, "peer", peer, "status",
                            fr->status, "answer", answer);
    if (out)
        cz_res_ok_json(rc->res, out);
    else
        cz_res_error(rc->res, 500, "cannot encode the answer");
    json_decref(out);
    cz_res_end(rc->res);
}

static void relay_cancel(cz_req_t *req, void *ud)
{
    relay_call_t *rc = ud;
    (void)req;
    cz_upfetch_cancel(rc->f);
    cz_res_end(rc->res);
}

int demo_relay(cz_req_t *req, cz_res_t *res, void *ud)
{
    const demo_relay_t *r = ud;
    if (!r->peers)
        return cz_res_error(res, 503, "no `peers` upstream in the config's Upstreams"), CZ_DONE;
    cz_client_t *c = cz_req_client(req);
    cz_str_t path = cz_req_param(req, "path");
    cz_str_t qs = cz_req_query_string(req);
    char target[512];
    int tn = snprintf(target, sizeof target, "/%.*s%s%.*s", (int)path.n, path.p, qs.n ? "?" : "",
                      (int)qs.n, qs.p ? qs.p : "");
    relay_call_t *rc = cz_arena_alloc(cz_req_arena(req), sizeof *rc);
    if (!c || !rc || tn < 0 || (size_t)tn >= sizeof target)
        return cz_res_error(res, c && rc ? 414 : 503, c && rc ? "path too long" : "out of memory"),
               CZ_DONE;
    *rc = (relay_call_t){.req = req, .res = res, .r = r};
    /* the trace goes on (the peer's span is a child of ours, as go-zero's httpc does), and the
     * request id too, so both access logs name the same request */
    char tp[CZ_TRACEPARENT_LEN + 1];
    cz_str_t hn[2], hv[2];
    size_t nh = 0;
    size_t tpn = cz_req_traceparent(req, tp);
    if (tpn) {
        hn[nh] = CZ_STR("traceparent");
        hv[nh++] = (cz_str_t){tp, tpn};
    }
    cz_str_t rid = cz_req_header(req, "X-Request-Id");
    if (rid.p) {
        hn[nh] = CZ_STR("X-Request-Id");
        hv[nh++] = rid;
    }
    cz_upstream_req_t rq = {
        .http = {.method = CZ_STR("GET"), .target = {target, (size_t)tn}, .hname = hn,
                 .hvalue = hv, .nheaders = nh, .total_timeout_ms = RELAY_TIMEOUT_MS},
        .retries = 1,      /* one more peer if the first refuses or fails before answering */
        .idempotent = true,
    };
    int err = cz_upstream_fetch(r->peers, c, &rq, RELAY_MAX_BODY, relay_done, rc, &rc->f);
    if (err) {
        char msg[128];
        snprintf(msg, sizeof msg, "peers: %s", cz_strerror(err));
        return cz_res_error(res, error_status(err), msg), CZ_DONE;
    }
    cz_req_on_cancel(req, relay_cancel, rc);
    return CZ_AGAIN;
}
