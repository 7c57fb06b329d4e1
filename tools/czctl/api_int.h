/* SPDX-License-Identifier: MIT
 *
 * api_int.h: private to czctl's .api reader (api_lex.c, api_parse.c, api_tag.c, api_check.c).
 *
 * The lexer turns bytes into tokens and collects comments on a pending list, which the parser
 * hands to the nodes around them. Besides ordinary tokens it has two raw scans the parser calls
 * where goctl's grammar is line-oriented rather than token-oriented: a route path
 * (`/users/:id/avatar.png`) and the value after `key:` in info/@server/@doc, which the older
 * grammar takes to the end of the line (`title: my service`).
 */
#ifndef CZCTL_API_INT_H
#define CZCTL_API_INT_H

#include "api_ast.h"

typedef enum {
    T_EOF,
    T_IDENT,
    T_INT,
    T_STRING,
    T_RAW,
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_LBRACK,
    T_RBRACK,
    T_STAR,
    T_COMMA,
    T_DOT,
    T_ASSIGN,
    T_COLON,
    T_SEMI,
    T_SUB,
    T_SLASH,
    T_AT_DOC,
    T_AT_HANDLER,
    T_AT_SERVER,
    T_ILLEGAL,
} cz__api_tok_kind_t;

typedef struct {
    cz__api_tok_kind_t k;
    const char *p; /* into the source */
    size_t n;
    int line, col;
    int end_line;
    int blank; /* an empty line before it */
} cz__api_tok_t;

typedef struct {
    cz_arena_t *a;
    const char *file;
    const char *src;
    size_t n, i;
    int line, col;
    int prev_end; /* line where the last token or comment ended, 0 at start */
    cz_api_comment_t *pending, **pending_tail;
    cz_diag_t *d;
} cz__api_lex_t;

void cz__api_lex_init(cz__api_lex_t *lx, cz_arena_t *a, const char *file, const char *src,
                      size_t n, cz_diag_t *d);
/* Next token, comments before it go to the pending list. 0, CZ_EPARSE (unterminated string or
 * comment) or CZ_ENOMEM. */
int cz__api_lex_next(cz__api_lex_t *lx, cz__api_tok_t *t);
/* A route path from the current position (whitespace skipped first); t->n == 0 if none. */
void cz__api_lex_path(cz__api_lex_t *lx, cz__api_tok_t *t);
/* The value after `key:` (spaces skipped): a "string", a `raw string`, or raw text up to the end
 * of the line, a comment, an unbalanced ')' or the next `key:` on the same line. t->n == 0 if
 * there is none. 0 or CZ_EPARSE. */
int cz__api_lex_value(cz__api_lex_t *lx, cz__api_tok_t *t);

/* Column of byte offset off inside t (tokens may hold multi-byte characters). */
int cz__api_col_at(const cz__api_tok_t *t, size_t off, int *line);
/* Diagnostic helper: fills d and returns CZ_EPARSE. */
int cz__api_err(cz_diag_t *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Unquote a "Go string" or `raw string` token into the arena. NULL on CZ_ENOMEM. */
char *cz__api_unquote(cz_arena_t *a, const char *p, size_t n);
/* Parse a field tag (the raw token, backquotes included) into f->tags; validates go-zero's
 * options on json/form/path/header. 0, CZ_EPARSE or CZ_ENOMEM. */
int cz__api_parse_tag(cz_arena_t *a, const char *file, const cz__api_tok_t *t, cz_api_field_t *f,
                      cz_diag_t *d);
/* Parse src into a new file appended to api->files. */
int cz__api_parse_into(cz_api_t *api, const char *name, const char *src, size_t len,
                       cz_api_file_t **out, cz_diag_t *d);
/* Go keywords goctl refuses as names (tools/goctl/pkg/parser/api/token/token.go `keywords`). */
int cz__api_is_keyword(const char *s, size_t n);

#endif
