/* SPDX-License-Identifier: MIT
 *
 * Tests for src/tls/'s sessions: a client session and a server session pumped into each other
 * in memory (tests/support/tls_pair.c; no sockets: the engine is the unit), over the PKI that
 * tests/support/tls_certs.sh makes once per run. What a user would see: the handshake and
 * data, ALPN, the certificate SNI picks (as the client sees its subject), resumption from an
 * earlier connection's ticket, verification failures with their reason, client certificates,
 * plain HTTP on the TLS port, vectored writes and the zero-copy buffers, close_notify.
 * Contexts over time (reload, tickets rotating, bad files, versions, threads):
 * test_tls_reload.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <openssl/ssl.h>
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

Test(tls, handshake_alpn_and_data)
{
    cz_tls_conf_t sc = cz_tp_server_conf();
    sc.alpn = (cz_conf_strings_t){cz_tp_alpn_h2_h1, 2};
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cc.alpn = (cz_conf_strings_t){cz_tp_alpn_h2_h1 + 1, 1};
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
    cz_tp_t p = cz_tp_connect(c, s, "a.test", NULL);
    cz_tp_ok(&p);
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
    cz_tp_say(p.c, p.s, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    cz_tp_say(p.s, p.c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    cz_tp_free(&p);

    /* a client offering both gets the server's first choice */
    cz_tls_ctx_unref(c);
    cc.alpn = (cz_conf_strings_t){cz_tp_alpn_h2_h1, 2};
    c = cz_tp_client_ctx(&cc);
    p = cz_tp_connect(c, s, "a.test", NULL);
    cz_tp_ok(&p);
    proto = cz__tls_alpn(p.c, &n);
    cr_assert_eq(n, 2);
    cr_assert_arr_eq(proto, "h2", 2);
    cz_tp_free(&p);

    cz_tls_stats_t st;
    cz_tls_ctx_stats(s, &st);
    cr_assert_eq(st.handshakes, 2);
    cr_assert_eq(st.failed, 0);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, alpn_without_common_protocol_fails)
{
    cz_tls_conf_t sc = cz_tp_server_conf(); /* http/1.1 only */
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cc.alpn = (cz_conf_strings_t){cz_tp_alpn_h2_h1, 1}; /* h2 only */
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
    cz_tp_t p = cz_tp_connect(c, s, "a.test", NULL);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert_eq(p.crc, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.c), "no application protocol"), "%s", cz__tls_error(p.c));
    cz_tp_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, sni_picks_the_matching_certificate)
{
    cz_tls_cert_conf_t more[] = {{P("b.pem"), P("b.key")}};
    cz_tls_conf_t sc = cz_tp_server_conf();
    sc.certificates = (cz_conf_array_t){more, 1};
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
    const struct {
        const char *host, *subject;
    } cases[] = {
        {"a.test", "O=czero,CN=a.test"},
        {"b.test", "O=czero,CN=b.test"},
        {"api.b.test", "O=czero,CN=b.test"}, /* *.b.test */
        {"localhost", "O=czero,CN=a.test"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cz_tp_t p = cz_tp_connect(c, s, cases[i].host, NULL);
        cz_tp_ok(&p);
        cr_assert_str_eq(cz__tls_peer_subject(p.c), cases[i].subject, "%s", cases[i].host);
        cr_assert_str_eq(cz__tls_sni(p.s), cases[i].host);
        cz_tp_say(p.c, p.s, "ping");
        cz_tp_free(&p);
    }
    /* a name no certificate has: the default one, which the client then refuses */
    cz_tp_t p = cz_tp_connect(c, s, "c.test", NULL);
    cr_assert_eq(p.crc, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.c), "hostname mismatch"), "%s", cz__tls_error(p.c));
    cz_tp_free(&p);
    /* an IP address: no SNI is sent, the certificate's IP SAN is checked */
    p = cz_tp_connect(c, s, "127.0.0.1", NULL);
    cz_tp_ok(&p);
    cr_assert_null(cz__tls_sni(p.s));
    cz_tp_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

static void resumption(int max_version)
{
    cz_tls_conf_t sc = cz_tp_server_conf();
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
    for (int i = 0; i < 3; i++) {
        cz_tp_t p = {cz__tls_client_new(c, "a.test", "a.test:443"), cz__tls_server_new(s)};
        if (max_version)
            SSL_set_max_proto_version(cz__tls_ssl(p.c), max_version);
        cz_tp_run(&p);
        cz_tp_ok(&p);
        cr_assert_eq(cz__tls_resumed(p.c), i > 0, "connection %d", i);
        cr_assert_eq(cz__tls_resumed(p.s), i > 0, "connection %d", i);
        cz_tp_say(p.c, p.s, "ping");
        cz_tp_free(&p);
    }
    /* another peer key has no session to offer */
    cz_tp_t p = cz_tp_connect(c, s, "a.test", "a.test:8443");
    cz_tp_ok(&p);
    cr_assert_not(cz__tls_resumed(p.c));
    cz_tp_free(&p);
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
    cz_tls_conf_t sc = cz_tp_server_conf();
    sc.session_tickets = false;
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
    for (int i = 0; i < 2; i++) {
        cz_tp_t p = cz_tp_connect(c, s, "a.test", "a.test:443");
        cz_tp_ok(&p);
        cr_assert_not(cz__tls_resumed(p.c));
        cz_tp_free(&p);
    }
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

static void refused(const char *cert, const char *key, const char *host, const char *reason)
{
    cz_tls_conf_t sc = cz_tp_server_conf();
    sc.cert_file = P(cert);
    sc.key_file = P(key);
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
    cz_tp_t p = cz_tp_connect(c, s, host, "x:443");
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
    cz_tp_free(&p);

    /* InsecureSkipVerify accepts it */
    cz_tls_ctx_unref(c);
    cc.insecure_skip_verify = true;
    c = cz_tp_client_ctx(&cc);
    p = cz_tp_connect(c, s, host, NULL);
    cz_tp_ok(&p);
    cz_tp_free(&p);
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
    cz_tls_conf_t sc = cz_tp_server_conf();
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cc.ca_file = NULL; /* SSL_CTX_set_default_verify_paths */
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
    cz_tp_t p = cz_tp_connect(c, s, "a.test", NULL);
    cr_assert_eq(p.crc, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.c), "unable to get local issuer certificate"), "%s",
              cz__tls_error(p.c));
    cz_tp_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, client_certificates)
{
    cz_tls_conf_t sc = cz_tp_server_conf();
    sc.ca_file = P("ca.pem");
    sc.client_auth = CZ_TLS_CLIENT_AUTH_REQUIRED;
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);

    /* required, none sent: the server fails the handshake */
    cz_tp_t p = cz_tp_connect(c, s, "a.test", NULL);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.s), "peer did not return a certificate"), "%s",
              cz__tls_error(p.s));
    cr_assert_eq(p.crc, CZ__TLS_ERROR); /* TLS 1.3: the client learns it from the alert */
    cz_tp_free(&p);

    /* with one: accepted, and the server sees who */
    cz_tls_ctx_unref(c);
    cc.cert_file = P("client.pem");
    cc.key_file = P("client.key");
    c = cz_tp_client_ctx(&cc);
    p = cz_tp_connect(c, s, "a.test", NULL);
    cz_tp_ok(&p);
    cr_assert_str_eq(cz__tls_peer_subject(p.s), "O=czero,CN=client");
    cz_tp_say(p.c, p.s, "hello");
    cz_tp_free(&p);
    cz_tls_ctx_unref(s);

    /* a certificate the CA did not sign is refused */
    cz_tls_ctx_unref(c);
    cc.cert_file = P("wrong.pem"); /* signed by ca, but for serverAuth */
    cc.key_file = P("wrong.key");
    c = cz_tp_client_ctx(&cc);
    sc.ca_file = P("other-ca.pem");
    s = cz_tp_server_ctx(&sc, NULL);
    p = cz_tp_connect(c, s, "a.test", NULL);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.s), "certificate verify failed"), "%s", cz__tls_error(p.s));
    cz_tp_free(&p);
    cz_tls_ctx_unref(s);

    /* optional: without a certificate is fine */
    cz_tls_ctx_unref(c);
    cc.cert_file = cc.key_file = NULL;
    c = cz_tp_client_ctx(&cc);
    sc.ca_file = P("ca.pem");
    sc.client_auth = CZ_TLS_CLIENT_AUTH_OPTIONAL;
    s = cz_tp_server_ctx(&sc, NULL);
    p = cz_tp_connect(c, s, "a.test", NULL);
    cz_tp_ok(&p);
    cr_assert_null(cz__tls_peer_subject(p.s));
    cz_tp_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, plain_http_is_recognised)
{
    cz_tls_conf_t sc = cz_tp_server_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL);
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

Test(tls, writev_out_take_and_close_notify)
{
    cz_tls_conf_t sc = cz_tp_server_conf();
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
    cz_tp_t p = cz_tp_connect(c, s, "a.test", NULL);
    cz_tp_ok(&p);

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
    cz_tp_xfer(p.s, p.c);

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
    cz_tp_xfer(p.c, p.s);
    cr_assert_eq(cz__tls_read(p.s, buf, sizeof buf, &n), CZ__TLS_CLOSED);
    cr_assert(cz__tls_closed(p.s));
    cr_assert_null(cz__tls_error(p.s));
    cr_assert_eq(cz__tls_write(p.c, "x", 1), CZ__TLS_ERROR); /* after our close_notify */
    cz_tp_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, write_before_handshake_waits)
{
    cz_tls_conf_t sc = cz_tp_server_conf();
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
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
