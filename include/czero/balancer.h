/* SPDX-License-Identifier: MIT
 *
 * balancer.h: client-side load balancers behind one interface.
 *
 * A balancer holds a set of nodes ("host:port", a weight, a caller pointer) and, for each request,
 * picks one: cz_lb_pick() then, when the request ends, cz_lb_done() with the outcome and latency.
 * That feedback drives go-zero's P2C EWMA, nginx's smooth-WRR effective weights, the bounded-load
 * consistent hash's in-flight counts, and passive health for every policy: max_fails failures
 * within fail_timeout take a node out until fail_timeout has passed, then it gets a trial request
 * (nginx ngx_http_upstream_round_robin.c). Policies: round robin, weighted random, smooth weighted
 * round robin (nginx), consistent hash with virtual nodes and optional bounded load (Mirrokni et
 * al., "Consistent Hashing with Bounded Loads"), and P2C over peak-EWMA latency (go-zero
 * zrpc/internal/balancer/p2c, with Finagle's peak EWMA and Envoy's slow start; p2c.c says what
 * differs from go-zero). It is not service discovery: the caller adds and removes nodes.
 *
 * Threads. One balancer is shared by all the gateway's event-loop threads, so pick/done are
 * thread-safe and may run concurrently with add/remove/set_down:
 *  - Per-node state lives in a slot array allocated once (cz_lb_opts_t.max_nodes) and is never
 *    moved, so done() and the counters need no lock: plain atomics.
 *  - The live node list (and the hash ring) is a copy-on-write snapshot. Writers build a new one
 *    under a writer mutex, swap the pointer and wait for a grace period before freeing the old:
 *    readers announce themselves in per-thread-slot counters split by an epoch parity (SRCU-like),
 *    so a pick costs two uncontended atomic adds and never blocks, and writers never starve.
 *  - Round robin uses one shared atomic counter, so all threads share one exact rotation. Random
 *    and P2C draw from a per-thread-slot PRNG and share nothing but node counters.
 *  - Smooth WRR mutates every node's current weight on each pick; it takes an adaptive mutex.
 *    nginx avoids a lock by keeping one balancer per worker; per-thread SWRR state here would
 *    split the effective-weight feedback per thread and make the sequence per-thread, so we
 *    measured the lock instead and kept it: bench_lb on the 2-vCPU dev VM, 8 nodes, pick+done,
 *    CPU time: rr 15 ns, swrr 45 ns, and the same per thread with two threads. The lock covers
 *    one pass over the nodes, so its cost grows with the node count.
 *  - P2C reads the clock in pick (cost decay, slow start) and in done (decay). The default
 *    clock is the coarse one; the gateway passes the precise one (its latencies are sub-ms).
 *
 * Indexes. cz_lb_add() returns a slot index < max_nodes that stays the node's name until it is
 * removed; tried bitmaps (retries) are indexed by it. Freed slots are reused oldest-first, and only
 * after every never-used slot has been handed out, so a late done() for a removed node is ignored
 * and is very unlikely to reach a newer node in a reused slot.
 */
#ifndef CZERO_BALANCER_H
#define CZERO_BALANCER_H

#include <stddef.h>
#include <stdint.h>
#include "clock.h"
#include "error.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Hard upper bound on nodes per balancer; a tried bitmap of CZ_LB_TRIED_WORDS always suffices. */
#define CZ_LB_MAX_NODES 1024
#define CZ_LB_TRIED_WORDS (CZ_LB_MAX_NODES / 64)

/** Mark / test slot idx in a tried bitmap (uint64_t[CZ_LB_TRIED_WORDS], zeroed per request). */
#define CZ_LB_TRIED_SET(bm, idx) ((bm)[(idx) >> 6] |= (uint64_t)1 << ((idx) & 63))
#define CZ_LB_TRIED_HAS(bm, idx) (((bm)[(idx) >> 6] >> ((idx) & 63)) & 1)

typedef enum {
    CZ_LB_RR = 0, /* plain rotation over usable nodes; weights ignored (the seed's round robin) */
    CZ_LB_RANDOM, /* random, proportional to weight */
    CZ_LB_SWRR,   /* nginx smooth weighted round robin with effective weights */
    CZ_LB_CHASH,  /* consistent hash on the pick key, virtual nodes, optional bounded load */
    CZ_LB_P2C,    /* go-zero p2c_ewma: power of two choices over peak-EWMA latency x in-flight */
} cz_lb_kind_t;

typedef struct cz_lb cz_lb_t;

typedef struct cz_lb_opts {
    const cz_clock_t *clock;  /* NULL: cz_clock_coarse() */
    uint64_t seed;            /* PRNG seed for random/p2c; 0: seeded from the clock */
    uint32_t max_nodes;       /* slot capacity, 1..CZ_LB_MAX_NODES; 0: 256 */
    uint32_t max_fails;       /* failures within fail_timeout that disable a node; 0: never */
    uint64_t fail_timeout_ns; /* nginx fail_timeout; 0: 10 s */
    uint32_t chash_replicas;  /* virtual nodes per weight unit; 0: 100 (go-zero minReplicas) */
    double chash_bound_eps;   /* bounded load: no node above ceil((1+eps) * mean); 0: off */
    uint64_t slow_start_ns;   /* P2C: a node that returns (cz_lb_rejoin, or set_down(0) of a
                                 down node) gets max(10 %, elapsed / window) of its share until
                                 the window is over (Envoy slow_start_window, aggression 1);
                                 0: off. cz_lb_opts_init: 10 s */
} cz_lb_opts_t;

/** Per-node counters, for metrics and tests. */
typedef struct cz_lb_node_stats {
    int64_t inflight;         /* picks not yet done */
    uint32_t fails;           /* passive-health failures counted so far */
    int usable;               /* 1 if a pick could choose it now (live, not down, not failed) */
    int64_t effective_weight; /* SWRR: weight lowered by failures, recovering by 1 per pick */
    int64_t current_weight;   /* SWRR: the smooth running weight */
    uint64_t ewma_lag_ns;     /* P2C: peak-EWMA latency at its last done() (0: no sample) */
    uint64_t success;         /* P2C: decayed success score, 0..1000 */
    uint32_t slow_start_pct;  /* P2C: share of its weight it gets now, 10..100 (100: not in
                                 slow start) */
} cz_lb_node_stats_t;

/** Fill o with defaults: coarse clock, clock seed, 256 nodes, max_fails 1, fail_timeout 10 s
 *  (nginx's defaults), 100 replicas, no load bound, 10 s slow start. */
CZ_EXTERN void cz_lb_opts_init(cz_lb_opts_t *o);

/** Create a balancer of the given kind. opts may be NULL (defaults as cz_lb_opts_init; note a
 *  zeroed struct means max_fails 0, i.e. passive health off). Returns NULL on bad arguments or
 *  out of memory. Free with cz_lb_free(). */
CZ_EXTERN cz_lb_t *cz_lb_new(cz_lb_kind_t kind, const cz_lb_opts_t *opts);

/** Free the balancer and its node names. No other call on lb may be running or follow. */
CZ_EXTERN void cz_lb_free(cz_lb_t *lb);

/** Policy name: "rr", "random", "swrr", "chash", "p2c". Static storage. */
CZ_EXTERN const char *cz_lb_kind_name(cz_lb_kind_t kind);

/** Add a node. name is copied (used for hashing and lookups), weight 1..1000 (consistent hash
 *  caps it at 100, go-zero's TopWeight), data is the caller's. On success stores the slot index
 *  in *idx (may be NULL). Returns 0, CZ_EARG, CZ_EDUPLICATE (name present), CZ_EFULL (max_nodes
 *  live nodes) or CZ_ENOMEM. Thread-safe; waits for in-flight picks to leave the old node list. */
CZ_EXTERN int cz_lb_add(cz_lb_t *lb, const char *name, uint32_t weight, void *data, size_t *idx);

/** Remove node idx. Picks already made keep their index; their done() is then ignored. Returns 0
 *  or CZ_ENOTFOUND. Thread-safe; waits for in-flight picks to leave the old node list. */
CZ_EXTERN int cz_lb_remove(cz_lb_t *lb, size_t idx);

/** Find a live node by name. Returns 0 and *idx, or CZ_ENOTFOUND. Thread-safe. */
CZ_EXTERN int cz_lb_find(cz_lb_t *lb, const char *name, size_t *idx);

/** Mark node idx administratively down (1) or up (0). A down node is never picked; a consistent
 *  hash sends its keys to the next node on the ring and takes them back when it is up. Bringing
 *  a down node up is a return: as cz_lb_rejoin. Returns 0 or CZ_ENOTFOUND. Thread-safe,
 *  lock-free. */
CZ_EXTERN int cz_lb_set_down(cz_lb_t *lb, size_t idx, int down);

/** Node idx returns after an absence the balancer did not see (a node discovery adds to a
 *  cluster that is already serving): its P2C latency and success scores start afresh, and with
 *  slow_start_ns its share ramps up over that window. The first nodes of a cluster should not
 *  rejoin: there is no one to take their traffic meanwhile. Other policies ignore it. Returns 0
 *  or CZ_ENOTFOUND. Thread-safe, lock-free. */
CZ_EXTERN int cz_lb_rejoin(cz_lb_t *lb, size_t idx);

/** Pick a node for one request. key is used by the consistent hash (may be empty: then a key is
 *  drawn at random), ignored by others. tried (may be NULL) holds CZ_LB_TRIED_WORDS words; set
 *  bits name nodes to avoid (a retry). Returns 0 with *idx set, CZ_ENOSERVICE when no node is
 *  usable, CZ_EARG. When every usable node is out only through passive health, their failure
 *  counts are reset (nginx: "all peers failed, mark them as live for quick recovery") and this
 *  call still returns CZ_ENOSERVICE. Every successful pick must be followed by one cz_lb_done().
 *  Thread-safe; never blocks except SWRR's short mutex. */
CZ_EXTERN int cz_lb_pick(cz_lb_t *lb, cz_str_t key, const uint64_t *tried, size_t *idx);

/** cz_lb_pick with now_ns, a reading of the balancer's clock (CzLbOpts.clock) the caller has just
 *  taken (0: the balancer reads its clock when a policy needs it): a proxy that reads the clock
 *  anyway saves a read per request. */
CZ_EXTERN int cz_lb_pick_at(cz_lb_t *lb, cz_str_t key, const uint64_t *tried, uint64_t now_ns,
                            size_t *idx);

/** Report the end of a request picked on idx: failed (connect error, 5xx...) and its latency.
 *  Feeds in-flight counts, passive health, SWRR effective weight and P2C peak EWMA. A done() for a
 *  slot that is no longer live only releases its in-flight count. Thread-safe. */
CZ_EXTERN void cz_lb_done(cz_lb_t *lb, size_t idx, int failed, uint64_t latency_ns);

/** cz_lb_done with now_ns, a reading of the balancer's clock just taken (0: read it), as in
 *  cz_lb_pick_at. */
CZ_EXTERN void cz_lb_done_at(cz_lb_t *lb, size_t idx, int failed, uint64_t latency_ns,
                             uint64_t now_ns);

/** Number of live nodes (down ones included). Thread-safe. */
CZ_EXTERN size_t cz_lb_size(cz_lb_t *lb);

/** Name / data of node idx, or NULL when idx is not live. The name stays valid until the node is
 *  removed; do not race a remove of the same node. */
CZ_EXTERN const char *cz_lb_node_name(cz_lb_t *lb, size_t idx);
CZ_EXTERN void *cz_lb_node_data(cz_lb_t *lb, size_t idx);

/** Snapshot node idx's counters into *st. Returns 0 or CZ_ENOTFOUND. Thread-safe (each field is
 *  read atomically; the set is not one instant). */
CZ_EXTERN int cz_lb_node_stats(cz_lb_t *lb, size_t idx, cz_lb_node_stats_t *st);

#ifdef __cplusplus
}
#endif
#endif
