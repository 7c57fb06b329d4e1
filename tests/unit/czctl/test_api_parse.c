/* SPDX-License-Identifier: MIT
 *
 * test_api_parse.c: czctl's .api reader (tools/czctl/api_lex.c, api_parse.c, api_tag.c,
 * api_check.c).
 *
 * Every file in tests/czctl/ must load with its imports and pass the checks; every file in
 * tests/czctl/bad/ must fail with exactly the diagnostic its first line announces
 * (`// error: file:line:col: message`). The other tests look inside the tree: the shapes of
 * types, tags and options, @server keys, the older grammar's forms, where comments attach, and
 * positions counted in characters.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "api_ast.h"

#define API_DIR CZ_SOURCE_DIR "/tests/czctl"

static cz_api_t *load(const char *name)
{
    cr_assert_eq(chdir(API_DIR), 0);
    cz_api_t *api = NULL;
    cz_diag_t d;
    char buf[800];
    int rc = cz_api_load(&api, name, &d);
    cr_assert_eq(rc, 0, "%s: %s", name, cz_diag_format(&d, buf, sizeof buf));
    return api;
}

static cz_api_t *parse(const char *src, cz_diag_t *d)
{
    cz_api_t *api = NULL;
    int rc = cz_api_parse(&api, "mem.api", src, strlen(src), d);
    if (rc)
        cr_assert_null(api);
    return api;
}

static const char *parse_err(const char *src)
{
    static char buf[800];
    cz_diag_t d;
    cz_api_t *api = parse(src, &d);
    cr_assert_null(api, "expected an error for: %s", src);
    return cz_diag_format(&d, buf, sizeof buf);
}

static const cz_api_service_t *service(const cz_api_file_t *f, int i)
{
    for (const cz_api_stmt_t *st = f->stmts; st; st = st->next)
        if (st->kind == CZ_API_S_SERVICE && i-- == 0)
            return st->service;
    cr_assert_fail("no service %d", i);
    return NULL;
}

static const cz_api_typedecl_t *typedecl(const cz_api_t *api, const char *name)
{
    for (const cz_api_file_t *f = api->files; f; f = f->next)
        for (const cz_api_stmt_t *st = f->stmts; st; st = st->next)
            if (st->kind == CZ_API_S_TYPE)
                for (const cz_api_typedecl_t *td = st->types; td; td = td->next)
                    if (!strcmp(td->name, name))
                        return td;
    cr_assert_fail("no type %s", name);
    return NULL;
}

static const cz_api_field_t *field(const cz_api_type_t *t, const char *name)
{
    for (const cz_api_field_t *f = t->fields; f; f = f->next)
        if (f->names ? !strcmp(f->names[0], name)
                     : !strcmp(f->type->kind == CZ_API_T_POINTER ? f->type->elem->name
                                                                 : f->type->name,
                               name))
            return f;
    cr_assert_fail("no field %s", name);
    return NULL;
}

static const char *tstr(cz_api_t *api, const cz_api_type_t *t)
{
    return cz_api_type_str(&api->arena, t);
}

static const char *opt(const cz_api_field_t *f, const char *key, const char *o)
{
    const cz_api_tag_t *t = cz_api_tag_find(f, key);
    cr_assert_not_null(t, "no tag %s", key);
    const cz_api_tag_opt_t *op = cz_api_tag_opt(t, o);
    cr_assert_not_null(op, "no option %s", o);
    return op->value ? op->value : "(none)";
}

Test(api_files, every_valid_file_loads)
{
    DIR *dir = opendir(API_DIR);
    cr_assert_not_null(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".api")) {
            cz_api_free(load(e->d_name));
            n++;
        }
    }
    closedir(dir);
    cr_assert_geq(n, 8);
}

Test(api_files, every_bad_file_fails_where_it_says)
{
    cr_assert_eq(chdir(API_DIR "/bad"), 0);
    DIR *dir = opendir(".");
    cr_assert_not_null(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t l = strlen(e->d_name);
        if (l <= 4 || strcmp(e->d_name + l - 4, ".api"))
            continue;
        char want[512] = "";
        FILE *f = fopen(e->d_name, "r");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(want, sizeof want, f));
        fclose(f);
        want[strcspn(want, "\n")] = '\0';
        cr_assert_eq(strncmp(want, "// error: ", 10), 0, "%s: no expected error", e->d_name);
        cz_api_t *api = NULL;
        cz_diag_t d;
        char got[800];
        int rc = cz_api_load(&api, e->d_name, &d);
        cr_assert_neq(rc, 0, "%s loaded", e->d_name);
        cr_assert_null(api);
        cr_expect_str_eq(cz_diag_format(&d, got, sizeof got), want + 10, "%s", e->d_name);
        n++;
    }
    closedir(dir);
    cr_assert_geq(n, 25);
}

Test(api_parse, greet)
{
    cz_api_t *api = load("greet.api");
    const cz_api_file_t *f = api->files;
    cr_assert_null(f->next);
    cr_assert_str_eq(f->syntax, "v1");
    const cz_api_service_t *sv = service(f, 0);
    cr_assert_str_eq(sv->name, "greet-api");
    cr_assert_null(sv->server);
    const cz_api_route_t *r = sv->routes;
    cr_assert_str_eq(r->handler, "GreetHandler");
    cr_assert_str_eq(r->method, "get");
    cr_assert_str_eq(r->path, "/from/:name");
    cr_assert_str_eq(r->request->name, "Request");
    cr_assert_str_eq(r->response->name, "Response");
    cr_assert_null(r->next);
    const cz_api_field_t *name = field(typedecl(api, "Request")->type, "Name");
    const cz_api_tag_t *tag = cz_api_tag_find(name, "path");
    cr_assert_str_eq(tag->name, "name");
    cr_assert_str_eq(opt(name, "path", "options"), "you|me");
    cr_assert_eq(r->method_pos.line, 13);
    cr_assert_eq(r->method_pos.col, 2);
    cz_api_free(api);
}

Test(api_parse, imports_each_file_once_relative_to_importer)
{
    cz_api_t *api = load("mall.api");
    const char *want[] = {"mall.api", "user.api", "common/base.api", "order.api"};
    int i = 0;
    for (const cz_api_file_t *f = api->files; f; f = f->next, i++) {
        cr_assert_lt(i, 4);
        cr_assert_str_eq(f->path, want[i]);
    }
    cr_assert_eq(i, 4, "common/base.api is imported twice but read once");
    cr_assert_str_eq(cz_api_kv_get(api->files->info, "title"), "mall");
    /* three service blocks of one name across files, each its own @server group */
    const cz_api_service_t *orders = service(api->files->next->next->next, 0);
    cr_assert_str_eq(orders->name, "mall-api");
    cr_assert_str_eq(cz_api_kv_get(orders->server, "middleware"), "Audit, RateLimit");
    cr_assert_str_eq(cz_api_kv_get(orders->server, "timeout"), "5s");
    cr_assert_str_eq(cz_api_kv_get(orders->server, "maxBytes"), "1048576");
    const cz_api_route_t *r = orders->routes->next->next;
    cr_assert_str_eq(tstr(api, r->response), "[]Order");
    cr_assert_str_eq(r->next->method, "delete");
    cr_assert_null(r->next->response);
    /* an embedded type from the imported file resolves */
    const cz_api_field_t *emb = typedecl(api, "OrderListReq")->type->fields;
    cr_assert_null(emb->names);
    cr_assert_str_eq(emb->type->name, "PageReq");
    cz_api_free(api);
}

Test(api_parse, server_keys_and_tag_options)
{
    cz_api_t *api = load("options.api");
    const cz_api_service_t *sv = service(api->files, 0);
    const char *keys[][2] = {{"jwt", "JwtAuth"},        {"group", "search/v2"},
                             {"prefix", "/v2/search"},  {"middleware", "Trace,Limit"},
                             {"timeout", "1500ms"},     {"maxBytes", "4096"},
                             {"signature", "true"},     {"maxConns", "100"},
                             {"unknownKey", "kept as written"}};
    const cz_api_kv_t *kv = sv->server;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++, kv = kv->next) {
        cr_assert_not_null(kv);
        cr_assert_str_eq(kv->key, keys[i][0]);
        cr_assert_str_eq(kv->value, keys[i][1]);
    }
    cr_assert_null(kv);
    cr_assert_str_eq(sv->server->next->next->next->next->next->next->next->next->raw,
                     "\"kept as written\"");
    const cz_api_route_t *r = sv->routes;
    cr_assert_str_eq(cz_api_kv_get(r->doc_kv, "summary"), "search everything");
    const char *methods[] = {"get", "post", "put", "patch", "delete", "head"};
    for (int i = 0; i < 6; i++, r = r->next)
        cr_assert_str_eq(r->method, methods[i]);
    cr_assert_str_eq(sv->routes->next->next->path, "/:region/items/:id/full-name.json");

    const cz_api_type_t *req = typedecl(api, "SearchReq")->type;
    cr_assert_str_eq(opt(field(req, "Page"), "form", "optional"), "(none)");
    cr_assert_str_eq(opt(field(req, "Page"), "form", "default"), "1");
    cr_assert_str_eq(opt(field(req, "Size"), "form", "range"), "[1:100]");
    cr_assert_str_eq(opt(field(req, "Score"), "form", "range"), "(0:1]");
    cr_assert_str_eq(opt(field(req, "Sort"), "form", "options"), "asc|desc");
    cr_assert_str_eq(opt(field(req, "Kind"), "form", "options"), "[a,b,c]");
    cr_assert_str_eq(cz_api_tag_find(field(req, "TraceId"), "header")->name, "X-Trace-Id");
    cr_assert_str_eq(opt(field(req, "Example"), "json", "example"), "hello world");
    cr_assert_str_eq(opt(field(req, "FromEnv"), "json", "env"), "APP_ENV");
    cr_assert_str_eq(opt(field(req, "Both"), "json", "optional"), "Other");
    cr_assert_str_eq(cz_api_tag_find(field(req, "Both"), "validate")->name, "required");
    cr_assert_str_eq(cz_api_tag_find(field(req, "Other"), "json")->name, "");
    cr_assert_null(cz_api_tag_find(field(req, "Other"), "form"));
    cz_api_free(api);
}

Test(api_parse, go_types_as_trees)
{
    cz_api_t *api = load("types.api");
    cr_assert(typedecl(api, "Alias")->assign);
    cr_assert_str_eq(typedecl(api, "Alias")->type->name, "string");
    cr_assert_not(typedecl(api, "Named")->assign);
    const cz_api_field_t *pt = typedecl(api, "Point")->type->fields;
    cr_assert_eq(pt->nnames, 2);
    cr_assert_str_eq(pt->names[0], "X");
    cr_assert_str_eq(pt->names[1], "Y");
    cr_assert_null(pt->names[2]);

    const cz_api_type_t *e = typedecl(api, "Everything")->type;
    cr_assert_eq(e->kind, CZ_API_T_STRUCT);
    const cz_api_field_t *emb = e->fields, *emb2 = e->fields->next;
    cr_assert_null(emb->names);
    cr_assert_eq(emb->type->kind, CZ_API_T_IDENT);
    cr_assert_null(emb2->names);
    cr_assert_eq(emb2->type->kind, CZ_API_T_POINTER);
    struct {
        const char *name, *type;
    } want[] = {{"I", "int"},           {"Bytes", "[]byte"},
                {"Ptr", "*Base"},       {"Ptrs", "[]*Base"},
                {"Arr", "[4]int"},      {"Dots", "[...]string"},
                {"Grid", "[3][3]int"},  {"MS", "map[string][]*Base"},
                {"MM", "map[int]map[string]bool"}, {"Any", "interface{}"},
                {"AnyT", "any"},        {"When", "time.Time"},
                {"List", "[]{...}"},    {"Empty", "{...}"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_str_eq(tstr(api, field(e, want[i].name)->type), want[i].type, "%s",
                         want[i].name);
    const cz_api_type_t *ms = field(e, "MS")->type;
    cr_assert_eq(ms->kind, CZ_API_T_MAP);
    cr_assert_str_eq(ms->key->name, "string");
    cr_assert_eq(ms->elem->kind, CZ_API_T_SLICE);
    cr_assert_eq(ms->elem->elem->kind, CZ_API_T_POINTER);
    cr_assert_eq(field(e, "Arr")->type->len, 4);
    cr_assert_eq(field(e, "Dots")->type->len, -1);
    const cz_api_field_t *inner = field(e, "Inner");
    cr_assert_str_eq(cz_api_tag_find(inner, "json")->name, "inner");
    const cz_api_field_t *deep = field(inner->type, "Deep");
    cr_assert_eq(deep->type->kind, CZ_API_T_STRUCT);
    cr_assert_str_eq(cz_api_tag_find(field(deep->type, "B"), "json")->name, "b");
    cr_assert_null(field(e, "Empty")->type->fields);

    const cz_api_route_t *r = service(api->files, 0)->routes;
    cr_assert_null(r->request);
    cr_assert_str_eq(tstr(api, r->next->request), "[]*Everything");
    cr_assert_null(r->next->next->request, "() is no request");
    cr_assert_null(r->next->next->response, "() is no response");
    cz_api_free(api);
}

Test(api_parse, older_grammar)
{
    cz_api_t *api = load("legacy.api");
    const cz_api_kv_t *info = api->files->info;
    cr_assert_str_eq(cz_api_kv_get(info, "title"), "legacy user service");
    cr_assert_str_eq(cz_api_kv_get(info, "desc"), "a description\nthat spans two lines");
    cr_assert_str_eq(cz_api_kv_get(info, "date"), "2020-01-04");
    cr_assert_eq(typedecl(api, "Foo")->type->kind, CZ_API_T_STRUCT, "`Foo struct {}`");
    cr_assert_str_eq(field(typedecl(api, "Bar")->type, "At")->type->name, "time.Time");
    const cz_api_service_t *sv = service(api->files, 0);
    cr_assert_str_eq(cz_api_kv_get(sv->server, "middleware"), "a, b");
    cr_assert_str_eq(cz_api_kv_get(sv->server, "anotherKey"), "another value with spaces");
    const cz_api_route_t *r = sv->routes;
    cr_assert_str_eq(r->doc, "foo", "@doc(\"foo\")");
    cr_assert_str_eq(r->handler, "foo");
    const cz_api_route_t *bar = r->next;
    cr_assert_str_eq(bar->handler, "bar", "handler from the per-route @server");
    cr_assert_str_eq(cz_api_kv_get(bar->server, "handler"), "bar");
    cr_assert_str_eq(cz_api_kv_get(bar->doc_kv, "summary"), "foo bar");
    const cz_api_service_t *baz = service(api->files, 1);
    cr_assert_str_eq(cz_api_kv_get(baz->server, "group"), "baz", "two keys on one line");
    cr_assert_str_eq(cz_api_kv_get(baz->server, "prefix"), "/baz");
    cr_assert_str_eq(baz->routes->path, "/baz/:id");
    cr_assert_str_eq(baz->routes->request->name, "Foo");
    cr_assert_str_eq(baz->routes->response->name, "Bar");
    cz_api_free(api);
}

Test(api_parse, comments_attach_to_nodes)
{
    cz_api_t *api = load("comments.api");
    const cz_api_file_t *f = api->files;
    const cz_api_stmt_t *st = f->stmts;
    cr_assert_str_eq(st->notes.head->text, "// File head comment.");
    cr_assert(st->notes.head->next->blank_before);
    cr_assert_str_eq(st->notes.tail->text, "// syntax tail");
    const cz_api_typedecl_t *req = typedecl(api, "Req");
    cr_assert_str_eq(req->type->open_tail->text, "// struct open");
    const cz_api_field_t *name = req->type->fields;
    cr_assert_str_eq(name->notes.head->text, "// field head");
    cr_assert_str_eq(name->notes.tail->text, "// field tail");
    cr_assert(name->next->notes.blank_before);
    cr_assert_str_eq(name->next->notes.tail->text, "/* mid */");
    cr_assert_str_eq(req->type->close.head->text, "// before brace");
    cr_assert_str_eq(req->notes.tail->text, "// type tail");
    const cz_api_service_t *sv = service(f, 0);
    cr_assert_str_eq(sv->service_notes.head->text, "// service head");
    const cz_api_route_t *r = sv->routes;
    cr_assert_str_eq(r->doc_notes.head->text, "// doc head");
    cr_assert_str_eq(r->handler_notes.tail->text, "// handler tail");
    cr_assert_str_eq(r->notes.tail->text, "// route tail");
    cr_assert_str_eq(r->next->path, "/c2");
    cr_assert_str_eq(r->next->notes.tail->text, "// glued comment");
    cr_assert_str_eq(sv->close.head->text, "// before close brace");
    cr_assert_str_eq(f->trailing->text, "// trailing comment");
    cr_assert_str_eq(f->trailing->next->text, "/* trailing block */");
    cr_assert(f->trailing->next->blank_before);
    cz_api_free(api);
}

Test(api_parse, errors_name_line_and_column)
{
    cr_assert_str_eq(parse_err("syntax = \"v1\"\ninfo (\n\ttitle: x\n"),
                     "mem.api:4:1: expected key or ')', got end of file");
    cr_assert_str_eq(parse_err("type A {\n\tB int\n"),
                     "mem.api:3:1: expected field name, embedded type or '}', got end of file");
    cr_assert_str_eq(parse_err("type A map[string"), "mem.api:1:18: expected ']', got end of file");
    cr_assert_str_eq(parse_err("service a {\n\t@handler h\n\tget users\n}"),
                     "mem.api:3:6: expected path starting with '/', got 'users'");
    cr_assert_str_eq(parse_err("service a {\n\t@handler h\n\tget /a/:b:c\n}"),
                     "mem.api:3:11: expected '/' or end of path, got ':'");
    cr_assert_str_eq(parse_err("@server (\n\tgroup: a\n)\ntype A {}"),
                     "mem.api:4:1: expected 'service' after @server(...), got 'type'");
    cr_assert_str_eq(parse_err("info (a: 1)\ninfo (b: 2)"), "mem.api:2:1: duplicate info block");
    cr_assert_str_eq(parse_err("@doc \"x\""),
                     "mem.api:1:1: expected 'syntax', 'import', 'info', 'type', '@server' or "
                     "'service', got '@doc'");
    cr_assert_str_eq(parse_err("@route x"),
                     "mem.api:1:1: expected 'syntax', 'import', 'info', 'type', '@server' or "
                     "'service', got '@route'");
    cr_assert_str_eq(parse_err("type A {\n\tB int `json:\"b\"json:\"c\"`\n}"),
                     "mem.api:2:17: malformed tag: expected space between key:\"value\" pairs");
    cr_assert_str_eq(parse_err("type A {\n\tB int `json:\"b\" json:\"c\"`\n}"),
                     "mem.api:2:18: duplicate tag key 'json'");
    cr_assert_str_eq(parse_err("type A {\n\tB int `json:\"b,default\"`\n}"),
                     "mem.api:2:17: expected '=' after 'default'");
    cr_assert_str_eq(parse_err("type func {}"), "mem.api:1:6: expected type name, got keyword "
                                                "'func'");
    cr_assert_str_eq(parse_err("import \"\""), "mem.api:1:8: empty import path");
}

Test(api_parse, columns_count_characters_not_bytes)
{
    /* "é" and "用户" are multi-byte in UTF-8 but one column each */
    cr_assert_str_eq(parse_err("info (t: \"é用户\") #"), "mem.api:1:17: expected 'syntax', "
                                                       "'import', 'info', 'type', '@server' or "
                                                       "'service', got '#'");
    cr_assert_str_eq(parse_err("type A {\n\tB int `json:\"é,range=[x]\"`\n}"),
                     "mem.api:2:17: invalid range '[x]': expected [min:max], bounds optional, "
                     "brackets [ ( ] )");
    cr_assert_str_eq(parse_err("type A {\n\tB ¤int\n}"), "mem.api:2:4: expected type, got '¤'");
}

Test(api_parse, crlf_and_empty_input)
{
    cz_diag_t d;
    cz_api_t *api = parse("syntax = \"v1\" // c\r\ntype A {\r\n\tB int // b\r\n}\r\n", &d);
    cr_assert_not_null(api);
    cr_assert_str_eq(api->files->stmts->notes.tail->text, "// c");
    cr_assert_str_eq(typedecl(api, "A")->type->fields->notes.tail->text, "// b");
    cz_api_free(api);
    api = parse("", &d);
    cr_assert_not_null(api);
    cr_assert_null(api->files->stmts);
    cz_api_free(api);
    /* a NULL diagnostic is allowed */
    cz_api_t *bad = NULL;
    cr_assert_eq(cz_api_parse(&bad, "x.api", "type", 4, NULL), CZ_EPARSE);
    cr_assert_null(bad);
    /* NUL bytes are refused anywhere, comments included */
    cr_assert_eq(cz_api_parse(&bad, "x.api", "type A\n/* \0 */{}", 16, &d), CZ_EPARSE);
    cr_assert_eq(d.line, 2);
    cr_assert_eq(d.col, 4);
    cr_assert_str_eq(d.msg, "NUL byte in input");
}

Test(api_check, checks_run_on_parsed_text)
{
    cz_diag_t d;
    char buf[800];
    cz_api_t *api = parse("type A {\n\tB []*C\n}\n", &d);
    cr_assert_not_null(api);
    cr_assert_eq(cz_api_check(api, &d), CZ_EPARSE);
    cr_assert_str_eq(cz_diag_format(&d, buf, sizeof buf), "mem.api:2:7: unresolved type 'C'");
    cz_api_free(api);

    /* same handler name in two groups is fine; same path under two prefixes is fine */
    api = parse("@server (group: a prefix: /a)\nservice s {\n\t@handler h\n\tget /x\n}\n"
                "@server (group: b prefix: /b)\nservice s-api {\n\t@handler h\n\tget /x\n}\n",
                &d);
    cr_assert_not_null(api);
    cr_assert_eq(cz_api_check(api, &d), 0, "%s", cz_diag_format(&d, buf, sizeof buf));
    cz_api_free(api);

    api = parse("service s {\n\t@handler h\n\tget /x\n\n\t@handler h2\n\tget /x\n}\n", &d);
    cr_assert_eq(cz_api_check(api, &d), CZ_EPARSE);
    cr_assert_str_eq(cz_diag_format(&d, buf, sizeof buf),
                     "mem.api:6:2: duplicate route 'get /x' (first at mem.api:3:2)");
    cz_api_free(api);
    cr_assert_eq(cz_api_check(NULL, &d), CZ_EPARSE);
}

Test(api_check, unreadable_root_file)
{
    cz_api_t *api = (cz_api_t *)1;
    cz_diag_t d;
    char buf[800];
    cr_assert_lt(cz_api_load(&api, "/nonexistent/x.api", &d), 0);
    cr_assert_null(api);
    cr_assert_str_eq(cz_diag_format(&d, buf, sizeof buf),
                     "/nonexistent/x.api: cannot read /nonexistent/x.api: No such file or "
                     "directory");
}
