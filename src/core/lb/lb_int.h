/* SPDX-License-Identifier: MIT
 *
 * lb_int.h: what the load-balancing policies share (module-private, never installed).
 *
 * lb.c owns the node slots, the copy-on-write node list with its grace periods, passive health
 * and the public entry points; each policy file (rr.c random.c swrr.c chash.c p2c.c) is a
 * cz__lb_ops_t table plus an impl struct that embeds cz_lb_t as `super`. A policy's pick runs
 * inside a read section: the snapshot it gets stays valid until pick returns.
 */
#ifndef CZERO_LB_INT_H
#define CZERO_LB_INT_H

#include <pthread.h>
#include <stdint.h>
#include "czero/balancer.h"
#include "internal.h"

#define CZ__LB_READERS 16 /* reader slots per balancer (power of two); threads share by tid */

/* Node state bits (cz__lb_node_t.state, atomic). */
#define CZ__LB_LIVE 1u
#define CZ__LB_DOWN 2u

/* One slot. Never moves or gets freed while the balancer exists, so pick/done touch it without
 * a lock. Counters are accessed with __atomic builtins; cur/eff are guarded by swrr's mutex. */
typedef struct cz__lb_node {
    uint32_t state;  /* CZ__LB_LIVE | CZ__LB_DOWN */
    uint32_t weight; /* 1..1000, written only while not live */
    char *name;
    void *data;
    uint32_t fails;       /* nginx peer->fails */
    uint64_t accessed_ns; /* last failure (nginx peer->accessed) */
    uint64_t checked_ns;  /* last failure or trial pick (nginx peer->checked) */
    int64_t inflight;
    uint64_t lag_ns;  /* p2c peak-EWMA latency at last_ns; 0 = no sample yet */
    uint64_t success; /* p2c EWMA success, initSuccess = 1000 */
    uint64_t last_ns; /* p2c last done() */
    uint64_t ss_ns;   /* slow start began (cz_lb_rejoin); 0 = not in slow start */
    int64_t cur, eff; /* swrr current / effective weight */
} __attribute__((aligned(64))) cz__lb_node_t;

/* The copy-on-write list of live nodes, in add order. ext is policy data (weights prefix sums,
 * the hash ring) freed with the snapshot. */
typedef struct cz__lb_snap {
    uint32_t n;
    uint64_t total_weight;
    void *ext;
    uint32_t idx[]; /* slot numbers */
} cz__lb_snap_t;

typedef struct cz__lb_reader {
    uint64_t active[2]; /* readers inside a pick, by epoch parity */
    uint64_t rng;       /* PRNG state for threads mapped to this slot (relaxed atomics) */
} __attribute__((aligned(64))) cz__lb_reader_t;

/* What a policy's pick needs besides the snapshot. now is read lazily (0 = not read yet). */
typedef struct cz__lb_pickctx {
    const uint64_t *tried;
    uint64_t now;
    cz__lb_reader_t *rd;
    cz_str_t key;
} cz__lb_pickctx_t;

typedef struct cz__lb_ops {
    const char *name;
    size_t size; /* impl struct size, at least sizeof(cz_lb_t) */
    int (*init)(cz_lb_t *lb, const cz_lb_opts_t *o);               /* may be NULL */
    void (*dispose)(cz_lb_t *lb);                                  /* may be NULL */
    int (*build)(cz_lb_t *lb, cz__lb_snap_t *s);                   /* fill s->ext; may be NULL */
    void (*node_added)(cz_lb_t *lb, cz__lb_node_t *nd);           /* writer side; may be NULL */
    void (*rejoined)(cz_lb_t *lb, cz__lb_node_t *nd); /* cz_lb_rejoin, lock-free; may be NULL */
    int (*pick)(cz_lb_t *lb, const cz__lb_snap_t *s, cz__lb_pickctx_t *c, uint32_t *slot);
    /* now: a reading of lb->clock the caller already took, or 0 (read it if needed) */
    void (*done)(cz_lb_t *lb, cz__lb_node_t *nd, int failed, uint64_t lat, int live, uint64_t now);
} cz__lb_ops_t;

struct cz_lb {
    const cz__lb_ops_t *ops;
    const cz_clock_t *clock;
    uint32_t max_nodes;
    uint32_t max_fails;
    uint64_t fail_timeout;
    uint64_t slow_start;  /* ns; 0 = off */
    cz__lb_node_t *nodes; /* max_nodes slots */
    cz__lb_snap_t *snap;  /* current list; atomic pointer */
    uint32_t epoch;       /* grace-period parity; atomic */
    /* Writer side, under wlock. */
    pthread_mutex_t wlock;
    uint32_t used;                  /* slots ever handed out */
    uint32_t *freeq;                /* FIFO of freed slots */
    uint32_t free_head, free_count; /* ring indexes into freeq */
    cz__lb_reader_t readers[CZ__LB_READERS];
};

extern const cz__lb_ops_t cz__lb_rr_ops, cz__lb_random_ops, cz__lb_swrr_ops, cz__lb_chash_ops,
    cz__lb_p2c_ops;

static inline uint64_t cz__lb_now(cz_lb_t *lb, cz__lb_pickctx_t *c)
{
    if (c->now == 0)
        c->now = cz_clock_now_ns(lb->clock) | 1; /* never 0, so "unread" stays distinct */
    return c->now;
}

/* Can this slot take a request now? Live, not down, not tried, and not disabled by passive
 * health: nginx skips a peer with fails >= max_fails while now - checked <= fail_timeout. */
static inline int cz__lb_usable(cz_lb_t *lb, uint32_t slot, cz__lb_pickctx_t *c)
{
    if (c->tried && CZ_LB_TRIED_HAS(c->tried, slot))
        return 0;
    cz__lb_node_t *nd = &lb->nodes[slot];
    if (__atomic_load_n(&nd->state, __ATOMIC_ACQUIRE) != CZ__LB_LIVE)
        return 0;
    if (lb->max_fails && __atomic_load_n(&nd->fails, __ATOMIC_RELAXED) >= lb->max_fails) {
        uint64_t checked = __atomic_load_n(&nd->checked_ns, __ATOMIC_RELAXED);
        if (cz__lb_now(lb, c) - checked <= lb->fail_timeout)
            return 0;
    }
    return 1;
}

/* splitmix64 step on the reader slot's state: fast, seedable, good enough to pick nodes. Threads
 * sharing a slot may occasionally draw the same number; that only costs randomness. */
static inline uint64_t cz__lb_rand(cz__lb_pickctx_t *c)
{
    uint64_t x = __atomic_load_n(&c->rd->rng, __ATOMIC_RELAXED) + 0x9e3779b97f4a7c15ull;
    __atomic_store_n(&c->rd->rng, x, __ATOMIC_RELAXED);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Uniform in [0, n) without a division (Lemire's multiply-shift). */
static inline uint32_t cz__lb_rand_n(cz__lb_pickctx_t *c, uint32_t n)
{
    return (uint32_t)(((unsigned __int128)cz__lb_rand(c) * n) >> 64);
}

/* Slow start (Envoy's slow_start_window, aggression 1.0): the share of its weight node nd gets
 * at time now, in units of 1/window: max(window / 10, now - ss_ns), capped at window. Ends the
 * slow start (ss_ns = 0) once the window is over; a rejoin racing with that keeps its stamp. */
static inline uint64_t cz__lb_ss_weight(cz_lb_t *lb, cz__lb_node_t *nd, uint64_t now)
{
    uint64_t ss = __atomic_load_n(&nd->ss_ns, __ATOMIC_RELAXED), w = lb->slow_start;
    if (ss == 0)
        return w;
    uint64_t el = now > ss ? now - ss : 0;
    if (el >= w) {
        __atomic_compare_exchange_n(&nd->ss_ns, &ss, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        return w;
    }
    return el > w / 10 ? el : w / 10;
}

/* 64-bit string hash for the ring: FNV-1a, then a murmur3-style finalizer to spread the bits. */
uint64_t cz__lb_hash(const void *p, size_t n, uint64_t seed);

#endif
