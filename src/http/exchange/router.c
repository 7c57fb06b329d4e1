/* SPDX-License-Identifier: MIT
 *
 * router.c: go-zero's pattern router (rest/router/patrouter.go + core/search/tree.go) in C.
 *
 * One segment tree per method. A node has a sorted array of static children and at most one
 * parameter child: unlike go-zero, which keys parameter children by ":name" in a map, the tree is
 * keyed by shape only and each route keeps its own parameter names, so /a/:x/b and /a/:y/c share
 * a node and /a/:x vs /a/:y is a duplicate (go-zero would keep both and pick one at random).
 * Search tries the static child first and falls back to the parameter child, backtracking as
 * go-zero's recursive next() does. Everything the router owns lives in one arena freed at once.
 * One addition to go-zero: a last segment "*name" captures the rest of the path (one or more
 * segments, e.g. "css/site.css"), tried after the static and parameter children; static file
 * serving needs it, and it is how httprouter spells the same thing.
 * The search itself never allocates and only reads, so lookups may run on many threads.
 * Not here: request handling, HEAD->GET fallback, case-insensitive paths (go-zero option).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/arena.h"
#include "czero/router.h"
#include "internal.h"

typedef struct node node_t;

typedef struct edge {
    uint32_t len;
    const char *seg; /* arena copy, not NUL-terminated */
    node_t *child;
} edge_t;

typedef struct route {
    void *data;
    const char *pattern; /* cleaned, NUL-terminated */
    unsigned nparams;
    cz_str_t names[];
} route_t;

struct node {
    edge_t *stat; /* sorted by (len, bytes) */
    uint32_t nstat, cap;
    node_t *param;
    route_t *route;
    route_t *wild; /* "*name" as the last segment below this node */
};

typedef struct mtree {
    cz_str_t name; /* NUL-terminated arena copy */
    node_t root;
} mtree_t;

/* Standard methods get a slot found by a switch, so the common lookup is a couple of compares. */
enum { M_GET, M_HEAD, M_POST, M_PUT, M_PATCH, M_DELETE, M_OPTIONS, M_CONNECT, M_TRACE, M_NFAST };

struct cz_router {
    cz_arena_t arena;
    mtree_t **trees; /* sorted by name: the Allow header is a straight walk */
    unsigned ntrees, cap;
    mtree_t *fast[M_NFAST];
    void *not_found, *not_allowed;
};

/* Segments at or below this many static children are scanned; above it, binary search. */
#define LINEAR_MAX 8

static int fast_index(const char *p, size_t n)
{
#define IS(lit) (memcmp(p, lit, sizeof(lit) - 1) == 0)
    switch (n) {
    case 3:
        return IS("GET") ? M_GET : IS("PUT") ? M_PUT : -1;
    case 4:
        return IS("POST") ? M_POST : IS("HEAD") ? M_HEAD : -1;
    case 5:
        return IS("PATCH") ? M_PATCH : IS("TRACE") ? M_TRACE : -1;
    case 6:
        return IS("DELETE") ? M_DELETE : -1;
    case 7:
        return IS("OPTIONS") ? M_OPTIONS : IS("CONNECT") ? M_CONNECT : -1;
    default:
        return -1;
    }
#undef IS
}

static const mtree_t *tree_for(const cz_router_t *r, cz_str_t method)
{
    int i = fast_index(method.p, method.n);
    if (i >= 0)
        return r->fast[i];
    for (unsigned k = 0; k < r->ntrees; k++)
        if (cz_str_eq(r->trees[k]->name, method))
            return r->trees[k];
    return NULL;
}

static int seg_cmp(uint32_t alen, const char *a, uint32_t blen, const char *b)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

/* Index of the static child equal to seg, or -1; with ins non-NULL, where it would go. */
static int find_edge(const node_t *n, const char *seg, uint32_t len, uint32_t *ins)
{
    if (n->nstat <= LINEAR_MAX && !ins) {
        for (uint32_t i = 0; i < n->nstat; i++) {
            const edge_t *e = &n->stat[i];
            if (e->len == len && e->seg[0] == seg[0] && memcmp(e->seg, seg, len) == 0)
                return (int)i;
        }
        return -1;
    }
    uint32_t lo = 0, hi = n->nstat;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = seg_cmp(n->stat[mid].len, n->stat[mid].seg, len, seg);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (ins)
        *ins = lo;
    return -1;
}

/*
 * Match the segments of [p, end) below n. p is just after a '/'. An empty segment (from "//" or
 * a trailing '/') matches nothing, so only a cleaned path can match. Static first, then the
 * parameter child: this is go-zero's children[0]-before-children[1] order with backtracking.
 */
static const route_t *search(const node_t *n, const char *p, const char *end, cz_str_t *vals,
                             unsigned k)
{
    const char *q = p;
    while (q < end && *q != '/')
        q++;
    uint32_t len = (uint32_t)(q - p);
    if (len == 0 || (size_t)(q - p) != len)
        return NULL;
    int last = q == end;
    if (n->nstat) {
        int i = find_edge(n, p, len, NULL);
        if (i >= 0) {
            const node_t *c = n->stat[i].child;
            const route_t *rt = last ? c->route : search(c, q + 1, end, vals, k);
            if (rt)
                return rt;
        }
    }
    if (n->param && k < CZ_ROUTER_MAX_PARAMS) {
        vals[k] = (cz_str_t){p, len};
        const route_t *rt = last ? n->param->route : search(n->param, q + 1, end, vals, k + 1);
        if (rt)
            return rt;
    }
    if (n->wild && k < CZ_ROUTER_MAX_PARAMS) {
        vals[k] = (cz_str_t){p, (size_t)(end - p)};
        return n->wild;
    }
    return NULL;
}

static const route_t *lookup(const mtree_t *t, cz_str_t path, cz_str_t *vals)
{
    if (path.n == 0 || path.p[0] != '/')
        return NULL;
    if (path.n == 1)
        return t->root.route;
    return search(&t->root, path.p + 1, path.p + path.n, vals, 0);
}

cz_router_t *cz_router_new(void)
{
    cz_router_t *r = calloc(1, sizeof *r);
    if (r)
        cz_arena_init(&r->arena, 8192);
    return r;
}

void cz_router_free(cz_router_t *r)
{
    if (!r)
        return;
    cz_arena_dispose(&r->arena);
    free(r);
}

void cz_router_set_not_found(cz_router_t *r, void *data) { r->not_found = data; }
void cz_router_set_not_allowed(cz_router_t *r, void *data) { r->not_allowed = data; }

int cz_router_find(const cz_router_t *r, cz_str_t method, cz_str_t path, cz_route_match_t *m)
{
    cz_str_t vals[CZ_ROUTER_MAX_PARAMS];
    const mtree_t *t = tree_for(r, method);
    const route_t *rt = t ? lookup(t, path, vals) : NULL;
    if (cz__likely(rt != NULL)) {
        m->data = rt->data;
        m->pattern = rt->pattern;
        m->nparams = rt->nparams;
        for (unsigned i = 0; i < rt->nparams; i++) {
            m->params[i].name = rt->names[i];
            m->params[i].value = vals[i];
        }
        return 0;
    }
    m->pattern = NULL;
    m->nparams = 0;
    for (unsigned i = 0; i < r->ntrees; i++) {
        if (r->trees[i] != t && lookup(r->trees[i], path, vals)) {
            m->data = r->not_allowed;
            return CZ_ROUTER_NOT_ALLOWED;
        }
    }
    m->data = r->not_found;
    return CZ_ENOTFOUND;
}

size_t cz_router_allowed(const cz_router_t *r, cz_str_t path, char *buf, size_t size)
{
    cz_str_t vals[CZ_ROUTER_MAX_PARAMS];
    size_t n = 0;
    for (unsigned i = 0; i < r->ntrees; i++) {
        const mtree_t *t = r->trees[i];
        if (!lookup(t, path, vals))
            continue;
        /* Go joins with allowMethodSeparator = ", " (patrouter.go). */
        const char *sep = n ? ", " : "";
        size_t need = strlen(sep) + t->name.n;
        if (n + need < size) {
            memcpy(buf + n, sep, strlen(sep));
            memcpy(buf + n + strlen(sep), t->name.p, t->name.n);
        } else if (n < size) {
            size_t room = size - 1 - n, s = cz__min(room, strlen(sep));
            memcpy(buf + n, sep, s);
            memcpy(buf + n + s, t->name.p, room - s);
        }
        n += need;
    }
    if (size)
        buf[cz__min(n, size - 1)] = '\0';
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Registration                                                                               */

/* RFC 9110 tchar: what an HTTP method token may contain. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static mtree_t *tree_get_or_add(cz_router_t *r, const char *method, size_t len)
{
    cz_str_t name = {method, len};
    unsigned pos = 0;
    while (pos < r->ntrees) {
        int c = strcmp(r->trees[pos]->name.p, method);
        if (c == 0)
            return r->trees[pos];
        if (c > 0)
            break;
        pos++;
    }
    if (r->ntrees == r->cap) {
        /* Arena memory is not freed one block at a time: the old array is simply abandoned,
         * which costs at most twice the final size, once, at startup. */
        unsigned cap = r->cap ? r->cap * 2 : 8;
        mtree_t **a = cz_arena_alloc(&r->arena, cap * sizeof *a);
        if (!a)
            return NULL;
        if (r->ntrees)
            memcpy(a, r->trees, r->ntrees * sizeof *a);
        r->trees = a;
        r->cap = cap;
    }
    mtree_t *t = cz_arena_calloc(&r->arena, sizeof *t);
    if (!t)
        return NULL;
    t->name = cz_arena_strdup(&r->arena, name);
    if (!t->name.p)
        return NULL;
    memmove(&r->trees[pos + 1], &r->trees[pos], (r->ntrees - pos) * sizeof *r->trees);
    r->trees[pos] = t;
    r->ntrees++;
    int fi = fast_index(method, len);
    if (fi >= 0)
        r->fast[fi] = t;
    return t;
}

static node_t *static_child(cz_router_t *r, node_t *n, const char *seg, uint32_t len)
{
    uint32_t at = 0;
    int i = find_edge(n, seg, len, &at);
    if (i >= 0)
        return n->stat[i].child;
    if (n->nstat == n->cap) {
        uint32_t cap = n->cap ? n->cap * 2 : 4;
        edge_t *a = cz_arena_alloc(&r->arena, cap * sizeof *a);
        if (!a)
            return NULL;
        if (n->nstat)
            memcpy(a, n->stat, n->nstat * sizeof *a);
        n->stat = a;
        n->cap = cap;
    }
    node_t *c = cz_arena_calloc(&r->arena, sizeof *c);
    char *s = cz_arena_alloc(&r->arena, len);
    if (!c || !s)
        return NULL;
    memcpy(s, seg, len);
    memmove(&n->stat[at + 1], &n->stat[at], (n->nstat - at) * sizeof *n->stat);
    n->stat[at] = (edge_t){len, s, c};
    n->nstat++;
    return c;
}

static int fail(cz_diag_t *d, int code, const char *fmt, const char *method, const char *pattern,
                const char *extra)
{
    if (d)
        cz_diag_set(d, NULL, 0, 0, "route", fmt, method, pattern, extra);
    return code;
}

/* Parameter names of a cleaned pattern, checked; returns the count or a negative code. */
static int scan_params(const char *pat, size_t n, cz_str_t *names, const char **why)
{
    unsigned k = 0;
    for (size_t i = 1; i < n;) {
        size_t j = i;
        while (j < n && pat[j] != '/')
            j++;
        if (pat[i] == '*' && j < n)
            return *why = "a '*' segment must be the last one", CZ_EARG;
        if (pat[i] == ':' || pat[i] == '*') {
            cz_str_t name = {pat + i + 1, j - i - 1};
            if (name.n == 0)
                return *why = "empty parameter name", CZ_EARG;
            for (unsigned a = 0; a < k; a++)
                if (cz_str_eq(names[a], name))
                    return *why = "parameter name used twice", CZ_EARG;
            if (k == CZ_ROUTER_MAX_PARAMS)
                return *why = "more than CZ_ROUTER_MAX_PARAMS parameters", CZ_EARG;
            names[k++] = name;
        }
        i = j + 1;
    }
    return (int)k;
}

int cz_router_add(cz_router_t *r, const char *method, const char *pattern, void *data,
                  cz_diag_t *d)
{
    if (!r || !method || !pattern)
        return fail(d, CZ_EARG, "%s %s: %s", method ? method : "(null)",
                    pattern ? pattern : "(null)", "NULL argument");
    size_t mlen = strlen(method);
    if (mlen == 0)
        return fail(d, CZ_EARG, "%s%s: %s", method, pattern, "empty method");
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)method[i]))
            return fail(d, CZ_EARG, "%s %s: %s", method, pattern, "method is not an HTTP token");
    size_t plen = strlen(pattern);
    if (plen == 0 || pattern[0] != '/') /* go-zero: ErrInvalidPath */
        return fail(d, CZ_EARG, "%s %s: %s", method, pattern, "path must begin with '/'");
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = (unsigned char)pattern[i];
        if (c < 0x20 || c == 0x7f)
            return fail(d, CZ_EARG, "%s %s: %s", method, pattern, "control byte in path");
    }

    /* go-zero registers path.Clean(pattern). */
    char *clean = cz_arena_alloc(&r->arena, plen + 1);
    if (!clean)
        return fail(d, CZ_ENOMEM, "%s %s: %s", method, pattern, "out of memory");
    size_t cn = cz_path_clean(pattern, plen, clean);
    clean[cn] = '\0';

    cz_str_t names[CZ_ROUTER_MAX_PARAMS];
    const char *why = NULL;
    int np = scan_params(clean, cn, names, &why);
    if (np < 0)
        return fail(d, np, "%s %s: %s", method, pattern, why);

    mtree_t *t = tree_get_or_add(r, method, mlen);
    if (!t)
        return fail(d, CZ_ENOMEM, "%s %s: %s", method, pattern, "out of memory");
    node_t *n = &t->root;
    route_t **slot = NULL;
    for (size_t i = 1; i < cn;) {
        size_t j = i;
        while (j < cn && clean[j] != '/')
            j++;
        if (clean[i] == '*') { /* the last segment (scan_params checked) */
            slot = &n->wild;
            break;
        }
        if (clean[i] == ':') {
            if (!n->param && !(n->param = cz_arena_calloc(&r->arena, sizeof *n->param)))
                return fail(d, CZ_ENOMEM, "%s %s: %s", method, pattern, "out of memory");
            n = n->param;
        } else if (!(n = static_child(r, n, clean + i, (uint32_t)(j - i)))) {
            return fail(d, CZ_ENOMEM, "%s %s: %s", method, pattern, "out of memory");
        }
        i = j + 1;
    }
    if (!slot)
        slot = &n->route;
    if (*slot) /* go-zero: "duplicated item for %s" */
        return fail(d, CZ_EDUPLICATE, "%s %s: duplicate route, same shape as %s", method,
                    clean, (*slot)->pattern);

    route_t *rt = cz_arena_alloc(&r->arena, sizeof *rt + (size_t)np * sizeof rt->names[0]);
    if (!rt)
        return fail(d, CZ_ENOMEM, "%s %s: %s", method, pattern, "out of memory");
    rt->data = data;
    rt->pattern = clean;
    rt->nparams = (unsigned)np;
    memcpy(rt->names, names, (size_t)np * sizeof names[0]); /* views into `clean` */
    *slot = rt;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Groups: go-zero rest.WithPrefix joins with path.Join(prefix, route.Path).                  */

int cz_route_group_init(cz_route_group_t *g, cz_router_t *r, const cz_route_group_t *parent,
                        const char *prefix, cz_diag_t *d)
{
    if (!prefix || prefix[0] != '/')
        return fail(d, CZ_EARG, "%s%s: %s", "group ", prefix ? prefix : "(null)",
                    "prefix must begin with '/'");
    size_t base = parent ? parent->n : 0, pn = strlen(prefix);
    if (base + pn >= CZ_ROUTER_MAX_PREFIX)
        return fail(d, CZ_EARG, "%s%s: %s", "group ", prefix, "prefix too long");
    char tmp[CZ_ROUTER_MAX_PREFIX];
    if (base)
        memcpy(tmp, parent->prefix, base);
    memcpy(tmp + base, prefix, pn);
    g->router = parent ? parent->router : r;
    g->n = cz_path_clean(tmp, base + pn, g->prefix);
    if (g->n == 1)
        g->n = 0; /* "/" adds nothing: joining with it would only add a slash to clean away */
    g->prefix[g->n] = '\0';
    return 0;
}

int cz_route_group_add(const cz_route_group_t *g, const char *method, const char *pattern,
                       void *data, cz_diag_t *d)
{
    if (!pattern || pattern[0] != '/')
        return cz_router_add(g->router, method, pattern, data, d); /* reports the error */
    size_t pn = strlen(pattern);
    char stackbuf[512], *buf = stackbuf;
    if (g->n + pn + 1 > sizeof stackbuf && !(buf = malloc(g->n + pn + 1)))
        return fail(d, CZ_ENOMEM, "%s %s: %s", method ? method : "", pattern, "out of memory");
    memcpy(buf, g->prefix, g->n);
    memcpy(buf + g->n, pattern, pn + 1);
    int rc = cz_router_add(g->router, method, buf, data, d);
    if (buf != stackbuf)
        free(buf);
    return rc;
}
