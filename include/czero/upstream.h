/* SPDX-License-Identifier: MIT
 *
 * upstream.h: upstream clusters (a balanced, health-checked set of backend nodes) and the
 * reverse-proxy handler built on them.
 *
 * A cz_upstream_t holds the nodes of one named backend service in a balancer (balancer.h) of the
 * configured policy; each node carries a per-node SRE breaker (breaker.h), passive outlier
 * ejection state (consecutive failures -> down for base * 2^k, capped, as Envoy's outlier
 * detection; then one trial) and active health-check counters (healthy/unhealthy thresholds as
 * Envoy). Discovery (static Nodes, Dns re-resolved on an interval, or an Etcd key prefix) and the
 * active checks run on a background thread with its own uv loop; they add, remove and set_down
 * nodes in the balancer, which is thread-safe, so every worker loop may call through the same
 * upstream. cz_upstream_call() is the asynchronous "call another service through a named upstream"
 * API for handlers; cz_proxy_handler() is the gateway's reverse-proxy handler on top of it.
 *
 * It is not an HTTP client (client.h does the connections and parsing) nor service discovery
 * (discovery.h): it joins those two with balancing, health and retries.
 */
#ifndef CZERO_UPSTREAM_H
#define CZERO_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include "client.h"
#include "config.h"
#include "discovery.h"
#include "error.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_req cz_req_t;
typedef struct cz_res cz_res_t;

/** Upstream.Policy values (CZ_CONF_ENUM order of cz_upstream_conf_fields). */
enum {
    CZ_UP_P2C_EWMA = 0,    /* "p2c_ewma" (default): go-zero's P2C over EWMA latency */
    CZ_UP_ROUND_ROBIN,     /* "round_robin" */
    CZ_UP_RANDOM,          /* "random" (weighted) */
    CZ_UP_WEIGHTED,        /* "weighted": nginx smooth weighted round robin */
    CZ_UP_CONSISTENT_HASH, /* "consistent_hash": bounded-load (0.25) hash on HashKey */
};

/** One static node: Nodes: [{Addr: 127.0.0.1:8001, Weight: 1}]. */
typedef struct cz_upstream_node_conf {
    char *addr;     /* Addr (required): "ip:port" or "host:port"; "https://host:port" = TLS */
    int64_t weight; /* Weight, 1..1000, default 1 */
} cz_upstream_node_conf_t;

/** Health: active checks. Off unless Path is given. */
typedef struct cz_upstream_health_conf {
    bool enabled;          /* set by validation when Path is given (no YAML key) */
    char *path;            /* Path: GET target, e.g. /healthz */
    int64_t interval_ms;   /* Interval, default 5s */
    int64_t timeout_ms;    /* Timeout, default 1s */
    int64_t expect_status; /* ExpectStatus, default 200 */
    int64_t healthy;       /* HealthyThreshold, default 2 (Envoy) */
    int64_t unhealthy;     /* UnhealthyThreshold, default 3 (Envoy) */
} cz_upstream_health_conf_t;

/** Outlier: passive ejection. */
typedef struct cz_upstream_outlier_conf {
    int64_t max_fails;         /* MaxFails: consecutive failures that eject, default 1 (nginx);
                                  0 = passive ejection off */
    int64_t base_ejection_ms;  /* BaseEjection, default 1s; doubles per consecutive ejection */
    int64_t max_ejection_ms;   /* MaxEjection, default 30s */
    bool on_5xx;               /* On5xx: a 5xx answer counts as a failure, default true */
} cz_upstream_outlier_conf_t;

typedef struct cz_upstream_conf {            /* YAML, table cz_upstream_conf_fields */
    char *name;                              /* Name (required) */
    int policy;                              /* Policy: p2c_ewma | round_robin | random | weighted |
                                                consistent_hash */
    char *hash_key;                          /* HashKey: "header:X-User" | "cookie:sid" |
                                                "query:uid" | "path" (default path) */
    cz_conf_array_t nodes;                   /* Nodes: cz_upstream_node_conf_t */
    char *dns;                               /* Dns: "name:port" */
    int64_t dns_interval_ms;                 /* DnsInterval, default 5s */
    cz_etcd_conf_t etcd;                     /* Etcd: {Hosts, Key} */
    cz_tls_client_conf_t tls;                /* Tls: {CACertFile, CertFile, CertKeyFile,
                                                InsecureSkipVerify, MinVersion, Ciphers, Curves,
                                                Alpn}: how to speak TLS to the nodes. TLS is on
                                                when the addresses say https:// (Nodes, Dns) or
                                                when any of CACertFile, CertFile or
                                                InsecureSkipVerify is set (for Etcd-discovered
                                                nodes, which register host:port). Verification
                                                is on (system CAs unless CACertFile), SNI and
                                                the host check use the node's host. */
    bool tls_enabled;                        /* set by validation (no YAML key) */
    struct {                                 /* Pool: keep-alive pool per node and worker (the
                                                pools live in each worker's client, client.h;
                                                every call passes these to its node's pool) */
        int64_t size;                        /* Pool.Size, default 64; 0 = no keep-alive */
        int64_t idle_timeout_ms;             /* Pool.IdleTimeout, default 60s */
    } pool;
    int64_t connect_timeout_ms;              /* ConnectTimeout, default 1s */
    int64_t read_timeout_ms;                 /* ReadTimeout: the longest wait between two reads
                                                of a response body (nginx proxy_read_timeout);
                                                default 0 = none */
    cz_upstream_health_conf_t health;        /* Health */
    cz_upstream_outlier_conf_t outlier;      /* Outlier */
    bool breaker;                            /* Breaker: per-node SRE breakers, default true */
    int64_t slow_start_ms;                   /* SlowStart: p2c_ewma only: a node that returns
                                                (its ejection ends, it passes its health checks
                                                again, discovery adds it to a serving cluster)
                                                ramps from 10 % to its full share over this
                                                window (Envoy's slow_start_window); default 10s,
                                                0 = off */
    /* Not from YAML (the loader leaves it alone: zero the struct before loading): tests inject
     * a clock (NULL = cz_clock_system(); the per-node breakers then read cz_clock_coarse(), as
     * breakers do by default). An injected clock drives the breakers too. */
    const cz_clock_t *clock;
    /* Set by cz_upstreams_conf_check (the Upstreams field's check): the element's line and
     * column in the file, so errors found at start name them. 0 = unknown. */
    int _line, _col;
} cz_upstream_conf_t;

CZ_EXTERN extern const cz_conf_field_t cz_upstream_conf_fields[];

/** Check a loaded cz_upstream_conf_t beyond what the table checks (exactly one of Nodes / Dns /
 *  Etcd, HashKey syntax, thresholds) and set derived fields (health.enabled). key_prefix names
 *  the element in messages ("Upstreams[0]"); may be NULL. Returns 0 or CZ_EINVAL_CONF with d set
 *  ("Upstreams[0].HashKey: must be header:<name>, cookie:<name>, query:<name> or path"). */
CZ_EXTERN int cz_upstream_conf_check(cz_upstream_conf_t *conf, const char *key_prefix,
                                     cz_diag_t *d);

typedef struct cz_upstream cz_upstream_t; /* shared by all worker loops */

/** Create an upstream from conf (checked with cz_upstream_conf_check first; conf is copied, the
 *  caller keeps ownership of it) and start its discovery and health checks on a background
 *  thread. Static nodes are in the balancer when this returns. Returns NULL with d set (config
 *  errors) or on out of memory. Any thread. */
CZ_EXTERN cz_upstream_t *cz_upstream_new(const cz_upstream_conf_t *conf, cz_diag_t *d);

/** Stop discovery and health checks, join the background thread and free u. No call through u may
 *  be running or follow (close the worker clients first). Any thread but u's own. */
CZ_EXTERN void cz_upstream_free(cz_upstream_t *u);

/** The upstream's name (Name). Owned by u. */
CZ_EXTERN const char *cz_upstream_name(const cz_upstream_t *u);

/** Per-node snapshot for tests, metrics and the admin view. */
typedef struct cz_upstream_node_stat {
    char addr[64];
    bool usable;          /* would be picked now: not down, not ejected, not unhealthy */
    bool ejected;         /* passive ejection in force */
    bool unhealthy;       /* active checks say down */
    uint32_t ejections;   /* consecutive ejections (the back-off exponent) */
    uint32_t fails;       /* consecutive failures since the last success */
    uint64_t requests;    /* calls sent to this node */
    uint32_t slow_start_pct; /* p2c_ewma: share of its weight it gets now, 10..100 while it
                                slow-starts (SlowStart), else 100 */
} cz_upstream_node_stat_t;

/** Copy up to max node snapshots into out; returns the number of live nodes. Thread-safe. */
CZ_EXTERN size_t cz_upstream_nodes(cz_upstream_t *u, cz_upstream_node_stat_t *out, size_t max);

/** Replace the node set (what discovery does; exposed for tests and programs that discover by
 *  other means). Nodes not in eps are removed (calls in flight to them finish), new ones are added,
 *  weights of kept nodes are left as they were. 0, CZ_ENOMEM or CZ_EFULL. Thread-safe. */
CZ_EXTERN int cz_upstream_set_nodes(cz_upstream_t *u, const cz_endpoint_t *eps, size_t n);

/** One call through the cluster. http.addr is ignored (the upstream picks it). key feeds the
 *  consistent hash. retries: how many more nodes to try after the first. idempotent: a failure
 *  before the response began may be retried (else only connect failures are). */
typedef struct cz_upstream_req {
    cz_client_req_t http;
    cz_str_t key;
    int retries;
    bool idempotent;
} cz_upstream_req_t;

typedef struct cz_upcall cz_upcall_t; /* one call through an upstream, across its retries */

/** Call through the cluster from a worker loop: pick a node (key for consistent hash; a node whose
 *  breaker drops the call counts as tried and another is picked), call it with client c (this
 *  loop's client), feed the balancer (latency, failure), the node's breaker (5xx and transport
 *  errors reject) and passive ejection, and retry on an untried node when the connect failed (or
 *  nothing was sent), or when rq->idempotent and nothing of the response arrived, while the
 *  request body can still be replayed (none, whole, or a streamed body whose bytes so far fit the
 *  512 KiB replay buffer, always the case when the connect failed) and rq->retries allows.
 *  Retries are invisible to cbs: they see one call. The cz_call_t passed to cbs is the current
 *  attempt's (cz_call_pause/resume on it from inside a callback are fine); outside callbacks use
 *  *out with the cz_upcall_* functions below, because an attempt's call changes on retry.
 *  rq's strings and header arrays must stay valid until on_done (they are replayed on retry).
 *  Only what a node did counts against it (balancer, breaker, ejection, retries): a connect
 *  error, a reset, a timeout, a malformed answer, a 5xx; never the caller's or the gateway's own
 *  failures (out of memory, client closing, a request that cannot be written).
 *  Returns 0 (on_done will run exactly once, never inside this call), CZ_ENOSERVICE (no usable
 *  node), CZ_EARG (bad arguments, or a request the client refuses to write: an empty method or
 *  target, CR/LF/NUL or a space in them, an empty header name or one with ':', CR/LF/NUL in a
 *  name or value; refused before any node is picked, so none is tried or blamed), CZ_ENOMEM or
 *  CZ_ECLOSED (client closing); no callback runs on error. Loop thread of c only. */
CZ_EXTERN int cz_upstream_call(cz_upstream_t *u, cz_client_t *c, const cz_upstream_req_t *rq,
                               const cz_call_cbs_t *cbs, void *ud, cz_upcall_t **out);

/** Body bytes of a body_stream call (copied; also kept for a replay while they fit 512 KiB).
 *  0, 1 (above high water: wait for on_drain), or CZ_ECLOSED / CZ_EARG as cz_call_write. */
CZ_EXTERN int cz_upcall_write(cz_upcall_t *uc, const void *data, size_t n);
/** End a body_stream request body. 0 or CZ_ECLOSED / CZ_EARG as cz_call_write_end. */
CZ_EXTERN int cz_upcall_write_end(cz_upcall_t *uc);
/** Stop / resume reading the response (back-pressure). */
CZ_EXTERN void cz_upcall_pause(cz_upcall_t *uc);
CZ_EXTERN void cz_upcall_resume(cz_upcall_t *uc);
/** Abandon the call: no callback after this; uc is freed. Not from inside on_done. */
CZ_EXTERN void cz_upcall_cancel(cz_upcall_t *uc);
/** The node ("ip:port") the current attempt went to; valid until on_done returns. */
CZ_EXTERN const char *cz_upcall_addr(const cz_upcall_t *uc);
/** Attempts made so far (1 + retries). */
CZ_EXTERN int cz_upcall_attempts(const cz_upcall_t *uc);

/* ---- buffered convenience: what a handler calling another service uses ---- */

typedef struct cz_upfetch cz_upfetch_t; /* one buffered call; see cz_upstream_fetch */

/** cz_upstream_call with the response collected in memory (cz_client_fetch through a cluster):
 *  cb(err, res, ud) runs once with the status, the headers and the whole body. rq is copied
 *  (strings, header arrays, body), so it may die when this returns; rq->http.body_stream must be
 *  false and http.addr is ignored. max_body caps the body (0 = 1 MiB): a Content-Length above it
 *  is refused before its body is read, a longer chunked body stops the call, both with err
 *  CZ_EFULL and the node not blamed. Otherwise err is as for on_done (0; CZ_ETIMEOUT when
 *  http.total_timeout_ms, retries included, ran out; CZ_ECLOSED, CZ_EPARSE, -errno of the last
 *  attempt's connect). res and its views are valid during cb only; on error they still carry
 *  info and any status that arrived. Retries (rq->retries, rq->idempotent) happen only before a
 *  response byte arrived, so cb never sees a mix of attempts. On 0, *out (may be NULL) is a
 *  handle for cz_upfetch_cancel until cb runs (never from inside this call). Returns 0,
 *  CZ_ENOSERVICE (no usable node: answer 503), CZ_EARG, CZ_ENOMEM or CZ_ECLOSED (client closing);
 *  no callback then. Loop thread of c (in a handler: cz_req_client(req)). */
CZ_EXTERN int cz_upstream_fetch(cz_upstream_t *u, cz_client_t *c, const cz_upstream_req_t *rq,
                                size_t max_body, cz_fetch_fn cb, void *ud, cz_upfetch_t **out);

/** Abandon a fetch whose cb has not run (the handler's client went away: call it from the
 *  cz_req_on_cancel callback): no callback follows, the connection is closed, the node is not
 *  blamed, f is freed. Not from inside cb or after it. NULL is a no-op. Loop thread. */
CZ_EXTERN void cz_upfetch_cancel(cz_upfetch_t *f);

/* ---- named upstreams in a service's config (go-zero's zrpc.MustNewClient(c.UserRpc)) ---- */

/** The `Upstreams` field for a service's config table: a YAML sequence of cz_upstream_conf_t
 *  (Name, Nodes / Dns / Etcd, Policy, ...) stored in the cz_conf_array_t member `member`:
 *    { CZ_UPSTREAMS_FIELD(my_conf_t, upstreams) },   then   cz_upstreams_start(&c.upstreams, &d) */
#define CZ_UPSTREAMS_FIELD(st, member)                                                           \
    .key = "Upstreams", .type = CZ_CONF_ARRAY, .offset = offsetof(st, member),                   \
    .sub = cz_upstream_conf_fields, .elem_size = sizeof(cz_upstream_conf_t),                     \
    .check = cz_upstreams_conf_check

/** The check (cz_conf_check_fn) of CZ_UPSTREAMS_FIELD, so a bad Upstreams section fails the load
 *  itself with its position: cz_upstream_conf_check on every element, then unique names
 *  ("svc.yaml:5:12: Upstreams[1].Name: duplicate upstream name 'a'"). member is the
 *  cz_conf_array_t of cz_upstream_conf_t; it also records each element's line and column for
 *  errors found later by cz_upstreams_start. Returns 0 or CZ_EINVAL_CONF with d->key relative to
 *  the array ("[1].Name"). Loading thread. */
CZ_EXTERN int cz_upstreams_conf_check(void *member, const cz_conf_at_t *at, cz_diag_t *d);

typedef struct cz_upstreams cz_upstreams_t; /* immutable once started; any thread may find in it */

/** Check every element of confs (an `Upstreams` array loaded with cz_upstream_conf_fields; NULL
 *  or empty gives an empty set), refuse duplicate names, and start one upstream per element
 *  (discovery and health checks on their own threads). confs is not kept: free it with the rest
 *  of the config when convenient. Returns the set, or NULL with d set ("Upstreams[1].Name:
 *  duplicate upstream name 'users'", "Upstreams[0].Nodes: one of Nodes, Dns or Etcd is required",
 *  out of memory). A config loaded through CZ_UPSTREAMS_FIELD has passed these checks already;
 *  what fails here then carries the element's line and column, but d->file is left empty (the
 *  set does not know the file name: the caller fills it in). Any thread. */
CZ_EXTERN cz_upstreams_t *cz_upstreams_start(const cz_conf_array_t *confs, cz_diag_t *d);

/** The upstream named name, or NULL (no such name, or s NULL). Owned by s; look it up once at
 *  startup and keep the pointer (e.g. as a route's ud). Thread-safe. */
CZ_EXTERN cz_upstream_t *cz_upstreams_find(const cz_upstreams_t *s, const char *name);

/** Number of upstreams in s (0 for NULL). */
CZ_EXTERN size_t cz_upstreams_count(const cz_upstreams_t *s);

/** Stop and free every upstream of s, then s. No call may be in flight or follow: free the set
 *  after the server that calls through it has stopped (cz_server_run returned; its worker clients
 *  are closed). NULL is a no-op. */
CZ_EXTERN void cz_upstreams_free(cz_upstreams_t *s);

/** A route of the reverse proxy (the ud of cz_proxy_handler). strip_prefix is removed from the
 *  front of the path; rewrite_prefix (may be NULL) is put in its place. retries: extra nodes to try
 *  for idempotent requests (and for any request whose connect failed). timeout_ms bounds the
 *  whole upstream call (0 = the client's default). */
typedef struct cz_proxy_route {
    cz_upstream_t *up;
    const char *strip_prefix, *rewrite_prefix;
    int retries;
    uint64_t timeout_ms;
} cz_proxy_route_t;

/** The reverse-proxy handler (cz_handler_fn; register the route with CZ_ROUTE_STREAM_BODY). Sends
 *  the request on through route->up: hop-by-hop headers removed (Connection and what it names,
 *  Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade), X-Forwarded-For appended,
 *  X-Forwarded-Proto and -Host set, X-Request-Id kept or generated, traceparent set to the
 *  gateway's span; streams bodies both ways with backpressure. Answers 400 when the request cannot
 *  be written upstream (see cz_upstream_call's CZ_EARG; no node is tried or blamed), 503 when no
 *  node is usable, 502 on connect failure or a broken upstream, 504 on upstream timeout; a
 *  failure after the response began closes the client connection. Returns CZ_AGAIN (or a status
 *  when it answered at once). Loop thread. */
CZ_EXTERN int cz_proxy_handler(cz_req_t *req, cz_res_t *res, void *ud);

#ifdef __cplusplus
}
#endif
#endif
