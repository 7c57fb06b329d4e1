/* SPDX-License-Identifier: MIT
 *
 * proxy_headers.c: what the reverse proxy changes in the headers and target it passes on.
 *
 * Hop-by-hop headers stay on their hop (RFC 9110 7.6.1: Connection and every header it names,
 * plus Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade, as nginx and Envoy drop
 * them). Content-Length and Expect go too: the client frames the body it actually sends and the
 * engine already answered "100 Continue". The proxy then adds what a backend needs to see past
 * it: X-Forwarded-For with the client's address appended, X-Forwarded-Proto (https when the
 * client came over TLS), X-Forwarded-Host,
 * X-Request-Id (kept, or made up), and the traceparent of the gateway's own span so the backend's
 * span is its child in the same trace. cz__proxy_request puts method, target and headers
 * together as the upstream request (the proxy handler's and the forwarding fuzz target's).
 * Everything lives in the request arena.
 */
#include <stdio.h>
#include <string.h>
#include "czero/trace.h"
#include "gw_int.h"

#define ieq(a, lit) cz_str_ieq((a), CZ_STR(lit)) /* the literal's length is a constant */

bool cz__hop_by_hop(cz_str_t n)
{
    switch (n.n) {
    case 2: return ieq(n, "TE");
    case 7: return ieq(n, "Trailer") || ieq(n, "Upgrade");
    case 8: return ieq(n, "Trailers");
    case 10: return ieq(n, "Connection") || ieq(n, "Keep-Alive");
    case 17: return ieq(n, "Transfer-Encoding");
    default: return n.n > 6 && cz_str_ieq((cz_str_t){n.p, 6}, CZ_STR("Proxy-"));
    }
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

bool cz__conn_names(cz_str_t conn, cz_str_t name)
{
    size_t i = 0;
    while (i < conn.n) {
        while (i < conn.n && (is_ows(conn.p[i]) || conn.p[i] == ','))
            i++;
        size_t s = i;
        while (i < conn.n && conn.p[i] != ',')
            i++;
        size_t e = i;
        while (e > s && is_ows(conn.p[e - 1]))
            e--;
        if (e > s && cz_str_ieq((cz_str_t){conn.p + s, e - s}, name))
            return true;
    }
    return false;
}

uint64_t cz__conn_lens(cz_str_t conn)
{
    uint64_t lens = 0;
    size_t i = 0;
    while (i < conn.n) { /* the same split as cz__conn_names */
        while (i < conn.n && (is_ows(conn.p[i]) || conn.p[i] == ','))
            i++;
        size_t s = i;
        while (i < conn.n && conn.p[i] != ',')
            i++;
        size_t e = i;
        while (e > s && is_ows(conn.p[e - 1]))
            e--;
        if (e > s)
            lens |= 1ull << (e - s < 63 ? e - s : 63);
    }
    return lens;
}

cz_str_t cz__remote_ip(cz_str_t r)
{
    if (r.n && r.p[0] == '[') {
        const char *close = memchr(r.p, ']', r.n);
        if (close)
            return (cz_str_t){r.p + 1, (size_t)(close - r.p - 1)};
        return r;
    }
    for (size_t i = r.n; i > 0; i--)
        if (r.p[i - 1] == ':')
            return (cz_str_t){r.p, i - 1};
    return r;
}

cz_str_t cz__proxy_target(cz_arena_t *a, cz_str_t t, const char *strip, const char *rewrite)
{
    size_t sn = strip ? strlen(strip) : 0;
    /* the prefix must end at a segment boundary: /api strips /api/x and /api?q, not /apix */
    if (sn == 0 || t.n < sn || memcmp(t.p, strip, sn) != 0 ||
        (t.n > sn && strip[sn - 1] != '/' && t.p[sn] != '/' && t.p[sn] != '?'))
        return t;
    cz_str_t rest = {t.p + sn, t.n - sn};
    size_t rn = rewrite ? strlen(rewrite) : 0;
    /* one slash between the new prefix and the rest, and a target never empty */
    bool rw_slash = rn && rewrite[rn - 1] == '/';
    bool rest_slash = rest.n && rest.p[0] == '/';
    if (rw_slash && rest_slash) {
        rest.p++;
        rest.n--;
        rest_slash = false;
    }
    bool add_slash = (rn == 0 && !rest_slash) ||
                     (rn && !rw_slash && rest.n && !rest_slash && rest.p[0] != '?');
    size_t len = rn + add_slash + rest.n;
    char *p = cz_arena_alloc(a, len + 1);
    if (!p)
        return CZ_STR_NULL;
    memcpy(p, rewrite ? rewrite : "", rn);
    size_t k = rn;
    if (add_slash)
        p[k++] = '/';
    memcpy(p + k, rest.p, rest.n);
    k += rest.n;
    p[k] = '\0';
    return (cz_str_t){p, k};
}

cz_str_t cz__cookie_value(cz_str_t ck, cz_str_t name)
{
    size_t i = 0;
    while (i < ck.n) {
        while (i < ck.n && (ck.p[i] == ' ' || ck.p[i] == ';'))
            i++;
        size_t s = i;
        while (i < ck.n && ck.p[i] != '=' && ck.p[i] != ';')
            i++;
        cz_str_t k = {ck.p + s, i - s};
        if (i >= ck.n || ck.p[i] != '=') {
            continue;
        }
        i++;
        size_t vs = i;
        while (i < ck.n && ck.p[i] != ';')
            i++;
        size_t ve = i;
        while (ve > vs && ck.p[ve - 1] == ' ')
            ve--;
        if (cz_str_eq(k, name))
            return (cz_str_t){ck.p + vs, ve - vs};
    }
    return CZ_STR_NULL;
}

/* "a, b" in the arena (no printf on the hot path). */
static cz_str_t join(cz_arena_t *a, cz_str_t x, cz_str_t y)
{
    char *p = cz_arena_alloc(a, x.n + 2 + y.n);
    if (!p)
        return CZ_STR_NULL;
    memcpy(p, x.p, x.n);
    p[x.n] = ',';
    p[x.n + 1] = ' ';
    memcpy(p + x.n + 2, y.p, y.n);
    return (cz_str_t){p, x.n + 2 + y.n};
}

int cz__proxy_headers(cz_req_t *req, cz_arena_t *a, cz__fwd_headers_t *out)
{
    size_t nin = cz_req_header_count(req);
    size_t cap = nin + 6;
    cz_str_t *nm = cz_arena_alloc(a, cap * sizeof *nm);
    cz_str_t *vl = cz_arena_alloc(a, cap * sizeof *vl);
    if (!nm || !vl)
        return CZ_ENOMEM;
    cz_str_t conn = cz_req_header(req, "Connection");
    uint64_t conn_lens = conn.p ? cz__conn_lens(conn) : 0;
    cz_str_t xff = CZ_STR_NULL, rid = CZ_STR_NULL, host = CZ_STR_NULL;
    char tp[CZ_TRACEPARENT_LEN + 1];
    size_t tpn = cz_req_traceparent(req, tp);
    size_t k = 0;
    for (size_t i = 0; i < nin; i++) {
        cz_str_t n, v;
        cz_req_header_at(req, i, &n, &v);
        if (cz__hop_by_hop(n) || (cz__conn_may_name(conn_lens, n) && cz__conn_names(conn, n)))
            continue;
        switch (n.n) {
        case 4:
            if (ieq(n, "Host"))
                host = v;
            break;
        case 6:
            if (ieq(n, "Expect"))
                continue;
            break;
        case 11:
            if (ieq(n, "traceparent") && tpn)
                continue; /* replaced by the gateway's span below */
            break;
        case 12:
            if (ieq(n, "X-Request-Id")) {
                if (rid.p)
                    continue;
                rid = v;
            }
            break;
        case 14:
            if (ieq(n, "Content-Length"))
                continue;
            break;
        case 15:
            if (ieq(n, "X-Forwarded-For")) {
                /* several lines join into one list, ours appended */
                if (xff.p) {
                    xff = join(a, xff, v);
                    if (!xff.p)
                        return CZ_ENOMEM;
                } else {
                    xff = v;
                }
                continue;
            }
            break;
        case 16:
            if (ieq(n, "X-Forwarded-Host"))
                continue;
            break;
        case 17:
            if (ieq(n, "X-Forwarded-Proto"))
                continue;
            break;
        default:
            break;
        }
        nm[k] = n;
        vl[k++] = v;
    }
    cz_str_t ip = cz__remote_ip(cz_req_remote(req));
    cz_str_t f = xff.p ? join(a, xff, ip) : ip;
    if (!f.p)
        return CZ_ENOMEM;
    nm[k] = CZ_STR("X-Forwarded-For");
    vl[k++] = f;
    nm[k] = CZ_STR("X-Forwarded-Proto");
    vl[k++] = cz_req_tls(req) ? CZ_STR("https") : CZ_STR("http");
    if (host.p) {
        nm[k] = CZ_STR("X-Forwarded-Host");
        vl[k++] = host;
    }
    if (!rid.p) {
        uint8_t id[16];
        cz_trace_new_trace_id(id); /* 128 random bits, as a request id needs */
        char *h = cz_arena_alloc(a, 33);
        if (!h)
            return CZ_ENOMEM;
        cz_trace_hex(id, 16, h);
        h[32] = '\0';
        nm[k] = CZ_STR("X-Request-Id");
        vl[k++] = (cz_str_t){h, 32};
    }
    if (tpn) {
        char *t = cz_arena_alloc(a, tpn + 1);
        if (!t)
            return CZ_ENOMEM;
        memcpy(t, tp, tpn + 1);
        nm[k] = CZ_STR("traceparent");
        vl[k++] = (cz_str_t){t, tpn};
    }
    out->name = nm;
    out->value = vl;
    out->n = k;
    return 0;
}

int cz__proxy_request(cz_req_t *req, const cz_proxy_route_t *rt, cz_arena_t *a,
                      cz_client_req_t *out)
{
    cz__fwd_headers_t fh;
    if (cz__proxy_headers(req, a, &fh) != 0)
        return CZ_ENOMEM;
    cz_str_t target = cz__proxy_target(a, cz_req_target(req), rt->strip_prefix,
                                       rt->rewrite_prefix);
    if (!target.p)
        return CZ_ENOMEM;
    *out = (cz_client_req_t){.method = cz_req_method(req), .target = target, .hname = fh.name,
                             .hvalue = fh.value, .nheaders = fh.n,
                             .total_timeout_ms = rt->timeout_ms};
    return 0;
}
