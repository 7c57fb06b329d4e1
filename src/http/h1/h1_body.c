/* SPDX-License-Identifier: MIT
 *
 * h1_body.c: request bodies streamed to the handler (routes with CZ_ROUTE_STREAM_BODY), and the
 * worker's HTTP client handed to handlers (cz_req_client).
 *
 * A stream route's chain runs as soon as its header block is parsed (h1_conn.c pauses llhttp there
 * and the connection enters CS_STREAM). The body stays in the read buffer until the handler
 * calls cz_req_body_read; from then on the parser runs here, in cz__body_pump, and each piece
 * llhttp finds goes straight from the read buffer to the handler's callback: nothing is copied
 * or accumulated, so memory stays one read buffer whatever the body's size. Consumed bytes are
 * dropped from the buffer behind the header block (whose views the request still uses).
 * Pausing stops reading the socket, so a slow consumer pushes back on the client through TCP.
 *
 * When the handler answers before the body is all read, the connection either parses and drops
 * the rest of a small body (CS_DISCARD, at most CZ__DISCARD_MAX bytes) so it stays usable, or
 * says Connection: close and lingers, as nginx does. Errors while reading (MaxBytes, a bad
 * chunk, the read timeout) are reported to the callback, then the engine answers 413/400/408
 * itself when nothing was sent yet (like the timeout link's 503), else closes.
 */
#include <string.h>
#include "http/http_int.h"

/* ---- helpers for h1_conn.c (it calls down here; this file calls it back through c->up) ---- */

void cz__linger_reset(cz_conn_t *c)
{
    /* a stream handler the engine answered for may still hold views into the header block */
    if (c->req.in_handler && c->req.stream_body) {
        c->len = c->parsed = c->req_start + c->body_keep;
        return;
    }
    c->len = c->parsed = c->req_start = 0;
}

static void deliver(cz_req_t *r, const void *data, size_t n, int err)
{
    r->body_cb(r, data, n, err, r->body_ud);
}

/* The engine answers for a handler that still holds the request (it learns by the callback
 * error and the cancellation; its own late cz_res_end only releases the request). */
static void engine_answer(cz_conn_t *c, int status, const char *text)
{
    cz_req_t *r = &c->req;
    c->close_after = true;
    c->linger = true; /* the client may still be sending: let it read the answer */
    r->engine_answered = true;
    c->state = CS_HANDLING; /* the parser is done with this connection */
    if (c->reading) {
        c->tr.ops->read_stop(&c->tr);
        c->reading = false;
    }
    cz__tl_set(c, TL_NONE);
    r->res.streaming = false;
    r->res.hdrs_len = r->res.hdrs_mark; /* the handler's headers go, the middlewares' stay */
    r->res.has_ctype = false;
    cz__res_complete(r, status, text);
    r->cancelled = true;
    cz__conn_flush(c);
}

static void body_fail(cz_conn_t *c, int err)
{
    cz_req_t *r = &c->req;
    r->body_err = true; /* an answer now closes the connection (decide_close) */
    if (err == CZ_ECLOSED) {
        /* cancelled first, so an answer given from the callback settles the chain as 499 */
        r->cancelled = true;
        if (r->body_cb && !r->body_done) {
            r->body_done = true;
            deliver(r, NULL, 0, err);
        }
        cz__conn_close(c); /* tells cz_req_on_cancel; no-op when already closed */
        return;
    }
    /* The engine answers first (the handler's own answer, even from the callback, is then
     * dropped), or closes when the head is already out; the handler hears of it after. */
    if (!c->closed && c->state == CS_STREAM && !r->res.ended) {
        if (r->res.head_sent)
            c->close_after = true; /* too late for a status: closed once the callback returns */
        else if (err == CZ_EFULL)
            engine_answer(c, 413, "Request Entity Too Large");
        else if (err == CZ_ETIMEOUT)
            engine_answer(c, 408, "Request Timeout");
        else
            engine_answer(c, 400, "Bad Request");
    }
    if (r->body_cb && !r->body_done) {
        r->body_done = true;
        deliver(r, NULL, 0, err);
    }
    if (c->closed)
        return;
    if (r->res.head_sent && !r->engine_answered && r->in_handler) {
        cz__conn_close(c); /* cancels the request: the chain settles as 499 */
        return;
    }
    if (r->in_handler && r->engine_answered && r->cancel_cb) {
        void (*cb)(cz_req_t *, void *) = r->cancel_cb;
        r->cancel_cb = NULL;
        cb(r, r->cancel_ud);
    }
}

void cz__body_pump(cz_conn_t *c)
{
    cz_req_t *r = &c->req;
    if (c->pumping || c->closed)
        return;
    c->pumping = true;
    bool outer = c->in_process;
    c->in_process = true; /* an answer given from a callback is flushed below, once */
    while (c->state == CS_STREAM && r->body_cb && !r->body_paused && !r->res.ended &&
           !c->closed && c->parsed < c->len) {
        llhttp_errno_t e = llhttp_execute(&c->parser, c->buf + c->parsed, c->len - c->parsed);
        if (e == HPE_OK) {
            c->parsed = c->len;
            break;
        }
        if (e == HPE_PAUSED) {
            c->parsed = (uint32_t)(llhttp_get_error_pos(&c->parser) - c->buf);
            llhttp_resume(&c->parser);
            continue;
        }
        c->parsed = c->len;
        body_fail(c, c->err_status == 413 ? CZ_EFULL : CZ_EPARSE);
        break;
    }
    if (!c->closed && c->state == CS_STREAM) {
        uint32_t keep = c->req_start + c->body_keep;
        if (c->parsed > keep) { /* drop what was delivered; keep the header block */
            memmove(c->buf + keep, c->buf + c->parsed, c->len - c->parsed);
            c->len -= c->parsed - keep;
            c->parsed = keep;
        }
        if (c->peer_eof && c->parsed == c->len && r->body_cb && !r->body_paused && !r->res.ended)
            body_fail(c, CZ_ECLOSED); /* the client closed before the body ended */
        else if (!r->body_paused)
            cz__conn_start_reading(c);
    }
    if (!c->closed && c->state == CS_HANDLING && r->body_complete && r->body_cb &&
        !r->body_done && !r->body_paused) {
        r->body_done = true;
        deliver(r, NULL, 0, 0);
    }
    c->pumping = false;
    c->in_process = outer;
    if (!outer && !c->closed) {
        if (c->state == CS_STREAM || c->state == CS_HANDLING)
            cz__conn_flush(c);
        else
            c->up->process(c); /* the request ended: discard the rest, parse the next */
    }
}

int cz__stream_on_body(cz_conn_t *c, const char *at, size_t n)
{
    cz_req_t *r = &c->req;
    if (c->state == CS_DISCARD) {
        if (n > c->discard_left) {
            c->err_status = 413;
            return HPE_USER;
        }
        c->discard_left -= (uint32_t)n;
        if (c->tl == TL_BODY)
            cz__tl_set(c, TL_BODY);
        return 0;
    }
    if (!r->body_cb)
        return HPE_PAUSED;
    r->body_seen += n;
    int64_t max = r->route->body_limit;
    if (max > 0 && r->body_seen > (uint64_t)max) {
        c->err_status = 413;
        return HPE_USER;
    }
    if (c->tl == TL_BODY)
        cz__tl_set(c, TL_BODY); /* progress refreshes the read timeout */
    deliver(r, at, n, 0);
    if (c->closed || c->state != CS_STREAM || r->body_paused || r->res.ended)
        return HPE_PAUSED; /* llhttp resumes after this piece */
    return 0;
}

void cz__stream_paused(cz_conn_t *c)
{
    if (c->state == CS_STREAM) { /* a stream route's header block: run its chain now */
        c->body_keep = c->parsed - c->req_start;
        cz__dispatch(&c->req);
        return;
    }
    /* CS_IDLE: a discarded body ended; what follows is the next request */
    c->req_start = c->parsed;
    cz__tl_set(c, TL_IDLE);
}

void cz__stream_eof(cz_conn_t *c, bool clean)
{
    cz_req_t *r = &c->req;
    if (r->res.ended) { /* answered; the answer is still being written */
        if (clean)
            c->close_after = true;
        else
            cz__conn_close(c);
        return;
    }
    if (!clean) {
        body_fail(c, CZ_ECLOSED);
        return;
    }
    if (r->body_done && r->cancel_cb) { /* the whole body is in: a client abort (see h1_conn.c) */
        cz__conn_close(c);
        return;
    }
    /* the body may be whole in the buffer: the pump delivers it, then reports the close;
     * a handler that has not started reading learns at cz_req_body_read */
    if (r->body_cb)
        cz__body_pump(c);
}

void cz__stream_timeout(cz_conn_t *c)
{
    if (c->state == CS_STREAM)
        body_fail(c, CZ_ETIMEOUT);
    else
        cz__conn_close(c); /* CS_DISCARD: the answer is out; the client stopped sending */
}

void cz__discard_fail(cz_conn_t *c)
{
    c->close_after = true;
    c->linger = true;
    c->state = CS_IDLE;
    if (!c->writing && !c->out_len && !c->big && !c->stream_writes && !c->done_pending)
        c->up->written(c); /* nothing left to write: linger now */
}

bool cz__stream_request_done(cz_conn_t *c)
{
    cz_req_t *r = &c->req;
    if (c->state == CS_LINGER || c->state == CS_CLOSING) { /* after an engine answer */
        cz__req_reset(r);
        return true;
    }
    if (c->state != CS_STREAM)
        return false;
    /* answered (or cancelled) before the body was read to its end */
    bool close = c->close_after || r->cancelled || r->body_err || c->peer_eof;
    cz__req_reset(r);
    if (close) { /* mostly decided when the answer was serialised (decide_close) */
        c->close_after = true;
        if (c->reading) {
            c->tr.ops->read_stop(&c->tr);
            c->reading = false;
        }
        c->state = CS_IDLE;
        cz__tl_set(c, TL_NONE);
        return true;
    }
    c->state = CS_DISCARD;
    c->discard_left = CZ__DISCARD_MAX;
    cz__tl_set(c, TL_BODY);
    if (!c->in_process)
        c->up->process(c);
    return true;
}

/* ---- the codec's body ops (cz__codec_ops_t): the exchange checked and recorded the call ---- */

int cz__h1_body_read(cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    if (c->state == CS_STREAM) {
        if (r->expect_continue) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            r->expect_continue = false;
            if (cz__conn_send_raw(c, cont, sizeof cont - 1) != 0) {
                cz__conn_close(c);
                return CZ_ECLOSED;
            }
        }
        if (!r->body_paused)
            cz__tl_set(c, TL_BODY);
        if (c->peer_eof && c->parsed == c->len && !r->body_paused) {
            body_fail(c, CZ_ECLOSED);
            return 0;
        }
    }
    cz__body_pump(c);
    return 0;
}

void cz__h1_body_pause(cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    if (c->state == CS_STREAM) {
        if (c->reading) {
            c->tr.ops->read_stop(&c->tr);
            c->reading = false;
        }
        if (c->tl == TL_BODY)
            cz__tl_set(c, TL_NONE); /* a paused body is the handler's wait, not the client's */
    }
}

void cz__h1_body_resume(cz_req_t *r)
{
    cz_conn_t *c = r->conn;
    if (c->state == CS_STREAM && r->body_cb) {
        cz__tl_set(c, TL_BODY);
        cz__conn_start_reading(c);
    }
    if (r->body_cb)
        cz__body_pump(c);
}
