/* SPDX-License-Identifier: MIT
 *
 * loadgen.h: an open-loop HTTP load generator (a fixed arrival rate, as wrk2 does; wrk itself is
 * closed-loop: a fast 503 would bring the next request at once and overload is then measured in
 * connections, not in requests per second). GET requests are scheduled at `rate` per second;
 * each goes out on an idle keep-alive connection, or a new one up to max_conns, or waits its
 * turn; a request's latency is counted from the time it was scheduled, so client-side waiting
 * is in it (no coordinated omission). Runs on its own libuv loop in the calling thread. Used by
 * the overload integration test and by bench/loadgen_main.c (`make bench`'s overload section).
 * Not a general client: HTTP/1.1 answers with Content-Length only, no TLS.
 */
#ifndef CZ_TEST_LOADGEN_H
#define CZ_TEST_LOADGEN_H

#include <stdint.h>

typedef struct lg_conf {
    int port;          /* 127.0.0.1:port */
    const char *path;  /* "/work?cpu=500" */
    double rate;       /* requests per second */
    double seconds;    /* how long requests are scheduled */
    int max_conns;     /* 0 = 256 */
    int grace_ms;      /* wait for answers after the last schedule; 0 = 2000 */
} lg_conf_t;

typedef struct lg_result {
    uint64_t scheduled; /* requests due over the run */
    uint64_t ok;        /* 2xx answers */
    uint64_t s503, s429, other; /* other statuses */
    uint64_t errors;    /* connection failures, or no answer by the end of the grace */
    double seconds;     /* the scheduling time */
    /* 2xx answers received while requests were being scheduled, per second: the answers a
     * backlog yields after the end are left out, or a server that queues would be credited for
     * the time it takes to drain */
    double goodput;
    double p50_ms, p99_ms, max_ms; /* latency of the 2xx answers, from their scheduled time */
} lg_result_t;

/** Run the load; 0, or -1 when the loop cannot start. */
int lg_run(const lg_conf_t *c, lg_result_t *out);

#endif
