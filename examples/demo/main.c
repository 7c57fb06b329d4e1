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
 *   POST /users        -> {"name","age","email"} bound and validated (400 names the field)
 *   POST /login        -> {"accessToken": ...} for {"user": "..."}, signed with Auth.AccessSecret
 *   GET  /api/me       -> the JWT's claims (Authorization: Bearer <token>), 401 without one
 * CORS is on for any origin; the dev server (DevServer) serves /metrics and /healthz.
 *
 * Usage: czero-demo -f etc/demo.yaml
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
    {0},
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
    cz_route_t login = {"POST", "/login", demo_login, &c.auth, 0};
    cz_route_t me = {"GET", "/me", demo_me, NULL, 0};
    cz_route_opts_t api = {.prefix = "/api", .jwt = {.secret = c.auth.access_secret}};
    if (!srv || cz_server_add_routes(srv, demo_routes, demo_nroutes, NULL, &d) != 0 ||
        cz_server_add_route(srv, &login, &d) != 0 ||
        cz_server_add_routes(srv, &me, 1, &api, &d) != 0 ||
        (c.cors && cz_server_cors(srv, NULL, 0) != 0)) {
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
