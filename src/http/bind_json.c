/* SPDX-License-Identifier: MIT
 *
 * bind_json.c: the JSON half of request binding (go-zero mapping.UnmarshalJsonMap semantics)
 * and cz_bind_to_json. The body is parsed by jansson in bind.c; here its values are checked
 * against the field table: a field takes only its own JSON kind (processFieldPrimitive), with
 * the hint go-zero gives for a number where a string belongs or a non-array for a slice; array
 * elements convert between strings and numbers as go-zero's fillSliceValue does; a null
 * element stays zero. Nested objects recurse over their sub-table with the full field name.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/bind_int.h"

/* ---- JSON values ---- */

const char *cz__bind_jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "slice";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "null";
    }
}

/* The text of a JSON number, as close to what the client sent as jansson lets us get. */
static size_t num_text(const json_t *v, char *buf, size_t size)
{
    int w;
    if (json_is_integer(v)) {
        w = snprintf(buf, size, "%" PRId64, (int64_t)json_integer_value(v));
    } else {
        double d = json_real_value(v);
        w = snprintf(buf, size, "%.15g", d);
        if (strtod(buf, NULL) != d)
            w = snprintf(buf, size, "%.17g", d);
    }
    return w > 0 ? (size_t)w : 0;
}

/* A JSON scalar into type t. strict: a field (go-zero processFieldPrimitive: same kind only,
 * plus options/range); !strict: an array element (fillSliceValue: strings and numbers convert). */
static int store_json_scalar(cz__bctx_t *c, const cz_bind_field_t *f, cz_bind_type_t t,
                             const cz__bname_t *n, const json_t *v, void *dst, bool strict)
{
    char num[40];
    size_t nl;
    int rc;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (t == CZ_BIND_STRING || !strict)
            return cz__bind_store_text(c, f, t, n, s, len, dst, strict);
        return cz__bind_mismatch(c, n);
    }
    if (json_is_number(v)) {
        nl = num_text(v, num, sizeof num);
        switch (t) {
        case CZ_BIND_STRING:
            if (strict)
                return cz__bind_mismatch_hint(c, n, "string", "number");
            return cz__bind_store_text(c, f, t, n, num, nl, dst, false);
        case CZ_BIND_INT:
        case CZ_BIND_UINT:
            if (json_is_integer(v) && (t == CZ_BIND_INT || json_integer_value(v) >= 0)) {
                json_int_t x = json_integer_value(v);
                if (strict && ((rc = cz__bind_check_options(c, f, n, num, nl)) != 0 ||
                               (rc = cz__bind_check_range(c, f, n, (double)x, num, nl)) != 0))
                    return rc;
                if (t == CZ_BIND_INT) {
                    int64_t i = (int64_t)x;
                    memcpy(dst, &i, sizeof i);
                } else {
                    uint64_t u = (uint64_t)x;
                    memcpy(dst, &u, sizeof u);
                }
                return 0;
            }
            /* 1.5 or -1 here: the same strconv error go-zero reports */
            return cz__bind_conv_error(c, n, t == CZ_BIND_INT ? "ParseInt" : "ParseUint", num, nl,
                              CZ__CONV_SYNTAX);
        case CZ_BIND_FLOAT: {
            double d = json_number_value(v);
            if (strict && ((rc = cz__bind_check_options(c, f, n, num, nl)) != 0 ||
                           (rc = cz__bind_check_range(c, f, n, d, num, nl)) != 0))
                return rc;
            memcpy(dst, &d, sizeof d);
            return 0;
        }
        default:
            return strict ? cz__bind_mismatch_hint(c, n, "bool", "number")
                          : cz__bind_mismatch(c, n);
        }
    }
    if (json_is_boolean(v) && t == CZ_BIND_BOOL) {
        bool b = json_is_true(v);
        if (strict && (rc = cz__bind_check_options(c, f, n, b ? "true" : "false", b ? 4 : 5)) != 0)
            return rc;
        memcpy(dst, &b, sizeof b);
        return 0;
    }
    return cz__bind_mismatch(c, n);
}

static size_t elem_size(const cz_bind_field_t *f)
{
    return f->elem_type == CZ_BIND_OBJECT ? f->elem_size : cz__bind_scalar_size(f->elem_type);
}

static int bind_json_array(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n,
                           const json_t *v, void *dst, int depth)
{
    if (!json_is_array(v))
        return cz__bind_mismatch_hint(c, n, "slice", cz__bind_jtype(v));
    size_t cnt = json_array_size(v), es = elem_size(f);
    cz_bind_array_t arr = {NULL, cnt};
    if (cnt) {
        if (cnt > SIZE_MAX / es || !(arr.items = cz_arena_calloc(c->a, cnt * es)))
            return cz__bind_oom(c);
    }
    for (size_t i = 0; i < cnt; i++) {
        const json_t *e = json_array_get(v, i);
        cz__bname_t en = {n, NULL, i};
        char *edst = (char *)arr.items + i * es;
        int rc;
        if (json_is_null(e))
            continue; /* go-zero leaves a null element zero */
        if (f->elem_type == CZ_BIND_OBJECT) {
            if (!json_is_object(e))
                return cz__bind_mismatch(c, &en);
            rc = cz__bind_object(c, f->sub, e, edst, &en, false, depth + 1);
        } else {
            rc = store_json_scalar(c, f, f->elem_type, &en, e, edst, false);
        }
        if (rc)
            return rc;
    }
    memcpy(dst, &arr, sizeof arr);
    return 0;
}

/* One field's JSON value (present, maybe null). */
static int bind_json_value(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n,
                           const json_t *v, void *base, int depth)
{
    void *dst = (char *)base + f->offset;
    int rc;
    if (json_is_null(v)) {
        if (f->flags & CZ_BIND_OPTIONAL)
            return 0;
        CZ__BIND_NAME(nb, n);
        return cz__bind_fail(c, CZ_EPARSE, "field \"%s\" mustn't be nil", nb);
    }
    switch (f->type) {
    case CZ_BIND_OBJECT:
        if (!json_is_object(v))
            return cz__bind_mismatch(c, n);
        rc = cz__bind_object(c, f->sub, v, dst, n, false, depth + 1);
        break;
    case CZ_BIND_ARRAY:
        rc = bind_json_array(c, f, n, v, dst, depth);
        break;
    default:
        rc = store_json_scalar(c, f, f->type, n, v, dst, true);
        break;
    }
    if (rc == 0)
        cz__bind_set_has(f, base);
    return rc;
}


/* obj NULL: the object is absent, apply defaults. At the top only the JSON fields are this
 * pass's; nested tables are JSON throughout. */
int cz__bind_object(cz__bctx_t *c, const cz_bind_field_t *fields, const json_t *obj, void *out,
                       const cz__bname_t *up, bool top, int depth)
{
    if (depth > CZ__BIND_MAX_DEPTH)
        return cz__bind_bad_table(c, up, "tables nested too deep");
    for (const cz_bind_field_t *f = fields; f->name; f++) {
        if (top && f->src != CZ_BIND_JSON)
            continue;
        cz__bname_t n = {up, f->name, 0};
        int rc = cz__bind_check_field(c, f, &n);
        if (rc)
            return rc;
        if ((rc = cz__bind_env(c, f, &n, out)) != 0) {
            if (rc < 0)
                return rc;
            continue;
        }
        const json_t *v = obj ? json_object_get(obj, f->name) : NULL;
        rc = v ? bind_json_value(c, f, &n, v, out, depth) : cz__bind_absent(c, f, &n, out, depth);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- struct to JSON ---- */

static json_t *scalar_json(cz_bind_type_t t, const void *p)
{
    switch (t) {
    case CZ_BIND_STRING: {
        const char *s;
        memcpy(&s, p, sizeof s);
        return json_string(s ? s : "");
    }
    case CZ_BIND_INT: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        return json_integer((json_int_t)v);
    }
    case CZ_BIND_UINT: {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return v > (uint64_t)INT64_MAX ? json_real((double)v) : json_integer((json_int_t)v);
    }
    case CZ_BIND_FLOAT: {
        double v;
        memcpy(&v, p, sizeof v);
        return isfinite(v) ? json_real(v) : json_null(); /* JSON has no inf/nan */
    }
    case CZ_BIND_BOOL: {
        bool v;
        memcpy(&v, p, sizeof v);
        return json_boolean(v);
    }
    default:
        return NULL;
    }
}

static json_t *to_json(const cz_bind_field_t *fields, const void *in, int depth)
{
    if (!fields || depth > CZ__BIND_MAX_DEPTH)
        return NULL;
    json_t *o = json_object();
    for (const cz_bind_field_t *f = fields; o && f->name; f++) {
        if ((f->flags & CZ_BIND_HAS) && !*(const bool *)((const char *)in + f->has_offset))
            continue;
        const char *p = (const char *)in + f->offset;
        json_t *v = NULL;
        if (f->type == CZ_BIND_OBJECT) {
            v = to_json(f->sub, p, depth + 1);
        } else if (f->type == CZ_BIND_ARRAY) {
            cz_bind_array_t arr;
            memcpy(&arr, p, sizeof arr);
            size_t es = elem_size(f);
            v = es && f->elem_type != CZ_BIND_ARRAY ? json_array() : NULL;
            for (size_t i = 0; v && i < arr.n; i++) {
                const char *ep = (const char *)arr.items + i * es;
                json_t *e = f->elem_type == CZ_BIND_OBJECT ? to_json(f->sub, ep, depth + 1)
                                                           : scalar_json(f->elem_type, ep);
                if (json_array_append_new(v, e) != 0) {
                    json_decref(v);
                    v = NULL;
                }
            }
        } else {
            v = scalar_json(f->type, p);
        }
        if (json_object_set_new(o, f->name, v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

json_t *cz_bind_to_json(const cz_bind_field_t *fields, const void *in)
{
    return in ? to_json(fields, in, 0) : NULL;
}
