/* SPDX-License-Identifier: MIT
 *
 * bench_tls.c: cost of the TLS session engine (src/tls/) in memory, client and server sessions
 * pumped into each other on one thread (no sockets), over tests/support/tls_certs.sh's EC P-256
 * certificates with the default (Mozilla intermediate) settings. Prints "name value" lines for
 * bench/run.sh:
 *   tls_handshake_full_us     a full TLS 1.3 handshake, both sides (X25519, ECDSA P-256)
 *   tls_handshake_resumed_us  a TLS 1.3 resumption from the previous connection's ticket
 *   tls_16k_ns                16 KiB written by the server and read by the client
 *   tls_writev_20x64_ns       a response of 20 pieces of 64 bytes (headers), written and read
 * Each figure is the best of several rounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "czero/tls.h"
#include "tls/tls_int.h"

#define ROUNDS 5

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void xfer(cz__tls_t *from, cz__tls_t *to)
{
    size_t n;
    const uint8_t *p = cz__tls_out_peek(from, &n);
    if (n) {
        cz__tls_feed(to, p, n);
        cz__tls_out_consume(from, n);
    }
}

static void handshake(cz__tls_t *c, cz__tls_t *s)
{
    int crc = CZ__TLS_WANT_READ, src = CZ__TLS_WANT_READ;
    for (int i = 0; i < 10 && (crc == CZ__TLS_WANT_READ || src == CZ__TLS_WANT_READ); i++) {
        if (crc == CZ__TLS_WANT_READ)
            crc = cz__tls_handshake(c);
        xfer(c, s);
        if (src == CZ__TLS_WANT_READ)
            src = cz__tls_handshake(s);
        xfer(s, c);
    }
    char b[16];
    size_t got;
    cz__tls_read(c, b, sizeof b, &got); /* the tickets */
    if (crc != CZ__TLS_OK || src != CZ__TLS_OK) {
        fprintf(stderr, "bench_tls: handshake failed: %s / %s\n", cz__tls_error(c),
                cz__tls_error(s));
        exit(1);
    }
}

static double handshakes(cz_tls_ctx_t *cc, cz_tls_ctx_t *sc, const char *peer, int n)
{
    double best = 1e18;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) {
            cz__tls_t *c = cz__tls_client_new(cc, "a.test", peer), *s = cz__tls_server_new(sc);
            handshake(c, s);
            cz__tls_free(c);
            cz__tls_free(s);
        }
        double per = (now_ns() - t0) / n;
        best = per < best ? per : best;
    }
    return best;
}

int main(void)
{
    char dir[] = "/tmp/cz-bench-tls-XXXXXX", cmd[512], path[6][128];
    if (!mkdtemp(dir))
        return 1;
    snprintf(cmd, sizeof cmd, "bash %s/tests/support/tls_certs.sh %s", CZ_SOURCE_DIR, dir);
    if (system(cmd) != 0)
        return 1;
    snprintf(path[0], 128, "%s/a.pem", dir);
    snprintf(path[1], 128, "%s/a.key", dir);
    snprintf(path[2], 128, "%s/ca.pem", dir);
    static char *h1[] = {"http/1.1"};
    cz_tls_conf_t sconf = {.cert_file = path[0], .key_file = path[1], .session_tickets = true,
                           .alpn = {h1, 1}};
    cz_tls_client_conf_t cconf = {.ca_file = path[2], .alpn = {h1, 1}};
    cz_tls_ctx_t *sc, *cc;
    char err[512];
    if (cz_tls_server_ctx_new(&sconf, NULL, &sc, err, sizeof err) ||
        cz_tls_client_ctx_new(&cconf, &cc, err, sizeof err)) {
        fprintf(stderr, "bench_tls: %s\n", err);
        return 1;
    }
    printf("tls_handshake_full_us %.1f\n", handshakes(cc, sc, NULL, 200) / 1e3);
    printf("tls_handshake_resumed_us %.1f\n", handshakes(cc, sc, "a.test:443", 200) / 1e3);

    cz__tls_t *c = cz__tls_client_new(cc, "a.test", NULL), *s = cz__tls_server_new(sc);
    handshake(c, s);
    static char big[16384], sink[16384];
    memset(big, 'x', sizeof big);
    char piece[20][64];
    struct iovec iov[20];
    for (int i = 0; i < 20; i++) {
        memset(piece[i], 'a' + i, 64);
        iov[i] = (struct iovec){piece[i], 64};
    }
    double best16 = 1e18, bestv = 1e18;
    for (int r = 0; r < ROUNDS; r++) {
        int n = 20000;
        size_t got;
        double t0 = now_ns();
        for (int i = 0; i < n; i++) {
            cz__tls_write(s, big, sizeof big);
            xfer(s, c);
            size_t total = 0;
            while (total < sizeof big && cz__tls_read(c, sink, sizeof sink, &got) == CZ__TLS_OK)
                total += got;
        }
        double t1 = now_ns();
        for (int i = 0; i < n; i++) {
            cz__tls_writev(s, iov, 20);
            xfer(s, c);
            cz__tls_read(c, sink, sizeof sink, &got);
        }
        double t2 = now_ns();
        best16 = (t1 - t0) / n < best16 ? (t1 - t0) / n : best16;
        bestv = (t2 - t1) / n < bestv ? (t2 - t1) / n : bestv;
    }
    printf("tls_16k_ns %.0f\n", best16);
    printf("tls_writev_20x64_ns %.0f\n", bestv);
    cz__tls_free(c);
    cz__tls_free(s);
    cz_tls_ctx_unref(sc);
    cz_tls_ctx_unref(cc);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
