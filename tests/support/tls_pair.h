/* SPDX-License-Identifier: MIT
 *
 * tls_pair.h: what the TLS tests share: the test PKI (tls_certs.sh, made once per test
 * program), contexts with the defaults the config loader would give, and a client session and
 * a server session pumped into each other in memory ("a pair"), so that the session engine is
 * tested without sockets. Failures are Criterion assertions.
 */
#ifndef CZ_TEST_TLS_PAIR_H
#define CZ_TEST_TLS_PAIR_H

#include <stddef.h>
#include "czero/tls.h"
#include "tls/tls_int.h"

/* Make the PKI in a new temporary directory (dir: at least 32 bytes) and point
 * $CZ_TLS_TEST_DIR at it, for the tests that run in child processes; for a ReportHook(PRE_ALL).
 * Aborts when openssl fails. cz_tp_certs_remove: for ReportHook(POST_ALL). */
void cz_tp_certs_make(char *dir, size_t size);
void cz_tp_certs_remove(const char *dir);
/** $CZ_TLS_TEST_DIR/name; one buffer per name (up to 32 names), valid for the whole test. */
char *cz_tp_path(const char *name);

extern char *cz_tp_alpn_h1[1];    /* {"http/1.1"} */
extern char *cz_tp_alpn_h2_h1[2]; /* {"h2", "http/1.1"} */
/** Certificate a, MinVersion 1.2, tickets on, ALPN http/1.1. */
cz_tls_conf_t cz_tp_server_conf(void);
/** CACertFile ca.pem, ALPN http/1.1. */
cz_tls_client_conf_t cz_tp_client_conf(void);
cz_tls_ctx_t *cz_tp_server_ctx(const cz_tls_conf_t *conf, const cz_clock_t *clock);
cz_tls_ctx_t *cz_tp_client_ctx(const cz_tls_client_conf_t *conf);

typedef struct cz_tp {
    cz__tls_t *c, *s;
    int crc, src; /* last handshake results of the client and the server */
} cz_tp_t;

/** Move what one side has to send into the other side's input. */
void cz_tp_xfer(cz__tls_t *from, cz__tls_t *to);
/** Both handshakes as far as they go, then reads on each side so that post-handshake messages
 *  (TLS 1.3 tickets, a late alert) are processed. */
void cz_tp_run(cz_tp_t *p);
/** New sessions on the two contexts, run. */
cz_tp_t cz_tp_connect(cz_tls_ctx_t *cctx, cz_tls_ctx_t *sctx, const char *host, const char *peer);
void cz_tp_free(cz_tp_t *p);
/** from writes msg, to reads exactly msg. */
void cz_tp_say(cz__tls_t *from, cz__tls_t *to, const char *msg);
/** Both handshakes succeeded (else the reasons). */
void cz_tp_ok(const cz_tp_t *p);

#endif
