/* SPDX-License-Identifier: MIT
 *
 * The czero demo service: what `make run` starts, and the first place a newcomer reads.
 *
 *   GET  /hello        -> {"message":"hello"}
 *   GET  /users/:id    -> {"id":"<id>"}
 *   POST /echo         -> the request body, with its Content-Type
 *   GET  /slow?ms=N    -> answers after N ms from a timer, without blocking the loop (async)
 *   GET  /block?ms=N   -> sleeps N ms on the blocking pool (a stand-in for a database call)
 *   GET  /stream?n=N   -> N chunks of a chunked response
 *
 * Usage: czero-demo -f etc/demo.yaml
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "czero/czero.h"

typedef struct demo_conf {
    cz_rest_conf_t rest; /* go-zero: embeds rest.RestConf */
} demo_conf_t;

static const cz_conf_field_t demo_conf_fields[] = {
    {.key = "", .type = CZ_CONF_INLINE, .offset = offsetof(demo_conf_t, rest),
     .sub = cz_rest_conf_fields},
    {0},
};

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
    cz_res_end(sc->res); /* also fine if the client has gone: the request is then released */
    uv_close((uv_handle_t *)t, slow_closed);
}

static int slow(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    slow_ctx_t *sc = malloc(sizeof *sc);
    if (!sc)
        return cz_res_error(res, 503, "out of memory"), CZ_DONE;
    sc->res = res;
    sc->ms = query_long(req, "ms", 100, 60000);
    cz_res_header(res, "Content-Type", "application/json; charset=utf-8");
    uv_timer_init(cz_req_loop(req), &sc->timer);
    sc->timer.data = sc;
    uv_timer_start(&sc->timer, slow_fire, (uint64_t)sc->ms, 0);
    return CZ_AGAIN;
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

static const cz_route_t demo_routes[] = {
    {"GET", "/hello", hello, NULL, 0},
    {"GET", "/users/:id", user, NULL, 0},
    {"POST", "/echo", echo, NULL, 0},
    {"GET", "/slow", slow, NULL, 0},
    {"GET", "/block", block, NULL, CZ_ROUTE_BLOCKING},
    {"GET", "/stream", stream, NULL, 0},
};

int main(int argc, char **argv)
{
    const char *file = "etc/demo.yaml";
    int opt;
    while ((opt = getopt(argc, argv, "f:")) != -1) {
        if (opt == 'f') {
            file = optarg;
        } else {
            fprintf(stderr, "usage: %s [-f config.yaml]\n", argv[0]);
            return 2;
        }
    }
    demo_conf_t c;
    cz_conf_must_load(file, demo_conf_fields, &c);
    cz_diag_t d = {0};
    char msg[512];
    if (cz_log_setup(&c.rest.log, &d) != 0) {
        fprintf(stderr, "config error: %s\n", cz_diag_format(&d, msg, sizeof msg));
        return 1;
    }
    cz_server_t *srv = cz_server_new(&c.rest, &d);
    if (!srv || cz_server_add_routes(srv, demo_routes, sizeof demo_routes / sizeof demo_routes[0],
                                     NULL, &d) != 0) {
        fprintf(stderr, "%s\n", cz_diag_format(&d, msg, sizeof msg));
        return 1;
    }
    int rc = cz_server_run(srv);
    if (rc)
        fprintf(stderr, "server: %s\n", cz_strerror(rc));
    cz_server_free(srv);
    cz_log_close();
    cz_conf_free(demo_conf_fields, &c);
    return rc ? 1 : 0;
}
