/* SPDX-License-Identifier: MIT
 *
 * chash.c: consistent hashing with virtual nodes (go-zero core/hash/consistenthash.go) and an
 * optional load bound (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads",
 * 2016).
 *
 * Each node owns replicas x weight points on a 64-bit ring (go-zero: minReplicas = 100 per node,
 * weight scaled by TopWeight = 100; here 100 per weight unit with the weight capped at TopWeight).
 * Points derive from the node's name only, so the mapping does not depend on add order or slots,
 * and a node leaving or joining moves only the keys whose nearest point it owns, about 1/N of
 * them. A key goes to the first point at or after its hash (binary search, wrapping around).
 * Nodes that are down, failed or tried are skipped by walking on clockwise; they keep their points
 * so their keys come back when they recover.
 *
 * Bounded load: with T requests in flight over n nodes, a node may hold at most
 * ceil((1 + eps) * (T + 1) / n); a full node passes the key on along the ring, so a hot key
 * spills onto its ring successors instead of melting one node. If every usable node is full
 * (possible when many nodes are down, since n counts them) the first usable node takes it. Two
 * threads racing for the last unit of capacity may overshoot the bound by one each.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lb_int.h"

#define DEFAULT_REPLICAS 100 /* go-zero minReplicas */
#define TOP_WEIGHT 100       /* go-zero TopWeight */

typedef struct {
    uint64_t hash;
    uint32_t slot;
} point_t;

typedef struct {
    uint32_t n; /* points */
    point_t pts[];
} ring_t;

typedef struct {
    cz_lb_t super;
    uint32_t replicas;
    double eps; /* 0: unbounded */
    int64_t total __attribute__((aligned(64))); /* requests in flight, bounded mode only */
} chash_t;

static int chash_init(cz_lb_t *lb, const cz_lb_opts_t *o)
{
    chash_t *ch = (chash_t *)lb;
    ch->replicas = o->chash_replicas ? o->chash_replicas : DEFAULT_REPLICAS;
    ch->eps = o->chash_bound_eps;
    return 0;
}

static uint64_t mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int point_cmp(const void *a, const void *b)
{
    const point_t *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int chash_build(cz_lb_t *lb, cz__lb_snap_t *s)
{
    chash_t *ch = (chash_t *)lb;
    size_t m = 0;
    for (uint32_t i = 0; i < s->n; i++)
        m += (size_t)ch->replicas * cz__min(lb->nodes[s->idx[i]].weight, TOP_WEIGHT);
    if (m > UINT32_MAX)
        return CZ_EARG;
    ring_t *r = malloc(sizeof(*r) + sizeof(point_t) * (m ? m : 1));
    if (!r)
        return CZ_ENOMEM;
    r->n = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const cz__lb_node_t *nd = &lb->nodes[s->idx[i]];
        uint64_t base = cz__lb_hash(nd->name, strlen(nd->name), 0);
        uint32_t reps = ch->replicas * cz__min(nd->weight, TOP_WEIGHT);
        for (uint32_t k = 0; k < reps; k++)
            r->pts[r->n++] = (point_t){mix64(base + (uint64_t)(k + 1) * 0x9e3779b97f4a7c15ull),
                                       s->idx[i]};
    }
    qsort(r->pts, r->n, sizeof(point_t), point_cmp);
    s->ext = r;
    return 0;
}

/* First point with hash >= h, wrapping to 0 (go-zero: sort.Search(...) % len(keys)). */
static uint32_t lower(const ring_t *r, uint64_t h)
{
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (r->pts[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == r->n ? 0 : lo;
}

static int chash_pick(cz_lb_t *lb, const cz__lb_snap_t *s, cz__lb_pickctx_t *c, uint32_t *slot)
{
    chash_t *ch = (chash_t *)lb;
    const ring_t *r = s->ext;
    uint64_t h = c->key.n ? cz__lb_hash(c->key.p, c->key.n, 0) : cz__lb_rand(c);
    uint32_t i = lower(r, h);
    uint64_t cap = UINT64_MAX;
    if (ch->eps > 0) {
        int64_t t = __atomic_load_n(&ch->total, __ATOMIC_RELAXED);
        cap = (uint64_t)ceil((1.0 + ch->eps) * (double)(t + 1) / (double)s->n);
    }
    uint64_t seen[CZ_LB_TRIED_WORDS]; /* nodes judged so far; set up only if we walk on */
    uint32_t prev = UINT32_MAX, fallback = UINT32_MAX;
    int walked = 0;
    for (uint32_t k = 0; k < r->n; k++, i = (i + 1 == r->n) ? 0 : i + 1) {
        uint32_t sl = r->pts[i].slot;
        if (sl == prev)
            continue;
        if (prev != UINT32_MAX) {
            if (!walked) {
                memset(seen, 0, sizeof(uint64_t) * ((lb->max_nodes + 63) / 64));
                CZ_LB_TRIED_SET(seen, prev);
                walked = 1;
            }
            if (CZ_LB_TRIED_HAS(seen, sl))
                continue;
            CZ_LB_TRIED_SET(seen, sl);
        }
        prev = sl;
        if (!cz__lb_usable(lb, sl, c))
            continue;
        if (cap == UINT64_MAX ||
            (uint64_t)__atomic_load_n(&lb->nodes[sl].inflight, __ATOMIC_RELAXED) + 1 <= cap) {
            fallback = sl;
            break;
        }
        if (fallback == UINT32_MAX)
            fallback = sl;
    }
    if (fallback == UINT32_MAX)
        return CZ_ENOSERVICE;
    if (ch->eps > 0)
        __atomic_fetch_add(&ch->total, 1, __ATOMIC_RELAXED);
    *slot = fallback;
    return 0;
}

static void chash_done(cz_lb_t *lb, cz__lb_node_t *nd, int failed, uint64_t lat, int live,
                       uint64_t now)
{
    chash_t *ch = (chash_t *)lb;
    if (ch->eps <= 0)
        return;
    int64_t v = __atomic_load_n(&ch->total, __ATOMIC_RELAXED);
    while (v > 0 && !__atomic_compare_exchange_n(&ch->total, &v, v - 1, 1, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED))
        ;
}

const cz__lb_ops_t cz__lb_chash_ops = {
    .name = "chash",
    .size = sizeof(chash_t),
    .init = chash_init,
    .build = chash_build,
    .pick = chash_pick,
    .done = chash_done,
};
