/* SPDX-License-Identifier: MIT
 *
 * backends.h: named czero backends on loopback for the proxy and upstream tests, and the
 * upstream built from YAML that calls them. Each backend answers:
 *   GET|POST /who      its name (body and X-Instance), with status `status`, after `delay_ms`
 *   GET /healthz       200 while `healthy`, else 503
 *   GET /headers       the request as received: "target\n", then "name: value\n" per header
 *   POST /big          the request body echoed
 *   GET /big?n=N       N bytes 'a' + i % 26, with X-Big: yes
 *   GET /download      `download_bytes` (TB_BIG) bytes of tb_big_pattern()
 * and raw nodes (tb_raw_t) for what a czero server would never answer.
 */
#ifndef CZ_TEST_BACKENDS_H
#define CZ_TEST_BACKENDS_H

#include <pthread.h>
#include <stdatomic.h>
#include "czero/upstream.h"
#include "test_server.h"

#define TB_BIG (10u << 20)

typedef struct tb_backend {
    ts_t ts;
    char name[16];
    atomic_int status;  /* what /who answers: 200 */
    atomic_int healthy; /* /healthz: 200 or 503; 1 */
    atomic_int delay_ms;
    size_t download_bytes; /* what /download sends, at most TB_BIG; TB_BIG */
    atomic_int hits;    /* requests that reached a route other than /healthz */
    char addr[32]; /* "127.0.0.1:port" once serving */
} tb_backend_t;

/** Name b and set its defaults (ts_init, no breaker, no shedding); adjust b->ts.conf after. */
void tb_backend_init(tb_backend_t *b, const char *name);
/** Start serving b with the routes above; asserts on failure. Stop with ts_stop(&b->ts). */
void tb_backend_serve(tb_backend_t *b);
/** tb_backend_init then tb_backend_serve. */
void tb_backend_start(tb_backend_t *b, const char *name);
/** TB_BIG bytes of a known pattern (malloc'd, the caller frees). */
char *tb_big_pattern(void);
/** A loopback port nothing listens on (asserts). */
int tb_dead_port(void);
/** An upstream from its YAML (asserts on a config error). */
cz_upstream_t *tb_upstream_yaml(const char *yaml);
/** An upstream named t with `policy`, one node per addrs[i] (weight weights[i], or 1 when
 *  weights is NULL), then the YAML `extra` (may be NULL). */
cz_upstream_t *tb_upstream(const char *policy, const char *extra, const char **addrs,
                           const int *weights, size_t n);

/* A raw loopback node: a thread accepts connections and reads one request on each (counted in
 * requests); then, when `answer` is set, writes it and waits 50 ms; then closes. */
typedef struct tb_raw {
    int fd, port;
    char addr[32];                /* "127.0.0.1:port" */
    const char *_Atomic answer;   /* NULL: close without answering; a test may change it */
    atomic_int requests;
    pthread_t th;
} tb_raw_t;

/** Listen on a free loopback port and start r's thread (asserts). answer may be NULL. */
void tb_raw_start(tb_raw_t *r, const char *answer);
/** Stop accepting and join the thread. */
void tb_raw_stop(tb_raw_t *r);

#endif
