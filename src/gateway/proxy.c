/* SPDX-License-Identifier: MIT
 *
 * proxy.c: the reverse-proxy handler: one client request in, one call through an upstream out,
 * bodies streamed both ways with back-pressure.
 *
 * The request goes on as soon as its head is in (routes with CZ_ROUTE_STREAM_BODY). A body of
 * known length up to 64 KiB is first collected in the request arena and sent whole, so the call
 * can be retried on another node; a larger or chunked body is streamed: client body pieces go to
 * cz_upcall_write, and the client socket is paused while the upstream write buffer is above its
 * high-water mark. The response head is copied minus hop-by-hop headers and the body streamed to
 * the client, with the backend's Content-Length when it sent one (chunked otherwise); the
 * upstream read is paused while more than 256 KiB wait for the client socket and resumed when
 * they drain. Errors before the response began answer 400 (a request the upstream client
 * refuses to write: the client's error, no node tried or blamed), 503 (no usable node), 504
 * (upstream timeout) or 502 (anything else the upstream did); after it began the answer is aborted
 * (cz_res_abort) so the client sees a truncated response, never a complete-looking one. A
 * client that goes away cancels the upstream call.
 *
 * Not here: HTTP/1.0 upstreams, Upgrade (WebSocket) tunnelling, caching, trailers.
 */
#include <string.h>
#include "czero/client.h"
#include "czero/log.h"
#include "czero/response.h"
#include "czero/server.h"
#include "czero/trace.h"
#include "gw_int.h"

#define SMALL_BODY (64u * 1024u)
#define RES_HIGH_WATER (256u * 1024u)
/* Responses with a Content-Length up to this are collected and sent as one ordinary response:
 * the client sees the backend's Content-Length (not chunked) and the head and body leave in one
 * write instead of three (head, chunk, last chunk), which is most of a small proxied request's
 * system-call cost. */
#define SMALL_RES (64u * 1024u)

typedef struct proxy {
    cz_req_t *req;
    cz_res_t *res;
    const cz_proxy_route_t *rt;
    cz_upcall_t *uc;          /* arena storage of cz__upcall_size() bytes */
    cz_upstream_req_t urq;
    char *body;               /* a small body being collected */
    size_t body_len;
    bool call_live;           /* uc started and its on_done not yet run */
    bool streaming;           /* the request body goes by cz_upcall_write */
    bool body_done;           /* the client body ended or failed */
    bool client_paused;
    bool res_began;
    bool finished;            /* the client response has ended */
    bool up_paused;
    bool res_buffered;        /* a small response being collected (see SMALL_RES) */
    char *rbody;
    size_t rlen, rcap;
} proxy_t;

static void finish_error(proxy_t *p, int status, const char *msg)
{
    if (p->finished)
        return;
    p->finished = true;
    cz_req_on_cancel(p->req, NULL, NULL);
    if (!cz_req_cancelled(p->req))
        cz_res_error(p->res, status, msg);
    cz_res_end(p->res);
}

/* The response began and cannot be completed: close the connection under it. */
static void abort_client(proxy_t *p)
{
    if (p->finished)
        return;
    p->finished = true;
    cz_req_on_cancel(p->req, NULL, NULL);
    cz_res_abort(p->res);
}

/* The answer for a call that failed before the response began. CZ_EARG: the client refuses to
 * write the request (cz__upcall_start checked it before any node): the client's error. */
static int status_for(int err)
{
    if (err == CZ_EARG)
        return 400;
    if (err == CZ_ENOSERVICE || err == CZ_EBREAKER || err == CZ_ENOMEM)
        return 503;
    if (err == CZ_ETIMEOUT)
        return 504;
    return 502;
}

/* ---- upstream -> client ---- */

/* Content-Length value, or -1 when it is not a plain decimal number. */
static int64_t parse_len(cz_str_t v)
{
    if (v.n == 0 || v.n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        x = x * 10 + (v.p[i] - '0');
    }
    return x;
}

static int on_head(cz_call_t *call, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                   void *ud)
{
    proxy_t *p = ud;
    (void)call;
    if (p->finished)
        return 1;
    cz_str_t conn = CZ_STR_NULL;
    for (size_t i = 0; i < n; i++)
        if (cz_str_ieq(hn[i], CZ_STR("Connection")))
            conn = hv[i];
    uint64_t conn_lens = conn.p ? cz__conn_lens(conn) : 0;
    cz_res_status(p->res, status);
    int64_t clen = -1;
    /* With the trace link on, the client gets the gateway's span (the trace id is the backend's
     * too); passing the backend's on would send two traceparent headers. */
    bool traced = cz_req_span_id(p->req).n > 0;
    for (size_t i = 0; i < n; i++) {
        if (cz__hop_by_hop(hn[i]) ||
            (cz__conn_may_name(conn_lens, hn[i]) && cz__conn_names(conn, hn[i])))
            continue;
        if (traced && hn[i].n == 11 && cz_str_ieq(hn[i], CZ_STR("traceparent")))
            continue;
        if (hn[i].n == 14 && cz_str_ieq(hn[i], CZ_STR("Content-Length")))
            clen = parse_len(hv[i]);
        cz_res_header_n(p->res, hn[i], hv[i]); /* Content-Length, Date: the engine's own */
    }
    bool head = cz_str_eq(cz_req_method(p->req), CZ_STR("HEAD"));
    bool bodyless = status < 200 || status == 204 || status == 304 || head;
    if (!bodyless && clen >= 0 && (uint64_t)clen <= SMALL_RES) {
        p->rbody = clen ? cz_arena_alloc(cz_req_arena(p->req), (size_t)clen) : NULL;
        if (!clen || p->rbody) {
            p->res_buffered = true;
            p->rcap = (size_t)clen;
            return 0;
        }
    }
    /* a sized answer keeps its length, as nginx does (the client parser holds the backend to
     * it; a short one fails the call and is aborted); 204/304 have no body to size */
    if (clen < 0 && bodyless && !head)
        clen = 0;
    int rc = clen >= 0 ? cz_res_stream_begin_length(p->res, clen) : cz_res_stream_begin(p->res);
    if (rc != 0)
        return 1; /* client gone: on_cancel ends the request */
    p->res_began = true;
    return 0;
}

static void on_res_drain(cz_res_t *res, void *ud)
{
    proxy_t *p = ud;
    (void)res;
    if (p->up_paused && p->call_live) {
        p->up_paused = false;
        cz_upcall_resume(p->uc);
    }
}

static void on_body(cz_call_t *call, const void *data, size_t n, void *ud)
{
    proxy_t *p = ud;
    if (p->finished)
        return;
    if (p->res_buffered) { /* the client parser holds the backend to its Content-Length */
        size_t k = n <= p->rcap - p->rlen ? n : p->rcap - p->rlen;
        memcpy(p->rbody + p->rlen, data, k);
        p->rlen += k;
        return;
    }
    if (cz_res_stream_write(p->res, data, n) != 0)
        return; /* client gone */
    if (!p->up_paused && cz_res_stream_pending(p->res) > RES_HIGH_WATER) {
        p->up_paused = true;
        cz_call_pause(call);
        cz_res_on_drain(p->res, on_res_drain, p);
    }
}

/* ---- client -> upstream ---- */

static void on_up_drain(cz_call_t *call, void *ud)
{
    proxy_t *p = ud;
    (void)call;
    if (p->client_paused && !p->body_done) {
        p->client_paused = false;
        cz_req_body_resume(p->req);
    }
}

static void on_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    proxy_t *p = ud;
    (void)call;
    p->call_live = false;
    if (p->client_paused) { /* let the engine read (and discard) the rest of the body */
        p->client_paused = false;
        cz_req_body_resume(p->req);
    }
    if (p->finished)
        return;
    if (err == 0) {
        p->finished = true;
        cz_req_on_cancel(p->req, NULL, NULL);
        if (p->res_buffered) {
            if (p->rlen)
                cz_res_write(p->res, p->rbody, p->rlen);
            cz_res_end(p->res);
        } else {
            cz_res_stream_end(p->res);
        }
        return;
    }
    if (p->res_buffered) /* the error answer must not carry the backend's headers */
        cz_res_clear(p->res);
    if (p->res_began) {
        cz_log_error("proxy %s: upstream %s failed mid-response: %s",
                     cz_upstream_name(p->rt->up), cz_upcall_addr(p->uc), cz_strerror(err));
        abort_client(p);
        return;
    }
    (void)info;
    finish_error(p, status_for(err), cz_strerror(err));
}

static const cz_call_cbs_t proxy_cbs = {
    .on_head = on_head, .on_body = on_body, .on_drain = on_up_drain, .on_done = on_done};

static void on_cancel(cz_req_t *req, void *ud)
{
    proxy_t *p = ud;
    (void)req;
    if (p->call_live) {
        p->call_live = false;
        cz_upcall_cancel(p->uc);
    }
    if (!p->finished) {
        p->finished = true;
        cz_req_on_cancel(p->req, NULL, NULL);
        cz_res_end(p->res);
    }
}

static bool idempotent(cz_str_t m)
{
    /* RFC 9110 9.2.2 */
    return cz_str_eq(m, CZ_STR("GET")) || cz_str_eq(m, CZ_STR("HEAD")) ||
           cz_str_eq(m, CZ_STR("PUT")) || cz_str_eq(m, CZ_STR("DELETE")) ||
           cz_str_eq(m, CZ_STR("OPTIONS")) || cz_str_eq(m, CZ_STR("TRACE"));
}

static void start_call(proxy_t *p)
{
    uint64_t left = cz__req_take_deadline(p->req);
    if (left)
        p->urq.http.total_timeout_ms = left;
    int rc = cz__upcall_start(p->uc, false, p->rt->up, cz_req_client(p->req), &p->urq, &proxy_cbs,
                              p);
    if (rc != 0) {
        /* every node left was refused by its own breaker: those breakers counted the node
         * failures already, and the route's breaker must not count them a second time */
        if (rc == CZ_ENOSERVICE && cz__upcall_breaker_dropped(p->uc))
            cz_res_mark_refused(p->res);
        finish_error(p, status_for(rc),
                     rc == CZ_EARG ? "request cannot be forwarded" : cz_strerror(rc));
        return;
    }
    p->call_live = true;
}

static void on_small_body(cz_req_t *req, const void *data, size_t n, int err, void *ud)
{
    proxy_t *p = ud;
    (void)req;
    if (p->finished)
        return;
    if (err < 0) {
        p->body_done = true;
        if (err == CZ_ECLOSED)
            on_cancel(req, p);
        else if (err != CZ_EFULL) /* over MaxBytes: the engine answers 413 */
            finish_error(p, err == CZ_ETIMEOUT ? 408 : 400, cz_strerror(err));
        else
            finish_error(p, 413, "request body too large");
        return;
    }
    if (n) {
        if (p->body_len + n > SMALL_BODY) { /* the client sent more than it announced */
            p->body_done = true;
            finish_error(p, 400, "body longer than Content-Length");
            return;
        }
        memcpy(p->body + p->body_len, data, n);
        p->body_len += n;
        return;
    }
    p->body_done = true;
    p->urq.http.body = (cz_str_t){p->body, p->body_len};
    start_call(p);
}

static void on_stream_body(cz_req_t *req, const void *data, size_t n, int err, void *ud)
{
    proxy_t *p = ud;
    if (p->finished || !p->call_live) {
        p->body_done = err != 0 || n == 0;
        return;
    }
    if (err < 0) {
        p->body_done = true;
        if (err == CZ_ECLOSED) {
            on_cancel(req, p);
        } else {
            /* the body will not complete: the upstream must not take it as whole */
            p->call_live = false;
            cz_upcall_cancel(p->uc);
            finish_error(p, err == CZ_ETIMEOUT ? 408 : err == CZ_EFULL ? 413 : 400,
                         cz_strerror(err));
        }
        return;
    }
    if (n == 0) {
        p->body_done = true;
        cz_upcall_write_end(p->uc);
        return;
    }
    if (cz_upcall_write(p->uc, data, n) == 1 && !p->client_paused) {
        p->client_paused = true;
        cz_req_body_pause(req);
    }
}

static cz_str_t hash_key(cz_upstream_t *u, cz_req_t *req)
{
    switch (u->hash_src) {
    case CZ__HASH_HEADER: return cz_req_header(req, u->hash_name);
    case CZ__HASH_QUERY: return cz_req_query(req, u->hash_name);
    case CZ__HASH_COOKIE:
        return cz__cookie_value(cz_req_header(req, "Cookie"), cz_str_c(u->hash_name));
    case CZ__HASH_PATH:
    default: return cz_req_path(req);
    }
}

int cz_proxy_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    const cz_proxy_route_t *rt = ud;
    cz_arena_t *a = cz_req_arena(req);
    proxy_t *p = cz_arena_calloc(a, sizeof *p);
    void *ucmem = cz_arena_alloc(a, cz__upcall_size());
    if (!p || !ucmem || !rt || !rt->up || cz__proxy_request(req, rt, a, &p->urq.http) != 0)
        return cz_res_error(res, 503, "out of memory"), CZ_DONE;
    if (!cz_req_client(req))
        return cz_res_error(res, 503, "no HTTP client"), CZ_DONE;
    p->req = req;
    p->res = res;
    p->rt = rt;
    p->uc = ucmem;
    p->urq.retries = rt->retries;
    p->urq.idempotent = idempotent(p->urq.http.method);
    if (rt->up->policy == CZ_UP_CONSISTENT_HASH)
        p->urq.key = hash_key(rt->up, req);
    cz_req_on_cancel(req, on_cancel, p);

    int64_t cl = cz_req_content_length(req);
    if (cl == 0) {
        start_call(p);
    } else if (cl > 0 && (uint64_t)cl <= SMALL_BODY) {
        p->body = cz_arena_alloc(a, (size_t)cl);
        if (!p->body)
            return cz_req_on_cancel(req, NULL, NULL), cz_res_error(res, 503, "out of memory"),
                   CZ_DONE;
        if (cz_req_body_read(req, on_small_body, p) != 0)
            finish_error(p, 500, "proxy route must be registered with CZ_ROUTE_STREAM_BODY");
    } else {
        p->streaming = true;
        p->urq.http.body_stream = true;
        p->urq.http.body_len = cl;
        start_call(p);
        if (p->call_live && cz_req_body_read(req, on_stream_body, p) != 0) {
            p->call_live = false;
            cz_upcall_cancel(p->uc);
            finish_error(p, 500, "proxy route must be registered with CZ_ROUTE_STREAM_BODY");
        }
    }
    return CZ_AGAIN;
}
