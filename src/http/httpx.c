/* SPDX-License-Identifier: MIT
 *
 * httpx.c: go-zero's httpx error and OK handlers (include/czero/httpx.h): the process-wide
 * hooks that shape the error and 200 answers of user handlers and of czctl-generated ones,
 * and the logic-error record a generated handler answers with.
 *
 * The hooks are read once per answer with relaxed atomics; they are meant to be set at
 * start-up, so a pair (fn, ud) changed while serving may be seen half-changed. Not here: the
 * server's own answers (the codec's, the chain's links), which stay plain text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "http_int.h"
#include "czero/httpx.h"

static struct {
    cz_http_error_fn err_fn;
    void *err_ud;
    cz_http_ok_fn ok_fn;
    void *ok_ud;
} hooks;

static inline cz_req_t *req_of(cz_res_t *res) { return cz__container_of(res, cz_req_t, res); }

void cz_http_set_error_handler(cz_http_error_fn fn, void *ud)
{
    __atomic_store_n(&hooks.err_ud, ud, __ATOMIC_RELAXED);
    __atomic_store_n(&hooks.err_fn, fn, __ATOMIC_RELEASE);
}

void cz_http_set_ok_handler(cz_http_ok_fn fn, void *ud)
{
    __atomic_store_n(&hooks.ok_ud, ud, __ATOMIC_RELAXED);
    __atomic_store_n(&hooks.ok_fn, fn, __ATOMIC_RELEASE);
}

static int valid_error_status(int s) { return s >= 400 && s <= 599; }

int cz_httpx_error(cz_res_t *res, int status, int code, const char *msg)
{
    if (!valid_error_status(status))
        status = 500;
    cz_errx_t e = {.status = status, .code = code, .msg = msg ? msg : cz_status_text(status)};
    cz_http_error_fn fn = __atomic_load_n(&hooks.err_fn, __ATOMIC_ACQUIRE);
    if (!fn)
        return cz_res_error(res, e.status, e.msg);
    json_t *body = NULL;
    int st = fn(req_of(res), &e, &body, __atomic_load_n(&hooks.err_ud, __ATOMIC_RELAXED));
    if (st < 100 || st > 599)
        st = e.status;
    if (!body)
        return cz_res_error(res, st, e.msg);
    res->body_len = 0;
    int rc = cz_res_json(res, st, body);
    json_decref(body);
    return rc;
}

int cz_httpx_ok_json(cz_res_t *res, const json_t *v)
{
    cz_http_ok_fn fn = __atomic_load_n(&hooks.ok_fn, __ATOMIC_ACQUIRE);
    if (!fn)
        return cz_res_ok_json(res, v);
    json_t *w = fn(req_of(res), (json_t *)v, __atomic_load_n(&hooks.ok_ud, __ATOMIC_RELAXED));
    if (!w)
        return cz_httpx_error(res, 500, 0, NULL);
    int rc = cz_res_json(res, 200, w);
    json_decref(w);
    return rc;
}

int cz_httpx_parse(cz_req_t *req, cz_res_t *res, const cz_bind_field_t *fields, void *out)
{
    char err[512];
    int rc = cz_bind(req, fields, out, err, sizeof err);
    if (rc == CZ_EPARSE)
        cz_httpx_error(res, 400, 0, err);
    else if (rc == CZ_ENOMEM)
        cz_httpx_error(res, 503, 0, NULL);
    else if (rc)
        cz_httpx_error(res, 500, 0, NULL);
    return rc;
}

int cz_logic_error(cz_req_t *req, int status, int code, const char *fmt, ...)
{
    if (!valid_error_status(status))
        status = 500;
    cz_res_t *res = &req->res;
    res->errx_status = status;
    res->errx_code = code;
    res->errx_msg = NULL;
    if (fmt) {
        char tmp[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof tmp) {
            res->errx_msg = cz_arena_strdup(&req->arena, (cz_str_t){tmp, (size_t)n}).p;
        } else if (n >= 0) {
            char *big = cz_arena_alloc(&req->arena, (size_t)n + 1);
            if (big) {
                va_start(ap, fmt);
                vsnprintf(big, (size_t)n + 1, fmt, ap);
                va_end(ap);
            }
            res->errx_msg = big; /* out of memory: the reason phrase instead */
        }
    }
    return status;
}

int cz_httpx_fail(cz_res_t *res, int rc)
{
    if (res->errx_status)
        cz_httpx_error(res, res->errx_status, res->errx_code, res->errx_msg);
    else
        cz_httpx_error(res, valid_error_status(rc) ? rc : 500, 0, NULL);
    return CZ_DONE;
}
