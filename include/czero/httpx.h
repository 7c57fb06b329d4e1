/* SPDX-License-Identifier: MIT
 *
 * httpx.h: go-zero's httpx error and OK handlers: one process-wide place that decides what an
 * error answer and a 200 JSON answer of your handlers look like.
 *
 * go-zero's httpx.SetErrorHandler(func(error) (int, any)) turns an error into a status and a
 * body, and httpx.ErrorCtx(ctx, w, err) answers through it; httpx.SetOkHandler(func(ctx, any)
 * any) wraps every httpx.OkJsonCtx body. Here an error is {status, code, msg} (cz_errx_t): a
 * handler answers one with cz_httpx_error() and a 200 with cz_httpx_ok_json(). A logic function
 * (czctl's generated services) records one with cz_logic_error() and returns; the generated
 * handler answers it with cz_httpx_fail(). Request binding errors of generated handlers go
 * through the error handler too (cz_httpx_parse, go-zero's httpx.Parse + ErrorCtx).
 *
 * Without an error handler an error answers as cz_res_error always has: the status, msg as a
 * text/plain body (the status's reason phrase when no message was given). Without an OK
 * handler cz_httpx_ok_json is cz_res_ok_json. The server's own answers (404, 405, 413, the
 * chain's 401/429/503) do not go through these handlers, as in go-zero.
 *
 *   static int errors(cz_req_t *req, const cz_errx_t *e, json_t **body, void *ud)
 *   {
 *       *body = json_pack("{s:i,s:s}", "code", e->code ? e->code : e->status, "msg", e->msg);
 *       return e->status;                      // or 200 with the code in the body, as many do
 *   }
 *   ...  cz_http_set_error_handler(errors, NULL);   // once, before cz_server_run
 */
#ifndef CZERO_HTTPX_H
#define CZERO_HTTPX_H

#include <jansson.h>
#include "bind.h"
#include "error.h"
#include "request.h"
#include "response.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An error to answer: HTTP status (400..599), an application code (0 = none given) and a
 *  message (never NULL; the status's reason phrase when none was given). */
typedef struct cz_errx {
    int status;
    int code;
    const char *msg;
} cz_errx_t;

/** Turns an error into the answer: set *body to a new JSON reference (czero sends it with
 *  Content-Type application/json and releases it) and return the status to send (100..599;
 *  anything else means err->status). Leaving *body NULL answers as without a handler, with the
 *  returned status. Runs on the handler's thread; must not answer on the request itself. */
typedef int (*cz_http_error_fn)(cz_req_t *req, const cz_errx_t *err, json_t **body, void *ud);
/** Wraps a 200 body: return a new reference to send instead of body (borrowed), e.g.
 *  json_pack("{s:i,s:O}", "code", 0, "data", body); NULL answers 500 through the error
 *  handler. */
typedef json_t *(*cz_http_ok_fn)(cz_req_t *req, json_t *body, void *ud);

/** Set (fn NULL: remove) the process-wide error handler (httpx.SetErrorHandlerCtx). Call it at
 *  start-up, before serving: it applies to every server of the process. */
CZ_EXTERN void cz_http_set_error_handler(cz_http_error_fn fn, void *ud);
/** Set (fn NULL: remove) the process-wide OK handler (httpx.SetOkHandler). At start-up too. */
CZ_EXTERN void cz_http_set_ok_handler(cz_http_ok_fn fn, void *ud);

/** Answer an error through the error handler (httpx.ErrorCtx). status outside 400..599 is 500;
 *  msg NULL is the reason phrase. Replaces a body collected so far; headers stay. 0 or
 *  CZ_ENOMEM. */
CZ_EXTERN int cz_httpx_error(cz_res_t *res, int status, int code, const char *msg);
/** 200 with v as JSON, through the OK handler (httpx.OkJsonCtx). v is not stolen. */
CZ_EXTERN int cz_httpx_ok_json(cz_res_t *res, const json_t *v);
/** cz_bind(), answering a failure through the error handler: 400 with the message naming the
 *  field (CZ_EPARSE), 503 when memory ran out, else 500. Returns cz_bind's result. */
CZ_EXTERN int cz_httpx_parse(cz_req_t *req, cz_res_t *res, const cz_bind_field_t *fields,
                             void *out);

/** For a logic function: record the error the handler answers with (message printf-style,
 *  copied into the request's arena) and return its status (500 when status is not 400..599),
 *  so that `return cz_logic_error(req, 409, 1001, "name %s taken", in->name);` ends the
 *  logic. */
CZ_EXTERN int cz_logic_error(cz_req_t *req, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Answer a logic function's non-zero result rc through the error handler: the error recorded
 *  by cz_logic_error, or else rc as the status (400..599; anything else is 500) with its reason
 *  phrase. Returns CZ_DONE, so a handler can `return cz_httpx_fail(res, rc);`. */
CZ_EXTERN int cz_httpx_fail(cz_res_t *res, int rc);

#ifdef __cplusplus
}
#endif
#endif
