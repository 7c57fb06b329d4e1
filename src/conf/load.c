/* SPDX-License-Identifier: MIT
 *
 * load.c: the table-driven configuration binder (cz_conf_load and friends).
 *
 * A field table (nginx's ngx_command_t idea) says which keys a mapping may hold, what type each
 * has, where it lives in the struct, its default and its bounds. The binder walks one mapping at
 * a time: keys in document order first (unknown key, duplicate, type, bounds, enum errors point
 * at the offending key or value), then the fields that were absent (default, or "missing
 * required key" at the mapping's own position). CZ_CONF_INLINE tables are flattened into their
 * parent, which is how Go struct embedding reads. The first error wins and everything allocated
 * so far is freed, so a failed load leaves nothing behind. The recursion follows the tables,
 * never the document, so aliases cannot make it loop.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf_int.h"
#include "internal.h"

#define MAX_SLOTS 128 /* keys one mapping may have after flattening inlines */
#define MAX_DEPTH 16  /* nesting of tables; deeper means a table refers to itself */

typedef struct {
    const char *file;
    cz_diag_t *d;
    yaml_document_t *doc;
    char path[256]; /* dotted key path of what is being bound: "Upstreams[2].Weight" */
    size_t plen;
    int depth;
} ctx_t;

typedef struct {
    const cz_conf_field_t *f;
    char *dst; /* the member itself: struct base + offset */
} slot_t;

static int err(ctx_t *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int err(ctx_t *c, int line, int col, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cz_diag_set(c->d, c->file, line, col, c->path, "%s", msg);
}

static size_t push_key(ctx_t *c, const char *key, size_t n)
{
    size_t old = c->plen;
    int w = snprintf(c->path + old, sizeof c->path - old, "%s%.*s", old ? "." : "", (int)n, key);
    if (w > 0)
        c->plen = cz__min(old + (size_t)w, sizeof c->path - 1);
    return old;
}

static size_t push_index(ctx_t *c, size_t i)
{
    size_t old = c->plen;
    int w = snprintf(c->path + old, sizeof c->path - old, "[%zu]", i);
    if (w > 0)
        c->plen = cz__min(old + (size_t)w, sizeof c->path - 1);
    return old;
}

static void pop(ctx_t *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

/* ---- sizes, zeroing and freeing ---- */

static size_t extent(const cz_conf_field_t *fields, int depth);

static size_t type_size(const cz_conf_field_t *f, int depth)
{
    switch (f->type) {
    case CZ_CONF_STRING: return sizeof(char *);
    case CZ_CONF_INT:
    case CZ_CONF_DURATION:
    case CZ_CONF_SIZE: return sizeof(int64_t);
    case CZ_CONF_DOUBLE: return sizeof(double);
    case CZ_CONF_BOOL: return sizeof(bool);
    case CZ_CONF_ENUM: return sizeof(int);
    case CZ_CONF_OBJECT:
    case CZ_CONF_INLINE: return f->sub ? extent(f->sub, depth + 1) : 0;
    case CZ_CONF_STRINGS: return sizeof(cz_conf_strings_t);
    case CZ_CONF_ARRAY: return sizeof(cz_conf_array_t);
    case CZ_CONF_IGNORE: return 0;
    }
    return 0;
}

/* Bytes from the struct start to the end of the last described member. */
static size_t extent(const cz_conf_field_t *fields, int depth)
{
    size_t end = 0;
    if (!fields || depth > MAX_DEPTH)
        return 0;
    for (const cz_conf_field_t *f = fields; f->key; f++) {
        size_t sz = type_size(f, depth);
        if (sz && f->offset + sz > end)
            end = f->offset + sz;
    }
    return end;
}

static void free_fields(const cz_conf_field_t *fields, char *base, int depth)
{
    if (!fields || depth > MAX_DEPTH)
        return;
    for (const cz_conf_field_t *f = fields; f->key; f++) {
        char *dst = base + f->offset;
        switch (f->type) {
        case CZ_CONF_STRING: {
            char **s = (char **)dst;
            free(*s);
            *s = NULL;
            break;
        }
        case CZ_CONF_OBJECT:
        case CZ_CONF_INLINE:
            free_fields(f->sub, dst, depth + 1);
            break;
        case CZ_CONF_STRINGS: {
            cz_conf_strings_t *ss = (cz_conf_strings_t *)dst;
            for (size_t i = 0; ss->items && i < ss->n; i++)
                free(ss->items[i]);
            free(ss->items);
            ss->items = NULL;
            ss->n = 0;
            break;
        }
        case CZ_CONF_ARRAY: {
            cz_conf_array_t *a = (cz_conf_array_t *)dst;
            for (size_t i = 0; a->items && i < a->n; i++)
                free_fields(f->sub, (char *)a->items + i * f->elem_size, depth + 1);
            free(a->items);
            a->items = NULL;
            a->n = 0;
            break;
        }
        default:
            break;
        }
    }
}

void cz_conf_free(const cz_conf_field_t *fields, void *out)
{
    if (!fields || !out)
        return;
    free_fields(fields, out, 0);
    memset(out, 0, extent(fields, 0));
}

/* ---- scalars ---- */

static const char *fmt_bound(const cz_conf_field_t *f, int64_t v, char *buf, size_t size)
{
    if (f->type == CZ_CONF_DURATION)
        return cz__fmt_duration(v, buf, size);
    if (f->type == CZ_CONF_SIZE)
        return cz__fmt_size(v, buf, size);
    snprintf(buf, size, "%lld", (long long)v);
    return buf;
}

static int check_bounds(ctx_t *c, const cz_conf_field_t *f, double v, const char *got, int line,
                        int col, const char *pfx)
{
    bool lo = (f->flags & CZ_CONF_HAS_MIN) && v < (double)f->min;
    bool hi = (f->flags & CZ_CONF_HAS_MAX) && v > (double)f->max;
    if (!lo && !hi)
        return 0;
    char a[32], b[32];
    fmt_bound(f, f->min, a, sizeof a);
    fmt_bound(f, f->max, b, sizeof b);
    if ((f->flags & CZ_CONF_HAS_MIN) && (f->flags & CZ_CONF_HAS_MAX))
        return err(c, line, col, "%smust be %s..%s, got %s", pfx, a, b, got);
    if (lo)
        return err(c, line, col, "%smust be >= %s, got %s", pfx, a, got);
    return err(c, line, col, "%smust be <= %s, got %s", pfx, b, got);
}

/* Convert text into the member at dst. For STRING, *owned (malloc'd text) is taken over. */
static int conv_scalar(ctx_t *c, const cz_conf_field_t *f, char *dst, char **owned,
                       const char *text, int line, int col, bool is_default)
{
    char msg[200];
    const char *pfx = is_default ? "bad default: " : "";
    int rc = 0;
    int64_t i64 = 0;
    switch (f->type) {
    case CZ_CONF_STRING: {
        if (f->enums && (rc = cz__conv_enum(text, f->enums, &(int){0}, msg, sizeof msg)))
            break;
        char *s = owned && *owned ? *owned : strdup(text);
        if (!s)
            return err(c, line, col, "out of memory");
        if (owned)
            *owned = NULL;
        free(*(char **)dst);
        *(char **)dst = s;
        return 0;
    }
    case CZ_CONF_INT:
    case CZ_CONF_DURATION:
    case CZ_CONF_SIZE:
        rc = f->type == CZ_CONF_INT        ? cz__conv_int(text, &i64, msg, sizeof msg)
             : f->type == CZ_CONF_DURATION ? cz__conv_duration(text, &i64, msg, sizeof msg)
                                           : cz__conv_size(text, &i64, msg, sizeof msg);
        if (rc == 0) {
            char got[32];
            fmt_bound(f, i64, got, sizeof got);
            if ((rc = check_bounds(c, f, (double)i64, got, line, col, pfx)))
                return rc;
            *(int64_t *)dst = i64;
        }
        break;
    case CZ_CONF_DOUBLE: {
        double v;
        if ((rc = cz__conv_double(text, &v, msg, sizeof msg)) == 0) {
            char got[32];
            snprintf(got, sizeof got, "%g", v);
            if ((rc = check_bounds(c, f, v, got, line, col, pfx)))
                return rc;
            *(double *)dst = v;
        }
        break;
    }
    case CZ_CONF_BOOL:
        rc = cz__conv_bool(text, (bool *)dst, msg, sizeof msg);
        break;
    case CZ_CONF_ENUM:
        if (!f->enums)
            return err(c, line, col, "field table bug: enum without values");
        rc = cz__conv_enum(text, f->enums, (int *)dst, msg, sizeof msg);
        break;
    default:
        return err(c, line, col, "field table bug: type %d is not a scalar", (int)f->type);
    }
    if (rc)
        return err(c, line, col, "%s%s", pfx, msg);
    return 0;
}

/* The text of a scalar node after ${ENV} expansion, malloc'd; errors point at the node. */
static int node_text(ctx_t *c, const yaml_node_t *n, char **out)
{
    char msg[200];
    int line = cz__ymark_line(n->start_mark), col = cz__ymark_col(n->start_mark);
    int rc = cz__env_expand((const char *)n->data.scalar.value, n->data.scalar.length, out, msg,
                            sizeof msg);
    if (rc)
        return err(c, line, col, "%s", msg);
    /* A double-quoted "\0" can put a NUL into a value; C strings cannot carry it. */
    if (memchr(n->data.scalar.value, '\0', n->data.scalar.length)) {
        free(*out);
        *out = NULL;
        return err(c, line, col, "value contains a NUL byte");
    }
    return 0;
}

static const char *type_word(cz_conf_type_t t)
{
    switch (t) {
    case CZ_CONF_STRING: return "a string";
    case CZ_CONF_INT: return "an integer";
    case CZ_CONF_DOUBLE: return "a number";
    case CZ_CONF_BOOL: return "a boolean";
    case CZ_CONF_DURATION: return "a duration";
    case CZ_CONF_SIZE: return "a size";
    case CZ_CONF_ENUM: return "one of the allowed values";
    case CZ_CONF_OBJECT: return "a mapping";
    case CZ_CONF_STRINGS: return "a string or a sequence of strings";
    case CZ_CONF_ARRAY: return "a sequence of mappings";
    default: return "a value";
    }
}

/* ---- field checks ---- */

void cz_conf_at_locate(const cz_conf_at_t *at, const char *path, int *line, int *col)
{
    *line = at ? at->line : 0;
    *col = at ? at->col : 0;
    if (!at || !at->_doc || !at->_node || !path)
        return;
    yaml_document_t *doc = (yaml_document_t *)at->_doc;
    const yaml_node_t *n = at->_node;
    for (const char *s = path; n && *s;) {
        size_t kn = strcspn(s, ".[");
        if (*s == '.') {
            s++;
            continue;
        }
        const yaml_node_t *next = NULL;
        if (kn && n->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
                 p < n->data.mapping.pairs.top && !next; p++) {
                const yaml_node_t *k = yaml_document_get_node(doc, p->key);
                if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == kn &&
                    memcmp(k->data.scalar.value, s, kn) == 0)
                    next = yaml_document_get_node(doc, p->value);
            }
            s += kn;
        } else if (!kn && n->type == YAML_SEQUENCE_NODE) {
            char *end;
            unsigned long i = strtoul(s + 1, &end, 10);
            if (*end == ']' &&
                i < (size_t)(n->data.sequence.items.top - n->data.sequence.items.start))
                next = yaml_document_get_node(doc, n->data.sequence.items.start[i]);
            s = *end ? end + 1 : end;
        }
        if (!(n = next))
            break;
        *line = cz__ymark_line(n->start_mark);
        *col = cz__ymark_col(n->start_mark);
    }
}

/* The field's own check on its bound member; v is the value node (NULL when the key is absent,
 * line/col then the enclosing mapping's). The key path is already pushed. */
static int run_check(ctx_t *c, const cz_conf_field_t *f, char *dst, const yaml_node_t *v,
                     int line, int col)
{
    if (!f->check || f->type == CZ_CONF_INLINE || f->type == CZ_CONF_IGNORE)
        return 0;
    cz_conf_at_t at = {.file = c->file, .line = line, .col = col, ._doc = c->doc, ._node = v};
    if (v) {
        at.line = cz__ymark_line(v->start_mark);
        at.col = cz__ymark_col(v->start_mark);
    }
    cz_diag_t local;
    memset(&local, 0, sizeof local);
    if (f->check(dst, &at, &local) == 0)
        return 0;
    if (!local.msg[0])
        snprintf(local.msg, sizeof local.msg, "invalid value");
    int l, cl;
    cz_conf_at_locate(&at, local.key, &l, &cl);
    size_t old = c->plen;
    if (local.key[0] == '[') { /* an element of this array: no dot before the index */
        int w = snprintf(c->path + old, sizeof c->path - old, "%s", local.key);
        if (w > 0)
            c->plen = cz__min(old + (size_t)w, sizeof c->path - 1);
    } else if (local.key[0]) {
        push_key(c, local.key, strlen(local.key));
    }
    int rc = err(c, l, cl, "%s", local.msg);
    pop(c, old);
    return rc;
}

/* ---- mappings ---- */

static int bind_map(ctx_t *c, const cz_conf_field_t *fields, char *base, const yaml_node_t *map,
                    int line, int col, bool required);

static int flatten(ctx_t *c, const cz_conf_field_t *fields, char *base, slot_t *slots, size_t *n,
                   int depth)
{
    if (depth > MAX_DEPTH)
        return err(c, 0, 0, "field table bug: inline tables nested too deeply");
    for (const cz_conf_field_t *f = fields; f->key; f++) {
        if (f->type == CZ_CONF_INLINE) {
            if (!f->sub)
                return err(c, 0, 0, "field table bug: %s has no sub-table", f->key);
            int rc = flatten(c, f->sub, base + f->offset, slots, n, depth + 1);
            if (rc)
                return rc;
            continue;
        }
        if (*n == MAX_SLOTS)
            return err(c, 0, 0, "field table bug: more than %d keys in one mapping", MAX_SLOTS);
        slots[(*n)++] = (slot_t){f, base + f->offset};
    }
    return 0;
}

/* Case-insensitive edit distance counting a swap of neighbours as one edit (optimal string
 * alignment), for "did you mean": "Lgo" is one edit from "Log". Keys over 63 bytes are skipped. */
#define LC(ch) tolower((unsigned char)(ch))
static size_t distance(const char *a, size_t na, const char *b)
{
    size_t nb = strlen(b), m[64][64];
    if (na > 63 || nb > 63)
        return SIZE_MAX;
    for (size_t i = 0; i <= na; i++)
        m[i][0] = i;
    for (size_t j = 0; j <= nb; j++)
        m[0][j] = j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            size_t cost = LC(a[i - 1]) == LC(b[j - 1]) ? 0 : 1;
            size_t v = cz__min(cz__min(m[i - 1][j] + 1, m[i][j - 1] + 1), m[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && LC(a[i - 1]) == LC(b[j - 2]) &&
                LC(a[i - 2]) == LC(b[j - 1]))
                v = cz__min(v, m[i - 2][j - 2] + 1);
            m[i][j] = v;
        }
    }
    return m[na][nb];
}

static int unknown_key(ctx_t *c, const yaml_node_t *k, const slot_t *slots, size_t n)
{
    const char *key = (const char *)k->data.scalar.value;
    size_t klen = k->data.scalar.length;
    int line = cz__ymark_line(k->start_mark), col = cz__ymark_col(k->start_mark);
    size_t best = SIZE_MAX, bi = 0;
    for (size_t i = 0; i < n; i++) {
        size_t dist = distance(key, klen, slots[i].f->key);
        if (dist < best)
            best = dist, bi = i;
    }
    size_t old = push_key(c, key, cz__min(klen, (size_t)64));
    int rc;
    if (best == 0) {
        rc = err(c, line, col, "unknown key; did you mean \"%s\"? (keys are case-sensitive)",
                 slots[bi].f->key);
    } else if (best <= cz__max((size_t)1, strlen(slots[bi].f->key) / 3)) {
        rc = err(c, line, col, "unknown key; did you mean \"%s\"?", slots[bi].f->key);
    } else if (n > 0 && n <= 8) {
        char list[160];
        size_t w = 0;
        for (size_t i = 0; i < n && w < sizeof list; i++) {
            int r = snprintf(list + w, sizeof list - w, "%s%s", i ? ", " : "", slots[i].f->key);
            w += r > 0 ? (size_t)r : 0;
        }
        rc = err(c, line, col, "unknown key (valid keys: %s)", list);
    } else {
        rc = err(c, line, col, "unknown key");
    }
    pop(c, old);
    return rc;
}

/* A field whose key is absent (or null): its default, or sub-defaults, or an error if required. */
static int bind_absent(ctx_t *c, const slot_t *s, int line, int col, bool required,
                       bool present)
{
    const cz_conf_field_t *f = s->f;
    if ((f->flags & CZ_CONF_REQUIRED) && required)
        return err(c, line, col, present ? "required key has no value" : "missing required key");
    switch (f->type) {
    case CZ_CONF_OBJECT:
        return bind_map(c, f->sub, s->dst, NULL, line, col, required);
    case CZ_CONF_STRINGS: {
        if (!f->def)
            return 0;
        cz_conf_strings_t *ss = (cz_conf_strings_t *)s->dst;
        char *item = strdup(f->def);
        if (!item || !(ss->items = malloc(sizeof(char *)))) {
            free(item);
            return err(c, line, col, "out of memory");
        }
        ss->items[0] = item;
        ss->n = 1;
        return 0;
    }
    case CZ_CONF_ARRAY:
    case CZ_CONF_IGNORE:
        return 0;
    default:
        return f->def ? conv_scalar(c, f, s->dst, NULL, f->def, line, col, true) : 0;
    }
}

static int bind_strings(ctx_t *c, cz_conf_strings_t *ss, const yaml_node_t *v)
{
    if (v->type == YAML_SCALAR_NODE) {
        char *text;
        int rc = node_text(c, v, &text);
        if (rc)
            return rc;
        if (!(ss->items = malloc(sizeof(char *)))) {
            free(text);
            return err(c, cz__ymark_line(v->start_mark), cz__ymark_col(v->start_mark),
                       "out of memory");
        }
        ss->items[0] = text;
        ss->n = 1;
        return 0;
    }
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    if (!(ss->items = calloc(n, sizeof(char *))))
        return err(c, cz__ymark_line(v->start_mark), cz__ymark_col(v->start_mark),
                   "out of memory");
    ss->n = n;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
        size_t old = push_index(c, i);
        int rc = 0;
        if (it->type != YAML_SCALAR_NODE || cz__yaml_is_null(it)) {
            char got[64];
            rc = err(c, cz__ymark_line(it->start_mark), cz__ymark_col(it->start_mark),
                     "expected a string, got %s", cz__yaml_describe(it, got, sizeof got));
        } else {
            rc = node_text(c, it, &ss->items[i]);
        }
        pop(c, old);
        if (rc)
            return rc;
    }
    return 0;
}

static int bind_array(ctx_t *c, const cz_conf_field_t *f, cz_conf_array_t *a, const yaml_node_t *v)
{
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    if (!f->sub || !f->elem_size)
        return err(c, 0, 0, "field table bug: array without sub-table or elem_size");
    if (!(a->items = calloc(n, f->elem_size)))
        return err(c, cz__ymark_line(v->start_mark), cz__ymark_col(v->start_mark),
                   "out of memory");
    a->n = n;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
        size_t old = push_index(c, i);
        int line = cz__ymark_line(it->start_mark), col = cz__ymark_col(it->start_mark), rc;
        if (it->type != YAML_MAPPING_NODE) {
            char got[64];
            rc = err(c, line, col, "expected a mapping, got %s",
                     cz__yaml_describe(it, got, sizeof got));
        } else {
            rc = bind_map(c, f->sub, (char *)a->items + i * f->elem_size, it, line, col, true);
        }
        pop(c, old);
        if (rc)
            return rc;
    }
    return 0;
}

/* A present key: v is its value node. The key path is already pushed. */
static int bind_value(ctx_t *c, const slot_t *s, const yaml_node_t *v)
{
    const cz_conf_field_t *f = s->f;
    int line = cz__ymark_line(v->start_mark), col = cz__ymark_col(v->start_mark);
    if (f->type == CZ_CONF_IGNORE)
        return 0;
    if (cz__yaml_is_null(v))
        return bind_absent(c, s, line, col, true, true);
    char got[64];
    switch (f->type) {
    case CZ_CONF_OBJECT:
        if (v->type != YAML_MAPPING_NODE)
            break;
        return bind_map(c, f->sub, s->dst, v, line, col, true);
    case CZ_CONF_STRINGS:
        if (v->type == YAML_MAPPING_NODE)
            break;
        return bind_strings(c, (cz_conf_strings_t *)s->dst, v);
    case CZ_CONF_ARRAY:
        if (v->type != YAML_SEQUENCE_NODE)
            break;
        return bind_array(c, f, (cz_conf_array_t *)s->dst, v);
    default: {
        if (v->type != YAML_SCALAR_NODE)
            break;
        char *text;
        int rc = node_text(c, v, &text);
        if (rc)
            return rc;
        rc = conv_scalar(c, f, s->dst, &text, text, line, col, false);
        free(text);
        return rc;
    }
    }
    return err(c, line, col, "expected %s, got %s", type_word(f->type),
               cz__yaml_describe(v, got, sizeof got));
}

static int bind_map(ctx_t *c, const cz_conf_field_t *fields, char *base, const yaml_node_t *map,
                    int line, int col, bool required)
{
    if (!fields)
        return err(c, line, col, "field table bug: object without sub-table");
    if (++c->depth > MAX_DEPTH) {
        c->depth--;
        return err(c, line, col, "field tables nested too deeply");
    }
    slot_t slots[MAX_SLOTS];
    const yaml_node_t *seen[MAX_SLOTS] = {0};
    const yaml_node_t *vals[MAX_SLOTS] = {0}; /* value nodes of the seen keys */
    size_t n = 0;
    int rc = flatten(c, fields, base, slots, &n, 0);
    if (rc == 0 && map) {
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
             rc == 0 && p < map->data.mapping.pairs.top; p++) {
            const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
            int kl = cz__ymark_line(k->start_mark), kc = cz__ymark_col(k->start_mark);
            if (k->type != YAML_SCALAR_NODE) {
                rc = err(c, kl, kc, "keys must be plain names, got %s",
                         k->type == YAML_MAPPING_NODE ? "a mapping" : "a sequence");
                break;
            }
            const char *key = (const char *)k->data.scalar.value;
            size_t klen = k->data.scalar.length, i;
            for (i = 0; i < n; i++)
                if (strlen(slots[i].f->key) == klen && !memcmp(slots[i].f->key, key, klen))
                    break;
            if (i == n) {
                rc = unknown_key(c, k, slots, n);
                break;
            }
            size_t old = push_key(c, key, klen);
            if (seen[i]) {
                rc = err(c, kl, kc, "duplicate key (first at line %d, column %d)",
                         cz__ymark_line(seen[i]->start_mark), cz__ymark_col(seen[i]->start_mark));
            } else {
                seen[i] = k;
                vals[i] = v;
                rc = bind_value(c, &slots[i], v);
            }
            pop(c, old);
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (seen[i])
            continue;
        size_t old = push_key(c, slots[i].f->key, strlen(slots[i].f->key));
        rc = bind_absent(c, &slots[i], line, col, required, false);
        pop(c, old);
    }
    /* Checks run once every key of this mapping is bound, in table order, so a check may read
     * its siblings (a route naming an upstream) whatever order the document has them in. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!slots[i].f->check)
            continue;
        size_t old = push_key(c, slots[i].f->key, strlen(slots[i].f->key));
        rc = run_check(c, slots[i].f, slots[i].dst, vals[i], line, col);
        pop(c, old);
    }
    c->depth--;
    return rc;
}

/* ---- entry points ---- */

int cz_conf_load_string(const char *name, const char *yaml, size_t len,
                        const cz_conf_field_t *fields, void *out, cz_diag_t *d)
{
    if (!fields || !out || (!yaml && len))
        return d ? cz_diag_set(d, name, 0, 0, NULL, "invalid arguments") : CZ_EINVAL_CONF;
    if (d)
        memset(d, 0, sizeof *d);
    memset(out, 0, extent(fields, 0));
    yaml_document_t doc;
    int rc = cz__yaml_parse(name, yaml ? yaml : "", len, &doc, d);
    if (rc)
        return rc;
    ctx_t c = {.file = name, .d = d, .doc = &doc};
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    int line = 1, col = 1;
    if (root && !cz__yaml_is_null(root)) {
        line = cz__ymark_line(root->start_mark);
        col = cz__ymark_col(root->start_mark);
        if (root->type != YAML_MAPPING_NODE) {
            char got[64];
            rc = err(&c, line, col, "the document must be a mapping of keys, got %s",
                     cz__yaml_describe(root, got, sizeof got));
        }
    } else {
        root = NULL;
    }
    if (rc == 0)
        rc = bind_map(&c, fields, out, root, line, col, true);
    yaml_document_delete(&doc);
    if (rc)
        cz_conf_free(fields, out);
    return rc;
}

int cz_conf_load(const char *file, const cz_conf_field_t *fields, void *out, cz_diag_t *d)
{
    if (!file || !fields || !out)
        return cz_diag_set(d, file, 0, 0, NULL, "invalid arguments");
    if (d)
        memset(d, 0, sizeof *d);
    memset(out, 0, extent(fields, 0));
    FILE *fp = fopen(file, "rb");
    if (!fp)
        return cz_diag_set(d, file, 0, 0, NULL, "cannot open: %s", strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap)
            break;
        char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
        cap *= 2;
    }
    int rd_err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (!buf)
        return cz_diag_set(d, file, 0, 0, NULL, "out of memory reading the file");
    if (rd_err) {
        free(buf);
        return cz_diag_set(d, file, 0, 0, NULL, "cannot read: %s", strerror(rd_err));
    }
    int rc = cz_conf_load_string(file, buf, n, fields, out, d);
    free(buf);
    return rc;
}

int cz_conf_defaults(const cz_conf_field_t *fields, void *out, cz_diag_t *d)
{
    if (!fields || !out)
        return cz_diag_set(d, NULL, 0, 0, NULL, "invalid arguments");
    if (d)
        memset(d, 0, sizeof *d);
    memset(out, 0, extent(fields, 0));
    ctx_t c = {.file = "", .d = d};
    int rc = bind_map(&c, fields, out, NULL, 0, 0, false);
    if (rc)
        cz_conf_free(fields, out);
    return rc;
}

void cz_conf_must_load(const char *file, const cz_conf_field_t *fields, void *out)
{
    cz_diag_t d;
    if (cz_conf_load(file, fields, out, &d) == 0)
        return;
    char buf[700];
    fprintf(stderr, "config error: %s\n", cz_diag_format(&d, buf, sizeof buf));
    exit(1);
}
