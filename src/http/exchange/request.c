/* SPDX-License-Identifier: MIT
 *
 * request.c: request accessors, target parsing and routing of a parsed request.
 *
 * Headers and the target are views into the connection's read buffer; the decoded path, the
 * query parameters and the body live in the request arena. Query parameters are parsed on
 * first use: most handlers never ask.
 */
#include <string.h>
#include "http/http_int.h"
#include "czero/client.h"

void cz__req_reset(cz_req_t *r)
{
    if (r->in_to_list)
        cz__timeout_remove(r);
    cz_arena_reset(&r->arena);
    cz_conn_t *c = r->conn; /* kept: the codec's, its ops and the closed mark stay too */
    cz_worker_t *w = r->w;
    cz_arena_t a = r->arena;
    /* clear the fields a new request reads before setting; the header arrays need no clearing */
    r->method = r->target = r->path = r->query = r->body = CZ_STR_NULL;
    r->nheaders = 0;
    r->body_cap = 0;
    r->route = NULL;
    r->match.nparams = 0;
    r->match.pattern = NULL;
    r->qparams = NULL;
    r->nqparams = -1;
    r->head = r->keep_alive = r->cancelled = r->in_handler = r->async = r->blocking = false;
    r->calling = r->ended_early = false;
    r->cancel_cb = NULL;
    r->cancel_ud = NULL;
    r->mw_ctx = NULL;
    r->trace_ctx = NULL;
    r->mw_i = 0;
    r->parked = r->timed_out = r->panicked = false;
    if (r->stream_body) { /* only a stream route's request touched these */
        r->content_length = 0;
        r->body_seen = 0;
        r->body_cb = NULL;
        r->body_ud = NULL;
        r->stream_body = r->body_complete = r->body_done = r->body_paused = false;
        r->body_err = r->expect_continue = r->engine_answered = false;
    }
    memset(&r->res, 0, sizeof r->res);
    r->conn = c;
    r->w = w;
    r->arena = a;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Parse the target into path and query, decode and clean the path, find the route.
 * Returns 0 or the status to fail with (400 for a target that is not a path). */
int cz__req_route(cz_req_t *r)
{
    cz_str_t t = r->target; /* origin-form: framing.c already rewrote an absolute-form one */
    if (t.n == 0 || t.p[0] != '/')
        return r->method.n == 7 && memcmp(r->method.p, "OPTIONS", 7) == 0 && t.n == 1 &&
                       t.p[0] == '*'
                   ? 0
                   : 400;
    const char *q = memchr(t.p, '?', t.n);
    size_t plen = q ? (size_t)(q - t.p) : t.n;
    if (q)
        r->query = (cz_str_t){q + 1, t.n - plen - 1};
    const char *hash = memchr(t.p, '#', plen);
    if (hash)
        plen = (size_t)(hash - t.p);

    /* fast path: nothing to decode or clean (no '%', no "//", no "/." and no trailing '/') */
    bool simple = true;
    for (size_t i = 0; i < plen; i++) {
        char ch = t.p[i];
        if (ch == '%' || (ch == '/' && i + 1 < plen && (t.p[i + 1] == '/' || t.p[i + 1] == '.'))) {
            simple = false;
            break;
        }
    }
    if (simple && plen > 1 && t.p[plen - 1] == '/')
        simple = false;
    if (simple) {
        r->path = (cz_str_t){t.p, plen};
    } else {
        char *dec = cz_arena_alloc(&r->arena, plen + 1);
        char *clean = cz_arena_alloc(&r->arena, plen + 2);
        if (!dec || !clean)
            return 503;
        int err = 0;
        size_t dn = cz_path_unescape(t.p, plen, dec, &err);
        if (err)
            return 400;
        size_t cn = cz_path_clean(dec, dn, clean);
        r->path = (cz_str_t){clean, cn};
    }

    cz_server_t *s = r->w->srv;
    int rc = cz_router_find(s->router, r->method, r->path, &r->match);
    if (rc != 0 && r->head) /* HEAD is served by the GET route (as net/http, nginx) */
        rc = cz_router_find(s->router, CZ_STR("GET"), r->path, &r->match);
    if (rc == 0) {
        r->route = r->match.data;
    } else {
        r->route = NULL;
        r->match.nparams = 0;
    }
    return 0;
}

cz_str_t cz_req_method(const cz_req_t *r) { return r->method; }
cz_str_t cz_req_path(const cz_req_t *r) { return r->path; }
cz_str_t cz_req_target(const cz_req_t *r) { return r->target; }
cz_str_t cz_req_query_string(const cz_req_t *r) { return r->query; }
cz_str_t cz_req_body(const cz_req_t *r) { return r->body; }
int cz_req_version(const cz_req_t *r) { return r->version; }
cz_arena_t *cz_req_arena(cz_req_t *r) { return &r->arena; }
void *cz_req_loop(const cz_req_t *r) { return &r->w->loop; }
bool cz_req_cancelled(const cz_req_t *r) { return r->cancelled; }

void cz_req_on_cancel(cz_req_t *r, void (*cb)(cz_req_t *, void *), void *ud)
{
    r->cancel_cb = cb;
    r->cancel_ud = ud;
}
const char *cz_req_pattern(const cz_req_t *r) { return r->route ? r->route->pattern : ""; }

cz_str_t cz_req_remote(const cz_req_t *r) { return r->codec->remote(r); }

/* What the exchange may know of the wire: asked of the codec and its transport. */
const char *cz_req_proto(const cz_req_t *r) { return r->codec->proto(r); }

bool cz_req_tls(const cz_req_t *r)
{
    const cz__transport_t *t = r->codec->transport(r);
    return t->ops->is_tls(t);
}

const char *cz_req_tls_sni(const cz_req_t *r)
{
    const cz__transport_t *t = r->codec->transport(r);
    return t->ops->sni(t);
}

const char *cz_req_tls_peer_subject(const cz_req_t *r)
{
    const cz__transport_t *t = r->codec->transport(r);
    return t->ops->peer_subject(t);
}

cz_str_t cz_req_header(const cz_req_t *r, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < r->nheaders; i++)
        if (cz_str_ieq(r->hname[i], (cz_str_t){name, n}))
            return r->hvalue[i];
    return CZ_STR_NULL;
}

size_t cz_req_header_count(const cz_req_t *r) { return r->nheaders; }

void cz_req_header_at(const cz_req_t *r, size_t i, cz_str_t *name, cz_str_t *value)
{
    if (i >= r->nheaders) {
        *name = *value = CZ_STR_NULL;
        return;
    }
    *name = r->hname[i];
    *value = r->hvalue[i];
}

cz_str_t cz_req_param(const cz_req_t *r, const char *name)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < r->match.nparams; i++)
        if (r->match.params[i].name.n == n && memcmp(r->match.params[i].name.p, name, n) == 0)
            return r->match.params[i].value;
    return CZ_STR_NULL;
}

/* application/x-www-form-urlencoded decoding: '+' is a space, bad escapes are kept as they are
 * (Go's ParseQuery rejects the pair; keeping it is more useful than losing it). */
static cz_str_t form_decode(cz_arena_t *a, const char *p, size_t n)
{
    if (!memchr(p, '%', n) && !memchr(p, '+', n))
        return (cz_str_t){p, n};
    char *out = cz_arena_alloc(a, n + 1);
    if (!out)
        return CZ_STR_NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '+') {
            out[o++] = ' ';
        } else if (p[i] == '%' && i + 2 < n &&
                   hexval((unsigned char)p[i + 1]) >= 0 && hexval((unsigned char)p[i + 2]) >= 0) {
            out[o++] = (char)(hexval((unsigned char)p[i + 1]) * 16 + hexval((unsigned char)p[i + 2]));
            i += 2;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = '\0';
    return (cz_str_t){out, o};
}

static void parse_query(cz_req_t *r)
{
    cz_str_t q = r->query;
    int count = 0;
    for (size_t i = 0; i < q.n; i++)
        count += q.p[i] == '&' || q.p[i] == ';';
    r->qparams = cz_arena_alloc(&r->arena, sizeof(cz__qparam_t) * (size_t)(count + 1));
    r->nqparams = 0;
    if (!r->qparams || q.n == 0)
        return;
    const char *p = q.p, *end = q.p + q.n;
    while (p < end) {
        const char *amp = p;
        while (amp < end && *amp != '&')
            amp++;
        if (amp > p) {
            const char *eq = memchr(p, '=', (size_t)(amp - p));
            cz__qparam_t *qp = &r->qparams[r->nqparams++];
            if (eq) {
                qp->name = form_decode(&r->arena, p, (size_t)(eq - p));
                qp->value = form_decode(&r->arena, eq + 1, (size_t)(amp - eq - 1));
            } else {
                qp->name = form_decode(&r->arena, p, (size_t)(amp - p));
                qp->value = (cz_str_t){"", 0};
            }
        }
        p = amp + 1;
    }
}

cz_str_t cz_req_query(cz_req_t *r, const char *name)
{
    if (r->nqparams < 0)
        parse_query(r);
    size_t n = strlen(name);
    for (int i = 0; i < r->nqparams; i++)
        if (r->qparams[i].name.n == n && memcmp(r->qparams[i].name.p, name, n) == 0)
            return r->qparams[i].value;
    return CZ_STR_NULL;
}

/* A link's per-request context, by its name (the chain is built by chain.c). */
void *cz_req_mw_ctx(const cz_req_t *r, const char *name)
{
    const cz__route_t *rt = r->route;
    if (!rt || !r->mw_ctx)
        return NULL;
    for (size_t i = 0; i < rt->nchain; i++)
        if (strcmp(rt->chain[i].ops->name, name) == 0)
            return cz__chain_ctx((cz_req_t *)r, i);
    return NULL;
}

/* ---- streamed request bodies: the reading is the codec's ---- */

int cz_req_body_read(cz_req_t *r, cz_body_fn cb, void *ud)
{
    if (!cb || !r->stream_body || r->body_cb || r->res.ended)
        return CZ_EARG;
    if (r->cancelled || r->link_closed)
        return CZ_ECLOSED;
    r->body_cb = cb;
    r->body_ud = ud;
    return r->codec->body_read(r);
}

void cz_req_body_pause(cz_req_t *r)
{
    if (!r->stream_body || r->body_paused)
        return;
    r->body_paused = true;
    r->codec->body_pause(r);
}

void cz_req_body_resume(cz_req_t *r)
{
    if (!r->stream_body || !r->body_paused)
        return;
    r->body_paused = false;
    if (r->link_closed)
        return;
    r->codec->body_resume(r);
}

int64_t cz_req_content_length(const cz_req_t *r) { return r->content_length; }

struct cz_client *cz_req_client(cz_req_t *r)
{
    cz_worker_t *w = r->w;
    if (!w->client)
        w->client = cz_client_new(&w->loop, NULL);
    return w->client;
}
