/* SPDX-License-Identifier: MIT
 *
 * lb.c: the balancer interface shared by every policy: node slots, the copy-on-write node list
 * with its grace periods, passive health (nginx max_fails / fail_timeout), and the public calls.
 *
 * Readers (pick) enter a read section by bumping a counter in their thread's reader slot, chosen
 * by the current epoch's parity, then load the snapshot pointer. A writer publishes a new
 * snapshot, flips the epoch and waits until the old parity's counters drain; only then is the old
 * snapshot freed. With sequentially consistent increments and loads, a reader that bumps the old
 * parity after the writer saw it at zero must also see the new pointer, so one flip suffices;
 * readers arriving later use the new parity, so writers cannot starve. This is SRCU's idea cut
 * down to what a balancer needs. It is not a general RCU: only the node list is protected this
 * way; per-node state lives in slots that never move.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "lb_int.h"

/* nginx defaults: max_fails=1, fail_timeout=10s (ngx_http_upstream_server, "weight=1 max_fails=1
 * fail_timeout=10"). */
#define DEFAULT_MAX_FAILS 1
#define DEFAULT_FAIL_TIMEOUT (10 * CZ_NS_PER_SEC)
#define DEFAULT_MAX_NODES 256
#define MAX_WEIGHT 1000
#define DEFAULT_SLOW_START (10 * CZ_NS_PER_SEC) /* Envoy has none; the gateway's SlowStart */

static uint32_t next_tid;
static __thread uint32_t tls_tid; /* 0: not assigned yet; else tid + 1 */

static inline uint32_t thread_id(void)
{
    uint32_t t = tls_tid;
    if (cz__unlikely(t == 0))
        tls_tid = t = __atomic_add_fetch(&next_tid, 1, __ATOMIC_RELAXED);
    return t - 1;
}

static inline cz__lb_reader_t *read_enter(cz_lb_t *lb, unsigned *parity)
{
    cz__lb_reader_t *rd = &lb->readers[thread_id() & (CZ__LB_READERS - 1)];
    unsigned p = __atomic_load_n(&lb->epoch, __ATOMIC_RELAXED) & 1;
    __atomic_fetch_add(&rd->active[p], 1, __ATOMIC_SEQ_CST);
    *parity = p;
    return rd;
}

static inline void read_leave(cz__lb_reader_t *rd, unsigned parity)
{
    __atomic_fetch_sub(&rd->active[parity], 1, __ATOMIC_RELEASE);
}

/* Writer side (wlock held): make s current and free the previous list once no reader holds it. */
static void publish(cz_lb_t *lb, cz__lb_snap_t *s)
{
    cz__lb_snap_t *old = __atomic_exchange_n(&lb->snap, s, __ATOMIC_SEQ_CST);
    unsigned p = __atomic_fetch_add(&lb->epoch, 1, __ATOMIC_SEQ_CST) & 1;
    for (int i = 0; i < CZ__LB_READERS; i++)
        while (__atomic_load_n(&lb->readers[i].active[p], __ATOMIC_SEQ_CST) != 0)
            sched_yield(); /* a pick is a few hundred ns at most */
    if (old) {
        free(old->ext);
        free(old);
    }
}

/* New snapshot: the current list plus `add` (if != UINT32_MAX) minus `del` (if != UINT32_MAX). */
static cz__lb_snap_t *snap_make(cz_lb_t *lb, uint32_t add, uint32_t del)
{
    const cz__lb_snap_t *cur = lb->snap;
    uint32_t n = cur ? cur->n : 0;
    cz__lb_snap_t *s = malloc(sizeof(*s) + sizeof(uint32_t) * (n + 1));
    if (!s)
        return NULL;
    s->n = 0;
    s->total_weight = 0;
    s->ext = NULL;
    for (uint32_t i = 0; i < n; i++)
        if (cur->idx[i] != del)
            s->idx[s->n++] = cur->idx[i];
    if (add != UINT32_MAX)
        s->idx[s->n++] = add;
    for (uint32_t i = 0; i < s->n; i++)
        s->total_weight += lb->nodes[s->idx[i]].weight;
    if (lb->ops->build && lb->ops->build(lb, s) != 0) {
        free(s->ext);
        free(s);
        return NULL;
    }
    return s;
}

void cz_lb_opts_init(cz_lb_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->max_nodes = DEFAULT_MAX_NODES;
    o->max_fails = DEFAULT_MAX_FAILS;
    o->fail_timeout_ns = DEFAULT_FAIL_TIMEOUT;
    o->slow_start_ns = DEFAULT_SLOW_START;
}

const char *cz_lb_kind_name(cz_lb_kind_t kind)
{
    static const char *const names[] = {"rr", "random", "swrr", "chash", "p2c"};
    return (unsigned)kind < cz__countof(names) ? names[kind] : "unknown";
}

static const cz__lb_ops_t *kind_ops(cz_lb_kind_t kind)
{
    switch (kind) {
    case CZ_LB_RR: return &cz__lb_rr_ops;
    case CZ_LB_RANDOM: return &cz__lb_random_ops;
    case CZ_LB_SWRR: return &cz__lb_swrr_ops;
    case CZ_LB_CHASH: return &cz__lb_chash_ops;
    case CZ_LB_P2C: return &cz__lb_p2c_ops;
    }
    return NULL;
}

cz_lb_t *cz_lb_new(cz_lb_kind_t kind, const cz_lb_opts_t *opts)
{
    const cz__lb_ops_t *ops = kind_ops(kind);
    cz_lb_opts_t o;
    if (opts)
        o = *opts;
    else
        cz_lb_opts_init(&o);
    if (!ops || o.max_nodes > CZ_LB_MAX_NODES || o.chash_bound_eps < 0)
        return NULL;
    if (o.max_nodes == 0)
        o.max_nodes = DEFAULT_MAX_NODES;
    if (o.fail_timeout_ns == 0)
        o.fail_timeout_ns = DEFAULT_FAIL_TIMEOUT;
    /* The coarse clock (a few ms) is precise enough for nginx's 10 s fail_timeout, slow start
     * and P2C's cost decay when latencies are milliseconds; a precise read costs ~35 ns on a VM,
     * and P2C reads the clock in pick and in done. The gateway, whose latencies are often below
     * a tick, passes the precise clock. Latencies come from the caller. */
    if (!o.clock)
        o.clock = cz_clock_coarse();

    cz_lb_t *lb;
    if (posix_memalign((void **)&lb, 64, ops->size) != 0)
        return NULL;
    memset(lb, 0, ops->size);
    lb->ops = ops;
    lb->clock = o.clock;
    lb->max_nodes = o.max_nodes;
    lb->max_fails = o.max_fails;
    lb->fail_timeout = o.fail_timeout_ns;
    lb->slow_start = o.slow_start_ns;
    if (posix_memalign((void **)&lb->nodes, 64, sizeof(cz__lb_node_t) * o.max_nodes) != 0) {
        free(lb);
        return NULL;
    }
    memset(lb->nodes, 0, sizeof(cz__lb_node_t) * o.max_nodes);
    lb->freeq = malloc(sizeof(uint32_t) * o.max_nodes);
    uint64_t seed = o.seed ? o.seed : cz_clock_now_ns(o.clock) ^ (uint64_t)(uintptr_t)lb;
    for (int i = 0; i < CZ__LB_READERS; i++)
        lb->readers[i].rng = seed + (uint64_t)i * 0xd1b54a32d192ed03ull;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    int rc = pthread_mutex_init(&lb->wlock, &ma);
    pthread_mutexattr_destroy(&ma);
    int inited = 0;
    if (lb->freeq && rc == 0 && (!ops->init || ops->init(lb, &o) == 0))
        inited = 1;
    if (!inited || (lb->snap = snap_make(lb, UINT32_MAX, UINT32_MAX)) == NULL) {
        if (inited && ops->dispose)
            ops->dispose(lb);
        if (rc == 0)
            pthread_mutex_destroy(&lb->wlock);
        free(lb->freeq);
        free(lb->nodes);
        free(lb);
        return NULL;
    }
    return lb;
}

void cz_lb_free(cz_lb_t *lb)
{
    if (!lb)
        return;
    if (lb->ops->dispose)
        lb->ops->dispose(lb);
    for (uint32_t i = 0; i < lb->used; i++)
        free(lb->nodes[i].name);
    free(lb->snap->ext);
    free(lb->snap);
    pthread_mutex_destroy(&lb->wlock);
    free(lb->freeq);
    free(lb->nodes);
    free(lb);
}

static int name_live(cz_lb_t *lb, const char *name, uint32_t *slot)
{
    const cz__lb_snap_t *s = lb->snap;
    for (uint32_t i = 0; i < s->n; i++)
        if (strcmp(lb->nodes[s->idx[i]].name, name) == 0) {
            *slot = s->idx[i];
            return 1;
        }
    return 0;
}

int cz_lb_add(cz_lb_t *lb, const char *name, uint32_t weight, void *data, size_t *idx)
{
    if (!lb || !name || !*name || weight == 0 || weight > MAX_WEIGHT)
        return CZ_EARG;
    char *copy = strdup(name);
    if (!copy)
        return CZ_ENOMEM;
    pthread_mutex_lock(&lb->wlock);
    uint32_t slot;
    int rc = 0;
    if (name_live(lb, name, &slot)) {
        rc = CZ_EDUPLICATE;
    } else if (lb->used < lb->max_nodes) {
        slot = lb->used++; /* never-used slots first: delays reuse of freed ones */
    } else if (lb->free_count > 0) {
        slot = lb->freeq[lb->free_head];
        lb->free_head = (lb->free_head + 1) % lb->max_nodes;
        lb->free_count--;
    } else {
        rc = CZ_EFULL;
    }
    if (rc != 0) {
        pthread_mutex_unlock(&lb->wlock);
        free(copy);
        return rc;
    }
    /* Not yet live and in no snapshot, so no reader looks at these fields but done() and stats,
     * which tolerate a half-initialised dead slot. */
    cz__lb_node_t *nd = &lb->nodes[slot];
    free(nd->name);
    nd->name = copy;
    nd->weight = weight;
    nd->data = data;
    __atomic_store_n(&nd->fails, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->accessed_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->checked_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->inflight, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&nd->ss_ns, 0, __ATOMIC_RELAXED);
    if (lb->ops->node_added)
        lb->ops->node_added(lb, nd);
    __atomic_store_n(&nd->state, CZ__LB_LIVE, __ATOMIC_RELEASE);
    cz__lb_snap_t *s = snap_make(lb, slot, UINT32_MAX);
    if (!s) {
        __atomic_store_n(&nd->state, 0, __ATOMIC_RELEASE);
        /* Give the slot back to the FIFO; its name is freed on reuse or by cz_lb_free. */
        lb->freeq[(lb->free_head + lb->free_count++) % lb->max_nodes] = slot;
        pthread_mutex_unlock(&lb->wlock);
        return CZ_ENOMEM;
    }
    publish(lb, s);
    pthread_mutex_unlock(&lb->wlock);
    if (idx)
        *idx = slot;
    return 0;
}

int cz_lb_remove(cz_lb_t *lb, size_t idx)
{
    if (!lb || idx >= lb->max_nodes)
        return CZ_ENOTFOUND;
    pthread_mutex_lock(&lb->wlock);
    cz__lb_node_t *nd = &lb->nodes[idx];
    uint32_t st = __atomic_load_n(&nd->state, __ATOMIC_ACQUIRE);
    if (!(st & CZ__LB_LIVE)) {
        pthread_mutex_unlock(&lb->wlock);
        return CZ_ENOTFOUND;
    }
    /* Clear LIVE first: pickers holding the old list skip the node from now on. */
    __atomic_store_n(&nd->state, 0, __ATOMIC_RELEASE);
    cz__lb_snap_t *s = snap_make(lb, UINT32_MAX, (uint32_t)idx);
    if (!s) {
        __atomic_store_n(&nd->state, st, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&lb->wlock);
        return CZ_ENOMEM;
    }
    publish(lb, s);
    lb->freeq[(lb->free_head + lb->free_count++) % lb->max_nodes] = (uint32_t)idx;
    pthread_mutex_unlock(&lb->wlock);
    return 0;
}

int cz_lb_find(cz_lb_t *lb, const char *name, size_t *idx)
{
    if (!lb || !name)
        return CZ_ENOTFOUND;
    pthread_mutex_lock(&lb->wlock);
    uint32_t slot;
    int found = name_live(lb, name, &slot);
    pthread_mutex_unlock(&lb->wlock);
    if (!found)
        return CZ_ENOTFOUND;
    if (idx)
        *idx = slot;
    return 0;
}

/* The node returns: fresh policy scores (what it did before it left says little about it now)
 * and the slow-start stamp. Lock-free: picks may read the fields meanwhile, each is atomic. */
static void rejoin(cz_lb_t *lb, cz__lb_node_t *nd)
{
    if (lb->ops->rejoined)
        lb->ops->rejoined(lb, nd);
    uint64_t now = lb->slow_start ? cz_clock_now_ns(lb->clock) | 1 : 0; /* 0 means none */
    __atomic_store_n(&nd->ss_ns, now, __ATOMIC_RELAXED);
}

int cz_lb_set_down(cz_lb_t *lb, size_t idx, int down)
{
    if (!lb || idx >= lb->max_nodes)
        return CZ_ENOTFOUND;
    cz__lb_node_t *nd = &lb->nodes[idx];
    uint32_t s = __atomic_load_n(&nd->state, __ATOMIC_ACQUIRE), ns;
    do {
        if (!(s & CZ__LB_LIVE))
            return CZ_ENOTFOUND;
        ns = down ? (s | CZ__LB_DOWN) : (s & ~CZ__LB_DOWN);
        if (ns != s && !down)
            rejoin(lb, nd); /* before it can be picked; again if the exchange fails */
    } while (!__atomic_compare_exchange_n(&nd->state, &s, ns, 0, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    return 0;
}

int cz_lb_rejoin(cz_lb_t *lb, size_t idx)
{
    if (!lb || idx >= lb->max_nodes)
        return CZ_ENOTFOUND;
    cz__lb_node_t *nd = &lb->nodes[idx];
    if (!(__atomic_load_n(&nd->state, __ATOMIC_ACQUIRE) & CZ__LB_LIVE))
        return CZ_ENOTFOUND;
    rejoin(lb, nd);
    return 0;
}

/* nginx's "all peers failed, mark them as live for quick recovery": when nothing is usable and
 * passive health is the reason, forget the failures so the next request can try again. */
static void recover_all(cz_lb_t *lb, const cz__lb_snap_t *s, const uint64_t *tried)
{
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t slot = s->idx[i];
        if (tried && CZ_LB_TRIED_HAS(tried, slot))
            continue;
        if (__atomic_load_n(&lb->nodes[slot].state, __ATOMIC_RELAXED) == CZ__LB_LIVE)
            __atomic_store_n(&lb->nodes[slot].fails, 0, __ATOMIC_RELAXED);
    }
}

int cz_lb_pick(cz_lb_t *lb, cz_str_t key, const uint64_t *tried, size_t *idx)
{
    return cz_lb_pick_at(lb, key, tried, 0, idx);
}

int cz_lb_pick_at(cz_lb_t *lb, cz_str_t key, const uint64_t *tried, uint64_t now_ns, size_t *idx)
{
    if (cz__unlikely(!lb || !idx))
        return CZ_EARG;
    unsigned parity;
    /* as cz__lb_now stores a reading: never 0, so "unread" stays distinct */
    cz__lb_pickctx_t c = {tried, now_ns ? now_ns | 1 : 0, read_enter(lb, &parity), key};
    const cz__lb_snap_t *s = __atomic_load_n(&lb->snap, __ATOMIC_SEQ_CST);
    uint32_t slot;
    int rc = s->n ? lb->ops->pick(lb, s, &c, &slot) : CZ_ENOSERVICE;
    if (cz__likely(rc == 0)) {
        cz__lb_node_t *nd = &lb->nodes[slot];
        __atomic_fetch_add(&nd->inflight, 1, __ATOMIC_RELAXED);
        /* nginx: a pick after fail_timeout is the trial; stamp it so a failure of the trial
         * disables the node for another fail_timeout. Only matters once a failure was seen. */
        if (lb->max_fails && __atomic_load_n(&nd->fails, __ATOMIC_RELAXED) != 0) {
            uint64_t now = cz__lb_now(lb, &c);
            if (now - __atomic_load_n(&nd->checked_ns, __ATOMIC_RELAXED) > lb->fail_timeout)
                __atomic_store_n(&nd->checked_ns, now, __ATOMIC_RELAXED);
        }
        *idx = slot;
    } else if (rc == CZ_ENOSERVICE && lb->max_fails) {
        recover_all(lb, s, tried);
    }
    read_leave(c.rd, parity);
    return rc;
}

void cz_lb_done(cz_lb_t *lb, size_t idx, int failed, uint64_t latency_ns)
{
    cz_lb_done_at(lb, idx, failed, latency_ns, 0);
}

void cz_lb_done_at(cz_lb_t *lb, size_t idx, int failed, uint64_t latency_ns, uint64_t now_ns)
{
    if (cz__unlikely(!lb || idx >= lb->max_nodes))
        return;
    cz__lb_node_t *nd = &lb->nodes[idx];
    /* Never below zero, even for a late done() on a slot reused meanwhile. */
    int64_t v = __atomic_load_n(&nd->inflight, __ATOMIC_RELAXED);
    while (v > 0 && !__atomic_compare_exchange_n(&nd->inflight, &v, v - 1, 1, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED))
        ;
    int live = (__atomic_load_n(&nd->state, __ATOMIC_ACQUIRE) & CZ__LB_LIVE) != 0;
    if (live) {
        if (failed) {
            uint64_t now = now_ns ? now_ns : cz_clock_now_ns(lb->clock);
            __atomic_fetch_add(&nd->fails, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&nd->accessed_ns, now, __ATOMIC_RELAXED);
            __atomic_store_n(&nd->checked_ns, now, __ATOMIC_RELAXED);
        } else if (__atomic_load_n(&nd->fails, __ATOMIC_RELAXED) != 0 &&
                   __atomic_load_n(&nd->accessed_ns, __ATOMIC_RELAXED) <
                       __atomic_load_n(&nd->checked_ns, __ATOMIC_RELAXED)) {
            /* nginx: "mark peer live if check passed": a success on the trial pick. */
            __atomic_store_n(&nd->fails, 0, __ATOMIC_RELAXED);
        }
    }
    if (lb->ops->done)
        lb->ops->done(lb, nd, failed, latency_ns, live, now_ns);
}

size_t cz_lb_size(cz_lb_t *lb)
{
    if (!lb)
        return 0;
    unsigned parity;
    cz__lb_reader_t *rd = read_enter(lb, &parity);
    size_t n = __atomic_load_n(&lb->snap, __ATOMIC_SEQ_CST)->n;
    read_leave(rd, parity);
    return n;
}

static cz__lb_node_t *live_node(cz_lb_t *lb, size_t idx)
{
    if (!lb || idx >= lb->max_nodes)
        return NULL;
    cz__lb_node_t *nd = &lb->nodes[idx];
    return (__atomic_load_n(&nd->state, __ATOMIC_ACQUIRE) & CZ__LB_LIVE) ? nd : NULL;
}

const char *cz_lb_node_name(cz_lb_t *lb, size_t idx)
{
    cz__lb_node_t *nd = live_node(lb, idx);
    return nd ? nd->name : NULL;
}

void *cz_lb_node_data(cz_lb_t *lb, size_t idx)
{
    cz__lb_node_t *nd = live_node(lb, idx);
    return nd ? nd->data : NULL;
}

int cz_lb_node_stats(cz_lb_t *lb, size_t idx, cz_lb_node_stats_t *st)
{
    cz__lb_node_t *nd = live_node(lb, idx);
    if (!nd || !st)
        return CZ_ENOTFOUND;
    cz__lb_pickctx_t c = {NULL, 0, NULL, CZ_STR_NULL};
    st->inflight = __atomic_load_n(&nd->inflight, __ATOMIC_RELAXED);
    st->fails = __atomic_load_n(&nd->fails, __ATOMIC_RELAXED);
    st->usable = cz__lb_usable(lb, (uint32_t)idx, &c);
    st->effective_weight = __atomic_load_n(&nd->eff, __ATOMIC_RELAXED);
    st->current_weight = __atomic_load_n(&nd->cur, __ATOMIC_RELAXED);
    st->ewma_lag_ns = __atomic_load_n(&nd->lag_ns, __ATOMIC_RELAXED);
    st->success = __atomic_load_n(&nd->success, __ATOMIC_RELAXED);
    st->slow_start_pct = 100;
    if (lb->slow_start) {
        uint64_t w = cz__lb_ss_weight(lb, nd, cz_clock_now_ns(lb->clock));
        st->slow_start_pct = (uint32_t)((unsigned __int128)w * 100 / lb->slow_start);
    }
    return 0;
}

uint64_t cz__lb_hash(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull ^ seed; /* FNV-1a 64 offset basis and prime */
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    h ^= h >> 33; /* murmur3 fmix64 */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}
