/* SPDX-License-Identifier: MIT
 *
 * router.h: the HTTP router, mapping (method, path) to an opaque pointer and extracting ":name"
 * path parameters, with go-zero's patrouter semantics (rest/router/patrouter.go over
 * core/search/tree.go): one tree per method, whole-segment matching, static segments win over a
 * ":param" segment at each level with backtracking, 404 when no method knows the path, 405 with
 * an Allow list when only the method is wrong, duplicate routes rejected at startup.
 *
 * The router knows nothing about requests or handlers: the HTTP engine stores whatever it likes
 * in the `void *data` of a route and decides how to answer. In particular HEAD is NOT mapped to
 * GET here; a router with only GET /x answers HEAD /x with "not allowed" and the engine chooses
 * whether to fall back. Matching is case-sensitive (go-zero's default).
 *
 * Also here: Go's path.Clean for URL paths and a %XX decoder, which the engine applies to the
 * request target before cz_router_find() (Go's router matches the decoded, cleaned URL.Path).
 *
 * Threads: build the router (add, groups, setters) on one thread before serving; afterwards
 * cz_router_find() and cz_router_allowed() only read and may run on any number of threads.
 */
#ifndef CZERO_ROUTER_H
#define CZERO_ROUTER_H

#include <stddef.h>
#include "error.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_router cz_router_t;

/* One path parameter: name points into the router, value into the path given to find(). */
typedef struct cz_param {
    cz_str_t name, value;
} cz_param_t;

/* Most ":name" segments in one pattern; a longer pattern is rejected by cz_router_add(). */
#define CZ_ROUTER_MAX_PARAMS 16
/* Longest group prefix accepted (the prefix is copied into the group value). */
#define CZ_ROUTER_MAX_PREFIX 256

/* cz_router_find() result besides 0 (found) and CZ_ENOTFOUND: the path is routed for some other
 * method(s), so the answer is 405 with cz_router_allowed() as the Allow header. Positive on
 * purpose: it is an answer, not an error. */
#define CZ_ROUTER_NOT_ALLOWED 2

typedef struct cz_route_match {
    void *data;          /* the route's data; on 404/405 the custom handler data (or NULL) */
    const char *pattern; /* cleaned registered pattern, e.g. "/users/:id" (router-owned) */
    unsigned nparams;
    cz_param_t params[CZ_ROUTER_MAX_PARAMS]; /* in pattern order */
} cz_route_match_t;

/** New empty router, or NULL when out of memory. Free with cz_router_free(). */
CZ_EXTERN cz_router_t *cz_router_new(void);
/** Free the router and everything it owns (patterns, names). NULL is a no-op. Route data
 *  pointers are the caller's and are not touched. */
CZ_EXTERN void cz_router_free(cz_router_t *r);

/**
 * Register `data` for `method` + `pattern`.
 * method: any HTTP token (GET, POST, ..., custom ones too), case-sensitive.
 * pattern: starts with '/'; cleaned with cz_path_clean() as go-zero does ("/a/" is "/a");
 * a segment starting with ':' is a parameter capturing one non-empty path segment; a LAST segment
 * "*name" captures the rest of the path (one or more segments, without the leading '/', e.g.
 * "a/b.css"), and is tried after static and ':' routes at that level (czero addition).
 * Both strings are copied. Returns 0, or with `d` (may be NULL) filled with a message:
 * CZ_EDUPLICATE for the same method and the same shape (/a/:x and /a/:y are the same shape),
 * CZ_EARG for a bad method, a pattern not starting with '/', a control byte, an empty or repeated
 * parameter name, a '*' segment that is not the last or more than CZ_ROUTER_MAX_PARAMS
 * parameters; CZ_ENOMEM.
 */
CZ_EXTERN int cz_router_add(cz_router_t *r, const char *method, const char *pattern, void *data,
                            cz_diag_t *d);

/**
 * Look up `method` + `path`. `path` must already be unescaped and cleaned (cz_path_unescape(),
 * cz_path_clean()); an uncleaned path ("//a", "/a/") simply does not match. No allocation.
 * Returns 0 and fills m (data, pattern, params whose values point into `path`);
 * CZ_ROUTER_NOT_ALLOWED when only other methods route this path (m->data = the data set with
 * cz_router_set_not_allowed()); CZ_ENOTFOUND otherwise (m->data = cz_router_set_not_found()'s).
 */
CZ_EXTERN int cz_router_find(const cz_router_t *r, cz_str_t method, cz_str_t path,
                             cz_route_match_t *m);

/**
 * Write the Allow header value for `path` into buf: every method with a route for it, sorted,
 * separated by ", " (Go's allowMethodSeparator), NUL-terminated. Returns the full length (as
 * snprintf: may be >= size, then the output is truncated), or 0 when no method routes the path.
 */
CZ_EXTERN size_t cz_router_allowed(const cz_router_t *r, cz_str_t path, char *buf, size_t size);

/** Data returned in m->data when nothing routes the path (go-zero SetNotFoundHandler). */
CZ_EXTERN void cz_router_set_not_found(cz_router_t *r, void *data);
/** Data returned in m->data for a 405 (go-zero SetNotAllowedHandler). */
CZ_EXTERN void cz_router_set_not_allowed(cz_router_t *r, void *data);

/* A route group: routes added through it get `prefix` in front, joined as go-zero's
 * rest.WithPrefix does (path.Join(prefix, path)). A plain value; the prefix is copied. */
typedef struct cz_route_group {
    cz_router_t *router;
    size_t n;
    char prefix[CZ_ROUTER_MAX_PREFIX];
} cz_route_group_t;

/**
 * Initialise g for router r with `prefix` (must start with '/', cleaned). With parent non-NULL
 * the group nests: its prefix is parent's prefix joined with `prefix`, and r is ignored.
 * Returns 0 or CZ_EARG (bad or too long prefix, message in d).
 */
CZ_EXTERN int cz_route_group_init(cz_route_group_t *g, cz_router_t *r,
                                  const cz_route_group_t *parent, const char *prefix,
                                  cz_diag_t *d);
/** cz_router_add() with the group's prefix joined in front of `pattern`. Same return codes. */
CZ_EXTERN int cz_route_group_add(const cz_route_group_t *g, const char *method,
                                 const char *pattern, void *data, cz_diag_t *d);

/**
 * Go's path.Clean on in[0..n): collapse "//", drop ".", resolve ".." (never above the root of a
 * rooted path), drop a trailing slash except for "/". Writes the result (not NUL-terminated) to
 * out, which needs room for n + 1 bytes and may be `in` itself. Returns the length.
 * One deliberate difference: "" cleans to "/" (an empty URL path is the root), not ".".
 */
CZ_EXTERN size_t cz_path_clean(const char *in, size_t n, char *out);

/**
 * Decode %XX escapes in in[0..n) into out (room for n bytes; may be `in`). '+' stays '+' (Go's
 * url.PathUnescape). Sets *err to 1 on a truncated or non-hex escape or on %00, else 0; on
 * error the output is unspecified. Returns the decoded length.
 */
CZ_EXTERN size_t cz_path_unescape(const char *in, size_t n, char *out, int *err);

#ifdef __cplusplus
}
#endif
#endif
