/* SPDX-License-Identifier: MIT
 *
 * routes.c: the demo service's handlers and route table (see main.c for the list). Kept apart
 * from main() so the integration tests serve exactly these handlers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "czero/czero.h"
#include "demo.h"
#include "czero/bind.h"
#include "czero/jwt.h"

static int hello(cz_req_t *req, cz_res_t *res, void *ud)
{
    static const char body[] = "{\"message\":\"hello\"}";
    (void)req, (void)ud;
    cz_res_json_raw(res, 200, body, sizeof body - 1);
    return CZ_DONE;
}

static int user(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t id = cz_req_param(req, "id");
    json_t *v = json_pack("{s:s%}", "id", id.p, id.n);
    cz_res_ok_json(res, v);
    json_decref(v);
    return CZ_DONE;
}

static int echo(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t ct = cz_req_header(req, "Content-Type");
    if (ct.p)
        cz_res_header_n(res, CZ_STR("Content-Type"), ct);
    else
        cz_res_header(res, "Content-Type", "application/octet-stream");
    cz_str_t body = cz_req_body(req);
    cz_res_write(res, body.p, body.n);
    return CZ_DONE;
}

static long query_long(cz_req_t *req, const char *name, long def, long max)
{
    cz_str_t v = cz_req_query(req, name);
    if (!v.p || !v.n)
        return def;
    char buf[24];
    snprintf(buf, sizeof buf, "%.*s", (int)v.n, v.p);
    long n = strtol(buf, NULL, 10);
    return n < 0 ? 0 : n > max ? max : n;
}

/* /slow: the answer comes from a timer callback; the loop keeps serving others meanwhile. */
typedef struct slow_ctx {
    uv_timer_t timer;
    cz_res_t *res;
    long ms;
} slow_ctx_t;

static void slow_closed(uv_handle_t *h) { free(h->data); }

static void slow_fire(uv_timer_t *t)
{
    slow_ctx_t *sc = t->data;
    cz_res_printf(sc->res, "{\"slept_ms\":%ld}", sc->ms);
    cz_res_end(sc->res);
    uv_close((uv_handle_t *)t, slow_closed);
}

/* The client went away or the server is shutting down: stop waiting and release the request. */
static void slow_cancel(cz_req_t *req, void *ud)
{
    slow_ctx_t *sc = ud;
    (void)req;
    uv_timer_stop(&sc->timer);
    cz_res_end(sc->res);
    uv_close((uv_handle_t *)&sc->timer, slow_closed);
}

static int answer_after(cz_req_t *req, cz_res_t *res, long ms)
{
    slow_ctx_t *sc = malloc(sizeof *sc);
    if (!sc)
        return cz_res_error(res, 503, "out of memory"), CZ_DONE;
    sc->res = res;
    sc->ms = ms;
    cz_res_header(res, "Content-Type", "application/json; charset=utf-8");
    uv_timer_init(cz_req_loop(req), &sc->timer);
    sc->timer.data = sc;
    uv_timer_start(&sc->timer, slow_fire, (uint64_t)sc->ms, 0);
    cz_req_on_cancel(req, slow_cancel, sc);
    return CZ_AGAIN;
}

static int slow(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    return answer_after(req, res, query_long(req, "ms", 100, 60000));
}

/* /work?cpu=US&ms=N: US microseconds of CPU on the loop, then the answer after N ms from a
 * timer: a handler of known cost (a capacity of about 1e6/US per worker) that also waits, as one
 * calling a database does. The overload benchmark drives it (bench/run.sh). */
static int work(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    long us = query_long(req, "cpu", 0, 1000000);
    long ms = query_long(req, "ms", 0, 60000);
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
    if (ms > 0)
        return answer_after(req, res, ms);
    cz_res_json_raw(res, 200, "{\"slept_ms\":0}", 14);
    return CZ_DONE;
}

static int block(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    long ms = query_long(req, "ms", 100, 60000);
    usleep((useconds_t)ms * 1000); /* runs on the blocking pool, not on the loop */
    cz_res_printf(res, "{\"blocked_ms\":%ld}", ms);
    cz_res_header(res, "Content-Type", "application/json; charset=utf-8");
    return CZ_DONE;
}

static int stream(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    long n = query_long(req, "n", 3, 10000);
    cz_res_header(res, "Content-Type", "text/plain; charset=utf-8");
    cz_res_stream_begin(res);
    for (long i = 0; i < n; i++) {
        char line[32];
        int len = snprintf(line, sizeof line, "chunk %ld\n", i);
        cz_res_stream_write(res, line, (size_t)len);
    }
    cz_res_stream_end(res);
    return CZ_DONE;
}

/* POST /users: go-zero's httpx.Parse on a declared request type. */
typedef struct user_req {
    char *name;   /* json:"name" */
    int64_t age;  /* json:"age,range=[0:150]" */
    char *email;  /* json:"email,optional" */
    bool has_email;
} user_req_t;

static const cz_bind_field_t user_req_fields[] = {
    {.name = "name", .type = CZ_BIND_STRING, .offset = offsetof(user_req_t, name)},
    {.name = "age", .type = CZ_BIND_INT, .offset = offsetof(user_req_t, age), .has_range = true,
     .lo = 0, .hi = 150},
    {.name = "email", .type = CZ_BIND_STRING, .offset = offsetof(user_req_t, email),
     .flags = CZ_BIND_OPTIONAL | CZ_BIND_HAS, .has_offset = offsetof(user_req_t, has_email)},
    {0},
};

static int create_user(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    user_req_t u = {0};
    if (cz_bind_or_400(req, res, user_req_fields, &u) != 0)
        return CZ_DONE; /* 400 naming the field, already written */
    json_t *v = cz_bind_to_json(user_req_fields, &u);
    cz_res_ok_json(res, v);
    json_decref(v);
    return CZ_DONE;
}

/* GET /api/me (JWT group): the verified token's claims. */
int demo_me(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    json_t *claims = cz_req_claims(req);
    if (!claims)
        return cz_res_error(res, 401, "no claims"), CZ_DONE;
    cz_res_ok_json(res, claims);
    return CZ_DONE;
}

/* POST /login {"user": "..."}: a token for /api/me, signed with Auth.AccessSecret (ud). */
typedef struct login_req {
    char *user;
} login_req_t;

static const cz_bind_field_t login_fields[] = {
    {.name = "user", .type = CZ_BIND_STRING, .offset = offsetof(login_req_t, user)},
    {0},
};

int demo_login(cz_req_t *req, cz_res_t *res, void *ud)
{
    const demo_auth_t *auth = ud;
    login_req_t in = {0};
    if (cz_bind_or_400(req, res, login_fields, &in) != 0)
        return CZ_DONE;
    json_int_t now = (json_int_t)(cz_wallclock_ns() / 1000000000u);
    json_t *claims = json_pack("{s:s, s:I, s:I}", "user", in.user, "iat", now, "exp",
                               now + (json_int_t)auth->access_expire);
    char *token = NULL;
    if (!claims || cz_jwt_sign(CZ_JWT_HS256, auth->access_secret, strlen(auth->access_secret),
                               claims, &token) != 0) {
        json_decref(claims);
        return cz_res_error(res, 500, "cannot sign"), CZ_DONE;
    }
    json_t *out = json_pack("{s:s, s:I}", "accessToken", token, "accessExpire",
                            now + (json_int_t)auth->access_expire);
    cz_res_ok_json(res, out);
    json_decref(out);
    json_decref(claims);
    free(token);
    return CZ_DONE;
}

const cz_route_t demo_routes[] = {
    {"GET", "/hello", hello, NULL, 0},
    {"GET", "/users/:id", user, NULL, 0},
    {"POST", "/echo", echo, NULL, 0},
    {"GET", "/slow", slow, NULL, 0},
    {"GET", "/block", block, NULL, CZ_ROUTE_BLOCKING},
    {"GET", "/stream", stream, NULL, 0},
    {"POST", "/users", create_user, NULL, 0},
    {"GET", "/work", work, NULL, 0},
};

const size_t demo_nroutes = sizeof demo_routes / sizeof demo_routes[0];
