/* SPDX-License-Identifier: MIT
 *
 * Tests for src/conf/yaml.c: 1-based node positions, libyaml's syntax and reader errors turned
 * into diagnostics with exact positions, null detection, value descriptions, aliases.
 */
#include <criterion/criterion.h>
#include <string.h>
#include "conf/conf_int.h"

static yaml_document_t doc;
static cz_diag_t d;

static int parse(const char *s)
{
    memset(&d, 0, sizeof d);
    return cz__yaml_parse("t.yaml", s, strlen(s), &doc, &d);
}

static yaml_node_t *value_of(yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *p = map->data.mapping.pairs.start;
    for (; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        if (!strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(&doc, p->value);
    }
    return NULL;
}

Test(conf_yaml, positions_are_one_based)
{
    cr_assert_eq(parse("Name: a\nLog:\n  Level:   debug\n"), 0);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    cr_assert_eq(root->type, YAML_MAPPING_NODE);
    cr_assert_eq(cz__ymark_line(root->start_mark), 1);
    cr_assert_eq(cz__ymark_col(root->start_mark), 1);
    yaml_node_t *log = value_of(root, "Log");
    cr_assert_eq(cz__ymark_line(log->start_mark), 3);
    cr_assert_eq(cz__ymark_col(log->start_mark), 3);
    yaml_node_t *lv = value_of(log, "Level");
    cr_assert_eq(cz__ymark_line(lv->start_mark), 3);
    cr_assert_eq(cz__ymark_col(lv->start_mark), 12);
    yaml_document_delete(&doc);
}

Test(conf_yaml, syntax_error_has_problem_context_and_position)
{
    cr_assert_eq(parse("Name: a\nPort: 1\n  Host: x\n"), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.file, "t.yaml");
    cr_assert_eq(d.line, 3);
    cr_assert_eq(d.col, 7);
    cr_assert_str_eq(d.key, "");
    cr_assert_str_eq(d.msg, "YAML: mapping values are not allowed in this context");

    cr_assert_eq(parse("Name: \"abc\n"), CZ_EINVAL_CONF);
    cr_assert_eq(d.line, 2);
    cr_assert_eq(d.col, 1);
    cr_assert_str_eq(d.msg, "YAML: found unexpected end of stream "
                            "(while scanning a quoted scalar at 1:7)");

    cr_assert_eq(parse("Name: a\n\tPort: 1"), CZ_EINVAL_CONF);
    cr_assert_eq(d.line, 2);
    cr_assert_eq(d.col, 1);
    cr_assert(strstr(d.msg, "tab character"), "%s", d.msg);
}

Test(conf_yaml, undefined_alias_is_an_error)
{
    cr_assert_eq(parse("Name: &x a\nPort: *y\n"), CZ_EINVAL_CONF);
    cr_assert_eq(d.line, 2);
    cr_assert_eq(d.col, 7);
    cr_assert_str_eq(d.msg, "YAML: found undefined alias");
}

Test(conf_yaml, alias_is_the_anchored_node)
{
    cr_assert_eq(parse("A: &x {P: 1}\nB: *x\n"), 0);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    cr_assert_eq(value_of(root, "A"), value_of(root, "B"));
    yaml_document_delete(&doc);
}

Test(conf_yaml, reader_error_gets_a_line_from_the_byte_offset)
{
    cr_assert_eq(parse("Name: a\nHost: \xff\n"), CZ_EINVAL_CONF);
    cr_assert_eq(d.line, 2);
    cr_assert_eq(d.col, 7);
    cr_assert(strstr(d.msg, "(byte 0xff)"), "%s", d.msg);
}

Test(conf_yaml, empty_stream_has_no_root)
{
    cr_assert_eq(parse(""), 0);
    cr_assert_null(yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
}

Test(conf_yaml, null_detection_and_descriptions)
{
    cr_assert_eq(parse("[~, null, NULL, '', \"\", x, {a: 1}, [1], " /* 0..7 */
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, nulls]"),
                 0);
    yaml_node_t *seq = yaml_document_get_root_node(&doc);
    yaml_node_item_t *it = seq->data.sequence.items.start;
    bool want_null[] = {true, true, true, false, false, false, false, false, false, false};
    for (int i = 0; i < 10; i++)
        cr_assert_eq(cz__yaml_is_null(yaml_document_get_node(&doc, it[i])), want_null[i], "%d", i);
    char b[64];
    cr_assert_str_eq(cz__yaml_describe(yaml_document_get_node(&doc, it[0]), b, sizeof b), "null");
    cr_assert_str_eq(cz__yaml_describe(yaml_document_get_node(&doc, it[3]), b, sizeof b), "\"\"");
    cr_assert_str_eq(cz__yaml_describe(yaml_document_get_node(&doc, it[5]), b, sizeof b), "\"x\"");
    cr_assert_str_eq(cz__yaml_describe(yaml_document_get_node(&doc, it[6]), b, sizeof b),
                     "a mapping");
    cr_assert_str_eq(cz__yaml_describe(yaml_document_get_node(&doc, it[7]), b, sizeof b),
                     "a sequence");
    cr_assert_str_eq(cz__yaml_describe(yaml_document_get_node(&doc, it[8]), b, sizeof b),
                     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
    yaml_document_delete(&doc);
}

Test(conf_yaml, deep_flow_nesting_is_refused_before_libyaml_sees_it)
{
    static char deep[8 + 5000 + 1];
    strcpy(deep, "Name:\n  ");
    memset(deep + 8, '[', 5000);
    cr_assert_eq(parse(deep), CZ_EINVAL_CONF);
    cr_assert_eq(d.line, 2);
    cr_assert_eq(d.col, 1003); /* the 1001st bracket, after two spaces of indent */
    cr_assert_str_eq(d.msg, "YAML: collections nested deeper than 1000 levels");
    /* balanced brackets never accumulate depth */
    char flat[4096] = "A: [";
    for (int i = 0; i < 600; i++)
        strcat(flat, "[],");
    strcat(flat, "[]]\n");
    cr_assert_eq(parse(flat), 0, "%s", d.msg);
    yaml_document_delete(&doc);
}
