/* SPDX-License-Identifier: MIT
 *
 * bind_int.h: private interface between the two halves of request binding. bind.c holds the
 * entry points, the passes over path/form/header, text-to-value conversion (Go's strconv
 * rules), the option checks, defaults and the error messages; bind_json.c walks JSON values
 * and builds JSON from a bound struct. Nothing here is installed or part of the public API.
 */
#ifndef CZERO_BIND_INT_H
#define CZERO_BIND_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "czero/bind.h"

#define CZ__BIND_MAX_DEPTH 32 /* nested tables; deeper is a table bug (or a cycle) */

typedef struct cz__bctx {
    cz_req_t *req;
    cz_arena_t *a;
    char *err;
    size_t errlen;
} cz__bctx_t;

/* A field's full name ("addr.city", "tags[1]") as a chain of stack frames, formatted only when
 * an error is reported, so a successful bind formats nothing. */
typedef struct cz__bname {
    const struct cz__bname *up;
    const char *key; /* NULL: an array index */
    size_t idx;
} cz__bname_t;

/* results of the strconv-like parsers */
enum { CZ__CONV_OK = 0, CZ__CONV_SYNTAX = -1, CZ__CONV_RANGE = -2 };

/* Format n's full name into buf; returns the length it wanted. */
size_t cz__bind_name(const cz__bname_t *n, char *buf, size_t size);
#define CZ__BIND_NAME(var, n)                                                                  \
    char var[256];                                                                             \
    cz__bind_name((n), var, sizeof var)

/* Messages: each sets c->err and returns its code (CZ_EPARSE unless said otherwise). */
int cz__bind_fail(cz__bctx_t *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cz__bind_oom(cz__bctx_t *c); /* CZ_ENOMEM */
int cz__bind_mismatch(cz__bctx_t *c, const cz__bname_t *n);
int cz__bind_mismatch_hint(cz__bctx_t *c, const cz__bname_t *n, const char *expect,
                           const char *actual);
int cz__bind_bad_table(cz__bctx_t *c, const cz__bname_t *n, const char *what); /* CZ_EARG */
int cz__bind_conv_error(cz__bctx_t *c, const cz__bname_t *n, const char *fn, const char *s,
                        size_t len, int why);

/* options= and range= checks on a value and its text. */
int cz__bind_check_options(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n,
                           const char *s, size_t len);
int cz__bind_check_range(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n, double v,
                         const char *s, size_t len);

size_t cz__bind_scalar_size(cz_bind_type_t t);
/* Text s[0..len) to type t at dst; check applies options= and range=. */
int cz__bind_store_text(cz__bctx_t *c, const cz_bind_field_t *f, cz_bind_type_t t,
                        const cz__bname_t *n, const char *s, size_t len, void *dst, bool check);
void cz__bind_set_has(const cz_bind_field_t *f, void *base);
/* A field without a value: default=, optional, or "is not set". */
int cz__bind_absent(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n, void *base,
                    int depth);
/* env=: 1 when a non-empty variable gave the value, 0 when unset, or an error. */
int cz__bind_env(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n, void *base);
/* CZ_EARG for a table entry czero cannot serve. */
int cz__bind_check_field(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n);

/* bind_json.c: the fields of one JSON object (obj NULL: absent); top: only the JSON fields. */
int cz__bind_object(cz__bctx_t *c, const cz_bind_field_t *fields, const json_t *obj, void *out,
                    const cz__bname_t *up, bool top, int depth);
/* "object", "slice", "string", "number", "bool", "null" (go-zero's names in hints). */
const char *cz__bind_jtype(const json_t *v);

#endif
