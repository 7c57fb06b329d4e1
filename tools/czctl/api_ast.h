/* SPDX-License-Identifier: MIT
 *
 * api_ast.h: the syntax tree of go-zero `.api` files, as czctl reads them.
 *
 * One cz_api_t owns everything: the files it read (the root file first, then every imported file
 * once), each file's statements, and one arena that holds all nodes and strings. Nodes are
 * linked lists in source order (`next`), so a generator walks them with a plain for loop. The
 * tree keeps comments and blank-line flags for `czctl api format`; generators can ignore them.
 * Strings are NUL-terminated and live as long as the cz_api_t. This header is czctl's, not part
 * of libczero: the grammar follows goctl (tools/goctl/api/parser/g4/ApiParser.g4 for the older
 * forms and tools/goctl/pkg/parser/api/parser/parser.go for the newer ones).
 */
#ifndef CZCTL_API_AST_H
#define CZCTL_API_AST_H

#include <stdio.h>
#include "czero/arena.h"
#include "czero/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A place in a file: 1-based line, 1-based column counted in characters (UTF-8 code points). */
typedef struct cz_api_pos {
    const char *file;
    int line;
    int col;
} cz_api_pos_t;

/* A `// line` or block comment, kept with the node it precedes (head) or follows on the same
 * line (tail). blank_before: at least one empty line separated it from what came before. */
typedef struct cz_api_comment {
    struct cz_api_comment *next;
    const char *text; /* including the // or the delimiters */
    cz_api_pos_t pos;
    int blank_before;
} cz_api_comment_t;

/* Comments around a node that starts a line; blank_before as above, for the node itself. */
typedef struct cz_api_notes {
    cz_api_comment_t *head;
    cz_api_comment_t *tail;
    int blank_before;
    int blank_after_head; /* an empty line between the head comments and the node */
} cz_api_notes_t;

/* key: value, in info(...), @server(...) and @doc(...). value is the unquoted text; raw is the
 * text as written (with its quotes, if any), which `format` prints back. */
typedef struct cz_api_kv {
    struct cz_api_kv *next;
    const char *key;
    const char *value;
    const char *raw;
    cz_api_pos_t pos;
    cz_api_pos_t value_pos;
    cz_api_notes_t notes;
} cz_api_kv_t;

typedef enum {
    CZ_API_T_IDENT,     /* int64, string, Foo, time.Time, any */
    CZ_API_T_POINTER,   /* *elem */
    CZ_API_T_SLICE,     /* []elem */
    CZ_API_T_ARRAY,     /* [len]elem */
    CZ_API_T_MAP,       /* map[key]elem */
    CZ_API_T_STRUCT,    /* { fields } (a struct literal inside a type) */
    CZ_API_T_INTERFACE, /* interface{} */
} cz_api_type_kind_t;

typedef struct cz_api_field cz_api_field_t;

/* A Go type as a tree. */
typedef struct cz_api_type {
    cz_api_type_kind_t kind;
    const char *name;          /* CZ_API_T_IDENT */
    long len;                  /* CZ_API_T_ARRAY; -1 for [...] */
    struct cz_api_type *key;   /* CZ_API_T_MAP */
    struct cz_api_type *elem;  /* pointer, slice, array, map value */
    cz_api_field_t *fields;    /* CZ_API_T_STRUCT */
    cz_api_notes_t close;      /* CZ_API_T_STRUCT: comments before the closing brace */
    cz_api_comment_t *open_tail; /* CZ_API_T_STRUCT: comment after the opening brace */
    cz_api_pos_t pos;
} cz_api_type_t;

/* One option of a tag value: `optional` (value NULL), `default=5`, `options=a|b`,
 * `range=[1:10]`. */
typedef struct cz_api_tag_opt {
    struct cz_api_tag_opt *next;
    const char *key;
    const char *value;
} cz_api_tag_opt_t;

/* One key:"value" pair of a field tag, the value split go-zero's way (core/mapping/utils.go):
 * name first, then comma-separated options; brackets group, so `options=[a,b]` stays whole. */
typedef struct cz_api_tag {
    struct cz_api_tag *next;
    const char *key;  /* json, form, path, header, or anything else (kept) */
    const char *name; /* may be "" (`json:",optional"`) */
    cz_api_tag_opt_t *opts;
    cz_api_pos_t pos;
} cz_api_tag_t;

/* A struct field. Embedded fields have names == NULL. `A, B int` has two names. */
struct cz_api_field {
    struct cz_api_field *next;
    const char **names; /* NULL-terminated, or NULL when embedded */
    int nnames;
    cz_api_type_t *type;
    const char *tag_raw; /* the tag with its backquotes, or NULL */
    cz_api_tag_t *tags;
    cz_api_pos_t pos;
    cz_api_notes_t notes;
};

/* type Name {...} / type Name struct {...} / type Name = T / type Name T (alone or in a group). */
typedef struct cz_api_typedecl {
    struct cz_api_typedecl *next;
    const char *name;
    cz_api_type_t *type;
    int assign; /* written with '=' (alias form) */
    cz_api_pos_t pos;
    cz_api_notes_t notes;
} cz_api_typedecl_t;

/* One route of a service block. */
typedef struct cz_api_route {
    struct cz_api_route *next;
    const char *doc;         /* @doc "text", or NULL */
    cz_api_kv_t *doc_kv;     /* @doc (key: value ...), or NULL */
    cz_api_kv_t *server;     /* older per-route @server (handler: x ...), or NULL */
    const char *handler;     /* @handler name, or the per-route @server's handler */
    const char *method;      /* lower case: get, post, ... */
    const char *path;        /* /users/:id, without the service prefix */
    cz_api_type_t *request;  /* NULL when absent or () */
    cz_api_type_t *response; /* NULL when absent or () */
    cz_api_pos_t pos;        /* of the first line (@doc, @server or @handler) */
    cz_api_pos_t handler_pos;
    cz_api_pos_t method_pos;
    cz_api_notes_t doc_notes, server_notes, handler_notes, notes; /* notes: the route line */
    cz_api_notes_t doc_close, server_close; /* before the ')' of @doc(...) / @server(...) */
    cz_api_comment_t *doc_open_tail, *server_open_tail; /* after the '(' */
    int doc_parens;          /* @doc written with parentheses and key-values */
} cz_api_route_t;

/* One `[@server(...)] service name { routes }` block: a route group. */
typedef struct cz_api_service {
    struct cz_api_service *next;
    const char *name;
    cz_api_kv_t *server; /* @server key-values, unknown keys kept; NULL when absent */
    cz_api_route_t *routes;
    cz_api_pos_t pos;      /* of the name */
    cz_api_notes_t notes;  /* of the first line (@server or service) */
    cz_api_notes_t server_close, service_notes, close;
} cz_api_service_t;

typedef struct cz_api_import {
    struct cz_api_import *next;
    const char *path; /* as written, unquoted */
    cz_api_pos_t pos;
    cz_api_notes_t notes;
} cz_api_import_t;

typedef enum {
    CZ_API_S_SYNTAX,
    CZ_API_S_IMPORT,
    CZ_API_S_INFO,
    CZ_API_S_TYPE,
    CZ_API_S_SERVICE,
} cz_api_stmt_kind_t;

/* Top-level statements in source order, for the formatter; the per-kind lists below are the
 * convenient view. */
typedef struct cz_api_stmt {
    struct cz_api_stmt *next;
    cz_api_stmt_kind_t kind;
    int group;                 /* import (...) / type (...) */
    cz_api_import_t *imports;  /* CZ_API_S_IMPORT */
    cz_api_kv_t *info;         /* CZ_API_S_INFO */
    cz_api_typedecl_t *types;  /* CZ_API_S_TYPE */
    cz_api_service_t *service; /* CZ_API_S_SERVICE */
    cz_api_notes_t notes;
    cz_api_notes_t close;      /* before the closing ')' of a group */
    cz_api_comment_t *open_tail;
    cz_api_pos_t pos;
} cz_api_stmt_t;

typedef struct cz_api_file {
    struct cz_api_file *next;
    const char *path;   /* as opened (the root as given, imports joined to the importer's dir) */
    const char *syntax; /* "v1", or NULL when the file has no syntax line */
    cz_api_pos_t syntax_pos;
    cz_api_stmt_t *stmts;
    cz_api_kv_t *info;  /* NULL when absent */
    cz_api_comment_t *trailing; /* comments after the last statement */
} cz_api_file_t;

typedef struct cz_api {
    cz_arena_t arena;
    cz_api_file_t *files; /* root first */
} cz_api_t;

/** Parse one `.api` text. Imports are recorded, not followed; nothing is checked across
 *  statements. name is used in diagnostics and positions. On success *out is a new cz_api_t with
 *  one file (free it with cz_api_free) and 0 is returned; on a syntax error *out is NULL, d (may
 *  be NULL) says "name:line:col: expected X, got Y", and CZ_EPARSE is returned. CZ_ENOMEM on
 *  allocation failure. Thread-safe (no shared state). */
int cz_api_parse(cz_api_t **out, const char *name, const char *src, size_t len, cz_diag_t *d);

/** Read path, follow its imports (relative to the importing file; each file once; a cycle is an
 *  error at the import that closes it) and run cz_api_check. Returns 0, CZ_EPARSE with d filled,
 *  -errno when a file cannot be read (d names the file and, for imports, the import's position),
 *  or CZ_ENOMEM. *out is set only on success. */
int cz_api_load(cz_api_t **out, const char *path, cz_diag_t *d);

/** Checks across all files: one service name, one syntax version, no duplicate type, no duplicate
 *  handler within a group, no duplicate method+prefix+path, every type used is declared or built
 *  in, tag options well formed. Returns 0 or CZ_EPARSE with d filled at the offending node. */
int cz_api_check(const cz_api_t *api, cz_diag_t *d);

/** Free everything the api owns. NULL is fine. */
void cz_api_free(cz_api_t *api);

/** Write file in canonical form (goctl's layout: tabs, aligned key-values and fields, one blank
 *  line between statements; comments kept). Formatting the output again gives the same text.
 *  Returns 0 or -errno from the stream. */
int cz_api_format(const cz_api_file_t *file, FILE *out);

/** Same into a malloc'd NUL-terminated string (*text, caller frees; *len may be NULL). */
int cz_api_format_string(const cz_api_file_t *file, char **text, size_t *len);

/** The tag with the given key ("json", "form"...) or NULL. */
const cz_api_tag_t *cz_api_tag_find(const cz_api_field_t *f, const char *key);
/** The option with the given key in a tag ("optional", "default"...) or NULL. */
const cz_api_tag_opt_t *cz_api_tag_opt(const cz_api_tag_t *t, const char *key);
/** The value of key in a key-value list, or NULL. */
const char *cz_api_kv_get(const cz_api_kv_t *kv, const char *key);
/** Go spelling of a type (`[]*Foo`, `map[string]int`, `{...}` for struct literals) into an
 *  arena string. NULL on allocation failure. */
const char *cz_api_type_str(cz_arena_t *a, const cz_api_type_t *t);
/** 1 for Go's predeclared types goctl accepts (bool, int..., string, byte, rune, any). */
int cz_api_is_builtin(const char *name);

#ifdef __cplusplus
}
#endif
#endif
