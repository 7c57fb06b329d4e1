/* SPDX-License-Identifier: MIT
 *
 * response.c: building responses (go-zero's httpx response helpers): status, header lines
 * and body collected in the request arena, until the answer ends (dispatch.c) and its codec
 * serialises it. Once a stream began, cz_res_write writes a piece of it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/http_int.h"
#include "czero/log.h"

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

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
 *         / DIGIT / ALPHA */
const bool cz__is_token[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
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
        return cz__res_stream_write(res, data, n);
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
    if (res->head_sent) /* too late for the header: just close after the answer */
        r->codec->close_after(r);
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

