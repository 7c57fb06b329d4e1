/* SPDX-License-Identifier: MIT
 *
 * upstream_fetch.c: cz_upstream_fetch, the buffered form of cz_upstream_call for handlers
 * calling another service (go-zero's zrpc client call, or httpc.Do through a balanced cluster):
 * the request is copied once, so the caller may drop it at once; the response head is copied and
 * the body collected up to a cap, then one callback gets status, headers and the whole body.
 * Picking, breakers and retries are upstream_call.c's; retries stay invisible here because
 * upstream_call.c only retries before any response byte, so the head and body seen are always
 * those of the final attempt.
 * Not for large or streamed bodies: the proxy streams with cz_upstream_call instead.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "czero/upstream.h"
#include "internal.h"

#define DEFAULT_MAX_BODY (1024u * 1024u)

/* One allocation holds this struct and the request copy. The upcall is cz_upstream_call's own:
 * upstream_call.c still reads it after on_done returns, when this struct is already gone. */
struct cz_upfetch {
    cz_fetch_fn cb;
    void *ud;
    size_t max;
    cz_upcall_t *uc;
    cz_upstream_req_t rq; /* a copy whose strings follow this struct (upstream_call.c replays
                           * them) */
    char *body;
    size_t blen, bcap;
    char *hblock; /* the two cz_str_t arrays, then the names and values */
    cz_str_t *hn, *hv;
    size_t nh;
    int status;
    bool over;    /* the body would pass max: CZ_EFULL */
    bool nomem;   /* the head could not be kept: CZ_ENOMEM */
};

#define ALIGN_UP(n) (((n) + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1))

static void dispose(cz_upfetch_t *f)
{
    free(f->body);
    free(f->hblock);
    free(f);
}

static void finish(cz_upfetch_t *f, int err, const cz_call_info_t *info)
{
    cz_fetch_res_t res = {.status = f->status, .hname = f->hn, .hvalue = f->hv,
                          .nheaders = f->nh, .body = {f->body ? f->body : "", f->blen}};
    if (info)
        res.info = *info;
    f->cb(err, &res, f->ud);
    dispose(f);
}

static int on_head(cz_call_t *call, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                   void *ud)
{
    cz_upfetch_t *f = ud;
    (void)call;
    f->status = status;
    if (cz__head_over(hn, hv, n, f->max)) {
        f->over = true; /* abort: on_done gets CZ_ECLOSED, reported as CZ_EFULL */
        return 1;
    }
    f->hblock = cz__head_copy(hn, hv, n, &f->hn, &f->hv);
    if (!f->hblock) {
        f->nomem = true;
        return 1;
    }
    f->nh = n;
    return 0;
}

static void on_body(cz_call_t *call, const void *data, size_t n, void *ud)
{
    cz_upfetch_t *f = ud;
    (void)call;
    int err = 0;
    if (f->blen + n > f->max) {
        err = CZ_EFULL; /* a chunked (or lying) body past the cap */
    } else if (f->blen + n > f->bcap) {
        size_t cap = f->bcap ? f->bcap : 4096;
        while (cap < f->blen + n)
            cap *= 2;
        if (cap > f->max)
            cap = f->max;
        char *nb = realloc(f->body, cap);
        if (nb) {
            f->body = nb;
            f->bcap = cap;
        } else {
            err = CZ_ENOMEM;
        }
    }
    if (err) {
        /* cancelling from inside on_body is allowed; it releases the node without blame */
        cz_call_info_t info = {.connected = true, .sent_any = true, .response_started = true,
                               .status = f->status};
        cz_upcall_cancel(f->uc);
        finish(f, err, &info);
        return;
    }
    memcpy(f->body + f->blen, data, n);
    f->blen += n;
}

static void on_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    cz_upfetch_t *f = ud;
    (void)call;
    finish(f, f->over ? CZ_EFULL : f->nomem ? CZ_ENOMEM : err, info);
}

static const cz_call_cbs_t fetch_cbs = {.on_head = on_head, .on_body = on_body, .on_done = on_done};

static size_t str_bytes(cz_str_t s) { return s.p ? s.n : 0; }

/* Copy s to *w (advancing it); an absent string stays absent. */
static cz_str_t put(char **w, cz_str_t s)
{
    if (!s.p)
        return s;
    cz_str_t out = {*w, s.n};
    if (s.n)
        memcpy(*w, s.p, s.n);
    *w += s.n;
    return out;
}

/* Bytes the request copy needs after the struct: header arrays, then every string. */
static size_t req_bytes(const cz_upstream_req_t *rq)
{
    const cz_client_req_t *h = &rq->http;
    size_t bytes = 2 * h->nheaders * sizeof(cz_str_t) + str_bytes(h->method) +
                   str_bytes(h->target) + str_bytes(h->body) + str_bytes(rq->key);
    for (size_t i = 0; i < h->nheaders; i++)
        bytes += str_bytes(h->hname[i]) + str_bytes(h->hvalue[i]);
    return bytes;
}

/* Deep copy of the request into block: the caller's strings may die at once. */
static void copy_req(cz_upfetch_t *f, const cz_upstream_req_t *rq, char *block)
{
    const cz_client_req_t *h = &rq->http;
    size_t n = h->nheaders;
    cz_str_t *hn = (cz_str_t *)(void *)block, *hv = hn + n;
    char *w = block + 2 * n * sizeof(cz_str_t);
    f->rq = *rq;
    cz_client_req_t *c = &f->rq.http;
    c->method = put(&w, h->method);
    c->target = put(&w, h->target);
    c->body = put(&w, h->body);
    f->rq.key = put(&w, rq->key);
    for (size_t i = 0; i < n; i++) {
        hn[i] = put(&w, h->hname[i]);
        hv[i] = put(&w, h->hvalue[i]);
    }
    c->hname = n ? hn : NULL;
    c->hvalue = n ? hv : NULL;
    c->addr = NULL; /* the upstream picks it */
}

int cz_upstream_fetch(cz_upstream_t *u, cz_client_t *c, const cz_upstream_req_t *rq,
                      size_t max_body, cz_fetch_fn cb, void *ud, cz_upfetch_t **out)
{
    if (!u || !c || !rq || !cb || rq->http.body_stream ||
        (rq->http.nheaders && (!rq->http.hname || !rq->http.hvalue)))
        return CZ_EARG;
    size_t rq_off = ALIGN_UP(sizeof(cz_upfetch_t));
    cz_upfetch_t *f = malloc(rq_off + req_bytes(rq) + 1);
    if (!f)
        return CZ_ENOMEM;
    memset(f, 0, sizeof *f);
    f->cb = cb;
    f->ud = ud;
    f->max = max_body ? max_body : DEFAULT_MAX_BODY;
    copy_req(f, rq, (char *)f + rq_off);
    int rc = cz_upstream_call(u, c, &f->rq, &fetch_cbs, f, &f->uc);
    if (rc != 0) {
        dispose(f);
        return rc;
    }
    if (out)
        *out = f;
    return 0;
}

void cz_upfetch_cancel(cz_upfetch_t *f)
{
    if (!f)
        return;
    cz_upcall_cancel(f->uc);
    dispose(f);
}
