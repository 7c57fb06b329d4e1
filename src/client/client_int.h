/* SPDX-License-Identifier: MIT
 *
 * client_int.h: private structures of the upstream HTTP client, shared by client.c (the client,
 * address pools, connections, timers, name resolution) and client_call.c (serialising requests,
 * writing, the call API) and parse.c (llhttp callbacks). Nothing here is public.
 *
 * Ownership: the client owns its pools; a pool owns its idle connections (a LIFO list); an
 * active connection carries exactly one call. A connection's memory is freed only in its handles'
 * close callbacks, so a pointer to it stays valid for the rest of the current loop iteration even
 * after cz__cconn_close (callbacks that re-enter the client cannot free what the caller holds).
 *
 * TLS (client_tls.c): a connection of a pool with a TLS context gets a session (k->tls) once TCP
 * connects; it handshakes in CC_HANDSHAKE (under the connect deadline), then the call goes on as
 * for plain TCP, except that flush() encrypts obuf into the session's output and sends that, and
 * socket reads land in the session's input and are decrypted into rbuf. Plain connections only
 * pay a branch on k->tls.
 */
#ifndef CZERO_CLIENT_INT_H
#define CZERO_CLIENT_INT_H

#include <llhttp.h>
#include <netinet/in.h>
#include "czero/client.h"
#include "internal.h"
#include "tls/tls_int.h"

#define CZ__CL_MAX_HEADERS 128
#define CZ__CL_RBUF 16384u           /* per-connection read buffer */
#define CZ__CL_OBUF_KEEP 65536u      /* output buffers above this are freed between calls */
#define CZ__CL_HIGH_WATER (256u * 1024u)
#define CZ__CL_LOW_WATER (64u * 1024u)
#define CZ__CL_DNS_TTL_MS 5000u
#define CZ__CL_POOL_BUCKETS 64u
#define CZ__CL_MAX_ADDRS 8u          /* addresses kept from one lookup of a name */

typedef struct cz__cconn cz__cconn_t;
typedef struct cz__pool cz__pool_t;

struct cz__pool {
    cz__pool_t *hnext;        /* hash chain */
    char *addr;               /* the key, as given */
    char *host;               /* for uv_getaddrinfo when not a literal */
    char port[8];
    /* the addresses of one lookup, in getaddrinfo order (one for a literal); connects start at
     * sa[cur], the last one that answered, and fall through to the next on a connect error */
    struct sockaddr_storage sa[CZ__CL_MAX_ADDRS];
    uint8_t naddr, cur;
    bool literal;             /* sa is fixed */
    bool pinned;              /* sa set by cz__client_pin_addrs: never resolved */
    uint64_t resolved_ms;     /* loop time of the cached resolution (names), 0 = none */
    cz__cconn_t *idle;        /* LIFO: most recently used first */
    uint32_t nidle;
    int64_t max_idle;         /* from the last call's pool_size: 0 = the client's, <0 = none */
    uint64_t idle_ms;         /* from the last call: 0 = the client's idle timeout */
    cz_tls_ctx_t *tls;        /* part of the key: TLS connections with this context; a ref */
};

enum { CB_NONE, CB_FIELD, CB_VALUE }; /* the last header callback (parse.c) */
enum { CC_RESOLVING, CC_CONNECTING, CC_HANDSHAKE, CC_ACTIVE, CC_IDLE, CC_CLOSING };

struct cz__cconn {
    uv_tcp_t tcp;             /* first */
    uv_timer_t timer;
    uv_connect_t creq;
    uv_write_t wreq;
    uv_getaddrinfo_t gai;
    cz_client_t *c;
    cz__pool_t *pool;
    cz_call_t *call;
    cz__cconn_t *inext, *iprev; /* pool idle list */
    cz__cconn_t *anext, *aprev; /* client's list of all connections */
    cz__cconn_t *knext;         /* client's kick list (deferred parsing after resume) */
    llhttp_t parser;
    /* read buffer: [0, rlen) holds bytes read but not parsed (only while the call is paused) */
    char *rbuf;
    uint32_t rlen;
    /* output: [ooff, olen) not yet written; wbase/wlen: the buffer and length of a uv_write in
     * flight (obuf may be replaced while it runs, the old one is freed in the write callback) */
    char *obuf, *wbase;
    size_t olen, ocap, ooff, wlen;
    /* response header block: offsets into rbuf while the head is all in the current read
     * (head_in_rbuf), else into hbuf, where a head spanning reads is copied (parse.c) */
    char *hbuf;
    uint32_t hlen, hcap, head_bytes, nh;
    uint32_t hno[CZ__CL_MAX_HEADERS], hnl[CZ__CL_MAX_HEADERS];
    uint32_t hvo[CZ__CL_MAX_HEADERS], hvl[CZ__CL_MAX_HEADERS];
    uint64_t raw_head;        /* bytes fed to the parser before the head completed */
    uint64_t dl_phase;        /* loop-time deadline of connect/header phase, 0 = none */
    uint64_t dl_idle;
    uint64_t armed;           /* loop time the timer fires at, 0 = not armed */
    uint8_t state, last_cb;
    uint8_t ai, tries;        /* the pool address this connects to; addresses tried by the call */
    uint8_t nhandles;         /* handles still open */
    bool reading, writing, gai_pending, in_parse, kicked;
    bool keep;                /* the response allowed keep-alive */
    bool head_in_rbuf;        /* hno/hvo are offsets into rbuf (see hbuf) */
    bool reused;
    bool nopool;              /* over a borrowed fd (cz__client_call_fd) */
    bool tls_app;             /* TLS: request bytes were encrypted (sent_any counts from here) */
    cz__tls_t *tls;           /* TLS session, NULL = plain TCP */
    cz__tls_buf_t tw;         /* TLS: the ciphertext of the uv_write in flight */
};

struct cz_call {
    cz_client_t *c;
    cz__cconn_t *conn;
    const cz_call_cbs_t *cbs;
    void *ud;
    cz_call_info_t info;
    uint64_t start_hr;        /* uv_hrtime at call start */
    uint64_t connect_hr;
    uint64_t dl_total;        /* loop-time deadline, 0 = none */
    uint64_t connect_to, header_to, read_to;
    int64_t body_len, body_written;
    cz_call_t *fnext;         /* free list */
    bool stream, chunked, body_done, is_head;
    bool want_drain, head_done, interim, msg_done, send_stopped, paused;
    bool cancelled, aborted, replay;  /* replay: obuf still holds the whole request from 0 */
};

struct cz_client {
    uv_loop_t *loop;
    cz_client_opts_t o;
    cz__pool_t *buckets[CZ__CL_POOL_BUCKETS];
    cz__cconn_t *all;
    cz__cconn_t *kick;        /* connections whose buffered bytes must be parsed */
    uv_idle_t idle;           /* runs the kick list */
    cz_call_t *free_calls;
    uint32_t nfree_calls;
    cz_client_stats_t st;
    cz_tls_ctx_t *tls_default; /* for "https://" addrs without a context; made on first use */
    uint32_t nhandles;        /* open handles (connections' and the idle handle) */
    bool closing;
    void (*done)(void *);
    void *done_ud;
};

/* client.c */
cz__pool_t *cz__pool_get(cz_client_t *c, const char *addr, cz_tls_ctx_t *tls);
cz__cconn_t *cz__pool_take(cz__pool_t *p);
/** Take a lookup's AF_INET/AF_INET6 addresses, in order, up to CZ__CL_MAX_ADDRS; cur keeps
 *  pointing at the address that answered last when the new list still has it, else 0.
 *  0, or UV_EAI_NONAME (and the old list kept) when res has no usable address. */
int cz__pool_set_addrs(cz__pool_t *p, const struct addrinfo *res);
cz__cconn_t *cz__cconn_open(cz_client_t *c, cz__pool_t *p, uint64_t connect_dl, int *err);
/** A fresh connection to the address after old's (old->tries + 1 tried), NULL when every
 *  address of the pool has been tried (*err untouched) or on error (*err set). */
cz__cconn_t *cz__cconn_open_next(cz__cconn_t *old, uint64_t connect_dl, int *err);
void cz__cconn_close(cz__cconn_t *k);
void cz__cconn_pool(cz__cconn_t *k);
void cz__cconn_arm(cz__cconn_t *k);
void cz__cconn_kick(cz__cconn_t *k);
cz__cconn_t *cz__cconn_open_fd(cz_client_t *c, cz__pool_t *p, int fd, int *err);
int cz__cconn_read_start(cz__cconn_t *k);

/* client_tls.c */
/** TCP connected on a TLS pool: start the session and the handshake; the call learns the
 *  outcome through cz__call_connected (success) or fails with CZ_ETLS. */
void cz__ctls_start(cz__cconn_t *k);
/** A socket read on a TLS connection: nread bytes landed in the session's input (or nread < 0). */
void cz__ctls_on_read(cz__cconn_t *k, ssize_t nread);
/** Decrypt and parse what the session holds, while the call takes bytes. */
void cz__ctls_pump(cz__cconn_t *k);
/** Best effort close_notify before a close (one try_write; never waits). */
void cz__ctls_goodbye(cz__cconn_t *k);

/* client_call.c and parse.c */
/** TLS: encrypt pending request bytes (when the call sends) and send the session's output. */
void cz__cconn_flush_tls(cz__cconn_t *k);
void cz__call_connected(cz__cconn_t *k, int status);
void cz__call_on_read(cz__cconn_t *k, ssize_t nread);
void cz__call_on_timer(cz__cconn_t *k);
void cz__call_parse(cz__cconn_t *k);
void cz__call_fail(cz_call_t *call, int err);
/** parse.c: a read ended inside a response head: copy the names and values recorded as offsets
 *  into the read buffer to the header buffer before the buffer is reused. 0 or -1 (no memory). */
int cz__head_spill(cz__cconn_t *k);
/** Test and fuzz hook: a call over an already-connected stream fd (one end of a socketpair),
 *  which the connection then owns and closes. Otherwise as cz_client_call. */
int cz__client_call_fd(cz_client_t *c, int fd, const cz_client_req_t *rq, const cz_call_cbs_t *cbs,
                       void *ud, cz_call_t **out);
/** Test hook: the addresses of addr ("name:port") are sa[0..n) (n <= CZ__CL_MAX_ADDRS, each
 *  an AF_INET/AF_INET6 sockaddr) instead of a lookup, in that order, until the client closes.
 *  0, CZ_EARG or CZ_ENOMEM. Loop thread only. */
int cz__client_pin_addrs(cz_client_t *c, const char *addr, const struct sockaddr *const *sa,
                         size_t n);
/** Test hook: the index in addr's list that the next new connection starts at, -1 unknown. */
int cz__client_addr_cur(cz_client_t *c, const char *addr);
extern const llhttp_settings_t cz__client_parser_settings;

#endif
