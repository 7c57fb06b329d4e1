/* SPDX-License-Identifier: MIT
 *
 * bind.c: request binding (go-zero rest/httpx/requests.go Parse over core/mapping's
 * Unmarshaler), driven by a static cz_bind_field_t table instead of reflection and struct tags.
 *
 * The passes run in go-zero's order (ParsePath, ParseForm, ParseHeaders, ParseJsonBody); each
 * looks only at the fields of its source. Text sources (path, form, header, env, defaults) go
 * through one converter that mirrors Go's strconv; JSON values are checked by type the way
 * mapping.processFieldPrimitive does. Field names in messages are built only when an error is
 * reported, from a chain of stack frames, so a successful bind formats nothing. JSON values and
 * cz_bind_to_json live in bind_json.c (bind_int.h joins the two). Only the public request
 * accessors are used, never the engine's internals.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http/bind_int.h"

/* ---- messages ---- */

size_t cz__bind_name(const cz__bname_t *n, char *buf, size_t size)
{
    if (!n) {
        if (size)
            buf[0] = '\0';
        return 0;
    }
    size_t len = cz__bind_name(n->up, buf, size);
    if (len >= size)
        return len;
    int w;
    if (n->key)
        w = snprintf(buf + len, size - len, "%s%s", len ? "." : "", n->key);
    else
        w = snprintf(buf + len, size - len, "[%zu]", n->idx);
    return len + (w > 0 ? (size_t)w : 0);
}

/* Go's %q, shortened: escapes quotes, backslashes and non-printable bytes; long texts end in
 * "..." so a hostile value cannot flood the message. */
static const char *quote(char *buf, size_t size, const char *s, size_t n)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (o + 8 >= size) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

int cz__bind_fail(cz__bctx_t *c, int rc, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int cz__bind_oom(cz__bctx_t *c) { return cz__bind_fail(c, CZ_ENOMEM, "out of memory"); }

static int not_set(cz__bctx_t *c, const cz__bname_t *n)
{
    CZ__BIND_NAME(nb, n);
    return cz__bind_fail(c, CZ_EPARSE, "field \"%s\" is not set", nb);
}

int cz__bind_mismatch(cz__bctx_t *c, const cz__bname_t *n)
{
    CZ__BIND_NAME(nb, n);
    return cz__bind_fail(c, CZ_EPARSE, "type mismatch for field \"%s\"", nb);
}

int cz__bind_mismatch_hint(cz__bctx_t *c, const cz__bname_t *n, const char *expect,
                           const char *actual)
{
    CZ__BIND_NAME(nb, n);
    return cz__bind_fail(c, CZ_EPARSE,
                         "type mismatch for field \"%s\", expect \"%s\", actual \"%s\"",
                         nb, expect, actual);
}

int cz__bind_bad_table(cz__bctx_t *c, const cz__bname_t *n, const char *what)
{
    CZ__BIND_NAME(nb, n);
    return cz__bind_fail(c, CZ_EARG, "field \"%s\": %s", nb, what);
}


/* ---- text to values, as Go's strconv ---- */

static int parse_u64(const char *s, size_t n, uint64_t *v)
{
    if (n == 0)
        return CZ__CONV_SYNTAX;
    uint64_t x = 0;
    bool over = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CZ__CONV_SYNTAX;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            over = true; /* keep scanning: a later non-digit is a syntax error first */
        else
            x = x * 10 + d;
    }
    if (over)
        return CZ__CONV_RANGE;
    *v = x;
    return CZ__CONV_OK;
}

static int parse_i64(const char *s, size_t n, int64_t *v)
{
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s++, n--;
    }
    uint64_t u;
    int rc = parse_u64(s, n, &u);
    if (rc)
        return rc;
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX)
        return CZ__CONV_RANGE;
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    return CZ__CONV_OK;
}

static int parse_f64(const char *s, size_t n, double *v)
{
    char tmp[128];
    if (n == 0 || n >= sizeof tmp || memchr(s, '(', n) || memchr(s, '\0', n))
        return CZ__CONV_SYNTAX; /* a longer number text is not something a client needs */
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
        return CZ__CONV_SYNTAX;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(tmp, &end);
    if (end != tmp + n)
        return CZ__CONV_SYNTAX;
    if (errno == ERANGE && isinf(d))
        return CZ__CONV_RANGE; /* overflow; Go's ParseFloat accepts underflow too */
    *v = d;
    return CZ__CONV_OK;
}

static int parse_bool(const char *s, size_t n, bool *v)
{
    if ((n == 1 && s[0] == '1') || (n == 4 && strncasecmp(s, "true", 4) == 0)) {
        *v = true;
        return CZ__CONV_OK;
    }
    if ((n == 1 && s[0] == '0') || (n == 5 && strncasecmp(s, "false", 5) == 0)) {
        *v = false;
        return CZ__CONV_OK;
    }
    return CZ__CONV_SYNTAX;
}

int cz__bind_conv_error(cz__bctx_t *c, const cz__bname_t *n, const char *fn, const char *s,
                        size_t len, int why)
{
    CZ__BIND_NAME(nb, n);
    char q[96];
    return cz__bind_fail(c, CZ_EPARSE, "field \"%s\": strconv.%s: parsing %s: %s", nb, fn,
                         quote(q, sizeof q, s, len),
                         why == CZ__CONV_RANGE ? "value out of range" : "invalid syntax");
}

/* ---- checks: options=, range= ---- */

int cz__bind_check_options(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n,
                           const char *s, size_t len)
{
    if (!f->options || !f->options[0])
        return 0;
    for (const char *const *o = f->options; *o; o++)
        if (strlen(*o) == len && memcmp(*o, s, len) == 0)
            return 0;
    char list[256];
    size_t o = 0;
    list[o++] = '[';
    for (const char *const *opt = f->options; *opt && o < sizeof list - 2; opt++) {
        int w = snprintf(list + o, sizeof list - 1 - o, "%s%s", opt == f->options ? "" : " ", *opt);
        o += w > 0 ? (size_t)w : 0;
        if (o > sizeof list - 2)
            o = sizeof list - 2;
    }
    list[o++] = ']';
    list[o] = '\0';
    CZ__BIND_NAME(nb, n);
    char q[96];
    return cz__bind_fail(c, CZ_EPARSE, "value %s for field \"%s\" is not defined in options \"%s\"",
                quote(q, sizeof q, s, len), nb, list);
}

int cz__bind_check_range(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n, double v,
                       const char *s, size_t len)
{
    if (!f->has_range)
        return 0;
    /* go-zero mapping.validateNumberRange */
    bool low = f->lo_open ? v <= f->lo : v < f->lo;
    bool high = f->hi_open ? v >= f->hi : v > f->hi;
    if (!low && !high && !isnan(v))
        return 0;
    char lo[32] = "", hi[32] = "";
    if (!isinf(f->lo))
        snprintf(lo, sizeof lo, "%g", f->lo);
    if (!isinf(f->hi))
        snprintf(hi, sizeof hi, "%g", f->hi);
    CZ__BIND_NAME(nb, n);
    char q[96];
    return cz__bind_fail(c, CZ_EPARSE, "value %s for field \"%s\" is out of range %c%s:%s%c",
                quote(q, sizeof q, s, len), nb, f->lo_open ? '(' : '[', lo, hi,
                f->hi_open ? ')' : ']');
}

/* ---- storing one scalar ---- */

size_t cz__bind_scalar_size(cz_bind_type_t t)
{
    switch (t) {
    case CZ_BIND_STRING: return sizeof(char *);
    case CZ_BIND_INT: return sizeof(int64_t);
    case CZ_BIND_UINT: return sizeof(uint64_t);
    case CZ_BIND_FLOAT: return sizeof(double);
    case CZ_BIND_BOOL: return sizeof(bool);
    default: return 0;
    }
}

static int store_string(cz__bctx_t *c, const char *s, size_t len, void *dst)
{
    cz_str_t copy = cz_arena_strdup(c->a, (cz_str_t){s, len});
    if (!copy.p)
        return cz__bind_oom(c);
    *(const char **)dst = copy.p;
    return 0;
}

/* Text (path, form, header, env, default, JSON array element) to type t at dst. check: apply
 * options= and range= (go-zero checks neither on defaults nor on array elements). */
int cz__bind_store_text(cz__bctx_t *c, const cz_bind_field_t *f, cz_bind_type_t t,
                        const cz__bname_t *n, const char *s, size_t len, void *dst, bool check)
{
    int rc;
    if (check && (rc = cz__bind_check_options(c, f, n, s, len)) != 0)
        return rc;
    switch (t) {
    case CZ_BIND_STRING:
        return store_string(c, s, len, dst);
    case CZ_BIND_INT: {
        int64_t v;
        if ((rc = parse_i64(s, len, &v)) != 0)
            return cz__bind_conv_error(c, n, "ParseInt", s, len, rc);
        if (check && (rc = cz__bind_check_range(c, f, n, (double)v, s, len)) != 0)
            return rc;
        memcpy(dst, &v, sizeof v);
        return 0;
    }
    case CZ_BIND_UINT: {
        uint64_t v;
        if ((rc = parse_u64(s, len, &v)) != 0)
            return cz__bind_conv_error(c, n, "ParseUint", s, len, rc);
        if (check && (rc = cz__bind_check_range(c, f, n, (double)v, s, len)) != 0)
            return rc;
        memcpy(dst, &v, sizeof v);
        return 0;
    }
    case CZ_BIND_FLOAT: {
        double v;
        if ((rc = parse_f64(s, len, &v)) != 0)
            return cz__bind_conv_error(c, n, "ParseFloat", s, len, rc);
        if (check && (rc = cz__bind_check_range(c, f, n, v, s, len)) != 0)
            return rc;
        memcpy(dst, &v, sizeof v);
        return 0;
    }
    case CZ_BIND_BOOL: {
        bool v;
        if (parse_bool(s, len, &v) != 0)
            return cz__bind_mismatch(c, n); /* go-zero: errTypeMismatch */
        memcpy(dst, &v, sizeof v);
        return 0;
    }
    default:
        return cz__bind_mismatch(c, n);
    }
}

void cz__bind_set_has(const cz_bind_field_t *f, void *base)
{
    if (f->flags & CZ_BIND_HAS)
        *(bool *)((char *)base + f->has_offset) = true;
}

/* ---- text sources ---- */

/* A list of text values of one field (several for arrays from form or headers). */
typedef struct tvals {
    cz_str_t *v;
    size_t n;
} tvals_t;

static int bind_text_values(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n,
                            tvals_t tv, void *base)
{
    void *dst = (char *)base + f->offset;
    int rc;
    if (f->type == CZ_BIND_ARRAY) {
        if (f->elem_type == CZ_BIND_OBJECT)
            return cz__bind_mismatch(c, n); /* objects come only from JSON */
        size_t es = cz__bind_scalar_size(f->elem_type);
        cz_bind_array_t arr = {cz_arena_calloc(c->a, tv.n * es), tv.n};
        if (!arr.items)
            return cz__bind_oom(c);
        for (size_t i = 0; i < tv.n; i++) {
            cz__bname_t en = {n, NULL, i};
            rc = cz__bind_store_text(c, f, f->elem_type, &en, tv.v[i].p, tv.v[i].n,
                            (char *)arr.items + i * es, false);
            if (rc)
                return rc;
        }
        memcpy(dst, &arr, sizeof arr);
    } else if (f->type == CZ_BIND_OBJECT) {
        return cz__bind_mismatch(c, n);
    } else if ((rc = cz__bind_store_text(c, f, f->type, n, tv.v[0].p, tv.v[0].n, dst, true)) != 0) {
        return rc;
    }
    cz__bind_set_has(f, base);
    return 0;
}

/* env=: a non-empty variable wins over the request (go-zero processFieldWithEnvValue). 1 when
 * it did (the value is bound), 0 when unset, or an error. */
int cz__bind_env(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n, void *base)
{
    const char *e = f->env && f->type != CZ_BIND_OBJECT ? getenv(f->env) : NULL;
    if (!e || !*e)
        return 0;
    cz_str_t one = cz_str_c(e);
    int rc = bind_text_values(c, f, n, (tvals_t){&one, 1}, base);
    return rc ? rc : 1;
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decode the form-encoded byte at p[*i] ('+' is a space, %XX a byte; a bad escape stays as it
 * is, as the engine's query decoder does) and advance *i. */
static char form_char(const char *p, size_t n, size_t *i)
{
    char ch = p[*i];
    if (ch == '+') {
        ch = ' ';
    } else if (ch == '%' && *i + 2 < n && hexval((unsigned char)p[*i + 1]) >= 0 &&
               hexval((unsigned char)p[*i + 2]) >= 0) {
        ch = (char)(hexval((unsigned char)p[*i + 1]) * 16 + hexval((unsigned char)p[*i + 2]));
        *i += 2;
    }
    (*i)++;
    return ch;
}

/* Does the encoded key p[0..n) decode to key or key"[]" (go-zero's bracket notation)? */
static bool form_key_eq(const char *p, size_t n, const char *key, size_t kn)
{
    size_t i = 0, k = 0;
    while (i < n && k < kn)
        if (form_char(p, n, &i) != key[k++])
            return false;
    if (k < kn)
        return false;
    if (i == n)
        return true;
    return form_char(p, n, &i) == '[' && i < n && form_char(p, n, &i) == ']' && i == n;
}

static cz_str_t form_decode(cz__bctx_t *c, const char *p, size_t n)
{
    char *out = cz_arena_alloc(c->a, n + 1);
    if (!out)
        return CZ_STR_NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;)
        out[o++] = form_char(p, n, &i);
    out[o] = '\0';
    return (cz_str_t){out, o};
}

/* Visit the non-empty values of key in the form parts, in order; fills vals[0..max) when vals
 * is set and returns how many there are, or -1 when out of memory. */
static long form_scan(cz__bctx_t *c, const cz_str_t *parts, int nparts, const char *key,
                      cz_str_t *vals, size_t max)
{
    size_t kn = strlen(key), cnt = 0;
    for (int pi = 0; pi < nparts; pi++) {
        const char *p = parts[pi].p, *end = p + parts[pi].n;
        while (p < end) {
            const char *amp = memchr(p, '&', (size_t)(end - p));
            if (!amp)
                amp = end;
            const char *eq = memchr(p, '=', (size_t)(amp - p));
            if (eq && eq + 1 < amp && form_key_eq(p, (size_t)(eq - p), key, kn)) {
                if (vals && cnt < max) {
                    vals[cnt] = form_decode(c, eq + 1, (size_t)(amp - eq - 1));
                    if (!vals[cnt].p)
                        return -1;
                }
                if (++cnt == max)
                    return (long)cnt;
            }
            p = amp + 1;
        }
    }
    return (long)cnt;
}

static bool ct_contains(cz_req_t *req, const char *what)
{
    cz_str_t ct = cz_req_header(req, "Content-Type");
    size_t wn = strlen(what);
    return ct.p && ct.n >= wn && memmem(ct.p, ct.n, what, wn) != NULL;
}

/* Query string, plus a urlencoded body for POST/PUT/PATCH (Go's ParseForm), body first. */
static int form_parts(cz_req_t *req, cz_str_t parts[2])
{
    int np = 0;
    cz_str_t m = cz_req_method(req), body = cz_req_body(req);
    if (body.n && (cz_str_eq_c(m, "POST") || cz_str_eq_c(m, "PUT") || cz_str_eq_c(m, "PATCH")) &&
        ct_contains(req, "application/x-www-form-urlencoded"))
        parts[np++] = body;
    cz_str_t q = cz_req_query_string(req);
    if (q.n)
        parts[np++] = q;
    return np;
}

static int bind_text_field(cz__bctx_t *c, const cz_bind_field_t *f, void *base, const cz_str_t *fp,
                           int nfp)
{
    cz__bname_t n = {NULL, f->name, 0};
    cz_str_t one;
    tvals_t tv = {&one, 0};
    bool many = f->type == CZ_BIND_ARRAY;
    int rc = cz__bind_env(c, f, &n, base);
    if (rc)
        return rc < 0 ? rc : 0;
    switch (f->src) {
    case CZ_BIND_PATH:
        one = cz_req_param(c->req, f->name);
        tv.n = one.p != NULL;
        break;
    case CZ_BIND_HEADER: {
        size_t hc = cz_req_header_count(c->req), kn = strlen(f->name);
        for (size_t i = 0; i < hc; i++) {
            cz_str_t hn, hv;
            cz_req_header_at(c->req, i, &hn, &hv);
            if (hn.n != kn || strncasecmp(hn.p, f->name, kn) != 0)
                continue;
            if (tv.n == 1) { /* a second value for an array: move to an arena list */
                cz_str_t *list = cz_arena_alloc(c->a, sizeof *list * hc);
                if (!list)
                    return cz__bind_oom(c);
                list[0] = one;
                tv.v = list;
            }
            tv.v[tv.n++] = hv;
            if (!many)
                break;
        }
        break;
    }
    case CZ_BIND_FORM: {
        long cnt = form_scan(c, fp, nfp, f->name, NULL, many ? 0 : 1);
        if (cnt > 0 && (!many || cnt == 1)) {
            if (form_scan(c, fp, nfp, f->name, &one, 1) < 0)
                return cz__bind_oom(c);
            tv.n = 1;
        } else if (cnt > 1) {
            tv.v = cz_arena_alloc(c->a, sizeof *tv.v * (size_t)cnt);
            if (!tv.v || form_scan(c, fp, nfp, f->name, tv.v, (size_t)cnt) < 0)
                return cz__bind_oom(c);
            tv.n = (size_t)cnt;
        }
        break;
    }
    default:
        return 0;
    }
    if (tv.n == 0)
        return cz__bind_absent(c, f, &n, base, 0);
    return bind_text_values(c, f, &n, tv, base);
}

/* ---- absent fields: default=, optional, nested defaults ---- */

static bool sub_required(const cz_bind_field_t *fields, int depth)
{
    if (depth > CZ__BIND_MAX_DEPTH || !fields)
        return false;
    for (const cz_bind_field_t *f = fields; f->name; f++) {
        if ((f->flags & CZ_BIND_OPTIONAL) || f->def)
            continue;
        if (f->type != CZ_BIND_OBJECT || sub_required(f->sub, depth + 1))
            return true;
    }
    return false;
}

static int apply_default(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n, void *base)
{
    void *dst = (char *)base + f->offset;
    const char *d = f->def;
    int rc = 0;
    if (f->type == CZ_BIND_ARRAY) {
        /* "[a,b]" or "a,b" (go-zero parseGroupedSegments; JSON arrays of numbers split too) */
        size_t len = strlen(d);
        if (len >= 2 && d[0] == '[' && d[len - 1] == ']')
            d++, len -= 2;
        size_t cnt = 0;
        for (size_t i = 0; i < len; i++)
            cnt += d[i] == ',';
        cnt = len ? cnt + 1 : 0;
        size_t es = cz__bind_scalar_size(f->elem_type);
        cz_bind_array_t arr = {NULL, cnt};
        if (cnt && !(arr.items = cz_arena_calloc(c->a, cnt * es)))
            return cz__bind_oom(c);
        const char *p = d, *end = d + len;
        for (size_t i = 0; i < cnt && rc == 0; i++) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *e = comma ? comma : end;
            const char *s = p;
            while (s < e && *s == ' ')
                s++;
            const char *t = e;
            while (t > s && t[-1] == ' ')
                t--;
            if (t - s >= 2 && *s == '"' && t[-1] == '"')
                s++, t--; /* JSON string items */
            cz__bname_t en = {n, NULL, i};
            rc = cz__bind_store_text(c, f, f->elem_type, &en, s, (size_t)(t - s),
                            (char *)arr.items + i * es, false);
            p = e + 1;
        }
        if (rc == 0)
            memcpy(dst, &arr, sizeof arr);
    } else {
        rc = cz__bind_store_text(c, f, f->type, n, d, strlen(d), dst, false);
    }
    if (rc == CZ_EPARSE) {
        CZ__BIND_NAME(nb, n);
        return cz__bind_fail(c, CZ_EARG, "field \"%s\": default \"%s\" does not convert", nb,
                             f->def);
    }
    if (rc == 0)
        cz__bind_set_has(f, base);
    return rc;
}

int cz__bind_absent(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n, void *base,
                    int depth)
{
    if (f->def && f->type != CZ_BIND_OBJECT)
        return apply_default(c, f, n, base);
    if (f->flags & CZ_BIND_OPTIONAL)
        return 0;
    if (f->type == CZ_BIND_OBJECT && !sub_required(f->sub, depth + 1))
        return cz__bind_object(c, f->sub, NULL, (char *)base + f->offset, n, false, depth + 1);
    return not_set(c, n);
}

int cz__bind_check_field(cz__bctx_t *c, const cz_bind_field_t *f, const cz__bname_t *n)
{
    if (f->src > CZ_BIND_HEADER)
        return cz__bind_bad_table(c, n, "unknown source");
    if (f->type > CZ_BIND_OBJECT)
        return cz__bind_bad_table(c, n, "unknown type");
    if (f->type == CZ_BIND_OBJECT && !f->sub)
        return cz__bind_bad_table(c, n, "OBJECT needs .sub");
    if (f->type == CZ_BIND_ARRAY) {
        if (f->elem_type == CZ_BIND_ARRAY || f->elem_type > CZ_BIND_OBJECT)
            return cz__bind_bad_table(c, n, "unsupported array element type");
        if (f->elem_type == CZ_BIND_OBJECT && (!f->sub || !f->elem_size))
            return cz__bind_bad_table(c, n, "array of OBJECT needs .sub and .elem_size");
    }
    return 0;
}

/* ---- entry points ---- */

int cz_bind(cz_req_t *req, const cz_bind_field_t *fields, void *out, char *err, size_t errlen)
{
    cz__bctx_t c = {req, req ? cz_req_arena(req) : NULL, err, errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!req || !fields || !out)
        return cz__bind_fail(&c, CZ_EARG, "cz_bind: NULL argument");

    cz_str_t fp[2];
    int nfp = -1;
    bool has_json = false;
    static const cz_bind_source_t order[] = {CZ_BIND_PATH, CZ_BIND_FORM, CZ_BIND_HEADER};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        for (const cz_bind_field_t *f = fields; f->name; f++) {
            cz__bname_t n = {NULL, f->name, 0};
            int rc;
            if (o == 0 && (rc = cz__bind_check_field(&c, f, &n)) != 0)
                return rc;
            if (f->src == CZ_BIND_JSON) {
                has_json = true;
                continue;
            }
            if (f->src != order[o])
                continue;
            if (f->src == CZ_BIND_FORM && nfp < 0)
                nfp = form_parts(req, fp);
            if ((rc = bind_text_field(&c, f, out, fp, nfp < 0 ? 0 : nfp)) != 0)
                return rc;
        }
    }
    if (!has_json)
        return 0; /* go-zero would still parse a JSON body here only to drop it */

    /* go-zero withJsonBody: ContentLength > 0 and Content-Type contains application/json */
    cz_str_t body = cz_req_body(req);
    json_t *root = NULL;
    if (body.n && ct_contains(req, "application/json")) {
        json_error_t je;
        root = json_loadb(body.p, body.n, 0, &je);
        if (!root)
            return cz__bind_fail(&c, CZ_EPARSE, "invalid JSON body: %s", je.text);
        if (!json_is_object(root)) {
            int rc = cz__bind_fail(&c, CZ_EPARSE, "invalid JSON body: expect an object, got %s",
                          cz__bind_jtype(root));
            json_decref(root);
            return rc;
        }
    }
    int rc = cz__bind_object(&c, fields, root, out, NULL, true, 0);
    json_decref(root);
    return rc;
}

int cz_bind_or_400(cz_req_t *req, cz_res_t *res, const cz_bind_field_t *fields, void *out)
{
    char err[512];
    int rc = cz_bind(req, fields, out, err, sizeof err);
    if (rc == CZ_EPARSE)
        cz_res_error(res, 400, err);
    else if (rc == CZ_ENOMEM)
        cz_res_error(res, 503, cz_status_text(503));
    else if (rc)
        cz_res_error(res, 500, cz_status_text(500));
    return rc;
}
