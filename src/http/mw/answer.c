/* SPDX-License-Identifier: MIT
 *
 * answer.c: what the built-in links share to answer from inside the chain: a status with a
 * text body, a local refusal (shedding, MaxConns, breaker), and go-zero's "dropped" error line.
 */
#include <string.h>
#include "mw_int.h"
#include "czero/log.h"

void cz__mw_answer(cz_res_t *res, int status, const char *body)
{
    res->status = status;
    res->body_len = 0;
    if (body) {
        cz_res_header_n(res, CZ_STR("Content-Type"), CZ_STR("text/plain; charset=utf-8"));
        cz_res_write(res, body, strlen(body));
    }
}

void cz__mw_refuse(cz_res_t *res, int status)
{
    cz__mw_answer(res, status, NULL);
    res->refused = true;
}

/* go-zero logs every drop; a shedder refusing thousands of requests a second then spends a
 * good part of the loop it protects formatting the same line. Each worker logs the first drop of
 * each second in go-zero's words and counts the rest into one line at its next drop. */
static __thread uint64_t drop_sec, drop_more;

void cz__mw_log_dropped(cz_req_t *r)
{
    uint64_t sec = uv_now(&r->w->loop) / 1000;
    if (sec == drop_sec) {
        drop_more++;
        return;
    }
    if (drop_more)
        cz_log_error("[http] dropped %llu more requests since %llus ago",
                     (unsigned long long)drop_more, (unsigned long long)(sec - drop_sec));
    drop_sec = sec;
    drop_more = 0;
    cz_str_t remote = cz_req_remote(r);
    cz_str_t ua = cz_req_header(r, "User-Agent");
    cz_log_error("[http] dropped, %.*s - %.*s - %.*s", (int)r->target.n, r->target.p,
                 (int)remote.n, remote.p, (int)ua.n, ua.p ? ua.p : "");
}

