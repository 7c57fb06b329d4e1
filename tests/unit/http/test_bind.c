/* SPDX-License-Identifier: MIT
 *
 * Tests for request binding (src/http/bind.c), as a handler sees it: every type and source,
 * nested objects and arrays, each go-zero tag option (optional, default, options, range, env),
 * the pass order, and every error with its exact message naming the field. Requests are built
 * in memory (the engine's cz_req_t from http_int.h), so no server or socket is involved.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "czero/bind.h"
#include "http/http_int.h"

/* ---- in-memory requests ---- */

static cz_req_t *req;
static char err[512];

static void setup(void)
{
    req = calloc(1, sizeof *req);
    cr_assert(req);
    cz_arena_init(&req->arena, 0);
    req->method = CZ_STR("GET");
    req->nqparams = -1;
    err[0] = '\0';
}

static void teardown(void)
{
    cz_arena_dispose(&req->arena);
    free(req);
}

TestSuite(bind, .init = setup, .fini = teardown);

static void set_method(const char *m) { req->method = cz_str_c(m); }
static void set_query(const char *q) { req->query = cz_str_c(q); }
static void add_header(const char *n, const char *v)
{
    req->hname[req->nheaders] = cz_str_c(n);
    req->hvalue[req->nheaders++] = cz_str_c(v);
}
static void add_param(const char *n, const char *v)
{
    cz_param_t *p = &req->match.params[req->match.nparams++];
    p->name = cz_str_c(n);
    p->value = cz_str_c(v);
}
static void set_json(const char *body)
{
    req->method = CZ_STR("POST");
    add_header("Content-Type", "application/json");
    req->body = cz_str_c(body);
}

static int do_bind(const cz_bind_field_t *t, void *out)
{
    return cz_bind(req, t, out, err, sizeof err);
}

static void bind_fails(const cz_bind_field_t *t, void *out, const char *msg)
{
    int rc = do_bind(t, out);
    cr_assert_eq(rc, CZ_EPARSE, "rc %d (%s)", rc, err);
    cr_assert_str_eq(err, msg);
}

/* ---- the demo's POST /users ---- */

typedef struct user {
    char *name;
    int64_t age;
    char *email;
    bool has_email;
} user_t;

static const cz_bind_field_t user_fields[] = {
    {.name = "name", .src = CZ_BIND_JSON, .type = CZ_BIND_STRING, .offset = offsetof(user_t, name)},
    {.name = "age", .type = CZ_BIND_INT, .offset = offsetof(user_t, age), .has_range = true,
     .lo = 0, .hi = 150},
    {.name = "email", .type = CZ_BIND_STRING, .offset = offsetof(user_t, email),
     .flags = CZ_BIND_OPTIONAL | CZ_BIND_HAS, .has_offset = offsetof(user_t, has_email)},
    {0},
};

Test(bind, demo_user_ok)
{
    user_t u = {0};
    set_json("{\"name\":\"ann\",\"age\":30,\"extra\":[1,{}]}");
    cr_assert_eq(do_bind(user_fields, &u), 0, "%s", err);
    cr_assert_str_eq(u.name, "ann");
    cr_assert_eq(u.age, 30);
    cr_assert_null(u.email);
    cr_assert_not(u.has_email);

    user_t v = {0};
    req->body = cz_str_c("{\"name\":\"bob\",\"age\":0,\"email\":\"b@x.io\"}");
    cr_assert_eq(do_bind(user_fields, &v), 0, "%s", err);
    cr_assert_str_eq(v.email, "b@x.io");
    cr_assert(v.has_email);
    cr_assert_eq(v.age, 0);
}

Test(bind, demo_user_errors)
{
    user_t u = {0};
    set_json("{\"age\":30}");
    bind_fails(user_fields, &u, "field \"name\" is not set");
    req->body = cz_str_c("{\"name\":\"a\"}");
    bind_fails(user_fields, &u, "field \"age\" is not set");
    req->body = cz_str_c("{\"name\":\"a\",\"age\":200}");
    bind_fails(user_fields, &u, "value \"200\" for field \"age\" is out of range [0:150]");
    req->body = cz_str_c("{\"name\":\"a\",\"age\":-1}");
    bind_fails(user_fields, &u, "value \"-1\" for field \"age\" is out of range [0:150]");
    req->body = cz_str_c("{\"name\":\"a\",\"age\":\"30\"}");
    bind_fails(user_fields, &u, "type mismatch for field \"age\"");
    req->body = cz_str_c("{\"name\":\"a\",\"age\":1.5}");
    bind_fails(user_fields, &u, "field \"age\": strconv.ParseInt: parsing \"1.5\": invalid syntax");
    req->body = cz_str_c("{\"name\":5,\"age\":1}");
    bind_fails(user_fields, &u,
               "type mismatch for field \"name\", expect \"string\", actual \"number\"");
    req->body = cz_str_c("{\"name\":null,\"age\":1}");
    bind_fails(user_fields, &u, "field \"name\" mustn't be nil");
    req->body = cz_str_c("{\"name\":true,\"age\":1}");
    bind_fails(user_fields, &u, "type mismatch for field \"name\"");
    req->body = cz_str_c("{\"name\":\"a\",\"age\":1,\"email\":null}");
    cr_assert_eq(do_bind(user_fields, &u), 0, "optional null is fine: %s", err);
}

Test(bind, json_body_rules)
{
    user_t u = {0};
    set_json("{\"name\":");
    cr_assert_eq(do_bind(user_fields, &u), CZ_EPARSE);
    cr_assert(strncmp(err, "invalid JSON body: ", 19) == 0, "%s", err);
    req->body = cz_str_c("[1,2]");
    bind_fails(user_fields, &u, "invalid JSON body: expect an object, got slice");

    /* go-zero withJsonBody: the JSON is read only with application/json (parameters allowed) */
    req->hvalue[0] = CZ_STR("application/json; charset=utf-8");
    req->body = cz_str_c("{\"name\":\"x\",\"age\":3}");
    cr_assert_eq(do_bind(user_fields, &u), 0, "%s", err);
    req->hvalue[0] = CZ_STR("text/plain");
    bind_fails(user_fields, &u, "field \"name\" is not set");
    req->hvalue[0] = CZ_STR("application/json");
    req->body = CZ_STR_NULL;
    bind_fails(user_fields, &u, "field \"name\" is not set");
}

/* ---- path, form, header ---- */

typedef struct mixed {
    int64_t id;
    uint64_t page;
    double ratio;
    bool verbose;
    char *q;
    char *trace;
    int64_t limit;
} mixed_t;

static const cz_bind_field_t mixed_fields[] = {
    {.name = "id", .src = CZ_BIND_PATH, .type = CZ_BIND_INT, .offset = offsetof(mixed_t, id)},
    {.name = "page", .src = CZ_BIND_FORM, .type = CZ_BIND_UINT, .offset = offsetof(mixed_t, page)},
    {.name = "ratio", .src = CZ_BIND_FORM, .type = CZ_BIND_FLOAT,
     .offset = offsetof(mixed_t, ratio), .flags = CZ_BIND_OPTIONAL},
    {.name = "verbose", .src = CZ_BIND_FORM, .type = CZ_BIND_BOOL,
     .offset = offsetof(mixed_t, verbose), .flags = CZ_BIND_OPTIONAL},
    {.name = "q", .src = CZ_BIND_FORM, .type = CZ_BIND_STRING, .offset = offsetof(mixed_t, q),
     .flags = CZ_BIND_OPTIONAL},
    {.name = "X-Trace-Id", .src = CZ_BIND_HEADER, .type = CZ_BIND_STRING,
     .offset = offsetof(mixed_t, trace), .flags = CZ_BIND_OPTIONAL},
    {.name = "x-limit", .src = CZ_BIND_HEADER, .type = CZ_BIND_INT,
     .offset = offsetof(mixed_t, limit), .def = "10"},
    {0},
};

Test(bind, text_sources_ok)
{
    mixed_t m = {0};
    add_param("id", "-42");
    set_query("page=3&ratio=0.25&verbose=TRUE&q=a+b%21%zz&other=1");
    add_header("x-trace-id", "abc");
    add_header("X-Limit", "25");
    cr_assert_eq(do_bind(mixed_fields, &m), 0, "%s", err);
    cr_assert_eq(m.id, -42);
    cr_assert_eq(m.page, 3);
    cr_assert_float_eq(m.ratio, 0.25, 1e-12);
    cr_assert(m.verbose);
    cr_assert_str_eq(m.q, "a b!%zz"); /* '+' is a space, a bad escape stays as it is */
    cr_assert_str_eq(m.trace, "abc");
    cr_assert_eq(m.limit, 25);
}

Test(bind, text_sources_errors)
{
    mixed_t m = {0};
    bind_fails(mixed_fields, &m, "field \"id\" is not set");
    add_param("id", "abc");
    bind_fails(mixed_fields, &m, "field \"id\": strconv.ParseInt: parsing \"abc\": invalid syntax");
    req->match.params[0].value = CZ_STR("99999999999999999999");
    bind_fails(mixed_fields, &m,
               "field \"id\": strconv.ParseInt: parsing \"99999999999999999999\": "
               "value out of range");
    req->match.params[0].value = CZ_STR("-9223372036854775808");
    bind_fails(mixed_fields, &m, "field \"page\" is not set");
    cr_assert_eq(m.id, INT64_MIN);
    set_query("page=-1");
    bind_fails(mixed_fields, &m,
               "field \"page\": strconv.ParseUint: parsing \"-1\": invalid syntax");
    set_query("page=1&ratio=1e999");
    bind_fails(mixed_fields, &m,
               "field \"ratio\": strconv.ParseFloat: parsing \"1e999\": value out of range");
    set_query("page=1&ratio=%201");
    bind_fails(mixed_fields, &m,
               "field \"ratio\": strconv.ParseFloat: parsing \" 1\": invalid syntax");
    set_query("page=1&verbose=yes");
    bind_fails(mixed_fields, &m, "type mismatch for field \"verbose\"");
    set_query("page=1");
    add_header("X-Limit", "ten\x01");
    bind_fails(mixed_fields, &m,
               "field \"x-limit\": strconv.ParseInt: parsing \"ten\\x01\": invalid syntax");
}

Test(bind, form_rules)
{
    mixed_t m = {0};
    add_param("id", "1");
    /* empty values are absent (go-zero GetFormValues); the header default applies */
    set_query("page=&page=7&q=");
    cr_assert_eq(do_bind(mixed_fields, &m), 0, "%s", err);
    cr_assert_eq(m.page, 7);
    cr_assert_null(m.q);
    cr_assert_eq(m.limit, 10);

    /* an urlencoded body counts for POST and comes before the query (Go's ParseForm) */
    mixed_t p = {0};
    set_method("POST");
    add_header("Content-Type", "application/x-www-form-urlencoded");
    req->body = CZ_STR("q=from+body&p%61ge=9");
    set_query("page=2&q=from-query");
    cr_assert_eq(do_bind(mixed_fields, &p), 0, "%s", err);
    cr_assert_eq(p.page, 9);
    cr_assert_str_eq(p.q, "from body");

    /* a GET body is not form data */
    mixed_t g = {0};
    set_method("GET");
    cr_assert_eq(do_bind(mixed_fields, &g), 0, "%s", err);
    cr_assert_eq(g.page, 2);
    cr_assert_str_eq(g.q, "from-query");
}

/* ---- arrays from every source ---- */

typedef struct lists {
    cz_bind_array_t names, ages, flags, hdrs, nums, defs, idefs;
} lists_t;

static const cz_bind_field_t list_fields[] = {
    {.name = "name", .src = CZ_BIND_FORM, .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_STRING,
     .offset = offsetof(lists_t, names)},
    {.name = "age", .src = CZ_BIND_FORM, .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_INT,
     .offset = offsetof(lists_t, ages), .flags = CZ_BIND_OPTIONAL},
    {.name = "flags", .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_BOOL,
     .offset = offsetof(lists_t, flags), .flags = CZ_BIND_OPTIONAL},
    {.name = "X-Tag", .src = CZ_BIND_HEADER, .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_STRING,
     .offset = offsetof(lists_t, hdrs), .flags = CZ_BIND_OPTIONAL},
    {.name = "nums", .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_FLOAT,
     .offset = offsetof(lists_t, nums), .flags = CZ_BIND_OPTIONAL},
    {.name = "defs", .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_STRING,
     .offset = offsetof(lists_t, defs), .def = "[a, b ,\"c\"]"},
    {.name = "idefs", .src = CZ_BIND_FORM, .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_INT,
     .offset = offsetof(lists_t, idefs), .def = "[1,2,3]"},
    {0},
};

#define ITEM(arr, T, i) (((T *)(arr).items)[i])

Test(bind, arrays)
{
    lists_t l = {0};
    set_query("name=hello&age=18&name%5B%5D=world&age[]=19&age=");
    add_header("X-Tag", "a");
    add_header("x-tag", "b");
    set_method("POST");
    add_header("Content-Type", "application/json");
    req->body = CZ_STR("{\"flags\":[true,\"0\",null],\"nums\":[1,\"2.5\",3e2]}");
    cr_assert_eq(do_bind(list_fields, &l), 0, "%s", err);
    cr_assert_eq(l.names.n, 2);
    cr_assert_str_eq(ITEM(l.names, char *, 0), "hello");
    cr_assert_str_eq(ITEM(l.names, char *, 1), "world");
    cr_assert_eq(l.ages.n, 2);
    cr_assert_eq(ITEM(l.ages, int64_t, 0), 18);
    cr_assert_eq(ITEM(l.ages, int64_t, 1), 19);
    cr_assert_eq(l.flags.n, 3);
    cr_assert(ITEM(l.flags, bool, 0));
    cr_assert_not(ITEM(l.flags, bool, 1));
    cr_assert_not(ITEM(l.flags, bool, 2)); /* null element stays zero */
    cr_assert_eq(l.hdrs.n, 2);
    cr_assert_str_eq(ITEM(l.hdrs, char *, 1), "b");
    cr_assert_eq(l.nums.n, 3);
    cr_assert_float_eq(ITEM(l.nums, double, 1), 2.5, 1e-12);
    cr_assert_float_eq(ITEM(l.nums, double, 2), 300.0, 1e-9);
    cr_assert_eq(l.defs.n, 3);
    cr_assert_str_eq(ITEM(l.defs, char *, 0), "a");
    cr_assert_str_eq(ITEM(l.defs, char *, 1), "b");
    cr_assert_str_eq(ITEM(l.defs, char *, 2), "c");
    cr_assert_eq(l.idefs.n, 3);
    cr_assert_eq(ITEM(l.idefs, int64_t, 2), 3);
}

Test(bind, array_errors)
{
    lists_t l = {0};
    bind_fails(list_fields, &l, "field \"name\" is not set");
    set_query("name=x&age=1&age=x");
    bind_fails(list_fields, &l,
               "field \"age[1]\": strconv.ParseInt: parsing \"x\": invalid syntax");
    set_query("name=x");
    set_json("{\"flags\":true}");
    bind_fails(list_fields, &l,
               "type mismatch for field \"flags\", expect \"slice\", actual \"bool\"");
    req->body = CZ_STR("{\"flags\":[true, 1]}");
    bind_fails(list_fields, &l, "type mismatch for field \"flags[1]\"");
    req->body = CZ_STR("{\"nums\":[[1]]}");
    bind_fails(list_fields, &l, "type mismatch for field \"nums[0]\"");
    req->body = CZ_STR("{\"nums\":[]}");
    cr_assert_eq(do_bind(list_fields, &l), 0, "%s", err);
    cr_assert_eq(l.nums.n, 0);
    cr_assert_null(l.nums.items);
}

/* ---- nested objects and arrays of objects ---- */

typedef struct addr {
    char *city;
    int64_t zip;
} addr_t;

typedef struct item {
    char *sku;
    int64_t qty;
} item_t;

typedef struct order {
    addr_t ship;
    addr_t bill; /* optional */
    struct { char *note; int64_t prio; } meta; /* all defaulted: may be absent */
    cz_bind_array_t items;
} order_t;

static const cz_bind_field_t addr_fields[] = {
    {.name = "city", .type = CZ_BIND_STRING, .offset = offsetof(addr_t, city)},
    {.name = "zip", .type = CZ_BIND_INT, .offset = offsetof(addr_t, zip),
     .flags = CZ_BIND_OPTIONAL},
    {0},
};
static const cz_bind_field_t item_fields[] = {
    {.name = "sku", .type = CZ_BIND_STRING, .offset = offsetof(item_t, sku)},
    {.name = "qty", .type = CZ_BIND_INT, .offset = offsetof(item_t, qty), .has_range = true,
     .lo = 0, .hi = INFINITY, .lo_open = true},
    {0},
};
static const cz_bind_field_t meta_fields[] = {
    {.name = "note", .type = CZ_BIND_STRING, .offset = 0, .def = "none"},
    {.name = "prio", .type = CZ_BIND_INT, .offset = sizeof(char *), .def = "5"},
    {0},
};
static const cz_bind_field_t order_fields[] = {
    {.name = "ship", .type = CZ_BIND_OBJECT, .sub = addr_fields, .offset = offsetof(order_t, ship)},
    {.name = "bill", .type = CZ_BIND_OBJECT, .sub = addr_fields, .offset = offsetof(order_t, bill),
     .flags = CZ_BIND_OPTIONAL},
    {.name = "meta", .type = CZ_BIND_OBJECT, .sub = meta_fields, .offset = offsetof(order_t, meta)},
    {.name = "items", .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_OBJECT, .sub = item_fields,
     .elem_size = sizeof(item_t), .offset = offsetof(order_t, items)},
    {0},
};

Test(bind, nested_ok)
{
    order_t o = {0};
    set_json("{\"ship\":{\"city\":\"Oslo\",\"zip\":150},"
             "\"items\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\",\"qty\":2,\"x\":0}]}");
    cr_assert_eq(do_bind(order_fields, &o), 0, "%s", err);
    cr_assert_str_eq(o.ship.city, "Oslo");
    cr_assert_eq(o.ship.zip, 150);
    cr_assert_null(o.bill.city);
    cr_assert_str_eq(o.meta.note, "none");
    cr_assert_eq(o.meta.prio, 5);
    cr_assert_eq(o.items.n, 2);
    cr_assert_str_eq(ITEM(o.items, item_t, 1).sku, "b");
    cr_assert_eq(ITEM(o.items, item_t, 1).qty, 2);
}

Test(bind, nested_errors)
{
    order_t o = {0};
    set_json("{\"items\":[]}");
    bind_fails(order_fields, &o, "field \"ship\" is not set");
    req->body = CZ_STR("{\"ship\":{},\"items\":[]}");
    bind_fails(order_fields, &o, "field \"ship.city\" is not set");
    req->body = CZ_STR("{\"ship\":\"Oslo\",\"items\":[]}");
    bind_fails(order_fields, &o, "type mismatch for field \"ship\"");
    req->body = CZ_STR("{\"ship\":{\"city\":\"x\"},\"bill\":{\"zip\":\"1\"},\"items\":[]}");
    bind_fails(order_fields, &o, "field \"bill.city\" is not set");
    req->body = CZ_STR("{\"ship\":{\"city\":\"x\"},\"items\":[{\"sku\":\"a\",\"qty\":1},3]}");
    bind_fails(order_fields, &o, "type mismatch for field \"items[1]\"");
    req->body = CZ_STR("{\"ship\":{\"city\":\"x\"},\"items\":[{\"sku\":\"a\",\"qty\":0}]}");
    bind_fails(order_fields, &o, "value \"0\" for field \"items[0].qty\" is out of range (0:]");
    req->body = CZ_STR("{\"ship\":{\"city\":\"x\"},\"meta\":{\"prio\":\"1\"},\"items\":[]}");
    bind_fails(order_fields, &o, "type mismatch for field \"meta.prio\"");
    req->body = CZ_STR("{\"ship\":{\"city\":\"x\"}}");
    bind_fails(order_fields, &o, "field \"items\" is not set");
}

/* ---- options, range, default, env, has ---- */

static const char *const genders[] = {"male", "female", NULL};
static const char *const levels[] = {"1", "2", "3", NULL};

typedef struct opts {
    char *gender;
    int64_t level;
    double ratio;
    char *mode;
    bool has_mode;
    int64_t env_n;
    char *kind;
} opts_t;

static const cz_bind_field_t opt_fields[] = {
    {.name = "gender", .src = CZ_BIND_FORM, .type = CZ_BIND_STRING,
     .offset = offsetof(opts_t, gender), .options = genders, .flags = CZ_BIND_OPTIONAL},
    {.name = "level", .type = CZ_BIND_INT, .offset = offsetof(opts_t, level), .options = levels,
     .flags = CZ_BIND_OPTIONAL},
    {.name = "ratio", .type = CZ_BIND_FLOAT, .offset = offsetof(opts_t, ratio),
     .flags = CZ_BIND_OPTIONAL, .has_range = true, .lo = 0, .hi = 1, .hi_open = true},
    {.name = "mode", .type = CZ_BIND_STRING, .offset = offsetof(opts_t, mode), .def = "fast",
     .flags = CZ_BIND_HAS, .has_offset = offsetof(opts_t, has_mode), .options = genders},
    {.name = "n", .type = CZ_BIND_INT, .offset = offsetof(opts_t, env_n), .env = "CZ_TEST_BIND_N",
     .def = "1"},
    {.name = "kind", .src = CZ_BIND_HEADER, .type = CZ_BIND_STRING,
     .offset = offsetof(opts_t, kind), .env = "CZ_TEST_BIND_KIND", .flags = CZ_BIND_OPTIONAL},
    {0},
};

Test(bind, options_and_range)
{
    opts_t o = {0};
    set_query("gender=other");
    bind_fails(opt_fields, &o,
               "value \"other\" for field \"gender\" is not defined in options \"[male female]\"");
    set_query("gender=female");
    set_json("{\"level\":4}");
    bind_fails(opt_fields, &o,
               "value \"4\" for field \"level\" is not defined in options \"[1 2 3]\"");
    req->body = CZ_STR("{\"level\":2,\"ratio\":1}");
    bind_fails(opt_fields, &o, "value \"1\" for field \"ratio\" is out of range [0:1)");
    req->body = CZ_STR("{\"level\":2,\"ratio\":-0.5}");
    bind_fails(opt_fields, &o, "value \"-0.5\" for field \"ratio\" is out of range [0:1)");
    req->body = CZ_STR("{\"level\":2,\"ratio\":0.999}");
    cr_assert_eq(do_bind(opt_fields, &o), 0, "%s", err);
    cr_assert_str_eq(o.gender, "female");
    cr_assert_eq(o.level, 2);
    cr_assert_float_eq(o.ratio, 0.999, 1e-12);
    /* a default is not checked against options (go-zero), and counts as a value for HAS */
    cr_assert_str_eq(o.mode, "fast");
    cr_assert(o.has_mode);
    cr_assert_eq(o.env_n, 1);
}

Test(bind, env_wins)
{
    opts_t o = {0};
    setenv("CZ_TEST_BIND_N", "77", 1);
    setenv("CZ_TEST_BIND_KIND", "from-env", 1);
    add_header("kind", "from-header");
    set_json("{\"n\":5}");
    cr_assert_eq(do_bind(opt_fields, &o), 0, "%s", err);
    cr_assert_eq(o.env_n, 77);
    cr_assert_str_eq(o.kind, "from-env");
    unsetenv("CZ_TEST_BIND_N");
    unsetenv("CZ_TEST_BIND_KIND");
    opts_t p = {0};
    cr_assert_eq(do_bind(opt_fields, &p), 0, "%s", err);
    cr_assert_eq(p.env_n, 5);
    cr_assert_str_eq(p.kind, "from-header");
}

/* ---- pass order, tables, messages ---- */

Test(bind, path_errors_before_json)
{
    static const cz_bind_field_t t[] = {
        {.name = "body", .type = CZ_BIND_STRING, .offset = 0},
        {.name = "id", .src = CZ_BIND_PATH, .type = CZ_BIND_INT, .offset = 8},
        {0},
    };
    char out[16] = {0};
    set_json("{");
    bind_fails(t, out, "field \"id\" is not set");
}

Test(bind, bad_tables_and_args)
{
    static const cz_bind_field_t no_sub[] = {{.name = "o", .type = CZ_BIND_OBJECT}, {0}};
    static const cz_bind_field_t arr_arr[] = {
        {.name = "a", .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_ARRAY}, {0}};
    static const cz_bind_field_t bad_def[] = {
        {.name = "n", .type = CZ_BIND_INT, .def = "ten"}, {0}};
    static const cz_bind_field_t bad_src[] = {
        {.name = "s", .src = (cz_bind_source_t)9, .type = CZ_BIND_INT}, {0}};
    char out[64] = {0};
    cr_assert_eq(do_bind(bad_src, out), CZ_EARG);
    cr_assert_str_eq(err, "field \"s\": unknown source");
    cr_assert_eq(do_bind(no_sub, out), CZ_EARG);
    cr_assert_str_eq(err, "field \"o\": OBJECT needs .sub");
    cr_assert_eq(do_bind(arr_arr, out), CZ_EARG);
    cr_assert_eq(do_bind(bad_def, out), CZ_EARG);
    cr_assert_str_eq(err, "field \"n\": default \"ten\" does not convert");
    cr_assert_eq(cz_bind(NULL, no_sub, out, err, sizeof err), CZ_EARG);
    cr_assert_eq(cz_bind(req, NULL, out, NULL, 0), CZ_EARG);
}

Test(bind, long_values_and_small_buffers)
{
    char big[600];
    memset(big, '7', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = 'x';
    add_param("id", big);
    mixed_t m = {0};
    cr_assert_eq(do_bind(mixed_fields, &m), CZ_EPARSE);
    cr_assert(strlen(err) < 200, "message stays short: %zu", strlen(err));
    cr_assert(strstr(err, "...\": invalid syntax"), "%s", err);
    char tiny[8];
    cr_assert_eq(cz_bind(req, mixed_fields, &m, tiny, sizeof tiny), CZ_EPARSE);
    cr_assert_str_eq(tiny, "field \"");
}

Test(bind, or_400_answers)
{
    user_t u = {0};
    set_json("{\"name\":\"a\",\"age\":151}");
    cr_assert_eq(cz_bind_or_400(req, &req->res, user_fields, &u), CZ_EPARSE);
    cr_assert_eq(cz_res_get_status(&req->res), 400);
    const char *want = "value \"151\" for field \"age\" is out of range [0:150]\n";
    cr_assert_eq(req->res.body_len, strlen(want));
    cr_assert(memcmp(req->res.body, want, strlen(want)) == 0);
}

Test(bind, to_json)
{
    user_t u = {.name = "ann", .age = 7};
    json_t *j = cz_bind_to_json(user_fields, &u);
    char *s = json_dumps(j, JSON_COMPACT);
    cr_assert_str_eq(s, "{\"name\":\"ann\",\"age\":7}"); /* email has no value: left out */
    free(s);
    json_decref(j);

    order_t o = {0};
    set_json("{\"ship\":{\"city\":\"Oslo\"},\"items\":[{\"sku\":\"a\",\"qty\":1}]}");
    cr_assert_eq(do_bind(order_fields, &o), 0, "%s", err);
    j = cz_bind_to_json(order_fields, &o);
    s = json_dumps(j, JSON_COMPACT);
    cr_assert_str_eq(s, "{\"ship\":{\"city\":\"Oslo\",\"zip\":0},"
                        "\"bill\":{\"city\":\"\",\"zip\":0},"
                        "\"meta\":{\"note\":\"none\",\"prio\":5},"
                        "\"items\":[{\"sku\":\"a\",\"qty\":1}]}");
    free(s);
    json_decref(j);
    cr_assert_null(cz_bind_to_json(user_fields, NULL));
}
