/* SPDX-License-Identifier: MIT
 *
 * h1_int.h: the HTTP/1.1 codec's connection and functions (included by http_int.h, after
 * exchange.h: a connection embeds the one request it serves). Nothing here is public API.
 *
 * A connection owns its read buffer, output buffer and the one request it is serving
 * (pipelined requests wait in the read buffer and are parsed only after the current response
 * is written, so answers stay in order); it moves bytes only through its transport (c->tr).
 */
#ifndef CZERO_H1_INT_H
#define CZERO_H1_INT_H

/* Timer lists: each holds connections waiting with the same timeout, so appending keeps it
 * sorted by deadline and the tick only looks at the heads (no heap, O(1) refresh).
 * TL_FRESH holds new connections that have sent nothing yet (HeaderTimeout, closed without an
 * answer); with TL_IDLE it is where reusable connections are found, oldest first, when the
 * worker is out of connections (accept.c, cz__conn_drain). */
enum { TL_NONE, TL_IDLE, TL_FRESH, TL_HEADER, TL_BODY, TL_WRITE, TL_LINGER, TL_COUNT };

typedef struct cz__tlist {
    cz_conn_t *head, *tail;
    uint64_t timeout_ms;
} cz__tlist_t;

/* The connection's state machine (h1_conn.c) as the files below it call it back: an answer is
 * out or a request released, so the next pipelined request may be parsed. h1_conn.c registers
 * it on each connection (c->up); h1_body.c, h1_write.c and h1_link.c call h1_conn.c through it
 * only, so the codec's files call one way too. */
typedef struct cz__h1_up {
    void (*request_done)(cz_conn_t *c); /* cz__conn_request_done */
    void (*written)(cz_conn_t *c);      /* cz__conn_written */
    void (*process)(cz_conn_t *c);      /* cz__conn_process */
} cz__h1_up_t;

enum conn_state {
    CS_IDLE,     /* keep-alive, waiting for the first byte of a request */
    CS_HEADERS,  /* reading the request line and headers */
    CS_BODY,     /* reading the body */
    CS_HANDLING, /* the handler runs (inline, async or on the pool) */
    CS_LINGER,   /* error answered; discarding input until EOF or timeout */
    CS_CLOSING,
    /* kept last: `state >= CS_STREAM` is the one test the normal path pays */
    CS_STREAM,   /* a stream route runs while its body is still being read */
    CS_DISCARD,  /* answered before its body was read: parse and drop the rest of a small body */
};

struct cz_conn {
    cz__transport_t tr; /* first: the transport's address is the connection's */
    cz_worker_t *w;
    const cz__h1_up_t *up; /* h1_conn.c's, for the files below it */
    llhttp_t parser;
    /* read buffer: [0,len) holds data, [parsed,len) is not parsed yet, the current request's
     * bytes start at req_start; header positions below are relative to req_start so the block
     * can be moved to the front when the buffer fills. */
    char *buf;
    uint32_t cap, len, parsed, req_start, body_keep;
    uint32_t url_off, url_len;
    uint32_t hno[CZ__MAX_HEADERS], hnl[CZ__MAX_HEADERS], hvo[CZ__MAX_HEADERS], hvl[CZ__MAX_HEADERS];
    uint32_t nh;
    uint8_t state, last_cb, tl;
    bool url_done, reading, writing, close_after, linger, peer_eof, closed, in_process;
    bool done_pending; /* the request ends when the pending write completes */
    bool pumping;      /* h1_body.c cz__body_pump is on the stack */
    uint32_t discard_left; /* CS_DISCARD: bytes still accepted before closing instead */
    uint32_t stream_writes; /* chunk writes of a streamed response in flight */
    int err_status; /* set by a parser callback before it fails the parse */
    uint64_t deadline;
    cz_conn_t *tprev, *tnext;  /* timer list */
    /* A streamed response's write deadline has its own list (worker's swl), so it holds while
     * the one slot above carries a stream route's body-read deadline at the same time. */
    uint64_t wdeadline;
    cz_conn_t *wprev, *wnext;
    bool in_swl;
    cz_conn_t *aprev, *anext;  /* worker's list of all connections */
    /* output */
    char *out;
    size_t out_len, out_cap;
    const char *big;   /* a large body written from the arena without copying */
    size_t big_len;
    cz__twrite_t wreq;
    char remote[64];
    uint8_t remote_len;
    cz_req_t req;
};

/* ---- h1/: the HTTP/1.1 codec, top (h1_conn.c) to bottom (h1_link.c) ---- */
/* h1_conn.c: reading, parsing, the connection's state machine, the codec ops table */
extern const cz__codec_ops_t cz__h1_codec;
/* Serve an already connected stream socket (accept.c through w->conn_open; tests and the
 * parser fuzz targets use socketpairs). */
cz_conn_t *cz__conn_open_fd(cz_worker_t *w, int fd);
bool cz__h1_accept(cz_worker_t *w, int fd); /* cz__conn_open_fd, for w->conn_open */
/* Close up to max reusable connections (keep-alive idle, or new with nothing sent), oldest
 * first, to free their descriptors now. Returns how many were closed. */
size_t cz__conn_drain(cz_worker_t *w, size_t max);
void cz__conn_tick(cz_worker_t *w, uint64_t now);
void cz__worker_start_stop(cz_worker_t *w);
void cz__parser_settings_init(llhttp_settings_t *st);
/* the state machine's events, which the files below reach through c->up (cz__h1_up_t) */
void cz__conn_request_done(cz_conn_t *c);
void cz__conn_written(cz_conn_t *c);
void cz__conn_process(cz_conn_t *c);       /* parse and dispatch what the read buffer holds */
/* Bytes of a stream route's body it may still drop to keep the connection (else it closes). */
#define CZ__DISCARD_MAX 65536u
/* h1_body.c: streamed request bodies (CZ_ROUTE_STREAM_BODY) */
void cz__body_pump(cz_conn_t *c);          /* deliver buffered body bytes to the handler */
int cz__stream_on_body(cz_conn_t *c, const char *at, size_t n); /* llhttp on_body, not CS_BODY */
void cz__stream_paused(cz_conn_t *c);      /* process() saw a pause outside CS_HANDLING */
void cz__stream_eof(cz_conn_t *c, bool clean);
void cz__stream_timeout(cz_conn_t *c);     /* TL_BODY expired in CS_STREAM / CS_DISCARD */
bool cz__stream_request_done(cz_conn_t *c); /* request done in CS_LINGER and later states */
void cz__discard_fail(cz_conn_t *c);       /* a discarded body was too large or malformed */
void cz__linger_reset(cz_conn_t *c);       /* empty the read buffer while lingering */
int cz__h1_body_read(cz_req_t *r);         /* the codec's body ops (cz__codec_ops_t) */
void cz__h1_body_pause(cz_req_t *r);
void cz__h1_body_resume(cz_req_t *r);
/* h1_write.c: serialising and writing answers: the functions behind cz__h1_codec's finish,
 * send and stream ops */
void cz__h1_finish(cz_req_t *r);
int cz__h1_send(cz_req_t *r);
int cz__h1_stream_head(cz_req_t *r, bool fixed, uint64_t len);
int cz__h1_stream_write(cz_req_t *r, const void *data, size_t n);
void cz__h1_stream_end(cz_req_t *r);
cz_str_t cz__h1_remote(const cz_req_t *r);
char *cz__out_reserve(cz_conn_t *c, size_t need); /* room at the end of the output buffer */
/* Serialise status line and headers; chunked = streaming framing. Returns 0 or CZ_ENOMEM. */
int cz__write_head(cz_conn_t *c, cz_req_t *r, int status, bool chunked, size_t clen);
void cz__decide_close(cz_conn_t *c, cz_req_t *r);
/* An answer the codec gives itself (a request it refused while parsing, 408): Connection: close,
 * extra_headers ("Name: value\r\n"..., or NULL) before the body. */
void cz__send_simple(cz_conn_t *c, int status, const char *extra_headers);
void cz__conn_flush(cz_conn_t *c);
/* Send raw bytes ("100 Continue") in order behind whatever is already queued. */
int cz__conn_send_raw(cz_conn_t *c, const char *data, size_t n);
void cz__chunks_free(cz_worker_t *w);
void cz__date_update(cz_worker_t *w);
/* h1_link.c: the connection's primitives (they call nothing above them; the timer lists and
 * read buffers are inline in http_int.h: cz__tl_set, cz__h1_buf_get, cz__h1_buf_put) */
void cz__conn_start_reading(cz_conn_t *c); /* unless closed, at EOF or a paused stream */
void cz__conn_close(cz_conn_t *c);
void cz__conn_release(cz_conn_t *c);       /* free it once the transport closed */
void cz__h1_closed(cz__transport_t *t);    /* the transport's closed callback */
/* The streamed-response write deadline: on = (re)start it, off = drop it. */
void cz__swl_set(cz_conn_t *c, bool on);
void cz__swl_tick(cz_worker_t *w, uint64_t now);
/* h1_framing.c: RFC 9112 checks llhttp leaves to us; each returns 0 or the status to answer */
/* The header value piece at..n (the first of its header, or not) starts a folded line. */
bool cz__framing_folded(cz_conn_t *c, bool first, const char *at, size_t n);
/* After the header block (r's headers, target and version set, before routing): Host and
 * Transfer-Encoding (400, 501), then an absolute-form target made origin-form (400). */
int cz__framing_head(cz_conn_t *c);
/* The status for llhttp's own HPE_INVALID_TRANSFER_ENCODING: 400 when repeated, else 501. */
int cz__framing_te_refused(cz_conn_t *c);
/* A Host header value or an absolute-form authority: RFC 3986 host (reg-name, IPv4, [IPv6])
 * with an optional port; what nginx's ngx_http_validate_host accepts, less its laxities. */
bool cz__host_valid(const char *p, size_t n);
/* An absolute-form target ("http://a/x?q", RFC 9112 3.2.2): the target becomes origin-form
 * ("/x?q") and its authority the request's Host, replacing the Host header (host_i, its index,
 * or -1: then one is added). 0, or the status to fail with (400 for another scheme or a bad
 * authority). */
int cz__req_absolute(cz_req_t *r, int host_i);

#endif
