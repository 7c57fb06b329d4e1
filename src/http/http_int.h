/* SPDX-License-Identifier: MIT
 *
 * http_int.h: private structures of the HTTP engine and the interfaces between its layers.
 * Nothing here is public API.
 *
 * The layers, each in its folder, calls going one way (down the list), and back up only
 * through the interface the upper one registers:
 *   server.c      the lifecycle: routes, workers, listeners, the tick; wires the layers
 *   h1/           the HTTP/1.1 codec on llhttp: bytes to exchanges, answers to bytes; it holds
 *                 the connection (cz_conn_t) and moves bytes only through its transport's ops
 *   exchange/     request, response, dispatch, the middleware chain, handlers, the blocking
 *                 pool, the router; it reaches the wire only through the codec's ops
 *                 (cz__codec_ops_t below), so it cannot tell HTTP/1.1 from another codec
 *   mw/           the built-in middleware links, on the exchange's API
 *   transport/    bytes in and out of one connection (transport.h), accepting, listening; it
 *                 calls the codec only through the callbacks registered with it
 *
 * Ownership: a worker owns its loop, listener and connections; a connection owns its read
 * buffer, output buffer and the one request it is serving (pipelined requests wait in the read
 * buffer and are parsed only after the current response is written, so answers stay in order).
 */
#ifndef CZERO_HTTP_INT_H
#define CZERO_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>
#include <llhttp.h>
#include "czero/server.h"
#include "czero/router.h"
#include "czero/shedder.h"
#include "czero/middleware.h"
#include "internal.h"
#include "http/transport/transport.h"

#define CZ__MAX_HEADERS 100
#define CZ__TICK_MS 100

typedef struct cz_worker cz_worker_t;
typedef struct cz_conn cz_conn_t;

typedef struct cz__route {
    char *method;
    char *pattern; /* with the group prefix */
    cz_handler_fn handler;
    void *ud;
    unsigned flags;
    int index;          /* in the server's route array */
    int64_t timeout_ms; /* as given by the group: 0 = config Timeout, <0 = none */
    int64_t max_bytes;  /* as given by the group: 0 = config MaxBytes */
    int64_t body_limit; /* effective body limit after the MaxBytes switch: 0 = none */
    bool priority, signature, recover;
    char *jwt_secret, *jwt_prev;
    cz_mw_t *group_mws; /* copied from cz_route_opts_t */
    size_t ngroup_mws;
    /* the compiled chain (chain.c) */
    cz_mw_t *chain;
    uint16_t nchain;
    size_t *ctx_off;    /* per middleware: offset of its state in the request's ctx block */
    size_t ctx_size;
} cz__route_t;

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

struct cz_res {
    int status;
    char *hdrs; /* "Name: value\r\n"... in the arena */
    size_t hdrs_len, hdrs_cap;
    size_t hdrs_mark; /* headers set before the handler ran (middlewares'): kept on a timeout */
    char *body;
    size_t body_len, body_cap;
    bool streaming, head_sent, ended, has_ctype, finish_deferred;
    bool fixed_len; /* cz_res_stream_begin_length: raw body of fixed_total bytes, not chunked */
    bool aborted;   /* cz_res_abort: the connection was closed under the answer */
    bool refused;   /* cz_res_mark_refused: a local refusal, not a breaker outcome */
    uint64_t fixed_total;
    void (*drain_cb)(cz_res_t *, void *); /* cz_res_on_drain */
    void *drain_ud;
    /* cz_logic_error's record, answered by cz_httpx_fail (httpx.c); errx_status 0 = none */
    int errx_status, errx_code;
    const char *errx_msg;
};

/* What the exchange asks of the codec that carries it (h1/h1_write.c for HTTP/1.1, an HTTP/2
 * codec next): the exchange calls the wire only through these, the codec calls the exchange's
 * functions (cz__dispatch, cz__res_finish, ...) directly. */
typedef struct cz__codec_ops {
    const char *(*proto)(const cz_req_t *r); /* "HTTP/1.1", "HTTP/1.0" (cz_req_proto) */
    /* The collected answer is final: unless the output is pinned by a write in flight (then the
     * codec sets res.finish_deferred and calls cz__res_finish again once it is free),
     * cz__res_settle, serialise, and release the request once it is written. */
    void (*finish)(cz_req_t *r);
    /* Serialise the collected answer now, the request staying the handler's (an answer the
     * engine gives while a handler holds the request: the timeout's 503). 0, or -1 when the
     * connection had to be closed. */
    int (*send)(cz_req_t *r);
    /* Streamed answers: the head (sets res->streaming, head_sent), a piece (framed as the
     * protocol wants), and the end: the last piece queued, the request released once written. */
    int (*stream_head)(cz_req_t *r, bool fixed, uint64_t len);
    int (*stream_write)(cz_req_t *r, const void *data, size_t n);
    void (*stream_end)(cz_req_t *r);
    size_t (*pending)(const cz_req_t *r); /* answer bytes queued to the peer (back-pressure) */
    void (*done)(cz_req_t *r);            /* the exchange released the request */
    void (*flush)(cz_req_t *r);           /* write what is queued (unless the codec is parsing) */
    void (*close)(cz_req_t *r);           /* close the connection under the request now */
    void (*close_after)(cz_req_t *r);     /* close once the answer is out */
    /* streamed request bodies (CZ_ROUTE_STREAM_BODY): r->body_cb is set before body_read */
    int (*body_read)(cz_req_t *r);
    void (*body_pause)(cz_req_t *r);
    void (*body_resume)(cz_req_t *r);
    cz_str_t (*remote)(const cz_req_t *r); /* "ip:port" of the peer */
    const cz__transport_t *(*transport)(const cz_req_t *r);
} cz__codec_ops_t;

typedef struct cz__qparam {
    cz_str_t name, value;
} cz__qparam_t;

struct cz_req {
    cz_conn_t *conn;                /* the codec's: the exchange never looks inside */
    const cz__codec_ops_t *codec;   /* how the exchange reaches the wire */
    bool link_closed;               /* the codec closed the connection under the request */
    cz_worker_t *w;
    cz_arena_t arena;
    cz_str_t method, target, path, query;
    cz_str_t hname[CZ__MAX_HEADERS], hvalue[CZ__MAX_HEADERS];
    uint32_t nheaders;
    int version;
    cz_str_t body;
    size_t body_cap;
    const cz__route_t *route;
    cz_route_match_t match;
    cz__qparam_t *qparams;
    int nqparams; /* -1 until parsed */
    uint64_t start_ns;
    bool head, keep_alive, cancelled, in_handler, async, blocking;
    bool calling, ended_early; /* handler on the stack; it called cz_res_end itself */
    cz_res_t res;
    cz_req_t *pool_next; /* blocking pool queue / completion list */
    void (*cancel_cb)(cz_req_t *, void *);
    void *cancel_ud;
    /* middleware chain */
    void *mw_ctx;       /* the route's ctx block, from the arena */
    void *trace_ctx;    /* the trace link's ctx in mw_ctx once its enter ran, else NULL */
    uint16_t mw_i;      /* cursor: middlewares [0, mw_i) have passed and get leave() */
    bool parked, timed_out, panicked;
    cz_req_t *to_prev, *to_next; /* the worker's timeout list of the route */
    uint64_t to_deadline;
    bool in_to_list;
    /* streamed request body (CZ_ROUTE_STREAM_BODY, h1/h1_body.c): delivered to body_cb as parsed */
    int64_t content_length; /* -1 chunked, 0 none */
    uint64_t body_seen;     /* body bytes parsed so far */
    cz_body_fn body_cb;     /* set by cz_req_body_read */
    void *body_ud;
    bool stream_body;       /* the route streams its body */
    bool body_complete;     /* the parser reached the end of the message */
    bool body_done;         /* the end or an error was delivered: no more callbacks */
    bool body_paused, body_err, expect_continue;
    bool engine_answered;   /* the engine answered (413/408/400) while the handler held it */
};

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

struct cz_worker {
    cz_server_t *srv;
    int id;
    uv_loop_t loop;
    uv_poll_t listener; /* readiness of listen_fd: accept.c accepts itself */
    uv_async_t wake;  /* shutdown request, blocking-pool completions */
    uv_timer_t tick;
    pthread_t thread;
    cz__tlist_t tl[TL_COUNT];
    cz__tlist_t swl;  /* connections with streamed-response writes pending (WriteTimeout) */
    cz_conn_t *all;   /* every open connection */
    size_t nconns;
    size_t nclosing;  /* of nconns, closed (descriptor released) but not yet freed */
    size_t max_conns; /* this worker's share of MaxConnections */
    int spare_fd;     /* kept open to be closed when out of descriptors (accept.c), or -1 */
    /* the codec accept.c hands a new connection to (server.c sets it), and how it frees
     * descriptors by closing reusable connections (cz__conn_drain) */
    bool (*conn_open)(cz_worker_t *w, int fd);
    size_t (*conn_drain)(cz_worker_t *w, size_t max);
    bool accept_paused; /* out of descriptors with nothing to free: retried at the next tick */
    /* accept.c's counters: written by this worker's thread, read by /metrics and the log */
    uint64_t conns_drained, conns_refused, accept_nofd;
    char date[64];    /* "Date: ...\r\n" */
    size_t date_len;
    int64_t date_sec;
    void *free_bufs;  /* recycled read buffers (singly linked through their first word) */
    size_t nfree_bufs;
    bool listening, stopping;
    uint64_t stop_deadline;
    pthread_mutex_t done_mu;
    cz_req_t *done;   /* blocking requests finished by the pool */
    int listen_fd;
    struct cz__rlist { cz_req_t *head, *tail; } *timeouts; /* per route, same timeout each */
    struct cz_client *client; /* cz_req_client(): created on first use, closed at stop */
    void *free_chunks;        /* recycled streamed-response chunk buffers (h1/h1_write.c) */
    size_t nfree_chunks;
    uv_prepare_t turn;            /* runs before each poll: resets turn_ms */
    uint64_t turn_ms;             /* uv_now when this turn's first request reached shedding */
    uint64_t busy_t0, busy_idle0; /* the loop-busy sampler's last sample (worker_load.c) */
    int64_t busy_pm;              /* atomic: the loop's smoothed busy share, permille */
};

typedef struct cz__pool cz__pool_t;

/* The server's own API as server.c registers it on every server (cz_server_t.api): how a part
 * below the lifecycle runs a server of its own without calling up into server.c (the dev
 * listener, devserver.c, which the Prometheus link starts while the chain is built). */
typedef struct cz__server_api {
    cz_server_t *(*create)(const cz_rest_conf_t *conf, cz_diag_t *d);
    int (*add_routes)(cz_server_t *s, const cz_route_t *routes, size_t n,
                      const cz_route_opts_t *opts, cz_diag_t *d);
    int (*start)(cz_server_t *s);
    int (*port)(const cz_server_t *s);
    void (*shutdown)(cz_server_t *s);
    void (*wait)(cz_server_t *s);
    void (*destroy)(cz_server_t *s);
} cz__server_api_t;

struct cz_server {
    const cz__server_api_t *api; /* server.c's, for the parts below it */
    cz_rest_conf_t conf;
    char *host;
    cz_router_t *router;
    cz__route_t **routes;
    size_t nroutes, routes_cap;
    cz_handler_fn not_found, not_allowed;
    void *not_found_ud, *not_allowed_ud;
    cz_worker_t *workers;
    int nworkers;
    int port;
    cz__pool_t *pool;
    atomic_int stopping;
    atomic_int stop_accepting; /* cz_server_stop_accepting */
    const cz_server_t *inherit; /* cz_server_inherit_listeners, until start */
    atomic_int running_workers;
    bool started;
    bool listen_held;    /* counted in listen.c's table of this process's addresses */
    uint32_t buf_size;
    llhttp_settings_t parser_settings;
    void **mw_state;     /* per built-in module (chain.c) */
    cz_mw_t *use;        /* cz_server_use() */
    size_t nuse;
    atomic_long inflight; /* requests in handlers, for MaxConns */
    cz_shedder_t *shedder, *priority_shedder;
    struct cz__devserver *dev; /* metrics/health listener (devserver.c), or NULL */
    /* JWT routes (mw/jwt_auth.c): cz_server_set_unauthorized, cz_server_set_jwt_policy */
    cz_unauthorized_fn unauthorized;
    void *unauthorized_ud;
    unsigned jwt_algs;
    int64_t jwt_leeway_s;
    struct cz__stop_hook { void (*fn)(void *loop, void *ud); void *ud; } *stop_hooks;
    size_t nstop_hooks; /* cz_server_on_worker_stop */
    /* accept.c: the at-most-once-a-second log of connections drained or refused */
    pthread_mutex_t conn_log_mu;
    uint64_t conn_log_ms, conn_logged[3];
};

/* ---- h1/: the HTTP/1.1 codec ---- */
extern const cz__codec_ops_t cz__h1_codec; /* h1_write.c */
/* h1_conn.c: serve an already connected stream socket (accept.c through w->conn_open; tests
 * and the parser fuzz targets use socketpairs). */
cz_conn_t *cz__conn_open_fd(cz_worker_t *w, int fd);
bool cz__h1_accept(cz_worker_t *w, int fd); /* cz__conn_open_fd, for w->conn_open */
void cz__conn_close(cz_conn_t *c);
/* Close up to max reusable connections (keep-alive idle, or new with nothing sent), oldest
 * first, to free their descriptors now. Returns how many were closed. */
size_t cz__conn_drain(cz_worker_t *w, size_t max);
void cz__conn_tick(cz_worker_t *w, uint64_t now);
void cz__conn_request_done(cz_conn_t *c);
void cz__worker_start_stop(cz_worker_t *w);
void cz__tl_set(cz_conn_t *c, int list);
void cz__conn_written(cz_conn_t *c);
/* Bytes of a stream route's body it may still drop to keep the connection (else it closes). */
#define CZ__DISCARD_MAX 65536u
void cz__parser_settings_init(llhttp_settings_t *st);
void cz__conn_process(cz_conn_t *c);       /* parse and dispatch what the read buffer holds */
void cz__conn_start_reading(cz_conn_t *c); /* unless closed, at EOF or a paused stream */
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
/* h1_write.c: serialising and writing answers */
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
/* The streamed-response write deadline: on = (re)start it, off = drop it. */
void cz__swl_set(cz_conn_t *c, bool on);
void cz__swl_tick(cz_worker_t *w, uint64_t now);
void cz__chunks_free(cz_worker_t *w);
void cz__date_update(cz_worker_t *w);
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

/* ---- exchange/ ---- */
extern const bool cz__is_token[256]; /* RFC 9110 tchar (response.c) */
static inline bool cz__body_allowed(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}
/* request.c */
void cz__req_reset(cz_req_t *r);
int cz__req_route(cz_req_t *r); /* 0 or an HTTP status to fail the request with */
/* dispatch.c: one exchange from dispatch to release */
/* A parsed request: its route's chain, or the 404/405 answer. */
void cz__dispatch(cz_req_t *r);
void cz__run_handler(cz_req_t *r);
void cz__chain_run(cz_req_t *r);   /* run the route's middlewares from the cursor, then the handler */
void cz__chain_leave(cz_req_t *r); /* leave() for the middlewares that passed, in reverse */
void cz__res_finish(cz_req_t *r);
/* The codec takes the collected answer (cz__codec_ops_t.finish): a blocking handler that
 * outlived its timeout gets its 503, the chain leaves. */
void cz__res_timed_out(cz_req_t *r);
static inline void cz__res_settle(cz_req_t *r)
{
    if (r->timed_out)
        cz__res_timed_out(r);
    cz__chain_leave(r);
}
/* The codec serialised the answer of r (status, body bytes): the unrouted one is logged here,
 * a routed one by the log link. */
void cz__res_sent_unrouted(cz_req_t *r, int status, uint64_t bytes);
static inline void cz__res_sent(cz_req_t *r, int status, uint64_t bytes)
{
    if (!r->route)
        cz__res_sent_unrouted(r, status, bytes);
}
/* Phase one of finishing: leave() the chain and serialise, without releasing the request (the
 * timeout answers while the handler still holds it). status/body replace the answer when set. */
void cz__res_complete(cz_req_t *r, int status, const char *body);
/* The codec answered r by itself (a refused request, 408): the access line. */
void cz__req_refused_logged(cz_req_t *r, int status, uint64_t bytes);
/* The headers of r's CZ_MW_OUTER links (CORS), "Name: value\r\n"... in the arena, for an answer
 * the engine gives before the chain runs (413); NULL when none. */
const char *cz__chain_outer_headers(cz_req_t *r);
void cz__worker_drain_done(cz_worker_t *w); /* finish the requests the blocking pool ran */
/* The streamed answer's front half (cz_res_stream_begin / _write, and cz_res_write once a
 * stream began): inline so response.c's builder shares it without calling into dispatch.c. */
static inline int cz__res_stream_begin(cz_res_t *res, bool fixed, uint64_t len)
{
    cz_req_t *r = cz__container_of(res, cz_req_t, res);
    if (res->streaming)
        return fixed ? CZ_EARG : 0;
    if (r->cancelled || r->link_closed)
        return CZ_ECLOSED;
    return r->codec->stream_head(r, fixed, len);
}
static inline int cz__res_stream_write(cz_res_t *res, const void *data, size_t n)
{
    cz_req_t *r = cz__container_of(res, cz_req_t, res);
    if (!res->streaming && cz__res_stream_begin(res, false, 0) != 0)
        return CZ_ECLOSED;
    if (r->cancelled || r->link_closed)
        return CZ_ECLOSED;
    if (n == 0 || r->head)
        return 0;
    if (res->fixed_len && n > res->fixed_total - res->body_len) /* the head promised fewer */
        return CZ_EFULL;
    res->body_len += n; /* counts bytes for the access log */
    return r->codec->stream_write(r, data, n);
}
/* chain.c: each route's middleware array, built at start */
int cz__chain_build(cz_server_t *s, cz_diag_t *d);
void cz__chain_stop(cz_server_t *s);
void cz__chain_free(cz_server_t *s);
static inline void *cz__chain_ctx(cz_req_t *r, size_t i)
{
    const cz__route_t *rt = r->route;
    if (!rt->chain[i].ops->ctx_size)
        return NULL;
    return (char *)r->mw_ctx + rt->ctx_off[i];
}
/* pool.c */
int cz__pool_new(cz__pool_t **p, int threads, int queue);
int cz__pool_submit(cz__pool_t *p, cz_req_t *r);
void cz__pool_free(cz__pool_t *p);

/* ---- mw/ the built-in links' engine side ---- */
/* recover.c: cz_panic() unwinds to the innermost sigsetjmp set with cz__panic_swap (inline:
 * the chain swaps it twice per request) */
#include <setjmp.h>
extern __thread sigjmp_buf *cz__panic_target;
static inline sigjmp_buf *cz__panic_swap(sigjmp_buf *target)
{
    sigjmp_buf *prev = cz__panic_target;
    cz__panic_target = target;
    return prev;
}
/* timeout.c */
void cz__timeouts_tick(cz_worker_t *w, uint64_t now);
/* Off the route's timeout list (a request released before its link's leave ran). */
static inline void cz__timeout_remove(cz_req_t *r)
{
    if (!r->in_to_list)
        return;
    struct cz__rlist *l = &r->w->timeouts[r->route->index];
    if (r->to_prev)
        r->to_prev->to_next = r->to_next;
    else
        l->head = r->to_next;
    if (r->to_next)
        r->to_next->to_prev = r->to_prev;
    else
        l->tail = r->to_prev;
    r->to_prev = r->to_next = NULL;
    r->in_to_list = false;
}
/* access_log.c: write the access line (when the Log link is on) and return the request's
 * duration in us, the one clock reading the line and the caller share. now: the end time on
 * uv_hrtime()'s clock when the caller has one, 0 to read it here. */
uint64_t cz__access_log(cz_req_t *r, int status, uint64_t bytes, uint64_t now);

/* ---- worker load (worker_load.c): the shedding link's readings ---- */
/* The worker loops' average busy share in permille: the load shedder's reading. */
int64_t cz__server_busy(const cz_server_t *s);
/* When this loop turn's first request was read (ms, the coarse clock, read once per turn): one
 * turn runs many poll batches before its timers fire, so a later request may be long behind. */
uint64_t cz__worker_turn_ms(cz_worker_t *w);
void cz__load_init(cz_worker_t *w);   /* on the worker's loop: the turn clock */
void cz__load_sample(cz_worker_t *w); /* from the tick */

/* ---- transport/ ---- */
/* listen.c: listening sockets; a port another process holds is refused (see there) */
/* 0 when the server may bind host:port: port 0, reuse_port (ReusePort: true), this process
 * listens there already, or nothing does; else -EADDRINUSE (or another -errno, CZ_EARG). */
int cz__listen_check(const char *host, int port, bool reuse_port);
int cz__listen_open(const char *host, int port, int *fd_out); /* SO_REUSEPORT, listening */
int cz__listen_port(int fd);                                   /* the bound port, or -1 */
/* Count (on) or uncount a server of this process listening on host:port. */
void cz__listen_hold(const char *host, int port, bool on);
/* Log "listen on HOST:PORT: address already in use" (Go's lower-case wording). */
void cz__listen_log_error(const char *host, int port, int err);
/* accept.c: the listener's accept loop, MaxConnections, descriptor exhaustion */
void cz__accept_start(cz_worker_t *w, int listen_fd);
void cz__accept_close(cz_worker_t *w); /* stop accepting, close the listening socket */
void cz__accept_tick(cz_worker_t *w);  /* retry a paused accept, write the pending log line */
typedef struct cz__conn_stats {
    uint64_t open, max, drained, refused, accept_nofd;
} cz__conn_stats_t;
void cz__server_conn_stats(const cz_server_t *s, cz__conn_stats_t *out); /* any thread */

/* ---- server.c ---- */
void cz__worker_init(cz_server_t *s, cz_worker_t *w, int id, int listen_fd);

#endif
