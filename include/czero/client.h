/* SPDX-License-Identifier: MIT
 *
 * client.h: the upstream HTTP/1.1 client, one per libuv loop (worker thread).
 *
 * A cz_client_t keeps per-address pools of idle keep-alive connections ("127.0.0.1:8001"; a host
 * name is resolved with uv_getaddrinfo and its addresses, up to 8, cached for 5 s; a connect
 * error falls through to the next address and the one that answered is tried first after;
 * a name's pool holds connections to any of its addresses), sends requests with one write for the
 * head and a small body, streams large request and response bodies with back-pressure both ways,
 * and parses responses with llhttp in response mode. It is the inner loop of the gateway's proxy
 * and of handlers calling other services (go-zero's httpc). It does not pick nodes, retry on
 * other nodes or keep health state: that is the upstream layer (upstream.h), which reads the
 * cz_call_info_t this client reports. Everything here runs on the client's loop thread only.
 */
#ifndef CZERO_CLIENT_H
#define CZERO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "error.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_client cz_client_t;
typedef struct cz_tls_ctx cz_tls_ctx_t; /* tls.h */

typedef struct cz_client_opts {
    uint32_t pool_size;          /* idle connections kept per address (default 64; 0 = none) */
    uint64_t idle_timeout_ms;    /* an idle pooled connection is closed after this (default 60 s) */
    uint64_t connect_timeout_ms; /* default 1 s */
    uint64_t header_timeout_ms;  /* request body ended (or connected) -> end of the response
                                    head (default 10 s); 1xx responses do not stop it */
    uint64_t total_timeout_ms;   /* whole call (default 0 = none) */
    uint64_t read_timeout_ms;    /* the longest wait for the next response-body bytes once the
                                    head arrived, reset by every read, not running while the
                                    call is paused (nginx's proxy_read_timeout between reads;
                                    default 0 = none, as go-zero's httpc: a long-poll or event
                                    stream may idle, and the total timeout still bounds) */
    size_t max_header_bytes;     /* status line + headers (default 64 KiB); over it: CZ_EPARSE */
} cz_client_opts_t;

/** Fill o with the defaults above. */
CZ_EXTERN void cz_client_opts_init(cz_client_opts_t *o);

/** Create a client bound to loop. o may be NULL (defaults). Returns NULL on ENOMEM.
 *  Loop thread only; the client must be closed with cz_client_close before the loop ends.
 *  Sets SIGPIPE to ignored (as the server does): a vanished upstream is an error code. */
CZ_EXTERN cz_client_t *cz_client_new(uv_loop_t *loop, const cz_client_opts_t *o);

/** Cancel every call in flight (each gets on_done with CZ_ECLOSED), close all connections and
 *  free the client once its handles have closed; done (may be NULL) is then called with ud.
 *  The client must not be used after this call. Loop thread only. */
CZ_EXTERN void cz_client_close(cz_client_t *c, void (*done)(void *ud), void *ud);

typedef struct cz_client_req {
    const char *addr;                       /* "127.0.0.1:8001", "[::1]:80" or "host:port"; an
                                               "https://" prefix = TLS, "http://" = plain */
    cz_str_t method, target;                /* target "/path?query" */
    const cz_str_t *hname, *hvalue;         /* sent as given, in order; the client adds Host when */
    size_t nheaders;                        /* absent and Content-Length / chunked as needed    */
    cz_str_t body;                          /* a whole body (copied or written before return), or */
    bool body_stream;                       /* ... the body comes by cz_call_write              */
    int64_t body_len;                       /* with body_stream: its length, -1 = chunked        */
    /* 0 = the client's default. connect_timeout_ms applies to each address of a name tried in
       turn; total_timeout_ms bounds them all. */
    uint64_t connect_timeout_ms, header_timeout_ms, total_timeout_ms, read_timeout_ms;
    /* The keep-alive pool of addr, as its owner configures it (an upstream's Pool): idle
       connections kept (0 = the client's pool_size, <0 = none) and their idle timeout (0 = the
       client's). The last call to an address sets its pool. */
    int64_t pool_size;
    uint64_t pool_idle_timeout_ms;
    /* TLS (tls.h, cz_tls_client_ctx_new): with a context, or with an "https://" addr (then,
       without one, a context of the client's own: the system's CAs, verification on), the
       connection runs TLS: SNI and the certificate's host check use addr's host (an IP literal
       is checked against IP SANs), the handshake counts against connect_timeout_ms, and
       sessions are resumed from the context's cache per addr. Plain and TLS connections (and
       different contexts) to one addr are pooled apart. The caller keeps ctx alive while the
       client may use it (the pool holds a reference). */
    cz_tls_ctx_t *tls;
} cz_client_req_t;

typedef struct cz_call cz_call_t;

typedef struct cz_call_info {
    bool reused;           /* the connection that carried the call came from the pool */
    bool connected;        /* a TCP connection was established */
    bool sent_any;         /* at least one request byte reached the socket */
    bool response_started; /* at least one response byte arrived */
    bool stale_retry;      /* a reused connection failed before any response byte and the call
                              was transparently re-sent on a fresh connection */
    int status;            /* final response status, 0 when none */
    uint64_t connect_ns;   /* time spent connecting (0 when reused) */
    uint64_t ttfb_ns;      /* call start -> first response byte (0 when none) */
    uint8_t addrs_tried;   /* addresses of addr connected to in turn (2: the first failed to
                              connect and the second was tried); 0 when reused */
    bool tls_resumed;      /* TLS: the handshake resumed a cached session */
    const char *tls_error; /* with CZ_ETLS: OpenSSL's reason ("certificate verify failed:
                              unable to get local issuer certificate"); valid in on_done only */
} cz_call_info_t;

typedef struct cz_call_cbs {
    /** The final (non-1xx) response head. Views are valid during the call only. Returning
     *  nonzero aborts the call: no on_body follows; on_done gets CZ_ECLOSED. May be NULL. */
    int (*on_head)(cz_call_t *call, int status, const cz_str_t *hname, const cz_str_t *hvalue,
                   size_t n, void *ud);
    /** De-chunked body bytes, valid during the call. May call cz_call_pause. May be NULL. */
    void (*on_body)(cz_call_t *call, const void *data, size_t n, void *ud);
    /** The request-body buffer went below its low-water mark after cz_call_write returned 1.
     *  May be NULL. */
    void (*on_drain)(cz_call_t *call, void *ud);
    /** Exactly once, last; the call is invalid after it returns. err 0 = complete response;
     *  otherwise CZ_ETIMEOUT (connect on the last address, header, read or total timeout),
     *  CZ_ECLOSED (peer closed early, aborted, client closed), CZ_EPARSE
     *  (malformed or oversized response), CZ_ETLS (the TLS handshake failed: info.tls_error
     *  says why), or a -errno / UV code (connect refused, reset...).
     *  Required. */
    void (*on_done)(cz_call_t *call, int err, const cz_call_info_t *info, void *ud);
} cz_call_cbs_t;

/** Start a call. rq and everything it points to only need to live until this returns (the
 *  request head and a whole body are serialised at once). cbs must outlive the call. On 0,
 *  *out (may be NULL) is the call and on_done will fire exactly once, never from inside this
 *  function. On error (CZ_EARG bad address/arguments, CZ_ENOMEM, CZ_ECLOSED client closing)
 *  no callback fires. Loop thread only. */
CZ_EXTERN int cz_client_call(cz_client_t *c, const cz_client_req_t *rq, const cz_call_cbs_t *cbs,
                             void *ud, cz_call_t **out);

/** Append request-body bytes (copied) to a body_stream call. Returns 0, 1 when the unsent
 *  bytes are above the high-water mark, 256 KiB (wait for on_drain, which fires below 64 KiB,
 *  before writing more; the data was still taken),
 *  CZ_ECLOSED when the call no longer sends (the response came early or it failed: drop the
 *  data), CZ_EARG when not a stream or more than body_len bytes. */
CZ_EXTERN int cz_call_write(cz_call_t *call, const void *data, size_t n);

/** End a body_stream request body (the chunked terminator; with a body_len, checks it was all
 *  written: CZ_EARG otherwise). 0 or CZ_ECLOSED as for cz_call_write. */
CZ_EXTERN int cz_call_write_end(cz_call_t *call);

/** Stop reading the response (back-pressure from a slow consumer); timeouts keep running. */
CZ_EXTERN void cz_call_pause(cz_call_t *call);
/** Resume reading after cz_call_pause. Bytes already read are delivered from the loop, not
 *  from inside this call. */
CZ_EXTERN void cz_call_resume(cz_call_t *call);

/** Abandon a call: no callback fires after this (not even on_done); its connection is closed,
 *  never pooled. Safe from inside on_head/on_body/on_drain. */
CZ_EXTERN void cz_call_cancel(cz_call_t *call);

/** The client's connection counters, for tests and metrics. */
typedef struct cz_client_stats {
    uint64_t connects;  /* TCP connections opened */
    uint64_t reuses;    /* calls served by a pooled connection */
    uint64_t stale;     /* transparent re-sends after a stale pooled connection */
    uint64_t tls_handshakes; /* TLS handshakes completed (of the connects) */
    uint64_t tls_resumed;    /* of those, resumed sessions */
    uint32_t idle;      /* idle pooled connections now (all addresses) */
    uint32_t active;    /* calls in flight */
} cz_client_stats_t;
CZ_EXTERN void cz_client_stats(const cz_client_t *c, cz_client_stats_t *out);

/* ---- buffered convenience (go-zero httpc.Do) ---- */

typedef struct cz_fetch_res {
    int status;
    const cz_str_t *hname, *hvalue; /* response headers */
    size_t nheaders;
    cz_str_t body;                  /* the whole body */
    cz_call_info_t info;
} cz_fetch_res_t;

/** Result of cz_client_fetch: err as for on_done, plus CZ_EFULL when the body exceeded
 *  max_body. res is valid (views included) only during the callback; on error it still carries
 *  info and whatever status arrived. */
typedef void (*cz_fetch_fn)(int err, const cz_fetch_res_t *res, void *ud);

/** A whole request (rq->body_stream must be false) whose response is collected in memory,
 *  up to max_body bytes (0 = 1 MiB). Returns 0 (cb fires exactly once, later) or an error as
 *  for cz_client_call (no callback). Loop thread only. */
CZ_EXTERN int cz_client_fetch(cz_client_t *c, const cz_client_req_t *rq, size_t max_body,
                              cz_fetch_fn cb, void *ud);

#ifdef __cplusplus
}
#endif
#endif
