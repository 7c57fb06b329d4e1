/* Integration tests of the engine's limits, error answers, timeouts, router answers and
 * graceful shutdown, over real loopback sockets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "http_client.h"
#include "test_server.h"

static ts_t T;
static tc_conn_t C;

static void start_with(void (*tweak)(cz_rest_conf_t *))
{
    ts_init(&T);
    if (tweak)
        tweak(&T.conf);
    ts_start(&T, NULL, 0);
    cr_assert_eq(tc_connect(&C, T.port, 5000), 0);
}

static void stop(void)
{
    tc_close(&C);
    ts_stop(&T);
}

static int expect_status(const char *raw)
{
    tc_resp_t r;
    tc_send(&C, raw, strlen(raw));
    if (tc_read(&C, &r, false) != 0)
        return -1;
    int st = r.status;
    tc_resp_free(&r);
    return st;
}

/* ---- body size ---- */

static void small_body(cz_rest_conf_t *c) { c->max_bytes = 1000; }

Test(limits, content_length_over_max_bytes_is_413_even_while_sending)
{
    start_with(small_body);
    tc_sendf(&C, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n");
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    /* keep sending as a real client would; the server must not reset us before we read */
    for (int i = 0; i < 61; i++)
        if (tc_send(&C, chunk, sizeof chunk) != 0)
            break;
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0, "the 413 must be readable (lingering close)");
    cr_assert_eq(r.status, 413);
    cr_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_resp_free(&r);
    stop();
}

Test(limits, chunked_body_over_max_bytes_is_413)
{
    start_with(small_body);
    tc_sendf(&C, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char line[700];
    memset(line, 'y', 600);
    for (int i = 0; i < 3; i++) {
        tc_sendf(&C, "258\r\n");
        tc_send(&C, line, 600);
        tc_sendf(&C, "\r\n");
    }
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 413);
    tc_resp_free(&r);
    stop();
}

Test(limits, body_at_exactly_max_bytes_passes)
{
    start_with(small_body);
    char body[1000];
    memset(body, 'z', sizeof body);
    tc_sendf(&C, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    tc_send(&C, body, sizeof body);
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 1000);
    tc_resp_free(&r);
    stop();
}

/* ---- header block and request line ---- */

Test(limits, header_block_over_limit_is_431)
{
    start_with(NULL);
    char *big = malloc(10000);
    memset(big, 'a', 9999);
    big[9999] = 0;
    tc_sendf(&C, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
    tc_send(&C, big, 9999);
    tc_sendf(&C, "\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 431);
    tc_resp_free(&r);
    free(big);
    stop();
}

Test(limits, too_many_headers_is_431)
{
    start_with(NULL);
    tc_sendf(&C, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 120; i++)
        tc_sendf(&C, "X-%d: 1\r\n", i);
    tc_sendf(&C, "\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 431);
    tc_resp_free(&r);
    stop();
}

static void short_line(cz_rest_conf_t *c) { c->max_request_line = 1024; }

Test(limits, request_line_over_limit_is_414)
{
    start_with(short_line);
    char path[3000];
    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = 0;
    tc_sendf(&C, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 414);
    tc_resp_free(&r);
    stop();
}

/* ---- malformed requests and smuggling ---- */

Test(limits, malformed_requests_are_400_and_close)
{
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
        "GET /hello HTTP/1.x\r\nHost: x\r\n\r\n", /* HTTP/9.9 is 505: test_http_framing.c */
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET hello HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    size_t lens[] = {0, 40, 0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start_with(NULL);
        tc_send(&C, bad[i], lens[i] ? lens[i] : strlen(bad[i]));
        tc_resp_t r;
        cr_assert_eq(tc_read(&C, &r, false), 0, "case %zu", i);
        cr_assert_eq(r.status, 400, "case %zu got %d", i, r.status);
        cr_assert_str_eq(tc_header(&r, "Connection"), "close", "case %zu", i);
        tc_resp_free(&r);
        cr_assert(tc_closed(&C, 7000), "case %zu: the connection must close", i);
        stop();
    }
}

Test(limits, smuggling_never_yields_two_requests)
{
    const char *smuggle[] = {
        /* CL.TE */
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        /* TE.CL with an obfuscated Transfer-Encoding: not exactly "chunked", 501 (as nginx) */
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n"
        "Content-Length: 4\r\n\r\n5c\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n0\r\n\r\n",
        /* two different Content-Lengths */
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 24\r\n\r\n"
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        /* LF-only line ending inside the header block */
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\nContent-Length: 24\r\n\r\n"
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    const int want[] = {400, 501, 400, 400};
    for (size_t i = 0; i < sizeof smuggle / sizeof smuggle[0]; i++) {
        start_with(NULL);
        tc_send(&C, smuggle[i], strlen(smuggle[i]));
        tc_resp_t r;
        cr_assert_eq(tc_read(&C, &r, false), 0, "case %zu", i);
        cr_assert_eq(r.status, want[i], "case %zu got %d", i, r.status);
        tc_resp_free(&r);
        cr_assert(tc_closed(&C, 7000), "case %zu: no second response may follow", i);
        stop();
    }
}

/* ---- router answers ---- */

Test(limits, router_404_405_and_path_cleaning)
{
    start_with(NULL);
    tc_resp_t r;
    tc_sendf(&C, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "404 page not found\n");
    tc_resp_free(&r);

    tc_sendf(&C, "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(tc_header(&r, "Allow"), "GET");
    tc_resp_free(&r);

    const char *same[] = {"/a/../hello", "//hello", "/./hello/", "/%68ello"};
    for (int i = 0; i < 4; i++) {
        tc_sendf(&C, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", same[i]);
        cr_assert_eq(tc_read(&C, &r, false), 0);
        cr_assert_eq(r.status, 200, "%s", same[i]);
        tc_resp_free(&r);
    }
    tc_sendf(&C, "GET http://example.com/users/9 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_str_eq(r.body, "{\"id\":\"9\"}", "absolute-form target");
    tc_resp_free(&r);
    stop();
}

static int custom_nf(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t p = cz_req_path(req);
    cz_res_status(res, 404);
    cz_res_printf(res, "no %.*s here", (int)p.n, p.p);
    return CZ_DONE;
}

static int custom_na(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_printf(res, "wrong method");
    return CZ_DONE;
}

static int ok(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)res, (void)ud;
    return CZ_DONE;
}

Test(limits, custom_not_found_and_not_allowed_and_groups)
{
    cz_rest_conf_t conf;
    cz_conf_defaults(cz_rest_conf_fields, &conf, NULL);
    conf.port = 0;
    conf.workers = 1;
    conf.middlewares.log = false;
    cz_diag_t d = {0};
    cz_server_t *s = cz_server_new(&conf, &d);
    cr_assert_not_null(s);
    cz_route_t routes[] = {{"GET", "/users/:id", ok, NULL, 0}, {"POST", "/users", ok, NULL, 0}};
    cz_route_opts_t grp = {.prefix = "/api/v1"};
    cr_assert_eq(cz_server_add_routes(s, routes, 2, &grp, &d), 0, "%s", d.msg);
    /* duplicate registration is an error naming the route */
    cz_route_t dup = {"GET", "/api/v1/users/:name", ok, NULL, 0};
    cr_assert_neq(cz_server_add_route(s, &dup, &d), 0);
    cr_assert(strstr(d.key, "/api/v1/users/:name") != NULL, "key: %s", d.key);
    cz_server_set_not_found(s, custom_nf, NULL);
    cz_server_set_not_allowed(s, custom_na, NULL);
    cr_assert_eq(cz_server_start(s), 0);
    int port = cz_server_port(s);
    tc_resp_t r;
    cr_assert_eq(tc_get(port, "/api/v1/users/5", &r), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    cr_assert_eq(tc_get(port, "/users/5", &r), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "no /users/5 here");
    tc_resp_free(&r);
    cr_assert_eq(tc_get(port, "/api/v1/users", &r), 0);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(r.body, "wrong method");
    cr_assert_str_eq(tc_header(&r, "Allow"), "POST");
    tc_resp_free(&r);
    cz_server_shutdown(s);
    cz_server_wait(s);
    cz_server_free(s);
    cz_conf_free(cz_rest_conf_fields, &conf);
}

/* ---- timeouts ---- */

static void fast_timeouts(cz_rest_conf_t *c)
{
    c->header_timeout_ms = 300;
    c->read_timeout_ms = 300;
    c->idle_timeout_ms = 300;
    c->write_timeout_ms = 300;
}

Test(limits, slowloris_header_gets_408_and_close)
{
    start_with(fast_timeouts);
    long t0 = tc_now_ms();
    tc_sendf(&C, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 408);
    long dt = tc_now_ms() - t0;
    cr_assert(dt >= 250 && dt < 1500, "timed out after %ld ms", dt);
    tc_resp_free(&r);
    cr_assert(tc_closed(&C, 6000));
    stop();
}

Test(limits, dripping_header_bytes_do_not_extend_the_header_timeout)
{
    start_with(fast_timeouts);
    long t0 = tc_now_ms();
    tc_sendf(&C, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 10; i++) {
        if (tc_sendf(&C, "X%d: y\r\n", i) != 0)
            break;
        usleep(60 * 1000);
    }
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 408);
    cr_assert_lt(tc_now_ms() - t0, 1500);
    tc_resp_free(&r);
    stop();
}

Test(limits, slow_body_gets_408)
{
    start_with(fast_timeouts);
    tc_sendf(&C, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 408);
    tc_resp_free(&r);
    stop();
}

Test(limits, idle_keep_alive_connection_is_closed)
{
    start_with(fast_timeouts);
    tc_resp_t r;
    tc_sendf(&C, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    tc_resp_free(&r);
    long t0 = tc_now_ms();
    cr_assert(tc_closed(&C, 3000));
    long dt = tc_now_ms() - t0;
    cr_assert(dt >= 250 && dt < 1500, "closed after %ld ms", dt);
    stop();
}

static void big_bodies(cz_rest_conf_t *c)
{
    fast_timeouts(c);
    c->max_bytes = 64 << 20;
}

Test(limits, reader_that_stops_reading_hits_write_timeout)
{
    ts_init(&T);
    big_bodies(&T.conf);
    ts_start(&T, NULL, 0);
    int small = 4096;
    C.fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(C.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    tc_close(&C);
    cr_assert_eq(tc_connect(&C, T.port, 5000), 0);
    setsockopt(C.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    size_t n = 32u << 20;
    char *body = malloc(n);
    memset(body, 'w', n);
    tc_sendf(&C, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
    tc_send(&C, body, n);
    /* never read: the server's write stalls and must give up, while we are still connected */
    long t0 = tc_now_ms();
    while (cz_server_connections(T.srv) > 0 && tc_now_ms() - t0 < 3000)
        usleep(20 * 1000);
    cr_assert_eq(cz_server_connections(T.srv), 0, "the stalled connection was dropped");
    cr_assert_lt(tc_now_ms() - t0, 1500);
    struct linger lg = {1, 0}; /* reset: draining megabytes through a 4 KiB window takes minutes */
    setsockopt(C.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    free(body);
    stop();
}

/* ---- blocking pool ---- */

static void tiny_pool(cz_rest_conf_t *c)
{
    c->blocking_threads = 1;
    c->blocking_queue = 1;
}

Test(limits, full_blocking_pool_answers_503)
{
    start_with(tiny_pool);
    tc_conn_t a, b;
    cr_assert_eq(tc_connect(&a, T.port, 5000), 0);
    cr_assert_eq(tc_connect(&b, T.port, 5000), 0);
    tc_sendf(&a, "GET /block?ms=500 HTTP/1.1\r\nHost: x\r\n\r\n"); /* runs */
    usleep(100 * 1000);
    tc_sendf(&b, "GET /block?ms=10 HTTP/1.1\r\nHost: x\r\n\r\n"); /* waits in the queue */
    usleep(100 * 1000);
    tc_resp_t r;
    cr_assert_eq(expect_status("GET /block?ms=10 HTTP/1.1\r\nHost: x\r\n\r\n"), 503, "queue full");
    cr_assert_eq(tc_read(&a, &r, false), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    cr_assert_eq(tc_read(&b, &r, false), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    tc_close(&a);
    tc_close(&b);
    stop();
}

/* ---- graceful shutdown ---- */

typedef struct waiter {
    cz_server_t *s;
    long done_ms;
} waiter_t;

static void *wait_server(void *arg)
{
    waiter_t *w = arg;
    cz_server_wait(w->s);
    w->done_ms = tc_now_ms();
    return NULL;
}

Test(limits, graceful_shutdown_finishes_in_flight_requests)
{
    start_with(NULL);
    tc_conn_t idle;
    cr_assert_eq(tc_connect(&idle, T.port, 5000), 0);
    tc_resp_t r;
    tc_sendf(&idle, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&idle, &r, false), 0);
    tc_resp_free(&r);

    tc_sendf(&C, "GET /slow?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(100 * 1000);
    long t0 = tc_now_ms();
    cz_server_shutdown(T.srv);
    waiter_t w = {T.srv, 0};
    pthread_t th;
    pthread_create(&th, NULL, wait_server, &w);

    cr_assert(tc_closed(&idle, 1000), "idle keep-alive connections close at once");
    tc_close(&idle);
    tc_conn_t late;
    usleep(100 * 1000);
    cr_assert_neq(tc_connect(&late, T.port, 1000), 0, "no new connections after shutdown");

    cr_assert_eq(tc_read(&C, &r, false), 0, "the in-flight request is answered");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"slept_ms\":400}");
    cr_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_resp_free(&r);
    pthread_join(th, NULL);
    cr_assert_geq(w.done_ms - t0, 250, "wait returned before the request finished");
    cr_assert_lt(w.done_ms - t0, 3000);
    cz_server_free(T.srv);
    T.srv = NULL;
    cz_conf_free(cz_rest_conf_fields, &T.conf);
    tc_close(&C);
}

static void short_shutdown(cz_rest_conf_t *c) { c->shutdown_timeout_ms = 300; }

Test(limits, shutdown_timeout_cuts_long_requests)
{
    start_with(short_shutdown);
    tc_sendf(&C, "GET /slow?ms=10000 HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(100 * 1000);
    long t0 = tc_now_ms();
    cz_server_shutdown(T.srv);
    cr_assert(tc_closed(&C, 3000), "the connection is closed at the deadline");
    long dt = tc_now_ms() - t0;
    cr_assert(dt >= 250 && dt < 2000, "closed after %ld ms", dt);
    stop();
}
