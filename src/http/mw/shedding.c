/* SPDX-License-Identifier: MIT
 *
 * shedding.c: the adaptive load-shedding link (go-zero rest/handler/sheddinghandler.go).
 *
 * Two shedders per server, as go-zero's engine: one at CpuThreshold and one for priority routes
 * at (CpuThreshold + 1000) / 2, so priority routes are shed later. None when CpuThreshold is 0.
 * Their "CPU" reading is the worker loops' busy share (worker_load.c), not the machine's CPU, and
 * they never scale their in-flight limit below what the window saw (overload_floor 1). Besides
 * them, a request read more than LOOP_BEHIND_MAX_MS after its loop turn began is shed: an
 * overloaded loop queues requests in the sockets, where no in-flight count sees them.
 * A dropped request gets 503, marked as a local refusal so the breaker in front does not count
 * it (cz_res_mark_refused). A 503 answer fails the promise, and so does an answer an inner link
 * refused (a rate limiter's 429: no work was done, so its time must not feed the response-time
 * window); anything else passes it.
 */
#include "mw_int.h"
#include "metrics_int.h"
#include "czero/log.h"

/* A request read this long after its loop turn began waited at least that long before anyone
 * looked at it, and the shedder's window (which starts at the shedder) cannot see that wait: shed
 * it. A quarter of a 1 s Timeout, so what is admitted still answers well within one; priority
 * routes wait twice as long, as their shedder's threshold is higher. */
#define LOOP_BEHIND_MAX_MS 250

typedef struct shed_ctx {
    cz_shedder_promise_t promise;
} shed_ctx_t;

/* How far this loop turn has run past the moment it began reading requests: every request
 * read in this turn was already waiting then (or arrived since), and none of the turn's answers
 * due from timers goes out before the turn ends. */
static uint64_t loop_behind_ms(cz_req_t *r)
{
    /* coarse (a kernel tick) against a 250 ms bound: no precise clock read per request */
    uint64_t then = cz__worker_turn_ms(r->w), now = cz_clock_now_ms(cz_clock_coarse());
    return now > then ? now - then : 0;
}

static cz_mw_step_t shed_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    shed_ctx_t *sc = ctx;
    uint64_t behind_max = r->route->priority ? 2 * LOOP_BEHIND_MAX_MS : LOOP_BEHIND_MAX_MS;
    if (loop_behind_ms(r) > behind_max || cz_shedder_allow(mw->data, &sc->promise) != 0) {
        cz__mw_log_dropped(r);
        cz__mw_refuse(res, 503);
        cz__mw_metrics_drop(r, res); /* go-zero: metrics.AddDrop() */
        return CZ_MW_DONE;
    }
    return CZ_MW_NEXT;
}

static void shed_leave(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)mw, (void)r;
    shed_ctx_t *sc = ctx;
    if (cz_res_get_status(res) == 503 || cz_res_refused(res))
        cz_shedder_promise_fail(&sc->promise);
    else
        cz_shedder_promise_pass(&sc->promise);
}

static const cz_mw_ops_t shed_ops = {.name = "shedding",
                                     .ctx_size = sizeof(shed_ctx_t),
                                     .enter = shed_enter,
                                     .leave = shed_leave};

/* The shedder's reading: how busy the worker loops are, or the override tests and the demo's -c
 * set. Not go-zero's container CPU: that counts every other process on the machine (a build
 * next door reads as overload, and shedding then starves a server with idle loops), while a
 * loop that is never idle is exactly when requests start to queue in front of it. */
static int64_t loop_busy(void *ud)
{
    int64_t o = cz__cpu_override();
    return o >= 0 ? o : cz__server_busy(ud);
}

static int shed_init(cz_server_t *s, void **state, cz_diag_t *d)
{
    (void)state;
    if (s->conf.cpu_threshold <= 0)
        return 0;
    /* overload_floor 1: the loop-busy reading falls as soon as the shedder sheds, so go-zero's
     * scaling down to 10% of the learnt in-flight limit only makes it swing (measured: goodput
     * 0.5-0.7x the unshed server's at 2x overload); the loop-behind check bounds latency */
    cz_shedder_opts_t o = {.cpu = loop_busy, .cpu_ud = s, .overload_floor = 1};
    o.cpu_threshold = s->conf.cpu_threshold < 1000 ? s->conf.cpu_threshold : 999;
    int rc = cz_shedder_new(&o, &s->shedder);
    if (rc == 0) {
        o.cpu_threshold = cz_shedder_priority_threshold(s->conf.cpu_threshold);
        rc = cz_shedder_new(&o, &s->priority_shedder);
    }
    if (rc)
        return cz_diag_set(d, NULL, 0, 0, "CpuThreshold", "cannot create the load shedder: %s",
                           cz_strerror(rc));
    return 0;
}

static int shed_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                      cz_diag_t *d)
{
    (void)state, (void)d;
    if (!s->shedder)
        return 0;
    out->ops = &shed_ops;
    out->data = rt->priority ? s->priority_shedder : s->shedder;
    return 0;
}

static void shed_free(cz_server_t *s, void *state)
{
    (void)state;
    cz_shedder_free(s->shedder);
    cz_shedder_free(s->priority_shedder);
    s->shedder = s->priority_shedder = NULL;
}

const cz__mw_module_t cz__mw_shedding = {.name = "shedding", .init = shed_init,
                                         .route = shed_route, .free = shed_free};
