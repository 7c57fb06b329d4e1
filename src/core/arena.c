/* SPDX-License-Identifier: MIT
 *
 * arena.c: bump allocator for per-request memory (see arena.h).
 *
 * One chunk survives a reset so a keep-alive connection serving small requests allocates nothing
 * after its first request. Blocks larger than a quarter chunk go to their own malloc on the
 * large list so they do not waste a chunk (ngx_palloc_large).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/arena.h"

struct cz_arena_chunk {
    cz_arena_chunk_t *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

struct cz_arena_large {
    cz_arena_large_t *next;
    _Alignas(16) unsigned char data[];
};

struct cz_arena_defer {
    cz_arena_defer_t *next;
    void (*fn)(void *);
    void *arg;
};

#define ALIGN16(n) (((n) + 15u) & ~(size_t)15u)

void cz_arena_init(cz_arena_t *a, size_t chunk_size)
{
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : 4096;
}

static void run_defers(cz_arena_t *a)
{
    while (a->defers) {
        cz_arena_defer_t *d = a->defers;
        a->defers = d->next;
        d->fn(d->arg);
    }
}

void cz_arena_reset(cz_arena_t *a)
{
    run_defers(a);
    while (a->large) {
        cz_arena_large_t *l = a->large;
        a->large = l->next;
        free(l);
    }
    while (a->spare) {
        cz_arena_chunk_t *c = a->spare;
        a->spare = c->next;
        free(c);
    }
    if (a->chunk)
        a->chunk->used = 0;
}

void cz_arena_dispose(cz_arena_t *a)
{
    cz_arena_reset(a);
    free(a->chunk);
    a->chunk = NULL;
}

void *cz_arena_alloc(cz_arena_t *a, size_t n)
{
    n = ALIGN16(n ? n : 1);
    cz_arena_chunk_t *c = a->chunk;
    if (c && c->size - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    if (n > a->chunk_size / 4) {
        cz_arena_large_t *l = malloc(sizeof *l + n);
        if (!l)
            return NULL;
        l->next = a->large;
        a->large = l;
        return l->data;
    }
    size_t size = a->chunk_size;
    cz_arena_chunk_t *nc = malloc(sizeof *nc + size);
    if (!nc)
        return NULL;
    nc->size = size;
    nc->used = n;
    if (c) { /* the old current chunk becomes spare; the new one is kept across resets */
        c->next = a->spare;
        a->spare = c;
    }
    nc->next = NULL;
    a->chunk = nc;
    return nc->data;
}

void *cz_arena_calloc(cz_arena_t *a, size_t n)
{
    void *p = cz_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

cz_str_t cz_arena_strdup(cz_arena_t *a, cz_str_t s)
{
    char *p = cz_arena_alloc(a, s.n + 1);
    if (!p)
        return CZ_STR_NULL;
    if (s.n)
        memcpy(p, s.p, s.n);
    p[s.n] = '\0';
    return (cz_str_t){p, s.n};
}

char *cz_arena_sprintf(cz_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = cz_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int cz_arena_defer(cz_arena_t *a, void (*fn)(void *), void *arg)
{
    cz_arena_defer_t *d = cz_arena_alloc(a, sizeof *d);
    if (!d)
        return CZ_ENOMEM;
    d->fn = fn;
    d->arg = arg;
    d->next = a->defers;
    a->defers = d;
    return 0;
}
