/* SPDX-License-Identifier: MIT
 *
 * http_int.h: private structures of the HTTP engine and the interfaces between its layers.
 * Nothing here is public API.
 *
 * The layers, each in its folder with its header, calls going down the list, and back up only
 * through an interface the upper one registers (ops structs, callbacks, function pointers):
 *   server.c      the lifecycle: routes, workers, listeners, the tick; wires the layers
 *   h1/           the HTTP/1.1 codec on llhttp (h1_int.h): bytes to exchanges, answers to bytes;
 *                 it holds the connection (cz_conn_t), calls the exchange (cz__dispatch, ...)
 *                 and moves bytes only through its transport's ops
 *   exchange/     request, response, dispatch, the middleware chain, handlers, the blocking
 *                 pool, the router (exchange.h); it reaches the wire only through the codec's
 *                 ops (cz__codec_ops_t), so it cannot tell HTTP/1.1 from another codec, nor
 *                 TLS from plain TCP but through cz_req_proto / cz_req_tls and the like
 *   mw/           the built-in links: chain.c lists them and runs them through their cz_mw_t
 *                 ops; they use the exchange's API; the access line (access_log.c), recover
 *                 (recover.c) and the links' answers (answer.c) have their one home here
 *   transport/    bytes in and out of one connection (transport.h: plain TCP in tcp.c, TLS to
 *                 tls.c), accepting and listening; it calls the codec only through the
 *                 callbacks registered with it (cz__transport_cbs_t, cz_worker_t.conn_open)
 *
 */
#ifndef CZERO_HTTP_INT_H
#define CZERO_HTTP_INT_H

#include <pthread.h>
#include <stdlib.h>
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
typedef struct cz__pool cz__pool_t;

#include "http/exchange/exchange.h"
#include "http/h1/h1_int.h"

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
    /* the transport a new connection's codec opens on its socket (cz__tcp_open, or
     * cz__tls_transport_open on a TLS listener): the signature every transport's open has */
    cz__transport_open_fn transport_open;
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
    /* server_tls.c: the TLS listener's certificates (NULL: plain TCP), their file watch (run
     * from worker 0's tick) and reload counters */
    struct cz_tls_slot *tls;
    pthread_mutex_t tls_mu; /* the counters and the last error below */
    uint64_t tls_reloads, tls_reload_failures, tls_next_check;
    bool tls_watching;
    uv_work_t tls_work;
    char tls_last_err[512];
};

/* ---- h1_link.c's primitives that every request uses, inline ---- */
/* Move c to timer list `list` (TL_NONE: off any), its deadline now + the list's timeout. */
static inline void cz__tl_set(cz_conn_t *c, int list)
{
    cz_worker_t *w = c->w;
    if (c->tl != TL_NONE) {
        cz__tlist_t *l = &w->tl[c->tl];
        if (c->tprev)
            c->tprev->tnext = c->tnext;
        else
            l->head = c->tnext;
        if (c->tnext)
            c->tnext->tprev = c->tprev;
        else
            l->tail = c->tprev;
        c->tprev = c->tnext = NULL;
    }
    c->tl = (uint8_t)list;
    if (list == TL_NONE)
        return;
    cz__tlist_t *l = &w->tl[list];
    c->deadline = uv_now(&w->loop) + l->timeout_ms;
    c->tprev = l->tail;
    if (l->tail)
        l->tail->tnext = c;
    else
        l->head = c;
    l->tail = c;
}

/* A read buffer: recycled per worker (singly linked through its first word), else malloc. */
static inline char *cz__h1_buf_get(cz_worker_t *w)
{
    if (w->free_bufs) {
        char *b = w->free_bufs;
        w->free_bufs = *(void **)b;
        w->nfree_bufs--;
        return b;
    }
    return malloc(w->srv->buf_size);
}

static inline void cz__h1_buf_put(cz_worker_t *w, char *b)
{
    if (w->nfree_bufs >= 256) {
        free(b);
        return;
    }
    *(void **)b = w->free_bufs;
    w->free_bufs = b;
    w->nfree_bufs++;
}

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

/* ---- server_tls.c: the TLS listener's certificates ---- */
#include "czero/tls.h"
int cz__server_tls_start(cz_server_t *s); /* build them (logs why not); 0 without TLS */
void cz__server_tls_free(cz_server_t *s);
void cz__server_tls_tick(cz_worker_t *w, uint64_t now); /* the file watch, worker 0 */
typedef struct cz__server_tls_stats {
    cz_tls_stats_t ctx;
    uint64_t reloads, reload_failures;
} cz__server_tls_stats_t;
void cz__server_tls_stats(const cz_server_t *s, cz__server_tls_stats_t *out); /* zeros: no TLS */

/* ---- server.c ---- */
void cz__worker_init(cz_server_t *s, cz_worker_t *w, int id, int listen_fd);

#endif
