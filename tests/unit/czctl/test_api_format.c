/* SPDX-License-Identifier: MIT
 *
 * test_api_format.c: `czctl api format` (tools/czctl/api_format.c).
 *
 * For every .api file under tests/czctl/ (bad/ excepted): the formatted text parses, means the
 * same (a dump of the tree without comments is unchanged), keeps every comment, and formats to
 * itself. Then goctl's layout rules one by one on small inputs, compared with exact text.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api_ast.h"

#define API_DIR CZ_SOURCE_DIR "/tests/czctl"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(f);
    fclose(m);
    *len = n;
    return buf;
}

/* ---- a comment-free dump of the tree: what the file means --------------------------------- */

static void dump_type(FILE *o, const cz_api_type_t *t);

static void dump_kvs(FILE *o, const cz_api_kv_t *kv)
{
    for (; kv; kv = kv->next)
        fprintf(o, "%s=%s;", kv->key, kv->value);
}

static void dump_fields(FILE *o, const cz_api_field_t *f)
{
    for (; f; f = f->next) {
        for (int i = 0; i < f->nnames; i++)
            fprintf(o, "%s,", f->names[i]);
        dump_type(o, f->type);
        for (const cz_api_tag_t *t = f->tags; t; t = t->next) {
            fprintf(o, " %s:%s", t->key, t->name);
            for (const cz_api_tag_opt_t *op = t->opts; op; op = op->next)
                fprintf(o, "/%s=%s", op->key, op->value ? op->value : "");
        }
        fputs(";", o);
    }
}

static void dump_type(FILE *o, const cz_api_type_t *t)
{
    if (!t) {
        fputs("-", o);
        return;
    }
    fprintf(o, "(%d %s %ld ", t->kind, t->name ? t->name : "", t->len);
    if (t->key)
        dump_type(o, t->key);
    if (t->elem)
        dump_type(o, t->elem);
    dump_fields(o, t->fields);
    fputs(")", o);
}

static char *dump(const cz_api_file_t *f)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *o = open_memstream(&buf, &n);
    fprintf(o, "syntax %s\n", f->syntax ? f->syntax : "-");
    for (const cz_api_stmt_t *st = f->stmts; st; st = st->next) {
        fprintf(o, "stmt %d group %d\n", st->kind, st->group);
        for (const cz_api_import_t *im = st->imports; im; im = im->next)
            fprintf(o, "import %s\n", im->path);
        dump_kvs(o, st->info);
        for (const cz_api_typedecl_t *td = st->types; td; td = td->next) {
            fprintf(o, "type %s %d ", td->name, td->assign);
            dump_type(o, td->type);
            fputc('\n', o);
        }
        if (st->service) {
            fprintf(o, "service %s ", st->service->name);
            dump_kvs(o, st->service->server);
            for (const cz_api_route_t *r = st->service->routes; r; r = r->next) {
                fprintf(o, "\n route %s %s %s doc=%s ", r->handler, r->method, r->path,
                        r->doc ? r->doc : "-");
                dump_kvs(o, r->doc_kv);
                dump_kvs(o, r->server);
                dump_type(o, r->request);
                dump_type(o, r->response);
            }
            fputc('\n', o);
        }
    }
    fclose(o);
    return buf;
}

static int count_list(const cz_api_comment_t *c)
{
    int n = 0;
    for (; c; c = c->next)
        n++;
    return n;
}

/* Comments in the source text (outside strings), counted by scanning: independent of where
 * the parser attached them. */
static int count_comments(const char *s, size_t n)
{
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '`') {
            char q = s[i++];
            while (i < n && s[i] != q)
                i += s[i] == '\\' && q == '"' ? 2 : 1;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
            count++;
            while (i < n && s[i] != '\n')
                i++;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            count++;
            i += 2;
            while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/'))
                i++;
            i++;
        }
    }
    (void)count_list;
    return count;
}

static char *format_text(const char *name, const char *src, size_t len, size_t *outlen)
{
    cz_api_t *api;
    cz_diag_t d;
    char buf[800];
    int rc = cz_api_parse(&api, name, src, len, &d);
    cr_assert_eq(rc, 0, "%s", cz_diag_format(&d, buf, sizeof buf));
    char *out;
    cr_assert_eq(cz_api_format_string(api->files, &out, outlen), 0);
    cz_api_free(api);
    return out;
}

static void check_file(const char *path)
{
    size_t len, n1, n2;
    char *src = slurp(path, &len);
    cz_api_t *a1, *a2;
    cz_diag_t d;
    char buf[800];
    cr_assert_eq(cz_api_parse(&a1, path, src, len, &d), 0, "%s",
                 cz_diag_format(&d, buf, sizeof buf));
    char *once = format_text(path, src, len, &n1);
    cr_assert_eq(cz_api_parse(&a2, path, once, n1, &d), 0, "formatted %s does not parse: %s\n%s",
                 path, cz_diag_format(&d, buf, sizeof buf), once);
    char *m1 = dump(a1->files), *m2 = dump(a2->files);
    cr_expect_str_eq(m1, m2, "%s: formatting changed the meaning", path);
    cr_expect_eq(count_comments(src, len), count_comments(once, n1), "%s: comments lost\n%s",
                 path, once);
    char *twice = format_text(path, once, n1, &n2);
    cr_expect_str_eq(once, twice, "%s: format is not idempotent", path);
    free(m1);
    free(m2);
    free(once);
    free(twice);
    free(src);
    cz_api_free(a1);
    cz_api_free(a2);
}

static int walk(const char *dir)
{
    int n = 0;
    DIR *dp = opendir(dir);
    cr_assert_not_null(dp, "%s", dir);
    struct dirent *e;
    while ((e = readdir(dp))) {
        char path[1024];
        size_t l = strlen(e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR && e->d_name[0] != '.' && strcmp(e->d_name, "bad")) {
            n += walk(path);
        } else if (l > 4 && !strcmp(e->d_name + l - 4, ".api")) {
            check_file(path);
            n++;
        }
    }
    closedir(dp);
    return n;
}

Test(api_format, every_file_keeps_meaning_and_comments_and_is_idempotent)
{
    cr_assert_geq(walk(API_DIR), 9);
}

static void expect_format(const char *in, const char *want)
{
    size_t n;
    char *got = format_text("mem.api", in, strlen(in), &n);
    cr_expect_str_eq(got, want);
    cr_expect_eq(strlen(got), n);
    free(got);
}

Test(api_format, key_values_align_after_the_longest_key)
{
    expect_format("info(title: \"t\"\nversion:\"1\"\n  desc :  d )",
                  "info (\n"
                  "\ttitle:   \"t\"\n"
                  "\tversion: \"1\"\n"
                  "\tdesc:    d\n"
                  ")\n");
}

Test(api_format, fields_align_in_runs_broken_by_empty_lines_and_nested_structs)
{
    expect_format("type A struct {\n"
                  "  Id int64 `json:\"id\"`\n"
                  "  LongName string\n"
                  "  X, Y float64 `json:\"x\"`\n"
                  "\n\n"
                  "  Other []*A `json:\"other\"`\n"
                  "  Sub { V int `json:\"v\"` } `json:\"sub\"`\n"
                  "  *Embedded\n"
                  "}",
                  "type A {\n"
                  "\tId       int64   `json:\"id\"`\n"
                  "\tLongName string\n"
                  "\tX, Y     float64 `json:\"x\"`\n"
                  "\n"
                  "\tOther []*A `json:\"other\"`\n"
                  "\tSub {\n"
                  "\t\tV int `json:\"v\"`\n"
                  "\t} `json:\"sub\"`\n"
                  "\t*Embedded\n"
                  "}\n");
}

Test(api_format, statements_are_separated_by_one_empty_line)
{
    expect_format("syntax=\"v1\"\n\n\n\nimport \"a.api\"\nimport(\"b.api\" \"c.api\")type A{}"
                  "type(B{} C = int\nD int)",
                  "syntax = \"v1\"\n"
                  "\n"
                  "import \"a.api\"\n"
                  "\n"
                  "import (\n"
                  "\t\"b.api\"\n"
                  "\t\"c.api\"\n"
                  ")\n"
                  "\n"
                  "type A {}\n"
                  "\n"
                  "type (\n"
                  "\tB {}\n"
                  "\tC = int\n"
                  "\tD int\n"
                  ")\n");
}

Test(api_format, services_and_routes_in_goctl_layout)
{
    expect_format("@server(jwt:Auth\ngroup: g)\nservice a-api{\n"
                  "@doc(\"old doc\")\n@handler h1\nget /a/:id(Req)returns([]*Resp);\n"
                  "@doc(summary: s)\n@server(handler: h2)\npost /b\n"
                  "@doc \"new\" @handler h3 delete /c returns (Resp)}",
                  "@server (\n"
                  "\tjwt:   Auth\n"
                  "\tgroup: g\n"
                  ")\n"
                  "service a-api {\n"
                  "\t@doc \"old doc\"\n"
                  "\t@handler h1\n"
                  "\tget /a/:id (Req) returns ([]*Resp)\n"
                  "\n"
                  "\t@doc (\n"
                  "\t\tsummary: s\n"
                  "\t)\n"
                  "\t@server (\n"
                  "\t\thandler: h2\n"
                  "\t)\n"
                  "\tpost /b\n"
                  "\n"
                  "\t@doc \"new\"\n"
                  "\t@handler h3\n"
                  "\tdelete /c returns (Resp)\n"
                  "}\n");
}

Test(api_format, comments_stay_before_or_after_their_node)
{
    expect_format("// head\n\n// detached? no: attached, with the gap kept\ntype A { // open\n"
                  "B int /* mid */ `json:\"b\"`\n// end\n} // tail\n// eof",
                  "// head\n"
                  "\n"
                  "// detached? no: attached, with the gap kept\n"
                  "type A { // open\n"
                  "\tB int `json:\"b\"` /* mid */\n"
                  "\t// end\n"
                  "} // tail\n"
                  "// eof\n");
    expect_format("// only a comment", "// only a comment\n");
    expect_format("", "");
}

Test(api_format, writes_to_a_stream)
{
    cz_api_t *api;
    cr_assert_eq(cz_api_parse(&api, "m.api", "type A {}", 9, NULL), 0);
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    cr_assert_eq(cz_api_format(api->files, m), 0);
    fclose(m);
    cr_assert_str_eq(buf, "type A {}\n");
    free(buf);
    cz_api_free(api);
}
