/* SPDX-License-Identifier: MIT
 *
 * test_openapi.c: `czctl api openapi`, the mapping from .api to OpenAPI 3.0.3, run as a program.
 *
 * Each test writes a small .api, runs czctl and reads the JSON back with jansson, asserting the
 * parts a client generator or a reader of the docs relies on: path templates and parameters,
 * range/options/default/optional, JWT security, schemas of nested, embedded, pointer, slice and
 * map fields, and the YAML output. tests/integration/test_czctl_docs.sh checks every document
 * against the OpenAPI schema itself.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CZCTL CZ_BINARY_DIR "/czctl"

static char tmpdir[64];
static json_t *doc;

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/czctl-openapi-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
}

static void teardown(void)
{
    json_decref(doc);
    doc = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (chdir("/") != 0 || system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static char err[8192];

/* Run czctl with args; returns the exit code, stderr in err. */
static int run(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s >out.txt 2>err.txt", CZCTL, args);
    int st = system(cmd);
    cr_assert(WIFEXITED(st));
    FILE *f = fopen("err.txt", "rb");
    size_t n = f ? fread(err, 1, sizeof err - 1, f) : 0;
    err[n] = 0;
    if (f)
        fclose(f);
    return WEXITSTATUS(st);
}

/* The document of api text (czctl's stdout, parsed). */
static json_t *openapi(const char *api)
{
    write_file("t.api", api);
    cr_assert_eq(run("api openapi -api t.api"), 0, "%s", err);
    json_error_t je;
    doc = json_load_file("out.txt", 0, &je);
    cr_assert_not_null(doc, "not JSON: %s at %d", je.text, je.line);
    return doc;
}

/* A JSON pointer (RFC 6901: / separated, ~1 for '/', ~0 for '~'); arrays take indexes. */
static json_t *at(const char *ptr)
{
    json_t *j = doc;
    char key[256];
    while (j && *ptr == '/') {
        ptr++;
        size_t n = 0;
        while (*ptr && *ptr != '/' && n + 1 < sizeof key) {
            if (ptr[0] == '~' && (ptr[1] == '0' || ptr[1] == '1')) {
                key[n++] = ptr[1] == '1' ? '/' : '~';
                ptr += 2;
            } else {
                key[n++] = *ptr++;
            }
        }
        key[n] = 0;
        j = json_is_array(j) ? json_array_get(j, strtoul(key, NULL, 10)) : json_object_get(j, key);
    }
    return j;
}

static const char *str_at(const char *ptr)
{
    json_t *j = at(ptr);
    cr_assert(json_is_string(j), "%s is not a string", ptr);
    return json_string_value(j);
}

static double num_at(const char *ptr)
{
    json_t *j = at(ptr);
    cr_assert(json_is_number(j), "%s is not a number", ptr);
    return json_number_value(j);
}

/* The parameter called name in the operation at op (a pointer), or NULL. */
static json_t *param(const char *op, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/parameters", op);
    size_t i;
    json_t *v;
    json_array_foreach (at(p), i, v)
        if (!strcmp(json_string_value(json_object_get(v, "name")), name))
            return v;
    return NULL;
}

#define GET "/paths/~1api~1users~1{id}~1posts~1{postId}/get"

Test(openapi, path_params_from_colon_segments, .init = setup, .fini = teardown)
{
    openapi("type Req {\n\tId int64 `path:\"id\"`\n\tQ string `form:\"q,optional\"`\n}\n"
            "@server(\n\tprefix: /api/\n)\nservice s-api {\n\t@handler get\n"
            "\tget /users/:id/posts/:postId (Req)\n}\n");
    cr_assert_str_eq(str_at("/openapi"), "3.0.3");
    cr_assert_str_eq(str_at("/info/title"), "s-api", "the service name without an info()");
    json_t *id = param(GET, "id");
    cr_assert_not_null(id, "the path template is prefix + route with :id as {id}");
    cr_assert_str_eq(json_string_value(json_object_get(id, "in")), "path");
    cr_assert(json_is_true(json_object_get(id, "required")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(id, "schema"), "type")),
                     "integer", "typed by the field bound to it");
    json_t *post = param(GET, "postId");
    cr_assert_not_null(post, "a path segment no field binds is still declared");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(post, "schema"), "type")),
                     "string");
    json_t *q = param(GET, "q");
    cr_assert_str_eq(json_string_value(json_object_get(q, "in")), "query", "form: is the query");
    cr_assert(json_is_false(json_object_get(q, "required")), "optional");
    cr_assert_null(at(GET "/requestBody"), "GET has no body");
    cr_assert_str_eq(str_at(GET "/operationId"), "get");
}

#define OP "/paths/~1r/post"

Test(openapi, ranges_with_exclusive_brackets, .init = setup, .fini = teardown)
{
    openapi("type Req {\n"
            "\tA int `form:\"a,range=[1:10]\"`\n"
            "\tB float64 `form:\"b,range=(0:1]\"`\n"
            "\tC int `form:\"c,range=[1:)\"`\n"
            "\tD int `form:\"d,range=(:5)\"`\n"
            "\tE float64 `json:\"e,range=[0.5:2.5)\"`\n"
            "}\nservice s {\n\t@handler r\n\tpost /r (Req)\n}\n");
    json_t *a = json_object_get(param(OP, "a"), "schema");
    cr_assert_eq(json_integer_value(json_object_get(a, "minimum")), 1);
    cr_assert_eq(json_integer_value(json_object_get(a, "maximum")), 10);
    cr_assert_null(json_object_get(a, "exclusiveMinimum"), "[ includes");
    cr_assert_null(json_object_get(a, "exclusiveMaximum"), "] includes");
    json_t *b = json_object_get(param(OP, "b"), "schema");
    cr_assert(json_is_real(json_object_get(b, "minimum")));
    cr_assert(json_is_true(json_object_get(b, "exclusiveMinimum")), "( excludes");
    cr_assert_eq(json_number_value(json_object_get(b, "maximum")), 1.0);
    cr_assert_null(json_object_get(b, "exclusiveMaximum"));
    json_t *c = json_object_get(param(OP, "c"), "schema");
    cr_assert_eq(json_integer_value(json_object_get(c, "minimum")), 1);
    cr_assert_null(json_object_get(c, "maximum"), "open upper bound");
    cr_assert_null(json_object_get(c, "exclusiveMaximum"), "nothing to exclude");
    json_t *d = json_object_get(param(OP, "d"), "schema");
    cr_assert_null(json_object_get(d, "minimum"));
    cr_assert_eq(json_integer_value(json_object_get(d, "maximum")), 5);
    cr_assert(json_is_true(json_object_get(d, "exclusiveMaximum")));
    cr_assert_eq(num_at("/components/schemas/Req/properties/e/minimum"), 0.5);
    cr_assert_eq(num_at("/components/schemas/Req/properties/e/maximum"), 2.5);
    cr_assert(json_is_true(at("/components/schemas/Req/properties/e/exclusiveMaximum")));
    cr_assert_null(at("/components/schemas/Req/properties/a"),
                   "a query parameter is not a body property");
}

Test(openapi, options_defaults_and_optional, .init = setup, .fini = teardown)
{
    openapi("type Req {\n"
            "\tSort string `form:\"sort,options=asc|desc,default=asc\"`\n"
            "\tLevel int `form:\"level,options=1|2|3\"`\n"
            "\tKind string `header:\"X-Kind,options=[a,b]\"`\n"
            "\tName string `json:\"name\"`\n"
            "\tNick string `json:\"nick,optional,example=neo\"`\n"
            "\tSize int `json:\"size,default=20\"`\n"
            "\tOn bool `json:\"on,default=true\"`\n"
            "\tHidden string `json:\"-\"`\n"
            "}\nservice s {\n\t@handler r\n\tpost /r (Req)\n}\n");
    json_t *sort = param(OP, "sort");
    cr_assert(json_is_false(json_object_get(sort, "required")), "a default makes it optional");
    json_t *s = json_object_get(sort, "schema");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "enum"), 0)), "asc");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "enum"), 1)), "desc");
    cr_assert_eq(json_array_size(json_object_get(s, "enum")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(s, "default")), "asc");
    json_t *lv = json_object_get(param(OP, "level"), "schema");
    cr_assert(json_is_integer(json_array_get(json_object_get(lv, "enum"), 2)),
              "an int field's options are integers");
    cr_assert_eq(json_integer_value(json_array_get(json_object_get(lv, "enum"), 2)), 3);
    cr_assert(json_is_true(json_object_get(param(OP, "level"), "required")));
    json_t *kind = param(OP, "X-Kind");
    cr_assert_str_eq(json_string_value(json_object_get(kind, "in")), "header");
    cr_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_object_get(kind, "schema"), "enum"), 1)),
                     "b", "options=[a,b] is split on commas");
    json_t *req = at("/components/schemas/Req/required");
    cr_assert_eq(json_array_size(req), 1, "only name: optional and default= are not required");
    cr_assert_str_eq(json_string_value(json_array_get(req, 0)), "name");
    cr_assert_str_eq(str_at("/components/schemas/Req/properties/nick/example"), "neo");
    cr_assert(json_is_integer(at("/components/schemas/Req/properties/size/default")));
    cr_assert_eq(num_at("/components/schemas/Req/properties/size/default"), 20);
    cr_assert(json_is_true(at("/components/schemas/Req/properties/on/default")));
    cr_assert_null(at("/components/schemas/Req/properties/-"), "json:\"-\" is never encoded");
    cr_assert_null(at("/components/schemas/Req/properties/Hidden"));
    cr_assert_str_eq(str_at(OP "/requestBody/content/application~1json/schema/$ref"),
                     "#/components/schemas/Req");
}

Test(openapi, jwt_routes_need_a_bearer_token, .init = setup, .fini = teardown)
{
    openapi("info(\n\ttitle: \"shop\"\n\tversion: \"1.0\"\n\thost: \"api.example.com\"\n"
            "\tbasePath: \"/v1\"\n\tschemes: \"https,http\"\n)\n"
            "@server(\n\tgroup: open\n\tprefix: v2\n)\nservice shop {\n\t@doc \"who am I\"\n"
            "\t@handler ping\n\tget /ping\n\t@doc(\n\t\tsummary: \"tagged route\"\n"
            "\t\ttags: \"a, b\"\n\t)\n\t@handler tagged\n\tget /tagged\n}\n"
            "@server(\n\tjwt: Auth\n\tgroup: user\n)\nservice shop {\n\t@handler me\n"
            "\tget /me\n}\n");
    cr_assert_str_eq(str_at("/info/version"), "1.0");
    cr_assert_str_eq(str_at("/servers/0/url"), "https://api.example.com/v1",
                     "goctl swagger's host, basePath and first scheme");
    cr_assert_not_null(at("/paths/~1v2~1ping/get"), "prefix v2 means /v2");
    cr_assert_null(at("/paths/~1v2~1ping/get/security"), "no jwt: no requirement");
    cr_assert_null(at("/paths/~1v2~1ping/get/responses/401"));
    cr_assert_str_eq(str_at("/paths/~1v2~1ping/get/summary"), "who am I");
    cr_assert_str_eq(str_at("/paths/~1v2~1ping/get/tags/0"), "open");
    cr_assert(json_is_array(at("/paths/~1me/get/security/0/Auth")),
              "the requirement names the scheme after the jwt key");
    cr_assert_str_eq(str_at("/components/securitySchemes/Auth/type"), "http");
    cr_assert_str_eq(str_at("/components/securitySchemes/Auth/scheme"), "bearer");
    cr_assert_str_eq(str_at("/components/securitySchemes/Auth/bearerFormat"), "JWT");
    cr_assert_not_null(at("/paths/~1me/get/responses/401"));
    cr_assert_str_eq(str_at("/tags/3/name"), "user", "top-level tags: open, a, b, user");
    cr_assert_str_eq(str_at("/paths/~1me/get/tags/0"), "user");
    cr_assert_str_eq(str_at("/paths/~1v2~1tagged/get/tags/0"), "a", "@doc(tags:) first");
    cr_assert_str_eq(str_at("/paths/~1v2~1tagged/get/tags/1"), "b");
    cr_assert_str_eq(str_at("/paths/~1v2~1tagged/get/summary"), "tagged route");
}

#define P "/components/schemas/Out/properties"

Test(openapi, schemas_nested_embedded_pointers_maps, .init = setup, .fini = teardown)
{
    openapi("type Base {\n\tId int64 `json:\"id\"`\n\tAt time.Time `json:\"at,optional\"`\n}\n"
            "type Tree {\n\tKids []*Tree `json:\"kids\"`\n}\n"
            "type Out {\n\tBase\n\tPtr *Base `json:\"ptr\"`\n\tNum *int `json:\"num\"`\n"
            "\tList []string `json:\"list\"`\n\tArr [3]int `json:\"arr\"`\n"
            "\tM map[string][]int64 `json:\"m\"`\n\tRaw []byte `json:\"raw\"`\n"
            "\tAny interface{} `json:\"any\"`\n\tT Tree `json:\"t\"`\n"
            "\tIn {\n\t\tX float32 `json:\"x\"`\n\t} `json:\"in\"`\n\tPlain bool\n}\n"
            "service s {\n\t@handler r\n\tget /r returns (Out)\n\t@handler l\n"
            "\tpost /l ([]Base) returns ([]*Out)\n}\n");
    cr_assert_str_eq(str_at(P "/id/type"), "integer", "Base's fields are promoted");
    cr_assert_str_eq(str_at(P "/at/format"), "date-time");
    cr_assert_null(at(P "/Base"));
    cr_assert_str_eq(str_at(P "/ptr/allOf/0/$ref"), "#/components/schemas/Base");
    cr_assert(json_is_true(at(P "/ptr/nullable")));
    cr_assert(json_is_true(at(P "/num/nullable")));
    cr_assert_str_eq(str_at(P "/num/type"), "integer");
    cr_assert_str_eq(str_at(P "/list/items/type"), "string");
    cr_assert_eq(num_at(P "/arr/minItems"), 3);
    cr_assert_eq(num_at(P "/arr/maxItems"), 3);
    cr_assert_str_eq(str_at(P "/m/type"), "object");
    cr_assert_str_eq(str_at(P "/m/additionalProperties/items/format"), "int64");
    cr_assert_str_eq(str_at(P "/raw/format"), "byte", "[]byte is base64 in JSON");
    cr_assert_eq(json_object_size(at(P "/any")), 0, "interface{}: any value");
    cr_assert_str_eq(str_at(P "/t/$ref"), "#/components/schemas/Tree");
    cr_assert_str_eq(str_at("/components/schemas/Tree/properties/kids/items/allOf/0/$ref"),
                     "#/components/schemas/Tree", "a recursive type ends in a reference");
    cr_assert_str_eq(str_at(P "/in/properties/x/format"), "float", "struct literal inline");
    cr_assert_str_eq(str_at(P "/Plain/type"), "boolean", "untagged: the Go field name");
    cr_assert_str_eq(
        str_at("/paths/~1l/post/requestBody/content/application~1json/schema/items/$ref"),
        "#/components/schemas/Base");
    cr_assert_str_eq(
        str_at("/paths/~1l/post/responses/200/content/application~1json/schema/type"), "array");
}

Test(openapi, yaml_output_and_errors, .init = setup, .fini = teardown)
{
    write_file("t.api", "info(\n\tversion: \"1.0\"\n\ttitle: \"true\"\n)\n"
                        "type R {\n\tA int `form:\"a,default=5\"`\n}\n"
                        "service s {\n\t@handler r\n\tget /r (R)\n}\n");
    cr_assert_eq(run("api openapi -api t.api -o doc.yaml"), 0, "%s", err);
    FILE *f = fopen("doc.yaml", "rb");
    cr_assert_not_null(f);
    char y[16384];
    size_t n = fread(y, 1, sizeof y - 1, f);
    y[n] = 0;
    fclose(f);
    cr_assert(!strncmp(y, "openapi: 3.0.3\n", 15), "%s", y);
    cr_assert(strstr(y, "version: '1.0'\n"), "a string that reads as a number is quoted: %s", y);
    cr_assert(strstr(y, "title: 'true'\n"), "and one that reads as a boolean: %s", y);
    cr_assert(strstr(y, "default: 5\n"), "an integer is plain: %s", y);
    cr_assert(strstr(y, "required: false\n"), "%s", y);

    write_file("bad.api", "service s {\n\t@handler r\n\tget /r (Missing)\n}\n");
    cr_assert_eq(run("api openapi -api bad.api"), 1);
    cr_assert(!strncmp(err, "bad.api:3:", 10), "file:line:col first: %s", err);
    cr_assert_eq(run("api openapi"), 2, "no -api is a usage error");
    cr_assert_eq(run("api openapi -api t.api -o /nonexistent/dir/x.json"), 1);
    cr_assert(strstr(err, "/nonexistent/dir/x.json"), "%s", err);
}
