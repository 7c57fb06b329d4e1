/* Starts a real czero server in the test process on an ephemeral loopback port, serving the
 * demo's routes (examples/demo/routes.c) plus whatever a test adds. */
#ifndef CZ_TEST_SERVER_H
#define CZ_TEST_SERVER_H

#include "czero/czero.h"

typedef struct ts {
    cz_server_t *srv;
    int port;
    cz_rest_conf_t conf;
} ts_t;

/** Defaults from cz_rest_conf_fields, then: Name test, Host 127.0.0.1, Port 0, Workers 1,
 *  access log off. Adjust t->conf before ts_start. */
void ts_init(ts_t *t);
/** Create, add the demo routes and `extra` (may be NULL), start. Asserts on failure. */
void ts_start(ts_t *t, const cz_route_t *extra, size_t nextra);
/** Graceful shutdown, wait, free. */
void ts_stop(ts_t *t);

#endif
