/* SPDX-License-Identifier: MIT
 *
 * response.c: building and writing responses (go-zero's httpx response helpers).
 *
 * A response is collected in the request arena (status, header lines, body) and serialised into
 * the connection's output buffer when it ends. Responses of pipelined requests parsed from one
 * read accumulate in that buffer and leave in one write; the write is tried synchronously first
 * (uv_try_write) and only what the socket does not take is queued. A large body is not copied
 * into the output buffer: it is written from the arena, which then lives until the write is done.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "http/http_int.h"
#include "czero/log.h"
#include "czero/trace.h"

#define BIG_BODY 16384 /* bodies above this are written from the arena, not copied */

const char *cz_status_text(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void cz__date_update(cz_worker_t *w)
{
    time_t now = time(NULL);
    if (now == w->date_sec)
        return;
    w->date_sec = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    w->date_len = strftime(w->date, sizeof w->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

/* ---- growable arena buffers ---- */

static int grow(cz_arena_t *a, char **p, size_t *len, size_t *cap, size_t need)
{
    if (*len + need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 256;
    while (ncap < *len + need)
        ncap *= 2;
    char *np = cz_arena_alloc(a, ncap);
    if (!np)
        return CZ_ENOMEM;
    if (*len)
        memcpy(np, *p, *len);
    *p = np;
    *cap = ncap;
    return 0;
}

static inline cz_req_t *req_of(cz_res_t *res) { return cz__container_of(res, cz_req_t, res); }

void cz_res_status(cz_res_t *res, int status) { res->status = status; }
int cz_res_get_status(const cz_res_t *res) { return res->status ? res->status : 200; }
void cz_res_mark_refused(cz_res_t *res) { res->refused = true; }
bool cz_res_refused(const cz_res_t *res) { return res->refused; }

/* Headers the server writes itself; compared only when the length matches. */
static bool reserved_header(cz_str_t n)
{
    switch (n.n) {
    case 4: return cz_str_ieq(n, CZ_STR("Date"));
    case 10: return cz_str_ieq(n, CZ_STR("Connection"));
    case 14: return cz_str_ieq(n, CZ_STR("Content-Length"));
    case 17: return cz_str_ieq(n, CZ_STR("Transfer-Encoding"));
    default: return false;
    }
}

int cz_res_header_n(cz_res_t *res, cz_str_t name, cz_str_t value)
{
    if (name.n == 0)
        return CZ_EARG;
    for (size_t i = 0; i < name.n; i++)
        if (!cz__is_token[(unsigned char)name.p[i]])
            return CZ_EARG;
    /* header injection: no CR, LF or NUL in a value */
    if (cz__has_line_break(value.p, value.n, false))
        return CZ_EARG;
    if (reserved_header(name))
        return 0;
    cz_req_t *r = req_of(res);
    if (grow(&r->arena, &res->hdrs, &res->hdrs_len, &res->hdrs_cap, name.n + value.n + 4))
        return CZ_ENOMEM;
    char *p = res->hdrs + res->hdrs_len;
    cz__copy(p, name.p, name.n);
    p += name.n;
    *p++ = ':';
    *p++ = ' ';
    if (value.n)
        cz__copy(p, value.p, value.n);
    p += value.n;
    *p++ = '\r';
    *p++ = '\n';
    res->hdrs_len = (size_t)(p - res->hdrs);
    if (cz_str_ieq(name, CZ_STR("Content-Type")))
        res->has_ctype = true;
    return 0;
}

int cz_res_header(cz_res_t *res, const char *name, const char *value)
{
    return cz_res_header_n(res, cz_str_c(name), cz_str_c(value));
}

int cz_res_write(cz_res_t *res, const void *data, size_t n)
{
    if (res->streaming)
        return cz_res_stream_write(res, data, n);
    if (n == 0)
        return 0;
    cz_req_t *r = req_of(res);
    if (grow(&r->arena, &res->body, &res->body_len, &res->body_cap, n))
        return CZ_ENOMEM;
    memcpy(res->body + res->body_len, data, n);
    res->body_len += n;
    return 0;
}

int cz_res_printf(cz_res_t *res, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CZ_EARG;
    if ((size_t)n < sizeof tmp)
        return cz_res_write(res, tmp, (size_t)n);
    cz_req_t *r = req_of(res);
    char *big = cz_arena_alloc(&r->arena, (size_t)n + 1);
    if (!big)
        return CZ_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return cz_res_write(res, big, (size_t)n);
}

int cz_res_json_raw(cz_res_t *res, int status, const char *json, size_t n)
{
    res->status = status;
    int rc = cz_res_header_n(res, CZ_STR("Content-Type"), CZ_STR("application/json; charset=utf-8"));
    return rc ? rc : cz_res_write(res, json, n);
}

int cz_res_json(cz_res_t *res, int status, const json_t *v)
{
    /* 17 significant digits: floats survive the round trip (Go prints the shortest exact form;
     * jansson cannot, and exactness matters more than looks). */
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
    size_t n = json_dumpb(v, NULL, 0, flags);
    if (n == 0)
        return CZ_EARG;
    res->status = status;
    int rc = cz_res_header_n(res, CZ_STR("Content-Type"), CZ_STR("application/json; charset=utf-8"));
    if (rc)
        return rc;
    cz_req_t *r = req_of(res);
    if (grow(&r->arena, &res->body, &res->body_len, &res->body_cap, n))
        return CZ_ENOMEM;
    json_dumpb(v, res->body + res->body_len, n, flags);
    res->body_len += n;
    return 0;
}

int cz_res_ok_json(cz_res_t *res, const json_t *v) { return cz_res_json(res, 200, v); }

void cz_res_close_after(cz_res_t *res)
{
    cz_req_t *r = req_of(res);
    r->keep_alive = false; /* decide_close turns this into Connection: close */
    if (res->head_sent)
        r->conn->close_after = true; /* too late for the header: just close after the answer */
}

void cz_res_clear(cz_res_t *res)
{
    if (res->head_sent)
        return;
    res->status = 0;
    res->hdrs_len = res->hdrs_mark;
    res->has_ctype = false;
    res->body_len = 0;
    res->refused = false;
}

int cz_res_error(cz_res_t *res, int status, const char *msg)
{
    res->status = status ? status : 400;
    res->body_len = 0;
    cz_res_header_n(res, CZ_STR("Content-Type"), CZ_STR("text/plain; charset=utf-8"));
    cz_res_header_n(res, CZ_STR("X-Content-Type-Options"), CZ_STR("nosniff"));
    int rc = cz_res_write(res, msg, strlen(msg));
    return rc ? rc : cz_res_write(res, "\n", 1);
}

/* ---- serialisation ---- */

char *cz__out_reserve(cz_conn_t *c, size_t need)
{
    if (c->out_len + need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
        while (cap < c->out_len + need)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            return NULL;
        c->out = p;
        c->out_cap = cap;
    }
    return c->out + c->out_len;
}

static char *put(char *p, const void *s, size_t n)
{
    cz__copy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        *p++ = tmp[--i];
    return p;
}

int cz__write_head(cz_conn_t *c, cz_req_t *r, int status, bool chunked, size_t clen)
{
    cz_res_t *res = &r->res;
    const char *reason = cz_status_text(status);
    size_t rlen = strlen(reason);
    size_t need = 32 + rlen + c->w->date_len + res->hdrs_len + 96;
    char *p = cz__out_reserve(c, need);
    if (!p)
        return CZ_ENOMEM;
    char *start = p;
    p = put(p, "HTTP/1.1 ", 9);
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put(p, reason, rlen);
    p = put(p, "\r\n", 2);
    p = put(p, c->w->date, c->w->date_len);
    if (res->hdrs_len)
        p = put(p, res->hdrs, res->hdrs_len);
    if (!res->has_ctype && clen && cz__body_allowed(status))
        p = put(p, "Content-Type: text/plain; charset=utf-8\r\n", 41);
    if (chunked) {
        if (r->version >= 11)
            p = put(p, "Transfer-Encoding: chunked\r\n", 28);
    } else if (cz__body_allowed(status)) { /* a 304 must not claim a zero-length body */
        p = put(p, "Content-Length: ", 16);
        p = put_u64(p, clen);
        p = put(p, "\r\n", 2);
    }
    if (c->close_after)
        p = put(p, "Connection: close\r\n", 19);
    else if (r->version < 11)
        p = put(p, "Connection: keep-alive\r\n", 24);
    p = put(p, "\r\n", 2);
    c->out_len += (size_t)(p - start);
    return 0;
}

/* A stream route answered before its body ended keeps the connection only when the rest can
 * be dropped cheaply (stream.c's CS_DISCARD): a known remainder up to CZ__DISCARD_MAX, or a
 * chunked one that is given that much. Otherwise close, lingering so the client reads the
 * answer (nginx's ngx_http_discard_request_body / lingering close). */
static bool stream_must_close(const cz_req_t *r)
{
    if (r->body_err || (r->expect_continue && !r->body_cb)) /* no 100 sent: it may never come */
        return true;
    return r->content_length >= 0 &&
           (uint64_t)r->content_length - r->body_seen > CZ__DISCARD_MAX;
}

void cz__decide_close(cz_conn_t *c, cz_req_t *r)
{
    if (!r->keep_alive || c->w->stopping || c->peer_eof)
        c->close_after = true;
    if (r->stream_body && !r->body_complete && stream_must_close(r)) {
        c->close_after = true;
        c->linger = true;
    }
}

uint64_t cz__log_access(cz_req_t *r, int status, uint64_t bytes, uint64_t now)
{
    uint64_t us = ((now ? now : uv_hrtime()) - r->start_ns) / 1000;
    if (!r->w->srv->conf.middlewares.log)
        return us;
    cz_access_rec_t rec = {
        .method = r->method,
        .path = r->target,
        .status = status,
        .duration_us = us,
        .bytes = bytes,
        .remote = cz_req_remote(r),
        .user_agent = cz_req_header(r, "User-Agent"),
        .trace_id = cz_req_trace_id(r),
        .span_id = cz_req_span_id(r),
    };
    cz_log_access(&rec);
    return us;
}

/* ---- writing ---- */

static void on_write(uv_write_t *wr, int status)
{
    cz_conn_t *c = cz__container_of(wr, cz_conn_t, wreq);
    c->writing = false;
    c->out_len = 0;
    c->big = NULL;
    if (c->closed)
        return;
    if (status < 0) {
        cz__conn_close(c);
        return;
    }
    if (c->req.res.finish_deferred) { /* an async handler ended while the buffer was pinned */
        c->req.res.finish_deferred = false;
        c->req.res.ended = false;
        cz__res_finish(&c->req);
        cz__conn_flush(c);
        return;
    }
    if (c->done_pending) {
        c->done_pending = false;
        cz__conn_request_done(c);
    }
    cz__conn_written(c);
}

void cz__conn_flush(cz_conn_t *c)
{
    if (c->writing || c->closed || c->stream_writes || (!c->out_len && !c->big))
        return;
    uv_buf_t b[2];
    unsigned nb = 0;
    if (c->out_len)
        b[nb++] = uv_buf_init(c->out, (unsigned)c->out_len);
    if (c->big)
        b[nb++] = uv_buf_init((char *)c->big, (unsigned)c->big_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, b, nb);
    if (n < 0 && n != UV_EAGAIN) {
        cz__conn_close(c);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    size_t total = c->out_len + (c->big ? c->big_len : 0);
    if (done == total) {
        c->out_len = 0;
        c->big = NULL;
        if (c->done_pending) {
            c->done_pending = false;
            cz__conn_request_done(c);
        }
        if (c->close_after || c->w->stopping)
            cz__conn_written(c);
        return;
    }
    /* queue the rest */
    nb = 0;
    if (done < c->out_len) {
        b[nb++] = uv_buf_init(c->out + done, (unsigned)(c->out_len - done));
        done = 0;
    } else {
        done -= c->out_len;
    }
    if (c->big)
        b[nb++] = uv_buf_init((char *)c->big + done, (unsigned)(c->big_len - done));
    c->writing = true;
    cz__tl_set(c, TL_WRITE);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, b, nb, on_write) != 0) {
        c->writing = false;
        cz__conn_close(c);
    }
}

/* Serialise the final answer into the output buffer, after the chain's leave(). Returns 0, or
 * -1 when the connection had to be closed. */
static int serialise(cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    cz_res_t *res = &r->res;
    cz__chain_leave(r);
    int status = res->status ? res->status : 200;
    size_t blen = cz__body_allowed(status) ? res->body_len : 0;
    cz__decide_close(c, r);
    if (cz__write_head(c, r, status, false, blen) != 0) {
        cz__conn_close(c);
        return -1;
    }
    if (!r->head && blen) {
        if (blen > BIG_BODY) {
            c->big = res->body;
            c->big_len = blen;
            c->done_pending = true; /* the arena holds the body until it is written */
        } else {
            char *p = cz__out_reserve(c, blen);
            if (!p) {
                cz__conn_close(c);
                return -1;
            }
            memcpy(p, res->body, blen);
            c->out_len += blen;
        }
    }
    if (!r->route) /* routed requests are logged by the log middleware */
        cz__log_access(r, status, r->head ? 0 : blen, 0);
    return 0;
}

void cz__res_complete(cz_req_t *r, int status, const char *body)
{
    cz_res_t *res = &r->res;
    res->ended = true;
    if (status) {
        res->status = status;
        res->body_len = 0;
        if (body) {
            cz_res_header_n(res, CZ_STR("Content-Type"), CZ_STR("text/plain; charset=utf-8"));
            cz_res_write(res, body, strlen(body));
        }
    }
    serialise(r); /* the 503 body is small: copied, so the request stays the handler's */
}

void cz__res_finish(cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    cz_res_t *res = &r->res;
    if (res->ended) {
        if ((r->timed_out || r->engine_answered) && r->in_handler) { /* a late answer after
                                                                        * the engine's own */
            r->in_handler = false;
            cz__conn_request_done(c);
        }
        return;
    }
    res->ended = true;
    r->in_handler = false;
    if ((r->cancelled && !r->timed_out) || c->closed) {
        /* nobody reads the answer, but the chain's bookkeeping (MaxConns slot, breaker and
         * shedder promises, metrics, log) must still settle; 499 is nginx's "client closed".
         * An aborted answer keeps the status its head went out with (nginx logs it so). */
        if (!res->aborted)
            res->status = 499;
        cz__chain_leave(r);
        cz__conn_request_done(c);
        return;
    }
    if (res->streaming) {
        res->ended = false;
        cz_res_stream_end(res);
        return;
    }
    if (c->writing) { /* the output buffer is pinned by a write in flight: finish after it */
        res->finish_deferred = true;
        return;
    }
    if (r->timed_out) { /* a blocking handler outlived its timeout: go-zero answers 503 */
        res->status = 503;
        res->refused = false; /* real slowness: the breaker counts it */
        res->body_len = 0;
        res->hdrs_len = res->hdrs_mark;
        res->has_ctype = false;
        cz_res_write(res, "Request Timeout", 15);
    }
    if (serialise(r) != 0)
        return;
    if (c->done_pending) {
        cz__conn_flush(c);
        return;
    }
    cz__conn_request_done(c);
}

void cz_res_end(cz_res_t *res)
{
    cz_req_t *r = req_of(res);
    if (r->calling) { /* called from inside the handler: finish when it returns */
        r->ended_early = true;
        return;
    }
    cz__res_finish(r);
    if (!r->conn->in_process)
        cz__conn_flush(r->conn);
}

/* A response the server makes itself (errors found while parsing, 408): the request never
 * reached a handler, so it is written straight to the output buffer. */
void cz__send_simple(cz_conn_t *c, int status, const char *extra_headers)
{
    cz_req_t *r = &c->req;
    const char *reason = cz_status_text(status);
    char body[64];
    int blen = snprintf(body, sizeof body, "%d %s", status, reason);
    size_t eh = extra_headers ? strlen(extra_headers) : 0;
    char *p = cz__out_reserve(c, 160 + c->w->date_len + eh + (size_t)blen);
    if (!p) {
        cz__conn_close(c);
        return;
    }
    int n = snprintf(p, 160 + c->w->date_len + eh + (size_t)blen,
                     "HTTP/1.1 %d %s\r\n%.*sContent-Type: text/plain; charset=utf-8\r\n"
                     "%sContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                     status, reason, (int)c->w->date_len, c->w->date, eh ? extra_headers : "",
                     blen, body);
    c->out_len += (size_t)n;
    if (r->method.n)
        cz__log_access(r, status, (uint64_t)blen, 0);
    cz__conn_flush(c);
}
