/* Integration tests of the middleware chain on a real server: go-zero's order, user and group
 * middlewares with enter/leave in the right order, park/resume, breaker per route, shedding
 * under a forced CPU reading, priority routes, timeouts, MaxConns, recover, per-route MaxBytes;
 * what the route breaker counts: the shedder's and MaxConns' 503s and a limiter's 429 (local
 * refusals) neither way, a timeout's 503 as a failure. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "czero/breaker.h"
#include "czero/shedder.h"
#include "http_client.h"
#include "test_server.h"

/* ---- handlers and middlewares used here ---- */

static int fail500(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_error(res, 500, "boom");
    return CZ_DONE;
}

static int depth_seen;
static void deep(int n)
{
    depth_seen = n;
    if (n < 0)
        return;
    if (n == 0)
        cz_panic("handler gave up at depth %d", 3);
    else
        deep(n - 1);
}

static int panics(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)res, (void)ud;
    deep(3);
    return CZ_DONE;
}

static char trail[256];
static pthread_mutex_t trail_mu = PTHREAD_MUTEX_INITIALIZER;
static void note(const char *s)
{
    pthread_mutex_lock(&trail_mu);
    strncat(trail, s, sizeof trail - strlen(trail) - 1);
    pthread_mutex_unlock(&trail_mu);
}

static int noted(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    note("H");
    cz_res_printf(res, "ok");
    return CZ_DONE;
}

static cz_mw_step_t rec_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    (void)req, (void)ctx;
    const char *tag = mw->data;
    char b[8];
    snprintf(b, sizeof b, "+%s", tag);
    note(b);
    if (strcmp(tag, "X") == 0) { /* answers itself */
        cz_res_status(res, 418);
        return CZ_MW_DONE;
    }
    return CZ_MW_NEXT;
}

static void rec_leave(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    (void)req, (void)ctx;
    char b[8];
    snprintf(b, sizeof b, "-%s", (const char *)mw->data);
    note(b);
    cz_res_header(res, "X-Left", mw->data);
}

static const cz_mw_ops_t rec_ops = {.name = "rec", .enter = rec_enter, .leave = rec_leave};

/* parks the request and resumes it from a timer, as a Redis-backed limiter would */
typedef struct park { uv_timer_t t; cz_req_t *req; } park_t;
static void park_closed(uv_handle_t *h) { free(h->data); }
static void park_fire(uv_timer_t *t)
{
    park_t *p = t->data;
    note("R");
    cz_mw_resume(p->req, CZ_MW_NEXT);
    uv_close((uv_handle_t *)t, park_closed);
}
static cz_mw_step_t park_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    (void)mw, (void)res, (void)ctx;
    park_t *p = malloc(sizeof *p);
    p->req = req;
    uv_timer_init(cz_req_loop(req), &p->t);
    p->t.data = p;
    uv_timer_start(&p->t, park_fire, 50, 0);
    note("P");
    return CZ_MW_AGAIN;
}
static const cz_mw_ops_t park_ops = {.name = "park", .enter = park_enter};

/* ---- order ---- */

Test(chain, builtin_order_follows_go_zero_then_server_then_group)
{
    ts_t t;
    ts_init(&t);
    t.conf.middlewares.log = true;
    ts_start(&t, NULL, 0);
    const char *names[32];
    size_t n = cz_server_route_chain(t.srv, "GET", "/hello", names, 32);
    static const char *canon[] = {"trace", "log", "prometheus", "maxconns", "breaker",
                                  "shedding", "timeout", "metrics", "gunzip", "jwt", "signature"};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        while (k < sizeof canon / sizeof canon[0] && strcmp(canon[k], names[i]) != 0)
            k++;
        cr_assert_lt(k, sizeof canon / sizeof canon[0], "%s is out of go-zero's order", names[i]);
    }
    const char *required[] = {"log", "maxconns", "breaker", "shedding", "timeout"};
    for (size_t r = 0; r < 5; r++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found |= strcmp(names[i], required[r]) == 0;
        cr_assert(found, "%s missing from the default chain", required[r]);
    }
    ts_stop(&t);
}

Test(chain, switches_turn_links_off)
{
    ts_t t;
    ts_init(&t);
    memset(&t.conf.middlewares, 0, sizeof t.conf.middlewares);
    ts_start(&t, NULL, 0);
    const char *names[32];
    cr_assert_eq(cz_server_route_chain(t.srv, "GET", "/hello", names, 32), 0);
    ts_stop(&t);
}

Test(chain, user_middlewares_enter_in_order_and_leave_in_reverse)
{
    ts_t t;
    ts_init(&t);
    cz_diag_t d;
    t.srv = cz_server_new(&t.conf, &d);
    cr_assert_not_null(t.srv);
    cz_mw_t a = {&rec_ops, "A"}, b = {&rec_ops, "B"}, x = {&rec_ops, "X"};
    cr_assert_eq(cz_server_use(t.srv, &a), 0);
    cz_mw_t group[] = {b, {&park_ops, NULL}};
    cz_route_t routes[] = {{"GET", "/r", noted, NULL, 0}};
    cz_route_opts_t o = {.prefix = "/g", .middlewares = group, .nmiddlewares = 2};
    cr_assert_eq(cz_server_add_routes(t.srv, routes, 1, &o, &d), 0);
    cz_route_opts_t o2 = {.prefix = "/x", .middlewares = &x, .nmiddlewares = 1};
    cr_assert_eq(cz_server_add_routes(t.srv, routes, 1, &o2, &d), 0);
    cr_assert_eq(cz_server_start(t.srv), 0);
    int port = cz_server_port(t.srv);

    tc_resp_t r;
    cr_assert_eq(tc_get(port, "/g/r", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ok");
    cr_assert_str_eq(trail, "+A+BPRH-B-A", "enter in order, park, resume, leave in reverse");
    tc_resp_free(&r);

    trail[0] = 0;
    cr_assert_eq(tc_get(port, "/x/r", &r), 0);
    cr_assert_eq(r.status, 418, "a middleware that answers stops the chain");
    cr_assert_str_eq(trail, "+A+X-A", "the handler did not run; A still left");
    cr_assert_str_eq(tc_header(&r, "X-Left"), "A", "a leave() may still add headers");
    tc_resp_free(&r);
    ts_stop(&t);
}

/* ---- breaker ---- */

Test(chain, breaker_opens_on_failing_route_only)
{
    ts_t t;
    ts_init(&t);
    cz_route_t extra[] = {{"GET", "/fail", fail500, NULL, 0}};
    ts_start(&t, extra, 1);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, t.port, 5000), 0);
    int s500 = 0, s503 = 0;
    for (int i = 0; i < 300; i++) {
        tc_resp_t r;
        tc_sendf(&c, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert_eq(tc_read(&c, &r, false), 0);
        s500 += r.status == 500;
        s503 += r.status == 503;
        tc_resp_free(&r);
    }
    cr_assert_gt(s503, 100, "the breaker drops most calls once it sees failures (503: %d)", s503);
    cr_assert_gt(s500, 5, "the first failures pass (protection)");
    for (int i = 0; i < 50; i++) {
        tc_resp_t r;
        tc_sendf(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert_eq(tc_read(&c, &r, false), 0);
        cr_assert_eq(r.status, 200, "another route's breaker is unaffected");
        tc_resp_free(&r);
    }
    tc_close(&c);
    ts_stop(&t);
}

/* ---- shedding ---- */

typedef struct burst {
    int port;
    const char *path;
    int status;
} burst_t;

static void *one(void *arg)
{
    burst_t *b = arg;
    tc_resp_t r;
    b->status = tc_get(b->port, b->path, &r) == 0 ? r.status : -1;
    tc_resp_free(&r);
    return NULL;
}

static int run_burst(int port, const char *path, int n, int *n503)
{
    pthread_t th[64];
    burst_t b[64];
    for (int i = 0; i < n; i++) {
        b[i] = (burst_t){port, path, 0};
        pthread_create(&th[i], NULL, one, &b[i]);
    }
    int ok = 0;
    *n503 = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ok += b[i].status == 200;
        *n503 += b[i].status == 503;
    }
    return ok;
}

static int slow_prio(cz_req_t *req, cz_res_t *res, void *ud);

Test(chain, shedding_drops_under_forced_cpu_and_priority_sheds_later)
{
    ts_t t;
    ts_init(&t);
    t.conf.max_conns = 0;
    ts_start(&t, NULL, 0);
    cz_diag_t d;
    (void)d;
    /* CPU 940: over the 900 threshold, under the priority shedder's (900+1000)/2 = 950 */
    cz_cpu_set_override(940);
    int n503;
    run_burst(t.port, "/slow?ms=200", 40, &n503); /* builds the in-flight average */
    int ok = run_burst(t.port, "/slow?ms=300", 40, &n503);
    cr_assert_gt(n503, 0, "some requests are shed (ok %d)", ok);
    cr_assert_gt(ok, 0, "not everything is shed");
    cz_cpu_set_override(100);
    usleep(1100 * 1000); /* cool-off */
    ok = run_burst(t.port, "/users/1", 40, &n503);
    cr_assert_eq(n503, 0, "no shedding once the CPU is low and the cool-off passed");
    cz_cpu_set_override(-1);
    ts_stop(&t);
}

typedef struct slowctx { uv_timer_t t; cz_res_t *res; } slowctx_t;
static void slow_closed(uv_handle_t *h) { free(h->data); }
static void slow_done(uv_timer_t *t)
{
    slowctx_t *s = t->data;
    cz_res_end(s->res);
    uv_close((uv_handle_t *)t, slow_closed);
}
static int slow_prio(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    slowctx_t *s = malloc(sizeof *s);
    s->res = res;
    uv_timer_init(cz_req_loop(req), &s->t);
    s->t.data = s;
    uv_timer_start(&s->t, slow_done, 300, 0);
    return CZ_AGAIN;
}

Test(chain, priority_route_is_not_shed_below_its_threshold)
{
    ts_t t;
    ts_init(&t);
    t.conf.max_conns = 0;
    cz_diag_t d;
    t.srv = cz_server_new(&t.conf, &d);
    cz_route_t routes[] = {{"GET", "/slow", slow_prio, NULL, 0}};
    cz_route_opts_t prio = {.prefix = "/prio", .priority = true};
    cr_assert_eq(cz_server_add_routes(t.srv, routes, 1, &prio, &d), 0);
    cr_assert_eq(cz_server_add_routes(t.srv, routes, 1, NULL, &d), 0);
    cr_assert_eq(cz_server_start(t.srv), 0);
    int port = cz_server_port(t.srv);
    cz_cpu_set_override(940);
    int n503;
    run_burst(port, "/prio/slow", 40, &n503);
    run_burst(port, "/prio/slow", 40, &n503);
    cr_assert_eq(n503, 0, "CPU 940 is under the priority threshold 950");
    run_burst(port, "/slow", 40, &n503);
    run_burst(port, "/slow", 40, &n503);
    cr_assert_gt(n503, 0, "the normal route at the same CPU is shed");
    cz_cpu_set_override(-1);
    ts_stop(&t);
}

/* ---- what the route breaker counts ---- */

static cz_breaker_stat_t breaker_of(const char *name)
{
    cz_breaker_stat_t st;
    cz_breaker_stat(cz_breakers_get(name), &st);
    return st;
}

/* The breaker sits outside the shedder (go-zero's order), so its leave sees the shedder's 503.
 * go-zero counts it as a failure: its breaker then opens on its own shedding and keeps
 * dropping once the load is gone. Here a shed answer is neither a success nor a failure. */
Test(chain, shed_answers_are_not_breaker_failures)
{
    ts_t t;
    ts_init(&t);
    t.conf.max_conns = 0;
    ts_start(&t, NULL, 0);
    cz_cpu_set_override(1000); /* overload factor 0.1: a handful in flight is too many */
    int shed = 0, ok = 0, n503;
    for (int round = 0; round < 6 && shed < 40; round++) {
        ok += run_burst(t.port, "/slow?ms=100", 40, &n503);
        shed += n503;
    }
    cz_breaker_stat_t st = breaker_of("GET:///slow");
    cr_assert_gt(shed, 0, "the shedder answers 503 under a forced CPU of 100%% (ok %d)", ok);
    cr_assert_eq(st.failures, 0, "%d shed answers, none a breaker failure (%lld failures)", shed,
                 (long long)st.failures);
    cr_assert_eq(st.drops, 0, "the breaker dropped nothing itself (%lld)", (long long)st.drops);
    cr_assert_eq(st.accepts, ok, "the served requests are its only outcomes (%lld of %d)",
                 (long long)st.accepts, ok);
    cr_assert_eq(st.drop_ratio, 0.0);
    cz_cpu_set_override(100);
    usleep(1100 * 1000); /* the shedder's cool-off */
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, t.port, 5000), 0);
    for (int i = 0; i < 100; i++) {
        tc_resp_t r;
        tc_sendf(&c, "GET /slow?ms=0 HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert_eq(tc_read(&c, &r, false), 0);
        cr_assert_eq(r.status, 200, "once the load is gone nothing is dropped (request %d)", i);
        tc_resp_free(&r);
    }
    tc_close(&c);
    cz_cpu_set_override(-1);
    ts_stop(&t);
}

Test(chain, max_conns_answers_are_not_breaker_outcomes)
{
    ts_t t;
    ts_init(&t);
    t.conf.max_conns = 3;
    ts_start(&t, NULL, 0);
    cz_cpu_set_override(0); /* no shedding on a busy machine */
    int n503;
    int ok = run_burst(t.port, "/slow?ms=300", 10, &n503);
    cr_assert_eq(n503, 10 - ok);
    cr_assert_gt(n503, 0);
    cz_breaker_stat_t st = breaker_of("GET:///slow");
    cr_assert_eq(st.failures, 0);
    cr_assert_eq(st.total, ok, "only the admitted requests are counted (%lld of %d)",
                 (long long)st.total, ok);
    cz_cpu_set_override(-1);
    ts_stop(&t);
}

/* A rate limit in front of the handler, as the gateway's RateLimit link: quota 1, then 429. */
static cz_mw_step_t lim_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    (void)req, (void)ctx;
    int *left = mw->data;
    if (__atomic_fetch_sub(left, 1, __ATOMIC_RELAXED) > 0)
        return CZ_MW_NEXT;
    cz_res_error(res, 429, "Too Many Requests");
    cz_res_mark_refused(res);
    return CZ_MW_DONE;
}
static const cz_mw_ops_t lim_ops = {.name = "limit", .enter = lim_enter};

Test(chain, limiter_refusals_are_not_breaker_outcomes)
{
    ts_t t;
    ts_init(&t);
    cz_diag_t d;
    t.srv = cz_server_new(&t.conf, &d);
    static int quota = 1;
    cz_mw_t lim = {&lim_ops, &quota};
    cz_route_t routes[] = {{"GET", "/x", fail500, NULL, 0}};
    cz_route_opts_t o = {.middlewares = &lim, .nmiddlewares = 1};
    cr_assert_eq(cz_server_add_routes(t.srv, routes, 1, &o, &d), 0);
    cr_assert_eq(cz_server_start(t.srv), 0);
    cz_cpu_set_override(0);
    int port = cz_server_port(t.srv);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, port, 5000), 0);
    for (int i = 0; i < 20; i++) {
        tc_resp_t r;
        tc_sendf(&c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert_eq(tc_read(&c, &r, false), 0);
        cr_assert_eq(r.status, i == 0 ? 500 : 429, "request %d", i);
        tc_resp_free(&r);
    }
    tc_close(&c);
    cz_breaker_stat_t st = breaker_of("GET:///x");
    cr_assert_eq(st.failures, 1, "the handler's 500 is the one failure");
    cr_assert_eq(st.total, 1, "the 429s count neither way (%lld)", (long long)st.total);
    cz_cpu_set_override(-1);
    ts_stop(&t);
}

Test(chain, timeout_answers_are_breaker_failures)
{
    ts_t t;
    ts_init(&t);
    t.conf.timeout_ms = 100;
    t.conf.max_conns = 0;
    ts_start(&t, NULL, 0);
    cz_cpu_set_override(0);
    int n503;
    int ok = run_burst(t.port, "/slow?ms=400", 8, &n503);
    cr_assert_eq(n503, 8, "every request times out (ok %d)", ok);
    cz_breaker_stat_t st = breaker_of("GET:///slow");
    cr_assert_eq(st.failures, 8, "a timeout is real slowness: a failure, as go-zero (%lld)",
                 (long long)st.failures);
    cz_cpu_set_override(-1);
    ts_stop(&t);
}

/* ---- timeout ---- */

Test(chain, timeout_answers_503_and_late_answer_is_dropped)
{
    ts_t t;
    ts_init(&t);
    t.conf.timeout_ms = 200;
    ts_start(&t, NULL, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, t.port, 5000), 0);
    long t0 = tc_now_ms();
    tc_sendf(&c, "GET /slow?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    long dt = tc_now_ms() - t0;
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body, "Request Timeout");
    cr_assert(dt >= 190 && dt < 700, "answered after %ld ms", dt);
    tc_resp_free(&r);
    cr_assert(tc_closed(&c, 2000), "the connection closes after a timeout");
    tc_close(&c);
    /* the blocking pool: the answer becomes 503 when the handler returns */
    cr_assert_eq(tc_get(t.port, "/block?ms=400", &r), 0);
    cr_assert_eq(r.status, 503);
    tc_resp_free(&r);
    usleep(900 * 1000); /* the async handler's timer fires on a finished request: no crash */
    cr_assert_eq(tc_get(t.port, "/slow?ms=10", &r), 0);
    cr_assert_eq(r.status, 200, "fast requests are unaffected");
    tc_resp_free(&r);
    ts_stop(&t);
}

/* ---- maxconns ---- */

Test(chain, max_conns_rejects_beyond_the_limit)
{
    ts_t t;
    ts_init(&t);
    t.conf.max_conns = 3;
    ts_start(&t, NULL, 0);
    int n503;
    int ok = run_burst(t.port, "/slow?ms=300", 8, &n503);
    cr_assert_eq(ok, 3, "exactly MaxConns requests run (ok %d, 503 %d)", ok, n503);
    cr_assert_eq(n503, 5);
    tc_resp_t r;
    cr_assert_eq(tc_get(t.port, "/hello", &r), 0);
    cr_assert_eq(r.status, 200, "slots are released");
    tc_resp_free(&r);
    ts_stop(&t);
}

/* ---- recover ---- */

Test(chain, panic_answers_500_and_keeps_the_connection)
{
    ts_t t;
    ts_init(&t);
    cz_route_t extra[] = {{"GET", "/panic", panics, NULL, 0},
                          {"GET", "/bpanic", panics, NULL, CZ_ROUTE_BLOCKING}};
    ts_start(&t, extra, 2);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, t.port, 5000), 0);
    tc_resp_t r;
    tc_sendf(&c, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /bpanic HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_assert_eq(r.status, 500);
    tc_resp_free(&r);
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_assert_eq(r.status, 200, "the same connection serves the next request");
    tc_resp_free(&r);
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_assert_eq(r.status, 500, "a panic on the blocking pool is recovered too");
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&t);
}

/* ---- max bytes per route ---- */

Test(chain, per_route_max_bytes_and_switch)
{
    ts_t t;
    ts_init(&t);
    cz_diag_t d;
    t.srv = cz_server_new(&t.conf, &d);
    extern const cz_route_t demo_routes[];
    cz_route_opts_t small = {.prefix = "/small", .max_bytes = 10};
    cr_assert_eq(cz_server_add_routes(t.srv, &demo_routes[2], 1, &small, &d), 0); /* POST /echo */
    cr_assert_eq(cz_server_add_routes(t.srv, &demo_routes[2], 1, NULL, &d), 0);
    cr_assert_eq(cz_server_start(t.srv), 0);
    int port = cz_server_port(t.srv);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, port, 5000), 0);
    tc_resp_t r;
    tc_sendf(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    tc_sendf(&c, "POST /small/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_assert_eq(r.status, 413);
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&t);
}

Test(chain, client_gone_still_releases_max_conns_slots)
{
    ts_t t;
    ts_init(&t);
    t.conf.max_conns = 2;
    ts_start(&t, NULL, 0);
    for (int round = 0; round < 3; round++) {
        tc_conn_t a, b;
        cr_assert_eq(tc_connect(&a, t.port, 5000), 0);
        cr_assert_eq(tc_connect(&b, t.port, 5000), 0);
        tc_sendf(&a, "GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n");
        tc_sendf(&b, "GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n");
        usleep(50 * 1000);
        /* the clients vanish (reset) before their answers: the requests are cancelled */
        struct linger lg = {1, 0};
        setsockopt(a.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        setsockopt(b.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        tc_close(&a);
        tc_close(&b);
        usleep(100 * 1000);
    }
    int n503;
    int ok = run_burst(t.port, "/slow?ms=100", 2, &n503);
    cr_assert_eq(ok, 2, "both slots are free again (503: %d)", n503);
    ts_stop(&t);
}
