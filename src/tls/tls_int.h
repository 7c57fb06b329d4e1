/* SPDX-License-Identifier: MIT
 *
 * tls_int.h: the TLS session engine a transport drives, and what tls_ctx.c and tls_session.c
 * share. Not installed.
 *
 * A session (cz__tls_t) is one connection's TLS state over two byte buffers of its own: the
 * transport puts received ciphertext in (cz__tls_feed, or zero-copy: cz__tls_in_space then
 * cz__tls_in_commit straight from the socket read), calls cz__tls_handshake / cz__tls_read /
 * cz__tls_write, and sends what cz__tls_out_peek shows (then cz__tls_out_consume), or takes the
 * whole output buffer for an asynchronous write (cz__tls_out_take, given back with
 * cz__tls_out_give). Nothing blocks; nothing calls the transport: every outcome is a return
 * value. After any call, output may be pending: send it. Results:
 *
 *   CZ__TLS_OK         done (handshake complete, bytes read, all bytes written)
 *   CZ__TLS_WANT_READ  needs more ciphertext: send pending output, read the socket, feed, retry
 *   CZ__TLS_CLOSED     the peer sent close_notify (read); nothing more will come
 *   CZ__TLS_PLAINTEXT  (server) the first bytes are a plain HTTP request line, not a TLS record:
 *                      answer "400" in plain text and close (nginx's "plain HTTP request was
 *                      sent to HTTPS port"); cz__tls_in_peek shows those bytes
 *   CZ__TLS_ERROR      fatal: cz__tls_error says why (log it); send pending output (an alert),
 *                      then close
 *
 * A session is used by one thread at a time (a connection lives on one loop); contexts are
 * shared by all threads. The session holds a reference to its context.
 *
 * The output buffer takes everything written (so a write never stops half-way): a transport
 * writing a large body hands it over in pieces as the socket drains, as it would without TLS.
 * A transport that keeps many idle connections calls cz__tls_trim when one goes idle.
 */
#ifndef CZERO_TLS_INT_H
#define CZERO_TLS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "czero/config.h"
#include "czero/tls.h"

enum {
    CZ__TLS_OK = 0,
    CZ__TLS_WANT_READ = 1,
    CZ__TLS_CLOSED = 2,
    CZ__TLS_ERROR = -1,
    CZ__TLS_PLAINTEXT = -2,
};

typedef struct cz__tls cz__tls_t;
struct ssl_st;

/* A byte buffer handed between the session and the transport (cz__tls_out_take). */
typedef struct cz__tls_buf {
    uint8_t *data;
    size_t len, cap;
} cz__tls_buf_t;

/** A server session on a server context. NULL when out of memory or ctx is a client's. */
cz__tls_t *cz__tls_server_new(cz_tls_ctx_t *ctx);
/** A client session. host: the node's name (SNI and certificate host check; an IP literal is
 *  checked against the certificate's IP SANs and sends no SNI); peer: the session-cache key,
 *  e.g. "host:port" (NULL = no resumption). */
cz__tls_t *cz__tls_client_new(cz_tls_ctx_t *ctx, const char *host, const char *peer);
void cz__tls_free(cz__tls_t *t);

/* ---- ciphertext in ---- */
/** Copy n received bytes in. 0, or CZ_ENOMEM. */
int cz__tls_feed(cz__tls_t *t, const void *data, size_t n);
/** At least want writable bytes at the end of the input buffer (a socket read target).
 *  *avail says how many; NULL when out of memory. Valid until the next call on t. */
uint8_t *cz__tls_in_space(cz__tls_t *t, size_t want, size_t *avail);
/** n bytes of the space were filled. */
void cz__tls_in_commit(cz__tls_t *t, size_t n);
/** Whether a read may give bytes without more input: ciphertext not consumed yet, or plaintext
 *  OpenSSL decrypted and holds (a transport that paused reading resumes with a read). */
bool cz__tls_has_input(const cz__tls_t *t);
/** Received ciphertext not consumed yet (after CZ__TLS_PLAINTEXT: the plain request's bytes). */
const uint8_t *cz__tls_in_peek(const cz__tls_t *t, size_t *n);

/* ---- the engine ---- */
/** Drive the handshake. CZ__TLS_OK once complete (again and again after). */
int cz__tls_handshake(cz__tls_t *t);
/** Decrypt up to cap bytes into buf (handshaking first if needed). CZ__TLS_OK with *got > 0,
 *  CZ__TLS_WANT_READ, CZ__TLS_CLOSED, CZ__TLS_PLAINTEXT or CZ__TLS_ERROR. */
int cz__tls_read(cz__tls_t *t, void *buf, size_t cap, size_t *got);
/** Encrypt n bytes into the output. CZ__TLS_OK (all of them), CZ__TLS_WANT_READ (handshake not
 *  done: nothing written) or CZ__TLS_ERROR. */
int cz__tls_write(cz__tls_t *t, const void *data, size_t n);
/** The same for iovecs; small pieces are gathered into full records (one seal per ~16 KiB
 *  instead of one per piece). */
int cz__tls_writev(cz__tls_t *t, const struct iovec *iov, size_t n);
/** Queue close_notify (once). CZ__TLS_OK, or CZ__TLS_ERROR. */
int cz__tls_shutdown(cz__tls_t *t);

/* ---- ciphertext out ---- */
/** Pending output bytes (0 = nothing to send). */
size_t cz__tls_out_pending(const cz__tls_t *t);
/** A view of the pending output; valid until the next call on t. */
const uint8_t *cz__tls_out_peek(const cz__tls_t *t, size_t *n);
/** n bytes of the pending output were sent. */
void cz__tls_out_consume(cz__tls_t *t, size_t n);
/** Copy up to cap pending bytes out and consume them. Returns how many. */
size_t cz__tls_out_read(cz__tls_t *t, void *buf, size_t cap);
/** Move the whole pending output to *b (for an asynchronous write; the session continues in a
 *  fresh buffer). *b is empty when nothing is pending. Give b back when the write is done. */
void cz__tls_out_take(cz__tls_t *t, cz__tls_buf_t *b);
/** Hand a taken buffer back for reuse (or free it). b is emptied. */
void cz__tls_out_give(cz__tls_t *t, cz__tls_buf_t *b);
/** Free the empty buffers (a connection going idle keeps no buffer memory, as OpenSSL's
 *  SSL_MODE_RELEASE_BUFFERS does for its own record buffers, which czero sets). */
void cz__tls_trim(cz__tls_t *t);

/* ---- state ---- */
bool cz__tls_is_server(const cz__tls_t *t);
bool cz__tls_handshake_done(const cz__tls_t *t);
/** close_notify received. */
bool cz__tls_closed(const cz__tls_t *t);
/** Why the session failed ("certificate verify failed: certificate has expired"), or NULL. */
const char *cz__tls_error(const cz__tls_t *t);
/** Negotiated ALPN protocol (not NUL-terminated), or NULL with *n = 0 when none. */
const char *cz__tls_alpn(const cz__tls_t *t, size_t *n);
/** SNI name the client sent (server) or sends (client), or NULL. */
const char *cz__tls_sni(const cz__tls_t *t);
bool cz__tls_resumed(const cz__tls_t *t);
/** "TLSv1.3", "TLSv1.2". */
const char *cz__tls_version(const cz__tls_t *t);
/** OpenSSL's cipher name ("TLS_AES_128_GCM_SHA256"), or NULL before the handshake. */
const char *cz__tls_cipher(const cz__tls_t *t);
/** The peer certificate's subject as RFC 2253 ("O=czero,CN=client" for /CN=client/O=czero),
 *  or NULL when the peer sent none. Cached in the session. */
const char *cz__tls_peer_subject(cz__tls_t *t);
/** The context the session was created on. */
cz_tls_ctx_t *cz__tls_ctx(const cz__tls_t *t);
/** The OpenSSL object, for what this API does not cover (tests set a maximum version). */
struct ssl_st *cz__tls_ssl(const cz__tls_t *t);

/* ---- between tls_ctx.c and tls_session.c ---- */
struct ssl_ctx_st;
struct ssl_session_st;
bool cz__tls_ctx_is_server(const cz_tls_ctx_t *ctx);
struct ssl_ctx_st *cz__tls_ctx_ssl_ctx(const cz_tls_ctx_t *ctx);
/** Count a session outcome on its context. */
enum { CZ__TLS_STAT_OK, CZ__TLS_STAT_RESUMED, CZ__TLS_STAT_FAILED, CZ__TLS_STAT_PLAINTEXT };
void cz__tls_ctx_count(cz_tls_ctx_t *ctx, int what);
/** Client session cache: a copy of peer's last session (the caller's), or NULL; store one (the
 *  cache takes the reference); forget peer's (a failed handshake). */
struct ssl_session_st *cz__tls_cache_get(cz_tls_ctx_t *ctx, const char *peer);
void cz__tls_cache_put(cz_tls_ctx_t *ctx, const char *peer, struct ssl_session_st *s);
void cz__tls_cache_forget(cz_tls_ctx_t *ctx, const char *peer);
/** The session-cache key a client session was created with, or NULL. (A session is its SSL's
 *  app data: SSL_get_app_data.) */
const char *cz__tls_peer(const cz__tls_t *t);
/** Append OpenSSL's queued errors (reason strings joined by "; ") to buf; clears the queue. */
void cz__tls_errors(char *buf, size_t size);

/* ---- config checks (tls_conf.c), referenced by cz_rest_conf_fields ---- */
int cz__tls_conf_check_keyfile(void *member, const cz_conf_at_t *at, cz_diag_t *d);
int cz__tls_conf_check(void *member, const cz_conf_at_t *at, cz_diag_t *d);

#endif
