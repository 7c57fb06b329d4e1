/* SPDX-License-Identifier: MIT
 *
 * yaml.c: libyaml front end of the configuration loader.
 *
 * libyaml's loader (yaml_parser_load) already builds a node graph in which every node carries its
 * start mark, so czero keeps that document as its tree instead of copying it; this file only
 * maps marks to 1-based positions and parser failures to cz_diag_t. Anchors and aliases are
 * therefore supported (an alias is the anchored node itself); the binder's recursion follows the
 * field tables, not the document, so even a self-referencing alias cannot make it loop.
 * Only the first document of a stream is read, as go-zero's yaml.Unmarshal does.
 */
#include <stdio.h>
#include <string.h>
#include "conf_int.h"

/* Reader errors (bad UTF-8, control characters) carry a byte offset, not a line. */
static void offset_to_pos(const char *buf, size_t len, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* libyaml 0.2.5 rescans its whole simple-key stack (one entry per flow level) for every token,
 * so n nested "[" cost O(n^2): 20000 of them take seconds. No real configuration nests flow
 * collections deeply, so brackets are counted first, crudely (quotes and comments included,
 * which can only over-count) and the document is refused past this depth. */
#define MAX_FLOW_DEPTH 1000

static int check_flow_depth(const char *name, const char *buf, size_t len, cz_diag_t *d)
{
    size_t depth = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '[' || buf[i] == '{') {
            if (++depth > MAX_FLOW_DEPTH) {
                int line, col;
                offset_to_pos(buf, len, i, &line, &col);
                return cz_diag_set(d, name, line, col, NULL,
                                   "YAML: collections nested deeper than %d levels",
                                   MAX_FLOW_DEPTH);
            }
        } else if ((buf[i] == ']' || buf[i] == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

int cz__yaml_parse(const char *name, const char *buf, size_t len, yaml_document_t *doc,
                   cz_diag_t *d)
{
    int rc = check_flow_depth(name, buf, len, d);
    if (rc)
        return rc;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return cz_diag_set(d, name, 0, 0, NULL, "out of memory initialising the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    int ok = yaml_parser_load(&p, doc);
    if (ok) {
        yaml_parser_delete(&p);
        return 0;
    }
    const char *problem = p.problem ? p.problem : "unknown YAML error";
    if (p.error == YAML_MEMORY_ERROR) {
        rc = cz_diag_set(d, name, 0, 0, NULL, "out of memory parsing YAML");
    } else if (p.error == YAML_READER_ERROR) {
        int line, col;
        offset_to_pos(buf, len, p.problem_offset, &line, &col);
        rc = cz_diag_set(d, name, line, col, NULL, "YAML: %s (byte 0x%02x)", problem,
                         (unsigned)p.problem_value & 0xffu);
    } else if (p.context) {
        rc = cz_diag_set(d, name, cz__ymark_line(p.problem_mark), cz__ymark_col(p.problem_mark),
                         NULL, "YAML: %s (%s at %d:%d)", problem, p.context,
                         cz__ymark_line(p.context_mark), cz__ymark_col(p.context_mark));
    } else {
        rc = cz_diag_set(d, name, cz__ymark_line(p.problem_mark), cz__ymark_col(p.problem_mark),
                         NULL, "YAML: %s", problem);
    }
    yaml_parser_delete(&p);
    return rc;
}

bool cz__yaml_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

const char *cz__yaml_describe(const yaml_node_t *n, char *buf, size_t size)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a sequence";
    if (cz__yaml_is_null(n))
        return "null";
    char tmp[48];
    size_t len = n->data.scalar.length, k = 0;
    const unsigned char *s = n->data.scalar.value;
    for (size_t i = 0; i < len && k < 40; i++)
        tmp[k++] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
    tmp[k] = '\0';
    snprintf(buf, size, "\"%s%s\"", tmp, len > 40 ? "..." : "");
    return buf;
}
