/* SPDX-License-Identifier: MIT
 *
 * The TLS session engine (src/tls/) against real clients, curl and openssl s_client, on a
 * loopback socket. A minimal blocking transport in this file (one thread, one connection at a
 * time) drives a server session the way the libuv transport will: read the socket into the
 * session's input space, decrypt, answer, send what the session has to send. It answers each
 * request with what the session saw (SNI, ALPN, resumption), and plain HTTP with a 400.
 * The engine's own behaviour is tested in tests/unit/tls/; this checks that what it speaks is
 * what other TLS stacks expect.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tls_pair.h"

static char dir[32];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    cz_tp_certs_make(dir, sizeof dir);
}

ReportHook(POST_ALL)(struct criterion_global_stats *st)
{
    (void)st;
    cz_tp_certs_remove(dir);
}

#define P cz_tp_path

typedef struct server {
    cz_tls_ctx_t *ctx;
    int lfd, port;
    volatile int stop;
    pthread_t th;
} server_t;

static server_t srv;

static bool flush(cz__tls_t *t, int fd)
{
    size_t n;
    const uint8_t *p;
    while ((p = cz__tls_out_peek(t, &n)) && n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return false;
        cz__tls_out_consume(t, (size_t)w);
    }
    return true;
}

static void serve(int fd)
{
    static const char plain400[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";
    cz__tls_t *t = cz__tls_server_new(srv.ctx);
    char req[4096];
    size_t rlen = 0;
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (!flush(t, fd) || poll(&pf, 1, 5000) <= 0)
            break;
        size_t avail, got;
        uint8_t *space = cz__tls_in_space(t, 16384, &avail);
        ssize_t n = read(fd, space, avail);
        if (n <= 0)
            break;
        cz__tls_in_commit(t, (size_t)n);
        int rc;
        while ((rc = cz__tls_read(t, req + rlen, sizeof req - 1 - rlen, &got)) == CZ__TLS_OK)
            rlen += got;
        if (rc == CZ__TLS_PLAINTEXT) {
            if (write(fd, plain400, sizeof plain400 - 1) < 0)
                break;
            break;
        }
        if (rc != CZ__TLS_WANT_READ)
            break;
        req[rlen] = '\0';
        if (strstr(req, "\r\n\r\n")) {
            char body[512], head[128];
            size_t alen;
            const char *alpn = cz__tls_alpn(t, &alen);
            int bn = snprintf(body, sizeof body, "sni=%s alpn=%.*s resumed=%d %s\n",
                              cz__tls_sni(t) ? cz__tls_sni(t) : "-", (int)alen,
                              alpn ? alpn : "", cz__tls_resumed(t), cz__tls_version(t));
            int hn = snprintf(head, sizeof head,
                              "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
                              bn);
            struct iovec iov[2] = {{head, (size_t)hn}, {body, (size_t)bn}};
            cz__tls_writev(t, iov, 2);
            cz__tls_shutdown(t);
            flush(t, fd);
            break;
        }
    }
    flush(t, fd);
    /* a graceful end: stop sending, let the client read, then close */
    shutdown(fd, SHUT_WR);
    struct pollfd pf = {fd, POLLIN, 0};
    char sink[4096];
    while (poll(&pf, 1, 1000) > 0 && read(fd, sink, sizeof sink) > 0)
        ;
    cz__tls_free(t);
    close(fd);
}

static void *server_run(void *arg)
{
    (void)arg;
    while (!srv.stop) {
        struct pollfd pf = {srv.lfd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        int fd = accept(srv.lfd, NULL, NULL);
        if (fd >= 0)
            serve(fd);
    }
    return NULL;
}

static void start(void)
{
    static char *h1[] = {"http/1.1"};
    static cz_tls_cert_conf_t more[1];
    more[0] = (cz_tls_cert_conf_t){P("b.pem"), P("b.key")};
    cz_tls_conf_t conf = {.cert_file = P("a.pem"), .key_file = P("a.key"),
                          .certificates = {more, 1}, .session_tickets = true, .alpn = {h1, 1}};
    char err[512];
    cr_assert_eq(cz_tls_server_ctx_new(&conf, NULL, &srv.ctx, err, sizeof err), 0, "%s", err);
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    cr_assert_eq(bind(srv.lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(srv.lfd, 16), 0);
    getsockname(srv.lfd, (struct sockaddr *)&a, &alen);
    srv.port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&srv.th, NULL, server_run, NULL), 0);
}

static void stop(void)
{
    srv.stop = 1;
    pthread_join(srv.th, NULL);
    close(srv.lfd);
    cz_tls_ctx_unref(srv.ctx);
}

/* Run cmd, return its stdout (static buffer) and exit status. */
static const char *run(const char *cmd, int *status)
{
    static char out[16384];
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    *status = pclose(f);
    return out;
}

TestSuite(tls_interop, .init = start, .fini = stop, .timeout = 60);

Test(tls_interop, curl_sni_alpn_and_resumption)
{
    char cmd[1024];
    int st;
    /* two requests, two connections (the server closes): the second resumes with a ticket */
    snprintf(cmd, sizeof cmd,
             "curl -sS --cacert %s --resolve a.test:%d:127.0.0.1 https://a.test:%d/ "
             "https://a.test:%d/ 2>&1",
             P("ca.pem"), srv.port, srv.port, srv.port);
    const char *out = run(cmd, &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, "sni=a.test alpn=http/1.1 resumed=0 TLSv1.3\n"
                          "sni=a.test alpn=http/1.1 resumed=1 TLSv1.3\n");

    /* b.test is served b's certificate (curl checks the name against it) */
    snprintf(cmd, sizeof cmd,
             "curl -sS --cacert %s --resolve b.test:%d:127.0.0.1 https://b.test:%d/ 2>&1",
             P("ca.pem"), srv.port, srv.port);
    out = run(cmd, &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, "sni=b.test alpn=http/1.1 resumed=0 TLSv1.3\n");

    /* TLS 1.2 works too */
    snprintf(cmd, sizeof cmd,
             "curl -sS --tls-max 1.2 --cacert %s --resolve a.test:%d:127.0.0.1 "
             "https://a.test:%d/ 2>&1",
             P("ca.pem"), srv.port, srv.port);
    out = run(cmd, &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, "sni=a.test alpn=http/1.1 resumed=0 TLSv1.2\n");

    /* an unknown name gets the default certificate, which curl refuses (exit 60) */
    snprintf(cmd, sizeof cmd,
             "curl -sS --cacert %s --resolve c.test:%d:127.0.0.1 https://c.test:%d/ 2>&1",
             P("ca.pem"), srv.port, srv.port);
    out = run(cmd, &st);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 60, "%d: %s", st, out);
}

Test(tls_interop, plain_http_gets_400)
{
    char cmd[256];
    int st;
    snprintf(cmd, sizeof cmd, "curl -sS -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/ 2>&1",
             srv.port);
    const char *out = run(cmd, &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, "400");
}

Test(tls_interop, openssl_s_client)
{
    char cmd[1024];
    int st;
    snprintf(cmd, sizeof cmd,
             "openssl s_client -connect 127.0.0.1:%d -servername b.test -CAfile %s "
             "-verify_hostname b.test -alpn h2,http/1.1 </dev/null 2>&1",
             srv.port, P("ca.pem"));
    const char *out = run(cmd, &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "subject=CN = b.test, O = czero"), "%s", out);
    cr_assert(strstr(out, "ALPN protocol: http/1.1"), "%s", out);
    cr_assert(strstr(out, "Verify return code: 0 (ok)"), "%s", out);
    cr_assert(strstr(out, "Server Temp Key: X25519"), "%s", out);
}
