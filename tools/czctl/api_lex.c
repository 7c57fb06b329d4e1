/* SPDX-License-Identifier: MIT
 *
 * api_lex.c: the tokenizer for go-zero `.api` files.
 *
 * Hand written, following goctl's scanner (tools/goctl/pkg/parser/api/scanner/scanner.go) for the
 * token set, plus the older grammar's line values (ApiLexer.g4 LINE_VALUE). Positions are 1-based
 * lines and columns in characters; a tab is one column, as in gcc and go/scanner. Comments are
 * not tokens: they go on a pending list with their position and a blank-line flag, and the parser
 * attaches them to nodes so that `format` can print them back. Bytes that start no token come
 * back as T_ILLEGAL so the parser can say "expected X, got '#'" at the right place.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "api_int.h"

int cz__api_err(cz_diag_t *d, const char *file, int line, int col, const char *fmt, ...)
{
    if (d) {
        snprintf(d->file, sizeof d->file, "%s", file ? file : "");
        d->line = line;
        d->col = col;
        d->key[0] = '\0';
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return CZ_EPARSE;
}

void cz__api_lex_init(cz__api_lex_t *lx, cz_arena_t *a, const char *file, const char *src,
                      size_t n, cz_diag_t *d)
{
    memset(lx, 0, sizeof *lx);
    lx->a = a;
    lx->file = file;
    lx->src = src;
    lx->n = n;
    lx->line = 1;
    lx->col = 1;
    lx->pending_tail = &lx->pending;
    lx->d = d;
}

static int cur(const cz__api_lex_t *lx)
{
    return lx->i < lx->n ? (unsigned char)lx->src[lx->i] : -1;
}
static int at(const cz__api_lex_t *lx, size_t k)
{
    return lx->i + k < lx->n ? (unsigned char)lx->src[lx->i + k] : -1;
}

static void adv(cz__api_lex_t *lx)
{
    unsigned char c = (unsigned char)lx->src[lx->i++];
    if (c == '\n') {
        lx->line++;
        lx->col = 1;
    } else if ((c & 0xC0) != 0x80) { /* UTF-8 continuation bytes share their lead's column */
        lx->col++;
    }
}

static int is_letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

static void start(cz__api_lex_t *lx, cz__api_tok_t *t, cz__api_tok_kind_t k)
{
    t->k = k;
    t->p = lx->src + lx->i;
    t->n = 0;
    t->line = lx->line;
    t->col = lx->col;
    t->blank = lx->prev_end > 0 && lx->line > lx->prev_end + 1;
}

static void finish(cz__api_lex_t *lx, cz__api_tok_t *t)
{
    t->n = (size_t)(lx->src + lx->i - t->p);
    t->end_line = lx->line;
    lx->prev_end = lx->line;
}

static int comment(cz__api_lex_t *lx)
{
    cz__api_tok_t t;
    start(lx, &t, T_EOF);
    if (at(lx, 1) == '/') {
        while (cur(lx) != -1 && cur(lx) != '\n')
            adv(lx);
        /* a CRLF file's \r (and any stray ones before it) belong to the line break, not to
         * the comment: the formatter writes plain \n, so keeping them would not be idempotent */
        size_t end = lx->i, back = 0;
        while (lx->src + end - back > t.p && lx->src[end - back - 1] == '\r')
            back++;
        lx->i -= back;
        finish(lx, &t);
        lx->i += back;
    } else {
        adv(lx);
        adv(lx);
        for (;;) {
            if (cur(lx) == -1)
                return cz__api_err(lx->d, lx->file, t.line, t.col, "unterminated comment");
            if (cur(lx) == '*' && at(lx, 1) == '/') {
                adv(lx);
                adv(lx);
                break;
            }
            adv(lx);
        }
        finish(lx, &t);
    }
    cz_api_comment_t *c = cz_arena_calloc(lx->a, sizeof *c);
    if (!c)
        return CZ_ENOMEM;
    cz_str_t s = cz_arena_strdup(lx->a, (cz_str_t){t.p, t.n});
    if (!s.p)
        return CZ_ENOMEM;
    c->text = s.p;
    c->pos = (cz_api_pos_t){lx->file, t.line, t.col};
    c->blank_before = t.blank;
    *lx->pending_tail = c;
    lx->pending_tail = &c->next;
    return 0;
}

static int skip(cz__api_lex_t *lx)
{
    for (;;) {
        int c = cur(lx);
        if (is_space(c) || c == '\n') {
            adv(lx);
        } else if (c == '/' && (at(lx, 1) == '/' || at(lx, 1) == '*')) {
            int rc = comment(lx);
            if (rc)
                return rc;
        } else {
            return 0;
        }
    }
}

static int string(cz__api_lex_t *lx, cz__api_tok_t *t, int q)
{
    start(lx, t, q == '"' ? T_STRING : T_RAW);
    adv(lx);
    for (;;) {
        int c = cur(lx);
        if (c == -1)
            return cz__api_err(lx->d, lx->file, t->line, t->col, "unterminated %s",
                               q == '"' ? "string" : "tag (raw string)");
        if (c == '\\' && q == '"' && at(lx, 1) != -1) {
            adv(lx);
        } else if (c == q) {
            adv(lx);
            break;
        }
        adv(lx);
    }
    finish(lx, t);
    return 0;
}

int cz__api_lex_next(cz__api_lex_t *lx, cz__api_tok_t *t)
{
    int rc = skip(lx);
    if (rc)
        return rc;
    int c = cur(lx);
    if (c == -1) {
        start(lx, t, T_EOF);
        t->end_line = lx->line;
        return 0;
    }
    if (c == '"' || c == '`')
        return string(lx, t, c);
    if (is_letter(c)) {
        start(lx, t, T_IDENT);
        while (is_letter(cur(lx)) || is_digit(cur(lx)))
            adv(lx);
        finish(lx, t);
        return 0;
    }
    if (is_digit(c)) {
        start(lx, t, T_INT);
        while (is_digit(cur(lx)))
            adv(lx);
        finish(lx, t);
        return 0;
    }
    if (c == '@') {
        start(lx, t, T_ILLEGAL);
        adv(lx);
        while (is_letter(cur(lx)))
            adv(lx);
        finish(lx, t);
        if (t->n == 4 && !memcmp(t->p, "@doc", 4))
            t->k = T_AT_DOC;
        else if (t->n == 8 && !memcmp(t->p, "@handler", 8))
            t->k = T_AT_HANDLER;
        else if (t->n == 7 && !memcmp(t->p, "@server", 7))
            t->k = T_AT_SERVER;
        return 0;
    }
    static const char punct[] = "(){}[]*,.=:;-/";
    static const cz__api_tok_kind_t kinds[] = {T_LPAREN, T_RPAREN, T_LBRACE, T_RBRACE, T_LBRACK,
                                               T_RBRACK, T_STAR,   T_COMMA,  T_DOT,    T_ASSIGN,
                                               T_COLON,  T_SEMI,   T_SUB,    T_SLASH};
    const char *pc = c ? strchr(punct, c) : NULL;
    start(lx, t, pc ? kinds[pc - punct] : T_ILLEGAL);
    adv(lx);
    while (!pc && (cur(lx) & 0xC0) == 0x80) /* a whole UTF-8 character in the message */
        adv(lx);
    finish(lx, t);
    return 0;
}

static int is_path_char(int c)
{
    return is_letter(c) || is_digit(c) || c == '-' || c == '.' || c == ':' || c == '/' ||
           c == '~' || c == '+' || c == '%';
}

void cz__api_lex_path(cz__api_lex_t *lx, cz__api_tok_t *t)
{
    while (is_space(cur(lx)) || cur(lx) == '\n')
        adv(lx);
    start(lx, t, T_SLASH);
    if (cur(lx) != '/') {
        t->n = 0;
        return;
    }
    /* `get /a// comment`: a comment may follow the path without a space */
    while (is_path_char(cur(lx)) && !(cur(lx) == '/' && (at(lx, 1) == '/' || at(lx, 1) == '*')))
        adv(lx);
    finish(lx, t);
}

/* At a space: does `ident:` follow, i.e. a second key on the same line (`group: a prefix: /v1`)?
 * The colon must be followed by a blank or a quote so that `http://x` stays one value. */
static int next_key_follows(const cz__api_lex_t *lx)
{
    size_t k = 0;
    while (is_space(at(lx, k)))
        k++;
    if (!is_letter(at(lx, k)))
        return 0;
    while (is_letter(at(lx, k)) || is_digit(at(lx, k)))
        k++;
    while (is_space(at(lx, k)))
        k++;
    if (at(lx, k) != ':')
        return 0;
    int c = at(lx, k + 1);
    return c == ' ' || c == '\t' || c == '"' || c == '`';
}

int cz__api_lex_value(cz__api_lex_t *lx, cz__api_tok_t *t)
{
    while (is_space(cur(lx)))
        adv(lx);
    int c = cur(lx);
    if (c == '"' || c == '`')
        return string(lx, t, c);
    start(lx, t, T_IDENT);
    const char *last = t->p; /* end of the last non-blank character */
    int depth = 0, end_line = lx->line;
    for (;;) {
        c = cur(lx);
        if (c == -1 || c == '\n' || c == '\r')
            break;
        if (c == '/' && (at(lx, 1) == '*' || (at(lx, 1) == '/' && (lx->i == 0 ||
                                                               lx->src[lx->i - 1] != ':'))))
            break;
        if (c == ')' && depth-- == 0)
            break;
        if (c == '(')
            depth++;
        if (is_space(c)) {
            if (next_key_follows(lx))
                break;
            adv(lx);
            continue;
        }
        adv(lx);
        last = lx->src + lx->i;
        end_line = lx->line;
    }
    t->n = (size_t)(last - t->p);
    t->end_line = end_line;
    if (t->n)
        lx->prev_end = end_line;
    return 0;
}

int cz__api_col_at(const cz__api_tok_t *t, size_t off, int *line)
{
    int l = t->line, col = t->col;
    for (size_t i = 0; i < off && i < t->n; i++) {
        unsigned char c = (unsigned char)t->p[i];
        if (c == '\n') {
            l++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    if (line)
        *line = l;
    return col;
}

char *cz__api_unquote(cz_arena_t *a, const char *p, size_t n)
{
    char *out = cz_arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    if (n >= 2 && (p[0] == '"' || p[0] == '`') && p[n - 1] == p[0]) {
        int raw = p[0] == '`';
        for (size_t i = 1; i + 1 < n; i++) {
            char c = p[i];
            if (!raw && c == '\\' && i + 2 < n) {
                c = p[++i];
                switch (c) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                default: break; /* \" \\ \' and anything else: the character itself */
                }
            }
            out[o++] = c;
        }
    } else {
        memcpy(out, p, n);
        o = n;
    }
    out[o] = '\0';
    return out;
}

int cz__api_is_keyword(const char *s, size_t n)
{
    static const char *const kw[] = {"break",  "case",    "chan",      "const",  "continue",
                                     "default", "defer",  "else",      "fallthrough", "for",
                                     "func",   "go",      "goto",      "if",     "import",
                                     "interface", "map",  "package",   "range",  "return",
                                     "select", "struct",  "switch",    "type",   "var"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i]) == n && !memcmp(kw[i], s, n))
            return 1;
    return 0;
}
