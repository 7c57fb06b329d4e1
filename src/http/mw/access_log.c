/* SPDX-License-Identifier: MIT
 *
 * access_log.c: the access-log link (go-zero rest/handler/loghandler.go, brief mode).
 *
 * One line per request when its response is final, at info level (error for 5xx, as logBrief),
 * and a slow-call line when the request took longer than SlowThreshold (logx's 500 ms default),
 * as go-zero's "[HTTP] 200 - GET /x - ip - ua - slowcall(1.2s)" warning.
 *
 * The access line is written here only: by the link for a routed request, and through
 * cz__access_log for the answers no chain runs for (404/405, and the requests the codec
 * refuses while parsing), when Middlewares.Log is on.
 */
#include <stdio.h>
#include "metrics_int.h"
#include "czero/log.h"
#include "czero/trace.h"

uint64_t cz__access_log(cz_req_t *r, int status, uint64_t bytes, uint64_t now)
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

static void log_leave(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)ctx;
    int status = cz_res_get_status(res);
    /* the access line's duration is the slow check's too, and the end time is the one the
     * metrics link read at its leave (a few links earlier) when it ran: one clock reading */
    uint64_t took_us = cz__access_log(r, status, r->head ? 0 : res->body_len,
                                      cz__mw_metrics_leave_mono_ns(r));
    uint64_t slow_ms = (uint64_t)(uintptr_t)mw->data;
    if (took_us > slow_ms * 1000) {
        cz_str_t ua = cz_req_header(r, "User-Agent");
        cz_str_t remote = cz_req_remote(r);
        cz_log_slowf("[HTTP] %d - %.*s %.*s - %.*s - %.*s - slowcall(%.1fms)", status,
                     (int)r->method.n, r->method.p, (int)r->target.n, r->target.p,
                     (int)remote.n, remote.p, (int)ua.n, ua.p ? ua.p : "", took_us / 1000.0);
    }
}

static cz_mw_step_t log_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)mw, (void)r, (void)res, (void)ctx;
    return CZ_MW_NEXT;
}

static const cz_mw_ops_t log_ops = {.name = "log", .enter = log_enter, .leave = log_leave};

static int log_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                     cz_diag_t *d)
{
    (void)state, (void)rt, (void)d;
    out->ops = &log_ops;
    out->data = (void *)(uintptr_t)(s->conf.slow_threshold_ms > 0 ? s->conf.slow_threshold_ms : 500);
    return 0;
}

const cz__mw_module_t cz__mw_log = {.name = "log", .route = log_route};
