/* SPDX-License-Identifier: MIT
 *
 * tls_session.c: one connection's TLS engine over two byte buffers (see tls_int.h for the
 * contract a transport relies on). It does no I/O, never blocks and never calls out.
 *
 * OpenSSL talks to a small BIO of czero's own instead of a pair of BIO_s_mem: its read takes
 * from the session's input buffer, its write appends to the output buffer, and both buffers
 * belong to the session, so the transport can read the socket straight into the input
 * (cz__tls_in_space) and send straight from the output (cz__tls_out_peek), or take the output
 * buffer whole for an asynchronous write while the session goes on in another one
 * (cz__tls_out_take) -- no copy on either side beyond OpenSSL's own record processing. The
 * output buffer always accepts, so SSL_write never stops half-way.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "internal.h"
#include "tls/tls_int.h"

#define STAGE 16384 /* TLS's largest record plaintext: what writev gathers into one seal */

struct cz__tls {
    SSL *ssl;
    cz_tls_ctx_t *ctx;
    cz__tls_buf_t in, out, spare; /* spare: a buffer given back after cz__tls_out_take */
    size_t in_off, out_off;       /* consumed prefix of in / sent prefix of out */
    char *peer;                   /* client: session-cache key */
    char *subject;                /* cached cz__tls_peer_subject */
    bool server, sniffed, plain, hs_done, closed, failed, shut;
    char err[256];
};

/* ---- buffers ---- */

static bool reserve(cz__tls_buf_t *b, size_t *off, size_t n)
{
    if (b->cap - b->len >= n)
        return true;
    if (*off) { /* slide the unread part down before growing */
        memmove(b->data, b->data + *off, b->len - *off);
        b->len -= *off;
        *off = 0;
        if (b->cap - b->len >= n)
            return true;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return false;
    b->data = d;
    b->cap = cap;
    return true;
}

/* ---- the BIO ---- */

static int bio_write(BIO *b, const char *data, size_t n, size_t *done)
{
    cz__tls_t *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!t->out.data && t->spare.data) {
        t->out = t->spare;
        t->spare = (cz__tls_buf_t){0};
    }
    if (!reserve(&t->out, &t->out_off, n))
        return 0;
    memcpy(t->out.data + t->out.len, data, n);
    t->out.len += n;
    *done = n;
    return 1;
}

static int bio_read(BIO *b, char *buf, size_t cap, size_t *done)
{
    cz__tls_t *t = BIO_get_data(b);
    size_t have = t->in.len - t->in_off;
    BIO_clear_retry_flags(b);
    if (!have) {
        BIO_set_retry_read(b);
        *done = 0;
        return 0;
    }
    size_t n = cz__min(have, cap);
    memcpy(buf, t->in.data + t->in_off, n);
    t->in_off += n;
    if (t->in_off == t->in.len)
        t->in_off = t->in.len = 0;
    *done = n;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    cz__tls_t *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return (long)(t->in.len - t->in_off);
    case BIO_CTRL_WPENDING: return (long)(t->out.len - t->out_off);
    default: return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "czero tls");
    if (m && BIO_meth_set_write_ex(m, bio_write) && BIO_meth_set_read_ex(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create))
        bio_method = m;
}

/* ---- life ---- */

static cz__tls_t *session_new(cz_tls_ctx_t *ctx, bool server)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, bio_method_init);
    if (!bio_method || cz__tls_ctx_is_server(ctx) != server)
        return NULL;
    cz__tls_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->server = server;
    BIO *bio = NULL;
    if (!(t->ssl = SSL_new(cz__tls_ctx_ssl_ctx(ctx))) || !(bio = BIO_new(bio_method))) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_app_data(t->ssl, t);
    t->ctx = cz_tls_ctx_ref(ctx);
    if (server)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    return t;
}

cz__tls_t *cz__tls_server_new(cz_tls_ctx_t *ctx) { return session_new(ctx, true); }

cz__tls_t *cz__tls_client_new(cz_tls_ctx_t *ctx, const char *host, const char *peer)
{
    cz__tls_t *t = session_new(ctx, false);
    if (!t)
        return NULL;
    bool ok = true;
    if (host && *host) {
        unsigned char addr[16];
        if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
            /* RFC 6066: no IP literal in SNI; the certificate must carry the IP */
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) == 1;
        } else {
            SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = SSL_set_tlsext_host_name(t->ssl, host) == 1 && SSL_set1_host(t->ssl, host) == 1;
        }
    }
    if (ok && peer) {
        ok = (t->peer = strdup(peer)) != NULL;
        SSL_SESSION *s = ok ? cz__tls_cache_get(ctx, peer) : NULL;
        if (s) {
            SSL_set_session(t->ssl, s);
            SSL_SESSION_free(s);
        }
    }
    if (!ok) {
        ERR_clear_error();
        cz__tls_free(t);
        return NULL;
    }
    return t;
}

void cz__tls_free(cz__tls_t *t)
{
    if (!t)
        return;
    /* A connection that ends without close_notify (most do: the peer just closes) would have
     * OpenSSL mark its session not resumable, and with it the cached session other
     * connections to the same peer resume from. Only a failed one deserves that. */
    if (t->hs_done && !t->failed)
        SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(t->ssl);
    cz_tls_ctx_unref(t->ctx);
    free(t->in.data);
    free(t->out.data);
    free(t->spare.data);
    free(t->peer);
    free(t->subject);
    free(t);
}

/* ---- ciphertext in ---- */

uint8_t *cz__tls_in_space(cz__tls_t *t, size_t want, size_t *avail)
{
    if (t->in_off == t->in.len)
        t->in_off = t->in.len = 0;
    if (!reserve(&t->in, &t->in_off, want ? want : 1))
        return NULL;
    *avail = t->in.cap - t->in.len;
    return t->in.data + t->in.len;
}

void cz__tls_in_commit(cz__tls_t *t, size_t n) { t->in.len += n; }

int cz__tls_feed(cz__tls_t *t, const void *data, size_t n)
{
    size_t avail;
    uint8_t *p = cz__tls_in_space(t, n, &avail);
    if (!p)
        return CZ_ENOMEM;
    memcpy(p, data, n);
    cz__tls_in_commit(t, n);
    return 0;
}

bool cz__tls_has_input(const cz__tls_t *t)
{
    return t->in.len > t->in_off || SSL_has_pending(t->ssl);
}

const uint8_t *cz__tls_in_peek(const cz__tls_t *t, size_t *n)
{
    *n = t->in.len - t->in_off;
    return t->in.data ? t->in.data + t->in_off : NULL;
}

/* ---- the engine ---- */

/* A TLS record starts with a content type byte (0x14..0x17; 0x80.. for SSLv2 hellos); an HTTP
 * request starts with a method: upper-case letters then a space. The first bytes tell. */
static bool looks_plain_http(const uint8_t *p, size_t n)
{
    n = cz__min(n, 16);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ')
            return i > 0;
        if (p[i] < 'A' || p[i] > 'Z')
            return false;
    }
    return n > 0;
}

static void failed(cz__tls_t *t)
{
    if (!t->err[0]) {
        cz__tls_errors(t->err, sizeof t->err);
        long v = SSL_get_verify_result(t->ssl);
        size_t n = strlen(t->err);
        if (v != X509_V_OK && n + 2 < sizeof t->err)
            snprintf(t->err + n, sizeof t->err - n, "%s%s", n ? ": " : "",
                     X509_verify_cert_error_string(v));
        if (!t->err[0])
            snprintf(t->err, sizeof t->err, "TLS failure without a reason from OpenSSL");
    }
    ERR_clear_error();
    if (!t->failed && !t->hs_done) {
        cz__tls_ctx_count(t->ctx, CZ__TLS_STAT_FAILED);
        if (t->peer)
            cz__tls_cache_forget(t->ctx, t->peer);
    }
    t->failed = true;
}

/* Map an SSL call's result that was not success. */
static int status(cz__tls_t *t, int r)
{
    switch (SSL_get_error(t->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: /* the output buffer never refuses; here for completeness */
        ERR_clear_error();
        return CZ__TLS_WANT_READ;
    case SSL_ERROR_ZERO_RETURN:
        t->closed = true;
        ERR_clear_error();
        return CZ__TLS_CLOSED;
    default:
        failed(t);
        return CZ__TLS_ERROR;
    }
}

int cz__tls_handshake(cz__tls_t *t)
{
    if (t->failed)
        return t->plain ? CZ__TLS_PLAINTEXT : CZ__TLS_ERROR;
    if (t->hs_done)
        return CZ__TLS_OK;
    if (t->server && !t->sniffed && t->in.len > t->in_off) {
        t->sniffed = true;
        if (looks_plain_http(t->in.data + t->in_off, t->in.len - t->in_off)) {
            t->failed = t->plain = true;
            snprintf(t->err, sizeof t->err, "plain HTTP request on a TLS port");
            cz__tls_ctx_count(t->ctx, CZ__TLS_STAT_PLAINTEXT);
            return CZ__TLS_PLAINTEXT;
        }
    }
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r != 1)
        return status(t, r);
    t->hs_done = true;
    cz__tls_ctx_count(t->ctx, CZ__TLS_STAT_OK);
    if (SSL_session_reused(t->ssl))
        cz__tls_ctx_count(t->ctx, CZ__TLS_STAT_RESUMED);
    return CZ__TLS_OK;
}

int cz__tls_read(cz__tls_t *t, void *buf, size_t cap, size_t *got)
{
    *got = 0;
    if (t->failed)
        return t->plain ? CZ__TLS_PLAINTEXT : CZ__TLS_ERROR;
    if (t->closed)
        return CZ__TLS_CLOSED;
    int rc = cz__tls_handshake(t);
    if (rc != CZ__TLS_OK)
        return rc;
    ERR_clear_error();
    size_t n = 0;
    int r = SSL_read_ex(t->ssl, buf, cap, &n);
    if (r == 1) {
        *got = n;
        return CZ__TLS_OK;
    }
    return status(t, r);
}

static int write_all(cz__tls_t *t, const void *data, size_t n)
{
    ERR_clear_error();
    size_t w = 0;
    int r = SSL_write_ex(t->ssl, data, n, &w);
    if (r == 1 && w == n)
        return CZ__TLS_OK;
    return r == 1 ? (failed(t), CZ__TLS_ERROR) : status(t, r);
}

static int can_write(cz__tls_t *t)
{
    if (t->failed || t->shut)
        return CZ__TLS_ERROR;
    return cz__tls_handshake(t);
}

int cz__tls_write(cz__tls_t *t, const void *data, size_t n)
{
    int rc = can_write(t);
    if (rc != CZ__TLS_OK || n == 0)
        return rc;
    return write_all(t, data, n);
}

int cz__tls_writev(cz__tls_t *t, const struct iovec *iov, size_t n)
{
    int rc = can_write(t);
    if (rc != CZ__TLS_OK)
        return rc;
    if (n == 1)
        return iov[0].iov_len ? write_all(t, iov[0].iov_base, iov[0].iov_len) : CZ__TLS_OK;
    uint8_t stage[STAGE];
    size_t staged = 0;
    for (size_t i = 0; i < n && rc == CZ__TLS_OK; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t len = iov[i].iov_len;
        while (len && rc == CZ__TLS_OK) {
            if (!staged && len >= STAGE) { /* a big piece goes as it is */
                rc = write_all(t, p, len);
                break;
            }
            size_t k = cz__min(STAGE - staged, len);
            memcpy(stage + staged, p, k);
            staged += k;
            p += k;
            len -= k;
            if (staged == STAGE) {
                rc = write_all(t, stage, staged);
                staged = 0;
            }
        }
    }
    if (rc == CZ__TLS_OK && staged)
        rc = write_all(t, stage, staged);
    return rc;
}

int cz__tls_shutdown(cz__tls_t *t)
{
    if (t->shut)
        return CZ__TLS_OK;
    if (t->failed || !t->hs_done)
        return CZ__TLS_ERROR; /* no close_notify outside an established session */
    t->shut = true;
    ERR_clear_error();
    int r = SSL_shutdown(t->ssl); /* 0: ours is queued, the peer's not seen yet: fine */
    if (r < 0 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ) {
        failed(t);
        return CZ__TLS_ERROR;
    }
    ERR_clear_error();
    return CZ__TLS_OK;
}

/* ---- ciphertext out ---- */

size_t cz__tls_out_pending(const cz__tls_t *t) { return t->out.len - t->out_off; }

const uint8_t *cz__tls_out_peek(const cz__tls_t *t, size_t *n)
{
    *n = t->out.len - t->out_off;
    return t->out.data ? t->out.data + t->out_off : NULL;
}

void cz__tls_out_consume(cz__tls_t *t, size_t n)
{
    t->out_off += cz__min(n, t->out.len - t->out_off);
    if (t->out_off == t->out.len)
        t->out_off = t->out.len = 0;
}

size_t cz__tls_out_read(cz__tls_t *t, void *buf, size_t cap)
{
    size_t n = cz__min(cap, t->out.len - t->out_off);
    if (n) {
        memcpy(buf, t->out.data + t->out_off, n);
        cz__tls_out_consume(t, n);
    }
    return n;
}

void cz__tls_out_take(cz__tls_t *t, cz__tls_buf_t *b)
{
    *b = (cz__tls_buf_t){0};
    if (t->out.len == t->out_off)
        return;
    if (t->out_off) {
        memmove(t->out.data, t->out.data + t->out_off, t->out.len - t->out_off);
        t->out.len -= t->out_off;
        t->out_off = 0;
    }
    *b = t->out;
    t->out = t->spare;
    t->out.len = 0;
    t->spare = (cz__tls_buf_t){0};
}

void cz__tls_out_give(cz__tls_t *t, cz__tls_buf_t *b)
{
    if (!t->spare.data && !t->out.data)
        t->out = (cz__tls_buf_t){b->data, 0, b->cap};
    else if (!t->spare.data)
        t->spare = (cz__tls_buf_t){b->data, 0, b->cap};
    else
        free(b->data);
    *b = (cz__tls_buf_t){0};
}

void cz__tls_trim(cz__tls_t *t)
{
    if (t->in.len == t->in_off) {
        free(t->in.data);
        t->in = (cz__tls_buf_t){0};
        t->in_off = 0;
    }
    if (t->out.len == t->out_off) {
        free(t->out.data);
        t->out = (cz__tls_buf_t){0};
        t->out_off = 0;
    }
    free(t->spare.data);
    t->spare = (cz__tls_buf_t){0};
}

/* ---- state ---- */

bool cz__tls_is_server(const cz__tls_t *t) { return t->server; }
bool cz__tls_handshake_done(const cz__tls_t *t) { return t->hs_done; }
bool cz__tls_closed(const cz__tls_t *t) { return t->closed; }
const char *cz__tls_error(const cz__tls_t *t) { return t->failed ? t->err : NULL; }
const char *cz__tls_peer(const cz__tls_t *t) { return t->peer; }
cz_tls_ctx_t *cz__tls_ctx(const cz__tls_t *t) { return t->ctx; }
SSL *cz__tls_ssl(const cz__tls_t *t) { return t->ssl; }

const char *cz__tls_alpn(const cz__tls_t *t, size_t *n)
{
    const unsigned char *p = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &len);
    *n = len;
    return len ? (const char *)p : NULL;
}

const char *cz__tls_sni(const cz__tls_t *t)
{
    return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

bool cz__tls_resumed(const cz__tls_t *t) { return t->hs_done && SSL_session_reused(t->ssl); }

const char *cz__tls_version(const cz__tls_t *t) { return SSL_get_version(t->ssl); }

const char *cz__tls_cipher(const cz__tls_t *t)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
    return c ? SSL_CIPHER_get_name(c) : NULL;
}

const char *cz__tls_peer_subject(cz__tls_t *t)
{
    if (t->subject)
        return t->subject;
    X509 *x = SSL_get0_peer_certificate(t->ssl);
    BIO *m = x ? BIO_new(BIO_s_mem()) : NULL;
    if (!m)
        return NULL;
    char *p;
    if (X509_NAME_print_ex(m, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        long n = BIO_get_mem_data(m, &p);
        if (n >= 0 && (t->subject = malloc((size_t)n + 1))) {
            memcpy(t->subject, p, (size_t)n);
            t->subject[n] = '\0';
        }
    }
    BIO_free(m);
    return t->subject;
}
