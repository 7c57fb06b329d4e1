/* SPDX-License-Identifier: MIT
 *
 * request.h: what a handler reads of an HTTP request.
 *
 * Every cz_str_t returned here is a view valid until the response ends (the connection's read
 * buffer or the request arena); copy what must live longer. Accessors are for the thread that
 * runs the handler.
 */
#ifndef CZERO_REQUEST_H
#define CZERO_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "error.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_req cz_req_t;

/** Method as received ("GET"). */
CZ_EXTERN cz_str_t cz_req_method(const cz_req_t *r);
/** Decoded, cleaned path the router matched ("/users/42"), like Go's path.Clean(r.URL.Path). */
CZ_EXTERN cz_str_t cz_req_path(const cz_req_t *r);
/** The request target in origin-form, as received ("/users/42?x=1"); for an absolute-form
 *  target ("http://a/users/42?x=1") its path and query, the authority being the Host header. */
CZ_EXTERN cz_str_t cz_req_target(const cz_req_t *r);
/** The raw query string without '?', empty if none. */
CZ_EXTERN cz_str_t cz_req_query_string(const cz_req_t *r);
/** The first value of query parameter name, URL-decoded ('+' is a space); p == NULL when absent. */
CZ_EXTERN cz_str_t cz_req_query(cz_req_t *r, const char *name);
/** Header value (case-insensitive name, first occurrence) without surrounding spaces and tabs;
 *  p == NULL when absent. Host is the authority of an absolute-form target when there is one. */
CZ_EXTERN cz_str_t cz_req_header(const cz_req_t *r, const char *name);
/** Number of headers, and the i-th one (0 <= i < count). */
CZ_EXTERN size_t cz_req_header_count(const cz_req_t *r);
CZ_EXTERN void cz_req_header_at(const cz_req_t *r, size_t i, cz_str_t *name, cz_str_t *value);
/** Path variable of the matched route (":id" -> "id"); p == NULL when absent. */
CZ_EXTERN cz_str_t cz_req_param(const cz_req_t *r, const char *name);
/** The route pattern that matched ("/users/:id"), or "" for 404/405. */
CZ_EXTERN const char *cz_req_pattern(const cz_req_t *r);
/** The whole request body (already read, at most MaxBytes); n == 0 when none. */
CZ_EXTERN cz_str_t cz_req_body(const cz_req_t *r);
/** "ip:port" of the peer. */
CZ_EXTERN cz_str_t cz_req_remote(const cz_req_t *r);
/** HTTP version, e.g. 11 for 1.1, 10 for 1.0. */
CZ_EXTERN int cz_req_version(const cz_req_t *r);
/** The protocol the request came over, as Go's Request.Proto: "HTTP/1.1", "HTTP/1.0". */
CZ_EXTERN const char *cz_req_proto(const cz_req_t *r);
/** True when the connection is TLS (false on plain TCP). */
CZ_EXTERN bool cz_req_tls(const cz_req_t *r);
/** The server name the client asked for in its TLS hello (SNI); NULL on plain TCP or without. */
CZ_EXTERN const char *cz_req_tls_sni(const cz_req_t *r);
/** The subject of the client's certificate; NULL on plain TCP or when it sent none. */
CZ_EXTERN const char *cz_req_tls_peer_subject(const cz_req_t *r);
/** The request's arena: memory that dies when the response ends. */
CZ_EXTERN cz_arena_t *cz_req_arena(cz_req_t *r);
/** The libuv loop (uv_loop_t *) of the thread that owns the request, for async handlers. */
CZ_EXTERN void *cz_req_loop(const cz_req_t *r);
/** True once the client has gone or the request was cancelled: an async handler may stop work.
 *  It must still call cz_res_end(), which then only releases the request. */
CZ_EXTERN bool cz_req_cancelled(const cz_req_t *r);
/** Be told when the request is cancelled (the client went away, or shutdown reached its
 *  deadline): cb(r, ud) runs once, on the loop thread; an async handler should then stop its
 *  work and call cz_res_end(). Registering again replaces the callback. A handler that
 *  registers one also takes a client's FIN (end of its input) while it works as an abort, as
 *  nginx does for proxied requests: the request settles as 499. Without one, a FIN is a
 *  half-close and the answer is still sent. */
CZ_EXTERN void cz_req_on_cancel(cz_req_t *r, void (*cb)(cz_req_t *r, void *ud), void *ud);

/* ---- streamed request bodies (routes with CZ_ROUTE_STREAM_BODY) ---- */

/** Body delivery callback. n > 0: a piece of the (de-chunked) body, valid only during the call.
 *  data NULL, n 0, err 0: the body ended (called once; a request without a body ends at once).
 *  err < 0: the body will not complete: CZ_ECLOSED (the client went away), CZ_ETIMEOUT (no
 *  progress within ReadTimeout), CZ_EFULL (over MaxBytes: the engine answers 413 when nothing was
 *  sent yet, else closes the connection), CZ_EPARSE (bad chunk framing). After an end or an
 *  error the callback is not called again. Runs on the request's loop thread. */
typedef void (*cz_body_fn)(cz_req_t *r, const void *data, size_t n, int err, void *ud);

/** Start delivering the body of a stream route to cb: bytes already in the read buffer first
 *  (possibly before this returns), then from the socket. Sends "100 Continue" when the client
 *  asked for it. Once per request; CZ_EARG when the route does not stream, cb is NULL, the
 *  response already ended or it was called before; CZ_ECLOSED when the client is gone (no
 *  callback then). Loop thread only. */
CZ_EXTERN int cz_req_body_read(cz_req_t *r, cz_body_fn cb, void *ud);
/** Stop reading the socket (back-pressure, e.g. while the upstream is slow): no callback runs
 *  until cz_req_body_resume(). The body read timeout does not run while paused. */
CZ_EXTERN void cz_req_body_pause(cz_req_t *r);
/** Resume delivery after cz_req_body_pause(); pieces already buffered may arrive from within
 *  this call. */
CZ_EXTERN void cz_req_body_resume(cz_req_t *r);
/** The request's Content-Length, 0 when it has no body, -1 when chunked. */
CZ_EXTERN int64_t cz_req_content_length(const cz_req_t *r);

struct cz_client;
/** The HTTP client (client.h) of the worker running this request: created on first use on
 *  the request's loop, closed by the server when the worker stops. NULL on ENOMEM. Owned by the
 *  server; loop thread only. */
CZ_EXTERN struct cz_client *cz_req_client(cz_req_t *r);

#ifdef __cplusplus
}
#endif
#endif
