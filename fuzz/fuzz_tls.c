/* SPDX-License-Identifier: MIT
 *
 * fuzz_tls.c: libFuzzer target for the server side of the TLS session engine (src/tls/): what a
 * client sends before and during the handshake, where OpenSSL parses records, ClientHello
 * extensions (SNI, ALPN, PSK tickets, groups) and, with ClientAuth optional, client
 * certificates; czero adds its plain-HTTP sniffing, its BIO and its buffers. The input is fed
 * in pieces whose sizes come from the input itself. Checked for any input: every call returns
 * a documented code, a failure comes with a reason, CZ__TLS_PLAINTEXT only for input that
 * starts with a capital letter, and the input buffer holds no more than was fed.
 *
 * The server's certificate (EC P-256, self-signed) is made in memory at start-up and written to
 * a temporary directory, since contexts load certificates from files as a service does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "tls/tls_int.h"
#include "fuzz_tls_cert.h"

static cz_tls_ctx_t *ctx;
static char dir[] = "/tmp/cz-fuzz-tls-XXXXXX";

static void cleanup(void)
{
    char p[64];
    snprintf(p, sizeof p, "%s/c.pem", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/k.pem", dir);
    unlink(p);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    char cert[64], key[64];
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    make_cert(cert, key);
    static char *alpn[] = {"h2", "http/1.1"};
    cz_tls_conf_t conf = {.cert_file = cert, .key_file = key, .ca_file = cert,
                          .client_auth = CZ_TLS_CLIENT_AUTH_OPTIONAL, .session_tickets = true,
                          .alpn = {alpn, 2}};
    char err[512];
    if (cz_tls_server_ctx_new(&conf, NULL, &ctx, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_tls: %s\n", err);
        abort();
    }
    return 0;
}

static void check(cz__tls_t *t, int rc, const uint8_t *data, size_t fed)
{
    switch (rc) {
    case CZ__TLS_OK:
    case CZ__TLS_WANT_READ:
    case CZ__TLS_CLOSED:
        break;
    case CZ__TLS_PLAINTEXT:
        if (fed == 0 || data[0] < 'A' || data[0] > 'Z')
            abort();
        /* fall through */
    case CZ__TLS_ERROR:
        if (!cz__tls_error(t))
            abort();
        break;
    default:
        abort();
    }
    size_t n;
    cz__tls_in_peek(t, &n);
    if (n > fed)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cz__tls_t *t = cz__tls_server_new(ctx);
    if (!t)
        abort();
    /* the first byte picks the piece size (1..256 bytes, or all at once) */
    size_t step = size && data[0] ? data[0] : size + 1, off = 0;
    int rc = CZ__TLS_WANT_READ;
    while (off < size && (rc == CZ__TLS_WANT_READ || rc == CZ__TLS_OK)) {
        size_t k = size - off < step ? size - off : step;
        if (cz__tls_feed(t, data + off, k) != 0)
            abort();
        off += k;
        char buf[512];
        size_t got;
        do
            rc = cz__tls_read(t, buf, sizeof buf, &got);
        while (rc == CZ__TLS_OK && got > 0);
        check(t, rc, data, off);
        /* what the server would send goes nowhere */
        size_t n;
        cz__tls_out_peek(t, &n);
        cz__tls_out_consume(t, n);
    }
    if (rc == CZ__TLS_OK && cz__tls_write(t, "HTTP/1.1 200 OK\r\n\r\n", 19) == CZ__TLS_ERROR &&
        !cz__tls_error(t))
        abort();
    cz__tls_free(t);
    return 0;
}
