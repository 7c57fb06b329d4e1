/* SPDX-License-Identifier: MIT
 *
 * tls.h: TLS contexts (OpenSSL 3) for the server and for upstream clients, and their reload.
 *
 * A context is built from configuration (cz_tls_conf_t for a server: go-zero's CertFile/KeyFile
 * plus czero's Tls section; cz_tls_client_conf_t for upstreams, both in config.h) and shared by
 * every worker thread. It is reference counted: each TLS session holds a reference, so a context
 * replaced by a reload lives on until the last connection that uses it closes. Certificate
 * reload is "build a new context from the same configuration, swap it into the slot"; a service
 * calls cz_tls_ctx_files_changed() from a timer to know when to.
 *
 * The per-connection engine (memory buffers in, ciphertext out, never blocks, never calls back)
 * is private to czero's transports: src/tls/tls_int.h. This header does not include OpenSSL.
 */
#ifndef CZERO_TLS_H
#define CZERO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "clock.h"
#include "config.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_tls_ctx cz_tls_ctx_t;

/* Mozilla's "intermediate" profile (server-side TLS guidelines v5.7). */
#define CZ_TLS_DEFAULT_CIPHERS                                                            \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                          \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                          \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                          \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define CZ_TLS_DEFAULT_CIPHER_SUITES                                                      \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define CZ_TLS_DEFAULT_CURVES "X25519:prime256v1:secp384r1"

/** Whether conf asks for TLS at all (a CertFile or a Certificates entry). */
CZ_EXTERN bool cz_tls_conf_enabled(const cz_tls_conf_t *conf);

/** A server context from conf. The default certificate is CertFile/KeyFile, else the first of
 *  Certificates; a client's SNI name picks the first certificate whose names (SAN, else CN,
 *  wildcards as RFC 6125) match it, else the default. clock (NULL = the system's monotonic one)
 *  drives ticket-key rotation. 0 and *out holding one reference, or CZ_EINVAL_CONF with err
 *  naming the file and OpenSSL's reason ("CertFile /etc/x.pem: No such file or directory",
 *  "KeyFile k.pem does not match CertFile c.pem: key values mismatch"). Thread-safe. */
CZ_EXTERN int cz_tls_server_ctx_new(const cz_tls_conf_t *conf, const cz_clock_t *clock,
                                    cz_tls_ctx_t **out, char *err, size_t errsize);
/** Same, but the new context keeps prev's session-ticket keys (so tickets issued before a
 *  certificate reload still resume). prev may be NULL. */
CZ_EXTERN int cz_tls_server_ctx_renew(const cz_tls_ctx_t *prev, const cz_tls_conf_t *conf,
                                      cz_tls_ctx_t **out, char *err, size_t errsize);
/** A client (upstream) context: verification on against CAFile or the system's CAs unless
 *  InsecureSkipVerify; CertFile/KeyFile as client certificate; a cache of the last session per
 *  peer ("host:port") for resumption. Same contract as cz_tls_server_ctx_new. */
CZ_EXTERN int cz_tls_client_ctx_new(const cz_tls_client_conf_t *conf, cz_tls_ctx_t **out,
                                    char *err, size_t errsize);

CZ_EXTERN cz_tls_ctx_t *cz_tls_ctx_ref(cz_tls_ctx_t *ctx);
/** Drop one reference; the last one frees the context. NULL is fine. Any thread. */
CZ_EXTERN void cz_tls_ctx_unref(cz_tls_ctx_t *ctx);

/** Whether any file the context was built from (certificates, keys, CA) differs now from when
 *  it was loaded: inode, size or mtime, or it cannot be stat'ed any more. A few stat() calls;
 *  meant for a timer (nginx/Caddy-style "reload when the files change"). */
CZ_EXTERN bool cz_tls_ctx_files_changed(const cz_tls_ctx_t *ctx);

/** Counters of a context, for metrics. A context renewed from another (a reload) continues
 *  its counters. Atomic reads; any thread. */
typedef struct cz_tls_stats {
    uint64_t handshakes;        /* completed */
    uint64_t resumed;           /* of those, resumed from a ticket or cached session */
    uint64_t failed;            /* handshakes that ended in an error (bad peer, verify, ...) */
    uint64_t plaintext;         /* plain HTTP that arrived on a TLS port */
    uint64_t ticket_rotations;  /* ticket keys replaced since the keys were created */
} cz_tls_stats_t;
CZ_EXTERN void cz_tls_ctx_stats(const cz_tls_ctx_t *ctx, cz_tls_stats_t *out);

/* ---- the slot: the current context of a listener, swapped atomically on reload ---- */
typedef struct cz_tls_slot cz_tls_slot_t;

/** A slot holding ctx (the slot takes over the caller's reference). NULL when out of memory. */
CZ_EXTERN cz_tls_slot_t *cz_tls_slot_new(cz_tls_ctx_t *ctx);
/** The current context with a reference for the caller (a new connection). Any thread. */
CZ_EXTERN cz_tls_ctx_t *cz_tls_slot_get(cz_tls_slot_t *slot);
/** Put ctx in the slot (taking over the caller's reference) and drop the slot's reference to
 *  the old one, which lives on while sessions use it. Any thread. */
CZ_EXTERN void cz_tls_slot_swap(cz_tls_slot_t *slot, cz_tls_ctx_t *ctx);
/** Rebuild the server context from conf (keeping the ticket keys) and swap it in. 0, or the
 *  error of cz_tls_server_ctx_renew with the slot unchanged. */
CZ_EXTERN int cz_tls_slot_reload(cz_tls_slot_t *slot, const cz_tls_conf_t *conf, char *err,
                                 size_t errsize);
CZ_EXTERN void cz_tls_slot_free(cz_tls_slot_t *slot);

#ifdef __cplusplus
}
#endif
#endif
