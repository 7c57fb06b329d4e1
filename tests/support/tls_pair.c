/* SPDX-License-Identifier: MIT
 *
 * tls_pair.c: the TLS tests' PKI and in-memory session pairs (see tls_pair.h).
 */
#include "tls_pair.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cz_tp_alpn_h1[1] = {"http/1.1"};
char *cz_tp_alpn_h2_h1[2] = {"h2", "http/1.1"};

void cz_tp_certs_make(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/cz-tls-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bash %s/tests/support/tls_certs.sh %s", CZ_SOURCE_DIR, dir);
    if (system(cmd) != 0)
        abort();
    setenv("CZ_TLS_TEST_DIR", dir, 1);
}

void cz_tp_certs_remove(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

char *cz_tp_path(const char *name)
{
    static char names[32][32], paths[32][256];
    int i = 0;
    while (i < 32 && names[i][0] && strcmp(names[i], name) != 0)
        i++;
    cr_assert(i < 32 && strlen(name) < 32);
    snprintf(names[i], 32, "%s", name);
    snprintf(paths[i], 256, "%s/%s", getenv("CZ_TLS_TEST_DIR"), name);
    return paths[i];
}

cz_tls_conf_t cz_tp_server_conf(void)
{
    return (cz_tls_conf_t){.cert_file = cz_tp_path("a.pem"), .key_file = cz_tp_path("a.key"),
                           .min_version = CZ_TLS_VERSION_1_2, .session_tickets = true,
                           .alpn = {cz_tp_alpn_h1, 1}};
}

cz_tls_client_conf_t cz_tp_client_conf(void)
{
    return (cz_tls_client_conf_t){.ca_file = cz_tp_path("ca.pem"), .alpn = {cz_tp_alpn_h1, 1}};
}

cz_tls_ctx_t *cz_tp_server_ctx(const cz_tls_conf_t *conf, const cz_clock_t *clock)
{
    cz_tls_ctx_t *c = NULL;
    char err[512] = "";
    cr_assert_eq(cz_tls_server_ctx_new(conf, clock, &c, err, sizeof err), 0, "%s", err);
    return c;
}

cz_tls_ctx_t *cz_tp_client_ctx(const cz_tls_client_conf_t *conf)
{
    cz_tls_ctx_t *c = NULL;
    char err[512] = "";
    cr_assert_eq(cz_tls_client_ctx_new(conf, &c, err, sizeof err), 0, "%s", err);
    return c;
}

void cz_tp_xfer(cz__tls_t *from, cz__tls_t *to)
{
    size_t n;
    const uint8_t *p = cz__tls_out_peek(from, &n);
    if (n) {
        cr_assert_eq(cz__tls_feed(to, p, n), 0);
        cz__tls_out_consume(from, n);
    }
}

void cz_tp_run(cz_tp_t *p)
{
    p->crc = p->src = CZ__TLS_WANT_READ;
    for (int i = 0; i < 20 && (p->crc == CZ__TLS_WANT_READ || p->src == CZ__TLS_WANT_READ); i++) {
        if (p->crc == CZ__TLS_WANT_READ)
            p->crc = cz__tls_handshake(p->c);
        cz_tp_xfer(p->c, p->s);
        if (p->src == CZ__TLS_WANT_READ)
            p->src = cz__tls_handshake(p->s);
        cz_tp_xfer(p->s, p->c);
    }
    char buf[16];
    size_t got;
    for (int i = 0; i < 2; i++) {
        if (p->crc == CZ__TLS_OK && cz__tls_read(p->c, buf, sizeof buf, &got) == CZ__TLS_ERROR)
            p->crc = CZ__TLS_ERROR;
        cz_tp_xfer(p->c, p->s);
        if (p->src == CZ__TLS_OK && cz__tls_read(p->s, buf, sizeof buf, &got) == CZ__TLS_ERROR)
            p->src = CZ__TLS_ERROR;
        cz_tp_xfer(p->s, p->c);
    }
}

cz_tp_t cz_tp_connect(cz_tls_ctx_t *cctx, cz_tls_ctx_t *sctx, const char *host, const char *peer)
{
    cz_tp_t p = {cz__tls_client_new(cctx, host, peer), cz__tls_server_new(sctx)};
    cr_assert(p.c && p.s);
    cz_tp_run(&p);
    return p;
}

void cz_tp_free(cz_tp_t *p)
{
    cz__tls_free(p->c);
    cz__tls_free(p->s);
}

void cz_tp_say(cz__tls_t *from, cz__tls_t *to, const char *msg)
{
    cr_assert_eq(cz__tls_write(from, msg, strlen(msg)), CZ__TLS_OK, "%s", cz__tls_error(from));
    cz_tp_xfer(from, to);
    char buf[256];
    size_t got = 0;
    cr_assert_eq(cz__tls_read(to, buf, sizeof buf, &got), CZ__TLS_OK, "%s", cz__tls_error(to));
    cr_assert_eq(got, strlen(msg));
    cr_assert_arr_eq(buf, msg, got);
}

void cz_tp_ok(const cz_tp_t *p)
{
    cr_assert_eq(p->crc, CZ__TLS_OK, "client: %s", cz__tls_error(p->c));
    cr_assert_eq(p->src, CZ__TLS_OK, "server: %s", cz__tls_error(p->s));
}
