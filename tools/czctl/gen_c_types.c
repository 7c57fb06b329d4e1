/* SPDX-License-Identifier: MIT
 *
 * gen_c_types.c: .api types to C: the model, and internal/types/types.{h,c}.
 *
 * Each .api struct becomes `typedef struct {...} name_t`, a `name_fields[]` cz_bind table
 * (include/czero/bind.h) carrying the tag options as validation (optional, default=, options=,
 * range=, env=), and `json_t *name_to_json(const name_t *)`. Go's types map to what the binder
 * serves: string -> char *, intN -> int64_t, uintN -> uint64_t, floatN -> double, bool, named
 * structs and struct literals -> nested structs, slices and arrays -> cz_bind_array_t. Aliases
 * (`type A = string`, `type N int64`) resolve to their underlying type; embedded structs are
 * flattened (outer fields shadow, as in Go). What the binder cannot express (maps, interface{},
 * time.Time, nested slices, recursive types) is a `json_t *` member: not bound, encoded as is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "gen_c.h"
#include "gen_util.h"

/* cz_bind_source_t values, in the order of src_name() */
enum { SRC_JSON, SRC_PATH, SRC_FORM, SRC_HEADER };

cz__gtype_t *cz__gen_type(cz__gen_t *g, const char *name)
{
    for (cz__gtype_t *t = g->types; t; t = t->next)
        if (!strcmp(t->name, name))
            return t;
    return NULL;
}

/* A type becomes name_t: keep clear of the _t names a generated file already sees (C and
 * POSIX headers, jansson, the scaffolded config and service context). */
static const char *type_cname(cz_arena_t *a, const char *name)
{
    static const char *const taken[] = {
        "size", "ssize", "time", "clock", "mode", "off", "pid", "uid", "gid", "dev", "ino",
        "nlink", "blksize", "blkcnt", "key", "id", "useconds", "suseconds", "socklen", "sigset",
        "wchar", "wint", "ptrdiff", "intptr", "uintptr", "intmax", "uintmax", "int8", "int16",
        "int32", "int64", "uint8", "uint16", "uint32", "uint64", "fpos", "max_align", "json",
        "json_int", "json_error", "config", "service_context", "jwt_auth_conf", "timer",
        "jwt_trans_conf", "api_jwt_auth", "api_jwt_trans",
        "clockid", "locale", "fsblkcnt", "fsfilcnt", "caddr", "daddr", "loff", "register",
        "u_char", "u_short", "u_int", "u_long", "quad", "u_quad", "fsid", NULL};
    const char *c = cz__gen_cident(a, name);
    if (!c)
        return NULL;
    if (!strncmp(c, "cz_", 3) || !strncmp(c, "uv_", 3) || !strncmp(c, "pthread", 7))
        return cz_arena_sprintf(a, "%s_", c);
    for (int i = 0; taken[i]; i++)
        if (!strcmp(c, taken[i]))
            return cz_arena_sprintf(a, "%s_", c);
    return c;
}

static cz__gtype_t *new_type(cz__gen_t *g, const char *name, const cz_api_type_t *st)
{
    cz__gtype_t *t = cz_arena_calloc(g->a, sizeof *t);
    if (!t)
        return NULL;
    t->name = name;
    t->cname = type_cname(g->a, name);
    t->st = st;
    t->next = g->types;
    g->types = t;
    return t;
}

static int build(cz__gen_t *g, cz__gtype_t *t);

static int scalar(const char *n, cz__gkind_t *k)
{
    static const struct { const char *name; cz__gkind_t kind; } tab[] = {
        {"string", CZ__GK_STRING}, {"bool", CZ__GK_BOOL},    {"int", CZ__GK_INT},
        {"int8", CZ__GK_INT},      {"int16", CZ__GK_INT},    {"int32", CZ__GK_INT},
        {"int64", CZ__GK_INT},     {"rune", CZ__GK_INT},     {"uint", CZ__GK_UINT},
        {"uint8", CZ__GK_UINT},    {"uint16", CZ__GK_UINT},  {"uint32", CZ__GK_UINT},
        {"uint64", CZ__GK_UINT},   {"byte", CZ__GK_UINT},    {"uintptr", CZ__GK_UINT},
        {"float32", CZ__GK_FLOAT}, {"float64", CZ__GK_FLOAT},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(tab[i].name, n))
            return *k = tab[i].kind, 1;
    return 0;
}

/* f holds o by value, o built first; a type still being built (recursion) cannot nest by value
 * and is kept as raw JSON. */
static int nest(cz__gen_t *g, cz__gtype_t *o, cz__gfield_t *f)
{
    if (o->state == 1)
        return f->kind = CZ__GK_JSON, 0;
    int rc = build(g, o);
    if (rc)
        return rc;
    f->kind = CZ__GK_OBJECT;
    f->obj = o;
    return 0;
}

/* Fill f->kind/array/obj from t. parent and goname name a struct literal's synthetic type. */
static int map_type(cz__gen_t *g, const cz__gtype_t *parent, const char *goname,
                    const cz_api_type_t *t, cz__gfield_t *f, int depth)
{
    if (depth > 16)
        return f->kind = CZ__GK_JSON, 0;
    switch (t->kind) {
    case CZ_API_T_POINTER:
        return map_type(g, parent, goname, t->elem, f, depth + 1);
    case CZ_API_T_IDENT: {
        if (scalar(t->name, &f->kind))
            return 0;
        if (!strcmp(t->name, "any"))
            return f->kind = CZ__GK_JSON, 0;
        const cz_api_typedecl_t *d = cz__gen_find_type(g->api, t->name);
        if (!d)
            return f->kind = CZ__GK_JSON, 0; /* time.Time and other outside types */
        if (d->type->kind == CZ_API_T_STRUCT) {
            cz__gtype_t *o = cz__gen_type(g, d->name);
            return o ? nest(g, o, f) : (f->kind = CZ__GK_JSON, 0);
        }
        return map_type(g, parent, goname, d->type, f, depth + 1);
    }
    case CZ_API_T_SLICE:
    case CZ_API_T_ARRAY: {
        if (f->array)
            return f->kind = CZ__GK_JSON, f->array = 0, 0;
        const cz_api_type_t *e = t->elem;
        if (e->kind == CZ_API_T_IDENT && (!strcmp(e->name, "byte") || !strcmp(e->name, "uint8")))
            return f->kind = CZ__GK_STRING, 0; /* Go encodes []byte as a string */
        f->array = 1;
        int rc = map_type(g, parent, goname, e, f, depth + 1);
        if (rc == 0 && f->kind == CZ__GK_JSON)
            f->array = 0;
        return rc;
    }
    case CZ_API_T_STRUCT: {
        char *name = cz_arena_sprintf(g->a, "%s%s", parent->name, goname);
        if (!name)
            return CZ_ENOMEM;
        cz__gtype_t *o = cz__gen_type(g, name);
        if (!o && !(o = new_type(g, name, t)))
            return CZ_ENOMEM;
        return nest(g, o, f);
    }
    default:
        return f->kind = CZ__GK_JSON, 0;
    }
}

static int has_member(const cz__gtype_t *t, const char *cname)
{
    for (const cz__gfield_t *f = t->fields; f; f = f->next)
        if (!strcmp(f->cname, cname))
            return 1;
    return 0;
}

/* Go's rule: an outer field shadows an embedded one of the same name, wherever it is. */
static int outer_has(const cz_api_type_t *st, const char *goname)
{
    for (const cz_api_field_t *af = st->fields; af; af = af->next)
        for (int i = 0; i < af->nnames; i++)
            if (!strcmp(af->names[i], goname))
                return 1;
    return 0;
}

static const cz_api_tag_t *bind_tag(const cz_api_field_t *af)
{
    for (const cz_api_tag_t *tg = af->tags; tg; tg = tg->next)
        if (!strcmp(tg->key, "path") || !strcmp(tg->key, "form") || !strcmp(tg->key, "header") ||
            !strcmp(tg->key, "json"))
            return tg;
    return NULL;
}

static int build(cz__gen_t *g, cz__gtype_t *t)
{
    if (t->state)
        return 0;
    t->state = 1;
    cz__gfield_t *head = NULL, *last = NULL;
#define ADD(f)                                                                                     \
    do {                                                                                           \
        (f)->next = NULL;                                                                          \
        if (last)                                                                                  \
            last->next = (f);                                                                      \
        else                                                                                       \
            head = (f);                                                                            \
        last = (f);                                                                                \
        t->fields = head;                                                                          \
    } while (0)
    for (const cz_api_field_t *af = t->st->fields; af; af = af->next) {
        const cz_api_tag_t *tag = bind_tag(af);
        if (tag && !strcmp(tag->key, "json") && !strcmp(tag->name, "-"))
            continue;
        if (!af->names) { /* embedded: flatten */
            const cz_api_type_t *et = af->type;
            while (et->kind == CZ_API_T_POINTER)
                et = et->elem;
            cz__gtype_t *o = et->kind == CZ_API_T_IDENT ? cz__gen_type(g, et->name) : NULL;
            if (!o || o->state == 1)
                continue;
            int rc = build(g, o);
            if (rc)
                return rc;
            for (const cz__gfield_t *ef = o->fields; ef; ef = ef->next) {
                if (outer_has(t->st, ef->goname) || has_member(t, ef->cname))
                    continue;
                cz__gfield_t *f = cz_arena_alloc(g->a, sizeof *f);
                if (!f)
                    return CZ_ENOMEM;
                *f = *ef;
                ADD(f);
            }
            continue;
        }
        for (int i = 0; i < af->nnames; i++) {
            cz__gfield_t *f = cz_arena_calloc(g->a, sizeof *f);
            if (!f)
                return CZ_ENOMEM;
            f->goname = af->names[i];
            f->cname = cz__gen_cident(g->a, af->names[i]);
            f->tag = tag;
            f->key = tag && tag->name[0] ? tag->name : af->names[i];
            f->src = !tag ? SRC_JSON
                     : !strcmp(tag->key, "path") ? SRC_PATH
                     : !strcmp(tag->key, "form") ? SRC_FORM
                     : !strcmp(tag->key, "header") ? SRC_HEADER
                                                   : SRC_JSON;
            f->gospell = cz_api_type_str(g->a, af->type);
            if (!f->cname || !f->gospell)
                return CZ_ENOMEM;
            int rc = map_type(g, t, af->names[i], af->type, f, 0);
            if (rc)
                return rc;
            if (has_member(t, f->cname))
                continue;
            ADD(f);
        }
    }
#undef ADD
    t->state = 2;
    if (g->emit_tail)
        g->emit_tail->enext = t;
    else
        g->emit = t;
    g->emit_tail = t;
    return 0;
}

int cz__gen_model(cz__gen_t *g)
{
    for (const cz_api_file_t *f = g->api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next)
            if (s->kind == CZ_API_S_TYPE)
                for (const cz_api_typedecl_t *d = s->types; d; d = d->next)
                    if (d->type->kind == CZ_API_T_STRUCT && !new_type(g, d->name, d->type))
                        return CZ_ENOMEM;
    /* build in declaration order (the list is reversed: walk the declarations again) */
    for (const cz_api_file_t *f = g->api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next)
            if (s->kind == CZ_API_S_TYPE)
                for (const cz_api_typedecl_t *d = s->types; d; d = d->next) {
                    cz__gtype_t *t = d->type->kind == CZ_API_T_STRUCT ? cz__gen_type(g, d->name)
                                                                       : NULL;
                    int rc = t ? build(g, t) : 0;
                    if (rc)
                        return rc;
                }
    return 0;
}

/* ---- types.h ---- */

static const char *ctype(const cz__gfield_t *f, cz_arena_t *a)
{
    if (f->array)
        return "cz_bind_array_t";
    switch (f->kind) {
    case CZ__GK_STRING: return "char *";
    case CZ__GK_INT: return "int64_t";
    case CZ__GK_UINT: return "uint64_t";
    case CZ__GK_FLOAT: return "double";
    case CZ__GK_BOOL: return "bool";
    case CZ__GK_OBJECT: return cz_arena_sprintf(a, "%s_t", f->obj->cname);
    default: return "json_t *";
    }
}

static const char *elem_ctype(const cz__gfield_t *f, cz_arena_t *a)
{
    cz__gfield_t e = *f;
    e.array = 0;
    return ctype(&e, a);
}

static void emit_header(cz__gen_t *g, FILE *o)
{
    fputs(CZ__GEN_MARK "/*\n * types.h: the request and response types of the .api file, with "
                       "their "
          "binding tables\n * (cz_bind, include/czero/bind.h) and JSON encoders.\n"
          " *\n * Strings and arrays filled by cz_bind live in the request's arena. json_t * "
          "members hold\n * what the binder cannot express (maps, interface{}, time.Time...): "
          "they are not bound,\n * and an encoder borrows them (takes its own reference).\n */\n"
          "#ifndef TYPES_TYPES_H\n#define TYPES_TYPES_H\n\n"
          "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n"
          "#include <jansson.h>\n#include <czero/bind.h>\n\n",
          o);
    for (const cz__gtype_t *t = g->emit; t; t = t->enext) {
        fprintf(o, "/* %s */\ntypedef struct %s {\n", t->name, t->cname);
        if (!t->fields)
            fputs("    char unused_; /* an empty .api struct; C needs a member */\n", o);
        for (const cz__gfield_t *f = t->fields; f; f = f->next) {
            const char *ct = ctype(f, g->a);
            fprintf(o, "    %s%s%s;", ct, ct[strlen(ct) - 1] == '*' ? "" : " ", f->cname);
            if (f->array)
                fprintf(o, " /* %s %s: items are %s */\n", f->goname, f->gospell,
                        elem_ctype(f, g->a));
            else
                fprintf(o, " /* %s %s */\n", f->goname, f->gospell);
        }
        fprintf(o, "} %s_t;\n\n", t->cname);
        fprintf(o, "extern const cz_bind_field_t %s_fields[];\n", t->cname);
        fprintf(o, "/** A new JSON object for v (caller owns it: json_decref); NULL when out of "
                   "memory. */\njson_t *%s_to_json(const %s_t *v);\n\n",
                t->cname, t->cname);
    }
    fputs("#endif\n", o);
}

/* ---- types.c ---- */

static const char *bind_type(cz__gkind_t k)
{
    switch (k) {
    case CZ__GK_STRING: return "CZ_BIND_STRING";
    case CZ__GK_INT: return "CZ_BIND_INT";
    case CZ__GK_UINT: return "CZ_BIND_UINT";
    case CZ__GK_FLOAT: return "CZ_BIND_FLOAT";
    case CZ__GK_BOOL: return "CZ_BIND_BOOL";
    default: return "CZ_BIND_OBJECT";
    }
}

static const char *src_name(int src)
{
    static const char *n[] = {"CZ_BIND_JSON", "CZ_BIND_PATH", "CZ_BIND_FORM", "CZ_BIND_HEADER"};
    return n[src];
}

/* options=a|b or options=[a,b]: emit a NULL-terminated array, return its name */
static const char *emit_options(cz__gen_t *g, FILE *o, const cz__gtype_t *t, const cz__gfield_t *f)
{
    const cz_api_tag_opt_t *op = f->tag ? cz_api_tag_opt(f->tag, "options") : NULL;
    if (!op || !op->value)
        return NULL;
    const char *name = cz_arena_sprintf(g->a, "%s_%s_options", t->cname, f->cname);
    fprintf(o, "static const char *const %s[] = {", name);
    const char *v = op->value;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']')
        v++, n -= 2;
    const char *sep = memchr(op->value, '|', strlen(op->value)) ? "|" : ",";
    while (n) {
        size_t k = 0;
        while (k < n && v[k] != sep[0])
            k++;
        char *item = strndup(v, k);
        if (item) {
            cz__gen_cstr(o, item);
            fputs(", ", o);
            free(item);
        }
        v += k, n -= k;
        if (n)
            v++, n--;
    }
    fputs("NULL};\n", o);
    return name;
}

static void emit_bound(FILE *o, const char *s, int lo)
{
    while (*s == ' ')
        s++;
    if (!*s)
        fputs(lo ? "-INFINITY" : "INFINITY", o);
    else
        fprintf(o, "%s", s);
}

/* range=[1:10], (0:1], [1:] */
static void emit_range(FILE *o, const char *v)
{
    size_t n = strlen(v);
    if (n < 3)
        return;
    const char *colon = strchr(v, ':');
    if (!colon)
        return;
    char lo[64], hi[64];
    snprintf(lo, sizeof lo, "%.*s", (int)(colon - v - 1), v + 1);
    snprintf(hi, sizeof hi, "%.*s", (int)(v + n - 1 - colon - 1), colon + 1);
    fputs(", .has_range = true", o);
    if (v[0] == '(')
        fputs(", .lo_open = true", o);
    if (v[n - 1] == ')')
        fputs(", .hi_open = true", o);
    fputs(", .lo = ", o);
    emit_bound(o, lo, 1);
    fputs(", .hi = ", o);
    emit_bound(o, hi, 0);
}

/* Print one table entry, "    {.a = 1, .b = 2},", breaking between members so that no line
 * passes 100 columns (continuation lines start under the first member). */
static void put_wrapped(FILE *o, const char *e)
{
    int col = 0, inq = 0;
    const char *seg = e;
    for (const char *p = e;; p++) {
        if (inq && *p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '"')
            inq = !inq;
        int end = !*p || (!inq && p[0] == ',' && p[1] == ' ' && p[2] == '.');
        if (!end)
            continue;
        int len = (int)(p - seg);
        if (seg != e && col + 2 + len > 98) {
            fputs(",\n     ", o);
            col = 5;
        } else if (seg != e) {
            fputs(", ", o);
            col += 2;
        }
        fwrite(seg, 1, (size_t)len, o);
        col += len;
        if (!*p)
            break;
        seg = p + 2;
        p++;
    }
    fputs("},\n", o);
}

static void emit_table(cz__gen_t *g, FILE *o, const cz__gtype_t *t)
{
    const char *opts[256];
    int i = 0;
    for (const cz__gfield_t *f = t->fields; f; f = f->next, i++)
        opts[i < 256 ? i : 255] = f->kind == CZ__GK_JSON ? NULL : emit_options(g, o, t, f);
    fprintf(o, "const cz_bind_field_t %s_fields[] = {\n", t->cname);
    i = 0;
    for (const cz__gfield_t *f = t->fields; f; f = f->next, i++) {
        if (f->kind == CZ__GK_JSON) {
            fprintf(o, "    /* %s (%s) is raw JSON: not bound */\n", f->goname, f->gospell);
            continue;
        }
        char *ebuf;
        size_t elen;
        FILE *out = o;
        o = open_memstream(&ebuf, &elen);
        if (!o) {
            o = out;
            continue;
        }
        fputs("    {.name = ", o);
        cz__gen_cstr(o, f->key);
        fprintf(o, ", .src = %s, .type = %s, .offset = offsetof(%s_t, %s)",
                src_name(f->src), f->array ? "CZ_BIND_ARRAY" : bind_type(f->kind), t->cname,
                f->cname);
        if (f->array) {
            fprintf(o, ", .elem_type = %s", bind_type(f->kind));
            if (f->kind == CZ__GK_OBJECT)
                fprintf(o, ", .elem_size = sizeof(%s_t)", f->obj->cname);
        }
        if (f->kind == CZ__GK_OBJECT)
            fprintf(o, ", .sub = %s_fields", f->obj->cname);
        if (f->tag) {
            const cz_api_tag_opt_t *op;
            if (cz_api_tag_opt(f->tag, "optional"))
                fputs(", .flags = CZ_BIND_OPTIONAL", o);
            if ((op = cz_api_tag_opt(f->tag, "default")) && op->value) {
                fputs(", .def = ", o);
                cz__gen_cstr(o, op->value);
            }
            if ((op = cz_api_tag_opt(f->tag, "env")) && op->value) {
                fputs(", .env = ", o);
                cz__gen_cstr(o, op->value);
            }
            if (i < 256 && opts[i])
                fprintf(o, ", .options = %s", opts[i]);
            if ((op = cz_api_tag_opt(f->tag, "range")) && op->value &&
                (f->kind == CZ__GK_INT || f->kind == CZ__GK_UINT || f->kind == CZ__GK_FLOAT))
                emit_range(o, op->value);
        }
        fclose(o);
        o = out;
        put_wrapped(o, ebuf);
        free(ebuf);
    }
    fputs("    {0},\n};\n\n", o);
}

static const char *value_json(const cz__gfield_t *f, const char *expr, cz_arena_t *a)
{
    switch (f->kind) {
    case CZ__GK_STRING: return cz_arena_sprintf(a, "str_json(%s)", expr);
    case CZ__GK_INT: return cz_arena_sprintf(a, "json_integer((json_int_t)%s)", expr);
    case CZ__GK_UINT: return cz_arena_sprintf(a, "json_integer((json_int_t)%s)", expr);
    case CZ__GK_FLOAT: return cz_arena_sprintf(a, "json_real(%s)", expr);
    case CZ__GK_BOOL: return cz_arena_sprintf(a, "json_boolean(%s)", expr);
    case CZ__GK_OBJECT: return cz_arena_sprintf(a, "%s_to_json(&%s)", f->obj->cname, expr);
    default: return cz_arena_sprintf(a, "raw_json(%s)", expr);
    }
}

static void emit_encoder(cz__gen_t *g, FILE *o, const cz__gtype_t *t)
{
    fprintf(o, "json_t *%s_to_json(const %s_t *v)\n{\n    json_t *o = json_object();\n"
               "    if (!o)\n        return NULL;\n",
            t->cname, t->cname);
    if (!t->fields)
        fputs("    (void)v;\n", o);
    for (const cz__gfield_t *f = t->fields; f; f = f->next) {
        if (f->array) {
            const char *et = elem_ctype(f, g->a);
            fprintf(o, "    {\n        json_t *a = json_array();\n"
                       "        const %s%s*it = v->%s.items;\n"
                       "        for (size_t i = 0; a && i < v->%s.n; i++)\n"
                       "            json_array_append_new(a, %s);\n"
                       "        set(o, ",
                    et, et[strlen(et) - 1] == '*' ? "" : " ", f->cname, f->cname,
                    value_json(f, "it[i]", g->a));
            cz__gen_cstr(o, f->key);
            fputs(", a);\n    }\n", o);
            continue;
        }
        fputs("    set(o, ", o);
        cz__gen_cstr(o, f->key);
        fprintf(o, ", %s);\n", value_json(f, cz_arena_sprintf(g->a, "v->%s", f->cname), g->a));
    }
    fputs("    return o;\n}\n\n", o);
}

int cz__gen_types(cz__gen_t *g)
{
    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    emit_header(g, o);
    int rc = cz__gen_close(g, o, &buf, &n, "internal/types/types.h", 0);
    if (rc)
        return rc;
    if (!(o = cz__gen_open(&buf, &n)))
        return CZ_ENOMEM;
    fputs(CZ__GEN_MARK "/* types.c: binding tables and JSON encoders of internal/types/types.h. "
                       "*/\n"
          "#include <math.h>\n#include \"internal/types/types.h\"\n\n"
          "static inline json_t *str_json(const char *s)\n{\n"
          "    return json_string(s ? s : \"\");\n}\n\n"
          "/* raw members are borrowed: the encoder takes its own reference */\n"
          "static inline json_t *raw_json(json_t *v)\n{\n"
          "    return v ? json_incref(v) : json_null();\n}\n\n"
          "static inline void set(json_t *o, const char *key, json_t *v)\n{\n"
          "    json_object_set_new(o, key, v ? v : json_null());\n}\n\n",
          o);
    for (const cz__gtype_t *t = g->emit; t; t = t->enext) {
        fprintf(o, "/* ---- %s ---- */\n\n", t->name);
        emit_table(g, o, t);
        emit_encoder(g, o, t);
    }
    return cz__gen_close(g, o, &buf, &n, "internal/types/types.c", 0);
}
