/* SPDX-License-Identifier: MIT
 *
 * h1_conn.c: one HTTP/1.1 connection: reading, parsing with llhttp, limits, timeouts, pipelining.
 *
 * A connection serves one request at a time. llhttp is paused at the end of each message so the
 * bytes of pipelined requests stay in the read buffer until the current response is written:
 * answers leave in request order and a slow handler applies back-pressure instead of buffering.
 * Limits are enforced while parsing: request line (414), header block (431: the read buffer is
 * exactly MaxHeaderBytes, so a header block that does not fit is too large), body (413, from
 * Content-Length before reading, or while reading chunks). llhttp's strict mode rejects what
 * enables request smuggling (CL with TE, two Content-Lengths, bad chunk sizes, CR/LF/NUL in
 * values); the callbacks refuse what it lets through, to RFC 9112 as strictly as nginx: empty
 * or non-token header names (400), a version other than 1.0/1.1 (505), and through h1_framing.c
 * obsolete line folding, a missing, repeated or invalid Host, a Transfer-Encoding other than
 * exactly one "chunked" (501), a bad absolute-form target. Each such request gets its answer
 * with no handler run, and the connection is closed after it.
 *
 * Bytes come in through the connection's transport (c->tr, transport/transport.h), whose
 * callbacks this file registers; a parsed request goes to the exchange (cz__dispatch), which
 * answers through the codec's ops (cz__h1_codec, at the end of this file). This file is the
 * codec's top: the files below it (h1_body.c, h1_write.c, h1_link.c) call its state machine
 * back only through c->up. What this file is not: serialising answers (h1_write.c), streamed
 * request bodies (h1_body.c), the connection's primitives: timers, buffers, closing
 * (h1_link.c), the server lifecycle (server.c).
 */
#include <stdlib.h>
#include <string.h>
#include "http/http_int.h"
#include "czero/log.h"

enum { CB_NONE, CB_FIELD, CB_VALUE };

static void on_read(cz__transport_t *t, ssize_t nread);
static void alloc_cb(cz__transport_t *t, uv_buf_t *out);
static void process(cz_conn_t *c);
/* what the files below call back (cz__h1_up_t) */
static const cz__h1_up_t conn_up = {
    .request_done = cz__conn_request_done,
    .written = cz__conn_written,
    .process = cz__conn_process,
};

/* what the connection registers with its transport */
static const cz__transport_cbs_t conn_cbs = {.alloc = alloc_cb, .read = on_read, .closed = cz__h1_closed};

/* Reusable: nothing to answer and nothing half read, so closing it loses no request (nginx's
 * reusable connections); a TL_IDLE one may still be writing. Bytes the transport holds that the
 * loop has not read yet (a request just sent) make it not reusable either: one ioctl for TCP,
 * on the drain path only. */
static bool reusable(cz_conn_t *c)
{
    if (c->state != CS_IDLE || c->writing || c->closed || c->req.in_handler ||
        c->parsed != c->len)
        return false;
    return !c->tr.ops->unread(&c->tr);
}

size_t cz__conn_drain(cz_worker_t *w, size_t max)
{
    size_t n = 0, seen = 0;
    cz_conn_t *a = w->tl[TL_IDLE].head, *f = w->tl[TL_FRESH].head;
    uint64_t ta = w->tl[TL_IDLE].timeout_ms, tf = w->tl[TL_FRESH].timeout_ms;
    while (n < max && (a || f) && seen++ < 256) { /* bounded: skipped ones cost a syscall */
        /* oldest first: the one that entered its list earlier (deadline minus its timeout) */
        cz_conn_t *c;
        if (!f || (a && a->deadline - ta <= f->deadline - tf)) {
            c = a;
            a = a->tnext;
        } else {
            c = f;
            f = f->tnext;
        }
        if (!reusable(c))
            continue;
        cz__conn_close(c);
        n++;
    }
    return n;
}

static void alloc_cb(cz__transport_t *t, uv_buf_t *out)
{
    cz_conn_t *c = (cz_conn_t *)t;
    if (c->state >= CS_LINGER) {
        if (c->state == CS_LINGER) { /* discard: reuse the whole buffer */
            if (!c->buf)
                c->buf = cz__h1_buf_get(c->w);
            cz__linger_reset(c);
        } else if (c->state == CS_DISCARD && c->parsed == c->len) {
            c->len = c->parsed = c->req_start = 0;
        }
    }
    if (!c->buf) {
        c->buf = cz__h1_buf_get(c->w);
        c->cap = c->w->srv->buf_size;
        c->len = c->parsed = c->req_start = 0;
        if (!c->buf) {
            *out = uv_buf_init(NULL, 0);
            return;
        }
    }
    if (c->len == c->cap && c->state != CS_HANDLING) {
        /* Make room. Headers: move the request to the front (positions are relative to
         * req_start). Body: drop body bytes already copied out, keep the header block. */
        if (c->state == CS_BODY || c->state == CS_STREAM) {
            /* before the first body byte, everything parsed belongs to the header block */
            uint32_t keep = c->body_keep ? c->req_start + c->body_keep : c->parsed;
            if (c->parsed > keep) {
                memmove(c->buf + keep, c->buf + c->parsed, c->len - c->parsed);
                c->len -= c->parsed - keep;
                c->parsed = keep;
            }
        } else if (c->req_start > 0) {
            memmove(c->buf, c->buf + c->req_start, c->len - c->req_start);
            c->len -= c->req_start;
            c->parsed -= c->req_start;
            c->req_start = 0;
        }
    }
    *out = uv_buf_init(c->buf + c->len, c->cap - c->len);
}

static void conn_setup(cz_worker_t *w, cz_conn_t *c)
{
    c->w = w;
    c->up = &conn_up;
    w->nconns++;
    c->anext = w->all;
    if (w->all)
        w->all->aprev = c;
    w->all = c;
    llhttp_init(&c->parser, HTTP_REQUEST, &w->srv->parser_settings);
    /* any well-formed "HTTP/d.d" reaches on_version_complete, which answers 505 for all but
     * 1.0 and 1.1 (strict llhttp takes 0.9 and 2.0, and refuses 1.2 as malformed: 400) */
    c->parser.lenient_flags |= LENIENT_VERSION;
    c->parser.data = c;
    c->req.conn = c;
    c->req.codec = &cz__h1_codec;
    c->req.w = w;
    cz_arena_init(&c->req.arena, 4096);
    cz__req_reset(&c->req);
    c->state = CS_IDLE;
    cz__tl_set(c, TL_FRESH); /* its first byte must come within HeaderTimeout */
    c->reading = true;
    if (c->tr.ops->read_start(&c->tr) != 0)
        cz__conn_close(c);
}

cz_conn_t *cz__conn_open_fd(cz_worker_t *w, int fd)
{
    cz_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (w->transport_open(&c->tr, &w->loop, fd, &conn_cbs) != 0)
        return NULL; /* c is freed once the transport's handle is closed */
    conn_setup(w, c);
    return c;
}

bool cz__h1_accept(cz_worker_t *w, int fd) { return cz__conn_open_fd(w, fd) != NULL; }

/* After an error answer: stop parsing, half-close once the answer is out, and read until the
 * peer closes so it can read the answer even while it is still sending (lingering close). */
static void fail(cz_conn_t *c, int status)
{
    c->linger = true;
    c->close_after = true;
    /* a routed request refused before its chain ran (413 on Content-Length) still carries
     * its route's CORS headers, so a browser can read why */
    cz__send_simple(c, status, c->req.route ? cz__chain_outer_headers(&c->req) : NULL);
}

static void on_read(cz__transport_t *t, ssize_t nread)
{
    cz_conn_t *c = (cz_conn_t *)t;
    if (nread > 0) {
        if (c->state >= CS_LINGER) {
            if (c->state == CS_LINGER) { /* discard; more data extends the wait, as nginx */
                cz__linger_reset(c);
                cz__tl_set(c, TL_LINGER);
                return;
            }
            if (c->state == CS_STREAM) {
                c->len += (uint32_t)nread;
                cz__body_pump(c);
                return;
            }
        }
        c->len += (uint32_t)nread;
        if (c->state == CS_IDLE && !c->writing) {
            c->state = CS_HEADERS;
            cz__tl_set(c, TL_HEADER);
        }
        process(c);
        return;
    }
    if (nread == 0)
        return;
    if (nread == UV_ENOBUFS) { /* buffer full while a handler runs: back-pressure */
        c->tr.ops->read_stop(t);
        c->reading = false;
        if (c->state == CS_HEADERS || c->state == CS_BODY)
            fail(c, c->url_done ? 431 : 414);
        return;
    }
    /* EOF or error. A request being handled still gets its answer if the peer only half-closed,
     * unless its handler can be cancelled (cz_req_on_cancel): then, as nginx does for a proxied
     * request (proxy_ignore_client_abort off), the client is taken to have gone (499) and the
     * handler stops its upstream work. Otherwise the connection is done. */
    c->tr.ops->read_stop(t);
    c->reading = false;
    c->peer_eof = true;
    if (c->state == CS_STREAM) { /* the body may still be complete in the buffer */
        cz__stream_eof(c, nread == UV_EOF);
        return;
    }
    if (nread == UV_EOF && c->state == CS_HANDLING && !c->req.cancelled && !c->req.cancel_cb) {
        c->close_after = true;
        return;
    }
    cz__conn_close(c);
}

/* ---- parser callbacks ---- */

static inline cz_conn_t *conn_of(llhttp_t *p) { return p->data; }

static inline uint32_t rel(cz_conn_t *c, const char *at)
{
    return (uint32_t)(at - c->buf) - c->req_start;
}

static int on_message_begin(llhttp_t *p)
{
    cz_conn_t *c = conn_of(p);
    c->url_len = 0;
    c->url_done = false;
    c->nh = 0;
    c->last_cb = CB_NONE;
    c->body_keep = 0;
    c->err_status = 0;
    if (c->state == CS_IDLE)
        c->state = CS_HEADERS;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    cz_conn_t *c = conn_of(p);
    if (c->url_len == 0)
        c->url_off = rel(c, at);
    c->url_len += (uint32_t)n;
    if (c->url_len > (uint64_t)c->w->srv->conf.max_request_line) {
        c->err_status = 414;
        return HPE_USER;
    }
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    conn_of(p)->url_done = true;
    return 0;
}

static int on_version_complete(llhttp_t *p)
{
    if (p->http_major == 1 && p->http_minor <= 1)
        return 0;
    conn_of(p)->err_status = 505;
    return HPE_USER;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    cz_conn_t *c = conn_of(p);
    if (c->last_cb != CB_FIELD) {
        if (c->nh == CZ__MAX_HEADERS) {
            c->err_status = 431;
            return HPE_USER;
        }
        uint32_t i = c->nh++;
        c->hno[i] = rel(c, at);
        c->hnl[i] = 0;
        c->hvo[i] = c->hvl[i] = 0;
        c->last_cb = CB_FIELD;
    }
    c->hnl[c->nh - 1] += (uint32_t)n; /* continuation pieces are contiguous in the buffer */
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    cz_conn_t *c = conn_of(p);
    if (c->nh == 0) { /* a value with no field: never from llhttp 8.1, refused all the same */
        c->err_status = 400;
        return HPE_USER;
    }
    uint32_t i = c->nh - 1;
    /* a header line folded onto the previous one (obs-fold): a proxy could not pass it on as
     * received, and nginx refuses it too. Not looked for in trailers: they are not passed on,
     * and the body's bytes before them may be gone from the buffer. */
    if (c->state == CS_HEADERS && cz__framing_folded(c, c->last_cb != CB_VALUE, at, n)) {
        c->err_status = 400;
        return HPE_USER;
    }
    if (c->last_cb != CB_VALUE) {
        c->hvo[i] = rel(c, at);
        c->last_cb = CB_VALUE;
    }
    c->hvl[i] += (uint32_t)n;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    cz_conn_t *c = conn_of(p);
    cz_req_t *r = &c->req;
    cz_server_t *s = c->w->srv;
    const char *base = c->buf + c->req_start;

    r->nheaders = c->nh;
    for (uint32_t i = 0; i < c->nh; i++) {
        if (!c->hnl[i]) { /* ": v": no name */
            c->err_status = 400;
            return HPE_USER;
        }
        for (uint32_t k = 0; k < c->hnl[i]; k++) {
            if (!cz__is_token[(unsigned char)base[c->hno[i] + k]]) { /* RFC 9110 field-name */
                c->err_status = 400;
                return HPE_USER;
            }
        }
        const char *val = base + c->hvo[i];
        uint32_t vl = c->hvl[i];
        while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t')) /* trailing OWS (RFC 9110 5.5) */
            vl--;
        r->hname[i] = (cz_str_t){base + c->hno[i], c->hnl[i]};
        r->hvalue[i] = (cz_str_t){val, vl};
    }
    r->method = cz_str_c(llhttp_method_name(llhttp_get_method(p)));
    r->target = (cz_str_t){base + c->url_off, c->url_len};
    r->version = p->http_major * 10 + p->http_minor;
    int st = cz__framing_head(c); /* Host, Transfer-Encoding, absolute-form: before routing */
    if (st) {
        c->err_status = st;
        return HPE_USER;
    }
    r->keep_alive = llhttp_should_keep_alive(p);
    r->head = llhttp_get_method(p) == HTTP_HEAD;
    r->start_ns = uv_hrtime();
    r->content_length = (p->flags & F_CHUNKED) ? -1 : (int64_t)p->content_length;

    st = cz__req_route(r);
    if (st) {
        c->err_status = st;
        return HPE_USER;
    }
    int64_t max = r->route ? r->route->body_limit : s->conf.max_bytes;
    bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    if ((p->flags & F_CONTENT_LENGTH) && max > 0 && p->content_length > (uint64_t)max) {
        c->err_status = 413;
        return HPE_USER;
    }
    cz_str_t expect = cz_req_header(r, "Expect");
    if (expect.p) {
        if (!cz_str_ieq(expect, CZ_STR("100-continue"))) {
            c->err_status = 417;
            return HPE_USER;
        }
        if (has_body && r->version >= 11 && r->route &&
            (r->route->flags & CZ_ROUTE_STREAM_BODY)) {
            r->expect_continue = true; /* sent when the handler starts reading */
        } else if (has_body && r->version >= 11) {
            /* Behind the answers of earlier pipelined requests that may still wait in the
             * output buffer (parsing only runs with no write in flight, so nothing else is
             * queued): process() flushes it once the parser stops for the body. */
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            char *o = cz__out_reserve(c, sizeof cont - 1);
            if (!o) {
                c->err_status = 503;
                return HPE_USER;
            }
            memcpy(o, cont, sizeof cont - 1);
            c->out_len += sizeof cont - 1;
        }
    }
    if (r->route && (r->route->flags & CZ_ROUTE_STREAM_BODY)) {
        /* the chain runs now (process() sees the pause in CS_STREAM); the body follows through
         * cz_req_body_read. Without a body the request is dispatched as usual, complete. */
        r->stream_body = true;
        if (!has_body) {
            r->body_complete = true;
            return 0;
        }
        c->state = CS_STREAM;
        cz__tl_set(c, TL_NONE);
        return HPE_PAUSED;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length) {
        /* Sized for the announced body, up to 1 MiB: with MaxBytes off a client could otherwise
         * make us reserve whatever it announces; a larger body grows as it arrives (on_body). */
        r->body_cap = p->content_length < (1u << 20) ? p->content_length : (1u << 20);
        char *b = cz_arena_alloc(&r->arena, r->body_cap);
        if (!b) {
            c->err_status = 503;
            return HPE_USER;
        }
        r->body = (cz_str_t){b, 0};
    }
    if (has_body) {
        c->state = CS_BODY;
        cz__tl_set(c, TL_BODY);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    cz_conn_t *c = conn_of(p);
    cz_req_t *r = &c->req;
    if (c->state != CS_BODY) /* CS_STREAM or CS_DISCARD */
        return cz__stream_on_body(c, at, n);
    if (!c->body_keep) /* first body bytes: everything before them is the header block */
        c->body_keep = (uint32_t)(at - c->buf) - c->req_start;
    int64_t max = r->route ? r->route->body_limit : c->w->srv->conf.max_bytes;
    size_t need = r->body.n + n;
    if (max > 0 && need > (uint64_t)max) {
        c->err_status = 413;
        return HPE_USER;
    }
    if (need > r->body_cap) { /* chunked: grow geometrically in the arena */
        size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        if (max > 0 && cap > (uint64_t)max)
            cap = (size_t)max;
        char *b = cz_arena_alloc(&r->arena, cap);
        if (!b) {
            c->err_status = 503;
            return HPE_USER;
        }
        if (r->body.n)
            memcpy(b, r->body.p, r->body.n);
        r->body.p = b;
        r->body_cap = cap;
    }
    memcpy((char *)r->body.p + r->body.n, at, n);
    r->body.n += n;
    if (c->tl == TL_BODY)
        cz__tl_set(c, TL_BODY); /* progress refreshes the read timeout */
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    cz_conn_t *c = conn_of(p);
    if (c->state >= CS_STREAM) {
        /* a streamed body ended: the handler goes on (CS_HANDLING) and gets the end from
         * cz__body_pump; a discarded one ended: the next request may be parsed (CS_IDLE) */
        c->req.body_complete = c->state == CS_STREAM;
        c->state = c->state == CS_STREAM ? CS_HANDLING : CS_IDLE;
        cz__tl_set(c, TL_NONE);
        return HPE_PAUSED;
    }
    c->state = CS_HANDLING;
    cz__tl_set(c, TL_NONE);
    return HPE_PAUSED;
}

void cz__parser_settings_init(llhttp_settings_t *st)
{
    llhttp_settings_init(st);
    st->on_message_begin = on_message_begin;
    st->on_url = on_url;
    st->on_url_complete = on_url_complete;
    st->on_version_complete = on_version_complete;
    st->on_header_field = on_header_field;
    st->on_header_value = on_header_value;
    st->on_headers_complete = on_headers_complete;
    st->on_body = on_body;
    st->on_message_complete = on_message_complete;
}

/* ---- the processing loop ---- */

static int status_for(llhttp_errno_t e, cz_conn_t *c)
{
    if (c->err_status) /* a callback that refused the message said why */
        return c->err_status;
    return e == HPE_INVALID_TRANSFER_ENCODING ? cz__framing_te_refused(c) : 400;
}

void cz__conn_process(cz_conn_t *c) { process(c); }

static void process(cz_conn_t *c)
{
    if (c->in_process)
        return; /* re-entered from a handler that finished synchronously */
    c->in_process = true;
    while (!c->closed && !c->writing && !c->req.in_handler && c->state != CS_LINGER &&
           !c->close_after && !c->done_pending && !c->stream_writes) {
        if (c->parsed == c->len) {
            if (c->state == CS_IDLE && c->buf) { /* nothing pending: give the buffer back */
                cz__h1_buf_put(c->w, c->buf);
                c->buf = NULL;
                c->len = c->parsed = c->req_start = 0;
            }
            break;
        }
        if (c->state == CS_IDLE) {
            c->state = CS_HEADERS;
            cz__tl_set(c, TL_HEADER);
        }
        const char *data = c->buf + c->parsed;
        llhttp_errno_t e = llhttp_execute(&c->parser, data, c->len - c->parsed);
        if (e == HPE_OK) {
            c->parsed = c->len;
            if (c->state == CS_HEADERS && c->len == c->cap && c->req_start == 0)
                fail(c, c->url_done ? 431 : 414);
            break;
        }
        if (e == HPE_PAUSED) {
            c->parsed = (uint32_t)(llhttp_get_error_pos(&c->parser) - c->buf);
            llhttp_resume(&c->parser);
            if (c->state != CS_HANDLING) { /* a stream route's header block, or a discard's end */
                cz__stream_paused(c);
                continue;
            }
            cz__dispatch(&c->req);
            continue;
        }
        if (c->state == CS_DISCARD) {
            cz__discard_fail(c);
            break;
        }
        fail(c, status_for(e, c));
        break;
    }
    c->in_process = false;
    cz__conn_flush(c);
    if (!c->closed && !c->reading && !c->close_after && c->state != CS_HANDLING)
        cz__conn_start_reading(c);
}

/* Called when a response has been fully handed to the socket (or the request was cancelled). */
void cz__conn_request_done(cz_conn_t *c)
{
    cz_req_t *r = &c->req;
    if (c->closed) {
        if (!r->in_handler)
            cz__conn_release(c);
        return;
    }
    if (c->state >= CS_LINGER && cz__stream_request_done(c))
        return;
    cz__req_reset(r);
    c->req_start = c->parsed;
    c->state = CS_IDLE;
    cz__tl_set(c, TL_IDLE);
    if (c->parsed == c->len && c->buf) {
        c->len = c->parsed = c->req_start = 0;
    }
    if (!c->in_process)
        process(c);
}

/* Called by h1_write.c when the output buffer has drained. */
void cz__conn_written(cz_conn_t *c)
{
    if (c->closed)
        return;
    if (c->close_after) {
        if (c->linger && !c->peer_eof) {
            c->state = CS_LINGER;
            cz__tl_set(c, TL_LINGER);
            c->tr.ops->shutdown(&c->tr);
            cz__conn_start_reading(c);
        } else {
            cz__conn_close(c);
        }
        return;
    }
    if (c->w->stopping && c->state == CS_IDLE && c->parsed == c->len) {
        cz__conn_close(c);
        return;
    }
    if (c->state == CS_IDLE)
        cz__tl_set(c, c->parsed < c->len ? TL_HEADER : TL_IDLE);
    else if (c->state == CS_DISCARD || c->state == CS_BODY) /* CS_BODY: after a queued 100 */
        cz__tl_set(c, TL_BODY);
    if (!c->in_process)
        process(c);
}

/* ---- timeouts and shutdown ---- */

void cz__conn_tick(cz_worker_t *w, uint64_t now)
{
    for (int i = TL_IDLE; i < TL_COUNT; i++) {
        cz__tlist_t *l = &w->tl[i];
        while (l->head && l->head->deadline <= now) {
            cz_conn_t *c = l->head;
            cz__tl_set(c, TL_NONE);
            if (c->state >= CS_STREAM && i == TL_BODY)
                cz__stream_timeout(c);
            else if ((i == TL_HEADER || i == TL_BODY) && !c->writing)
                fail(c, 408); /* slowloris: the header block or body did not arrive in time */
            else /* idle, or new and silent (TL_FRESH: as nginx, no answer), or stuck writing */
                cz__conn_close(c);
        }
    }
    cz__swl_tick(w, now);
}

void cz__worker_start_stop(cz_worker_t *w)
{
    /* Idle keep-alive connections go now; the others finish their request and close after. */
    for (cz_conn_t *c = w->all, *next; c; c = next) {
        next = c->anext;
        if ((c->state == CS_IDLE || c->state == CS_DISCARD) && !c->writing)
            cz__conn_close(c);
        else
            c->close_after = c->close_after || c->state == CS_HANDLING || c->state == CS_STREAM;
    }
}

/* ---- the codec's side of an exchange (cz__codec_ops_t) ---- */

static size_t h1_pending(const cz_req_t *r) { return r->conn->tr.ops->queued(&r->conn->tr); }
static void h1_done(cz_req_t *r) { cz__conn_request_done(r->conn); }

static void h1_flush(cz_req_t *r)
{
    if (!r->conn->in_process)
        cz__conn_flush(r->conn);
}

static void h1_close(cz_req_t *r) { cz__conn_close(r->conn); }
static void h1_close_after(cz_req_t *r) { r->conn->close_after = true; }
static const cz__transport_t *h1_transport(const cz_req_t *r) { return &r->conn->tr; }
static const char *h1_proto(const cz_req_t *r) { return r->version == 10 ? "HTTP/1.0" : "HTTP/1.1"; }

const cz__codec_ops_t cz__h1_codec = {
    .proto = h1_proto,
    .finish = cz__h1_finish,
    .send = cz__h1_send,
    .stream_head = cz__h1_stream_head,
    .stream_write = cz__h1_stream_write,
    .stream_end = cz__h1_stream_end,
    .pending = h1_pending,
    .done = h1_done,
    .flush = h1_flush,
    .close = h1_close,
    .close_after = h1_close_after,
    .body_read = cz__h1_body_read,
    .body_pause = cz__h1_body_pause,
    .body_resume = cz__h1_body_resume,
    .remote = cz__h1_remote,
    .transport = h1_transport,
};
