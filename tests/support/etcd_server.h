/* SPDX-License-Identifier: MIT
 *
 * etcd_server.h: a real single-member etcd child for integration tests.
 *
 * Starts `etcd` on two free loopback ports (client, peer) with its data in a fresh temp dir,
 * waits until /health answers, and can stop, kill -9 and restart it on the same ports (keeping
 * or wiping the data, i.e. a restarted member or a brand-new cluster). A few blocking JSON
 * gateway helpers let tests read and write keys behind the code under test's back. Tests call
 * cz_test_etcd_available() first and cr_skip_test() without it.
 */
#ifndef CZ_TEST_ETCD_SERVER_H
#define CZ_TEST_ETCD_SERVER_H

#include <stddef.h>
#include <sys/types.h>

typedef struct cz_test_etcd {
    pid_t pid; /* 0 when not running */
    int port, peer_port;
    char dir[128]; /* temp dir: data/ and etcd.log */
    char host[32]; /* "127.0.0.1:<port>", for cz_etcd_conf_t.hosts */
    /* TLS (cz_test_etcd_start_tls): a second client listener, https, beside the plain one the
     * helpers below use; its certificate is pki/peer.pem (localhost, 127.0.0.1) */
    int tls_port;
    char tls_host[48];  /* "https://localhost:<tls_port>" */
    char pki[128];      /* tls_certs.sh's directory */
    int client_auth;    /* --client-cert-auth: a client certificate of pki/ca.pem is required */
    char extra[64];     /* TLS mode: one more etcd flag for the next (re)start, e.g.
                           "--auth-token-ttl=1" */
} cz_test_etcd_t;

/** 1 when an etcd binary is on PATH. */
int cz_test_etcd_available(void);
/** Make the temp dir, pick free ports, start etcd and wait (up to 10 s) for /health.
 *  0, -ENOENT without etcd, -ETIMEDOUT or -errno. */
int cz_test_etcd_start(cz_test_etcd_t *e);
/** The same with an https client listener too (tls_port), certificates from pki (made by
 *  tests/support/tls_certs.sh), client certificates required when client_auth. */
int cz_test_etcd_start_tls(cz_test_etcd_t *e, const char *pki, int client_auth);
/** Start again on the same ports after a stop/kill; wipe != 0 deletes the data first (a new
 *  cluster: leases and keys are gone). Same returns. */
int cz_test_etcd_restart(cz_test_etcd_t *e, int wipe);
/** Turn etcd's auth on with user (granted the root role) / pass, over the plain listener.
 *  The helpers below then get 401s. 0 or -1. */
int cz_test_etcd_auth_enable(const cz_test_etcd_t *e, const char *user, const char *pass);
/** SIGTERM and reap (data kept). */
void cz_test_etcd_stop(cz_test_etcd_t *e);
/** SIGKILL and reap. */
void cz_test_etcd_kill(cz_test_etcd_t *e);
/** SIGSTOP / SIGCONT: a member that accepts connections but never answers (a partition). */
void cz_test_etcd_freeze(cz_test_etcd_t *e);
void cz_test_etcd_thaw(cz_test_etcd_t *e);
/** Stop if running and remove the temp dir. */
void cz_test_etcd_free(cz_test_etcd_t *e);

/** The values under "prefix" (a range on the prefix), sorted by key, NUL-terminated into
 *  out[i] (each cap bytes), at most max. Returns the count, or -1 when etcd did not answer. */
int cz_test_etcd_values(const cz_test_etcd_t *e, const char *prefix, char (*out)[64], int max);
/** Put key=value (no lease). 0 or -1. */
int cz_test_etcd_put(const cz_test_etcd_t *e, const char *key, const char *value);

#endif
