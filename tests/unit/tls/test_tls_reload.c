/* SPDX-License-Identifier: MIT
 *
 * Tests for src/tls/'s contexts over time, with in-memory session pairs (tests/support/
 * tls_pair.c): a certificate reload while a connection stays open, the file-change check,
 * certificate and key files that cannot be used, the version floor, ticket keys rotating on an
 * injected clock, and one context shared by several threads while a reload swaps it.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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
    cz_tls_conf_t sc = cz_tp_server_conf();
    sc.cert_file = P("live.pem");
    sc.key_file = P("live.key");
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *c = cz_tp_client_ctx(&cc);
    cz_tls_slot_t *slot = cz_tls_slot_new(cz_tp_server_ctx(&sc, NULL));
    cr_assert_not_null(slot);

    cz_tls_ctx_t *first = cz_tls_slot_get(slot);
    cz_tp_t old = cz_tp_connect(c, first, "a.test", "a.test:443");
    cz_tp_ok(&old);
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
    cz_tp_say(old.c, old.s, "still there?");
    cz_tp_say(old.s, old.c, "yes");

    /* new connections get the new certificate, and resume with a ticket from before */
    cz_tls_ctx_t *next = cz_tls_slot_get(slot);
    cr_assert_neq(next, first);
    cr_assert_not(cz_tls_ctx_files_changed(next));
    cz_tp_t p = cz_tp_connect(c, next, "a.test", "a.test:443");
    cz_tp_ok(&p);
    cr_assert(cz__tls_resumed(p.s));
    cz_tp_free(&p);
    cz_tls_stats_t st;
    cz_tls_ctx_stats(next, &st); /* the counters go on across the reload */
    cr_assert_eq(st.handshakes, 2);
    cr_assert_eq(st.resumed, 1);
    p = cz_tp_connect(c, next, "a.test", NULL);
    cz_tp_ok(&p);
    cr_assert_not(cz__tls_resumed(p.s));
    cr_assert_str_eq(cz__tls_peer_subject(p.c), "O=czero reloaded,CN=a.test");
    cz_tp_free(&p);
    cz_tls_ctx_unref(next);

    /* a reload that fails leaves the slot as it was */
    copy_file(P("b.key"), P("live.key"));
    cr_assert_eq(cz_tls_slot_reload(slot, &sc, err, sizeof err), CZ_EINVAL_CONF);
    cr_assert(strstr(err, "does not match"), "%s", err);
    cr_assert_eq(cz_tls_slot_get(slot), next);
    cz_tls_ctx_unref(next);

    cz_tp_free(&old); /* frees the first context (ASan's leak check would see it otherwise) */
    cz_tls_slot_free(slot);
    cz_tls_ctx_unref(c);
}

static void bad_ctx(const char *cert, const char *key, const char *want1, const char *want2)
{
    cz_tls_conf_t sc = cz_tp_server_conf();
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
    cz_tls_client_conf_t cc = cz_tp_client_conf();
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
    cz_tls_conf_t sc = cz_tp_server_conf(); /* MinVersion 1.2 */
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, NULL), *c = cz_tp_client_ctx(&cc);
    cz_tp_t p = {cz__tls_client_new(c, "a.test", NULL), cz__tls_server_new(s)};
    SSL *ssl = cz__tls_ssl(p.c);
    /* OpenSSL 3 will not even offer TLS 1.1 above security level 0 */
    cr_assert(SSL_set_min_proto_version(ssl, TLS1_VERSION));
    cr_assert(SSL_set_max_proto_version(ssl, TLS1_1_VERSION));
    cr_assert(SSL_set_cipher_list(ssl, "DEFAULT:@SECLEVEL=0"));
    cz_tp_run(&p);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.s), "unsupported protocol"), "%s", cz__tls_error(p.s));
    cr_assert_eq(p.crc, CZ__TLS_ERROR);
    cz_tp_free(&p);

    /* MinVersion 1.3 refuses a 1.2 client the same way */
    cz_tls_ctx_unref(s);
    sc.min_version = CZ_TLS_VERSION_1_3;
    s = cz_tp_server_ctx(&sc, NULL);
    p = (cz_tp_t){cz__tls_client_new(c, "a.test", NULL), cz__tls_server_new(s)};
    SSL_set_max_proto_version(cz__tls_ssl(p.c), TLS1_2_VERSION);
    cz_tp_run(&p);
    cr_assert_eq(p.src, CZ__TLS_ERROR);
    cr_assert(strstr(cz__tls_error(p.s), "unsupported protocol"), "%s", cz__tls_error(p.s));
    cz_tp_free(&p);
    cz_tls_ctx_unref(s);
    cz_tls_ctx_unref(c);
}

Test(tls, ticket_keys_rotate_on_the_clock)
{
    cz_clock_manual_t clk;
    cz_clock_manual_init(&clk, 1000 * CZ_NS_PER_SEC);
    cz_tls_conf_t sc = cz_tp_server_conf();
    sc.ticket_key_rotation_ms = 3600 * 1000;
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_ctx_t *s = cz_tp_server_ctx(&sc, &clk.clock), *c = cz_tp_client_ctx(&cc);
    cz_tp_t p = cz_tp_connect(c, s, "a.test", "k");
    cz_tp_ok(&p);
    SSL_SESSION *first = cz__tls_cache_get(c, "k"); /* a ticket under key 1 */
    cr_assert_not_null(first);
    cz_tp_free(&p);

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
        p = (cz_tp_t){cz__tls_client_new(c, "a.test", NULL), cz__tls_server_new(s)};
        /* a copy each time: OpenSSL's client spends a TLS 1.3 ticket it resumed with */
        SSL_SESSION *copy = SSL_SESSION_dup(first);
        SSL_set_session(cz__tls_ssl(p.c), copy);
        SSL_SESSION_free(copy);
        cz_tp_run(&p);
        cz_tp_ok(&p);
        cr_assert_eq(cz__tls_resumed(p.s), steps[i].resumed, "step %zu", i);
        cz_tls_stats_t st;
        cz_tls_ctx_stats(s, &st);
        cr_assert_eq(st.ticket_rotations, steps[i].rotations, "step %zu", i);
        cz_tp_free(&p);
    }
    /* a ticket issued now resumes */
    p = cz_tp_connect(c, s, "a.test", "k");
    cz_tp_free(&p);
    p = cz_tp_connect(c, s, "a.test", "k");
    cr_assert(cz__tls_resumed(p.s));
    cz_tp_free(&p);
    /* idle for two periods: every key retired at once */
    cz_clock_manual_advance(&clk, 7200 * CZ_NS_PER_SEC);
    p = cz_tp_connect(c, s, "a.test", "k");
    cz_tp_ok(&p);
    cr_assert_not(cz__tls_resumed(p.s));
    cz_tp_free(&p);
    SSL_SESSION_free(first);
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
        cz_tp_t p = {cz__tls_client_new(w->client, "a.test", "a.test:443"), cz__tls_server_new(s)};
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
    cz_tls_conf_t sc = cz_tp_server_conf();
    cz_tls_client_conf_t cc = cz_tp_client_conf();
    cz_tls_slot_t *slot = cz_tls_slot_new(cz_tp_server_ctx(&sc, NULL));
    cz_tls_ctx_t *c = cz_tp_client_ctx(&cc);
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
