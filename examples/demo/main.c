/* SPDX-License-Identifier: MIT
 *
 * The czero demo service: what `make run` starts, and the first place a newcomer reads.
 *
 *   GET  /hello        -> {"message":"hello"}
 *   GET  /users/:id    -> {"id":"<id>"}
 *   POST /echo         -> the request body, with its Content-Type
 *   GET  /slow?ms=N    -> answers after N ms from a timer, without blocking the loop (async)
 *   GET  /block?ms=N   -> sleeps N ms on the blocking pool (a stand-in for a database call)
 *   GET  /work?cpu=US&ms=N -> burns US µs of CPU on the loop, then answers after N ms (async)
 *   GET  /stream?n=N   -> N chunks of a chunked response
 *   POST /users        -> {"name","age","email"} bound and validated (400 names the field)
 *   POST /login        -> {"accessToken": ...} for {"user": "..."}, signed with Auth.AccessSecret
 *   GET  /api/me       -> the JWT's claims (Authorization: Bearer <token>), 401 without one
 *   GET  /relay/:path  -> GET /<path> on the `peers` upstream (Upstreams in the config), wrapped
 *                         as {"via","peer","status","answer"}; 503 when none is configured
 * CORS is on for any origin; the dev server (DevServer) serves /metrics and /healthz.
 * With -n (or -d), every answer carries X-Instance naming the instance, so the gateway's balancing
 * is visible (make run-gateway names its three instances). A plain `make run` (and make bench)
 * leaves the link out: it is the demo's, not the framework's, and would cost every request.
 *
 * Usage: czero-demo [-f etc/demo.yaml] [-p port] [-n name] [-d delay_ms] [-c permille] [-h] [-v]
 *   -p  listen on this port instead of the config's Port (run several instances from one file)
 *   -n  name the instance: X-Instance on every answer (with -d alone: "<Host>:<Port>")
 *   -d  delay every answer by this many ms, without blocking the loop (a slow node, for tests)
 *   -c  the CPU usage the load shedder reads, fixed (cz_cpu_set_override): an overload run on a
 *       machine others share then sheds by its own load only (make bench, tests)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "czero/czero.h"
#include "demo.h"
#include "czero/cors.h"

typedef struct demo_conf {
    cz_rest_conf_t rest; /* go-zero: embeds rest.RestConf */
    demo_auth_t auth;    /* Auth */
    bool cors;           /* Cors: CORS for any origin (go-zero rest.WithCors()), default on */
    cz_conf_array_t upstreams; /* Upstreams: other services by name; /relay uses `peers` */
} demo_conf_t;

static const cz_conf_field_t auth_fields[] = {
    {.key = "AccessSecret", .type = CZ_CONF_STRING, .offset = offsetof(demo_auth_t, access_secret),
     .flags = CZ_CONF_REQUIRED},
    {.key = "AccessExpire", .type = CZ_CONF_INT, .offset = offsetof(demo_auth_t, access_expire),
     .def = "86400"},
    {0},
};

static const cz_conf_field_t demo_conf_fields[] = {
    {.key = "", .type = CZ_CONF_INLINE, .offset = offsetof(demo_conf_t, rest),
     .sub = cz_rest_conf_fields},
    {.key = "Auth", .type = CZ_CONF_OBJECT, .offset = offsetof(demo_conf_t, auth), .sub = auth_fields},
    {.key = "Cors", .type = CZ_CONF_BOOL, .offset = offsetof(demo_conf_t, cors), .def = "true"},
    {CZ_UPSTREAMS_FIELD(demo_conf_t, upstreams)},
    {0},
};

/* The instance middleware: names the instance on every answer and, with -d, delays the request
 * on a timer (the request is parked, so the loop keeps serving; a parked request always resumes,
 * which is what the engine requires even when the client has gone). */
typedef struct instance_mw {
    char name[128];
    uint64_t delay_ms;
} instance_mw_t;

typedef struct delay_ctx {
    uv_timer_t timer;
    cz_req_t *req;
} delay_ctx_t;

static void delay_closed(uv_handle_t *h) { free(h->data); }

static void delay_fire(uv_timer_t *t)
{
    delay_ctx_t *dc = t->data;
    cz_mw_resume(dc->req, CZ_MW_NEXT);
    uv_close((uv_handle_t *)t, delay_closed);
}

static cz_mw_step_t instance_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    const instance_mw_t *im = mw->data;
    (void)ctx;
    cz_res_header(res, "X-Instance", im->name);
    if (!im->delay_ms)
        return CZ_MW_NEXT;
    delay_ctx_t *dc = malloc(sizeof *dc);
    if (!dc)
        return CZ_MW_NEXT; /* no memory for the timer: answer at once rather than fail */
    dc->req = req;
    uv_timer_init(cz_req_loop(req), &dc->timer);
    dc->timer.data = dc;
    uv_timer_start(&dc->timer, delay_fire, im->delay_ms, 0);
    return CZ_MW_AGAIN;
}

static const cz_mw_ops_t instance_ops = {.name = "instance", .enter = instance_enter};

/* net/http's NotFound, as the engine answers it, plus the instance name. */
static int not_found(cz_req_t *req, cz_res_t *res, void *ud)
{
    const instance_mw_t *im = ud;
    (void)req;
    cz_res_header(res, "X-Instance", im->name);
    cz_res_error(res, 404, "404 page not found");
    return CZ_DONE;
}

#ifndef CZ_VERSION
#define CZ_VERSION "unknown" /* CMake passes the project version */
#endif

/* -h/--help and -v/--version, before getopt (which knows no long options): 0 when neither. */
static int help_or_version(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: %s [-f etc/demo.yaml] [-p port] [-n name] [-d delay_ms] [-c permille]\n"
                   "  -f  the config (go-zero RestConf keys, Auth, Cors, Upstreams)\n"
                   "  -p  listen on this port instead of the config's Port\n"
                   "  -n  name the instance: X-Instance on every answer\n"
                   "  -d  delay every answer by this many ms (a slow node, for tests)\n"
                   "  -c  fix the load the shedder reads, in permille (overload benches)\n"
                   "  -h, --help  this text;  -v, --version  the czero version\n",
                   argv[0]);
            return 1;
        }
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--version")) {
            printf("czero-demo %s\n", CZ_VERSION);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (help_or_version(argc, argv))
        return 0;
    const char *file = "etc/demo.yaml", *name = NULL;
    long port = 0, delay = 0, cpu = -1;
    int opt;
    while ((opt = getopt(argc, argv, "f:p:n:d:c:")) != -1) {
        char *end = NULL;
        if (opt == 'f') {
            file = optarg;
        } else if (opt == 'n') {
            name = optarg;
        } else if (opt == 'p' && (port = strtol(optarg, &end, 10), *end == 0) && port > 0 &&
                   port < 65536) {
        } else if (opt == 'd' && (delay = strtol(optarg, &end, 10), *end == 0) && delay >= 0 &&
                   delay <= 600000) {
        } else if (opt == 'c' && (cpu = strtol(optarg, &end, 10), *end == 0) && cpu >= 0 &&
                   cpu <= 1000) {
        } else {
            fprintf(stderr,
                    "usage: %s [-f config.yaml] [-p port] [-n name] [-d delay_ms] [-c permille]\n",
                    argv[0]);
            return 2;
        }
    }
    if (cpu >= 0)
        cz_cpu_set_override(cpu);
    demo_conf_t c;
    cz_conf_must_load(file, demo_conf_fields, &c);
    if (port)
        c.rest.port = port;
    static instance_mw_t inst;
    inst.delay_ms = (uint64_t)delay;
    if (name) /* the relay's "via" uses the name even when no X-Instance is sent */
        snprintf(inst.name, sizeof inst.name, "%s", name);
    else
        snprintf(inst.name, sizeof inst.name, "%s:%ld", c.rest.host ? c.rest.host : "0.0.0.0",
                 (long)c.rest.port);
    cz_mw_t inst_mw = {&instance_ops, &inst};
    cz_diag_t d = {0};
    char msg[512];
    if (cz_log_setup(&c.rest.log, &d) != 0) {
        fprintf(stderr, "config error: %s\n", cz_diag_format(&d, msg, sizeof msg));
        return 1;
    }
    /* go-zero's svc.NewServiceContext: clients of other services, made once, found by name */
    cz_upstreams_t *ups = cz_upstreams_start(&c.upstreams, &d);
    if (!ups) {
        if (!d.file[0]) /* the set knows keys, not positions */
            snprintf(d.file, sizeof d.file, "%s", file);
        fprintf(stderr, "config error: %s\n", cz_diag_format(&d, msg, sizeof msg));
        cz_log_close();
        cz_conf_free(demo_conf_fields, &c); /* exit clean: the tests run it under LSan */
        return 1;
    }
    demo_relay_t relay = {cz_upstreams_find(ups, "peers"), inst.name};
    cz_route_t relay_rt = {"GET", "/relay/:path", demo_relay, &relay, 0};
    cz_server_t *srv = cz_server_new(&c.rest, &d);
    cz_route_t login = {"POST", "/login", demo_login, &c.auth, 0};
    cz_route_t me = {"GET", "/me", demo_me, NULL, 0};
    cz_route_opts_t api = {.prefix = "/api", .jwt = {.secret = c.auth.access_secret}};
    bool named = name || delay;
    if (srv && named)
        cz_server_set_not_found(srv, not_found, &inst);
    if (!srv || (named && cz_server_use(srv, &inst_mw) != 0) ||
        cz_server_add_routes(srv, demo_routes, demo_nroutes, NULL, &d) != 0 ||
        cz_server_add_route(srv, &login, &d) != 0 || cz_server_add_route(srv, &relay_rt, &d) != 0 ||
        cz_server_add_routes(srv, &me, 1, &api, &d) != 0 ||
        (c.cors && cz_server_cors(srv, NULL, 0) != 0)) {
        fprintf(stderr, "%s\n", cz_diag_format(&d, msg, sizeof msg));
        cz_server_free(srv);
        cz_upstreams_free(ups);
        cz_log_close();
        cz_conf_free(demo_conf_fields, &c);
        return 1;
    }
    int rc = cz_server_run(srv);
    if (rc)
        fprintf(stderr, "server: %s\n", cz_strerror(rc));
    cz_server_free(srv);
    cz_upstreams_free(ups); /* after the server: its workers' clients are closed, no call left */
    cz_log_close();
    cz_conf_free(demo_conf_fields, &c);
    return rc ? 1 : 0;
}
