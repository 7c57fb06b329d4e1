/* The demo service's route table (routes.c), shared by main.c and the integration tests. */
#ifndef CZERO_DEMO_H
#define CZERO_DEMO_H
#include <stddef.h>
#include <stdint.h>
#include "czero/server.h"
#include "czero/upstream.h"
extern const cz_route_t demo_routes[];
extern const size_t demo_nroutes;

/* go-zero's Auth section of a service config */
typedef struct demo_auth {
    char *access_secret; /* AccessSecret */
    int64_t access_expire; /* AccessExpire, seconds */
} demo_auth_t;

/* Handlers registered by main() with the JWT options (they need the configured secret). */
int demo_me(cz_req_t *req, cz_res_t *res, void *ud);    /* GET /api/me, JWT */
int demo_login(cz_req_t *req, cz_res_t *res, void *ud); /* POST /login, ud = demo_auth_t */

/* GET /relay/:path: calls GET /<path> on the `peers` upstream (NULL when the config names none:
 * 503) and answers {"via":<this instance>,"peer":<its X-Instance>,"status":..,"answer":<body>}. */
typedef struct demo_relay {
    cz_upstream_t *peers;
    const char *via;
} demo_relay_t;
int demo_relay(cz_req_t *req, cz_res_t *res, void *ud); /* ud = demo_relay_t */
#endif
