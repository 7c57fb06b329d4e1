/* SPDX-License-Identifier: MIT
 *
 * api_format.c: `czctl api format`, the canonical layout of an .api file.
 *
 * The layout is goctl's (compare tools/goctl/pkg/parser/api/format/testdata/expected_*.api): tab
 * indentation, `info (` / `@server (` / `type (` with a space, key-values aligned after the
 * longest `key:`, struct fields aligned in name/type/tag columns gofmt-style (a run of one-line
 * fields, broken by an empty line or a nested struct), one empty line between top-level
 * statements, at most one kept inside blocks, `Foo struct {` written `Foo {`, `@doc("x")` written
 * `@doc "x"`, the `;` after a route dropped. Every comment is printed: before the node it was
 * attached to, or after it on the same line. The output parses to the same tree and formats to
 * itself, which the tests check on every file in tests/czctl/.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "api_int.h"

static void ind(FILE *o, int level)
{
    for (int i = 0; i < level; i++)
        fputc('\t', o);
}

static void quoted(FILE *o, const char *s)
{
    fputc('"', o);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', o);
        if (*s == '\n')
            fputs("\\n", o);
        else if (*s == '\t')
            fputs("\\t", o);
        else
            fputc(*s, o);
    }
    fputc('"', o);
}

static void tails(FILE *o, const cz_api_comment_t *c)
{
    for (; c; c = c->next)
        fprintf(o, " %s", c->text);
}

/* Head comments of a node at `level`; `first`: the node opens its block (no empty line). */
static void heads(FILE *o, const cz_api_notes_t *n, int level, int first)
{
    if (!first && n->blank_before)
        fputc('\n', o);
    for (const cz_api_comment_t *c = n->head; c; c = c->next) {
        if (c != n->head && c->blank_before)
            fputc('\n', o);
        ind(o, level);
        fprintf(o, "%s\n", c->text);
    }
    if (n->blank_after_head)
        fputc('\n', o);
}

/* Comments before a closing ) or }, which have nothing after them in the block. */
static void closing(FILE *o, const cz_api_notes_t *n, int level, int empty_block)
{
    cz_api_notes_t c = *n;
    c.blank_after_head = 0;
    heads(o, &c, level, empty_block);
}

/* An unquoted value the parser read whole (it starts a comment only after white space) may
 * hold "//" or "/" "*" that would start a comment once the formatter puts a space after the
 * colon: such a value is written quoted so the file reads back the same. */
static int needs_quotes(const char *raw)
{
    if (raw[0] == '"' || raw[0] == '`')
        return 0;
    for (const char *p = raw; *p; p++)
        if (*p == '/' && (p[1] == '/' || p[1] == '*') &&
            (p == raw || p[-1] == ' ' || p[-1] == '\t'))
            return 1;
    return 0;
}

static void kvs(FILE *o, const cz_api_kv_t *kv, int level)
{
    size_t w = 0;
    for (const cz_api_kv_t *k = kv; k; k = k->next)
        if (strlen(k->key) > w)
            w = strlen(k->key);
    for (const cz_api_kv_t *k = kv; k; k = k->next) {
        heads(o, &k->notes, level, k == kv);
        ind(o, level);
        fprintf(o, "%s:%*s ", k->key, (int)(w - strlen(k->key)), "");
        if (needs_quotes(k->raw))
            quoted(o, k->value);
        else
            fputs(k->raw, o);
        tails(o, k->notes.tail);
        fputc('\n', o);
    }
}

static void paren_kvs(FILE *o, const char *word, const cz_api_kv_t *kv,
                      const cz_api_comment_t *open_tail, const cz_api_notes_t *close, int level)
{
    fprintf(o, "%s (", word);
    tails(o, open_tail);
    fputc('\n', o);
    kvs(o, kv, level + 1);
    closing(o, close, level + 1, !kv);
    ind(o, level);
    fputc(')', o);
}

static void type_out(FILE *o, const cz_api_type_t *t, int level);

static int simple(const cz_api_type_t *t)
{
    for (; t; t = t->elem) {
        if (t->kind == CZ_API_T_STRUCT)
            return 0;
        if (t->kind == CZ_API_T_MAP && !simple(t->key))
            return 0;
    }
    return 1;
}

static size_t names_len(const cz_api_field_t *f)
{
    size_t n = 0;
    for (int i = 0; i < f->nnames; i++)
        n += strlen(f->names[i]) + (i ? 2 : 0);
    return n;
}

static size_t type_len(const cz_api_type_t *t)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m)
        return 0;
    type_out(m, t, 0);
    fclose(m);
    free(buf);
    return n;
}

/* One-line named fields line up in columns (gofmt's tabwriter cells). */
static int aligned(const cz_api_field_t *f) { return f->names && simple(f->type); }

static void field(FILE *o, const cz_api_field_t *x, int level, int first, size_t wn, size_t wt)
{
    heads(o, &x->notes, level, first);
    ind(o, level);
    if (x->names) {
        for (int i = 0; i < x->nnames; i++)
            fprintf(o, "%s%s", i ? ", " : "", x->names[i]);
        if (aligned(x))
            fprintf(o, "%*s", (int)(wn - names_len(x)), "");
        fputc(' ', o);
    }
    type_out(o, x->type, level);
    if (x->tag_raw) {
        if (aligned(x))
            fprintf(o, "%*s", (int)(wt - type_len(x->type)), "");
        fprintf(o, " %s", x->tag_raw);
    }
    tails(o, x->notes.tail);
    fputc('\n', o);
}

static void fields(FILE *o, const cz_api_field_t *f, int level)
{
    for (const cz_api_field_t *x = f; x;) {
        const cz_api_field_t *y = x->next; /* the run is [x, y) */
        size_t wn = 0, wt = 0;
        if (aligned(x))
            while (y && aligned(y) && !y->notes.blank_before)
                y = y->next;
        for (const cz_api_field_t *z = x; z != y; z = z->next) {
            if (names_len(z) > wn)
                wn = names_len(z);
            if (z->tag_raw && type_len(z->type) > wt)
                wt = type_len(z->type);
        }
        for (; x != y; x = x->next)
            field(o, x, level, x == f, wn, wt);
    }
}

static void type_out(FILE *o, const cz_api_type_t *t, int level)
{
    switch (t->kind) {
    case CZ_API_T_IDENT: fputs(t->name, o); return;
    case CZ_API_T_POINTER: fputc('*', o); break;
    case CZ_API_T_SLICE: fputs("[]", o); break;
    case CZ_API_T_ARRAY:
        if (t->len < 0)
            fputs("[...]", o);
        else
            fprintf(o, "[%ld]", t->len);
        break;
    case CZ_API_T_INTERFACE: fputs("interface{}", o); return;
    case CZ_API_T_MAP:
        fputs("map[", o);
        type_out(o, t->key, level);
        fputc(']', o);
        break;
    case CZ_API_T_STRUCT:
        if (!t->fields && !t->open_tail && !t->close.head) {
            fputs("{}", o);
            return;
        }
        fputc('{', o);
        tails(o, t->open_tail);
        fputc('\n', o);
        fields(o, t->fields, level + 1);
        closing(o, &t->close, level + 1, !t->fields);
        ind(o, level);
        fputc('}', o);
        return;
    }
    type_out(o, t->elem, level);
}

static void typedecl(FILE *o, const cz_api_typedecl_t *td, int level)
{
    fprintf(o, "%s %s", td->name, td->assign ? "= " : "");
    type_out(o, td->type, level);
    tails(o, td->notes.tail);
}

static void route(FILE *o, const cz_api_route_t *r, int first)
{
    if (!first) /* goctl separates routes with an empty line */
        fputc('\n', o);
    cz_api_notes_t n;
    if (r->doc || r->doc_parens) {
        n = r->doc_notes;
        n.blank_before = 0;
        heads(o, &n, 1, 1);
        ind(o, 1);
        if (r->doc_parens) {
            paren_kvs(o, "@doc", r->doc_kv, r->doc_open_tail, &r->doc_close, 1);
        } else {
            fputs("@doc ", o);
            quoted(o, r->doc);
        }
        tails(o, r->doc_notes.tail);
        fputc('\n', o);
    }
    if (r->server) {
        n = r->server_notes;
        n.blank_before = 0;
        heads(o, &n, 1, 1);
        ind(o, 1);
        paren_kvs(o, "@server", r->server, r->server_open_tail, &r->server_close, 1);
        tails(o, r->server_notes.tail);
        fputc('\n', o);
    } else {
        n = r->handler_notes;
        n.blank_before = 0;
        heads(o, &n, 1, 1);
        ind(o, 1);
        fprintf(o, "@handler %s", r->handler);
        tails(o, r->handler_notes.tail);
        fputc('\n', o);
    }
    n = r->notes;
    n.blank_before = 0;
    heads(o, &n, 1, 1);
    ind(o, 1);
    fprintf(o, "%s %s", r->method, r->path);
    if (r->request) {
        fputs(" (", o);
        type_out(o, r->request, 1);
        fputc(')', o);
    }
    if (r->response) {
        fputs(" returns (", o);
        type_out(o, r->response, 1);
        fputc(')', o);
    }
    tails(o, r->notes.tail);
    fputc('\n', o);
}

static void service(FILE *o, const cz_api_stmt_t *st)
{
    const cz_api_service_t *sv = st->service;
    if (sv->server) {
        paren_kvs(o, "@server", sv->server, st->open_tail, &sv->server_close, 0);
        tails(o, sv->server_close.tail);
        fputc('\n', o);
        heads(o, &sv->service_notes, 0, 1);
    }
    fprintf(o, "service %s {", sv->name);
    tails(o, sv->service_notes.tail);
    fputc('\n', o);
    for (const cz_api_route_t *r = sv->routes; r; r = r->next)
        route(o, r, r == sv->routes);
    closing(o, &sv->close, 1, !sv->routes);
    fputc('}', o);
    tails(o, sv->close.tail);
}

static void stmt(FILE *o, const cz_api_stmt_t *st)
{
    switch (st->kind) {
    case CZ_API_S_SYNTAX:
        fputs("syntax = ", o);
        quoted(o, "v1");
        break;
    case CZ_API_S_IMPORT:
        if (!st->group) {
            fputs("import ", o);
            quoted(o, st->imports->path);
            tails(o, st->imports->notes.tail);
            break;
        }
        fputs("import (", o);
        tails(o, st->open_tail);
        fputc('\n', o);
        for (const cz_api_import_t *im = st->imports; im; im = im->next) {
            heads(o, &im->notes, 1, im == st->imports);
            ind(o, 1);
            quoted(o, im->path);
            tails(o, im->notes.tail);
            fputc('\n', o);
        }
        closing(o, &st->close, 1, !st->imports);
        fputc(')', o);
        break;
    case CZ_API_S_INFO:
        paren_kvs(o, "info", st->info, st->open_tail, &st->close, 0);
        break;
    case CZ_API_S_TYPE:
        if (!st->group) {
            fputs("type ", o);
            typedecl(o, st->types, 0);
            return; /* typedecl printed the tail */
        }
        fputs("type (", o);
        tails(o, st->open_tail);
        fputc('\n', o);
        for (const cz_api_typedecl_t *td = st->types; td; td = td->next) {
            heads(o, &td->notes, 1, td == st->types);
            ind(o, 1);
            typedecl(o, td, 1);
            fputc('\n', o);
        }
        closing(o, &st->close, 1, !st->types);
        fputc(')', o);
        break;
    case CZ_API_S_SERVICE:
        service(o, st);
        return;
    }
    tails(o, st->notes.tail);
}

int cz_api_format(const cz_api_file_t *file, FILE *o)
{
    for (const cz_api_stmt_t *st = file->stmts; st; st = st->next) {
        if (st != file->stmts)
            fputc('\n', o);
        cz_api_notes_t n = st->notes;
        heads(o, &n, 0, 1);
        stmt(o, st);
        fputc('\n', o);
    }
    for (const cz_api_comment_t *c = file->trailing; c; c = c->next) {
        if (c->blank_before && (c != file->trailing || file->stmts))
            fputc('\n', o);
        fprintf(o, "%s\n", c->text);
    }
    if (fflush(o) != 0 || ferror(o))
        return errno ? -errno : -EIO;
    return 0;
}

int cz_api_format_string(const cz_api_file_t *file, char **text, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m)
        return -errno;
    int rc = cz_api_format(file, m);
    if (fclose(m) != 0 && !rc)
        rc = -errno;
    if (rc) {
        free(buf);
        return rc;
    }
    *text = buf;
    if (len)
        *len = n;
    return 0;
}
