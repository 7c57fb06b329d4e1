/* SPDX-License-Identifier: MIT
 *
 * response.h: how a handler answers (go-zero's httpx helpers over http.ResponseWriter).
 *
 * Status, headers and body are collected and sent when the response ends: when the handler
 * returns CZ_DONE, or when an async handler calls cz_res_end(). The server adds Date,
 * Content-Length (or chunked framing when streaming) and Connection itself. Streaming sends the
 * head at cz_res_stream_begin() and each cz_res_stream_write() as a chunk, or, after
 * cz_res_stream_begin_length(), as raw bytes of an announced Content-Length. An answer that
 * cannot be completed is cut with cz_res_abort(); cz_res_close_after() ends the connection
 * after the answer.
 */
#ifndef CZERO_RESPONSE_H
#define CZERO_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "error.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_res cz_res_t;

CZ_EXTERN void cz_res_status(cz_res_t *res, int status);
CZ_EXTERN int cz_res_get_status(const cz_res_t *res);
/** Add a header (copied). Date, Content-Length, Transfer-Encoding and Connection are the
 *  server's; setting them is ignored. Returns 0 or CZ_ENOMEM / CZ_EARG (CR/LF in the value). */
CZ_EXTERN int cz_res_header(cz_res_t *res, const char *name, const char *value);
CZ_EXTERN int cz_res_header_n(cz_res_t *res, cz_str_t name, cz_str_t value);
/** Append to the body (copied). */
CZ_EXTERN int cz_res_write(cz_res_t *res, const void *data, size_t n);
/** Append formatted text to the body. */
CZ_EXTERN int cz_res_printf(cz_res_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** status + Content-Type: application/json; charset=utf-8 + json_dumps(v) body (httpx.WriteJson).
 *  v is not stolen. */
CZ_EXTERN int cz_res_json(cz_res_t *res, int status, const json_t *v);
/** 200 + JSON (httpx.OkJson). */
CZ_EXTERN int cz_res_ok_json(cz_res_t *res, const json_t *v);
/** A ready JSON text as the body (no parsing): the fast path for fixed answers. */
CZ_EXTERN int cz_res_json_raw(cz_res_t *res, int status, const char *json, size_t n);
/** httpx.Error: status (400 when 0) with msg as text/plain; charset=utf-8 body, plus
 *  X-Content-Type-Options: nosniff (Go's http.Error). */
CZ_EXTERN int cz_res_error(cz_res_t *res, int status, const char *msg);
/** Finish an async response (a handler that returned CZ_AGAIN). Must be called exactly once,
 *  on the request's loop thread. */
CZ_EXTERN void cz_res_end(cz_res_t *res);
/** Send the head now with chunked framing (close-delimited for HTTP/1.0). */
CZ_EXTERN int cz_res_stream_begin(cz_res_t *res);
/** Send the head now with Content-Length: len (no chunked framing; a HEAD answer or a
 *  204/304 sends no body, and HEAD still shows len), as a proxy forwards a backend's sized
 *  answer. The body then goes by cz_res_stream_write: a write that would pass len is refused
 *  whole (CZ_EFULL); ending with fewer than len bytes sent aborts (see cz_res_abort). Returns 0,
 *  CZ_EARG (len < 0, or the head was already sent), CZ_ECLOSED (client gone) or CZ_ENOMEM.
 *  Loop thread. */
CZ_EXTERN int cz_res_stream_begin_length(cz_res_t *res, int64_t len);
/** Send one chunk (copied); empty writes are ignored. With cz_res_stream_begin_length: CZ_EFULL
 *  when the bytes would pass the announced length (nothing is sent). */
CZ_EXTERN int cz_res_stream_write(cz_res_t *res, const void *data, size_t n);
/** Send the last chunk and finish the response (same as cz_res_end for a streamed response). */
CZ_EXTERN void cz_res_stream_end(cz_res_t *res);
/** Give up on an answer that cannot be completed (a proxy's backend failed after the head
 *  was sent): the connection is closed at once, without the last chunk (or short of the
 *  Content-Length), so the client sees a truncated response, never a complete-looking one;
 *  queued bytes are dropped. The request settles like cz_res_end (the chain's middlewares see
 *  the status that was sent; before any head, 499), and cz_req_on_cancel's callback is not
 *  called. Ends the response: use instead of cz_res_end, once, on the loop thread. */
CZ_EXTERN void cz_res_abort(cz_res_t *res);
/** Close the connection after this answer: it carries Connection: close (when its head is
 *  not sent yet; otherwise the connection just closes after it), and no further request is
 *  read from the connection. For a server that is being drained. Handler's thread while it
 *  holds the request. */
CZ_EXTERN void cz_res_close_after(cz_res_t *res);
/** Forget the status, headers and body the handler set so far (headers middlewares set before
 *  the handler ran stay), e.g. to answer an error instead of a half-collected response. No-op
 *  once a streamed head was sent. */
CZ_EXTERN void cz_res_clear(cz_res_t *res);
/** Mark the answer as a local refusal: the server turned the request away to protect itself
 *  (load shedding, a rate limit, MaxConns, a breaker's drop) and the handler did no work.
 *  Breakers neither count it as a failure nor as a success: it says nothing about the
 *  route's health. The built-in shedding, MaxConns and breaker links mark their answers; a
 *  middleware that limits (a 429) marks its own. Setting a new answer on res afterwards
 *  (cz_res_clear, a timeout's 503, a panic's 500) unmarks it. */
CZ_EXTERN void cz_res_mark_refused(cz_res_t *res);
/** Whether the answer is marked as a local refusal (cz_res_mark_refused). */
CZ_EXTERN bool cz_res_refused(const cz_res_t *res);
/** Bytes of a streamed response (cz_res_stream_write) handed to the socket but not yet written:
 *  a proxy pauses its source while this is high (a slow client). */
CZ_EXTERN size_t cz_res_stream_pending(const cz_res_t *res);
/** Call cb(res, ud) once, on the loop thread, when the streamed bytes pending reach 0; when
 *  nothing is pending it runs before this returns. Registering again replaces it; cb NULL
 *  cancels. Not called after the response ended or once the client went away (cz_req_on_cancel
 *  tells that). */
CZ_EXTERN void cz_res_on_drain(cz_res_t *res, void (*cb)(cz_res_t *res, void *ud), void *ud);
/** Reason phrase for a status code ("Not Found"); "Unknown" for unknown codes. */
CZ_EXTERN const char *cz_status_text(int status);

#ifdef __cplusplus
}
#endif
#endif
