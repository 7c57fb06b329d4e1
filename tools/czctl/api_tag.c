/* SPDX-License-Identifier: MIT
 *
 * api_tag.c: struct field tags and small lookups over the .api tree.
 *
 * A tag is Go's `key:"value" key2:"value2"` (reflect.StructTag syntax). For go-zero's request
 * keys (json, form, path, header) the value is split as go-zero's core/mapping/utils.go does
 * (parseSegments: commas outside brackets separate, the first segment is the name) and the
 * options it knows are checked here, at generation time, instead of at the first request:
 * `optional[=dep]`, `default=`, `options=a|b` or `options=[a,b]`, `range=[1:10]` (any of [ ( ] )
 * brackets, either bound may be empty, as parseNumberRange accepts), `example=`, `env=`, `string`,
 * `inherit`, `omitempty`. Unknown options and other tag keys are kept as written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api_int.h"

static int tag_err(cz_diag_t *d, const char *file, const cz__api_tok_t *t, size_t off,
                   const char *fmt, const char *arg)
{
    int line;
    int col = cz__api_col_at(t, off, &line);
    char msg[200];
    snprintf(msg, sizeof msg, fmt, arg);
    return cz__api_err(d, file, line, col, "%s", msg);
}

static char *trim(cz_arena_t *a, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return (char *)cz_arena_strdup(a, (cz_str_t){s, n}).p;
}

/* parseNumberRange's notation: [a:b] (a:b] [a:b) (a:b), either bound optional. */
static int valid_range(const char *v)
{
    size_t n = strlen(v);
    if (n < 3 || (v[0] != '[' && v[0] != '(') || (v[n - 1] != ']' && v[n - 1] != ')'))
        return 0;
    const char *colon = memchr(v, ':', n);
    if (!colon || memchr(colon + 1, ':', (size_t)(v + n - colon - 1)))
        return 0;
    double lo = 0, hi = 0;
    int has_lo = colon > v + 1, has_hi = colon < v + n - 2;
    char buf[64];
    if (has_lo) {
        size_t l = (size_t)(colon - v - 1);
        if (l >= sizeof buf)
            return 0;
        memcpy(buf, v + 1, l);
        buf[l] = 0;
        char *e;
        lo = strtod(buf, &e);
        if (e == buf || *e)
            return 0;
    }
    if (has_hi) {
        size_t l = (size_t)(v + n - 1 - colon - 1);
        if (l >= sizeof buf)
            return 0;
        memcpy(buf, colon + 1, l);
        buf[l] = 0;
        char *e;
        hi = strtod(buf, &e);
        if (e == buf || *e)
            return 0;
    }
    return !(has_lo && has_hi && lo > hi);
}

static int known_key(const char *k)
{
    return !strcmp(k, "json") || !strcmp(k, "form") || !strcmp(k, "path") || !strcmp(k, "header");
}

/* Split value (unquoted, at raw offset voff in t) into name and options. */
static int split_value(cz_arena_t *a, const char *file, const cz__api_tok_t *t, size_t voff,
                       const char *v, cz_api_tag_t *tag, cz_diag_t *d)
{
    cz_api_tag_opt_t **link = &tag->opts;
    size_t n = strlen(v), segstart = 0;
    int group = 0, first = 1;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? v[i] : ',';
        if (c == '[' || c == '(')
            group = 1;
        else if (c == ']' || c == ')')
            group = 0;
        else if (c == '\\' && !group && i + 1 < n)
            i++;
        if (c != ',' || (group && i < n))
            continue;
        char *seg = trim(a, v + segstart, i - segstart);
        if (!seg)
            return CZ_ENOMEM;
        size_t at = segstart;
        segstart = i + 1;
        if (first) {
            tag->name = seg;
            first = 0;
            continue;
        }
        if (!seg[0])
            continue; /* `json:"a,"`: go-zero ignores an empty last segment */
        cz_api_tag_opt_t *o = cz_arena_calloc(a, sizeof *o);
        if (!o)
            return CZ_ENOMEM;
        char *eq = strchr(seg, '=');
        if (eq) {
            *eq = '\0';
            o->value = trim(a, eq + 1, strlen(eq + 1));
            o->key = trim(a, seg, strlen(seg));
            if (!o->key || !o->value)
                return CZ_ENOMEM;
        } else {
            o->key = seg;
        }
        *link = o;
        link = &o->next;
        if (!known_key(tag->key))
            continue;
        while (at < n && (v[at] == ' ' || v[at] == '\t'))
            at++;
        size_t off = voff + at;
        if (!strcmp(o->key, "range") && (!o->value || !valid_range(o->value)))
            return tag_err(d, file, t, off,
                           "invalid range '%s': expected [min:max], bounds optional, brackets "
                           "[ ( ] )", o->value ? o->value : "");
        if (!strcmp(o->key, "options") && (!o->value || !o->value[0]))
            return tag_err(d, file, t, off, "empty %s: expected options=a|b", "options");
        if ((!strcmp(o->key, "default") || !strcmp(o->key, "env") ||
             !strcmp(o->key, "example")) && !o->value)
            return tag_err(d, file, t, off, "expected '=' after '%s'", o->key);
        if (eq && strchr(o->value, '=') && strcmp(o->key, "example") && strcmp(o->key, "default"))
            return tag_err(d, file, t, off, "option '%s' has more than one '='", o->key);
    }
    return 0;
}

int cz__api_parse_tag(cz_arena_t *a, const char *file, const cz__api_tok_t *t, cz_api_field_t *f,
                      cz_diag_t *d)
{
    cz_api_tag_t **link = &f->tags;
    size_t i = 1, end = t->n - 1; /* inside the backquotes */
    for (;;) {
        while (i < end && t->p[i] == ' ')
            i++;
        if (i >= end)
            return 0;
        size_t k = i;
        while (i < end && (unsigned char)t->p[i] > ' ' && t->p[i] != ':' && t->p[i] != '"' &&
               t->p[i] != 0x7f)
            i++;
        if (i == k || i + 1 >= end || t->p[i] != ':' || t->p[i + 1] != '"')
            return tag_err(d, file, t, k, "malformed tag: expected key:\"value\"%s", "");
        size_t q = i + 1, j = q + 1;
        while (j < end && t->p[j] != '"') {
            if (t->p[j] == '\\')
                j++;
            j++;
        }
        if (j >= end)
            return tag_err(d, file, t, q, "malformed tag: unterminated \"value\"%s", "");
        cz_api_tag_t *tag = cz_arena_calloc(a, sizeof *tag);
        if (!tag)
            return CZ_ENOMEM;
        tag->key = cz_arena_strdup(a, (cz_str_t){t->p + k, i - k}).p;
        char *v = cz__api_unquote(a, t->p + q, j + 1 - q);
        if (!tag->key || !v)
            return CZ_ENOMEM;
        int line;
        int col = cz__api_col_at(t, k, &line);
        tag->pos = (cz_api_pos_t){file, line, col};
        for (cz_api_tag_t *o = f->tags; o; o = o->next)
            if (!strcmp(o->key, tag->key))
                return tag_err(d, file, t, k, "duplicate tag key '%s'", tag->key);
        int rc = split_value(a, file, t, q + 1, v, tag, d);
        if (rc)
            return rc;
        *link = tag;
        link = &tag->next;
        i = j + 1;
        if (i < end && t->p[i] != ' ')
            return tag_err(d, file, t, i, "malformed tag: expected space between key:\"value\" "
                                    "pairs%s", "");
    }
}

const cz_api_tag_t *cz_api_tag_find(const cz_api_field_t *f, const char *key)
{
    for (const cz_api_tag_t *t = f ? f->tags : NULL; t; t = t->next)
        if (!strcmp(t->key, key))
            return t;
    return NULL;
}

const cz_api_tag_opt_t *cz_api_tag_opt(const cz_api_tag_t *t, const char *key)
{
    for (const cz_api_tag_opt_t *o = t ? t->opts : NULL; o; o = o->next)
        if (!strcmp(o->key, key))
            return o;
    return NULL;
}

const char *cz_api_kv_get(const cz_api_kv_t *kv, const char *key)
{
    for (; kv; kv = kv->next)
        if (!strcmp(kv->key, key))
            return kv->value;
    return NULL;
}

int cz_api_is_builtin(const char *name)
{
    /* goctl's list: tools/goctl/pkg/parser/api/parser/analyzer.go `kind` */
    static const char *const base[] = {"bool",    "int",     "int8",      "int16",      "int32",
                                       "int64",   "uint",    "uint8",     "uint16",     "uint32",
                                       "uint64",  "uintptr", "float32",   "float64",    "complex64",
                                       "complex128", "string", "byte",    "rune",       "any"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (!strcmp(base[i], name))
            return 1;
    return 0;
}

static void type_str(FILE *f, const cz_api_type_t *t)
{
    switch (t->kind) {
    case CZ_API_T_IDENT: fputs(t->name, f); break;
    case CZ_API_T_POINTER: fputc('*', f); type_str(f, t->elem); break;
    case CZ_API_T_SLICE: fputs("[]", f); type_str(f, t->elem); break;
    case CZ_API_T_ARRAY:
        if (t->len < 0)
            fputs("[...]", f);
        else
            fprintf(f, "[%ld]", t->len);
        type_str(f, t->elem);
        break;
    case CZ_API_T_MAP:
        fputs("map[", f);
        type_str(f, t->key);
        fputc(']', f);
        type_str(f, t->elem);
        break;
    case CZ_API_T_STRUCT: fputs("{...}", f); break;
    case CZ_API_T_INTERFACE: fputs("interface{}", f); break;
    }
}

const char *cz_api_type_str(cz_arena_t *a, const cz_api_type_t *t)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    type_str(f, t);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    const char *s = cz_arena_strdup(a, (cz_str_t){buf, n}).p;
    free(buf);
    return s;
}
