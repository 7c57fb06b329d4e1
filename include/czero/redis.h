/* SPDX-License-Identifier: MIT
 *
 * redis.h: a small asynchronous Redis client for one libuv loop.
 *
 * It wraps hiredis' async API on the caller's uv_loop_t and adds what a request path needs from
 * Redis: a connect timeout, a per-command timeout (a command whose reply has not arrived in time
 * completes with CZ_ETIMEOUT and its late reply is dropped), reconnection with exponential backoff
 * in the background, and Lua scripts run with EVALSHA (SCRIPT LOAD is pipelined once per
 * connection; a NOSCRIPT reply reloads and retries once). A host name is resolved on libuv's
 * threadpool (uv_getaddrinfo), never on the loop thread, and the answer is cached for
 * dns_ttl_ms; a refused address moves on to the next one the name resolved to. A name that does
 * not resolve is logged (once per failure streak, naming the host) and retried with the
 * reconnect backoff; meanwhile the client is down as for a refused connect. Pipelining comes
 * from the async API: commands are written as they are issued and many can be in flight on the
 * one connection.
 *
 * Threading: a cz_redis_t belongs to one loop and every call must be made on that loop's thread
 * (hiredis contexts are not thread-safe). A server with N worker loops uses N clients.
 * It is deliberately not a general Redis library: no pub/sub, no cluster, no TLS.
 */
#ifndef CZERO_REDIS_H
#define CZERO_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* hiredis' reply type; include <hiredis/hiredis.h> to read its fields. */
struct redisReply;

typedef struct cz_redis cz_redis_t;

typedef struct cz_redis_conf {
    const char *host;            /* default "127.0.0.1"; an IP literal ("[::1]" too) or a name,
                                  * resolved off the loop thread */
    int port;                    /* default 6379 */
    const char *password;        /* AUTH on each (re)connect when non-NULL */
    uint64_t connect_timeout_ms; /* default 500 */
    uint64_t command_timeout_ms; /* default 100: go-zero's limiter budget is a request's share */
    uint64_t backoff_min_ms;     /* first reconnect delay; default 50, doubled per failure */
    uint64_t backoff_max_ms;     /* default 2000 */
    uint64_t hang_ms;            /* drop the connection when commands time out and nothing was
                                  * received for this long (a stopped or wedged server);
                                  * default 1000 */
    uint64_t dns_ttl_ms;         /* a resolved name is reused this long by reconnects; default
                                  * 10000. A failed lookup keeps the previous answer. */
} cz_redis_conf_t;

typedef enum {
    CZ_REDIS_DOWN = 0,   /* no connection; a reconnect is scheduled */
    CZ_REDIS_CONNECTING, /* name lookup or connect in progress; commands are buffered (their
                          * timeouts running) and fail with CZ_ECLOSED if it fails */
    CZ_REDIS_UP,
} cz_redis_state_t;

/**
 * Completion of a command. status is 0 with a reply, CZ_EREDIS with the error reply, CZ_ETIMEOUT
 * when no reply came in command_timeout_ms, CZ_ECLOSED when the connection was lost or the client
 * freed before a reply. reply is NULL unless status is 0 or CZ_EREDIS, and is valid only during
 * the call. Called on the loop thread, never from inside the call that issued the command.
 */
typedef void (*cz_redis_cb)(cz_redis_t *r, int status, struct redisReply *reply, void *ud);

/** A Lua script identified by its SHA1. Initialise once (static storage is typical) and use it
 *  with any number of clients; the source must outlive them. */
typedef struct cz_redis_script {
    const char *src;
    char sha1[41];
} cz_redis_script_t;

/**
 * Create a client on loop and start connecting in the background. conf is copied (host and
 * password strings too); NULL means all defaults. Returns NULL on bad arguments or no memory.
 * Loop thread only.
 */
CZ_EXTERN cz_redis_t *cz_redis_new(uv_loop_t *loop, const cz_redis_conf_t *conf);

/**
 * Close the connection; pending commands complete with CZ_ECLOSED (from inside this call).
 * Memory is released once the loop has run the handles' close callbacks, so keep running the
 * loop afterwards (libuv's close contract). Loop thread only. NULL is ignored.
 */
CZ_EXTERN void cz_redis_free(cz_redis_t *r);

/** Current connection state. */
CZ_EXTERN cz_redis_state_t cz_redis_state(const cz_redis_t *r);

/** The loop this client runs on. */
CZ_EXTERN uv_loop_t *cz_redis_loop(const cz_redis_t *r);

/**
 * Issue a command given as argv (binary safe; argvlen may be NULL for NUL-terminated strings).
 * Returns 0 when cb will be called later, -ENOTCONN while the client is down (cb is then not
 * called: fail fast instead of queueing behind a dead server), CZ_EARG or CZ_ENOMEM.
 */
CZ_EXTERN int cz_redis_command_argv(cz_redis_t *r, cz_redis_cb cb, void *ud, int argc,
                                    const char **argv, const size_t *argvlen);

/** printf-style variant using hiredis' format ("%s", "%b" for binary). Same returns. */
CZ_EXTERN int cz_redis_command(cz_redis_t *r, cz_redis_cb cb, void *ud, const char *fmt, ...);

/** Compute s->sha1 for src (SHA1 via OpenSSL). src must outlive every use. */
CZ_EXTERN void cz_redis_script_init(cz_redis_script_t *s, const char *src);

/**
 * Run a script: EVALSHA sha nkeys argv[0..argc-1] (keys first, then arguments). On the first
 * use of a script on a connection, SCRIPT LOAD is pipelined in front; a NOSCRIPT error reloads it
 * and retries once within the same timeout. Returns as cz_redis_command_argv.
 */
CZ_EXTERN int cz_redis_evalsha(cz_redis_t *r, const cz_redis_script_t *s, cz_redis_cb cb, void *ud,
                               int nkeys, int argc, const char **argv, const size_t *argvlen);

/** Counters for tests and metrics. */
typedef struct cz_redis_stats {
    uint64_t connects;      /* successful connections */
    uint64_t timeouts;      /* commands completed with CZ_ETIMEOUT */
    uint64_t late_replies;  /* replies that arrived after their command timed out */
    uint64_t script_loads;  /* SCRIPT LOAD commands sent */
    uint64_t in_flight;     /* commands hiredis still holds (including timed-out ones) */
} cz_redis_stats_t;

CZ_EXTERN void cz_redis_stats(const cz_redis_t *r, cz_redis_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
