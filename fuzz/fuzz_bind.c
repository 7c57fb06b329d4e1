/* SPDX-License-Identifier: MIT
 *
 * fuzz_bind.c: libFuzzer target for request binding (src/http/bind.c). The first byte picks a
 * mode. Even: the rest is a JSON body bound to a JSON-only table with every type, nesting,
 * arrays of objects and each option; a success must respect the declared range and options,
 * and must round-trip: the object cz_bind_to_json() makes from the result binds again to the
 * same JSON text. Odd: the rest is "param\nquery\nheader\nbody" bound to a table of path, form
 * (query and urlencoded body) and header fields. In both modes the result is 0 or CZ_EPARSE
 * with a non-empty, NUL-terminated message, never anything else, and no memory error.
 * Requests are built in memory from the engine's private cz_req_t (http_int.h).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "czero/bind.h"
#include "http/http_int.h"

typedef struct addr {
    char *city;
    int64_t zip;
} addr_t;

typedef struct item {
    char *sku;
    int64_t qty;
    cz_bind_array_t flags;
} item_t;

typedef struct doc {
    char *name;
    int64_t age;
    double score;
    bool vip, has_score, has_vip, has_id;
    char *role;
    uint64_t id;
    cz_bind_array_t tags, nums, items;
    addr_t addr;
} doc_t;

static const char *const roles[] = {"admin", "user", NULL};

static const cz_bind_field_t addr_fields[] = {
    {.name = "city", .type = CZ_BIND_STRING, .offset = offsetof(addr_t, city)},
    {.name = "zip", .type = CZ_BIND_INT, .offset = offsetof(addr_t, zip),
     .flags = CZ_BIND_OPTIONAL},
    {0},
};
static const cz_bind_field_t item_fields[] = {
    {.name = "sku", .type = CZ_BIND_STRING, .offset = offsetof(item_t, sku)},
    {.name = "qty", .type = CZ_BIND_INT, .offset = offsetof(item_t, qty),
     .flags = CZ_BIND_OPTIONAL},
    {.name = "flags", .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_BOOL,
     .offset = offsetof(item_t, flags), .flags = CZ_BIND_OPTIONAL},
    {0},
};
static const cz_bind_field_t doc_fields[] = {
    {.name = "name", .type = CZ_BIND_STRING, .offset = offsetof(doc_t, name)},
    {.name = "age", .type = CZ_BIND_INT, .offset = offsetof(doc_t, age), .has_range = true,
     .lo = 0, .hi = 150},
    {.name = "score", .type = CZ_BIND_FLOAT, .offset = offsetof(doc_t, score),
     .flags = CZ_BIND_OPTIONAL | CZ_BIND_HAS, .has_offset = offsetof(doc_t, has_score),
     .has_range = true, .lo = 0, .lo_open = true, .hi = 1},
    {.name = "vip", .type = CZ_BIND_BOOL, .offset = offsetof(doc_t, vip),
     .flags = CZ_BIND_OPTIONAL | CZ_BIND_HAS, .has_offset = offsetof(doc_t, has_vip)},
    {.name = "role", .type = CZ_BIND_STRING, .offset = offsetof(doc_t, role), .options = roles,
     .def = "user"},
    {.name = "id", .type = CZ_BIND_UINT, .offset = offsetof(doc_t, id),
     .flags = CZ_BIND_OPTIONAL | CZ_BIND_HAS, .has_offset = offsetof(doc_t, has_id)},
    {.name = "tags", .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_STRING,
     .offset = offsetof(doc_t, tags), .flags = CZ_BIND_OPTIONAL},
    {.name = "nums", .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_INT,
     .offset = offsetof(doc_t, nums), .def = "[1,2]"},
    {.name = "items", .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_OBJECT, .sub = item_fields,
     .elem_size = sizeof(item_t), .offset = offsetof(doc_t, items), .flags = CZ_BIND_OPTIONAL},
    {.name = "addr", .type = CZ_BIND_OBJECT, .sub = addr_fields, .offset = offsetof(doc_t, addr),
     .flags = CZ_BIND_OPTIONAL},
    {0},
};

typedef struct text {
    int64_t id;
    cz_bind_array_t q;
    double f;
    bool b;
    char *s;
    uint64_t h;
    cz_bind_array_t hs;
} text_t;

static const cz_bind_field_t text_fields[] = {
    {.name = "id", .src = CZ_BIND_PATH, .type = CZ_BIND_INT, .offset = offsetof(text_t, id),
     .has_range = true, .lo = -5, .hi = 1e6, .hi_open = true},
    {.name = "q", .src = CZ_BIND_FORM, .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_INT,
     .offset = offsetof(text_t, q), .flags = CZ_BIND_OPTIONAL},
    {.name = "f", .src = CZ_BIND_FORM, .type = CZ_BIND_FLOAT, .offset = offsetof(text_t, f),
     .def = "0.5", .has_range = true, .lo = 0, .hi = 1},
    {.name = "b", .src = CZ_BIND_FORM, .type = CZ_BIND_BOOL, .offset = offsetof(text_t, b),
     .flags = CZ_BIND_OPTIONAL},
    {.name = "s", .src = CZ_BIND_FORM, .type = CZ_BIND_STRING, .offset = offsetof(text_t, s),
     .options = roles, .def = "admin"},
    {.name = "x-h", .src = CZ_BIND_HEADER, .type = CZ_BIND_UINT, .offset = offsetof(text_t, h),
     .flags = CZ_BIND_OPTIONAL},
    {.name = "x-hs", .src = CZ_BIND_HEADER, .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_STRING,
     .offset = offsetof(text_t, hs), .flags = CZ_BIND_OPTIONAL},
    {0},
};

static cz_req_t *req;

static void reset_req(void)
{
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            abort();
        cz_arena_init(&req->arena, 0);
    }
    cz_arena_reset(&req->arena);
    req->method = CZ_STR("POST");
    req->query = req->body = CZ_STR_NULL;
    req->nheaders = 0;
    req->match.nparams = 0;
    req->nqparams = -1;
    memset(&req->res, 0, sizeof req->res);
}

static void check_rc(int rc, const char *err)
{
    if (rc != 0 && rc != CZ_EPARSE)
        abort();
    if (rc == CZ_EPARSE && err[0] == '\0')
        abort();
}

static char *dump(const cz_bind_field_t *t, const void *v)
{
    json_t *j = cz_bind_to_json(t, v);
    if (!j)
        abort();
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!s)
        abort();
    return s;
}

static void fuzz_json(const uint8_t *in, size_t size)
{
    char err[256];
    doc_t d = {0};
    req->hname[0] = CZ_STR("Content-Type");
    req->hvalue[0] = CZ_STR("application/json");
    req->nheaders = 1;
    req->body = (cz_str_t){(const char *)in, size};
    int rc = cz_bind(req, doc_fields, &d, err, sizeof err);
    check_rc(rc, err);
    if (rc)
        return;
    if (!d.name || !d.role || d.age < 0 || d.age > 150)
        abort();
    if (strcmp(d.role, "admin") != 0 && strcmp(d.role, "user") != 0)
        abort();
    if (d.has_score && !(d.score > 0 && d.score <= 1))
        abort();
    char *first = dump(doc_fields, &d);
    doc_t again = {0};
    req->body = cz_str_c(first);
    if (cz_bind(req, doc_fields, &again, err, sizeof err) != 0)
        abort();
    char *second = dump(doc_fields, &again);
    if (strcmp(first, second) != 0)
        abort();
    free(first);
    free(second);
}

static cz_str_t take_line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *e = nl ? nl : end;
    cz_str_t s = {(const char *)*p, (size_t)(e - *p)};
    *p = nl ? nl + 1 : end;
    return s;
}

static void fuzz_text(const uint8_t *in, size_t size)
{
    const uint8_t *p = in, *end = in + size;
    cz_str_t param = take_line(&p, end), query = take_line(&p, end), hdr = take_line(&p, end);
    req->body = (cz_str_t){(const char *)p, (size_t)(end - p)};
    req->query = query;
    if (param.n) {
        req->match.params[0].name = CZ_STR("id");
        req->match.params[0].value = param;
        req->match.nparams = 1;
    }
    req->hname[0] = CZ_STR("Content-Type");
    req->hvalue[0] = CZ_STR("application/x-www-form-urlencoded");
    req->hname[1] = CZ_STR("X-H");
    req->hvalue[1] = hdr;
    req->hname[2] = CZ_STR("x-hs");
    req->hvalue[2] = hdr;
    req->hname[3] = CZ_STR("X-HS");
    req->hvalue[3] = param;
    req->nheaders = 4;
    char err[256];
    text_t t = {0};
    int rc = cz_bind(req, text_fields, &t, err, sizeof err);
    check_rc(rc, err);
    if (rc)
        return;
    if (t.id < -5 || t.id >= 1000000 || !(t.f >= 0 && t.f <= 1) || !t.s || t.hs.n != 2)
        abort();
    json_decref(cz_bind_to_json(text_fields, &t));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size == 0)
        return 0;
    reset_req();
    if (in[0] % 2 == 0)
        fuzz_json(in + 1, size - 1);
    else
        fuzz_text(in + 1, size - 1);
    return 0;
}
