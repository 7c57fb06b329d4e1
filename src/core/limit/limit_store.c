/* SPDX-License-Identifier: MIT
 *
 * limit_store.c: the in-process key store every limiter kind decides in, and what the kinds
 * share: choosing the kind for a configuration and the wall clock they read. The public limiter
 * (src/redis/redis_limit.c) holds one store per limiter, for the local store and as the token
 * bucket's fallback when Redis fails; this file knows nothing of Redis.
 *
 * The store is a hash split into stripes, each with its own mutex, so threads deciding for
 * different keys rarely meet. Entries carry the monotonic time at which they become equivalent
 * to a fresh entry (window over, bucket full/empty again); such entries are reused in place when
 * their key returns and swept when a stripe would otherwise grow, so memory follows the number
 * of live keys rather than every key ever seen.
 */
#include <stdlib.h>
#include <string.h>
#include "limit_int.h"

uint64_t cz__limit_wall_ns(const cz_limiter_conf_t *c) { return cz_clock_now_ns(c->wallclock); }

const cz__limit_kind_t *cz__limit_kind_for(const cz_limiter_conf_t *conf)
{
    const cz__limit_kind_t *kind = conf->kind == CZ_LIMIT_PERIOD  ? &cz__limit_period
                                   : conf->kind == CZ_LIMIT_TOKEN ? &cz__limit_token
                                   : conf->kind == CZ_LIMIT_LEAKY ? &cz__limit_leaky
                                                                  : NULL;
    return kind && kind->check(conf) == 0 ? kind : NULL;
}

const char *cz_limit_result_name(int result)
{
    switch (result) {
    case CZ_LIMIT_ALLOWED: return "allowed";
    case CZ_LIMIT_HIT_QUOTA: return "hit_quota";
    case CZ_LIMIT_OVER_QUOTA: return "over_quota";
    default: return "unknown";
    }
}

void cz__limit_store_init(cz__limit_store_t *st, const cz__limit_kind_t *kind,
                          const cz_limiter_conf_t *conf)
{
    memset(st, 0, sizeof(*st));
    st->kind = kind;
    st->conf = conf;
    for (int i = 0; i < CZ__LIMIT_STRIPES; i++)
        pthread_mutex_init(&st->stripes[i].mu, NULL);
}

void cz__limit_store_fini(cz__limit_store_t *st)
{
    for (int i = 0; i < CZ__LIMIT_STRIPES; i++) {
        cz__limit_stripe_t *s = &st->stripes[i];
        for (size_t j = 0; j < s->cap; j++) {
            for (cz__limit_entry_t *e = s->tab[j], *next; e; e = next) {
                next = e->next;
                free(e);
            }
        }
        free(s->tab);
        pthread_mutex_destroy(&s->mu);
    }
}

static uint64_t hash_key(cz_str_t k)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
    for (size_t i = 0; i < k.n; i++)
        h = (h ^ (unsigned char)k.p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static size_t slot_of(const cz__limit_stripe_t *s, uint64_t h)
{
    return (size_t)(h >> 6) & (s->cap - 1);
}

/* Make room for one more entry: drop entries that are as good as fresh, grow if still full. */
static int stripe_reserve(cz__limit_stripe_t *s, uint64_t now)
{
    if (s->n < s->cap)
        return 0;
    for (size_t j = 0; j < s->cap; j++) {
        for (cz__limit_entry_t **pp = &s->tab[j]; *pp;) {
            cz__limit_entry_t *e = *pp;
            if (now >= e->expire) {
                *pp = e->next;
                free(e);
                s->n--;
            } else {
                pp = &e->next;
            }
        }
    }
    if (s->n < s->cap * 3 / 4)
        return 0;
    size_t ncap = s->cap ? s->cap * 2 : 16;
    cz__limit_entry_t **tab = calloc(ncap, sizeof(*tab));
    if (!tab)
        return s->n < s->cap ? 0 : CZ_ENOMEM;
    cz__limit_stripe_t grown = {.tab = tab, .cap = ncap};
    for (size_t j = 0; j < s->cap; j++) {
        for (cz__limit_entry_t *e = s->tab[j], *next; e; e = next) {
            next = e->next;
            size_t k = slot_of(&grown, e->hash);
            e->next = tab[k];
            tab[k] = e;
        }
    }
    free(s->tab);
    s->tab = tab;
    s->cap = ncap;
    return 0;
}

int cz__limit_store_decide(cz__limit_store_t *st, cz_str_t key, uint64_t n)
{
    uint64_t h = hash_key(key);
    cz__limit_stripe_t *s = &st->stripes[h & (CZ__LIMIT_STRIPES - 1)];
    pthread_mutex_lock(&s->mu);
    uint64_t now = cz_clock_now_ns(st->conf->clock);
    cz__limit_entry_t *e = NULL;
    if (s->cap) {
        for (e = s->tab[slot_of(s, h)]; e; e = e->next)
            if (e->hash == h && e->klen == key.n && memcmp(e->key, key.p, key.n) == 0)
                break;
    }
    int fresh = 1;
    if (e) {
        fresh = now >= e->expire;
    } else {
        int rc = stripe_reserve(s, now);
        e = rc < 0 ? NULL : malloc(sizeof(*e) + key.n);
        if (!e) {
            pthread_mutex_unlock(&s->mu);
            return CZ_ENOMEM;
        }
        memset(e, 0, sizeof(*e));
        e->hash = h;
        e->klen = key.n;
        memcpy(e->key, key.p, key.n);
        size_t k = slot_of(s, h);
        e->next = s->tab[k];
        s->tab[k] = e;
        s->n++;
    }
    int rc = st->kind->local(st->conf, e, fresh, n, now);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

size_t cz__limit_store_keys(cz__limit_store_t *st)
{
    size_t n = 0;
    for (int i = 0; i < CZ__LIMIT_STRIPES; i++) {
        pthread_mutex_lock(&st->stripes[i].mu);
        n += st->stripes[i].n;
        pthread_mutex_unlock(&st->stripes[i].mu);
    }
    return n;
}
