/* SPDX-License-Identifier: MIT
 *
 * fuzz_tls_transport.c: libFuzzer target for the server's TLS transport (src/http/transport/
 * tls.c) under the real HTTP/1.1 codec, over a socketpair on a worker loop this thread runs, as
 * fuzz_http.c does for plain TCP. The first input byte picks the mode:
 *   even: the rest is what a client sends on the raw socket (handshake records, plain HTTP,
 *         garbage), in pieces whose size the second byte picks;
 *   odd:  an in-process client completes a real handshake first (TLS 1.3 or 1.2 by the next
 *         bit), then the rest goes as application data in records the client seals, so the
 *         bytes reach the codec through decryption (requests, pipelining, bodies), and the
 *         server's answers are decrypted back.
 * Beyond crashes, leaks and undefined behaviour (ASan, UBSan), every connection must close and
 * be freed within the loop's iterations, and in the odd mode the handshake must complete.
 *
 * The server's certificate (EC P-256, self-signed) is made in memory at start-up and written to
 * a temporary directory, as fuzz_tls.c does.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "http/http_int.h"
#include "tls/tls_int.h"
#include "fuzz_tls_cert.h"

static cz_server_t *srv;
static cz_worker_t worker;
static cz_tls_ctx_t *client_ctx;
static char dir[] = "/tmp/cz-fuzz-tlst-XXXXXX";

static void cleanup(void)
{
    char p[64];
    snprintf(p, sizeof p, "%s/c.pem", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/k.pem", dir);
    unlink(p);
    rmdir(dir);
}

static int hello(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    const char *s = cz_req_tls_sni(req), *p = cz_req_tls_peer_subject(req);
    cz_res_printf(res, "tls=%d sni=%s subj=%s", cz_req_tls(req), s ? s : "-", p ? p : "-");
    return CZ_DONE;
}

static int echo(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t b = cz_req_body(req);
    cz_res_write(res, b.p, b.n);
    return CZ_DONE;
}

static int stream(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_res_stream_begin(res);
    cz_str_t b = cz_req_path(req);
    for (int i = 0; i < 8; i++)
        cz_res_stream_write(res, b.p, b.n);
    cz_res_stream_end(res);
    return CZ_DONE;
}

static const cz_route_t routes[] = {
    {"GET", "/hello", hello, NULL, 0},
    {"POST", "/echo", echo, NULL, 0},
    {"GET", "/stream/:x", stream, NULL, 0},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    static char cert[64], key[64];
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    make_cert(cert, key);
    static cz_rest_conf_t conf;
    cz_conf_defaults(cz_rest_conf_fields, &conf, NULL);
    conf.middlewares.log = false;
    conf.max_bytes = 4096;
    conf.max_header_bytes = 2048;
    conf.max_request_line = 512;
    conf.tls.cert_file = cert;
    conf.tls.key_file = key;
    conf.tls.ca_file = cert;
    conf.tls.client_auth = CZ_TLS_CLIENT_AUTH_OPTIONAL;
    srv = cz_server_new(&conf, NULL);
    if (!srv || cz_server_add_routes(srv, routes, sizeof routes / sizeof routes[0], NULL, NULL))
        abort();
    if (cz__server_tls_start(srv) != 0) /* what cz_server_start does, without the listeners */
        abort();
    cz__worker_init(srv, &worker, 0, -1);
    static char *alpn[] = {"http/1.1"};
    cz_tls_client_conf_t cc = {.insecure_skip_verify = true, .alpn = {alpn, 1}};
    char err[512];
    if (cz_tls_client_ctx_new(&cc, &client_ctx, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_tls_transport: %s\n", err);
        abort();
    }
    return 0;
}

/* Move the client's pending output to the socket (blocking the fuzzer is fine: 1 MiB buffers). */
static void client_send(cz__tls_t *c, int fd)
{
    size_t n;
    const uint8_t *p;
    while ((p = cz__tls_out_peek(c, &n)) && n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        cz__tls_out_consume(c, (size_t)w);
    }
}

/* What the server sent: fed to the client (odd mode) or dropped. */
static void client_recv(cz__tls_t *c, int fd)
{
    uint8_t buf[65536];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        if (!c)
            continue;
        if (cz__tls_feed(c, buf, (size_t)r) != 0)
            abort();
        char plain[16384];
        size_t got;
        while (cz__tls_read(c, plain, sizeof plain, &got) == CZ__TLS_OK && got)
            ;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 100000)
        return 0;
    bool handshake = data[0] & 1, tls12 = data[0] & 2;
    size_t step = data[1] ? data[1] : size;
    data += 2, size -= 2;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 0;
    int sz = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    cz_conn_t *conn = cz__conn_open_fd(&worker, sv[0]);
    if (!conn) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    cz__tls_t *c = NULL;
    if (handshake) {
        if (!(c = cz__tls_client_new(client_ctx, "fuzz.test", NULL)))
            abort();
        if (tls12)
            SSL_set_max_proto_version(cz__tls_ssl(c), TLS1_2_VERSION);
        int i;
        for (i = 0; i < 50 && cz__tls_handshake(c) == CZ__TLS_WANT_READ; i++) {
            client_send(c, sv[1]);
            uv_run(&worker.loop, UV_RUN_NOWAIT);
            client_recv(c, sv[1]);
        }
        if (!cz__tls_handshake_done(c))
            abort(); /* a real client must always get through */
        client_send(c, sv[1]);
    }
    size_t off = 0;
    for (int i = 0; i < 2000 && worker.nconns; i++) {
        if (off < size) {
            size_t k = size - off < step ? size - off : step;
            if (c) {
                if (cz__tls_write(c, data + off, k) != CZ__TLS_OK)
                    abort();
                client_send(c, sv[1]);
                off += k;
            } else {
                ssize_t w = write(sv[1], data + off, k);
                if (w > 0)
                    off += (size_t)w;
            }
            if (off == size)
                shutdown(sv[1], SHUT_WR);
        } else if (size == 0 && i == 0) {
            shutdown(sv[1], SHUT_WR);
        }
        uv_run(&worker.loop, UV_RUN_NOWAIT);
        client_recv(c, sv[1]);
    }
    if (worker.nconns)
        cz__conn_close(conn);
    for (int i = 0; worker.nconns; i++) {
        if (i > 100000)
            abort(); /* a connection that never frees */
        uv_run(&worker.loop, UV_RUN_NOWAIT);
    }
    cz__tls_free(c);
    close(sv[1]);
    return 0;
}
