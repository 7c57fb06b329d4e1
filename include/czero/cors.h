/* SPDX-License-Identifier: MIT
 *
 * cors.h: cross-origin resource sharing for a server (go-zero rest.WithCors / WithCustomCors,
 * rest/internal/cors/handlers.go).
 *
 * Two pieces, as in go-zero: a server middleware (cz_server_use) that adds the CORS headers to
 * every routed answer and answers an OPTIONS request itself with 204, and a not-allowed handler
 * (cz_server_set_not_allowed) so that a preflight OPTIONS to a path that has routes for other
 * methods only (the usual case) is 204 with the headers instead of 405; other methods there get
 * 404, as go-zero's cors.NotAllowedHandler answers. Paths with no route at all pass the CORS
 * link too (go-zero 1.6 and later wrap the whole router): a preflight there is 204, and the 404
 * carries the headers.
 *
 * The middleware is an outer link (CZ_MW_OUTER, middleware.h): it runs before maxconns, the
 * breaker, shedding, timeout and JWT, so their early answers (401, 503) and a 413 for a body
 * over MaxBytes carry the headers too, as behind go-zero's corsRouter, and an OPTIONS route is
 * answered 204 without a token.
 *
 * Headers (go-zero's constants): Vary: Origin (plus Vary: Access-Control-Request-Method and
 * Vary: Access-Control-Request-Headers on OPTIONS) always; then, when the origin is allowed,
 *   Access-Control-Allow-Origin: <the request's Origin>, or "*" when no origins were given
 *   Access-Control-Allow-Methods: GET, HEAD, POST, PATCH, PUT, DELETE
 *   Access-Control-Allow-Headers: Content-Type, Origin, X-CSRF-Token, Authorization,
 *                                 AccessToken, Token, Range
 *   Access-Control-Expose-Headers: Content-Length, Access-Control-Allow-Origin,
 *                                  Access-Control-Allow-Headers
 *   Access-Control-Allow-Credentials: true   (not with "*")
 *   Access-Control-Max-Age: 86400
 * An origin is allowed when the list holds "*", the origin itself, or a parent domain of it
 * ("example.com" allows "http://api.example.com"), compared case-insensitively. A disallowed
 * origin gets only the Vary headers: the browser then refuses the answer.
 */
#ifndef CZERO_CORS_H
#define CZERO_CORS_H

#include <stddef.h>
#include "error.h"
#include "response.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/** go-zero's middlewareFn(header): called on every routed request after the CORS headers are
 *  set, to add or change headers on res. Runs on the request's loop thread. */
typedef void (*cz_cors_header_fn)(cz_res_t *res, void *ud);
/** go-zero's notAllowedFn(w): called by the not-allowed handler after the CORS headers are set.
 *  It may add headers, write a body, or set a status with cz_res_status() (which then wins over
 *  the default 204 for OPTIONS / 404 otherwise, as go-zero's header-once writer does). */
typedef void (*cz_cors_not_allowed_fn)(cz_res_t *res, void *ud);

/** Enable CORS for `origins[0..n)` (copied), or for every origin ("*") when n is 0
 *  (go-zero rest.WithCors). Call before cz_server_start(), at most once per server; it
 *  replaces any not-allowed handler set before. Returns 0, CZ_EARG (NULL server, NULL origin,
 *  origins NULL with n > 0) or CZ_ENOMEM. */
CZ_EXTERN int cz_server_cors(cz_server_t *s, const char *const *origins, size_t n);
/** cz_server_cors() plus the two hooks (go-zero rest.WithCustomCors); either may be NULL. ud is
 *  passed to both and stays the caller's. */
CZ_EXTERN int cz_server_cors_custom(cz_server_t *s, cz_cors_header_fn header_fn,
                                    cz_cors_not_allowed_fn not_allowed_fn, void *ud,
                                    const char *const *origins, size_t n);
/** Set on res the headers above for request r (go-zero checkAndSetHeaders): the Vary headers,
 *  then the Access-Control-Allow-* set when r's Origin is allowed by origins[0..n) (n 0: every
 *  origin, answered "*"). For a CORS link that is not server-wide (czero-gateway's per-route
 *  one, which should be flagged CZ_MW_OUTER so early answers get the headers too); it answers
 *  nothing itself, so an OPTIONS is the caller's to end (204). origins stays the caller's;
 *  runs on the request's loop thread. */
CZ_EXTERN void cz_cors_set_headers(const cz_req_t *r, cz_res_t *res, const char *const *origins,
                                   size_t n);

#ifdef __cplusplus
}
#endif
#endif
