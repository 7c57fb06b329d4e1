/* SPDX-License-Identifier: MIT
 *
 * Integration test of what a handler knows of a TLS connection (the TLS transport under the
 * codec), with curl as the client over loopback: cz_req_tls, the SNI name, and the client
 * certificate's subject (RFC 2253, most significant last) under ClientAuth optional (with and
 * without a certificate) and required; cz_server_tls_reload with a bad file keeps the old
 * certificate, with a good one swaps it. Test PKI from tests/support/tls_certs.sh in a
 * temporary directory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_server.h"

static ts_t T;
static char dir[64];

static int wire_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    const char *sni = cz_req_tls_sni(req), *subj = cz_req_tls_peer_subject(req);
    cz_res_printf(res, "%s tls=%d sni=%s subject=%s", cz_req_proto(req), cz_req_tls(req),
                  sni ? sni : "-", subj ? subj : "-");
    return CZ_DONE;
}

static void start(int client_auth)
{
    strcpy(dir, "/tmp/cz-tlswire-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bash %s/tests/support/tls_certs.sh %s", CZ_SOURCE_DIR, dir);
    cr_assert_eq(system(cmd), 0);
    ts_init(&T);
    char p[256];
    snprintf(p, sizeof p, "%s/a.pem", dir);
    T.conf.tls.cert_file = strdup(p);
    snprintf(p, sizeof p, "%s/a.key", dir);
    T.conf.tls.key_file = strdup(p);
    if (client_auth != CZ_TLS_CLIENT_AUTH_OFF) {
        snprintf(p, sizeof p, "%s/ca.pem", dir);
        T.conf.tls.ca_file = strdup(p);
        T.conf.tls.client_auth = client_auth;
    }
    static const cz_route_t r[] = {{"GET", "/wire", wire_handler, NULL, 0}};
    ts_start(&T, r, 1);
}

static void stop(void)
{
    ts_stop(&T);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
}

/* curl's body and exit status; extra: more arguments (a client certificate, --resolve) */
static int curl(const char *extra, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 5 --cacert %s/ca.pem %s https://localhost:%d/wire 2>/dev/null",
             dir, extra, T.port);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(tls_wire, handler_sees_tls_and_sni, .fini = stop, .timeout = 30)
{
    start(CZ_TLS_CLIENT_AUTH_OFF);
    char out[512];
    cr_assert_eq(curl("", out, sizeof out), 0);
    cr_assert_str_eq(out, "HTTP/1.1 tls=1 sni=localhost subject=-");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 5 --http1.0 --cacert %s/ca.pem --resolve a.test:%d:127.0.0.1 "
             "https://a.test:%d/wire", dir, T.port, T.port);
    FILE *f = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    pclose(f);
    cr_assert_str_eq(out, "HTTP/1.0 tls=1 sni=a.test subject=-");
}

Test(tls_wire, client_certificate_optional, .fini = stop, .timeout = 30)
{
    start(CZ_TLS_CLIENT_AUTH_OPTIONAL);
    char out[512], extra[256];
    cr_assert_eq(curl("", out, sizeof out), 0);
    cr_assert_str_eq(out, "HTTP/1.1 tls=1 sni=localhost subject=-");
    snprintf(extra, sizeof extra, "--cert %s/client.pem --key %s/client.key", dir, dir);
    cr_assert_eq(curl(extra, out, sizeof out), 0);
    cr_assert_str_eq(out, "HTTP/1.1 tls=1 sni=localhost subject=O=czero,CN=client");
}

Test(tls_wire, client_certificate_required, .fini = stop, .timeout = 30)
{
    start(CZ_TLS_CLIENT_AUTH_REQUIRED);
    char out[512], extra[256];
    cr_assert_neq(curl("", out, sizeof out), 0, "no client certificate, yet: %s", out);
    snprintf(extra, sizeof extra, "--cert %s/client.pem --key %s/client.key", dir, dir);
    cr_assert_eq(curl(extra, out, sizeof out), 0);
    cr_assert_str_eq(out, "HTTP/1.1 tls=1 sni=localhost subject=O=czero,CN=client");
}

Test(tls_wire, reload_api, .fini = stop, .timeout = 30)
{
    start(CZ_TLS_CLIENT_AUTH_OFF);
    char err[512] = "", cmd[512], out[512];
    /* a key that does not match: refused, the old certificate stays */
    snprintf(cmd, sizeof cmd, "cp %s/b.key %s/a.key", dir, dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_neq(cz_server_tls_reload(T.srv, err, sizeof err), 0);
    cr_assert(strstr(err, "does not match"), "err: %s", err);
    cr_assert_eq(curl("", out, sizeof out), 0);
    /* the reissue: taken */
    snprintf(cmd, sizeof cmd, "cp %s/a2.pem %s/a.pem && cp %s/a2.key %s/a.key", dir, dir, dir, dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(cz_server_tls_reload(T.srv, err, sizeof err), 0, "err: %s", err);
    snprintf(cmd, sizeof cmd,
             "echo | openssl s_client -connect 127.0.0.1:%d 2>/dev/null | sed -n 's/^subject=//p'",
             T.port);
    FILE *f = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    pclose(f);
    cr_assert_str_eq(out, "CN = a.test, O = czero reloaded\n");
    cr_assert_eq(cz_server_tls_reload(NULL, NULL, 0), CZ_EARG);
}
