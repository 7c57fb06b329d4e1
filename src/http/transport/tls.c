/* SPDX-License-Identifier: MIT
 *
 * tls.c: the TLS transport (transport.h): the same libuv TCP stream as tcp.c, with a server
 * TLS session (src/tls/tls_int.h) between it and the codec.
 *
 * Reading: libuv reads ciphertext straight into the session's input buffer (cz__tls_in_space
 * as the stream's alloc), the handshake runs before the codec sees a byte, then records are
 * decrypted straight into the buffer the codec's alloc gives. Writing: plaintext is sealed into
 * the session's output buffer (cz__tls_writev gathers small pieces into full records) and the
 * ciphertext goes to the kernel from there: tried at once, the rest as one uv_write of the taken
 * buffer (cz__tls_out_take), one in flight at a time. A queued write's completion runs once
 * the ciphertext of its bytes has been handed to the kernel, in order; queued() counts the
 * ciphertext not yet handed over, so the codec's back-pressure works as over TCP.
 *
 * try_write: the session encrypts everything it is given, but the kernel may take only part of
 * the ciphertext. Then try_write reports one byte fewer than it took and keeps the rest of the
 * ciphertext queued; the codec's next call, write() with that last byte, skips it (it is sealed
 * already) and completes when everything is out. So a short try_write means what it means over
 * TCP: the caller waits for a completion before it may consider the bytes sent.
 *
 * What a TLS port does with what is not TLS, as nginx: a plain HTTP request gets a plain
 * "400 The plain HTTP request was sent to HTTPS port" and a close (after the client's FIN, or
 * at HeaderTimeout, so the answer is not lost to a reset); a failed handshake is counted on the
 * context (cz_tls_ctx_stats), logged at debug level with OpenSSL's reason, its alert sent, and
 * the connection closed. The handshake runs while the codec holds the connection on its
 * fresh-connection timer (HeaderTimeout), so a client that stalls mid-handshake is closed then.
 * What this is not: the contexts, certificates and reload (src/tls/, server_tls.c).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "http/http_int.h"
#include "czero/log.h"
#include "tls/tls_int.h"

#define READ_ROOM 16384 /* a full record's worth of room per socket read */

typedef struct pend {
    cz__twrite_t *wr;
    uint64_t mark; /* done once this much ciphertext has been handed to the kernel */
} pend_t;

typedef struct tls_tr {
    cz__transport_t *t;
    cz__tls_t *s;
    uv_write_t wreq;     /* the one ciphertext write in flight */
    cz__tls_buf_t wbuf;  /* its buffer (taken from the session) */
    size_t inflight;     /* bytes of wbuf being written */
    uint64_t sent;       /* ciphertext handed to the kernel, all told */
    pend_t *q;           /* queued writes, oldest first */
    size_t qhead, qn, qcap;
    size_t owed;         /* plaintext a short try_write sealed already (see the header) */
    uint64_t rx;         /* ciphertext bytes received */
    uv_idle_t pump;      /* delivers buffered input when reading resumes */
    int nclosing;        /* handles still closing */
    int eof;             /* the stream's end (UV_EOF or an error), 0 while open */
    int werr;            /* a write failed: every later write fails with it */
    bool reading;        /* the codec wants bytes */
    bool uv_reading, pump_init, closing, plain, failed, shut_wanted, shut_done;
    char alpn[256];
} tls_tr_t;

static void flush_out(tls_tr_t *tr, bool try_now);
static void process(tls_tr_t *tr);

static inline tls_tr_t *tr_of(const cz__transport_t *t) { return t->impl; }
static inline uv_stream_t *stream(tls_tr_t *tr) { return (uv_stream_t *)&tr->t->tcp; }

/* ---- logging ---- */

static void peer_name(tls_tr_t *tr, char *buf, size_t n)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[48] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&tr->t->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    snprintf(buf, n, "%s:%d", ip, port);
}

static void log_failure(tls_tr_t *tr, const char *why)
{
    if (!cz_log_enabled(CZ_LOG_DEBUG))
        return;
    char peer[64];
    peer_name(tr, peer, sizeof peer);
    cz_log_debug("TLS handshake with %s failed: %s", peer, why);
}

/* ---- writing ---- */

static void fail_writes(tls_tr_t *tr, int status)
{
    while (tr->qn) {
        cz__twrite_t *wr = tr->q[tr->qhead].wr;
        tr->qhead = (tr->qhead + 1) % tr->qcap;
        tr->qn--;
        wr->cb(wr, status);
    }
}

static void complete_writes(tls_tr_t *tr)
{
    while (tr->qn && tr->q[tr->qhead].mark <= tr->sent) {
        cz__twrite_t *wr = tr->q[tr->qhead].wr;
        tr->qhead = (tr->qhead + 1) % tr->qcap;
        tr->qn--;
        wr->cb(wr, 0); /* may write, shut down or close */
    }
}

static int push_write(tls_tr_t *tr, cz__twrite_t *wr, uint64_t mark)
{
    if (tr->qn == tr->qcap) {
        size_t cap = tr->qcap ? tr->qcap * 2 : 4;
        pend_t *q = malloc(cap * sizeof *q);
        if (!q)
            return UV_ENOMEM;
        for (size_t i = 0; i < tr->qn; i++)
            q[i] = tr->q[(tr->qhead + i) % tr->qcap];
        free(tr->q);
        tr->q = q;
        tr->qhead = 0;
        tr->qcap = cap;
    }
    tr->q[(tr->qhead + tr->qn++) % tr->qcap] = (pend_t){wr, mark};
    return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status) { (void)req, (void)status; }

static void maybe_shutdown(tls_tr_t *tr)
{
    if (tr->shut_wanted && !tr->shut_done && !tr->closing && !tr->inflight &&
        !cz__tls_out_pending(tr->s)) {
        tr->shut_done = true;
        uv_shutdown(&tr->t->sreq, stream(tr), on_shutdown);
    }
}

static void on_written(uv_write_t *req, int status)
{
    tls_tr_t *tr = cz__container_of(req, tls_tr_t, wreq);
    if (status == 0)
        tr->sent += tr->inflight;
    tr->inflight = 0;
    cz__tls_out_give(tr->s, &tr->wbuf);
    if (status < 0) {
        tr->werr = status;
        fail_writes(tr, status);
        return;
    }
    complete_writes(tr);
    if (tr->closing || tr->werr)
        return;
    flush_out(tr, false);
    maybe_shutdown(tr);
}

/* Hand the session's pending ciphertext to the kernel: try_now writes what the socket takes at
 * once (no queued write can complete by it: completions never run inside a write() call), the
 * rest goes out as one uv_write. */
static void flush_out(tls_tr_t *tr, bool try_now)
{
    if (tr->closing || tr->werr || tr->inflight || !cz__tls_out_pending(tr->s))
        return;
    if (try_now && !tr->qn) { /* with writes queued, only on_written may advance `sent` */
        size_t n;
        const uint8_t *p = cz__tls_out_peek(tr->s, &n);
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
        int w = uv_try_write(stream(tr), &b, 1);
        if (w < 0 && w != UV_EAGAIN) {
            tr->werr = w;
            return;
        }
        if (w > 0) {
            cz__tls_out_consume(tr->s, (size_t)w);
            tr->sent += (uint64_t)w;
        }
        if (!cz__tls_out_pending(tr->s))
            return;
    }
    cz__tls_out_take(tr->s, &tr->wbuf);
    tr->inflight = tr->wbuf.len;
    uv_buf_t b = uv_buf_init((char *)tr->wbuf.data, (unsigned)tr->wbuf.len);
    int rc = uv_write(&tr->wreq, stream(tr), &b, 1, on_written);
    if (rc != 0) {
        tr->inflight = 0;
        cz__tls_out_give(tr->s, &tr->wbuf);
        tr->werr = rc;
    }
}

static size_t total_of(const uv_buf_t *b, unsigned n)
{
    size_t t = 0;
    for (unsigned i = 0; i < n; i++)
        t += b[i].len;
    return t;
}

/* Seal b[0..n) less the first skip bytes. uv_buf_t is laid out as struct iovec on Unix. */
static int seal(tls_tr_t *tr, const uv_buf_t *b, unsigned n, size_t skip)
{
    while (n && skip >= b->len) {
        skip -= b->len;
        b++, n--;
    }
    if (!n)
        return 0;
    struct iovec v[16];
    while (n) {
        unsigned k = n < 16 ? n : 16;
        memcpy(v, b, k * sizeof *v);
        v[0].iov_base = (char *)v[0].iov_base + skip;
        v[0].iov_len -= skip;
        skip = 0;
        if (cz__tls_writev(tr->s, v, k) != CZ__TLS_OK)
            return UV_EPROTO;
        b += k;
        n -= k;
    }
    return 0;
}

static int tls_try_write(cz__transport_t *t, const uv_buf_t *b, unsigned n)
{
    tls_tr_t *tr = tr_of(t);
    if (tr->closing)
        return UV_EPIPE;
    if (tr->werr)
        return tr->werr;
    if (!cz__tls_handshake_done(tr->s))
        return UV_ENOTCONN;
    if (tr->qn || tr->inflight || cz__tls_out_pending(tr->s) || tr->owed)
        return UV_EAGAIN; /* behind queued bytes: order first */
    size_t total = total_of(b, n);
    if (!total)
        return 0;
    int rc = seal(tr, b, n, 0);
    if (rc)
        return rc;
    flush_out(tr, true);
    if (tr->werr)
        return tr->werr;
    if (!tr->inflight)
        return total > INT32_MAX ? INT32_MAX : (int)total; /* all of it in the kernel */
    tr->owed = 1; /* the caller's write() of the last byte completes when all is out */
    return (int)(total - 1);
}

static int tls_write(cz__transport_t *t, cz__twrite_t *wr, const uv_buf_t *b, unsigned n,
                     cz__twrite_cb cb)
{
    tls_tr_t *tr = tr_of(t);
    if (tr->closing)
        return UV_EPIPE;
    if (tr->werr)
        return tr->werr;
    if (!cz__tls_handshake_done(tr->s))
        return UV_ENOTCONN;
    wr->t = t;
    wr->cb = cb;
    size_t skip = tr->owed;
    tr->owed = 0;
    int rc = seal(tr, b, n, skip);
    if (rc)
        return rc;
    rc = push_write(tr, wr, tr->sent + tr->inflight + cz__tls_out_pending(tr->s));
    if (rc)
        return rc;
    flush_out(tr, false); /* uv_write tries the socket at once and completes later */
    if (tr->werr && !tr->inflight) {
        /* refused before libuv queued it: as uv_write's error, cb must not run */
        tr->qn--;
        return tr->werr;
    }
    return 0;
}

static void tls_shutdown(cz__transport_t *t)
{
    tls_tr_t *tr = tr_of(t);
    if (tr->closing || tr->shut_wanted)
        return;
    tr->shut_wanted = true;
    if (cz__tls_handshake_done(tr->s) && !tr->failed)
        cz__tls_shutdown(tr->s); /* close_notify before the FIN */
    flush_out(tr, true);
    maybe_shutdown(tr);
}

static size_t tls_queued(const cz__transport_t *t)
{
    tls_tr_t *tr = tr_of(t);
    return tr->inflight + cz__tls_out_pending(tr->s);
}

/* ---- reading ---- */

static __thread char discard_buf[4096];

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *out)
{
    cz__transport_t *t = (cz__transport_t *)h;
    tls_tr_t *tr = tr_of(t);
    (void)hint;
    if (tr->plain) { /* answered: what else comes is dropped */
        *out = uv_buf_init(discard_buf, sizeof discard_buf);
        return;
    }
    size_t avail = 0;
    uint8_t *p = cz__tls_in_space(tr->s, READ_ROOM, &avail);
    *out = uv_buf_init((char *)p, p ? (unsigned)avail : 0);
}

static void stop_socket(tls_tr_t *tr)
{
    if (tr->uv_reading) {
        uv_read_stop(stream(tr));
        tr->uv_reading = false;
    }
}

/* Tell the codec the stream ended (status < 0); reading stops as over TCP. */
static void end(tls_tr_t *tr, int status)
{
    stop_socket(tr);
    if (!tr->reading || tr->closing)
        return;
    tr->reading = false;
    tr->t->cbs->read(tr->t, status);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cz__transport_t *t = (cz__transport_t *)s;
    tls_tr_t *tr = tr_of(t);
    (void)buf;
    if (nread > 0) {
        tr->rx += (uint64_t)nread;
        if (tr->plain)
            return;
        cz__tls_in_commit(tr->s, (size_t)nread);
    } else if (nread == 0) {
        return;
    } else {
        stop_socket(tr);
        tr->eof = nread == UV_ENOBUFS ? UV_ENOMEM : (int)nread; /* ENOBUFS: out of memory here */
    }
    process(tr);
}

static void on_plain_written(uv_write_t *req, int status)
{
    tls_tr_t *tr = cz__container_of(req, tls_tr_t, wreq);
    if (status == 0 && !tr->closing)
        uv_shutdown(&tr->t->sreq, stream(tr), on_shutdown);
}

/* A plain HTTP request on the TLS port: answer in plain text, as nginx, then wait for the
 * client's FIN (the codec's HeaderTimeout bounds it) so the answer is not lost to a reset. */
static void answer_plain(tls_tr_t *tr)
{
    static const char body[] = "The plain HTTP request was sent to HTTPS port\n";
    static char resp[256];
    static int rlen;
    if (!rlen) /* benign race: every thread writes the same bytes */
        rlen = snprintf(resp, sizeof resp,
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                        sizeof body - 1, body);
    tr->plain = true;
    if (cz_log_enabled(CZ_LOG_DEBUG)) {
        char peer[64];
        peer_name(tr, peer, sizeof peer);
        cz_log_debug("plain HTTP request from %s on a TLS port: answered 400", peer);
    }
    uv_buf_t b = uv_buf_init(resp, (unsigned)rlen);
    if (uv_write(&tr->wreq, stream(tr), &b, 1, on_plain_written) != 0) {
        end(tr, UV_EPROTO);
        return;
    }
    if (tr->eof)
        end(tr, tr->eof);
}

static void handshake_failed(tls_tr_t *tr)
{
    const char *why = cz__tls_error(tr->s);
    tr->failed = true;
    log_failure(tr, why ? why : "unknown");
    flush_out(tr, true); /* the alert, if the socket takes it */
    end(tr, UV_EPROTO);
}

/* The engine step: handshake, then decrypt into the codec's buffers while it reads. */
static void process(tls_tr_t *tr)
{
    cz__transport_t *t = tr->t;
    if (tr->closing)
        return;
    if (tr->plain) {
        if (tr->eof)
            end(tr, tr->eof);
        return;
    }
    if (!cz__tls_handshake_done(tr->s)) {
        int rc = cz__tls_handshake(tr->s);
        flush_out(tr, true);
        if (rc == CZ__TLS_PLAINTEXT) {
            answer_plain(tr);
            return;
        }
        if (rc == CZ__TLS_ERROR) {
            handshake_failed(tr);
            return;
        }
        if (rc != CZ__TLS_OK) {
            if (tr->eof)
                end(tr, tr->eof); /* gone mid-handshake: counted at close */
            return;
        }
        size_t an = 0;
        const char *a = cz__tls_alpn(tr->s, &an);
        if (a && an < sizeof tr->alpn) {
            memcpy(tr->alpn, a, an);
            tr->alpn[an] = '\0';
        }
    }
    while (tr->reading && !tr->closing && cz__tls_has_input(tr->s)) {
        uv_buf_t b;
        t->cbs->alloc(t, &b);
        if (!b.len) {
            end(tr, UV_ENOBUFS);
            return;
        }
        size_t got = 0;
        int rc = cz__tls_read(tr->s, b.base, b.len, &got);
        flush_out(tr, true); /* a KeyUpdate's answer, an alert */
        if (rc == CZ__TLS_OK) {
            t->cbs->read(t, (ssize_t)got);
            continue;
        }
        if (rc == CZ__TLS_WANT_READ)
            break;
        if (rc == CZ__TLS_CLOSED) {
            end(tr, UV_EOF);
            return;
        }
        if (cz_log_enabled(CZ_LOG_DEBUG)) {
            char peer[64];
            peer_name(tr, peer, sizeof peer);
            cz_log_debug("TLS connection from %s failed: %s", peer, cz__tls_error(tr->s));
        }
        tr->failed = true;
        end(tr, UV_EPROTO);
        return;
    }
    if (tr->closing)
        return;
    if (tr->eof && !cz__tls_has_input(tr->s)) {
        end(tr, tr->eof);
        return;
    }
    /* waiting for the client: no buffer memory held while it thinks (many idle connections) */
    if (!cz__tls_has_input(tr->s) && !tr->inflight && !cz__tls_out_pending(tr->s))
        cz__tls_trim(tr->s);
}

static void on_pump(uv_idle_t *h)
{
    tls_tr_t *tr = cz__container_of(h, tls_tr_t, pump);
    uv_idle_stop(h);
    process(tr);
}

static int tls_read_start(cz__transport_t *t)
{
    tls_tr_t *tr = tr_of(t);
    if (tr->closing)
        return UV_EINVAL;
    tr->reading = true;
    if (!tr->uv_reading && !tr->eof) {
        int rc = uv_read_start(stream(tr), on_alloc, on_read);
        if (rc)
            return rc;
        tr->uv_reading = true;
    }
    /* bytes already here (decrypted or not) or the end: delivered from the loop, never from
     * inside this call (the codec is in the middle of something) */
    if (tr->eof || (cz__tls_handshake_done(tr->s) && cz__tls_has_input(tr->s))) {
        if (!tr->pump_init) {
            uv_idle_init(t->tcp.loop, &tr->pump);
            tr->pump_init = true;
        }
        uv_idle_start(&tr->pump, on_pump);
    }
    return 0;
}

static void tls_read_stop(cz__transport_t *t)
{
    tls_tr_t *tr = tr_of(t);
    tr->reading = false;
    stop_socket(tr);
    if (tr->pump_init)
        uv_idle_stop(&tr->pump);
}

/* ---- closing ---- */

static void on_closed(uv_handle_t *h)
{
    cz__transport_t *t = h->data;
    tls_tr_t *tr = tr_of(t);
    if (--tr->nclosing)
        return;
    fail_writes(tr, UV_ECANCELED); /* any not failed by the cancelled uv_write */
    free(tr->q);
    cz__tls_free(tr->s);
    free(tr);
    t->impl = NULL;
    t->cbs->closed(t);
}

static void tls_close(cz__transport_t *t)
{
    tls_tr_t *tr = tr_of(t);
    if (tr->closing)
        return;
    if (!cz__tls_handshake_done(tr->s) && !tr->failed && !tr->plain && tr->rx) {
        /* began and never finished: a stalled or abandoned handshake counts as failed */
        cz__tls_ctx_count(cz__tls_ctx(tr->s), CZ__TLS_STAT_FAILED);
        if (cz_log_enabled(CZ_LOG_DEBUG)) {
            char peer[64], why[96];
            peer_name(tr, peer, sizeof peer);
            snprintf(why, sizeof why, "not completed, closed after %llu bytes",
                     (unsigned long long)tr->rx);
            log_failure(tr, why);
        }
    } else if (cz__tls_handshake_done(tr->s) && !tr->failed && !tr->werr && !tr->eof &&
               !tr->inflight && !tr->shut_wanted) {
        /* close_notify, best effort: a client can tell our close from a truncation */
        if (cz__tls_shutdown(tr->s) == CZ__TLS_OK)
            flush_out(tr, true); /* what the socket does not take at once is dropped */
    }
    tr->closing = true;
    stop_socket(tr);
    tr->nclosing = 1;
    tr->t->tcp.data = t;
    if (tr->pump_init) {
        tr->nclosing++;
        tr->pump.data = t;
        uv_close((uv_handle_t *)&tr->pump, on_closed);
    }
    uv_close((uv_handle_t *)&t->tcp, on_closed);
}

/* ---- the rest of the ops ---- */

static bool tls_unread(const cz__transport_t *t)
{
    tls_tr_t *tr = tr_of(t);
    if (cz__tls_has_input(tr->s) || (tr->rx && !cz__tls_handshake_done(tr->s)))
        return true; /* a handshake under way, or a request decrypted but not read */
    uv_os_fd_t fd;
    int pending = 0;
    return uv_fileno((const uv_handle_t *)&t->tcp, &fd) != 0 ||
           ioctl(fd, FIONREAD, &pending) != 0 || pending != 0;
}

static int tls_peer(const cz__transport_t *t, struct sockaddr_storage *ss)
{
    int len = sizeof *ss;
    return uv_tcp_getpeername(&t->tcp, (struct sockaddr *)ss, &len);
}

static bool yes_tls(const cz__transport_t *t) { (void)t; return true; }
static const char *tls_sni(const cz__transport_t *t) { return cz__tls_sni(tr_of(t)->s); }

static const char *tls_alpn(const cz__transport_t *t)
{
    tls_tr_t *tr = tr_of(t);
    return tr->alpn[0] ? tr->alpn : NULL;
}

static const char *tls_peer_subject(const cz__transport_t *t)
{
    return cz__tls_peer_subject(tr_of(t)->s);
}

const cz__transport_ops_t cz__tls_transport_ops = {
    .name = "tls",
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .try_write = tls_try_write,
    .write = tls_write,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .queued = tls_queued,
    .unread = tls_unread,
    .peer = tls_peer,
    .is_tls = yes_tls,
    .sni = tls_sni,
    .alpn = tls_alpn,
    .peer_subject = tls_peer_subject,
};

static void free_unopened(uv_handle_t *h) { free(h); }

int cz__tls_transport_open(cz__transport_t *t, uv_loop_t *loop, int fd,
                           const cz__transport_cbs_t *cbs)
{
    cz_worker_t *w = cz__container_of(loop, cz_worker_t, loop);
    cz_tls_ctx_t *ctx = cz_tls_slot_get(w->srv->tls);
    tls_tr_t *tr = calloc(1, sizeof *tr);
    cz__tls_t *s = ctx ? cz__tls_server_new(ctx) : NULL;
    cz_tls_ctx_unref(ctx); /* the session holds its own reference */
    uv_tcp_init(loop, &t->tcp);
    int rc = s && tr ? uv_tcp_open(&t->tcp, fd) : UV_ENOMEM;
    if (rc != 0) { /* the descriptor stays the caller's */
        cz__tls_free(s);
        free(tr);
        uv_close((uv_handle_t *)&t->tcp, free_unopened);
        return rc;
    }
    tr->t = t;
    tr->s = s;
    t->ops = &cz__tls_transport_ops;
    t->cbs = cbs;
    t->impl = tr;
    uv_tcp_nodelay(&t->tcp, 1);
    return 0;
}
