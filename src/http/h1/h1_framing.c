/* SPDX-License-Identifier: MIT
 *
 * h1_framing.c: the RFC 9112 checks of a request head that strict llhttp 8.1 lets through, as
 * strict as nginx, and the rewrite of an absolute-form target. h1_conn.c's parser callbacks call
 * them: a header line folded onto the previous one (obs-fold), an HTTP/1.1 request without
 * exactly one valid Host, a Transfer-Encoding other than exactly one "chunked", a bad
 * absolute-form target. Each answer (400, 501) is given by h1_conn.c, before any handler runs, and
 * the connection closes after it; so a request a proxy could not pass on as received (or that a
 * peer in front might frame otherwise) never reaches a handler or an upstream.
 *
 * What this file is not: what llhttp itself refuses (CL with TE, two Content-Lengths, bad chunk
 * sizes, CR/LF/NUL in values), header-name syntax, the version (h1_conn.c), routing (exchange/request.c).
 */
#include <arpa/inet.h>
#include <string.h>
#include "http/http_int.h"

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static inline bool name_is(const char *p, uint32_t n, const char *lower, uint32_t ln)
{
    if (n != ln)
        return false;
    for (uint32_t k = 0; k < n; k++)
        if ((p[k] | 0x20) != lower[k])
            return false;
    return true;
}

/* Transfer-Encoding must be exactly "chunked" (any case), as nginx: SP around it is OWS, but a
 * list ("identity, chunked"), another coding or a HTAB is refused (501), since a peer in front
 * may read such a value otherwise and frame the body differently. llhttp already stripped
 * leading OWS from the value, so the bytes from the colon are looked at. */
static bool te_is_chunked(cz_conn_t *c, uint32_t i)
{
    if (!c->hvl[i])
        return false;
    const char *base = c->buf + c->req_start;
    const char *v = base + c->hno[i] + c->hnl[i] + 1, *e = base + c->hvo[i] + c->hvl[i];
    while (v < e && *v == ' ')
        v++;
    while (e > v && e[-1] == ' ')
        e--;
    return name_is(v, (uint32_t)(e - v), "chunked", 7);
}

/* llhttp refused a Transfer-Encoding while parsing the headers: a coding after "chunked" in one
 * value is not exactly "chunked" (501); a second Transfer-Encoding line is a repeated framing
 * header, like two Content-Lengths (400). */
int cz__framing_te_refused(cz_conn_t *c)
{
    const char *base = c->buf + c->req_start;
    int n = 0;
    for (uint32_t i = 0; i < c->nh; i++)
        n += name_is(base + c->hno[i], c->hnl[i], "transfer-encoding", 17);
    return n > 1 ? 400 : 501;
}

bool cz__framing_folded(cz_conn_t *c, bool first, const char *at, size_t n)
{
    /* llhttp passes a continuation line on as more of the value. Between the colon (or the
     * previous piece) and this piece lie only OWS and line ends, and llhttp places an empty
     * value after its own line's LF: so a LF before a piece with bytes, or two before an empty
     * one, is a fold. In the header block the whole head stays in the buffer from req_start. */
    uint32_t i = c->nh - 1;
    const char *base = c->buf + c->req_start;
    const char *q = base + (first ? c->hno[i] + c->hnl[i] : c->hvo[i] + c->hvl[i]);
    unsigned lf = 0;
    for (; q < at; q++)
        lf += *q == '\n';
    return lf > (n == 0);
}

/* reg-name characters besides '%' (RFC 3986 unreserved / sub-delims) */
static const bool reg_name_ch[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['!'] = 1, ['$'] = 1, ['&'] = 1, ['\''] = 1,
    ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1, [','] = 1, [';'] = 1, ['='] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

bool cz__host_valid(const char *p, size_t n)
{
    size_t i = 0;
    if (n && p[0] == '[') { /* IP-literal: an IPv6 address (IPvFuture is not served) */
        const char *close = memchr(p, ']', n);
        char a[INET6_ADDRSTRLEN];
        struct in6_addr in6;
        size_t an = close ? (size_t)(close - p - 1) : 0;
        if (!an || an >= sizeof a)
            return false;
        memcpy(a, p + 1, an);
        a[an] = '\0';
        if (inet_pton(AF_INET6, a, &in6) != 1)
            return false;
        i = an + 2;
    } else { /* reg-name (an IPv4 address is one); nginx refuses an empty label ("a..b") */
        for (; i < n && p[i] != ':'; i++) {
            unsigned char ch = (unsigned char)p[i];
            if (ch == '%') {
                if (i + 2 >= n || hexval((unsigned char)p[i + 1]) < 0 ||
                    hexval((unsigned char)p[i + 2]) < 0)
                    return false;
                i += 2;
            } else if (!reg_name_ch[ch] || (ch == '.' && i && p[i - 1] == '.')) {
                return false;
            }
        }
        if (i == 0)
            return false;
    }
    if (i == n)
        return true;
    if (p[i] != ':' || n - i - 1 > 5) /* port = *DIGIT, at most 65535's five */
        return false;
    for (i++; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

int cz__req_absolute(cz_req_t *r, int host_i)
{
    cz_str_t t = r->target;
    size_t sn = t.n > 7 && strncasecmp(t.p, "http://", 7) == 0     ? 7
                : t.n > 8 && strncasecmp(t.p, "https://", 8) == 0 ? 8
                                                                    : 0;
    if (!sn)
        return 400; /* another scheme, or not a URI at all */
    size_t e = sn;
    while (e < t.n && t.p[e] != '/' && t.p[e] != '?')
        e++;
    cz_str_t auth = {t.p + sn, e - sn};
    if (!cz__host_valid(auth.p, auth.n)) /* empty, userinfo ('@'), or not a host[:port] */
        return 400;
    cz_str_t rest = {t.p + e, t.n - e};
    if (rest.n == 0 || rest.p[0] == '?') { /* "http://a" and "http://a?q" mean "/" and "/?q" */
        char *o = cz_arena_alloc(&r->arena, rest.n + 1);
        if (!o)
            return 503;
        o[0] = '/';
        memcpy(o + 1, rest.p, rest.n);
        rest = (cz_str_t){o, rest.n + 1};
    }
    r->target = rest;
    if (host_i >= 0) {
        r->hvalue[host_i] = auth;
    } else { /* HTTP/1.0 without a Host header: the exchange still sees one */
        if (r->nheaders == CZ__MAX_HEADERS)
            return 431;
        r->hname[r->nheaders] = CZ_STR("Host");
        r->hvalue[r->nheaders++] = auth;
    }
    return 0;
}

int cz__framing_head(cz_conn_t *c)
{
    cz_req_t *r = &c->req;
    int host_i = -1, te_i = -1, nhost = 0, nte = 0;
    for (uint32_t i = 0; i < r->nheaders; i++) {
        cz_str_t n = r->hname[i];
        if (n.n == 4 && name_is(n.p, 4, "host", 4)) {
            host_i = (int)i;
            nhost++;
        } else if (n.n == 17 && name_is(n.p, 17, "transfer-encoding", 17)) {
            te_i = (int)i;
            nte++;
        }
    }
    /* RFC 9112 3.2: an HTTP/1.1 request has exactly one Host, and a valid one (HTTP/1.0 may
     * have none); with two, one could route the request and the other be forwarded */
    if (nhost > 1 || (nhost == 0 && r->version >= 11) ||
        (host_i >= 0 && !cz__host_valid(r->hvalue[host_i].p, r->hvalue[host_i].n)))
        return 400;
    /* RFC 9112 6.1: HTTP/1.0 has no Transfer-Encoding (nginx refuses it too); a repeated one is
     * a repeated framing header, like two Content-Lengths */
    if (nte > 1 || (nte && r->version < 11))
        return 400;
    if (nte && !te_is_chunked(c, (uint32_t)te_i))
        return 501;
    if (r->target.n && r->target.p[0] != '/' && r->target.p[0] != '*')
        return cz__req_absolute(r, host_i);
    return 0;
}
