/* SPDX-License-Identifier: MIT
 *
 * h1_write.c: the HTTP/1.1 codec's output: answers serialised and written, the codec's side of
 * an exchange's answer (the functions behind cz__h1_codec's finish, send and stream ops).
 *
 * A collected answer is serialised into the connection's output buffer when it ends. Answers of
 * pipelined requests parsed from one read accumulate in that buffer and leave in one write; the
 * write is tried synchronously first and only what the socket does not take is queued. A large
 * body is not copied into the output buffer: it is written from the arena, which then lives
 * until the write is done.
 *
 * Streamed answers: the head goes out at once, the body in pieces, each copied once into a
 * recycled write buffer and queued behind what is already on the socket. Framing is chunked,
 * close-delimited for HTTP/1.0, or a fixed Content-Length (cz_res_stream_begin_length: what a
 * proxy forwards for a backend's sized answer). A streamed response's write deadline
 * (WriteTimeout, refreshed on progress) lives in its own per-worker list, not the connection's
 * one timer slot, because a stream route may be reading its request body (ReadTimeout) while it
 * answers: both deadlines hold.
 *
 * Bytes leave only through the connection's transport (c->tr.ops); an answer written out goes
 * back to the connection's state machine through c->up. What this file is not: the answer's
 * builder API and its end (exchange/response.c, exchange/dispatch.c), reading and parsing
 * (h1_conn.c), the codec ops table (h1_conn.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "http/http_int.h"
#include "http/exchange/codec_side.h"

#define BIG_BODY 16384 /* bodies above this are written from the arena, not copied */

void cz__date_update(cz_worker_t *w)
{
    time_t now = time(NULL);
    if (now == w->date_sec)
        return;
    w->date_sec = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    w->date_len = strftime(w->date, sizeof w->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

char *cz__out_reserve(cz_conn_t *c, size_t need)
{
    if (c->out_len + need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
        while (cap < c->out_len + need)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            return NULL;
        c->out = p;
        c->out_cap = cap;
    }
    return c->out + c->out_len;
}

static char *put(char *p, const void *s, size_t n)
{
    cz__copy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        *p++ = tmp[--i];
    return p;
}

int cz__write_head(cz_conn_t *c, cz_req_t *r, int status, bool chunked, size_t clen)
{
    cz_res_t *res = &r->res;
    const char *reason = cz_status_text(status);
    size_t rlen = strlen(reason);
    size_t need = 32 + rlen + c->w->date_len + res->hdrs_len + 96;
    char *p = cz__out_reserve(c, need);
    if (!p)
        return CZ_ENOMEM;
    char *start = p;
    p = put(p, "HTTP/1.1 ", 9);
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put(p, reason, rlen);
    p = put(p, "\r\n", 2);
    p = put(p, c->w->date, c->w->date_len);
    if (res->hdrs_len)
        p = put(p, res->hdrs, res->hdrs_len);
    if (!res->has_ctype && clen && cz__body_allowed(status))
        p = put(p, "Content-Type: text/plain; charset=utf-8\r\n", 41);
    if (chunked) {
        if (r->version >= 11)
            p = put(p, "Transfer-Encoding: chunked\r\n", 28);
    } else if (cz__body_allowed(status)) { /* a 304 must not claim a zero-length body */
        p = put(p, "Content-Length: ", 16);
        p = put_u64(p, clen);
        p = put(p, "\r\n", 2);
    }
    if (c->close_after)
        p = put(p, "Connection: close\r\n", 19);
    else if (r->version < 11)
        p = put(p, "Connection: keep-alive\r\n", 24);
    p = put(p, "\r\n", 2);
    c->out_len += (size_t)(p - start);
    return 0;
}

/* A stream route answered before its body ended keeps the connection only when the rest can
 * be dropped cheaply (h1_body.c's CS_DISCARD): a known remainder up to CZ__DISCARD_MAX, or a
 * chunked one that is given that much. Otherwise close, lingering so the client reads the
 * answer (nginx's ngx_http_discard_request_body / lingering close). */
static bool stream_must_close(const cz_req_t *r)
{
    if (r->body_err || (r->expect_continue && !r->body_cb)) /* no 100 sent: it may never come */
        return true;
    return r->content_length >= 0 &&
           (uint64_t)r->content_length - r->body_seen > CZ__DISCARD_MAX;
}

void cz__decide_close(cz_conn_t *c, cz_req_t *r)
{
    if (!r->keep_alive || c->w->stopping || c->peer_eof)
        c->close_after = true;
    if (r->stream_body && !r->body_complete && stream_must_close(r)) {
        c->close_after = true;
        c->linger = true;
    }
}

/* ---- writing ---- */

static void on_write(cz__twrite_t *wr, int status)
{
    cz_conn_t *c = cz__container_of(wr, cz_conn_t, wreq);
    c->writing = false;
    c->out_len = 0;
    c->big = NULL;
    if (c->closed)
        return;
    if (status < 0) {
        cz__conn_close(c);
        return;
    }
    if (c->req.res.finish_deferred) { /* an async handler ended while the buffer was pinned */
        c->req.res.finish_deferred = false;
        c->req.res.ended = false;
        cz__res_finish(&c->req);
        cz__conn_flush(c);
        return;
    }
    if (c->done_pending) {
        c->done_pending = false;
        c->up->request_done(c);
    }
    c->up->written(c);
}

void cz__conn_flush(cz_conn_t *c)
{
    if (c->writing || c->closed || c->stream_writes || (!c->out_len && !c->big))
        return;
    uv_buf_t b[2];
    unsigned nb = 0;
    if (c->out_len)
        b[nb++] = uv_buf_init(c->out, (unsigned)c->out_len);
    if (c->big)
        b[nb++] = uv_buf_init((char *)c->big, (unsigned)c->big_len);
    int n = c->tr.ops->try_write(&c->tr, b, nb);
    if (n < 0 && n != UV_EAGAIN) {
        cz__conn_close(c);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    size_t total = c->out_len + (c->big ? c->big_len : 0);
    if (done == total) {
        c->out_len = 0;
        c->big = NULL;
        if (c->done_pending) {
            c->done_pending = false;
            c->up->request_done(c);
        }
        if (c->close_after || c->w->stopping)
            c->up->written(c);
        return;
    }
    /* queue the rest */
    nb = 0;
    if (done < c->out_len) {
        b[nb++] = uv_buf_init(c->out + done, (unsigned)(c->out_len - done));
        done = 0;
    } else {
        done -= c->out_len;
    }
    if (c->big)
        b[nb++] = uv_buf_init((char *)c->big + done, (unsigned)(c->big_len - done));
    c->writing = true;
    cz__tl_set(c, TL_WRITE);
    if (c->tr.ops->write(&c->tr, &c->wreq, b, nb, on_write) != 0) {
        c->writing = false;
        cz__conn_close(c);
    }
}

/* Serialise the final answer into the output buffer, after the chain's leave(). Returns 0, or
 * -1 when the connection had to be closed. */
static int serialise(cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    cz_res_t *res = &r->res;
    int status = res->status ? res->status : 200;
    size_t blen = cz__body_allowed(status) ? res->body_len : 0;
    cz__decide_close(c, r);
    if (cz__write_head(c, r, status, false, blen) != 0) {
        cz__conn_close(c);
        return -1;
    }
    if (!r->head && blen) {
        if (blen > BIG_BODY) {
            c->big = res->body;
            c->big_len = blen;
            c->done_pending = true; /* the arena holds the body until it is written */
        } else {
            char *p = cz__out_reserve(c, blen);
            if (!p) {
                cz__conn_close(c);
                return -1;
            }
            memcpy(p, res->body, blen);
            c->out_len += blen;
        }
    }
    cz__res_sent(r, status, r->head ? 0 : blen);
    return 0;
}

/* cz__codec_ops_t.send: the engine's answer while a handler holds the request */
int cz__h1_send(cz_req_t *r) { return serialise(r); }

/* cz__codec_ops_t.finish */
void cz__h1_finish(cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    if (c->writing) { /* the output buffer is pinned by a write in flight: finish after it */
        r->res.finish_deferred = true;
        return;
    }
    cz__res_settle(r);
    if (serialise(r) != 0)
        return;
    if (c->done_pending) {
        cz__conn_flush(c);
        return;
    }
    c->up->request_done(c);
}

/* A response the server makes itself (errors found while parsing, 408): the request never
 * reached a handler, so it is written straight to the output buffer. */
void cz__send_simple(cz_conn_t *c, int status, const char *extra_headers)
{
    cz_req_t *r = &c->req;
    const char *reason = cz_status_text(status);
    char body[64];
    int blen = snprintf(body, sizeof body, "%d %s", status, reason);
    size_t eh = extra_headers ? strlen(extra_headers) : 0;
    char *p = cz__out_reserve(c, 160 + c->w->date_len + eh + (size_t)blen);
    if (!p) {
        cz__conn_close(c);
        return;
    }
    int n = snprintf(p, 160 + c->w->date_len + eh + (size_t)blen,
                     "HTTP/1.1 %d %s\r\n%.*sContent-Type: text/plain; charset=utf-8\r\n"
                     "%sContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                     status, reason, (int)c->w->date_len, c->w->date, eh ? extra_headers : "",
                     blen, body);
    c->out_len += (size_t)n;
    cz__req_refused_logged(r, status, (uint64_t)blen);
    cz__conn_flush(c);
}

/* ---- recycled write buffers ---- */

typedef struct chunk_write {
    cz__twrite_t req;
    cz_conn_t *c;
    size_t size; /* of data[]: CHUNK_BUF for a recycled one */
    char data[];
} chunk_write_t;

/* Streamed pieces (a proxy's upstream reads) mostly fit one size: their write buffers are
 * recycled per worker instead of a malloc/free per chunk. */
#define CHUNK_BUF (16384 + 32)
#define CHUNK_KEEP 64

static chunk_write_t *chunk_get(cz_worker_t *w, size_t n)
{
    chunk_write_t *cw;
    if (n <= CHUNK_BUF && w->free_chunks) {
        cw = w->free_chunks;
        w->free_chunks = *(void **)cw;
        w->nfree_chunks--;
        return cw;
    }
    size_t size = n <= CHUNK_BUF ? CHUNK_BUF : n;
    cw = malloc(sizeof *cw + size);
    if (cw)
        cw->size = size;
    return cw;
}

static void chunk_put(cz_worker_t *w, chunk_write_t *cw)
{
    if (cw->size != CHUNK_BUF || w->nfree_chunks >= CHUNK_KEEP) {
        free(cw);
        return;
    }
    *(void **)cw = w->free_chunks;
    w->free_chunks = cw;
    w->nfree_chunks++;
}

void cz__chunks_free(cz_worker_t *w)
{
    while (w->free_chunks) {
        void *b = w->free_chunks;
        w->free_chunks = *(void **)b;
        free(b);
    }
    w->nfree_chunks = 0;
}

static void on_chunk_written(cz__twrite_t *wr, int status)
{
    chunk_write_t *cw = cz__container_of(wr, chunk_write_t, req);
    cz_conn_t *c = cw->c;
    chunk_put(c->w, cw);
    c->stream_writes--;
    if (c->closed)
        return;
    if (status < 0) {
        cz__conn_close(c);
        return;
    }
    cz__swl_set(c, c->stream_writes > 0); /* progress: the deadline starts again */
    if (c->stream_writes == 0) {
        if (c->done_pending) {
            c->done_pending = false;
            cz__tl_set(c, TL_NONE);
            c->up->request_done(c);
            c->up->written(c);
            return;
        }
        if (c->out_len || c->big) /* output that waited behind the queued pieces */
            cz__conn_flush(c);
        if (c->closed)
            return;
    }
    cz_res_t *res = &c->req.res;
    if (res->drain_cb && !res->ended && !c->req.cancelled &&
        c->tr.ops->queued(&c->tr) == 0) {
        void (*cb)(cz_res_t *, void *) = res->drain_cb;
        res->drain_cb = NULL;
        cb(res, res->drain_ud);
    }
}

/* Queue bytes behind whatever is being written; streamed data is copied once into the write. */
static int queue_copy(cz_conn_t *c, const char *prefix, size_t pn, const void *data, size_t n,
                      const char *suffix, size_t sn)
{
    chunk_write_t *cw = chunk_get(c->w, pn + n + sn);
    if (!cw)
        return CZ_ENOMEM;
    cw->c = c;
    memcpy(cw->data, prefix, pn);
    if (n)
        memcpy(cw->data + pn, data, n);
    memcpy(cw->data + pn + n, suffix, sn);
    uv_buf_t b = uv_buf_init(cw->data, (unsigned)(pn + n + sn));
    if (c->tr.ops->write(&c->tr, &cw->req, &b, 1, on_chunk_written) != 0) {
        chunk_put(c->w, cw);
        return CZ_ECLOSED;
    }
    if (c->stream_writes++ == 0)
        cz__swl_set(c, true);
    return 0;
}

/* cz__codec_ops_t.stream_head (the exchange checked the request is still wanted) */
int cz__h1_stream_head(cz_req_t *r, bool fixed, uint64_t len)
{
    cz_conn_t *c = r->conn;
    cz_res_t *res = &r->res;
    cz__conn_flush(c); /* earlier pipelined answers go first */
    res->streaming = true;
    res->fixed_len = fixed;
    res->fixed_total = len;
    cz__decide_close(c, r);
    if (r->version < 11 && !fixed)
        c->close_after = true; /* HTTP/1.0: the body ends when the connection does */
    int status = res->status ? res->status : 200;
    int rc;
    if (!c->writing && c->out_len == 0) { /* the usual case: the output buffer is free */
        rc = cz__write_head(c, r, status, !fixed, (size_t)len);
        if (rc == 0)
            rc = queue_copy(c, c->out, c->out_len, NULL, 0, "", 0);
        c->out_len = 0;
        res->head_sent = rc == 0;
        return rc;
    }
    /* Serialise the head into a fresh buffer (the output buffer is pinned by a write in
     * flight) and queue it; chunks are queued behind it in order. */
    char *saved = c->out;
    size_t saved_len = c->out_len, saved_cap = c->out_cap;
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    rc = cz__write_head(c, r, status, !fixed, (size_t)len);
    if (rc == 0)
        rc = queue_copy(c, c->out, c->out_len, NULL, 0, "", 0);
    free(c->out);
    c->out = saved;
    c->out_len = saved_len;
    c->out_cap = saved_cap;
    res->head_sent = rc == 0;
    return rc;
}

/* cz__codec_ops_t.stream_write: one piece, framed (the exchange counted it) */
int cz__h1_stream_write(cz_req_t *r, const void *data, size_t n)
{
    cz_conn_t *c = r->conn;
    if (r->res.fixed_len || r->version < 11)
        return queue_copy(c, "", 0, data, n, "", 0);
    char hex[24];
    int hn = snprintf(hex, sizeof hex, "%zx\r\n", n);
    return queue_copy(c, hex, (size_t)hn, data, n, "\r\n", 2);
}

/* cz__codec_ops_t.stream_end: the head is out and the request still wanted */
void cz__h1_stream_end(cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    cz_res_t *res = &r->res;
    if (r->version >= 11 && !r->head && !res->fixed_len)
        queue_copy(c, "0\r\n\r\n", 5, NULL, 0, "", 0);
    cz__chain_leave(r);
    cz__res_sent(r, res->status ? res->status : 200, res->body_len);
    c->done_pending = true;
    if (c->stream_writes == 0) {
        c->done_pending = false;
        c->up->request_done(c);
        c->up->written(c);
    }
}

int cz__conn_send_raw(cz_conn_t *c, const char *data, size_t n)
{
    cz__conn_flush(c); /* answers to earlier pipelined requests go first */
    if (c->closed)
        return CZ_ECLOSED;
    if (!c->writing && !c->stream_writes && !c->out_len && !c->big) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
        int w = c->tr.ops->try_write(&c->tr, &b, 1);
        if (w == (int)n)
            return 0;
        if (w < 0 && w != UV_EAGAIN)
            return CZ_ECLOSED;
        if (w > 0) {
            data += w;
            n -= (size_t)w;
        }
    }
    return queue_copy(c, "", 0, data, n, "", 0); /* the write deadline has its own list */
}

cz_str_t cz__h1_remote(const cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    if (!c->remote_len) {
        struct sockaddr_storage ss;
        char ip[48] = "?";
        int port = 0;
        if (c->tr.ops->peer(&c->tr, &ss) == 0) {
            if (ss.ss_family == AF_INET) {
                uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
                port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            } else if (ss.ss_family == AF_INET6) {
                uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
                port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            }
        }
        c->remote_len = (uint8_t)snprintf(c->remote, sizeof c->remote, "%s:%d", ip, port);
    }
    return (cz_str_t){c->remote, c->remote_len};
}
