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
 * Https (the demo's own section: Port, CertFile, KeyFile, Tls) serves the same routes over TLS on
 * a second port of the same process, next to the plain one: what go-zero does with two
 * rest.Servers in a ServiceGroup. A service of yours turns its one port into TLS with go-zero's
 * CertFile/KeyFile at the top level of its config (the demo too); `make run` uses Https so that
 * http://127.0.0.1:8888 and https://localhost:8443 both answer.
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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "czero/czero.h"
#include "demo.h"
#include "czero/cors.h"

typedef struct demo_https {
    int64_t port;      /* Port: 0 = no HTTPS server */
    cz_tls_conf_t tls; /* CertFile, KeyFile, Tls */
} demo_https_t;

typedef struct demo_conf {
    cz_rest_conf_t rest; /* go-zero: embeds rest.RestConf */
    demo_auth_t auth;    /* Auth */
    bool cors;           /* Cors: CORS for any origin (go-zero rest.WithCors()), default on */
    cz_conf_array_t upstreams; /* Upstreams: other services by name; /relay uses `peers` */
    demo_https_t https;  /* Https: the same routes over TLS on a second port (absent = none) */
} demo_conf_t;

static const cz_conf_field_t auth_fields[] = {
    {.key = "AccessSecret", .type = CZ_CONF_STRING, .offset = offsetof(demo_auth_t, access_secret),
     .flags = CZ_CONF_REQUIRED},
    {.key = "AccessExpire", .type = CZ_CONF_INT, .offset = offsetof(demo_auth_t, access_expire),
     .def = "86400"},
    {0},
};

/* Https: a second server, the RestConf of the first with this Port and TLS: CertFile and KeyFile
 * (named as at go-zero's top level) and the Tls section (czero's). */
static const cz_conf_field_t https_fields[] = {
    {.key = "Port", .type = CZ_CONF_INT, .offset = offsetof(demo_https_t, port), .def = "0",
     .flags = CZ_CONF_HAS_MIN | CZ_CONF_HAS_MAX, .min = 0, .max = 65535},
    {.key = "CertFile", .type = CZ_CONF_STRING, .offset = offsetof(demo_https_t, tls.cert_file)},
    {.key = "KeyFile", .type = CZ_CONF_STRING, .offset = offsetof(demo_https_t, tls.key_file)},
    {.key = "Tls", .type = CZ_CONF_OBJECT, .offset = offsetof(demo_https_t, tls),
     .sub = cz_tls_conf_fields},
    {0},
};

/* A present Https section needs all three keys: a Port without a certificate would serve plain
 * HTTP where the config says HTTPS. */
static int https_check(void *member, const cz_conf_at_t *at, cz_diag_t *d)
{
    const demo_https_t *h = member;
    (void)at;
    const char *missing = !h->port && (h->tls.cert_file || h->tls.key_file) ? "Port"
                          : h->port && !h->tls.cert_file                     ? "CertFile"
                          : h->port && !h->tls.key_file                      ? "KeyFile"
                                                                             : NULL;
    if (!missing)
        return 0;
    snprintf(d->key, sizeof d->key, "%s", missing);
    snprintf(d->msg, sizeof d->msg, "Https needs Port, CertFile and KeyFile");
    return 1;
}

static const cz_conf_field_t demo_conf_fields[] = {
    {.key = "", .type = CZ_CONF_INLINE, .offset = offsetof(demo_conf_t, rest),
     .sub = cz_rest_conf_fields},
    {.key = "Auth", .type = CZ_CONF_OBJECT, .offset = offsetof(demo_conf_t, auth), .sub = auth_fields},
    {.key = "Cors", .type = CZ_CONF_BOOL, .offset = offsetof(demo_conf_t, cors), .def = "true"},
    {CZ_UPSTREAMS_FIELD(demo_conf_t, upstreams)},
    {.key = "Https", .type = CZ_CONF_OBJECT, .offset = offsetof(demo_conf_t, https),
     .sub = https_fields, .check = https_check},
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

/* What every server of the demo serves, made once in main(). */
typedef struct demo_app {
    instance_mw_t *inst;
    cz_mw_t inst_mw;
    bool named; /* -n or -d: the instance link and its 404 */
    demo_relay_t relay;
    demo_auth_t *auth;
    bool cors;
} demo_app_t;

/* A server of rc with the demo's routes and links; NULL with d set on error. */
static cz_server_t *demo_server(const cz_rest_conf_t *rc, demo_app_t *app, cz_diag_t *d)
{
    cz_server_t *srv = cz_server_new(rc, d);
    if (!srv)
        return NULL;
    cz_route_t relay_rt = {"GET", "/relay/:path", demo_relay, &app->relay, 0};
    cz_route_t login = {"POST", "/login", demo_login, app->auth, 0};
    cz_route_t me = {"GET", "/me", demo_me, NULL, 0};
    cz_route_opts_t api = {.prefix = "/api", .jwt = {.secret = app->auth->access_secret}};
    if (app->named)
        cz_server_set_not_found(srv, not_found, app->inst);
    if ((app->named && cz_server_use(srv, &app->inst_mw) != 0) ||
        cz_server_add_routes(srv, demo_routes, demo_nroutes, NULL, d) != 0 ||
        cz_server_add_route(srv, &login, d) != 0 || cz_server_add_route(srv, &relay_rt, d) != 0 ||
        cz_server_add_routes(srv, &me, 1, &api, d) != 0 ||
        (app->cors && cz_server_cors(srv, NULL, 0) != 0)) {
        cz_server_free(srv);
        return NULL;
    }
    return srv;
}

/* cz_server_run for one server; for two, go-zero's ServiceGroup: start both, and on SIGTERM or
 * SIGINT shut both down together, so neither drains while the other still takes connections. */
static int run_servers(cz_server_t **srv, int n)
{
    if (n == 1)
        return cz_server_run(srv[0]);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old); /* before the workers start: they inherit the mask */
    /* the last first: a certificate that does not load stops the start before the plain port
     * opens, and once the first server answers, all do */
    int rc = 0, i = n;
    while (i > 0 && (rc = cz_server_start(srv[i - 1])) == 0)
        i--;
    if (i == 0) {
        int sig = 0;
        sigwait(&set, &sig);
        cz_log_info("Got signal %d, shutting down...", sig);
    }
    for (int k = i; k < n; k++) /* srv[i..n-1] started */
        cz_server_shutdown(srv[k]);
    for (int k = i; k < n; k++)
        cz_server_wait(srv[k]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!rc)
        cz_log_info("Server stopped");
    cz_log_flush();
    return rc;
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
                   "  -f  the config (go-zero RestConf keys, Auth, Cors, Upstreams, Https)\n"
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
    demo_app_t app = {.inst = &inst, .inst_mw = {&instance_ops, &inst}, .named = name || delay,
                      .relay = {cz_upstreams_find(ups, "peers"), inst.name},
                      .auth = &c.auth, .cors = c.cors};
    cz_server_t *srv[2] = {demo_server(&c.rest, &app, &d), NULL};
    int n = 1;
    if (srv[0] && c.https.port) {
        cz_rest_conf_t hc = c.rest; /* cz_server_new copies it */
        hc.port = c.https.port;
        hc.tls = c.https.tls;
        hc.dev_server.enabled = false; /* one DevServer (and registration) per process: the first's */
        hc.prometheus.host = NULL;
        hc.etcd.hosts.n = 0;
        n = 2;
        srv[1] = demo_server(&hc, &app, &d);
    }
    if (!srv[0] || !srv[n - 1]) {
        fprintf(stderr, "%s\n", cz_diag_format(&d, msg, sizeof msg));
        cz_server_free(srv[0]);
        cz_upstreams_free(ups);
        cz_log_close();
        cz_conf_free(demo_conf_fields, &c);
        return 1;
    }
    int rc = run_servers(srv, n);
    if (rc)
        fprintf(stderr, "server: %s\n", cz_strerror(rc));
    cz_server_free(srv[1]);
    cz_server_free(srv[0]);
    cz_upstreams_free(ups); /* after the server: its workers' clients are closed, no call left */
    cz_log_close();
    cz_conf_free(demo_conf_fields, &c);
    return rc ? 1 : 0;
}
