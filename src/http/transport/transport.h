/* SPDX-License-Identifier: MIT
 *
 * transport.h: the transport layer: bytes in and out of one accepted connection.
 *
 * A connection's codec (h1/) holds a cz__transport_t and moves bytes only through its ops:
 * read start/stop (the bytes arrive through the callbacks the codec registered), a vectored
 * write tried at once (try_write) or queued with a completion (write), shutdown, close, and the
 * bytes still queued (back-pressure). tcp.c is plain TCP on a libuv stream; a TLS transport
 * plugs in with its own ops over the same socket (its session state in impl), and answers the
 * accessors below that plain TCP answers with false/NULL. Only a transport touches the libuv
 * stream. What this is not: accepting and listening (accept.c, listen.c), HTTP (h1/).
 */
#ifndef CZERO_TRANSPORT_H
#define CZERO_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

typedef struct cz__transport cz__transport_t;
typedef struct cz__twrite cz__twrite_t;
typedef void (*cz__twrite_cb)(cz__twrite_t *wr, int status);

/* A queued write: the codec owns the memory until cb runs (status < 0: the write failed). */
struct cz__twrite {
    uv_write_t uv;
    cz__transport_t *t;
    cz__twrite_cb cb;
};

/* What the layer above registers: where read bytes go, and when the memory may be freed. */
typedef struct cz__transport_cbs {
    void (*alloc)(cz__transport_t *t, uv_buf_t *out);  /* room for the next read */
    /* nread > 0: bytes now in the buffer alloc gave; 0: nothing; UV_ENOBUFS (alloc gave no
     * room), UV_EOF or another error: reading stopped on the transport's side as libuv's does */
    void (*read)(cz__transport_t *t, ssize_t nread);
    void (*closed)(cz__transport_t *t);                 /* after close: the memory may go */
} cz__transport_cbs_t;

typedef struct cz__transport_ops {
    const char *name;                 /* "tcp", "tls" */
    int (*read_start)(cz__transport_t *t);
    void (*read_stop)(cz__transport_t *t);
    /* Bytes taken now (all, some), UV_EAGAIN for none, or another negative error. After
     * "some", the caller's next call is write() with the rest (TLS may have sealed them). */
    int (*try_write)(cz__transport_t *t, const uv_buf_t *b, unsigned n);
    /* Queue the bytes behind earlier writes; 0 or a negative error (then cb never runs). */
    int (*write)(cz__transport_t *t, cz__twrite_t *wr, const uv_buf_t *b, unsigned n,
                 cz__twrite_cb cb);
    void (*shutdown)(cz__transport_t *t); /* half-close once the queued writes are out */
    void (*close)(cz__transport_t *t);    /* descriptor released now, cbs->closed later */
    size_t (*queued)(const cz__transport_t *t); /* bytes written but not yet taken by the kernel */
    bool (*unread)(const cz__transport_t *t);   /* bytes the peer sent that nobody read yet */
    int (*peer)(const cz__transport_t *t, struct sockaddr_storage *ss); /* 0 or an error */
    /* TLS: the plain transport answers false / NULL */
    bool (*is_tls)(const cz__transport_t *t);
    const char *(*sni)(const cz__transport_t *t);
    const char *(*alpn)(const cz__transport_t *t);
    const char *(*peer_subject)(const cz__transport_t *t);
} cz__transport_ops_t;

struct cz__transport {
    uv_tcp_t tcp; /* first: the handle's address is the transport's */
    const cz__transport_ops_t *ops;
    const cz__transport_cbs_t *cbs;
    void *impl;   /* a TLS transport's session; NULL for plain TCP */
    uv_shutdown_t sreq;
};

/* tcp.c: plain TCP over the connected socket fd. t must be the first member of a malloc'd
 * block: when the socket cannot be opened the block is freed (after libuv closes the handle)
 * and the call returns an error; else 0 and the transport is ready (reading not started). */
typedef int (*cz__transport_open_fn)(cz__transport_t *t, uv_loop_t *loop, int fd,
                                     const cz__transport_cbs_t *cbs);
int cz__tcp_open(cz__transport_t *t, uv_loop_t *loop, int fd, const cz__transport_cbs_t *cbs);
extern const cz__transport_ops_t cz__tcp_ops;
/* tls.c: TLS over the same socket, a session from the worker's server's certificate slot
 * (loop is a worker's: cz_worker_t.loop). Same contract as cz__tcp_open. */
int cz__tls_transport_open(cz__transport_t *t, uv_loop_t *loop, int fd,
                           const cz__transport_cbs_t *cbs);
extern const cz__transport_ops_t cz__tls_transport_ops;

#endif
