/* SPDX-License-Identifier: MIT
 *
 * gen_openapi.c: `czctl api openapi`, an OpenAPI 3.0.3 document from a `.api` file.
 *
 * The mapping follows what a go-zero service does with the request, and goctl's swagger
 * generator (tools/goctl/api/swagger) where that is silent: `path:` fields become path
 * parameters, `form:` query parameters, `header:` header parameters, and `json:` (or untagged)
 * fields the JSON body. A field is required unless tagged `optional` or given a `default=`;
 * `options=` becomes an enum, `range=` minimum/maximum with `(`/`)` meaning exclusive, and
 * `default=`/`example=` are typed by the field's Go type. Declared types become
 * components/schemas (the JSON view: parameter-only fields are left out), embedded structs are
 * flattened into their parent as encoding/json does, pointers are nullable, maps are objects with
 * additionalProperties. Routes in a group with `jwt:` get a bearer security requirement. The
 * document is built with jansson and written as JSON, or as YAML through libyaml's emitter.
 * It describes the HTTP surface only: timeouts, maxBytes and middlewares have no OpenAPI field.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>
#include "api_ast.h"
#include "cmd.h"
#include "gen_util.h"

typedef struct oa {
    const cz_api_t *api;
    json_t *schemas; /* components.schemas */
    json_t *schemes; /* components.securitySchemes */
    json_t *op_ids;  /* operationIds used so far (a set) */
    json_t *tags;    /* top-level tags, in first-use order */
} oa_t;

static json_t *type_schema(oa_t *o, const cz_api_type_t *t, int depth);

/* The struct a type names (through pointers and declared names), or NULL. */
static const cz_api_type_t *struct_of(const cz_api_t *api, const cz_api_type_t *t)
{
    for (int depth = 0; t && depth < 16; depth++) {
        if (t->kind == CZ_API_T_STRUCT)
            return t;
        if (t->kind == CZ_API_T_POINTER) {
            t = t->elem;
        } else if (t->kind == CZ_API_T_IDENT) {
            const cz_api_typedecl_t *d = cz__gen_find_type(api, t->name);
            t = d ? d->type : NULL;
        } else {
            return NULL;
        }
    }
    return NULL;
}

static json_t *builtin_schema(const char *n)
{
    if (!strcmp(n, "string"))
        return json_pack("{ss}", "type", "string");
    if (!strcmp(n, "bool"))
        return json_pack("{ss}", "type", "boolean");
    if (!strcmp(n, "float32"))
        return json_pack("{ssss}", "type", "number", "format", "float");
    if (!strcmp(n, "float64"))
        return json_pack("{ssss}", "type", "number", "format", "double");
    if (!strcmp(n, "int32") || !strcmp(n, "rune"))
        return json_pack("{ssss}", "type", "integer", "format", "int32");
    if (!strcmp(n, "int") || !strcmp(n, "int64"))
        return json_pack("{ssss}", "type", "integer", "format", "int64");
    if (!strcmp(n, "int8") || !strcmp(n, "int16"))
        return json_pack("{ss}", "type", "integer");
    if (!strncmp(n, "uint", 4) || !strcmp(n, "byte"))
        return json_pack("{sssi}", "type", "integer", "minimum", 0);
    if (!strcmp(n, "time.Time"))
        return json_pack("{ssss}", "type", "string", "format", "date-time");
    return json_object(); /* any, complex, foreign types: no constraint */
}

/* A declared type as a component, emitted once; a placeholder goes in first so recursive types
 * end in a $ref instead of recursing. */
static json_t *ref_schema(oa_t *o, const char *name, int depth)
{
    if (!json_object_get(o->schemas, name)) {
        const cz_api_typedecl_t *d = cz__gen_find_type(o->api, name);
        if (!d)
            return builtin_schema(name);
        json_object_set_new(o->schemas, name, json_object());
        json_t *s = type_schema(o, d->type, depth + 1);
        json_object_set_new(o->schemas, name, s ? s : json_object());
    }
    char ref[512];
    snprintf(ref, sizeof ref, "#/components/schemas/%s", name);
    return json_pack("{ss}", "$ref", ref);
}

/* ------------------------------------------------------------------ tag options */

/* The JSON type a value of this schema has ("integer", "array"...), following one allOf. */
static const char *schema_type(const json_t *s)
{
    const char *t = json_string_value(json_object_get(s, "type"));
    return t ? t : "";
}

/* text as a JSON value of the given type, or NULL when it does not parse as one. */
static json_t *typed_value(const char *type, const char *text)
{
    char *end;
    errno = 0;
    if (!strcmp(type, "integer")) {
        long long v = strtoll(text, &end, 10);
        return end != text && !*end && !errno ? json_integer(v) : NULL;
    }
    if (!strcmp(type, "number")) {
        double v = strtod(text, &end);
        return end != text && !*end && !errno ? json_real(v) : NULL;
    }
    if (!strcmp(type, "boolean")) {
        if (!strcmp(text, "true") || !strcmp(text, "false"))
            return json_boolean(!strcmp(text, "true"));
        return NULL;
    }
    if (!strcmp(type, "string"))
        return json_string(text);
    return NULL;
}

/* options=a|b or options=[a,b]: an enum of values typed like the schema. */
static void apply_enum(json_t *s, const char *v)
{
    size_t n = strlen(v);
    char sep = '|';
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']')
        v++, n -= 2, sep = ',';
    json_t *e = json_array();
    const char *type = schema_type(s);
    while (n) {
        const char *p = memchr(v, sep, n);
        size_t l = p ? (size_t)(p - v) : n;
        char item[256];
        size_t a = 0, b = l;
        while (a < b && v[a] == ' ')
            a++;
        while (b > a && v[b - 1] == ' ')
            b--;
        if (b - a < sizeof item) {
            memcpy(item, v + a, b - a);
            item[b - a] = 0;
            json_t *x = typed_value(type, item);
            if (x)
                json_array_append_new(e, x);
        }
        v += p ? l + 1 : l;
        n -= p ? l + 1 : l;
    }
    if (json_array_size(e))
        json_object_set_new(s, "enum", e);
    else
        json_decref(e);
}

/* range=[a:b] (go-zero's parseNumberRange): either bound may be missing, ( and ) exclude. */
static void apply_range(json_t *s, const char *v)
{
    size_t n = strlen(v);
    const char *colon = n >= 3 ? memchr(v, ':', n) : NULL;
    if (!colon || (v[0] != '[' && v[0] != '(') || (v[n - 1] != ']' && v[n - 1] != ')'))
        return;
    char lo[64], hi[64];
    size_t ll = (size_t)(colon - v - 1), hl = (size_t)(v + n - 1 - colon - 1);
    if (ll >= sizeof lo || hl >= sizeof hi)
        return;
    memcpy(lo, v + 1, ll);
    lo[ll] = 0;
    memcpy(hi, colon + 1, hl);
    hi[hl] = 0;
    const char *type = !strcmp(schema_type(s), "integer") ? "integer" : "number";
    json_t *x;
    if (ll && (x = typed_value(type, lo)) != NULL) {
        json_object_set_new(s, "minimum", x);
        if (v[0] == '(')
            json_object_set_new(s, "exclusiveMinimum", json_true());
    }
    if (hl && (x = typed_value(type, hi)) != NULL) {
        json_object_set_new(s, "maximum", x);
        if (v[n - 1] == ')')
            json_object_set_new(s, "exclusiveMaximum", json_true());
    }
}

/* The options of one tag onto the field's schema. Constraints of a slice apply to its
 * elements, as go-zero checks each element. References stay bare ($ref siblings are ignored in
 * OpenAPI 3.0). */
static void apply_opts(json_t *s, const cz_api_tag_t *tag)
{
    if (!tag || json_object_get(s, "$ref") || json_object_get(s, "allOf"))
        return;
    json_t *target = s;
    if (!strcmp(schema_type(s), "array") && json_is_object(json_object_get(s, "items")))
        target = json_object_get(s, "items");
    if (cz_api_tag_opt(tag, "string") && strcmp(schema_type(target), "string")) {
        json_object_set_new(target, "type", json_string("string"));
        json_object_del(target, "format");
        json_object_del(target, "minimum");
    }
    for (const cz_api_tag_opt_t *op = tag->opts; op; op = op->next) {
        if (!op->value)
            continue;
        if (!strcmp(op->key, "options")) {
            apply_enum(target, op->value);
        } else if (!strcmp(op->key, "range")) {
            if (!strcmp(schema_type(target), "integer") || !strcmp(schema_type(target), "number"))
                apply_range(target, op->value);
        } else if (!strcmp(op->key, "default") || !strcmp(op->key, "example")) {
            json_t *x = typed_value(schema_type(s), op->value);
            if (x)
                json_object_set_new(s, op->key, x);
        }
    }
}

/* go-zero: `optional` or a `default=` makes a field optional. */
static int tag_required(const cz_api_tag_t *tag)
{
    return !tag || (!cz_api_tag_opt(tag, "optional") && !cz_api_tag_opt(tag, "default"));
}

static int is_param_tag(const char *k)
{
    return !strcmp(k, "path") || !strcmp(k, "form") || !strcmp(k, "header");
}

/* A field goes into the JSON body when it has a json tag or no binding tag at all. */
static int in_body(const cz_api_field_t *f)
{
    if (cz_api_tag_find(f, "json"))
        return 1;
    for (const cz_api_tag_t *t = f->tags; t; t = t->next)
        if (is_param_tag(t->key))
            return 0;
    return 1;
}

/* ------------------------------------------------------------------ schemas */

static int has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v)
        if (!strcmp(json_string_value(v), s))
            return 1;
    return 0;
}

static void add_fields(oa_t *o, const cz_api_field_t *f, json_t *props, json_t *req, int depth)
{
    for (; f; f = f->next) {
        if (!in_body(f))
            continue;
        const cz_api_tag_t *jt = cz_api_tag_find(f, "json");
        if (jt && !strcmp(jt->name, "-") && !jt->opts)
            continue;
        if (!f->names && (!jt || !jt->name[0])) {
            /* encoding/json promotes an untagged embedded struct's fields */
            const cz_api_type_t *st = struct_of(o->api, f->type);
            if (st && depth < 16) {
                add_fields(o, st->fields, props, req, depth + 1);
                continue;
            }
        }
        const char *one[2] = {NULL, NULL};
        const char **names = f->names;
        if (!names) { /* embedded non-struct or tagged: named after its type */
            const cz_api_type_t *t = f->type->kind == CZ_API_T_POINTER ? f->type->elem : f->type;
            one[0] = t->kind == CZ_API_T_IDENT ? t->name : "embedded";
            names = one;
        }
        for (; *names; names++) {
            const char *key = jt && jt->name[0] ? jt->name : *names;
            json_t *s = type_schema(o, f->type, depth + 1);
            apply_opts(s, jt);
            json_object_set_new(props, key, s);
            if (tag_required(jt) && !has_string(req, key))
                json_array_append_new(req, json_string(key));
        }
    }
}

static json_t *struct_schema(oa_t *o, const cz_api_type_t *t, int depth)
{
    json_t *props = json_object(), *req = json_array();
    add_fields(o, t->fields, props, req, depth);
    json_t *s = json_pack("{ss}", "type", "object");
    if (json_object_size(props))
        json_object_set(s, "properties", props);
    if (json_array_size(req))
        json_object_set(s, "required", req);
    json_decref(props);
    json_decref(req);
    return s;
}

static json_t *type_schema(oa_t *o, const cz_api_type_t *t, int depth)
{
    if (!t || depth > 64)
        return json_object();
    json_t *s;
    switch (t->kind) {
    case CZ_API_T_IDENT:
        if (cz_api_is_builtin(t->name) || !strcmp(t->name, "time.Time"))
            return builtin_schema(t->name);
        return ref_schema(o, t->name, depth);
    case CZ_API_T_POINTER:
        s = type_schema(o, t->elem, depth + 1);
        if (json_object_get(s, "$ref"))
            return json_pack("{s[o]sb}", "allOf", s, "nullable", 1);
        json_object_set_new(s, "nullable", json_true());
        return s;
    case CZ_API_T_SLICE:
        if (t->elem->kind == CZ_API_T_IDENT && !strcmp(t->elem->name, "byte"))
            return json_pack("{ssss}", "type", "string", "format", "byte"); /* base64 in Go */
        return json_pack("{ssso}", "type", "array", "items", type_schema(o, t->elem, depth + 1));
    case CZ_API_T_ARRAY:
        s = json_pack("{ssso}", "type", "array", "items", type_schema(o, t->elem, depth + 1));
        if (t->len >= 0) {
            json_object_set_new(s, "minItems", json_integer(t->len));
            json_object_set_new(s, "maxItems", json_integer(t->len));
        }
        return s;
    case CZ_API_T_MAP:
        return json_pack("{ssso}", "type", "object", "additionalProperties",
                         type_schema(o, t->elem, depth + 1));
    case CZ_API_T_STRUCT:
        return struct_schema(o, t, depth);
    case CZ_API_T_INTERFACE:
        break;
    }
    return json_object();
}

/* ------------------------------------------------------------------ operations */

/* prefix + path with :name segments as {name}; the names go into pnames. */
static void oa_path(char *out, size_t size, const char *prefix, const char *path, json_t *pnames)
{
    char joined[1024];
    size_t pl = prefix ? strlen(prefix) : 0;
    while (pl && prefix[pl - 1] == '/')
        pl--;
    /* goctl joins "/", prefix and path: `prefix: v1` still means /v1 */
    snprintf(joined, sizeof joined, "%s%.*s%s", pl && prefix[0] != '/' ? "/" : "", (int)pl,
             pl ? prefix : "", path);
    size_t o = 0;
    for (const char *p = joined; *p && o + 4 < size;) {
        if (*p == ':' && (p == joined || p[-1] == '/')) {
            size_t l = strcspn(p + 1, "/");
            json_array_append_new(pnames, json_stringn(p + 1, l));
            o += (size_t)snprintf(out + o, size - o, "{%.*s}", (int)l, p + 1);
            p += l + 1;
        } else {
            out[o++] = *p++;
        }
        if (o >= size)
            o = size - 1;
    }
    out[o < size ? o : size - 1] = 0;
}

static void add_params(oa_t *o, const cz_api_field_t *f, json_t *params, json_t *pnames,
                       int depth)
{
    for (; f && depth < 16; f = f->next) {
        if (!f->names && !f->tags) {
            const cz_api_type_t *st = struct_of(o->api, f->type);
            if (st)
                add_params(o, st->fields, params, pnames, depth + 1);
            continue;
        }
        for (const cz_api_tag_t *t = f->tags; t; t = t->next) {
            if (!is_param_tag(t->key))
                continue;
            const char *name = t->name[0] ? t->name : f->names ? f->names[0] : "";
            const char *in = !strcmp(t->key, "form") ? "query" : t->key;
            if (!strcmp(in, "path")) {
                size_t i;
                json_t *v;
                int found = 0;
                json_array_foreach (pnames, i, v)
                    if (!strcmp(json_string_value(v), name)) {
                        found = 1;
                        json_array_remove(pnames, i); /* declared; not a bare string one */
                        break;
                    }
                if (!found)
                    continue; /* OpenAPI forbids path parameters the template lacks */
            }
            json_t *s = type_schema(o, f->type, depth + 1);
            apply_opts(s, t);
            json_array_append_new(params,
                                  json_pack("{sssssbso}", "name", name, "in", in, "required",
                                            !strcmp(in, "path") || tag_required(t), "schema", s));
        }
    }
}

/* The request type's body schema, or NULL when nothing of it travels as JSON. */
static json_t *body_schema(oa_t *o, const cz_api_type_t *req)
{
    const cz_api_type_t *st = struct_of(o->api, req);
    if (!st)
        return type_schema(o, req, 0);
    json_t *props = json_object(), *reqd = json_array();
    add_fields(o, st->fields, props, reqd, 0);
    size_t n = json_object_size(props);
    json_decref(props);
    json_decref(reqd);
    if (!n)
        return NULL;
    return type_schema(o, req, 0);
}

static json_t *operation(oa_t *o, const cz_api_service_t *svc, const cz_api_route_t *r,
                         json_t *pnames)
{
    json_t *op = json_object();
    const char *group = cz_api_kv_get(svc->server, "group");
    const char *jwt = cz_api_kv_get(svc->server, "jwt");
    /* goctl swagger's tags: @doc(tags:), then @server(tags:), here also the group */
    const char *tags = cz_api_kv_get(r->doc_kv, "tags");
    if (!tags || !*tags)
        tags = cz_api_kv_get(svc->server, "tags");
    if (!tags || !*tags)
        tags = group;
    json_t *list = json_array();
    for (const char *p = tags; p && *p;) {
        size_t l = strcspn(p, ",");
        char tag[256];
        size_t a = 0, b = l;
        while (a < b && p[a] == ' ')
            a++;
        while (b > a && p[b - 1] == ' ')
            b--;
        if (b > a && b - a < sizeof tag) {
            memcpy(tag, p + a, b - a);
            tag[b - a] = 0;
            json_array_append_new(list, json_string(tag));
            if (!json_object_get(o->tags, tag))
                json_object_set_new(o->tags, tag, json_pack("{ss}", "name", tag));
        }
        p += l + (p[l] == ',');
    }
    if (json_array_size(list))
        json_object_set_new(op, "tags", list);
    else
        json_decref(list);
    const char *summary = r->doc ? r->doc : cz_api_kv_get(r->doc_kv, "summary");
    if (summary && *summary)
        json_object_set_new(op, "summary", json_string(summary));
    const char *desc = cz_api_kv_get(r->doc_kv, "description");
    if (desc && *desc)
        json_object_set_new(op, "description", json_string(desc));
    if (r->handler) {
        char id[256];
        snprintf(id, sizeof id, "%s", r->handler);
        if (json_object_get(o->op_ids, id) && group) {
            snprintf(id, sizeof id, "%s_%s", group, r->handler);
            for (char *p = id; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_')
                    *p = '_';
        }
        for (int i = 2; json_object_get(o->op_ids, id) && i < 1000; i++)
            snprintf(id, sizeof id, "%s%d", r->handler, i);
        json_object_set_new(o->op_ids, id, json_true());
        json_object_set_new(op, "operationId", json_string(id));
    }
    json_t *params = json_array();
    const cz_api_type_t *st = r->request ? struct_of(o->api, r->request) : NULL;
    if (st)
        add_params(o, st->fields, params, pnames, 0);
    size_t i;
    json_t *v;
    json_array_foreach (pnames, i, v) /* path segments no field binds: strings */
        json_array_append_new(params, json_pack("{sOsssbs{ss}}", "name", v, "in", "path",
                                                "required", 1, "schema", "type", "string"));
    if (json_array_size(params))
        json_object_set(op, "parameters", params);
    json_decref(params);
    int bodyless = !strcmp(r->method, "get") || !strcmp(r->method, "head");
    json_t *body = r->request && !bodyless ? body_schema(o, r->request) : NULL;
    if (body)
        json_object_set_new(op, "requestBody",
                            json_pack("{sbs{s{so}}}", "required", 1, "content", "application/json",
                                      "schema", body));
    json_t *resp = json_object();
    if (r->response)
        json_object_set_new(resp, "200",
                            json_pack("{sss{s{so}}}", "description", "OK", "content",
                                      "application/json", "schema",
                                      type_schema(o, r->response, 0)));
    else
        json_object_set_new(resp, "200", json_pack("{ss}", "description", "OK"));
    if (r->request)
        json_object_set_new(resp, "400",
                            json_pack("{ss}", "description",
                                      "the request does not bind: a field is missing, malformed "
                                      "or out of range"));
    if (jwt) {
        json_object_set_new(resp, "401",
                            json_pack("{ss}", "description", "no valid bearer token"));
        json_object_set_new(op, "security", json_pack("[{s[]}]", jwt));
        if (!json_object_get(o->schemes, jwt))
            json_object_set_new(o->schemes, jwt,
                                json_pack("{ssssss}", "type", "http", "scheme", "bearer",
                                          "bearerFormat", "JWT"));
    }
    json_object_set_new(op, "responses", resp);
    return op;
}

static json_t *info_obj(const cz_api_t *api, const char *service)
{
    const cz_api_kv_t *kv = api->files->info;
    const char *title = cz_api_kv_get(kv, "title");
    const char *version = cz_api_kv_get(kv, "version");
    json_t *info = json_pack("{ssss}", "title", title && *title ? title : service, "version",
                             version && *version ? version : "1.0");
    const char *desc = cz_api_kv_get(kv, "desc");
    if (!desc)
        desc = cz_api_kv_get(kv, "description");
    if (desc && *desc)
        json_object_set_new(info, "description", json_string(desc));
    const char *author = cz_api_kv_get(kv, "author"), *email = cz_api_kv_get(kv, "email");
    if ((author && *author) || (email && strchr(email, '@'))) {
        json_t *c = json_object();
        if (author && *author)
            json_object_set_new(c, "name", json_string(author));
        if (email && strchr(email, '@'))
            json_object_set_new(c, "email", json_string(email));
        json_object_set_new(info, "contact", c);
    }
    return info;
}

/* The whole document; the caller owns it. */
static json_t *build(const cz_api_t *api, const char *server_url)
{
    oa_t o = {api, json_object(), json_object(), json_object(), json_object()};
    json_t *paths = json_object();
    const char *service = "api";
    for (const cz_api_file_t *f = api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next) {
            if (s->kind != CZ_API_S_SERVICE)
                continue;
            const cz_api_service_t *svc = s->service;
            service = svc->name;
            for (const cz_api_route_t *r = svc->routes; r; r = r->next) {
                if (!strcmp(r->method, "connect")) {
                    fprintf(stderr, "czctl api openapi: %s:%d: OpenAPI has no CONNECT; skipped\n",
                            r->pos.file, r->pos.line);
                    continue;
                }
                char path[1200];
                json_t *pnames = json_array();
                oa_path(path, sizeof path, cz_api_kv_get(svc->server, "prefix"), r->path,
                        pnames);
                json_t *item = json_object_get(paths, path);
                if (!item) {
                    item = json_object();
                    json_object_set_new(paths, path, item);
                }
                json_object_set_new(item, r->method, operation(&o, svc, r, pnames));
                json_decref(pnames);
            }
        }
    /* info(host, basePath, schemes) are goctl swagger's keys for the server. */
    const cz_api_kv_t *kv = api->files->info;
    char url[1024];
    if (!server_url) {
        const char *host = cz_api_kv_get(kv, "host"), *base = cz_api_kv_get(kv, "basePath");
        const char *scheme = cz_api_kv_get(kv, "schemes");
        if (host && *host) /* schemes: "http,https": the first one */
            snprintf(url, sizeof url, "%.*s://%s%s",
                     scheme && *scheme ? (int)strcspn(scheme, ", ") : 4,
                     scheme && *scheme ? scheme : "http", host, base ? base : "");
        else
            snprintf(url, sizeof url, "%s", base && *base ? base : "/");
        server_url = url;
    }
    json_t *doc = json_pack("{sssos[{ss}]}", "openapi", "3.0.3", "info", info_obj(api, service),
                            "servers", "url", server_url);
    if (json_object_size(o.tags)) {
        json_t *tags = json_array();
        const char *k;
        json_t *v;
        json_object_foreach (o.tags, k, v)
            json_array_append(tags, v);
        json_object_set_new(doc, "tags", tags);
    }
    json_object_set_new(doc, "paths", paths);
    json_t *comp = json_object();
    if (json_object_size(o.schemas))
        json_object_set(comp, "schemas", o.schemas);
    if (json_object_size(o.schemes))
        json_object_set(comp, "securitySchemes", o.schemes);
    if (json_object_size(comp))
        json_object_set(doc, "components", comp);
    json_decref(comp);
    json_decref(o.schemas);
    json_decref(o.schemes);
    json_decref(o.op_ids);
    json_decref(o.tags);
    return doc;
}

/* ------------------------------------------------------------------ YAML */

/* A string that a YAML 1.1 reader would take for something else must be quoted. */
static int yaml_ambiguous(const char *s)
{
    static const char *const words[] = {"y", "n", "yes", "no", "on", "off", "true", "false",
                                        "null", "~", ".inf", "-.inf", ".nan"};
    if (!*s)
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcasecmp(s, words[i]))
            return 1;
    char *end;
    (void)strtod(s, &end);
    if (!*end)
        return 1;
    (void)strtoll(s, &end, 0);
    return !*end || (isdigit((unsigned char)s[0]) && strpbrk(s, "-:_"));
}

static int emit_scalar(yaml_emitter_t *em, const char *s, int plain)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), plain, 1,
                                 plain ? YAML_PLAIN_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(em, &ev);
}

static int emit_node(yaml_emitter_t *em, const json_t *j)
{
    yaml_event_t ev;
    char buf[64];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return 0;
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *)j, k, v)
            if (!emit_scalar(em, k, !yaml_ambiguous(k)) || !emit_node(em, v))
                return 0;
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return 0;
        size_t i;
        json_t *v;
        json_array_foreach (j, i, v)
            if (!emit_node(em, v))
                return 0;
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    case JSON_STRING:
        return emit_scalar(em, json_string_value(j), !yaml_ambiguous(json_string_value(j)));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return emit_scalar(em, buf, 1);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.17g", json_real_value(j));
        if (!strpbrk(buf, ".eEn"))
            strcat(buf, ".0");
        return emit_scalar(em, buf, 1);
    case JSON_TRUE:
        return emit_scalar(em, "true", 1);
    case JSON_FALSE:
        return emit_scalar(em, "false", 1);
    case JSON_NULL:
        return emit_scalar(em, "null", 1);
    }
    return 0;
}

static int write_yaml(const json_t *doc, FILE *out)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&em))
        return -ENOMEM;
    yaml_emitter_set_output_file(&em, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 100);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    int ok = yaml_emitter_emit(&em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&em, &ev) && emit_node(&em, doc);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_emitter_delete(&em);
    return ok ? 0 : -EIO;
}

/* ------------------------------------------------------------------ command */

static int usage_to(FILE *o)
{
    fputs("usage: czctl api openapi -api FILE [-o out.json|out.yaml] [-server URL]\n"
          "       czctl api swagger -api FILE [-dir DIR] [-filename NAME] [-yaml] [-server URL]\n"
          "The OpenAPI 3.0.3 document of the service: stdout without -o, YAML when the name\n"
          "ends in .yaml or .yml. swagger takes goctl's flags: DIR/NAME.json (NAME: the .api\n"
          "file's base name), .yaml with -yaml.\n",
          o);
    return 2;
}

static int usage(void) { return usage_to(stderr); }

static int write_doc(const char *file, const char *out, const char *server);

int cz_cmd_swagger(int argc, char **argv)
{
    if (cz__cmd_wants_help(argc, argv))
        return usage_to(stdout), 0;
    const char *file = NULL, *dir = ".", *name = NULL, *server = NULL;
    int yaml = 0;
    for (int i = 0; i < argc; i++) {
        if (cz__cmd_flag(argv[i], "api") && i + 1 < argc)
            file = argv[++i];
        else if (cz__cmd_flag(argv[i], "dir") && i + 1 < argc)
            dir = argv[++i];
        else if (cz__cmd_flag(argv[i], "filename") && i + 1 < argc)
            name = argv[++i];
        else if (cz__cmd_flag(argv[i], "server") && i + 1 < argc)
            server = argv[++i];
        else if (cz__cmd_flag(argv[i], "yaml"))
            yaml = 1;
        else {
            fprintf(stderr, "czctl api swagger: unexpected argument '%s'\n", argv[i]);
            return usage();
        }
    }
    if (!file)
        return usage();
    char base[512], out[4096];
    if (!name) { /* goctl: the .api file's name without its extension */
        const char *b = strrchr(file, '/');
        snprintf(base, sizeof base, "%s", b ? b + 1 : file);
        char *dot = strrchr(base, '.');
        if (dot && dot != base)
            *dot = '\0';
        name = base;
    }
    snprintf(out, sizeof out, "%s/%s.%s", dir, name, yaml ? "yaml" : "json");
    mkdir(dir, 0755); /* as goctl, a missing -dir is made; other failures show at the write */
    int rc = write_doc(file, out, server);
    if (!rc)
        printf("%s (OpenAPI 3.0.3)\n", out);
    return rc;
}

int cz_cmd_openapi(int argc, char **argv)
{
    if (cz__cmd_wants_help(argc, argv))
        return usage_to(stdout), 0;
    const char *file = NULL, *out = NULL, *server = NULL;
    for (int i = 0; i < argc; i++) {
        if (cz__cmd_flag(argv[i], "api") && i + 1 < argc)
            file = argv[++i];
        else if (cz__cmd_flag(argv[i], "o") && i + 1 < argc)
            out = argv[++i];
        else if (cz__cmd_flag(argv[i], "server") && i + 1 < argc)
            server = argv[++i];
        else {
            fprintf(stderr, "czctl api openapi: unexpected argument '%s'\n", argv[i]);
            return usage();
        }
    }
    if (!file)
        return usage();
    return write_doc(file, out, server);
}

static int write_doc(const char *file, const char *out, const char *server)
{
    cz_api_t *api;
    if (cz__gen_load(&api, file))
        return 1;
    json_t *doc = build(api, server);
    cz_api_free(api);
    if (!doc) {
        fprintf(stderr, "czctl api openapi: out of memory\n");
        return 1;
    }
    size_t ol = out ? strlen(out) : 0;
    int yaml = (ol > 5 && !strcmp(out + ol - 5, ".yaml")) ||
               (ol > 4 && !strcmp(out + ol - 4, ".yml"));
    FILE *f = out ? fopen(out, "w") : stdout;
    int rc = f ? 0 : -errno;
    if (f && yaml)
        rc = write_yaml(doc, f);
    else if (f && (json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) || fputc('\n', f) < 0))
        rc = -EIO;
    if (out && f && fclose(f) != 0 && !rc)
        rc = -errno;
    json_decref(doc);
    if (rc) {
        fprintf(stderr, "czctl api openapi: %s: %s\n", out ? out : "stdout", strerror(-rc));
        return 1;
    }
    return 0;
}
