/* SPDX-License-Identifier: MIT
 *
 * gw_int.h: private to src/gateway: the upstream's node state and the pieces the unit tests reach
 * (passive ejection, active-check thresholds, the proxy's header rewriting).
 *
 * Node lifetime: a node struct is created the first time discovery names its address and lives
 * until the upstream is freed. Leaving discovery only takes it out of the balancer (live = false);
 * coming back re-adds the same struct. So a call that picked a node may keep its pointer with no
 * reference count, however discovery changes meanwhile, and memory is bounded by the number of
 * distinct addresses ever seen.
 */
#ifndef CZ_GW_INT_H
#define CZ_GW_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>
#include "czero/balancer.h"
#include "czero/breaker.h"
#include "czero/request.h"
#include "czero/tls.h"
#include "czero/upstream.h"
#include "../internal.h"

#define CZ__UP_ADDR_MAX 64

typedef struct cz__up_node {
    struct cz__up_node *next; /* u->nodes, under u->mu */
    char addr[CZ__UP_ADDR_MAX];
    size_t idx;               /* balancer slot while live (written under u->mu) */
    bool live;                /* in the balancer (u->mu) */
    uint32_t weight;
    cz_breaker_t *breaker;    /* per-node SRE breaker, or the nop breaker */
    pthread_mutex_t mu;       /* the outlier and health fields below */
    uint32_t fails;           /* consecutive failed calls since the last success */
    uint32_t ejections;       /* consecutive ejections: the back-off exponent */
    uint64_t eject_until;     /* ns on u->clock; 0 = not ejected */
    bool trial;               /* an ejection just ended: the next failure ejects again */
    bool unhealthy;           /* active checks say down */
    uint32_t hc_ok, hc_fail;  /* consecutive active-check results */
    bool hc_busy;             /* a check is in flight (health loop only) */
    atomic_uint_fast64_t requests;
} cz__up_node_t;

typedef enum { CZ__HASH_PATH = 0, CZ__HASH_HEADER, CZ__HASH_COOKIE, CZ__HASH_QUERY } cz__hash_src_t;

struct cz_upstream {
    char *name;
    const cz_clock_t *clock;
    cz_lb_t *lb;
    int policy;
    cz__hash_src_t hash_src;
    char *hash_name;          /* header / cookie / query parameter name */
    uint64_t connect_timeout_ms;
    uint64_t read_timeout_ms;   /* ReadTimeout, 0 = none */
    int64_t pool_size;        /* Pool.Size for cz_client_req_t (<0: no keep-alive) */
    uint64_t pool_idle_ms;    /* Pool.IdleTimeout */
    cz_upstream_outlier_conf_t outlier;
    cz_upstream_health_conf_t health; /* path owned */
    bool use_breaker;
    cz_tls_ctx_t *tls;        /* Tls / https:// nodes: every node's connections; NULL = plain */

    pthread_mutex_t mu;       /* node list */
    cz__up_node_t *nodes;
    atomic_uint_fast64_t next_expiry; /* earliest eject_until in force, UINT64_MAX when none */

    /* background loop: discovery and active checks */
    cz_discovery_t *disc;
    bool has_thread;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t stop_async;
    uv_timer_t hc_timer;
    struct cz_client *hc_client;
    int closing;              /* handles still closing at shutdown */
};

/* ---- upstream_conf.c ---- */
/** addr without a leading "http://" or "https://" (the upstream's tls decides, per upstream). */
const char *cz__up_strip_scheme(const char *addr);

/* ---- upstream.c ---- */
/* Recompute the node's balancer down flag from ejection and health (n->mu held). */
void cz__up_node_apply(cz_upstream_t *u, cz__up_node_t *n);

/* ---- upstream_call.c ---- */
size_t cz__upcall_size(void);
/* cz_upstream_call into caller-provided storage of cz__upcall_size() bytes (owned = false: not
 * freed here, e.g. request-arena memory that outlives the call). */
int cz__upcall_start(cz_upcall_t *uc, bool owned, cz_upstream_t *u, struct cz_client *c,
                     const cz_upstream_req_t *rq, const cz_call_cbs_t *cbs, void *ud);
/* After cz__upcall_start failed with CZ_ENOSERVICE on storage the caller owns: whether a node's
 * breaker dropped the call on the way (the answer is a local refusal, not a route failure). */
bool cz__upcall_breaker_dropped(const cz_upcall_t *uc);

/* ---- outlier.c: passive ejection ---- */
/* Feed one call result of node n at time now (ns). failed: transport error, timeout or 5xx with
 * Outlier.On5xx. MaxFails consecutive failures eject for base * 2^k (k = earlier consecutive
 * ejections), capped at MaxEjection; after that one trial: a failure ejects again, a success
 * clears the record. Any thread. */
void cz__outlier_result(cz_upstream_t *u, cz__up_node_t *n, bool failed, uint64_t now);
/* End the ejections that are due at now. Cheap when none is (one atomic load). Any thread. */
void cz__outlier_tick(cz_upstream_t *u, uint64_t now);
/* Every live node is ejected (nothing else wrong with them): end those ejections at once so the
 * cluster is tried again (nginx resets its peers when all have failed). Returns how many. */
size_t cz__outlier_release_all(cz_upstream_t *u);

/* ---- health.c: active checks on the background loop ---- */
/* Feed one active-check result (ok = expected status in time). Any thread. */
void cz__health_result(cz_upstream_t *u, cz__up_node_t *n, bool ok);
/* Start / stop the check timer on u->loop (background thread). */
int cz__health_start(cz_upstream_t *u);
void cz__health_stop(cz_upstream_t *u);

/* ---- proxy_headers.c ---- */
/* True for a hop-by-hop header name (RFC 9110 7.6.1 plus Proxy-*, Keep-Alive, Trailer(s)). */
bool cz__hop_by_hop(cz_str_t name);
/* True when `name` is listed in the Connection header value `conn` (comma-separated tokens). */
bool cz__conn_names(cz_str_t conn, cz_str_t name);
/* The lengths of the tokens in a Connection value, as bit min(length, 63): split once per
 * message, so that a header whose length no token has (most of them) skips cz__conn_names. */
uint64_t cz__conn_lens(cz_str_t conn);
static inline bool cz__conn_may_name(uint64_t lens, cz_str_t name)
{
    return (lens >> (name.n < 63 ? name.n : 63)) & 1;
}
/* The client IP of "ip:port" / "[v6]:port" (a view into remote). */
cz_str_t cz__remote_ip(cz_str_t remote);
/* The target with strip/rewrite applied, in arena memory (or target itself when unchanged). */
cz_str_t cz__proxy_target(cz_arena_t *a, cz_str_t target, const char *strip, const char *rewrite);
/* Cookie value of name in a Cookie header value; p NULL when absent. */
cz_str_t cz__cookie_value(cz_str_t cookie, cz_str_t name);

typedef struct cz__fwd_headers {
    cz_str_t *name, *value;
    size_t n;
} cz__fwd_headers_t;
/* Build the upstream request's headers from req's: hop-by-hop (and Content-Length, Expect)
 * removed, X-Forwarded-For appended, X-Forwarded-Proto / -Host set, X-Request-Id kept or made,
 * traceparent of the gateway's span. Arena memory. 0 or CZ_ENOMEM. */
int cz__proxy_headers(cz_req_t *req, cz_arena_t *a, cz__fwd_headers_t *out);
/* The upstream request of proxy route rt for req, without its body: method, the target with
 * rt's strip/rewrite, the headers of cz__proxy_headers, rt's timeout. Arena memory. 0 or
 * CZ_ENOMEM. */
int cz__proxy_request(cz_req_t *req, const cz_proxy_route_t *rt, cz_arena_t *a,
                      cz_client_req_t *out);

#endif
