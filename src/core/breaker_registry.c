/* SPDX-License-Identifier: MIT
 *
 * breaker_registry.c: the process-wide table of named breakers (go-zero core/breaker/breakers.go).
 *
 * Middlewares and clients share one breaker per name ("GET:///users/:id", an RPC method, a Redis
 * address). Breakers live until the process exits: callers keep the pointer without reference
 * counting. Lookups take a read lock and run once per route or client at startup, so a plain
 * chained hash table behind a rwlock is enough; it is not on the per-request path.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "czero/breaker.h"

#define NSLOTS 256

typedef struct entry {
    struct entry *next;
    cz_breaker_t *b;
    cz_breaker_t *replaced; /* kept reachable: callers may still hold it */
    char name[];
} entry_t;

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static entry_t *slots[NSLOTS];

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NSLOTS;
}

static entry_t *find(unsigned h, const char *name)
{
    for (entry_t *e = slots[h]; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/* Insert or replace; with lock held for writing. b NULL = make a default breaker. */
static entry_t *put(unsigned h, const char *name, cz_breaker_t *b)
{
    entry_t *e = find(h, name);
    if (e && b) {
        if (e->b != b && e->b != cz_breaker_nop())
            e->replaced = e->b; /* only the nop ever replaces, so this happens once */
        e->b = b;
        return e;
    }
    if (e)
        return e;
    size_t n = strlen(name);
    e = malloc(sizeof(*e) + n + 1);
    if (!e)
        return NULL;
    memcpy(e->name, name, n + 1);
    if (!b) {
        cz_breaker_opts_t o = {.name = name};
        if (cz_breaker_new(&o, &b)) {
            free(e);
            return NULL;
        }
    }
    e->b = b;
    e->replaced = NULL;
    e->next = slots[h];
    slots[h] = e;
    return e;
}

cz_breaker_t *cz_breakers_get(const char *name)
{
    if (!name)
        return NULL;
    unsigned h = hash(name);
    pthread_rwlock_rdlock(&lock);
    entry_t *e = find(h, name);
    cz_breaker_t *b = e ? e->b : NULL;
    pthread_rwlock_unlock(&lock);
    if (b)
        return b;
    pthread_rwlock_wrlock(&lock);
    e = put(h, name, NULL);
    b = e ? e->b : NULL;
    pthread_rwlock_unlock(&lock);
    return b;
}

int cz_breakers_disable(const char *name)
{
    if (!name)
        return CZ_EARG;
    pthread_rwlock_wrlock(&lock);
    entry_t *e = put(hash(name), name, cz_breaker_nop());
    pthread_rwlock_unlock(&lock);
    return e ? 0 : CZ_ENOMEM;
}

void cz_breakers_foreach(void (*fn)(cz_breaker_t *b, void *arg), void *arg)
{
    pthread_rwlock_rdlock(&lock);
    for (int i = 0; i < NSLOTS; i++)
        for (entry_t *e = slots[i]; e; e = e->next)
            fn(e->b, arg);
    pthread_rwlock_unlock(&lock);
}
