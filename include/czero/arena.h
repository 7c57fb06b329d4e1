/* SPDX-License-Identifier: MIT
 *
 * arena.h: the per-request memory pool.
 *
 * Bump allocation from chunks; everything allocated from an arena dies together when the arena
 * is reset (end of request) or disposed. Oversize blocks go to a separate list (ngx_pool idea).
 * cz_arena_defer() registers cleanups run, last-in first-out, at reset/dispose.
 * An arena is used by one thread at a time.
 */
#ifndef CZERO_ARENA_H
#define CZERO_ARENA_H

#include <stddef.h>
#include "error.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_arena_chunk cz_arena_chunk_t;
typedef struct cz_arena_large cz_arena_large_t;
typedef struct cz_arena_defer cz_arena_defer_t;

typedef struct cz_arena {
    cz_arena_chunk_t *chunk;   /* current chunk (kept across reset) */
    cz_arena_chunk_t *spare;   /* extra chunks, freed on reset except the first */
    cz_arena_large_t *large;
    cz_arena_defer_t *defers;
    size_t chunk_size;
} cz_arena_t;

/** chunk_size 0 = 4096. The arena allocates nothing until first use. */
CZ_EXTERN void cz_arena_init(cz_arena_t *a, size_t chunk_size);
/** Run the defers, free large blocks and extra chunks; keep one chunk for reuse. */
CZ_EXTERN void cz_arena_reset(cz_arena_t *a);
/** Reset and free everything. */
CZ_EXTERN void cz_arena_dispose(cz_arena_t *a);
/** 16-byte aligned memory, or NULL when out of memory. */
CZ_EXTERN void *cz_arena_alloc(cz_arena_t *a, size_t n);
CZ_EXTERN void *cz_arena_calloc(cz_arena_t *a, size_t n);
/** Copy of s with a NUL after it (the view's n does not count the NUL). */
CZ_EXTERN cz_str_t cz_arena_strdup(cz_arena_t *a, cz_str_t s);
CZ_EXTERN char *cz_arena_sprintf(cz_arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Register fn(arg) to run at reset/dispose. Returns 0 or CZ_ENOMEM. */
CZ_EXTERN int cz_arena_defer(cz_arena_t *a, void (*fn)(void *), void *arg);

#ifdef __cplusplus
}
#endif
#endif
