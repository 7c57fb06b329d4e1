/* SPDX-License-Identifier: MIT
 *
 * api_parse.c: recursive-descent parser for go-zero `.api` files.
 *
 * It accepts what goctl accepts today: the newer grammar (tools/goctl/pkg/parser/api/parser/
 * parser.go: `@doc "x"`, multi-name fields, `[N]T` arrays, `returns ([]*T)`) and the older one
 * goctl still has behind GOCTL_EXPERIMENTAL=off (api/parser/g4/ApiParser.g4: `Foo struct {}`, line
 * values such as `title: my api`, `@doc("x")`, a per-route `@server(handler: x)`, `time.Time`).
 * It stops at the first error and reports it as "file:line:col: expected X, got Y"; it does not
 * look at other files or at names across statements (api_check.c does). Hand written rather than
 * generated: the grammar is small, context-sensitive in places (line values, embedded fields end
 * at a line break), and a hand-written parser names exactly what it expected at each point.
 */
#include <stdlib.h>
#include <string.h>
#include "api_int.h"

typedef struct {
    cz__api_lex_t lx;
    cz__api_tok_t tok; /* lookahead, valid when have */
    int have;
    int last_end; /* line where the last consumed token ended */
    cz_arena_t *a;
    cz_api_file_t *file;
    cz_diag_t *d;
} parser_t;

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

static int peek(parser_t *p, cz__api_tok_t **t)
{
    if (!p->have) {
        TRY(cz__api_lex_next(&p->lx, &p->tok));
        p->have = 1;
    }
    *t = &p->tok;
    return 0;
}

static void take(parser_t *p)
{
    p->have = 0;
    p->last_end = p->tok.end_line;
}

static int is(const cz__api_tok_t *t, cz__api_tok_kind_t k, const char *text)
{
    return t->k == k && (!text || (strlen(text) == t->n && !memcmp(t->p, text, t->n)));
}

/* How a token reads in "got X". */
static const char *describe(parser_t *p, const cz__api_tok_t *t)
{
    switch (t->k) {
    case T_EOF: return "end of file";
    case T_STRING: return "string";
    case T_RAW: return "raw string";
    default: break;
    }
    size_t n = t->n;
    const char *nl = memchr(t->p, '\n', n);
    if (nl)
        n = (size_t)(nl - t->p);
    if (n > 40)
        n = 40;
    char *s = cz_arena_sprintf(p->a, "'%.*s'", (int)n, t->p);
    return s ? s : "token";
}

static int expected(parser_t *p, const cz__api_tok_t *t, const char *what)
{
    return cz__api_err(p->d, p->lx.file, t->line, t->col, "expected %s, got %s", what,
                       describe(p, t));
}

static int expect(parser_t *p, cz__api_tok_kind_t k, const char *what, cz__api_tok_t *out)
{
    /* *out is set on every path: an optimised build cannot see through TRY that callers only
     * read it after a 0 and would refuse the build (-Wmaybe-uninitialized with -Werror) */
    if (out)
        *out = (cz__api_tok_t){0};
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    if (t->k != k)
        return expected(p, t, what);
    if (out)
        *out = *t;
    take(p);
    return 0;
}

static const char *dup(parser_t *p, const char *s, size_t n)
{
    return cz_arena_strdup(p->a, (cz_str_t){s, n}).p;
}

#define NEW(p, ptr)                                                                                \
    do {                                                                                           \
        if (!((ptr) = cz_arena_calloc((p)->a, sizeof *(ptr))))                                     \
            return CZ_ENOMEM;                                                                      \
    } while (0)

static cz_api_pos_t pos_of(parser_t *p, const cz__api_tok_t *t)
{
    return (cz_api_pos_t){p->lx.file, t->line, t->col};
}

/* Comments before the next token become the head of the node that starts with it. */
static int head(parser_t *p, cz_api_notes_t *n)
{
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    n->head = p->lx.pending;
    n->blank_before = n->head ? n->head->blank_before : t->blank;
    n->blank_after_head = n->head && t->blank;
    p->lx.pending = NULL;
    p->lx.pending_tail = &p->lx.pending;
    return 0;
}

/* Comments that start on `line` (where the node ended) are its tail. */
static int tail(parser_t *p, cz_api_comment_t **out, int line)
{
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    cz_api_comment_t **link = out;
    while (*link)
        link = &(*link)->next;
    while (p->lx.pending && p->lx.pending->pos.line == line) {
        cz_api_comment_t *c = p->lx.pending;
        p->lx.pending = c->next;
        c->next = NULL;
        *link = c;
        link = &c->next;
    }
    if (!p->lx.pending)
        p->lx.pending_tail = &p->lx.pending;
    return 0;
}

/* ---- key: value lists (info, @server, @doc) ---------------------------------------------- */

static int kv_list(parser_t *p, cz_api_kv_t **out, cz_api_notes_t *close, int *end_line)
{
    cz_api_kv_t **link = out;
    for (;;) {
        cz__api_tok_t *t;
        TRY(peek(p, &t));
        if (t->k == T_RPAREN) {
            TRY(head(p, close));
            *end_line = t->line;
            take(p);
            return 0;
        }
        if (t->k != T_IDENT)
            return expected(p, t, "key or ')'");
        cz_api_kv_t *kv;
        NEW(p, kv);
        TRY(head(p, &kv->notes));
        kv->key = dup(p, t->p, t->n);
        kv->pos = pos_of(p, t);
        take(p);
        for (cz_api_kv_t *o = *out; o; o = o->next)
            if (!strcmp(o->key, kv->key))
                return cz__api_err(p->d, p->lx.file, kv->pos.line, kv->pos.col,
                                   "duplicate key '%s'", kv->key);
        TRY(expect(p, T_COLON, "':'", NULL));
        cz__api_tok_t v;
        TRY(cz__api_lex_value(&p->lx, &v));
        if (v.n == 0) {
            cz__api_tok_t *nt;
            TRY(peek(p, &nt));
            return cz__api_err(p->d, p->lx.file, v.line, v.col,
                               "expected value for '%s', got %s", kv->key,
                               nt->line > v.line ? "end of line" : describe(p, nt));
        }
        p->last_end = v.end_line;
        kv->value_pos = pos_of(p, &v);
        kv->raw = dup(p, v.p, v.n);
        kv->value = cz__api_unquote(p->a, v.p, v.n);
        if (!kv->raw || !kv->value)
            return CZ_ENOMEM;
        TRY(tail(p, &kv->notes.tail, v.end_line));
        *link = kv;
        link = &kv->next;
    }
}

/* ---- types -------------------------------------------------------------------------------- */

static int parse_type(parser_t *p, cz_api_type_t **out);

static int check_name(parser_t *p, const cz__api_tok_t *t, const char *what)
{
    if (t->k != T_IDENT)
        return expected(p, t, what);
    if (cz__api_is_keyword(t->p, t->n))
        return cz__api_err(p->d, p->lx.file, t->line, t->col, "expected %s, got keyword %s",
                           what, describe(p, t));
    return 0;
}

/* IDENT or IDENT.IDENT (time.Time): the type name's text. */
static int type_name(parser_t *p, cz_api_type_t *ty, const cz__api_tok_t *first, int *end_line)
{
    const char *s = first->p;
    size_t n = first->n;
    *end_line = first->line;
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    if (t->k == T_DOT && t->line == first->line) {
        take(p);
        cz__api_tok_t id;
        TRY(expect(p, T_IDENT, "type name after '.'", &id));
        n = (size_t)(id.p + id.n - s);
        *end_line = id.line;
        if (memchr(s, '\n', n) || n > first->n + 1 + id.n) /* only `pkg.Name`, nothing between */
            return cz__api_err(p->d, p->lx.file, id.line, id.col, "expected '.' directly "
                               "between package and type name");
    }
    ty->kind = CZ_API_T_IDENT;
    ty->name = dup(p, s, n);
    return ty->name ? 0 : CZ_ENOMEM;
}

static int parse_field(parser_t *p, cz_api_field_t *f, int *end_line)
{
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    cz__api_tok_t first = *t;
    f->pos = pos_of(p, t);
    take(p);
    if (first.k == T_STAR) { /* embedded *Foo */
        cz__api_tok_t id;
        TRY(peek(p, &t));
        TRY(check_name(p, t, "type name after '*'"));
        id = *t;
        take(p);
        NEW(p, f->type);
        f->type->kind = CZ_API_T_POINTER;
        f->type->pos = f->pos;
        NEW(p, f->type->elem);
        f->type->elem->pos = pos_of(p, &id);
        TRY(type_name(p, f->type->elem, &id, end_line));
    } else {
        TRY(check_name(p, &first, "field name"));
        TRY(peek(p, &t));
        if (t->k == T_RAW || t->k == T_RBRACE || t->k == T_DOT || t->line > first.line) {
            NEW(p, f->type); /* embedded Foo or pkg.Foo */
            f->type->pos = f->pos;
            TRY(type_name(p, f->type, &first, end_line));
        } else {
            int cap = 1;
            while (1) {
                TRY(peek(p, &t));
                if (t->k != T_COMMA)
                    break;
                take(p);
                TRY(peek(p, &t));
                TRY(check_name(p, t, "field name after ','"));
                take(p);
                cap++;
            }
            f->names = cz_arena_calloc(p->a, sizeof(char *) * (size_t)(cap + 1));
            if (!f->names)
                return CZ_ENOMEM;
            /* re-read the names from the source: `A, B` lies between first and here */
            const char *s = first.p, *e = p->lx.src + p->lx.i;
            for (int i = 0; i < cap; i++) {
                while (s < e && !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                                  *s == '_'))
                    s++;
                const char *b = s;
                while (s < e && ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                                 (*s >= '0' && *s <= '9') || *s == '_'))
                    s++;
                if (!(f->names[i] = dup(p, b, (size_t)(s - b))))
                    return CZ_ENOMEM;
            }
            f->nnames = cap;
            TRY(parse_type(p, &f->type));
            *end_line = p->last_end;
        }
    }
    TRY(peek(p, &t));
    if (t->k == T_RAW) {
        cz__api_tok_t tag = *t;
        take(p);
        if (!(f->tag_raw = dup(p, tag.p, tag.n)))
            return CZ_ENOMEM;
        TRY(cz__api_parse_tag(p->a, p->lx.file, &tag, f, p->d));
        *end_line = tag.end_line;
    }
    return 0;
}

/* After '{': fields up to '}'. */
static int struct_body(parser_t *p, cz_api_type_t *ty, int open_line)
{
    ty->kind = CZ_API_T_STRUCT;
    TRY(tail(p, &ty->open_tail, open_line));
    cz_api_field_t **link = &ty->fields;
    for (;;) {
        cz__api_tok_t *t;
        TRY(peek(p, &t));
        if (t->k == T_RBRACE) {
            TRY(head(p, &ty->close));
            take(p);
            return 0;
        }
        if (t->k != T_IDENT && t->k != T_STAR)
            return expected(p, t, "field name, embedded type or '}'");
        cz_api_field_t *f;
        NEW(p, f);
        TRY(head(p, &f->notes));
        int end_line = t->line;
        TRY(parse_field(p, f, &end_line));
        TRY(tail(p, &f->notes.tail, end_line));
        *link = f;
        link = &f->next;
    }
}

static int parse_type(parser_t *p, cz_api_type_t **out)
{
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    cz__api_tok_t first = *t;
    cz_api_type_t *ty;
    NEW(p, ty);
    ty->pos = pos_of(p, t);
    *out = ty;
    switch (first.k) {
    case T_STAR:
        take(p);
        ty->kind = CZ_API_T_POINTER;
        return parse_type(p, &ty->elem);
    case T_LBRACK:
        take(p);
        TRY(peek(p, &t));
        if (t->k == T_INT) {
            ty->kind = CZ_API_T_ARRAY;
            ty->len = strtol(t->p, NULL, 10);
            if (t->n > 9 || ty->len <= 0)
                return cz__api_err(p->d, p->lx.file, t->line, t->col,
                                   "array length must be 1..999999999");
            take(p);
        } else if (t->k == T_DOT) { /* [...]T, as goctl's parseArrayDataType accepts */
            ty->kind = CZ_API_T_ARRAY;
            ty->len = -1;
            for (int i = 0; i < 3; i++)
                TRY(expect(p, T_DOT, "'...' or array length", NULL));
        } else {
            ty->kind = CZ_API_T_SLICE;
        }
        TRY(expect(p, T_RBRACK, ty->kind == CZ_API_T_ARRAY ? "']'" : "']' or array length",
                   NULL));
        return parse_type(p, &ty->elem);
    case T_LBRACE:
        take(p);
        return struct_body(p, ty, first.line);
    case T_IDENT:
        take(p);
        if (is(&first, T_IDENT, "map")) {
            ty->kind = CZ_API_T_MAP;
            TRY(expect(p, T_LBRACK, "'[' after map", NULL));
            TRY(parse_type(p, &ty->key));
            TRY(expect(p, T_RBRACK, "']'", NULL));
            return parse_type(p, &ty->elem);
        }
        if (is(&first, T_IDENT, "interface")) {
            ty->kind = CZ_API_T_INTERFACE;
            TRY(expect(p, T_LBRACE, "'{' after interface", NULL));
            return expect(p, T_RBRACE, "'}' (only interface{} is supported)", NULL);
        }
        if (is(&first, T_IDENT, "struct")) {
            cz__api_tok_t lb;
            TRY(expect(p, T_LBRACE, "'{' after struct", &lb));
            return struct_body(p, ty, lb.line);
        }
        TRY(check_name(p, &first, "type"));
        int end_line;
        return type_name(p, ty, &first, &end_line);
    default:
        return expected(p, t, "type");
    }
}

static int typedecl(parser_t *p, cz_api_typedecl_t *td)
{
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    TRY(check_name(p, t, "type name"));
    td->name = dup(p, t->p, t->n);
    td->pos = pos_of(p, t);
    if (!td->name)
        return CZ_ENOMEM;
    take(p);
    TRY(peek(p, &t));
    if (t->k == T_ASSIGN) {
        td->assign = 1;
        take(p);
    }
    TRY(parse_type(p, &td->type));
    return tail(p, &td->notes.tail, p->last_end);
}

static int stmt_type(parser_t *p, cz_api_stmt_t *st)
{
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    if (t->k == T_IDENT) {
        NEW(p, st->types);
        return typedecl(p, st->types);
    }
    if (t->k != T_LPAREN)
        return expected(p, t, "type name or '('");
    int line = t->line;
    take(p);
    st->group = 1;
    TRY(tail(p, &st->open_tail, line));
    cz_api_typedecl_t **link = &st->types;
    for (;;) {
        TRY(peek(p, &t));
        if (t->k == T_RPAREN) {
            TRY(head(p, &st->close));
            take(p);
            return tail(p, &st->notes.tail, t->line);
        }
        if (t->k != T_IDENT)
            return expected(p, t, "type name or ')'");
        cz_api_typedecl_t *td;
        NEW(p, td);
        TRY(head(p, &td->notes));
        TRY(typedecl(p, td));
        *link = td;
        link = &td->next;
    }
}

/* ---- imports, info, syntax ------------------------------------------------------------------ */

static int import_value(parser_t *p, cz_api_import_t *im)
{
    cz__api_tok_t t;
    TRY(expect(p, T_STRING, "import path string", &t));
    im->pos = pos_of(p, &t);
    if (!(im->path = cz__api_unquote(p->a, t.p, t.n)))
        return CZ_ENOMEM;
    if (!im->path[0])
        return cz__api_err(p->d, p->lx.file, t.line, t.col, "empty import path");
    return tail(p, &im->notes.tail, t.end_line);
}

static int stmt_import(parser_t *p, cz_api_stmt_t *st)
{
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    if (t->k == T_STRING) {
        NEW(p, st->imports);
        return import_value(p, st->imports);
    }
    if (t->k != T_LPAREN)
        return expected(p, t, "import path string or '('");
    int line = t->line;
    take(p);
    st->group = 1;
    TRY(tail(p, &st->open_tail, line));
    cz_api_import_t **link = &st->imports;
    for (;;) {
        TRY(peek(p, &t));
        if (t->k == T_RPAREN) {
            TRY(head(p, &st->close));
            take(p);
            return tail(p, &st->notes.tail, t->line);
        }
        cz_api_import_t *im;
        NEW(p, im);
        TRY(head(p, &im->notes));
        TRY(import_value(p, im));
        *link = im;
        link = &im->next;
    }
}

/* '(' kv... ')' for info and @server; st gets the open-line tail and the close notes. */
static int paren_kvs(parser_t *p, cz_api_kv_t **kvs, cz_api_comment_t **open_tail,
                     cz_api_notes_t *close, int *end_line)
{
    cz__api_tok_t lp;
    TRY(expect(p, T_LPAREN, "'('", &lp));
    TRY(tail(p, open_tail, lp.line));
    return kv_list(p, kvs, close, end_line);
}

static int stmt_info(parser_t *p, cz_api_stmt_t *st)
{
    if (p->file->info)
        return cz__api_err(p->d, p->lx.file, st->pos.line, st->pos.col, "duplicate info block");
    int end;
    TRY(paren_kvs(p, &st->info, &st->open_tail, &st->close, &end));
    p->file->info = st->info;
    return tail(p, &st->notes.tail, end);
}

static int stmt_syntax(parser_t *p, cz_api_stmt_t *st)
{
    if (p->file->syntax)
        return cz__api_err(p->d, p->lx.file, st->pos.line, st->pos.col,
                           "duplicate syntax statement");
    TRY(expect(p, T_ASSIGN, "'=' after syntax", NULL));
    cz__api_tok_t t;
    TRY(expect(p, T_STRING, "syntax version string", &t));
    const char *v = cz__api_unquote(p->a, t.p, t.n);
    if (!v)
        return CZ_ENOMEM;
    if (strcmp(v, "v1"))
        return cz__api_err(p->d, p->lx.file, t.line, t.col,
                           "unsupported syntax version \"%s\", expected \"v1\"", v);
    p->file->syntax = v;
    p->file->syntax_pos = pos_of(p, &t);
    return tail(p, &st->notes.tail, t.end_line);
}

/* ---- services ------------------------------------------------------------------------------- */

static const char *const methods[] = {"get",     "head",    "post",  "put", "patch",
                                      "delete",  "connect", "options", "trace"};

static int route_path(parser_t *p, cz_api_route_t *r)
{
    cz__api_tok_t t;
    cz__api_lex_path(&p->lx, &t);
    if (t.n == 0) {
        cz__api_tok_t *nt;
        TRY(peek(p, &nt));
        return expected(p, nt, "path starting with '/'");
    }
    /* segments: [:]name, name = [A-Za-z0-9_.~+%-]+; only the root path may end in '/' */
    for (size_t i = 0; i < t.n;) {
        size_t seg = ++i; /* past the '/' */
        if (i < t.n && t.p[i] == ':')
            i++;
        size_t name = i;
        while (i < t.n && t.p[i] != '/' && t.p[i] != ':')
            i++;
        if (i < t.n && t.p[i] == ':')
            return cz__api_err(p->d, p->lx.file, t.line, cz__api_col_at(&t, i, NULL),
                               "expected '/' or end of path, got ':'");
        if (i == name && !(t.n == 1))
            return cz__api_err(p->d, p->lx.file, t.line, cz__api_col_at(&t, name, NULL),
                               "expected %s in path", name > seg ? "parameter name after ':'"
                                                                 : "path segment after '/'");
    }
    p->last_end = t.end_line;
    r->path = dup(p, t.p, t.n);
    return r->path ? 0 : CZ_ENOMEM;
}

static int body(parser_t *p, cz_api_type_t **out, const char *what)
{
    TRY(expect(p, T_LPAREN, what, NULL));
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    if (t->k != T_RPAREN)
        TRY(parse_type(p, out));
    return expect(p, T_RPAREN, "')'", NULL);
}

static int route_line(parser_t *p, cz_api_route_t *r)
{
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    TRY(head(p, &r->notes));
    const char *m = NULL;
    for (size_t i = 0; t->k == T_IDENT && i < sizeof methods / sizeof methods[0]; i++)
        if (is(t, T_IDENT, methods[i]))
            m = methods[i];
    if (!m)
        return expected(p, t, "HTTP method (get, head, post, put, patch, delete, connect, "
                              "options, trace)");
    r->method = m;
    r->method_pos = pos_of(p, t);
    take(p);
    TRY(route_path(p, r));
    TRY(peek(p, &t));
    if (t->k == T_LPAREN)
        TRY(body(p, &r->request, "'('"));
    TRY(peek(p, &t));
    if (is(t, T_IDENT, "returns")) {
        take(p);
        TRY(body(p, &r->response, "'(' after returns"));
    }
    TRY(peek(p, &t));
    if (t->k == T_SEMI) {
        take(p);
        TRY(peek(p, &t));
    }
    if (t->k != T_RBRACE && t->k != T_AT_DOC && t->k != T_AT_HANDLER && t->k != T_AT_SERVER)
        return expected(p, t, r->response  ? "end of route"
                              : r->request ? "'returns' or end of route"
                                           : "'(', 'returns' or end of route");
    return tail(p, &r->notes.tail, p->last_end);
}

static int route(parser_t *p, cz_api_route_t *r)
{
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    r->pos = pos_of(p, t);
    if (t->k == T_AT_DOC) {
        TRY(head(p, &r->doc_notes));
        take(p);
        TRY(peek(p, &t));
        int end = t->end_line;
        if (t->k == T_LPAREN) {
            take(p);
            TRY(tail(p, &r->doc_open_tail, t->line));
            TRY(peek(p, &t));
            if (t->k == T_STRING) { /* older @doc("text") */
                if (!(r->doc = cz__api_unquote(p->a, t->p, t->n)))
                    return CZ_ENOMEM;
                take(p);
                cz__api_tok_t rp;
                TRY(expect(p, T_RPAREN, "')'", &rp));
                end = rp.line;
            } else {
                r->doc_parens = 1;
                TRY(kv_list(p, &r->doc_kv, &r->doc_close, &end));
            }
        } else if (t->k == T_STRING) {
            if (!(r->doc = cz__api_unquote(p->a, t->p, t->n)))
                return CZ_ENOMEM;
            take(p);
        } else {
            return expected(p, t, "string or '(' after @doc");
        }
        TRY(tail(p, &r->doc_notes.tail, end));
        TRY(peek(p, &t));
    }
    if (t->k == T_AT_SERVER) { /* older per-route @server(handler: name) */
        cz__api_tok_t at = *t;
        TRY(head(p, &r->server_notes));
        take(p);
        int end;
        TRY(paren_kvs(p, &r->server, &r->server_open_tail, &r->server_close, &end));
        TRY(tail(p, &r->server_notes.tail, end));
        r->handler = cz_api_kv_get(r->server, "handler");
        r->handler_pos = pos_of(p, &at);
        if (!r->handler)
            return cz__api_err(p->d, p->lx.file, at.line, at.col,
                               "expected 'handler' key in a route's @server");
    } else if (t->k == T_AT_HANDLER) {
        TRY(head(p, &r->handler_notes));
        take(p);
        TRY(peek(p, &t));
        TRY(check_name(p, t, "handler name"));
        r->handler_pos = pos_of(p, t);
        if (!(r->handler = dup(p, t->p, t->n)))
            return CZ_ENOMEM;
        take(p);
        TRY(tail(p, &r->handler_notes.tail, r->handler_pos.line));
    } else {
        return expected(p, t, "'@handler'");
    }
    return route_line(p, r);
}

static int stmt_service(parser_t *p, cz_api_stmt_t *st)
{
    cz_api_service_t *sv;
    NEW(p, sv);
    st->service = sv;
    cz__api_tok_t *t;
    TRY(peek(p, &t));
    if (t->k == T_AT_SERVER) {
        take(p);
        int end;
        TRY(paren_kvs(p, &sv->server, &st->open_tail, &sv->server_close, &end));
        TRY(tail(p, &sv->server_close.tail, end));
        TRY(peek(p, &t));
        if (!is(t, T_IDENT, "service"))
            return expected(p, t, "'service' after @server(...)");
        TRY(head(p, &sv->service_notes));
    }
    take(p); /* 'service' */
    cz__api_tok_t name;
    TRY(expect(p, T_IDENT, "service name", &name));
    sv->pos = pos_of(p, &name);
    const char *end = name.p + name.n;
    for (;;) { /* user-api, a-b-c */
        TRY(peek(p, &t));
        if (t->k != T_SUB)
            break;
        take(p);
        cz__api_tok_t more;
        TRY(expect(p, T_IDENT, "name after '-' in service name", &more));
        end = more.p + more.n;
    }
    if (!(sv->name = dup(p, name.p, (size_t)(end - name.p))))
        return CZ_ENOMEM;
    for (const char *c = sv->name; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r' || *c == '/')
            return cz__api_err(p->d, p->lx.file, name.line, name.col,
                               "expected service name without spaces or comments");
    cz__api_tok_t lb;
    TRY(expect(p, T_LBRACE, "'{' after service name", &lb));
    TRY(tail(p, &sv->service_notes.tail, lb.line));
    cz_api_route_t **link = &sv->routes;
    for (;;) {
        TRY(peek(p, &t));
        if (t->k == T_RBRACE) {
            TRY(head(p, &sv->close));
            take(p);
            return tail(p, &sv->close.tail, t->line);
        }
        if (t->k != T_AT_DOC && t->k != T_AT_HANDLER && t->k != T_AT_SERVER)
            return expected(p, t, "'@doc', '@handler' or '}'");
        cz_api_route_t *r;
        NEW(p, r);
        TRY(route(p, r));
        *link = r;
        link = &r->next;
    }
}

/* ---- file ----------------------------------------------------------------------------------- */

static int parse_file(parser_t *p)
{
    cz_api_stmt_t **link = &p->file->stmts;
    for (;;) {
        cz__api_tok_t *t;
        TRY(peek(p, &t));
        if (t->k == T_EOF) {
            p->file->trailing = p->lx.pending;
            return 0;
        }
        cz_api_stmt_t *st;
        NEW(p, st);
        TRY(head(p, &st->notes));
        st->pos = pos_of(p, t);
        if (is(t, T_IDENT, "syntax")) {
            st->kind = CZ_API_S_SYNTAX;
            take(p);
            TRY(stmt_syntax(p, st));
        } else if (is(t, T_IDENT, "import")) {
            st->kind = CZ_API_S_IMPORT;
            take(p);
            TRY(stmt_import(p, st));
        } else if (is(t, T_IDENT, "info")) {
            st->kind = CZ_API_S_INFO;
            take(p);
            TRY(stmt_info(p, st));
        } else if (is(t, T_IDENT, "type")) {
            st->kind = CZ_API_S_TYPE;
            take(p);
            TRY(stmt_type(p, st));
        } else if (is(t, T_IDENT, "service") || t->k == T_AT_SERVER) {
            st->kind = CZ_API_S_SERVICE;
            TRY(stmt_service(p, st));
        } else {
            return expected(p, t, "'syntax', 'import', 'info', 'type', '@server' or 'service'");
        }
        *link = st;
        link = &st->next;
    }
}

int cz__api_parse_into(cz_api_t *api, const char *name, const char *src, size_t len,
                       cz_api_file_t **out, cz_diag_t *d)
{
    parser_t p = {.a = &api->arena, .d = d};
    cz_str_t fname = cz_arena_strdup(&api->arena, cz_str_c(name ? name : "<input>"));
    cz_str_t text = cz_arena_strdup(&api->arena, (cz_str_t){src ? src : "", src ? len : 0});
    if (!fname.p || !text.p || !(p.file = cz_arena_calloc(&api->arena, sizeof *p.file)))
        return CZ_ENOMEM;
    p.file->path = fname.p;
    cz__api_lex_init(&p.lx, &api->arena, fname.p, text.p, text.n, d);
    /* strings and comments become C strings: a NUL byte would cut them short */
    const char *nul = memchr(text.p, '\0', text.n);
    if (nul) {
        cz__api_tok_t whole = {.p = text.p, .n = text.n, .line = 1, .col = 1};
        int line, col = cz__api_col_at(&whole, (size_t)(nul - text.p), &line);
        return cz__api_err(d, fname.p, line, col, "NUL byte in input");
    }
    int rc = parse_file(&p);
    if (rc)
        return rc;
    cz_api_file_t **link = &api->files;
    while (*link)
        link = &(*link)->next;
    *link = p.file;
    if (out)
        *out = p.file;
    return 0;
}
