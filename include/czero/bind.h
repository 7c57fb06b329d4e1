/* SPDX-License-Identifier: MIT
 *
 * bind.h: request binding, go-zero's httpx.Parse for C.
 *
 * A handler describes its request struct with a static table of cz_bind_field_t (like the
 * config tables): for each member the key, where it comes from (path variable, form = query
 * parameters plus an x-www-form-urlencoded body, JSON body, header), its type and go-zero's tag
 * options (optional, default=, options=, range=, env=). cz_bind() fills the struct or reports
 * the first problem with a message naming the field, in go-zero's words where go-zero names the
 * field (core/mapping/unmarshaler.go, utils.go):
 *
 *   field "age" is not set                      required and absent (nested: "addr.city")
 *   field "age" mustn't be nil                  JSON null for a required field
 *   type mismatch for field "age"               wrong JSON type ("tags[1]" for an element)
 *   type mismatch for field "name", expect "string", actual "number"
 *   type mismatch for field "tags", expect "slice", actual "string"
 *   value "x" for field "g" is not defined in options "[a b]"
 *   field "age": strconv.ParseInt: parsing "abc": invalid syntax   (text to number)
 *   field "age": strconv.ParseInt: parsing "1.5": invalid syntax   (JSON 1.5 into an integer)
 *
 * Where go-zero's text does not name the field, czero's does: a range violation is
 * `value "200" for field "age" is out of range [0:150]` (go-zero: "wrong number range
 * setting"); a missing required array is `field "tags" is not set` (go-zero: type mismatch).
 * A body that is not JSON is `invalid JSON body: <reason>`.
 *
 * Sources follow go-zero: the passes run path, form, header, then JSON, and the first error
 * wins. The JSON body is read only when it is non-empty and Content-Type contains
 * "application/json"; otherwise JSON fields are absent. A table without JSON fields never
 * parses the body (go-zero parses it anyway and may fail on a malformed one). Unknown JSON keys are ignored; wrong
 * JSON types are errors (an integer field takes only JSON integers, a float field any number);
 * path, form and header values are text converted like Go's strconv (bool: 1/0/true/false in
 * any case). Form values come from an x-www-form-urlencoded body (POST/PUT/PATCH) then the
 * query; empty form values count as absent (go-zero GetFormValues). An array from the form
 * takes every occurrence of `key` or `key[]`; from headers every occurrence. Fields of a nested
 * object (.sub) always come from the enclosing JSON object, whatever their .src says.
 *
 * Memory: strings and arrays are allocated in the request's arena and die with the response.
 * The JSON body is parsed with jansson (which uses malloc) and released before cz_bind returns.
 * cz_bind only writes members that get a value: start from a zeroed struct.
 */
#ifndef CZERO_BIND_H
#define CZERO_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "error.h"
#include "request.h"
#include "response.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cz_bind_source {
    CZ_BIND_JSON = 0, /* a key of the JSON body (the default, as for nested fields) */
    CZ_BIND_PATH,     /* a route variable: ":id" -> "id" */
    CZ_BIND_FORM,     /* query parameter or x-www-form-urlencoded body field */
    CZ_BIND_HEADER,   /* request header, case-insensitive */
} cz_bind_source_t;

typedef enum cz_bind_type {
    CZ_BIND_STRING = 0, /* char * (NUL-terminated, in the arena) */
    CZ_BIND_INT,        /* int64_t */
    CZ_BIND_UINT,       /* uint64_t */
    CZ_BIND_FLOAT,      /* double */
    CZ_BIND_BOOL,       /* bool */
    CZ_BIND_ARRAY,      /* cz_bind_array_t of elem_type (a scalar type or OBJECT) */
    CZ_BIND_OBJECT,     /* nested struct described by .sub (JSON object) */
} cz_bind_type_t;

/* flags */
#define CZ_BIND_OPTIONAL 0x1u /* go-zero `optional`: absence is not an error */
#define CZ_BIND_HAS 0x2u      /* set the bool at .has_offset when the field got a value */

typedef struct cz_bind_array {
    void *items; /* n elements of the element type, in the arena; NULL when n == 0 */
    size_t n;
} cz_bind_array_t;

typedef struct cz_bind_field {
    const char *name;          /* the key; NULL ends a table */
    cz_bind_source_t src;
    cz_bind_type_t type;
    size_t offset;             /* offsetof(struct, member) */
    size_t elem_size;          /* ARRAY of OBJECT: sizeof one element (scalars: implied) */
    const struct cz_bind_field *sub; /* OBJECT, ARRAY of OBJECT: the element's table */
    cz_bind_type_t elem_type;  /* ARRAY: element type (not ARRAY) */
    unsigned flags;            /* CZ_BIND_* */
    size_t has_offset;         /* with CZ_BIND_HAS: offsetof a bool member */
    const char *def;           /* go-zero `default=`: text used when absent; arrays "[a,b]" */
    const char *const *options;/* go-zero `options=`: NULL-terminated allowed texts */
    const char *env;           /* go-zero `env=`: a non-empty environment variable wins */
    bool has_range;            /* go-zero `range=`: numeric bounds */
    bool lo_open, hi_open;     /* "(" / ")" exclude the bound */
    double lo, hi;             /* use -INFINITY / INFINITY for an open-ended side */
} cz_bind_field_t;

/** Fill out from req as fields describe. Returns 0; CZ_EPARSE with err naming the field
 *  (messages above) for a request that does not bind, which deserves a 400; CZ_ENOMEM when the
 *  arena is exhausted; CZ_EARG for a table czero cannot serve (message in err) or NULL
 *  arguments. err (may be NULL) receives a NUL-terminated message, truncated to errlen.
 *  On error, out may be partly filled. Runs on the handler's thread; fields is only read. */
CZ_EXTERN int cz_bind(cz_req_t *req, const cz_bind_field_t *fields, void *out, char *err,
                      size_t errlen);

/** cz_bind, and on failure answer: 400 with the message as text (httpx.Error) for
 *  CZ_EPARSE, 503 for CZ_ENOMEM, 500 for CZ_EARG. Returns cz_bind's code: a handler returns
 *  CZ_DONE whenever this is not 0. */
CZ_EXTERN int cz_bind_or_400(cz_req_t *req, cz_res_t *res, const cz_bind_field_t *fields,
                             void *out);

/** A new JSON object holding in's members under their keys (for answering a bound object).
 *  Members with CZ_BIND_HAS whose flag is false are left out; a NULL string is "". The caller
 *  owns the result (json_decref). NULL when out of memory or on a bad table. */
CZ_EXTERN json_t *cz_bind_to_json(const cz_bind_field_t *fields, const void *in);

#ifdef __cplusplus
}
#endif
#endif
