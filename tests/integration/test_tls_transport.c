/* SPDX-License-Identifier: MIT
 *
 * Integration test of the TLS transport's write path under back-pressure: a connection on a
 * socketpair whose server end has a 4 KiB send buffer, served by a worker loop this test runs,
 * with the client side driven by an in-process TLS client session. The kernel takes only part
 * of each answer's ciphertext at once, so the transport must keep the rest queued, report a
 * short try_write and complete the codec's write only when everything is out (the path real
 * sockets rarely take on loopback): a 300 KB echo comes back whole, a 5000-piece streamed
 * answer (5000 queued writes) arrives in order, and a request pipelined behind them is answered
 * after them.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "http/http_int.h"
#include "demo.h"
#include "test_server.h"
#include "tls/tls_int.h"

static char dir[64];
static ts_t T; /* for the config only: the server is not started */
static cz_server_t *srv;
static cz_worker_t worker;
static cz_tls_ctx_t *cctx;

static void setup(void)
{
    strcpy(dir, "/tmp/cz-tlstr-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char cmd[512], p[256];
    snprintf(cmd, sizeof cmd, "bash %s/tests/support/tls_certs.sh %s", CZ_SOURCE_DIR, dir);
    cr_assert_eq(system(cmd), 0);
    ts_init(&T);
    T.conf.max_bytes = 1 << 20;
    snprintf(p, sizeof p, "%s/a.pem", dir);
    T.conf.tls.cert_file = strdup(p);
    snprintf(p, sizeof p, "%s/a.key", dir);
    T.conf.tls.key_file = strdup(p);
    srv = cz_server_new(&T.conf, NULL);
    cr_assert_not_null(srv);
    cr_assert_eq(cz_server_add_routes(srv, demo_routes, demo_nroutes, NULL, NULL), 0);
    cr_assert_eq(cz__server_tls_start(srv), 0);
    cz__worker_init(srv, &worker, 0, -1);
    snprintf(p, sizeof p, "%s/ca.pem", dir);
    cz_tls_client_conf_t cc = {.ca_file = p};
    char err[512];
    cr_assert_eq(cz_tls_client_ctx_new(&cc, &cctx, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
    cz_tls_ctx_unref(cctx);
    cz_server_free(srv);
    cz_conf_free(cz_rest_conf_fields, &T.conf);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
}

TestSuite(tls_transport, .init = setup, .fini = teardown, .timeout = 60);

typedef struct pair {
    int fd;          /* the client's end */
    cz_conn_t *conn; /* the server's */
    cz__tls_t *c;    /* the client session */
    char *in;        /* plaintext received */
    size_t len, cap;
} pair_t;

/* One turn: the client's pending output to the socket, the loop, the server's output back. */
static void turn(pair_t *p)
{
    size_t n;
    const uint8_t *o;
    while ((o = cz__tls_out_peek(p->c, &n)) && n) {
        ssize_t w = write(p->fd, o, n);
        if (w <= 0)
            break;
        cz__tls_out_consume(p->c, (size_t)w);
    }
    uv_run(&worker.loop, UV_RUN_NOWAIT);
    uint8_t buf[4096]; /* small reads: the server's socket stays full */
    ssize_t r = read(p->fd, buf, sizeof buf);
    if (r > 0)
        cr_assert_eq(cz__tls_feed(p->c, buf, (size_t)r), 0);
    for (;;) {
        if (p->cap - p->len < 16384) {
            p->cap = p->cap ? p->cap * 2 : 65536;
            p->in = realloc(p->in, p->cap);
            cr_assert_not_null(p->in);
        }
        size_t got = 0;
        int rc = cz__tls_read(p->c, p->in + p->len, p->cap - p->len, &got);
        if (rc != CZ__TLS_OK || !got)
            break;
        p->len += got;
    }
}

static void pair_open(pair_t *p)
{
    memset(p, 0, sizeof *p);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int small = 4096;
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    p->fd = sv[1];
    p->conn = cz__conn_open_fd(&worker, sv[0]);
    cr_assert_not_null(p->conn);
    p->c = cz__tls_client_new(cctx, "localhost", NULL);
    cr_assert_not_null(p->c);
    for (int i = 0; i < 200 && cz__tls_handshake(p->c) == CZ__TLS_WANT_READ; i++)
        turn(p);
    cr_assert(cz__tls_handshake_done(p->c), "handshake: %s", cz__tls_error(p->c));
}

static void pair_close(pair_t *p)
{
    close(p->fd);
    for (int i = 0; i < 100000 && worker.nconns; i++)
        uv_run(&worker.loop, UV_RUN_NOWAIT);
    cr_assert_eq(worker.nconns, 0, "the server's connection was not freed");
    cz__tls_free(p->c);
    free(p->in);
}

static void send_plain(pair_t *p, const void *data, size_t n)
{
    cr_assert_eq(cz__tls_write(p->c, data, n), CZ__TLS_OK);
}

static void send_str(pair_t *p, const char *s) { send_plain(p, s, strlen(s)); }

static size_t count(const char *hay, size_t n, const char *needle)
{
    size_t k = 0, m = strlen(needle);
    for (const char *q = hay; (q = memmem(q, n - (size_t)(q - hay), needle, m)); q += m)
        k++;
    return k;
}

Test(tls_transport, big_echo_through_a_full_socket)
{
    pair_t p;
    pair_open(&p);
    size_t bn = 300000;
    char *body = malloc(bn);
    for (size_t i = 0; i < bn; i++)
        body[i] = (char)('a' + i % 26);
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                      "Content-Length: %zu\r\n\r\n", bn);
    send_plain(&p, head, (size_t)hn);
    send_plain(&p, body, bn);
    /* and a request pipelined behind it: answered after the echo is out */
    send_str(&p, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 20000 && count(p.in, p.len, "{\"message\":\"hello\"}") == 0; i++)
        turn(&p);
    char *sep = memmem(p.in, p.len, "\r\n\r\n", 4);
    cr_assert_not_null(sep, "no answer head");
    cr_assert(strncmp(p.in, "HTTP/1.1 200 OK", 15) == 0);
    cr_assert_geq(p.len - (size_t)(sep + 4 - p.in), bn);
    cr_assert(memcmp(sep + 4, body, bn) == 0, "the echo differs");
    char *next = sep + 4 + bn;
    cr_assert(strncmp(next, "HTTP/1.1 200 OK", 15) == 0, "pipelined answer out of order");
    cr_assert_eq(count(p.in, p.len, "HTTP/1.1 4"), 0);
    free(body);
    pair_close(&p);
}

Test(tls_transport, many_queued_stream_writes)
{
    pair_t p;
    pair_open(&p);
    send_str(&p, "GET /stream?n=5000 HTTP/1.1\r\nHost: x\r\n\r\n");
    send_str(&p, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 50000 && count(p.in, p.len, "{\"message\":\"hello\"}") == 0; i++)
        turn(&p);
    cr_assert_eq(count(p.in, p.len, "chunk "), 5000);
    const char *last = memmem(p.in, p.len, "chunk 4999\n", 11);
    const char *hello = memmem(p.in, p.len, "{\"message\":\"hello\"}", 19);
    cr_assert(last && hello && last < hello, "stream and the next answer out of order");
    cr_assert_eq(count(p.in, p.len, "HTTP/1.1 200 OK"), 2);
    cr_assert_eq(count(p.in, p.len, "HTTP/1.1 4"), 0);
    pair_close(&p);
}
