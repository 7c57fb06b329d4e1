/* SPDX-License-Identifier: MIT
 *
 * Tests for the round-robin balancer (src/core/lb/rr.c): the exact rotation, skipping down and
 * tried nodes, and how the rotation continues across node removal and addition.
 */
#include <criterion/criterion.h>
#include "czero/balancer.h"

static cz_lb_t *mk(const char *const *names, int n)
{
    cz_lb_opts_t o;
    cz_lb_opts_init(&o);
    cz_lb_t *lb = cz_lb_new(CZ_LB_RR, &o);
    cr_assert_not_null(lb);
    for (int i = 0; i < n; i++)
        cr_assert_eq(cz_lb_add(lb, names[i], 1, NULL, NULL), 0);
    return lb;
}

/* Letters of the next k picks, each followed by a successful done. */
static void seq(cz_lb_t *lb, int k, const uint64_t *tried, char *out)
{
    for (int i = 0; i < k; i++) {
        size_t idx;
        cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, tried, &idx), 0);
        out[i] = cz_lb_node_name(lb, idx)[0];
        cz_lb_done(lb, idx, 0, 1000);
    }
    out[k] = 0;
}

Test(lb_rr, exact_rotation)
{
    const char *names[] = {"a:1", "b:1", "c:1"};
    cz_lb_t *lb = mk(names, 3);
    char s[16];
    seq(lb, 7, NULL, s);
    cr_assert_str_eq(s, "abcabca");
    cz_lb_free(lb);
}

Test(lb_rr, skips_down_node_and_resumes)
{
    const char *names[] = {"a:1", "b:1", "c:1"};
    cz_lb_t *lb = mk(names, 3);
    size_t b;
    cr_assert_eq(cz_lb_find(lb, "b:1", &b), 0);
    cr_assert_eq(cz_lb_set_down(lb, b, 1), 0);
    char s[16];
    seq(lb, 6, NULL, s);
    /* the cursor still moves over b's position; b's turn goes to its successor c */
    cr_assert_str_eq(s, "accacc");
    cr_assert_eq(cz_lb_set_down(lb, b, 0), 0);
    seq(lb, 3, NULL, s);
    cr_assert_str_eq(s, "abc");
    cz_lb_free(lb);
}

Test(lb_rr, tried_bitmap_is_avoided)
{
    const char *names[] = {"a:1", "b:1", "c:1"};
    cz_lb_t *lb = mk(names, 3);
    uint64_t tried[CZ_LB_TRIED_WORDS] = {0};
    size_t a, c;
    cz_lb_find(lb, "a:1", &a);
    cz_lb_find(lb, "c:1", &c);
    CZ_LB_TRIED_SET(tried, a);
    CZ_LB_TRIED_SET(tried, c);
    char s[16];
    seq(lb, 4, tried, s);
    cr_assert_str_eq(s, "bbbb");
    CZ_LB_TRIED_SET(tried, 1); /* b's slot */
    size_t idx;
    cr_assert_eq(cz_lb_pick(lb, CZ_STR_NULL, tried, &idx), CZ_ENOSERVICE);
    cz_lb_free(lb);
}

Test(lb_rr, rotation_follows_membership)
{
    const char *names[] = {"a:1", "b:1"};
    cz_lb_t *lb = mk(names, 2);
    char s[16];
    seq(lb, 2, NULL, s);
    cr_assert_str_eq(s, "ab");
    size_t c;
    cr_assert_eq(cz_lb_add(lb, "c:1", 1, NULL, &c), 0);
    cr_assert_eq(cz_lb_size(lb), 3);
    seq(lb, 4, NULL, s); /* counter is 2: c, then around */
    cr_assert_str_eq(s, "cabc");
    size_t a;
    cz_lb_find(lb, "a:1", &a);
    cr_assert_eq(cz_lb_remove(lb, a), 0);
    cr_assert_eq(cz_lb_remove(lb, a), CZ_ENOTFOUND);
    cr_assert_null(cz_lb_node_name(lb, a));
    seq(lb, 4, NULL, s);
    cr_assert_str_eq(s, "bcbc");
    cz_lb_free(lb);
}
