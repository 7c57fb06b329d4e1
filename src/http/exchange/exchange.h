/* SPDX-License-Identifier: MIT
 *
 * exchange.h: the exchange layer's structures and functions (included by http_int.h, which
 * every engine file includes): routes, the request and its response, what the exchange asks of
 * the codec carrying it (cz__codec_ops_t), dispatch, the chain, the blocking pool. It knows no
 * protocol and no transport but through those ops. Nothing here is public API.
 */
#ifndef CZERO_EXCHANGE_H
#define CZERO_EXCHANGE_H

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
/* cz__res_settle, cz__res_sent: in codec_side.h, the codec's only (inline). */
void cz__res_timed_out(cz_req_t *r);
void cz__res_sent_unrouted(cz_req_t *r, int status, uint64_t bytes);
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

#endif
