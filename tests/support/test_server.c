/* The in-process test server (see test_server.h). */
#include "test_server.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "demo.h"
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

void ts_init(ts_t *t)
{
    memset(t, 0, sizeof *t);
    cz_diag_t d;
    cr_assert_eq(cz_conf_defaults(cz_rest_conf_fields, &t->conf, &d), 0, "%s", d.msg);
    /* strings belong to the config (freed by cz_conf_free in ts_stop) */
    free(t->conf.name);
    free(t->conf.host);
    t->conf.name = strdup("test");
    t->conf.host = strdup("127.0.0.1");
    t->conf.port = 0;
    t->conf.workers = 1;
    t->conf.middlewares.log = false;
    t->conf.linger_timeout_ms = 300; /* error answers close fast in tests */
}

void ts_start(ts_t *t, const cz_route_t *extra, size_t nextra)
{
    cz_diag_t d = {0};
    t->srv = cz_server_new(&t->conf, &d);
    cr_assert_not_null(t->srv, "cz_server_new: %s", d.msg);
    cr_assert_eq(cz_server_add_routes(t->srv, demo_routes, demo_nroutes, NULL, &d), 0, "%s", d.msg);
    if (nextra)
        cr_assert_eq(cz_server_add_routes(t->srv, extra, nextra, NULL, &d), 0, "%s", d.msg);
    cr_assert_eq(cz_server_start(t->srv), 0);
    t->port = cz_server_port(t->srv);
    cr_assert_gt(t->port, 0);
}

void ts_stop(ts_t *t)
{
    if (!t->srv)
        return;
    cz_server_shutdown(t->srv);
    cz_server_wait(t->srv);
    cz_server_free(t->srv);
    t->srv = NULL;
    cz_conf_free(cz_rest_conf_fields, &t->conf);
#if defined(__SANITIZE_ADDRESS__)
    /* Criterion ignores LeakSanitizer's exit-time report, so ask for it here */
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaked memory: see the report above");
#endif
}
