/* SPDX-License-Identifier: MIT
 *
 * Integration tests of the listeners against a port that is already taken (issue 13, point 1):
 * a socket of "another program" (made here with plain socket calls, with SO_REUSEPORT, the case
 * SO_REUSEPORT alone let through) makes cz_server_start fail with -EADDRINUSE, for the main
 * listener and for the DevServer's; ReusePort lets the server share it; two servers of this
 * process on one port still start (a gateway reload, its dev listener), and once both are freed
 * the port is checked again. The shell tests (test_listen_busy.sh) check the logged message and
 * the exit status of the programs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "http_client.h"
#include "test_server.h"
#include "demo.h"

/* A listening loopback socket as another program would hold it; *port gets its port (0 = any). */
static int hold(int *port, bool reuseport)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(fd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A server on port with the demo routes, started; its start result in *rc. */
static cz_server_t *server_on(ts_t *t, int port, bool reuse_port, int *rc)
{
    ts_init(t);
    t->conf.port = port;
    t->conf.workers = 2;
    t->conf.reuse_port = reuse_port;
    cz_diag_t d = {0};
    cz_server_t *s = cz_server_new(&t->conf, &d);
    cr_assert_not_null(s, "%s", d.msg);
    cr_assert_eq(cz_server_add_routes(s, demo_routes, demo_nroutes, NULL, &d), 0, "%s", d.msg);
    *rc = cz_server_start(s);
    t->srv = s;
    t->port = *rc == 0 ? cz_server_port(s) : 0;
    return s;
}

/* ts_stop also for a server that never started */
static void drop(ts_t *t)
{
    if (t->port) {
        ts_stop(t);
        return;
    }
    cz_server_free(t->srv);
    t->srv = NULL;
    cz_conf_free(cz_rest_conf_fields, &t->conf);
}

static void get_ok(int port)
{
    tc_resp_t r;
    cr_assert_eq(tc_get(port, "/hello", &r), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
}

Test(listen, foreign_holder_refused_even_with_so_reuseport)
{
    for (int reuseport = 0; reuseport <= 1; reuseport++) {
        int port = 0, fd = hold(&port, reuseport), rc;
        ts_t t;
        server_on(&t, port, false, &rc);
        cr_assert_eq(rc, -EADDRINUSE, "SO_REUSEPORT=%d on the holder: start gave %d (%s)",
                     reuseport, rc, cz_strerror(rc));
        drop(&t);
        close(fd);
    }
}

Test(listen, reuse_port_opts_in_to_sharing)
{
    int port = 0, fd = hold(&port, true), rc;
    ts_t t;
    server_on(&t, port, true, &rc);
    cr_assert_eq(rc, 0, "ReusePort: true next to a SO_REUSEPORT holder: %s", cz_strerror(rc));
    cr_assert_eq(t.port, port);
    drop(&t);
    close(fd);
}

Test(listen, servers_of_one_process_share_then_release)
{
    ts_t a, b, c;
    int rc;
    server_on(&a, 0, false, &rc);
    cr_assert_eq(rc, 0);
    int port = a.port;
    server_on(&b, port, false, &rc); /* a reload's successor binding a socket of its own */
    cr_assert_eq(rc, 0, "a second server of this process on port %d: %s", port, cz_strerror(rc));
    get_ok(port);
    ts_stop(&a);
    get_ok(port); /* b holds it alone */
    ts_stop(&b);
    /* both gone: the port is checked again, so another program's socket there is refused */
    int fd = hold(&port, true);
    server_on(&c, port, false, &rc);
    cr_assert_eq(rc, -EADDRINUSE, "after both servers were freed: %d", rc);
    drop(&c);
    close(fd);
}

Test(listen, dev_listener_on_a_taken_port_fails_start)
{
    int devport = 0, fd = hold(&devport, true), rc;
    ts_t t;
    ts_init(&t);
    t.conf.dev_server.enabled = true;
    free(t.conf.dev_server.host);
    t.conf.dev_server.host = strdup("127.0.0.1");
    t.conf.dev_server.port = devport;
    cz_diag_t d = {0};
    t.srv = cz_server_new(&t.conf, &d);
    cr_assert_not_null(t.srv);
    cr_assert_eq(cz_server_add_routes(t.srv, demo_routes, demo_nroutes, NULL, &d), 0);
    rc = cz_server_start(t.srv);
    cr_assert_eq(rc, -EADDRINUSE, "DevServer on a taken port: start gave %d (%s)", rc,
                 cz_strerror(rc));
    t.port = 0;
    drop(&t);
    close(fd);
}
