/* SPDX-License-Identifier: MIT
 *
 * client_call.c: one upstream HTTP/1.1 exchange: serialising the request, writing it (uv_try_write
 * first, one uv_write for what is left), parsing the response with llhttp in response mode and
 * the call API (write, pause, resume, cancel).
 *
 * The request head and a whole body go out in one write from the connection's output buffer.
 * Body bytes of the response are delivered straight from the read buffer; only the header block
 * is copied (it may span reads). The parser is paused at the end of each response so that bytes
 * after it (a misbehaving upstream) keep the connection out of the pool. A reused connection that
 * fails before any response byte had been closed by the peer while idle: the request, kept in the
 * output buffer until the response begins, is re-sent once on a fresh connection (as nginx and
 * Go's transport do); info.stale_retry tells the caller. The llhttp callbacks are in parse.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client_int.h"
#include "czero/log.h"

static void call_finish(cz__cconn_t *k, int err, bool poolable);

/* ---- calls ---- */

static cz_call_t *call_alloc(cz_client_t *c)
{
    cz_call_t *call = c->free_calls;
    if (call) {
        c->free_calls = call->fnext;
        c->nfree_calls--;
    } else {
        call = malloc(sizeof *call);
        if (!call)
            return NULL;
    }
    memset(call, 0, sizeof *call);
    call->c = c;
    return call;
}

static void call_release(cz_call_t *call)
{
    cz_client_t *c = call->c;
    if (c->nfree_calls >= 256) {
        free(call);
        return;
    }
    call->fnext = c->free_calls;
    c->free_calls = call;
    c->nfree_calls++;
}

/* ---- output buffer ---- */

static int obuf_reserve(cz__cconn_t *k, size_t extra)
{
    if (k->olen + extra <= k->ocap)
        return 0;
    size_t cap = k->ocap ? k->ocap : 4096;
    while (cap < k->olen + extra)
        cap *= 2;
    char *nb = malloc(cap);
    if (!nb)
        return CZ_ENOMEM;
    if (k->olen)
        memcpy(nb, k->obuf, k->olen);
    if (k->obuf != k->wbase) /* a uv_write in flight still reads the old one */
        free(k->obuf);
    k->obuf = nb;
    k->ocap = cap;
    return 0;
}

/* Drop written bytes, unless they may be needed to replay the request on a fresh connection. */
static void obuf_compact(cz__cconn_t *k)
{
    cz_call_t *call = k->call;
    if (k->writing || k->ooff == 0)
        return;
    if (call && call->replay) {
        if (k->olen <= CZ__CL_HIGH_WATER)
            return;
        call->replay = false; /* too much to keep: a failure now is reported, not replayed */
    }
    if (k->ooff == k->olen) {
        k->olen = k->ooff = 0;
    } else if (k->ooff >= k->olen / 2 || k->ooff >= 65536) {
        memmove(k->obuf, k->obuf + k->ooff, k->olen - k->ooff);
        k->olen -= k->ooff;
        k->ooff = 0;
    }
}

static void header_deadline(cz__cconn_t *k)
{
    cz_call_t *call = k->call;
    if (k->state == CC_ACTIVE && !call->head_done && call->header_to) {
        k->dl_phase = uv_now(k->c->loop) + call->header_to;
        cz__cconn_arm(k);
    }
}

/* A write failed: stop sending, keep reading. The peer has closed or reset the connection, so
 * the read side reports it promptly (and a complete early response is still delivered). */
static void write_failed(cz__cconn_t *k)
{
    cz_call_t *call = k->call;
    if (!call || call->send_stopped)
        return;
    call->send_stopped = true;
    if (!call->head_done && !k->dl_phase)
        header_deadline(k);
}

static void on_write(uv_write_t *req, int status);

/* Tell a writer waiting for room that there is some (never from inside cz_call_write). */
static void drain_check(cz__cconn_t *k)
{
    cz_call_t *call = k->call;
    if (call && call->want_drain && k->olen - k->ooff < CZ__CL_LOW_WATER && !call->send_stopped) {
        call->want_drain = false;
        if (call->cbs->on_drain)
            call->cbs->on_drain(call, call->ud); /* may cancel: touch nothing after */
    }
}

static void flush(cz__cconn_t *k)
{
    if (k->tls) {
        cz__cconn_flush_tls(k);
        return;
    }
    cz_call_t *call = k->call;
    if (k->writing || k->state != CC_ACTIVE || !call || call->send_stopped)
        return;
    size_t n = k->olen - k->ooff;
    if (!n)
        return;
    uv_buf_t b = uv_buf_init(k->obuf + k->ooff, (unsigned)n);
    int r = uv_try_write((uv_stream_t *)&k->tcp, &b, 1);
    if (r == UV_EAGAIN || r == UV_ENOSYS)
        r = 0;
    if (r < 0) {
        write_failed(k);
        return;
    }
    if (r > 0) {
        call->info.sent_any = true;
        k->ooff += (size_t)r;
    }
    if (k->ooff < k->olen) {
        k->wbase = k->obuf;
        k->wlen = k->olen - k->ooff;
        b = uv_buf_init(k->obuf + k->ooff, (unsigned)k->wlen);
        if (uv_write(&k->wreq, (uv_stream_t *)&k->tcp, &b, 1, on_write) != 0) {
            k->wbase = NULL;
            write_failed(k);
            return;
        }
        k->writing = true;
    } else {
        obuf_compact(k);
    }
}

static void on_write(uv_write_t *req, int status)
{
    cz__cconn_t *k = cz__container_of(req, cz__cconn_t, wreq);
    k->writing = false;
    if (k->tls) {
        cz__tls_out_give(k->tls, &k->tw);
    } else {
        if (k->wbase != k->obuf)
            free(k->wbase);
        k->wbase = NULL;
    }
    if (k->state == CC_CLOSING || !k->call)
        return;
    cz_call_t *call = k->call;
    if (status < 0) {
        write_failed(k);
        return;
    }
    if (!k->tls) {
        call->info.sent_any = true;
        k->ooff += k->wlen;
        obuf_compact(k);
    } else if (k->tls_app) {
        call->info.sent_any = true;
    }
    flush(k);
    drain_check(k);
}

/* TLS: request bytes are encrypted only when no write is in flight, so what waits stays in obuf
 * and the high/low-water marks keep working; at most one buffer of ciphertext is in flight.
 * During the handshake only the session's own output goes out. */
void cz__cconn_flush_tls(cz__cconn_t *k)
{
    cz_call_t *call = k->call;
    if (k->writing || k->state == CC_CLOSING)
        return;
    if (k->state == CC_ACTIVE && call && !call->send_stopped && k->olen > k->ooff) {
        if (cz__tls_write(k->tls, k->obuf + k->ooff, k->olen - k->ooff) != CZ__TLS_OK) {
            write_failed(k);
            return;
        }
        k->ooff = k->olen;
        k->tls_app = true;
        obuf_compact(k);
    }
    size_t n;
    const uint8_t *p = cz__tls_out_peek(k->tls, &n);
    if (!n)
        return;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int r = uv_try_write((uv_stream_t *)&k->tcp, &b, 1);
    if (r == UV_EAGAIN || r == UV_ENOSYS)
        r = 0;
    if (r < 0) {
        if (call)
            write_failed(k);
        return;
    }
    cz__tls_out_consume(k->tls, (size_t)r);
    if (r > 0 && k->tls_app && call)
        call->info.sent_any = true;
    if ((size_t)r == n)
        return;
    cz__tls_out_take(k->tls, &k->tw);
    b = uv_buf_init((char *)k->tw.data, (unsigned)k->tw.len);
    if (uv_write(&k->wreq, (uv_stream_t *)&k->tcp, &b, 1, on_write) != 0) {
        cz__tls_out_give(k->tls, &k->tw);
        if (call)
            write_failed(k);
        return;
    }
    k->writing = true;
}

/* ---- serialising ---- */

static bool has_crlf(cz_str_t s) { return cz__has_line_break(s.p, s.n, false); }

/* Framing headers are the client's to write, from the body it is given. */
static bool is_framing(cz_str_t name)
{
    return cz_str_ieq(name, CZ_STR("Content-Length")) ||
           cz_str_ieq(name, CZ_STR("Transfer-Encoding"));
}

int cz__client_req_check(const cz_client_req_t *rq)
{
    if (!rq->method.n || !rq->target.n || has_crlf(rq->method) || has_crlf(rq->target) ||
        memchr(rq->method.p, ' ', rq->method.n) || memchr(rq->target.p, ' ', rq->target.n))
        return CZ_EARG;
    if (rq->nheaders && (!rq->hname || !rq->hvalue))
        return CZ_EARG;
    for (size_t i = 0; i < rq->nheaders; i++) {
        cz_str_t hn = rq->hname[i], hv = rq->hvalue[i];
        if (!hn.n || cz__has_line_break(hn.p, hn.n, true) || has_crlf(hv))
            return CZ_EARG;
    }
    return 0;
}

/* The head's size for a request already checked (cz__client_req_check). */
static void req_size(const cz_client_req_t *rq, size_t alen, size_t *out, bool *has_host)
{
    size_t n = rq->method.n + 1 + rq->target.n + 11 + 2;
    *has_host = false;
    for (size_t i = 0; i < rq->nheaders; i++) {
        cz_str_t hn = rq->hname[i], hv = rq->hvalue[i];
        if (cz_str_ieq(hn, CZ_STR("Host")))
            *has_host = true;
        n += hn.n + 2 + hv.n + 2;
    }
    if (!*has_host)
        n += 6 + alen + 2;
    n += 48; /* framing header */
    if (!rq->body_stream)
        n += rq->body.n;
    *out = n;
}

int cz__client_req_size(const cz_client_req_t *rq, size_t alen, size_t *out, bool *has_host)
{
    int rc = cz__client_req_check(rq);
    if (rc != 0)
        return rc;
    req_size(rq, alen, out, has_host);
    return 0;
}

static inline char *put(char *w, const void *s, size_t n)
{
    cz__copy(w, s, n);
    return w + n;
}

size_t cz__client_req_write(char *out, const cz_client_req_t *rq, const char *addr, bool has_host)
{
    char *w = out;
    w = put(w, rq->method.p, rq->method.n);
    *w++ = ' ';
    w = put(w, rq->target.p, rq->target.n);
    w = put(w, " HTTP/1.1\r\n", 11);
    for (size_t i = 0; i < rq->nheaders; i++) {
        if (is_framing(rq->hname[i]))
            continue;
        w = put(w, rq->hname[i].p, rq->hname[i].n);
        *w++ = ':';
        *w++ = ' ';
        w = put(w, rq->hvalue[i].p, rq->hvalue[i].n);
        *w++ = '\r';
        *w++ = '\n';
    }
    if (!has_host) {
        w = put(w, "Host: ", 6);
        w = put(w, addr, strlen(addr));
        *w++ = '\r';
        *w++ = '\n';
    }
    if (rq->body_stream && rq->body_len < 0) {
        w = put(w, "Transfer-Encoding: chunked\r\n", 28);
    } else {
        uint64_t len = rq->body_stream ? (uint64_t)rq->body_len : rq->body.n;
        bool want = rq->body_stream || rq->body.n || cz_str_eq(rq->method, CZ_STR("POST")) ||
                    cz_str_eq(rq->method, CZ_STR("PUT")) || cz_str_eq(rq->method, CZ_STR("PATCH"));
        if (want)
            w += sprintf(w, "Content-Length: %llu\r\n", (unsigned long long)len);
    }
    *w++ = '\r';
    *w++ = '\n';
    if (!rq->body_stream && rq->body.n)
        w = put(w, rq->body.p, rq->body.n);
    return (size_t)(w - out);
}

size_t cz__client_chunk(char *out, const void *data, size_t n)
{
    if (n == 0) {
        memcpy(out, "0\r\n\r\n", 5);
        return 5;
    }
    char *w = out + sprintf(out, "%zx\r\n", n);
    w = put(w, data, n);
    *w++ = '\r';
    *w++ = '\n';
    return (size_t)(w - out);
}

/* ---- the call API ---- */

/* The client's own context for "https://" addrs given without one: go-zero's httpc (Go's
 * default transport) verifies against the system's CAs, so does this. NULL when it cannot be
 * made (logged once per attempt: no CA bundle, no memory). */
static cz_tls_ctx_t *client_tls_default(cz_client_t *c)
{
    if (c->tls_default)
        return c->tls_default;
    cz_tls_client_conf_t conf = {0};
    char err[256];
    if (cz_tls_client_ctx_new(&conf, &c->tls_default, err, sizeof err) != 0) {
        cz_log_error("client: no TLS context for https:// addresses: %s", err);
        return NULL;
    }
    return c->tls_default;
}

/* checked: the caller ran cz__client_req_check on rq already (the gateway does, before it picks
 * a node), so the headers are not scanned a second time. */
static int call_start(cz_client_t *c, const cz_client_req_t *rq, const cz_call_cbs_t *cbs,
                      void *ud, cz_call_t **out, int fd, bool checked)
{
    if (!c || !rq || !cbs || !cbs->on_done || !rq->addr)
        return CZ_EARG;
    if (c->closing)
        return CZ_ECLOSED;
    const char *addr = rq->addr;
    cz_tls_ctx_t *tls = fd >= 0 ? NULL : rq->tls; /* a borrowed fd is the caller's transport */
    if (addr[0] == 'h' && strncmp(addr, "http", 4) == 0) { /* a scheme, or a name "h..." */
        if (strncmp(addr + 4, "s://", 4) == 0) {
            addr += 8;
            if (fd < 0 && !tls && !(tls = client_tls_default(c)))
                return CZ_ETLS;
        } else if (strncmp(addr + 4, "://", 3) == 0) {
            addr += 7;
            tls = NULL;
        }
    }
    size_t alen = strlen(addr), need;
    bool has_host;
    int rc;
    if (!checked && (rc = cz__client_req_check(rq)) != 0)
        return rc;
    req_size(rq, alen, &need, &has_host);
    cz__pool_t *p = cz__pool_get(c, addr, tls);
    if (!p)
        return CZ_EARG;
    p->max_idle = rq->pool_size;
    p->idle_ms = rq->pool_idle_timeout_ms;
    cz_call_t *call = call_alloc(c);
    if (!call)
        return CZ_ENOMEM;
    call->cbs = cbs;
    call->ud = ud;
    call->start_hr = uv_hrtime();
    uint64_t now = uv_now(c->loop);
    uint64_t total = rq->total_timeout_ms ? rq->total_timeout_ms : c->o.total_timeout_ms;
    call->dl_total = total ? now + total : 0;
    call->connect_to = rq->connect_timeout_ms ? rq->connect_timeout_ms : c->o.connect_timeout_ms;
    call->header_to = rq->header_timeout_ms ? rq->header_timeout_ms : c->o.header_timeout_ms;
    call->read_to = rq->read_timeout_ms ? rq->read_timeout_ms : c->o.read_timeout_ms;
    call->stream = rq->body_stream;
    call->body_len = rq->body_stream ? rq->body_len : (int64_t)rq->body.n;
    call->chunked = rq->body_stream && rq->body_len < 0;
    call->body_done = !rq->body_stream;
    call->is_head = cz_str_eq(rq->method, CZ_STR("HEAD"));

    cz__cconn_t *k = fd >= 0 ? NULL : cz__pool_take(p);
    if (fd >= 0) {
        k = cz__cconn_open_fd(c, p, fd, &rc);
        if (!k) {
            call_release(call);
            return rc;
        }
        call->info.connected = true;
    } else if (k) {
        k->reused = true;
        call->info.reused = true;
        call->replay = true;
        c->st.reuses++;
    } else {
        call->connect_hr = call->start_hr;
        k = cz__cconn_open(c, p, call->connect_to ? now + call->connect_to : 0, &rc);
        if (!k) {
            call_release(call);
            return rc;
        }
        k->reused = false;
        call->info.addrs_tried = 1;
    }
    if (obuf_reserve(k, need) != 0) {
        if (k->state == CC_ACTIVE)
            cz__cconn_pool(k);
        else
            cz__cconn_close(k);
        call_release(call);
        return CZ_ENOMEM;
    }
    k->call = call;
    call->conn = k;
    k->olen += cz__client_req_write(k->obuf + k->olen, rq, addr, has_host);
    c->st.active++;
    if (k->state == CC_ACTIVE) {
        k->dl_phase = 0;
        if (call->body_done)
            header_deadline(k);
        cz__cconn_arm(k);
        flush(k);
    } else {
        cz__cconn_arm(k);
    }
    if (out)
        *out = call;
    return 0;
}

int cz_call_write(cz_call_t *call, const void *data, size_t n)
{
    if (!call || !call->stream || call->body_done || !call->conn)
        return CZ_EARG;
    if (call->send_stopped)
        return CZ_ECLOSED;
    if (call->body_len >= 0 && call->body_written + (int64_t)n > call->body_len)
        return CZ_EARG;
    if (n == 0)
        return 0;
    cz__cconn_t *k = call->conn;
    if (obuf_reserve(k, n + CZ__CHUNK_OVERHEAD) != 0)
        return CZ_ENOMEM;
    if (call->chunked) {
        k->olen += cz__client_chunk(k->obuf + k->olen, data, n);
    } else {
        memcpy(k->obuf + k->olen, data, n);
        k->olen += n;
    }
    call->body_written += (int64_t)n;
    flush(k);
    if (k->olen - k->ooff >= CZ__CL_HIGH_WATER) {
        call->want_drain = true;
        return 1;
    }
    return 0;
}

int cz_call_write_end(cz_call_t *call)
{
    if (!call || !call->stream || call->body_done || !call->conn)
        return CZ_EARG;
    if (call->send_stopped)
        return CZ_ECLOSED;
    if (call->body_len >= 0 && call->body_written != call->body_len)
        return CZ_EARG;
    cz__cconn_t *k = call->conn;
    if (call->chunked) {
        if (obuf_reserve(k, CZ__CHUNK_OVERHEAD) != 0)
            return CZ_ENOMEM;
        k->olen += cz__client_chunk(k->obuf + k->olen, NULL, 0);
    }
    call->body_done = true;
    header_deadline(k);
    flush(k);
    return 0;
}

void cz_call_pause(cz_call_t *call)
{
    if (!call || call->paused || !call->conn) /* no conn: on_done is running */
        return;
    call->paused = true;
    cz__cconn_t *k = call->conn;
    if (call->head_done)
        k->dl_phase = 0; /* the consumer is slow, not the upstream: no read timeout meanwhile */
    /* inside the parser the callback's return value pauses it, and parse() stops reading */
    if (!k->in_parse && k->reading && k->state == CC_ACTIVE) {
        uv_read_stop((uv_stream_t *)&k->tcp);
        k->reading = false;
    }
}

void cz_call_resume(cz_call_t *call)
{
    if (!call || !call->paused || !call->conn)
        return;
    call->paused = false;
    cz__cconn_t *k = call->conn;
    if (call->head_done && call->read_to && k->state == CC_ACTIVE) {
        k->dl_phase = uv_now(k->c->loop) + call->read_to;
        cz__cconn_arm(k);
    }
    if (k->in_parse || k->state != CC_ACTIVE)
        return;
    /* Parse from the loop even with nothing buffered: a pause at the last body byte leaves
     * llhttp one step short of the end of the message. parse() then restarts reading. */
    cz__cconn_kick(k);
}

void cz_call_cancel(cz_call_t *call)
{
    if (!call || call->cancelled || !call->conn)
        return;
    call->cancelled = true;
    cz__cconn_t *k = call->conn;
    if (k->in_parse)
        return; /* parse() ends it when llhttp returns */
    k->call = NULL;
    call->c->st.active--;
    cz__cconn_close(k);
    call_release(call);
}

int cz_client_call(cz_client_t *c, const cz_client_req_t *rq, const cz_call_cbs_t *cbs, void *ud,
                   cz_call_t **out)
{
    return call_start(c, rq, cbs, ud, out, -1, false);
}

int cz__client_call_checked(cz_client_t *c, const cz_client_req_t *rq, const cz_call_cbs_t *cbs,
                            void *ud, cz_call_t **out)
{
    return call_start(c, rq, cbs, ud, out, -1, true);
}

int cz__client_call_fd(cz_client_t *c, int fd, const cz_client_req_t *rq, const cz_call_cbs_t *cbs,
                       void *ud, cz_call_t **out)
{
    if (fd < 0)
        return CZ_EARG;
    return call_start(c, rq, cbs, ud, out, fd, false);
}

/* ---- completion ---- */

static void call_finish(cz__cconn_t *k, int err, bool poolable)
{
    cz_call_t *call = k->call;
    cz_client_t *c = k->c;
    k->call = NULL;
    call->conn = NULL;
    bool pool = err == 0 && poolable && k->keep && call->body_done && !call->send_stopped &&
                !k->writing && k->olen == k->ooff && k->state == CC_ACTIVE &&
                (!k->tls || (!cz__tls_has_input(k->tls) && !cz__tls_closed(k->tls)));
    if (pool) {
        llhttp_reset(&k->parser);
        k->rlen = 0;
        k->hlen = k->nh = 0;
        k->raw_head = 0;
        k->keep = false;
        cz__cconn_pool(k);
    } else {
        cz__cconn_close(k);
    }
    c->st.active--;
    if (!call->cancelled)
        call->cbs->on_done(call, err, &call->info, call->ud);
    call_release(call);
}

void cz__call_fail(cz_call_t *call, int err)
{
    call_finish(call->conn, err, false);
}

/* The reused connection k died before any response byte: send the request again, once, on a
 * fresh connection. */
static void stale_retry(cz__cconn_t *old)
{
    cz_call_t *call = old->call;
    cz_client_t *c = call->c;
    int rc;
    uint64_t now = uv_now(c->loop);
    cz__cconn_t *k = cz__cconn_open(c, old->pool, call->connect_to ? now + call->connect_to : 0,
                                    &rc);
    if (!k || (rc = obuf_reserve(k, old->olen)) != 0) {
        if (k)
            cz__cconn_close(k);
        cz__call_fail(call, rc);
        return;
    }
    memcpy(k->obuf, old->obuf, old->olen);
    k->olen = old->olen;
    old->call = NULL;
    cz__cconn_close(old);
    k->call = call;
    call->conn = k;
    call->replay = false;
    call->send_stopped = false;
    call->connect_hr = uv_hrtime();
    call->info.reused = false;
    call->info.sent_any = false;
    call->info.stale_retry = true;
    call->info.addrs_tried = k->tries;
    c->st.stale++;
    cz__cconn_arm(k);
}

/* k's connect failed (refused, unreachable, its connect timeout): move the call to a fresh
 * connection to the name's next address, as nginx's proxy_next_upstream does for the addresses
 * of a proxy_pass name. Each address gets the connect timeout; the total deadline bounds all.
 * Nothing was written yet, so the output buffer simply changes hands. false: none left. */
static bool next_addr(cz__cconn_t *k, int err)
{
    cz_call_t *call = k->call;
    cz_client_t *c = call->c;
    uint64_t now = uv_now(c->loop);
    if (err == UV_ECANCELED || (call->dl_total && now >= call->dl_total))
        return false;
    int rc = 0;
    cz__cconn_t *n = cz__cconn_open_next(k, call->connect_to ? now + call->connect_to : 0, &rc);
    if (!n)
        return false;
    n->obuf = k->obuf;
    n->ocap = k->ocap;
    n->olen = k->olen;
    n->ooff = k->ooff;
    k->obuf = NULL;
    k->ocap = k->olen = k->ooff = 0;
    k->call = NULL;
    cz__cconn_close(k);
    n->call = call;
    call->conn = n;
    call->info.addrs_tried = n->tries;
    cz__cconn_arm(n);
    return true;
}

void cz__call_connected(cz__cconn_t *k, int status)
{
    cz_call_t *call = k->call;
    if (!call)
        return;
    if (status != 0) {
        if (k->state != CC_CONNECTING || !next_addr(k, status))
            cz__call_fail(call, status);
        return;
    }
    call->info.connected = true;
    call->info.connect_ns = uv_hrtime() - call->connect_hr;
    k->dl_phase = 0;
    if (call->body_done)
        header_deadline(k);
    flush(k);
    drain_check(k);
}

void cz__call_on_timer(cz__cconn_t *k)
{
    /* a connect timeout (not the total one) falls through to the next address */
    if (k->state == CC_CONNECTING && next_addr(k, CZ_ETIMEOUT))
        return;
    cz__call_fail(k->call, CZ_ETIMEOUT);
}

void cz__call_on_read(cz__cconn_t *k, ssize_t nread)
{
    cz_call_t *call = k->call;
    if (!call) {
        cz__cconn_close(k);
        return;
    }
    if (nread > 0) {
        k->rlen += (uint32_t)nread;
        if (call->head_done && call->read_to) /* moved later: the timer re-checks, no re-arm */
            k->dl_phase = uv_now(k->c->loop) + call->read_to;
        cz__call_parse(k);
        return;
    }
    if (nread == UV_EOF && call->info.response_started) {
        /* a body delimited by the close ends here */
        k->in_parse = true;
        llhttp_finish(&k->parser);
        k->in_parse = false;
        if (k->call != call || k->state == CC_CLOSING)
            return;
        if (call->cancelled) {
            call->aborted = true;
            cz__call_fail(call, CZ_ECLOSED);
            return;
        }
        if (call->msg_done) {
            call_finish(k, 0, false);
            return;
        }
    }
    if (!call->info.response_started && call->replay && !call->info.stale_retry) {
        stale_retry(k);
        return;
    }
    cz__call_fail(call, nread == UV_EOF ? CZ_ECLOSED : (int)nread);
}

void cz__call_parse(cz__cconn_t *k)
{
    cz_call_t *call = k->call;
    if (!call)
        return;
    if (!call->info.response_started && k->rlen) {
        call->info.response_started = true;
        call->info.ttfb_ns = uv_hrtime() - call->start_hr;
        if (call->replay) {
            call->replay = false;
            obuf_compact(k);
        }
    }
    if (!call->head_done) {
        k->raw_head += k->rlen;
        if (k->raw_head > k->c->o.max_header_bytes + CZ__CL_RBUF) {
            cz__call_fail(call, CZ_EPARSE);
            return;
        }
    }
    k->in_parse = true;
    llhttp_errno_t e = llhttp_execute(&k->parser, k->rbuf, k->rlen);
    k->in_parse = false;
    if (k->call != call || k->state == CC_CLOSING)
        return; /* the client was closed from a callback */
    if (call->cancelled) {
        k->call = NULL;
        call->c->st.active--;
        cz__cconn_close(k);
        call_release(call);
        return;
    }
    if (e == HPE_OK) {
        /* the next read overwrites the buffer: a head still coming keeps what it has so far */
        if (!call->head_done && cz__head_spill(k) != 0) {
            cz__call_fail(call, CZ_ENOMEM);
            return;
        }
        k->rlen = 0;
        cz__cconn_read_start(k);
        return;
    }
    if (e == HPE_PAUSED) {
        size_t used = (size_t)(llhttp_get_error_pos(&k->parser) - k->rbuf);
        if (call->msg_done) {
            call_finish(k, 0, used == k->rlen);
            return;
        }
        llhttp_resume(&k->parser);
        memmove(k->rbuf, k->rbuf + used, k->rlen - used);
        k->rlen -= (uint32_t)used;
        if (call->paused) {
            if (k->reading) {
                uv_read_stop((uv_stream_t *)&k->tcp);
                k->reading = false;
            }
        } else {
            cz__cconn_kick(k); /* paused and resumed inside the callback */
        }
        return;
    }
    cz__call_fail(call, call->aborted ? CZ_ECLOSED : CZ_EPARSE);
}
