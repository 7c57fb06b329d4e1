/* Tests for the per-request arena: alignment, growth, large blocks, defers, reuse after reset. */
#include <criterion/criterion.h>
#include <stdint.h>
#include "czero/arena.h"

static int order[4], norder;
static void rec(void *arg) { order[norder++] = (int)(intptr_t)arg; }

Test(arena, aligned_and_distinct)
{
    cz_arena_t a;
    cz_arena_init(&a, 256);
    char *p = cz_arena_alloc(&a, 3), *q = cz_arena_alloc(&a, 5);
    cr_assert(((uintptr_t)p & 15) == 0 && ((uintptr_t)q & 15) == 0);
    cr_assert(q >= p + 16);
    cz_arena_dispose(&a);
}

Test(arena, grows_past_chunk_and_large_blocks)
{
    cz_arena_t a;
    cz_arena_init(&a, 256);
    for (int i = 0; i < 100; i++) {
        char *p = cz_arena_alloc(&a, 48);
        cr_assert_not_null(p);
        memset(p, i, 48);
    }
    char *big = cz_arena_alloc(&a, 10000);
    cr_assert_not_null(big);
    memset(big, 1, 10000);
    cz_arena_dispose(&a);
}

Test(arena, defers_run_lifo_on_reset_and_chunk_is_reused)
{
    cz_arena_t a;
    cz_arena_init(&a, 256);
    void *first = cz_arena_alloc(&a, 16);
    cz_arena_defer(&a, rec, (void *)1);
    cz_arena_defer(&a, rec, (void *)2);
    cz_arena_reset(&a);
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[0], 2);
    cr_assert_eq(order[1], 1);
    cr_assert_eq(cz_arena_alloc(&a, 16), first, "one chunk is kept for the next request");
    cz_arena_dispose(&a);
}

Test(arena, strdup_and_sprintf)
{
    cz_arena_t a;
    cz_arena_init(&a, 0);
    cz_str_t s = cz_arena_strdup(&a, CZ_STR("hello"));
    cr_assert_str_eq(s.p, "hello");
    cr_assert_eq(s.n, 5);
    cr_assert_str_eq(cz_arena_sprintf(&a, "%d-%s", 42, "x"), "42-x");
    cz_arena_dispose(&a);
}
