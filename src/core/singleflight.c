/* SPDX-License-Identifier: MIT
 *
 * singleflight.c: one shared execution of concurrent calls per key (go-zero syncx/singleflight.go).
 *
 * In-flight calls sit in a small chained hash table under the group's mutex. A call is reference
 * counted: the runner and every waiter hold a reference, so the record outlives its removal from
 * the table until the last sharer has read the outcome (go-zero leans on the garbage collector).
 */
#include <stdlib.h>
#include <string.h>
#include "singleflight_int.h"

struct cz__sf_call {
    struct cz__sf_call *next;
    pthread_cond_t done_cv;
    int done;
    int refs; /* under the group lock */
    int rc;
    void *result;
    char key[];
};

int cz_singleflight_init(cz_singleflight_t *g)
{
    memset(g->_slots, 0, sizeof(g->_slots));
    return -pthread_mutex_init(&g->_lock, NULL);
}

void cz_singleflight_dispose(cz_singleflight_t *g) { pthread_mutex_destroy(&g->_lock); }

static unsigned slot_of(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % CZ__SF_SLOTS;
}

/* With the lock held: drop a reference, freeing the call after the last one. */
static void unref(struct cz__sf_call *c)
{
    if (--c->refs == 0) {
        pthread_cond_destroy(&c->done_cv);
        free(c);
    }
}

int cz_singleflight_do_ex(cz_singleflight_t *g, const char *key, cz_singleflight_fn fn,
                          void *arg, void **result, int *fresh)
{
    if (!key || !fn)
        return CZ_EARG;
    unsigned h = slot_of(key);
    pthread_mutex_lock(&g->_lock);
    struct cz__sf_call *c;
    for (c = g->_slots[h]; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            break;
    if (c) {
        c->refs++;
        while (!c->done)
            pthread_cond_wait(&c->done_cv, &g->_lock);
        int rc = c->rc;
        if (result)
            *result = c->result;
        unref(c);
        pthread_mutex_unlock(&g->_lock);
        if (fresh)
            *fresh = 0;
        return rc;
    }
    size_t n = strlen(key);
    c = calloc(1, sizeof(*c) + n + 1);
    if (!c) {
        pthread_mutex_unlock(&g->_lock);
        return CZ_ENOMEM;
    }
    memcpy(c->key, key, n + 1);
    pthread_cond_init(&c->done_cv, NULL);
    c->refs = 1;
    c->next = g->_slots[h];
    g->_slots[h] = c;
    pthread_mutex_unlock(&g->_lock);

    void *res = NULL;
    int rc = fn(arg, &res);

    pthread_mutex_lock(&g->_lock);
    for (struct cz__sf_call **pp = &g->_slots[h]; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    c->rc = rc;
    c->result = res;
    c->done = 1;
    pthread_cond_broadcast(&c->done_cv);
    unref(c);
    pthread_mutex_unlock(&g->_lock);
    if (result)
        *result = res;
    if (fresh)
        *fresh = 1;
    return rc;
}

int cz_singleflight_do(cz_singleflight_t *g, const char *key, cz_singleflight_fn fn, void *arg,
                       void **result)
{
    return cz_singleflight_do_ex(g, key, fn, arg, result, NULL);
}

int cz__singleflight_sharers(cz_singleflight_t *g, const char *key)
{
    int n = 0;
    pthread_mutex_lock(&g->_lock);
    for (struct cz__sf_call *c = g->_slots[slot_of(key)]; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            n = c->refs;
    pthread_mutex_unlock(&g->_lock);
    return n;
}
