/* SPDX-License-Identifier: MIT
 *
 * server.h: the czero HTTP/1.1 server (go-zero's rest.Server).
 *
 * A server is built from a cz_rest_conf_t, given routes, then run. It starts `Workers` threads,
 * each with its own libuv loop and its own SO_REUSEPORT listener, so connections are spread by
 * the kernel and a request never crosses threads. Handlers come in three kinds:
 *   - inline (default): runs on the loop thread and must not block;
 *   - async: an inline handler that returns CZ_AGAIN and finishes later with cz_res_end()
 *     from the same loop thread (after a timer, an upstream call...);
 *   - blocking (CZ_ROUTE_BLOCKING): runs on a bounded thread pool so it may call a database;
 *     when the pool's queue is full the request gets 503 without running.
 */
#ifndef CZERO_SERVER_H
#define CZERO_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "error.h"
#include "request.h"
#include "response.h"
#include "middleware.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_server cz_server_t;

/** A handler. Return CZ_DONE when the response is complete (whatever status/headers/body were set
 *  on res are sent; nothing set means 200 with an empty body), or CZ_AGAIN when it will call
 *  cz_res_end(res) later from the same loop thread. Blocking handlers must return CZ_DONE. */
typedef int (*cz_handler_fn)(cz_req_t *req, cz_res_t *res, void *ud);
#define CZ_DONE 0
/* CZ_AGAIN is defined in error.h */

#define CZ_ROUTE_BLOCKING 0x1u /* run on the blocking pool, not on the loop */
/* The chain and handler run as soon as the header block is parsed; the handler reads the body
 * with cz_req_body_read() (request.h) instead of cz_req_body(), which stays empty. Meant for
 * proxies and large uploads: the body is never held whole. MaxBytes still applies (413 when
 * nothing was sent yet, else the connection is closed). Middlewares that need the whole body
 * (gunzip, signature / content-security) are skipped on these routes. Not with
 * CZ_ROUTE_BLOCKING. */
#define CZ_ROUTE_STREAM_BODY 0x2u

typedef struct cz_route {
    const char *method;  /* "GET", "POST", ...; HEAD is served by the GET route when none is given */
    const char *path;    /* "/users/:id"; segments ":name" are path variables */
    cz_handler_fn handler;
    void *ud;            /* passed to the handler */
    unsigned flags;      /* CZ_ROUTE_* */
} cz_route_t;

/* JWT for a group (go-zero rest.WithJwt / WithJwtTransition). */
typedef struct cz_jwt_opts {
    const char *secret;      /* HMAC secret; NULL = no JWT on these routes */
    const char *prev_secret; /* the previous secret, still accepted during a rotation */
} cz_jwt_opts_t;

/* Options for a group of routes (go-zero's rest.With* route options); zero means "server
 * default" or "off". */
typedef struct cz_route_opts {
    const char *prefix;  /* "/api/v1": prepended to each path */
    int64_t timeout_ms;  /* per-route handler timeout; 0 = Timeout from config, <0 = none */
    int64_t max_bytes;   /* per-route body limit; 0 = MaxBytes from config */
    bool priority;       /* go-zero WithPriority: shed later (higher CPU threshold) */
    cz_jwt_opts_t jwt;
    bool signature;      /* go-zero WithSignature: verify X-Content-Security (config: Signature) */
    const cz_mw_t *middlewares; /* group middlewares, run after auth and server middlewares */
    size_t nmiddlewares;
} cz_route_opts_t;

/** Add a server-wide middleware (go-zero server.Use): it runs on every route after the built-in
 *  chain and auth, in the order added (a CZ_MW_OUTER one before them, see middleware.h). Before
 *  start. mw is copied; mw->data stays the caller's unless the ops have a free(). */
CZ_EXTERN int cz_server_use(cz_server_t *s, const cz_mw_t *mw);

/** Called when a JWT route refuses a request (go-zero rest.WithUnauthorizedCallback): it may
 *  set headers and a body on res; the status stays 401 unless it sets another one. why is a
 *  static reason ("token is expired", "no token"). Runs on the request's loop thread. */
typedef void (*cz_unauthorized_fn)(cz_req_t *req, cz_res_t *res, const char *why, void *ud);

/** Set the unauthorized callback of every JWT route (before start; NULL = plain 401). */
CZ_EXTERN void cz_server_set_unauthorized(cz_server_t *s, cz_unauthorized_fn fn, void *ud);
/** Narrow what the JWT routes accept (before start): algs is a mask of CZ_JWT_HS256/384/512
 *  (jwt.h; 0 = all three, go-zero's behaviour), leeway_s the clock skew allowed on exp, nbf
 *  and iat (default 0, as golang-jwt v4). CZ_EARG on an unknown bit or a negative leeway. */
CZ_EXTERN int cz_server_set_jwt_policy(cz_server_t *s, unsigned algs, int64_t leeway_s);

/** Create a server from conf (copied: strings are duplicated). NULL on error with d set. */
CZ_EXTERN cz_server_t *cz_server_new(const cz_rest_conf_t *conf, cz_diag_t *d);
/** Register routes (before start). A duplicate (same method and path shape) or a bad path is an
 *  error naming the route; nothing of this call is registered then. opts may be NULL. */
CZ_EXTERN int cz_server_add_routes(cz_server_t *s, const cz_route_t *routes, size_t n,
                                   const cz_route_opts_t *opts, cz_diag_t *d);
CZ_EXTERN int cz_server_add_route(cz_server_t *s, const cz_route_t *route, cz_diag_t *d);
/** Register fn(loop, ud) to run on each worker's loop thread (loop is its uv_loop_t *) when
 *  that worker stops: after its last connection closed (no request of it runs any more) and
 *  before its loop must exit, so a component with per-loop handles (a Redis client created
 *  lazily per loop, timers) closes them there and the loop can end. Called once per worker, in
 *  registration order; fn must not block. Before start; returns 0, CZ_EARG (fn NULL or the
 *  server started) or CZ_ENOMEM. */
CZ_EXTERN int cz_server_on_worker_stop(cz_server_t *s, void (*fn)(void *loop, void *ud),
                                       void *ud);
/** Replace the 404 / 405 answers (go-zero's WithNotFoundHandler / WithNotAllowedHandler).
 *  The 405 handler still gets the Allow header set on res. */
CZ_EXTERN void cz_server_set_not_found(cz_server_t *s, cz_handler_fn fn, void *ud);
CZ_EXTERN void cz_server_set_not_allowed(cz_server_t *s, cz_handler_fn fn, void *ud);

/** Bind the listeners and start the worker threads; returns once they accept connections.
 *  Port 0 in the config binds an ephemeral port (see cz_server_port). A Host:Port (or
 *  DevServer / Prometheus port) that another process listens on, even with SO_REUSEPORT, is
 *  refused unless ReusePort is true: -EADDRINUSE, logged as "listen on HOST:PORT: address
 *  already in use". Other servers of this process may share an address. */
CZ_EXTERN int cz_server_start(cz_server_t *s);
/** Before cz_server_start(s): listen on the listening sockets of from, a running server on the
 *  same Host and Port, instead of opening new ones (one per worker of s, as far as from has
 *  them; further workers open their own). When from then stops accepting or shuts down, the
 *  connections queued on those sockets are accepted by s instead of reset, as nginx keeps its
 *  listening sockets across a reload. A different Host or Port is not an error: s opens its
 *  own. from must keep accepting until s has started. */
CZ_EXTERN int cz_server_inherit_listeners(cz_server_t *s, const cz_server_t *from);
/** Stop accepting new connections (close this server's listening descriptors) and keep
 *  serving the open ones until cz_server_shutdown(). Thread-safe; returns at once. */
CZ_EXTERN void cz_server_stop_accepting(cz_server_t *s);
/** A TLS server (CertFile/KeyFile or Tls.Certificates in its RestConf): rebuild its
 *  certificates from the same configuration's files and swap them in; connections already open
 *  keep theirs, and session tickets issued before still resume. For a process that reloads on
 *  a signal of its own; a service also reloads by itself when the files change
 *  (Tls.WatchInterval). 0; CZ_EARG when s has no TLS (or is not started); or the error of the
 *  rebuild, with err (may be NULL) naming the file and OpenSSL's reason: the old certificates
 *  stay. Logged either way. Any thread. */
CZ_EXTERN int cz_server_tls_reload(cz_server_t *s, char *err, size_t errsize);
/** The bound TCP port (after start). */
CZ_EXTERN int cz_server_port(const cz_server_t *s);
/** The bound port of the server's dev listener (DevServer, or the Prometheus agent when only
 *  Prometheus.Host is set), or 0 when it has none. After start. */
CZ_EXTERN int cz_server_dev_port(const cz_server_t *s);
/** Begin graceful shutdown: stop accepting, close idle connections, let in-flight requests finish
 *  until ShutdownTimeout, then close the rest. Thread-safe; returns at once. */
CZ_EXTERN void cz_server_shutdown(cz_server_t *s);
/** Wait until every worker has stopped. */
CZ_EXTERN void cz_server_wait(cz_server_t *s);
/** start + shutdown on SIGTERM/SIGINT + wait (go-zero's server.Start()). 0 on a clean exit. */
CZ_EXTERN int cz_server_run(cz_server_t *s);
/** Free a server that is not running (never started, or waited for). */
CZ_EXTERN void cz_server_free(cz_server_t *s);
/** The names of the middlewares a route runs, in order (after start), into names[0..max); returns
 *  how many there are, or 0 when no route has that method and pattern. For logs and tests. */
CZ_EXTERN size_t cz_server_route_chain(const cz_server_t *s, const char *method,
                                       const char *pattern, const char **names, size_t max);
/** Open client connections over all workers (a gauge; read without locking, so approximate
 *  while it changes). */
CZ_EXTERN size_t cz_server_connections(const cz_server_t *s);
/** The configuration the server runs with. */
CZ_EXTERN const cz_rest_conf_t *cz_server_conf(const cz_server_t *s);

/* Lifecycle hooks: work done outside the HTTP layer when any server of the process starts and
 * stops, such as registering it in a service registry. The server calls them; it does not know
 * what they do. Etcd self-registration (an Etcd block in the config) is one: the server installs
 * it through cz_etcd_server_hook() (discovery.h), so a service with Etcd in its config
 * registers without code. s identifies the server; what a hook needs of it is passed in. */
typedef struct cz_server_hook {
    /* cz_server_start, before anything is bound: non-zero refuses the start with that error
     * (the hook logs why). NULL: nothing to check. */
    int (*check)(const cz_server_t *s, const cz_rest_conf_t *conf, void *ud);
    /* cz_server_start, once the listeners are bound and the workers accept; port is the main
     * listener's (bound) port. Errors are the hook's to log; the server runs either way. */
    void (*start)(const cz_server_t *s, const cz_rest_conf_t *conf, int port, void *ud);
    /* cz_server_shutdown, before the listeners close, and again from cz_server_free: must be a
     * no-op for a server it did not start, and idempotent. */
    void (*stop)(const cz_server_t *s, void *ud);
    void *ud;
} cz_server_hook_t;

/** Run hook for every server of the process started from now on, after the hooks added
 *  before it (stop runs in the same order). hook must outlive its use; adding the same hook
 *  again is a no-op. Returns 0, CZ_EARG (NULL) or CZ_EFULL (more than 8 hooks). Thread-safe. */
CZ_EXTERN int cz_server_add_hook(const cz_server_hook_t *hook);

#ifdef __cplusplus
}
#endif
#endif
