/* SPDX-License-Identifier: MIT
 *
 * test_conf_check.c: a field's own check (cz_conf_field_t.check) run by the loader: it sees the
 * member bound with its defaults, its relative key path becomes the full path of the message, and
 * the error is placed at the deepest node of that path the document has (file:line:col), so a
 * component's cross-key rules read like the loader's own errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "czero/config.h"

typedef struct item {
    char *name;
    int64_t lo, hi;
} item_t;

typedef struct top {
    cz_conf_array_t items;
    item_t one;
    int64_t plain;
} top_t;

static int calls;
static cz_conf_at_t seen_at;
static int elem_line[4], elem_col[4];

/* hi >= lo for one item; names unique across the array */
static int check_item(void *member, const cz_conf_at_t *at, cz_diag_t *d)
{
    item_t *it = member;
    calls++;
    seen_at = *at;
    if (it->hi < it->lo)
        return cz_diag_set(d, NULL, 0, 0, "Hi", "must not be below Lo (%lld)", (long long)it->lo);
    return 0;
}

static int check_items(void *member, const cz_conf_at_t *at, cz_diag_t *d)
{
    cz_conf_array_t *a = member;
    item_t *its = a->items;
    calls++;
    for (size_t i = 0; i < a->n; i++) {
        char p[32];
        snprintf(p, sizeof p, "[%zu]", i);
        if (i < 4)
            cz_conf_at_locate(at, p, &elem_line[i], &elem_col[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(its[i].name, its[j].name) == 0) {
                snprintf(p, sizeof p, "[%zu].Name", i);
                return cz_diag_set(d, NULL, 0, 0, p, "duplicate name '%s'", its[i].name);
            }
        if (its[i].hi < its[i].lo) {
            snprintf(p, sizeof p, "[%zu].Hi", i);
            return cz_diag_set(d, NULL, 0, 0, p, "must not be below Lo");
        }
    }
    return 0;
}

static int check_plain(void *member, const cz_conf_at_t *at, cz_diag_t *d)
{
    (void)at;
    calls++;
    return *(int64_t *)member == 13 ? cz_diag_set(d, NULL, 0, 0, "", "unlucky") : 0;
}

static const cz_conf_field_t item_fields[] = {
    {.key = "Name", .type = CZ_CONF_STRING, .offset = offsetof(item_t, name), .def = "x"},
    {.key = "Lo", .type = CZ_CONF_INT, .offset = offsetof(item_t, lo), .def = "1"},
    {.key = "Hi", .type = CZ_CONF_INT, .offset = offsetof(item_t, hi), .def = "10"},
    {0},
};

static const cz_conf_field_t top_fields[] = {
    {.key = "Items", .type = CZ_CONF_ARRAY, .offset = offsetof(top_t, items), .sub = item_fields,
     .elem_size = sizeof(item_t), .check = check_items},
    {.key = "One", .type = CZ_CONF_OBJECT, .offset = offsetof(top_t, one), .sub = item_fields,
     .check = check_item},
    {.key = "Plain", .type = CZ_CONF_INT, .offset = offsetof(top_t, plain), .def = "0",
     .check = check_plain},
    {0},
};

static int load(const char *y, top_t *t, cz_diag_t *d, char *buf, size_t n)
{
    calls = 0;
    memset(&seen_at, 0, sizeof seen_at);
    int rc = cz_conf_load_string("t.yaml", y, strlen(y), top_fields, t, d);
    cz_diag_format(d, buf, n);
    return rc;
}

Test(conf_check, errors_take_the_full_key_path_and_the_node_position)
{
    top_t t;
    cz_diag_t d;
    char buf[600];
    cr_assert_eq(load("Items:\n  - {Name: a}\n  - Name: a\n", &t, &d, buf, sizeof buf),
                 CZ_EINVAL_CONF);
    cr_expect_str_eq(buf, "t.yaml:3:11: Items[1].Name: duplicate name 'a'");
    cr_expect_null(t.items.items, "a failed load keeps nothing");

    /* the member is checked with its defaults: Hi absent, so the deepest node is the element */
    cr_assert_eq(load("Items:\n  - {Name: a, Lo: 50}\n", &t, &d, buf, sizeof buf),
                 CZ_EINVAL_CONF);
    cr_expect_str_eq(buf, "t.yaml:2:5: Items[0].Hi: must not be below Lo");

    /* an object's check: its keys follow a dot */
    cr_assert_eq(load("One:\n  Lo: 5\n  Hi: 4\n", &t, &d, buf, sizeof buf), CZ_EINVAL_CONF);
    cr_expect_str_eq(buf, "t.yaml:3:7: One.Hi: must not be below Lo (5)");

    /* "" is the member itself: its value */
    cr_assert_eq(load("Plain: 13\n", &t, &d, buf, sizeof buf), CZ_EINVAL_CONF);
    cr_expect_str_eq(buf, "t.yaml:1:8: Plain: unlucky");
}

Test(conf_check, runs_once_per_field_present_or_absent_and_locates_elements)
{
    top_t t;
    cz_diag_t d;
    char buf[600];
    cr_assert_eq(load("Plain: 2\nItems:\n  - {Name: a}\n  -\n    Name: b\n", &t, &d, buf,
                      sizeof buf),
                 0, "%s", buf);
    cr_expect_eq(calls, 3, "Items, One (absent) and Plain each checked once: %d", calls);
    cr_expect_eq(elem_line[0], 3);
    cr_expect_eq(elem_col[0], 5);
    cr_expect_eq(elem_line[1], 5);
    cr_expect_eq(elem_col[1], 5);
    /* One was absent: its position is the enclosing mapping's, and it got its defaults */
    cr_expect_eq(seen_at.line, 1);
    cr_expect_eq(seen_at.col, 1);
    cr_expect_str_eq(seen_at.file, "t.yaml");
    cr_expect_eq(t.one.hi, 10);
    cz_conf_free(top_fields, &t);

    /* the defaults alone run the checks too (no document: positions are 0) */
    calls = 0;
    cr_assert_eq(cz_conf_defaults(top_fields, &t, &d), 0);
    cr_expect_eq(calls, 3);
    cz_conf_free(top_fields, &t);
}

Test(conf_check, locate_stops_at_the_deepest_node_present)
{
    top_t t;
    cz_diag_t d;
    char buf[600];
    /* Hi present: the error sits on its value */
    const char *y = "Items:\n  - {Name: a, Lo: 3, Hi: 2}\n";
    cr_assert_eq(load(y, &t, &d, buf, sizeof buf), CZ_EINVAL_CONF);
    cr_expect_str_eq(buf, "t.yaml:2:26: Items[0].Hi: must not be below Lo");
    /* no document (cz_conf_defaults, an absent key): the check's own position */
    cz_conf_at_t none = {.file = "f", .line = 7, .col = 3};
    int l = -1, c = -1;
    cz_conf_at_locate(&none, "[5].Name", &l, &c);
    cr_expect_eq(l, 7);
    cr_expect_eq(c, 3);
    cz_conf_at_locate(NULL, "x", &l, &c);
    cr_expect_eq(l, 0);
}
