/* SPDX-License-Identifier: MIT
 *
 * Tests for src/tls/: a client session and a server session pumped into each other in memory
 * (no sockets: the engine is the unit), over a PKI that tests/support/tls_certs.sh makes with
 * the openssl CLI once per run. What a user would see: the handshake, ALPN, the certificate SNI
 * picks (as the client sees its subject), resumption from an earlier connection's ticket,
 * verification failures with their reason, client certificates, plain HTTP on the TLS port,
 * reload while a connection stays open, bad certificate files, the version floor, and ticket
 * keys rotating on an injected clock.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/ssl.h>
#include "czero/tls.h"
#include "tls/tls_int.h"

static char dir[64];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    snprintf(dir, sizeof dir, "/tmp/cz-tls-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bash %s/tests/support/tls_certs.sh %s", CZ_SOURCE_DIR, dir);
    if (system(cmd) != 0)
        abort();
    setenv("CZ_TLS_TEST_DIR", dir, 1); /* the tests run in child processes */
}

ReportHook(POST_ALL)(struct criterion_global_stats *st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* dir/name; one buffer per name, so a path stays valid for the whole test */
static char *P(const char *name)
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

static char *alpn_h2_h1[] = {"h2", "http/1.1"};
static char *alpn_h1[] = {"http/1.1"};

/* A server configuration as the loader's defaults would give, with certificate a. */
static cz_tls_conf_t server_conf(void)
{
    return (cz_tls_conf_t){.cert_file = P("a.pem"), .key_file = P("a.key"),
                           .min_version = CZ_TLS_VERSION_1_2, .session_tickets = true,
                           .alpn = {alpn_h1, 1}};
}

static cz_tls_client_conf_t client_conf(void)
{
    return (cz_tls_client_conf_t){.ca_file = P("ca.pem"), .alpn = {alpn_h1, 1}};
}

static cz_tls_ctx_t *server_ctx(const cz_tls_conf_t *conf, const cz_clock_t *clock)
{
    cz_tls_ctx_t *c = NULL;
    char err[512] = "";
    cr_assert_eq(cz_tls_server_ctx_new(conf, clock, &c, err, sizeof err), 0, "%s", err);
    return c;
}

static cz_tls_ctx_t *client_ctx(const cz_tls_client_conf_t *conf)
{
    cz_tls_ctx_t *c = NULL;
    char err[512] = "";
    cr_assert_eq(cz_tls_client_ctx_new(conf, &c, err, sizeof err), 0, "%s", err);
    return c;
}

/* Move what one side has to send into the other side's input. */
static void xfer(cz__tls_t *from, cz__tls_t *to)
{
    size_t n;
    const uint8_t *p = cz__tls_out_peek(from, &n);
    if (n) {
        cr_assert_eq(cz__tls_feed(to, p, n), 0);
        cz__tls_out_consume(from, n);
    }
}

typedef struct pair {
    cz__tls_t *c, *s;
    int crc, src; /* last handshake results */
} pair_t;

/* Both handshakes as far as they go, then one read on each side so that post-handshake
 * messages (TLS 1.3 tickets, a late alert) are processed. */
static void run(pair_t *p)
{
    p->crc = p->src = CZ__TLS_WANT_READ;
    for (int i = 0; i < 20 && (p->crc == CZ__TLS_WANT_READ || p->src == CZ__TLS_WANT_READ); i++) {
        if (p->crc == CZ__TLS_WANT_READ)
            p->crc = cz__tls_handshake(p->c);
        xfer(p->c, p->s);
        if (p->src == CZ__TLS_WANT_READ)
            p->src = cz__tls_handshake(p->s);
        xfer(p->s, p->c);
    }
    char buf[16];
    size_t got;
    for (int i = 0; i < 2; i++) {
        if (p->crc == CZ__TLS_OK && cz__tls_read(p->c, buf, sizeof buf, &got) == CZ__TLS_ERROR)
            p->crc = CZ__TLS_ERROR;
        xfer(p->c, p->s);
        if (p->src == CZ__TLS_OK && cz__tls_read(p->s, buf, sizeof buf, &got) == CZ__TLS_ERROR)
            p->src = CZ__TLS_ERROR;
        xfer(p->s, p->c);
    }
}

static pair_t connect_to(cz_tls_ctx_t *cctx, cz_tls_ctx_t *sctx, const char *host,
                         const char *peer)
{
    pair_t p = {cz__tls_client_new(cctx, host, peer), cz__tls_server_new(sctx)};
    cr_assert(p.c && p.s);
    run(&p);
    return p;
}

static void pair_free(pair_t *p)
{
    cz__tls_free(p->c);
    cz__tls_free(p->s);
}

/* from -> to, and to reads exactly msg */
static void say(cz__tls_t *from, cz__tls_t *to, const char *msg)
{
    cr_assert_eq(cz__tls_write(from, msg, strlen(msg)), CZ__TLS_OK, "%s", cz__tls_error(from));
    xfer(from, to);
    char buf[256];
    size_t got = 0;
    cr_assert_eq(cz__tls_read(to, buf, sizeof buf, &got), CZ__TLS_OK, "%s", cz__tls_error(to));
    cr_assert_eq(got, strlen(msg));
    cr_assert_arr_eq(buf, msg, got);
}

static void ok(const pair_t *p)
{
    cr_assert_eq(p->crc, CZ__TLS_OK, "client: %s", cz__tls_error(p->c));
    cr_assert_eq(p->src, CZ__TLS_OK, "server: %s", cz__tls_error(p->s));
}

Test(tls, handshake_alpn_and_data)
{
    cz_tls_conf_t sc = server_conf();
    sc.alpn = (cz_conf_strings_t){alpn_h2_h1, 2};
    cz_tls_client_conf_t cc = client_conf();
    cc.alpn = (cz_conf_strings_t){alpn_h2_h1 + 1, 1};
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    pair_t p = connect_to(c, s, "a.test", NULL);
    ok(&p);
    size_t n;
    const char *proto = cz__tls_alpn(p.s, &n);
    cr_assert_eq(n, 8);
    cr_assert_arr_eq(proto, "http/1.1", 8);
    cr_assert_str_eq(cz__tls_version(p.c), "TLSv1.3");
    cr_assert_not_null(cz__tls_cipher(p.s));
    cr_assert_str_eq(cz__tls_sni(p.s), "a.test");
    cr_assert_not(cz__tls_resumed(p.s));
    cr_assert_str_eq(cz__tls_peer_subject(p.c), "O=czero,CN=a.test");
    cr_assert_null(cz__tls_peer_subject(p.s)); /* no client certificate */
    say(p.c, p.s, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    say(p.s, p.c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    pair_free(&p);

    /* a client offering both gets the server's first choice */
    cz_tls_ctx_unref(c);
    cc.alpn = (cz_conf_strings_t){alpn_h2_h1, 2};
    c = client_ctx(&cc);
    p = connect_to(c, s, "a.test", NULL);
    ok(&p);
    proto = cz__tls_alpn(p.c, &n);
    cr_assert_eq(n, 2);
    cr_assert_arr_eq(proto, "h2", 2);
    pair_free(&p);

    cz_tls_stats_t st;
    cz_tls_ctx_stats(s, &st);
    cr_assert_eq(st.handshakes, 2);
    cr_assert_eq(st.failed, 0);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, alpn_without_common_protocol_fails)
{
    cz_tls_conf_t sc = server_conf(); /* http/1.1 only */
    cz_tls_client_conf_t cc = client_conf();
    cc.alpn = (cz_conf_strings_t){alpn_h2_h1, 1}; /* h2 only */
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    pair_t p = connect_to(c, s, "a.test", NULL);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert_eq(p.crc, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.c), "no application protocol"), "%s", cz__tls_error(p.c));
    pair_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, sni_picks_the_matching_certificate)
{
    cz_tls_cert_conf_t more[] = {{P("b.pem"), P("b.key")}};
    cz_tls_conf_t sc = server_conf();
    sc.certificates = (cz_conf_array_t){more, 1};
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    const struct {
        const char *host, *subject;
    } cases[] = {
        {"a.test", "O=czero,CN=a.test"},
        {"b.test", "O=czero,CN=b.test"},
        {"api.b.test", "O=czero,CN=b.test"}, /* *.b.test */
        {"localhost", "O=czero,CN=a.test"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pair_t p = connect_to(c, s, cases[i].host, NULL);
        ok(&p);
        cr_assert_str_eq(cz__tls_peer_subject(p.c), cases[i].subject, "%s", cases[i].host);
        cr_assert_str_eq(cz__tls_sni(p.s), cases[i].host);
        say(p.c, p.s, "ping");
        pair_free(&p);
    }
    /* a name no certificate has: the default one, which the client then refuses */
    pair_t p = connect_to(c, s, "c.test", NULL);
    cr_assert_eq(p.crc, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.c), "hostname mismatch"), "%s", cz__tls_error(p.c));
    pair_free(&p);
    /* an IP address: no SNI is sent, the certificate's IP SAN is checked */
    p = connect_to(c, s, "127.0.0.1", NULL);
    ok(&p);
    cr_assert_null(cz__tls_sni(p.s));
    pair_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

static void resumption(int max_version)
{
    cz_tls_conf_t sc = server_conf();
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    for (int i = 0; i < 3; i++) {
        pair_t p = {cz__tls_client_new(c, "a.test", "a.test:443"), cz__tls_server_new(s)};
        if (max_version)
            SSL_set_max_proto_version(cz__tls_ssl(p.c), max_version);
        run(&p);
        ok(&p);
        cr_assert_eq(cz__tls_resumed(p.c), i > 0, "connection %d", i);
        cr_assert_eq(cz__tls_resumed(p.s), i > 0, "connection %d", i);
        say(p.c, p.s, "ping");
        pair_free(&p);
    }
    /* another peer key has no session to offer */
    pair_t p = connect_to(c, s, "a.test", "a.test:8443");
    ok(&p);
    cr_assert_not(cz__tls_resumed(p.c));
    pair_free(&p);
    cz_tls_stats_t st;
    cz_tls_ctx_stats(s, &st);
    cr_assert_eq(st.handshakes, 4);
    cr_assert_eq(st.resumed, 2);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, resumption_tls13) { resumption(0); }
Test(tls, resumption_tls12) { resumption(TLS1_2_VERSION); }

Test(tls, no_tickets_no_resumption)
{
    cz_tls_conf_t sc = server_conf();
    sc.session_tickets = false;
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    for (int i = 0; i < 2; i++) {
        pair_t p = connect_to(c, s, "a.test", "a.test:443");
        ok(&p);
        cr_assert_not(cz__tls_resumed(p.c));
        pair_free(&p);
    }
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

static void refused(const char *cert, const char *key, const char *host, const char *reason)
{
    cz_tls_conf_t sc = server_conf();
    sc.cert_file = P(cert);
    sc.key_file = P(key);
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    pair_t p = connect_to(c, s, host, "x:443");
    cr_assert_eq(p.crc, CZ__TLS_ERROR);
    cr_assert_eq(p.src, CZ__TLS_ERROR); /* the client's alert */
    cr_assert(strstr(cz__tls_error(p.c), "certificate verify failed"), "%s", cz__tls_error(p.c));
    cr_assert(strstr(cz__tls_error(p.c), reason), "%s", cz__tls_error(p.c));
    cr_assert_not(cz__tls_handshake_done(p.c));
    cz_tls_stats_t st;
    cz_tls_ctx_stats(c, &st);
    cr_assert_eq(st.failed, 1);
    cr_assert_eq(st.handshakes, 0);
    cz_tls_ctx_stats(s, &st);
    cr_assert_eq(st.failed, 1);
    pair_free(&p);

    /* InsecureSkipVerify accepts it */
    cz_tls_ctx_unref(c);
    cc.insecure_skip_verify = true;
    c = client_ctx(&cc);
    p = connect_to(c, s, host, NULL);
    ok(&p);
    pair_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, expired_certificate_fails_verification)
{
    refused("expired.pem", "expired.key", "a.test", "certificate has expired");
}

Test(tls, wrong_host_name_fails_verification)
{
    refused("wrong.pem", "wrong.key", "a.test", "hostname mismatch");
}

Test(tls, system_cas_do_not_trust_the_test_ca)
{
    cz_tls_conf_t sc = server_conf();
    cz_tls_client_conf_t cc = client_conf();
    cc.ca_file = NULL; /* SSL_CTX_set_default_verify_paths */
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    pair_t p = connect_to(c, s, "a.test", NULL);
    cr_assert_eq(p.crc, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.c), "unable to get local issuer certificate"), "%s",
              cz__tls_error(p.c));
    pair_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, client_certificates)
{
    cz_tls_conf_t sc = server_conf();
    sc.ca_file = P("ca.pem");
    sc.client_auth = CZ_TLS_CLIENT_AUTH_REQUIRED;
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);

    /* required, none sent: the server fails the handshake */
    pair_t p = connect_to(c, s, "a.test", NULL);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.s), "peer did not return a certificate"), "%s",
              cz__tls_error(p.s));
    cr_assert_eq(p.crc, CZ__TLS_ERROR); /* TLS 1.3: the client learns it from the alert */
    pair_free(&p);

    /* with one: accepted, and the server sees who */
    cz_tls_ctx_unref(c);
    cc.cert_file = P("client.pem");
    cc.key_file = P("client.key");
    c = client_ctx(&cc);
    p = connect_to(c, s, "a.test", NULL);
    ok(&p);
    cr_assert_str_eq(cz__tls_peer_subject(p.s), "O=czero,CN=client");
    say(p.c, p.s, "hello");
    pair_free(&p);
    cz_tls_ctx_unref(s);

    /* a certificate the CA did not sign is refused */
    cz_tls_ctx_unref(c);
    cc.cert_file = P("wrong.pem"); /* signed by ca, but for serverAuth */
    cc.key_file = P("wrong.key");
    c = client_ctx(&cc);
    sc.ca_file = P("other-ca.pem");
    s = server_ctx(&sc, NULL);
    p = connect_to(c, s, "a.test", NULL);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.s), "certificate verify failed"), "%s", cz__tls_error(p.s));
    pair_free(&p);
    cz_tls_ctx_unref(s);

    /* optional: without a certificate is fine */
    cz_tls_ctx_unref(c);
    cc.cert_file = cc.key_file = NULL;
    c = client_ctx(&cc);
    sc.ca_file = P("ca.pem");
    sc.client_auth = CZ_TLS_CLIENT_AUTH_OPTIONAL;
    s = server_ctx(&sc, NULL);
    p = connect_to(c, s, "a.test", NULL);
    ok(&p);
    cr_assert_null(cz__tls_peer_subject(p.s));
    pair_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, plain_http_is_recognised)
{
    cz_tls_conf_t sc = server_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, NULL);
    const char *req = "GET / HTTP/1.1\r\n";
    cz__tls_t *t = cz__tls_server_new(s);
    cr_assert_eq(cz__tls_feed(t, req, strlen(req)), 0);
    char buf[64];
    size_t got;
    cr_assert_eq(cz__tls_read(t, buf, sizeof buf, &got), CZ__TLS_PLAINTEXT);
    cr_assert_eq(cz__tls_handshake(t), CZ__TLS_PLAINTEXT);
    size_t n;
    const uint8_t *in = cz__tls_in_peek(t, &n);
    cr_assert_eq(n, strlen(req));
    cr_assert_arr_eq(in, req, n);
    cr_assert_eq(cz__tls_out_pending(t), 0); /* nothing TLS to send: the 400 is the caller's */
    cz__tls_free(t);

    /* even a first byte tells ("G" cannot start a TLS record) */
    t = cz__tls_server_new(s);
    cr_assert_eq(cz__tls_feed(t, "P", 1), 0);
    cr_assert_eq(cz__tls_handshake(t), CZ__TLS_PLAINTEXT);
    cz__tls_free(t);

    /* garbage that is not a request line is a TLS error, not plain HTTP */
    t = cz__tls_server_new(s);
    cr_assert_eq(cz__tls_feed(t, "\x01\x01\x01\x01\x01\x01\x01\x01\x01", 9), 0);
    cr_assert_eq(cz__tls_handshake(t), CZ__TLS_ERROR);
    cr_assert_not_null(cz__tls_error(t));
    cz__tls_free(t);
    t = cz__tls_server_new(s);
    cr_assert_eq(cz__tls_feed(t, "get / http/1.1\r\n", 16), 0);
    cr_assert_eq(cz__tls_handshake(t), CZ__TLS_ERROR);
    cz__tls_free(t);

    cz_tls_stats_t st;
    cz_tls_ctx_stats(s, &st);
    cr_assert_eq(st.plaintext, 2);
    cr_assert_eq(st.failed, 2);
    cz_tls_ctx_unref(s);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp %s %s.tmp && mv %s.tmp %s", from, to, to, to);
    cr_assert_eq(system(cmd), 0);
}

Test(tls, reload_keeps_open_sessions_and_serves_the_new_certificate)
{
    /* the service's files: copies it can replace */
    copy_file(P("a.pem"), P("live.pem"));
    copy_file(P("a.key"), P("live.key"));
    cz_tls_conf_t sc = server_conf();
    sc.cert_file = P("live.pem");
    sc.key_file = P("live.key");
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *c = client_ctx(&cc);
    cz_tls_slot_t *slot = cz_tls_slot_new(server_ctx(&sc, NULL));
    cr_assert_not_null(slot);

    cz_tls_ctx_t *first = cz_tls_slot_get(slot);
    pair_t old = connect_to(c, first, "a.test", "a.test:443");
    ok(&old);
    cr_assert_str_eq(cz__tls_peer_subject(old.c), "O=czero,CN=a.test");
    cr_assert_not(cz_tls_ctx_files_changed(first));
    cr_assert_not(cz_tls_ctx_files_changed(first));

    copy_file(P("a2.pem"), P("live.pem"));
    copy_file(P("a2.key"), P("live.key"));
    cr_assert(cz_tls_ctx_files_changed(first));
    char err[512] = "";
    cr_assert_eq(cz_tls_slot_reload(slot, &sc, err, sizeof err), 0, "%s", err);
    cz_tls_ctx_unref(first); /* now only the open session holds it */

    /* the open connection goes on, on the old context */
    say(old.c, old.s, "still there?");
    say(old.s, old.c, "yes");

    /* new connections get the new certificate, and resume with a ticket from before */
    cz_tls_ctx_t *next = cz_tls_slot_get(slot);
    cr_assert_neq(next, first);
    cr_assert_not(cz_tls_ctx_files_changed(next));
    pair_t p = connect_to(c, next, "a.test", "a.test:443");
    ok(&p);
    cr_assert(cz__tls_resumed(p.s));
    pair_free(&p);
    cz_tls_stats_t st;
    cz_tls_ctx_stats(next, &st); /* the counters go on across the reload */
    cr_assert_eq(st.handshakes, 2);
    cr_assert_eq(st.resumed, 1);
    p = connect_to(c, next, "a.test", NULL);
    ok(&p);
    cr_assert_not(cz__tls_resumed(p.s));
    cr_assert_str_eq(cz__tls_peer_subject(p.c), "O=czero reloaded,CN=a.test");
    pair_free(&p);
    cz_tls_ctx_unref(next);

    /* a reload that fails leaves the slot as it was */
    copy_file(P("b.key"), P("live.key"));
    cr_assert_eq(cz_tls_slot_reload(slot, &sc, err, sizeof err), CZ_EINVAL_CONF);
    cr_assert(strstr(err, "does not match"), "%s", err);
    cr_assert_eq(cz_tls_slot_get(slot), next);
    cz_tls_ctx_unref(next);

    pair_free(&old); /* frees the first context (ASan's leak check would see it otherwise) */
    cz_tls_slot_free(slot);
    cz_tls_ctx_unref(c);
}

static void bad_ctx(const char *cert, const char *key, const char *want1, const char *want2)
{
    cz_tls_conf_t sc = server_conf();
    sc.cert_file = P(cert);
    sc.key_file = P(key);
    cz_tls_ctx_t *s = (cz_tls_ctx_t *)1;
    char err[512] = "";
    cr_assert_eq(cz_tls_server_ctx_new(&sc, NULL, &s, err, sizeof err), CZ_EINVAL_CONF);
    cr_assert_null(s);
    cr_assert(strstr(err, want1), "%s", err);
    cr_assert(strstr(err, want2), "%s", err);
}

Test(tls, bad_certificate_files_fail_context_creation)
{
    char path[300];
    snprintf(path, sizeof path, "%s", P("b.key"));
    bad_ctx("a.pem", "b.key", path, "key values mismatch");
    snprintf(path, sizeof path, "%s", P("missing.pem"));
    bad_ctx("missing.pem", "a.key", path, "No such file or directory");
    snprintf(path, sizeof path, "%s", P("ca.srl"));
    FILE *f = fopen(P("junk.pem"), "w");
    fputs("not a certificate\n", f);
    fclose(f);
    snprintf(path, sizeof path, "CertFile %s", P("junk.pem"));
    bad_ctx("junk.pem", "a.key", path, "no start line");
    snprintf(path, sizeof path, "KeyFile %s", P("junk.pem"));
    bad_ctx("a.pem", "junk.pem", path, ":");
    if (geteuid() != 0) { /* root reads anything */
        copy_file(P("a.key"), P("secret.key"));
        chmod(P("secret.key"), 0);
        bad_ctx("a.pem", "secret.key", P("secret.key"), "Permission denied");
    }
    /* a client context names its files the same way */
    cz_tls_client_conf_t cc = client_conf();
    cc.ca_file = P("nope.pem");
    cz_tls_ctx_t *c = NULL;
    char err[512];
    cr_assert_eq(cz_tls_client_ctx_new(&cc, &c, err, sizeof err), CZ_EINVAL_CONF);
    char want[300];
    snprintf(want, sizeof want, "CACertFile %s: No such file or directory", P("nope.pem"));
    cr_assert_str_eq(err, want);
    cc.ca_file = P("ca.pem");
    cc.cert_file = P("client.pem");
    cc.key_file = P("a.key");
    cr_assert_eq(cz_tls_client_ctx_new(&cc, &c, err, sizeof err), CZ_EINVAL_CONF);
    snprintf(want, sizeof want, "CertKeyFile %s does not match CertFile %s", P("a.key"),
             P("client.pem"));
    cr_assert(strstr(err, want), "%s", err);
}

Test(tls, min_version_refuses_an_old_client)
{
    cz_tls_conf_t sc = server_conf(); /* MinVersion 1.2 */
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    pair_t p = {cz__tls_client_new(c, "a.test", NULL), cz__tls_server_new(s)};
    SSL *ssl = cz__tls_ssl(p.c);
    /* OpenSSL 3 will not even offer TLS 1.1 above security level 0 */
    cr_assert(SSL_set_min_proto_version(ssl, TLS1_VERSION));
    cr_assert(SSL_set_max_proto_version(ssl, TLS1_1_VERSION));
    cr_assert(SSL_set_cipher_list(ssl, "DEFAULT:@SECLEVEL=0"));
    run(&p);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.s), "unsupported protocol"), "%s", cz__tls_error(p.s));
    cr_assert_eq(p.crc, CZ__TLS_ERROR);
    pair_free(&p);

    /* MinVersion 1.3 refuses a 1.2 client the same way */
    cz_tls_ctx_unref(s);
    sc.min_version = CZ_TLS_VERSION_1_3;
    s = server_ctx(&sc, NULL);
    p = (pair_t){cz__tls_client_new(c, "a.test", NULL), cz__tls_server_new(s)};
    SSL_set_max_proto_version(cz__tls_ssl(p.c), TLS1_2_VERSION);
    run(&p);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.s), "unsupported protocol"), "%s", cz__tls_error(p.s));
    pair_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, ticket_keys_rotate_on_the_clock)
{
    cz_clock_manual_t clk;
    cz_clock_manual_init(&clk, 1000 * CZ_NS_PER_SEC);
    cz_tls_conf_t sc = server_conf();
    sc.ticket_key_rotation_ms = 3600 * 1000;
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, &clk.clock), *c = client_ctx(&cc);
    pair_t p = connect_to(c, s, "a.test", "k");
    ok(&p);
    SSL_SESSION *first = cz__tls_cache_get(c, "k"); /* a ticket under key 1 */
    cr_assert_not_null(first);
    pair_free(&p);

    struct {
        uint64_t advance_s;
        bool resumed;
        uint64_t rotations;
    } steps[] = {
        {1800, true, 0},  /* key 1 still current */
        {1800, true, 1},  /* key 2 current; key 1 still decrypts (and the ticket is renewed) */
        {3599, true, 1},  /* key 1 is kept for one period */
        {1, false, 2},    /* key 3 current; key 1 is gone: a full handshake */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        cz_clock_manual_advance(&clk, steps[i].advance_s * CZ_NS_PER_SEC);
        p = (pair_t){cz__tls_client_new(c, "a.test", NULL), cz__tls_server_new(s)};
        /* a copy each time: OpenSSL's client spends a TLS 1.3 ticket it resumed with */
        SSL_SESSION *copy = SSL_SESSION_dup(first);
        SSL_set_session(cz__tls_ssl(p.c), copy);
        SSL_SESSION_free(copy);
        run(&p);
        ok(&p);
        cr_assert_eq(cz__tls_resumed(p.s), steps[i].resumed, "step %zu", i);
        cz_tls_stats_t st;
        cz_tls_ctx_stats(s, &st);
        cr_assert_eq(st.ticket_rotations, steps[i].rotations, "step %zu", i);
        pair_free(&p);
    }
    /* a ticket issued now resumes */
    p = connect_to(c, s, "a.test", "k");
    pair_free(&p);
    p = connect_to(c, s, "a.test", "k");
    cr_assert(cz__tls_resumed(p.s));
    pair_free(&p);
    /* idle for two periods: every key retired at once */
    cz_clock_manual_advance(&clk, 7200 * CZ_NS_PER_SEC);
    p = connect_to(c, s, "a.test", "k");
    ok(&p);
    cr_assert_not(cz__tls_resumed(p.s));
    pair_free(&p);
    SSL_SESSION_free(first);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, writev_out_take_and_close_notify)
{
    cz_tls_conf_t sc = server_conf();
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    pair_t p = connect_to(c, s, "a.test", NULL);
    ok(&p);

    /* 100 small pieces and a big one: the reader gets them all, in order */
    static char big[40000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    struct iovec iov[101];
    char small[100][4];
    for (int i = 0; i < 100; i++) {
        snprintf(small[i], 4, "%03d", i);
        iov[i] = (struct iovec){small[i], 3};
    }
    iov[100] = (struct iovec){big, sizeof big};
    cr_assert_eq(cz__tls_writev(p.s, iov, 101), CZ__TLS_OK);
    size_t pending = cz__tls_out_pending(p.s);
    cr_assert_gt(pending, 300 + sizeof big);
    /* fewer than 10 records: the small pieces went out together (a record costs 22 bytes) */
    cr_assert_lt(pending, 300 + sizeof big + 10 * 22);

    /* the transport takes the buffer for an asynchronous write; the session writes on */
    cz__tls_buf_t b;
    cz__tls_out_take(p.s, &b);
    cr_assert_eq(b.len, pending);
    cr_assert_eq(cz__tls_out_pending(p.s), 0);
    cr_assert_eq(cz__tls_write(p.s, "tail", 4), CZ__TLS_OK);
    cr_assert_eq(cz__tls_feed(p.c, b.data, b.len), 0);
    cz__tls_out_give(p.s, &b);
    cr_assert_null(b.data);
    xfer(p.s, p.c);

    static char got[41000];
    size_t total = 0, n;
    int rc;
    cr_assert(cz__tls_has_input(p.c));
    cr_assert_eq(cz__tls_read(p.c, got, 100, &n), CZ__TLS_OK); /* a reader that pauses... */
    total += n;
    cr_assert(cz__tls_has_input(p.c)); /* ...knows there is more without a socket read */
    while ((rc = cz__tls_read(p.c, got + total, sizeof got - total, &n)) == CZ__TLS_OK)
        total += n;
    cr_assert_eq(rc, CZ__TLS_WANT_READ);
    cr_assert_not(cz__tls_has_input(p.c));
    cr_assert_eq(total, 300 + sizeof big + 4);
    cr_assert_arr_eq(got, "000001002", 9);
    cr_assert_arr_eq(got + 297, "099", 3);
    cr_assert_arr_eq(got + 300, big, sizeof big);
    cr_assert_arr_eq(got + 300 + sizeof big, "tail", 4);

    /* zero-copy input: read "from the socket" straight into the session */
    cr_assert_eq(cz__tls_write(p.c, "direct", 6), CZ__TLS_OK);
    size_t avail, len;
    const uint8_t *out = cz__tls_out_peek(p.c, &len);
    uint8_t *space = cz__tls_in_space(p.s, len, &avail);
    cr_assert_geq(avail, len);
    memcpy(space, out, len);
    cz__tls_in_commit(p.s, len);
    cz__tls_out_consume(p.c, len);
    char buf[16];
    cr_assert_eq(cz__tls_read(p.s, buf, sizeof buf, &n), CZ__TLS_OK);
    cr_assert_eq(n, 6);
    cz__tls_trim(p.s);

    /* close_notify: the server sees the end of the stream */
    cr_assert_eq(cz__tls_shutdown(p.c), CZ__TLS_OK);
    cr_assert_gt(cz__tls_out_pending(p.c), 0);
    xfer(p.c, p.s);
    cr_assert_eq(cz__tls_read(p.s, buf, sizeof buf, &n), CZ__TLS_CLOSED);
    cr_assert(cz__tls_closed(p.s));
    cr_assert_null(cz__tls_error(p.s));
    cr_assert_eq(cz__tls_write(p.c, "x", 1), CZ__TLS_ERROR); /* after our close_notify */
    pair_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, write_before_handshake_waits)
{
    cz_tls_conf_t sc = server_conf();
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_ctx_t *s = server_ctx(&sc, NULL), *c = client_ctx(&cc);
    cz__tls_t *t = cz__tls_client_new(c, "a.test", NULL);
    cr_assert_eq(cz__tls_write(t, "early", 5), CZ__TLS_WANT_READ);
    cr_assert_gt(cz__tls_out_pending(t), 0); /* the ClientHello */
    cr_assert_eq(cz__tls_shutdown(t), CZ__TLS_ERROR);
    cz__tls_free(t);
    cr_assert_null(cz__tls_server_new(c)); /* a client context makes no server sessions */
    cr_assert_null(cz__tls_client_new(s, "a.test", NULL));
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

/* ---- one context, many threads (the server's workers), a reload in the middle ---- */

typedef struct worker {
    cz_tls_slot_t *slot;
    cz_tls_ctx_t *client;
    int ok, resumed, bad;
} worker_t;

static void *worker_run(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 15; i++) {
        cz_tls_ctx_t *s = cz_tls_slot_get(w->slot);
        pair_t p = {cz__tls_client_new(w->client, "a.test", "a.test:443"), cz__tls_server_new(s)};
        cz_tls_ctx_unref(s); /* the session holds its own reference */
        p.crc = p.src = CZ__TLS_WANT_READ;
        for (int k = 0; k < 20 && (p.crc == CZ__TLS_WANT_READ || p.src == CZ__TLS_WANT_READ); k++) {
            size_t n;
            const uint8_t *o;
            if (p.crc == CZ__TLS_WANT_READ)
                p.crc = cz__tls_handshake(p.c);
            o = cz__tls_out_peek(p.c, &n);
            cz__tls_feed(p.s, o, n);
            cz__tls_out_consume(p.c, n);
            if (p.src == CZ__TLS_WANT_READ)
                p.src = cz__tls_handshake(p.s);
            o = cz__tls_out_peek(p.s, &n);
            cz__tls_feed(p.c, o, n);
            cz__tls_out_consume(p.s, n);
        }
        char buf[8];
        size_t got;
        if (p.crc == CZ__TLS_OK && cz__tls_read(p.c, buf, sizeof buf, &got) == CZ__TLS_WANT_READ &&
            p.src == CZ__TLS_OK) {
            w->ok++;
            w->resumed += cz__tls_resumed(p.s);
        } else {
            w->bad++;
        }
        cz__tls_free(p.c);
        cz__tls_free(p.s);
    }
    return NULL;
}

Test(tls, shared_across_threads_with_a_reload)
{
    cz_tls_conf_t sc = server_conf();
    cz_tls_client_conf_t cc = client_conf();
    cz_tls_slot_t *slot = cz_tls_slot_new(server_ctx(&sc, NULL));
    cz_tls_ctx_t *c = client_ctx(&cc);
    worker_t w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){slot, c, 0, 0, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    char err[512];
    sc.cert_file = P("a2.pem");
    sc.key_file = P("a2.key");
    cr_assert_eq(cz_tls_slot_reload(slot, &sc, err, sizeof err), 0, "%s", err);
    int ok = 0, resumed = 0, bad = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        resumed += w[i].resumed;
        bad += w[i].bad;
    }
    cr_assert_eq(ok, 60);
    cr_assert_eq(bad, 0);
    cr_assert_gt(resumed, 30, "%d of 60 resumed", resumed);
    cz_tls_slot_free(slot);
    cz_tls_ctx_unref(c);
}
