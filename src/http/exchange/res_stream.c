/* SPDX-License-Identifier: MIT
 *
 * res_stream.c: streamed responses (cz_res_stream_*): the head goes out at once, the body in
 * pieces, each copied once into a recycled write buffer and queued behind what is already on
 * the socket. Framing is chunked, close-delimited for HTTP/1.0, or a fixed Content-Length
 * (cz_res_stream_begin_length: what a proxy forwards for a backend's sized answer). An answer
 * that cannot be completed is aborted: the connection closes without the last chunk (or short
 * of its length), so the client sees a truncated response, never a complete-looking one.
 *
 * A streamed response's write deadline (WriteTimeout, refreshed on progress) lives in its own
 * per-worker list, not the connection's one timer slot, because a stream route may be reading
 * its request body (ReadTimeout) while it answers: both deadlines hold.
 *
 * What this file is not: the collected, one-write answers (response.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/http_int.h"
#include "czero/log.h"

static inline cz_req_t *req_of(cz_res_t *res) { return cz__container_of(res, cz_req_t, res); }

/* ---- the write deadline list ---- */

void cz__swl_set(cz_conn_t *c, bool on)
{
    cz__tlist_t *l = &c->w->swl;
    if (c->in_swl) {
        if (c->wprev)
            c->wprev->wnext = c->wnext;
        else
            l->head = c->wnext;
        if (c->wnext)
            c->wnext->wprev = c->wprev;
        else
            l->tail = c->wprev;
        c->wprev = c->wnext = NULL;
        c->in_swl = false;
    }
    if (!on || c->closed)
        return;
    /* one timeout for all: appending keeps the list sorted by deadline */
    c->wdeadline = uv_now(&c->w->loop) + l->timeout_ms;
    c->wprev = l->tail;
    if (l->tail)
        l->tail->wnext = c;
    else
        l->head = c;
    l->tail = c;
    c->in_swl = true;
}

void cz__swl_tick(cz_worker_t *w, uint64_t now)
{
    while (w->swl.head && w->swl.head->wdeadline <= now) {
        cz_conn_t *c = w->swl.head;
        cz__swl_set(c, false);
        cz__conn_close(c); /* the client stopped reading: as nginx's send_timeout */
    }
}

/* ---- recycled write buffers ---- */

typedef struct chunk_write {
    uv_write_t req;
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

static void on_chunk_written(uv_write_t *wr, int status)
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
            cz__conn_request_done(c);
            cz__conn_written(c);
            return;
        }
        if (c->out_len || c->big) /* output that waited behind the queued pieces */
            cz__conn_flush(c);
        if (c->closed)
            return;
    }
    cz_res_t *res = &c->req.res;
    if (res->drain_cb && !res->ended && !c->req.cancelled &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
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
    if (uv_write(&cw->req, (uv_stream_t *)&c->tcp, &b, 1, on_chunk_written) != 0) {
        chunk_put(c->w, cw);
        return CZ_ECLOSED;
    }
    if (c->stream_writes++ == 0)
        cz__swl_set(c, true);
    return 0;
}

/* ---- public API ---- */

static int stream_begin(cz_res_t *res, bool fixed, uint64_t len)
{
    cz_req_t *r = req_of(res);
    cz_conn_t *c = r->conn;
    if (res->streaming)
        return fixed ? CZ_EARG : 0;
    if (r->cancelled || c->closed)
        return CZ_ECLOSED;
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

int cz_res_stream_begin(cz_res_t *res) { return stream_begin(res, false, 0); }

int cz_res_stream_begin_length(cz_res_t *res, int64_t len)
{
    if (len < 0)
        return CZ_EARG;
    return stream_begin(res, true, (uint64_t)len);
}

int cz_res_stream_write(cz_res_t *res, const void *data, size_t n)
{
    cz_req_t *r = req_of(res);
    cz_conn_t *c = r->conn;
    if (!res->streaming && cz_res_stream_begin(res) != 0)
        return CZ_ECLOSED;
    if (r->cancelled || c->closed)
        return CZ_ECLOSED;
    if (n == 0 || r->head)
        return 0;
    if (res->fixed_len) {
        if (n > res->fixed_total - res->body_len) /* the head promised fewer bytes */
            return CZ_EFULL;
        res->body_len += n;
        return queue_copy(c, "", 0, data, n, "", 0);
    }
    res->body_len += n; /* counts bytes for the access log */
    if (r->version < 11)
        return queue_copy(c, "", 0, data, n, "", 0);
    char hex[24];
    int hn = snprintf(hex, sizeof hex, "%zx\r\n", n);
    return queue_copy(c, hex, (size_t)hn, data, n, "\r\n", 2);
}

/* Close the connection under the request without telling the handler (it asked for this). */
static void close_under(cz_req_t *r)
{
    bool held = r->in_handler;
    r->res.aborted = r->res.head_sent; /* the chain settles with the status sent, else 499 */
    r->cancel_cb = NULL;
    r->in_handler = true; /* so the close marks the request cancelled and waits for its end */
    cz__conn_close(r->conn);
    r->in_handler = held;
}

void cz_res_stream_end(cz_res_t *res)
{
    cz_req_t *r = req_of(res);
    cz_conn_t *c = r->conn;
    res->ended = true;
    r->in_handler = false;
    if (res->fixed_len && res->body_len < res->fixed_total && !r->head && !r->cancelled &&
        !c->closed && cz__body_allowed(res->status ? res->status : 200))
        close_under(r); /* short of its Content-Length: the client must see it truncated */
    if (r->cancelled || c->closed) {
        if (!res->aborted)
            res->status = 499;
        cz__chain_leave(r); /* a no-op when cz__res_finish already left the chain */
        cz__conn_request_done(c);
        return;
    }
    if (!res->head_sent && cz_res_stream_begin(res) != 0) {
        cz__conn_close(c);
        return;
    }
    if (r->version >= 11 && !r->head && !res->fixed_len)
        queue_copy(c, "0\r\n\r\n", 5, NULL, 0, "", 0);
    cz__chain_leave(r);
    if (!r->route)
        cz__log_access(r, res->status ? res->status : 200, res->body_len, 0);
    c->done_pending = true;
    if (c->stream_writes == 0) {
        c->done_pending = false;
        cz__conn_request_done(c);
        cz__conn_written(c);
    }
}

void cz_res_abort(cz_res_t *res)
{
    cz_req_t *r = req_of(res);
    if (!res->ended && r->in_handler && !r->cancelled && !r->conn->closed)
        close_under(r);
    cz_res_end(res); /* settles the chain with the status already sent */
}

size_t cz_res_stream_pending(const cz_res_t *res)
{
    const cz_req_t *r = cz__container_of(res, cz_req_t, res);
    if (r->conn->closed)
        return 0;
    return uv_stream_get_write_queue_size((const uv_stream_t *)&r->conn->tcp);
}

void cz_res_on_drain(cz_res_t *res, void (*cb)(cz_res_t *res, void *ud), void *ud)
{
    cz_req_t *r = req_of(res);
    res->drain_cb = NULL;
    if (!cb || res->ended || r->cancelled || r->conn->closed)
        return;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&r->conn->tcp) == 0) {
        cb(res, ud);
        return;
    }
    res->drain_cb = cb;
    res->drain_ud = ud;
}

int cz__conn_send_raw(cz_conn_t *c, const char *data, size_t n)
{
    cz__conn_flush(c); /* answers to earlier pipelined requests go first */
    if (c->closed)
        return CZ_ECLOSED;
    if (!c->writing && !c->stream_writes && !c->out_len && !c->big) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
        int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
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
