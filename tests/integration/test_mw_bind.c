/* SPDX-License-Identifier: MIT
 *
 * Integration tests of request binding on a real server: the demo's POST /users (name string
 * required, age integer in [0:150], email optional) answers 200 with the bound object or 400
 * with go-zero's text naming the field; a route binding a path variable, query parameters and
 * a header shows the sources arrive through the engine (decoding, routing) unchanged.
 */
#include <criterion/criterion.h>
#include <string.h>
#include "czero/bind.h"
#include "http_client.h"
#include "test_server.h"

/* POST /users is the demo's own handler (examples/demo/routes.c), served by ts_start. */

typedef struct search_req {
    int64_t org;
    cz_bind_array_t tags;
    char *sort;
    int64_t page;
    char *client;
} search_req_t;

static const char *const sorts[] = {"new", "old", NULL};

static const cz_bind_field_t search_req_fields[] = {
    {.name = "org", .src = CZ_BIND_PATH, .type = CZ_BIND_INT,
     .offset = offsetof(search_req_t, org)},
    {.name = "tag", .src = CZ_BIND_FORM, .type = CZ_BIND_ARRAY, .elem_type = CZ_BIND_STRING,
     .offset = offsetof(search_req_t, tags), .flags = CZ_BIND_OPTIONAL},
    {.name = "sort", .src = CZ_BIND_FORM, .type = CZ_BIND_STRING,
     .offset = offsetof(search_req_t, sort), .options = sorts, .def = "new"},
    {.name = "page", .src = CZ_BIND_FORM, .type = CZ_BIND_INT,
     .offset = offsetof(search_req_t, page), .def = "1", .has_range = true, .lo = 1, .hi = 100},
    {.name = "X-Client", .src = CZ_BIND_HEADER, .type = CZ_BIND_STRING,
     .offset = offsetof(search_req_t, client)},
    {0},
};

static int search(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    search_req_t s = {0};
    if (cz_bind_or_400(req, res, search_req_fields, &s) != 0)
        return CZ_DONE;
    json_t *j = cz_bind_to_json(search_req_fields, &s);
    cz_res_ok_json(res, j);
    json_decref(j);
    return CZ_DONE;
}

static const cz_route_t routes[] = {
    {"GET", "/orgs/:org/search", search, NULL, 0},
};

static ts_t T;
static tc_conn_t C;

static void setup(void)
{
    ts_init(&T);
    ts_start(&T, routes, sizeof routes / sizeof routes[0]);
    cr_assert_eq(tc_connect(&C, T.port, 5000), 0);
}

static void teardown(void)
{
    tc_close(&C);
    ts_stop(&T);
}

TestSuite(mw_bind, .init = setup, .fini = teardown, .timeout = 30);

static void post_users(const char *ctype, const char *body, int status, const char *want)
{
    tc_resp_t r;
    tc_sendf(&C,
             "POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
             ctype, strlen(body), body);
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, status, "%s -> %d %s", body, r.status, r.body);
    cr_assert_str_eq(r.body, want, "%s", body);
    if (status == 400) {
        cr_assert_str_eq(tc_header(&r, "Content-Type"), "text/plain; charset=utf-8");
    } else {
        cr_assert(strncmp(tc_header(&r, "Content-Type"), "application/json", 16) == 0);
    }
    tc_resp_free(&r);
}

Test(mw_bind, users_ok)
{
    post_users("application/json", "{\"name\":\"ann\",\"age\":30}", 200,
               "{\"name\":\"ann\",\"age\":30}");
    post_users("application/json; charset=utf-8",
               "{\"email\":\"b@x.io\",\"age\":150,\"name\":\"bob\",\"admin\":true}", 200,
               "{\"name\":\"bob\",\"age\":150,\"email\":\"b@x.io\"}");
}

Test(mw_bind, users_errors_name_the_field)
{
    post_users("application/json", "{\"age\":30}", 400, "field \"name\" is not set\n");
    post_users("application/json", "{\"name\":\"a\",\"age\":151}", 400,
               "value \"151\" for field \"age\" is out of range [0:150]\n");
    post_users("application/json", "{\"name\":\"a\",\"age\":\"x\"}", 400,
               "type mismatch for field \"age\"\n");
    post_users("application/json", "{\"name\":[],\"age\":1}", 400,
               "type mismatch for field \"name\"\n");
    post_users("application/json", "{\"name\":\"a\",\"age\":1,\"email\":7}", 400,
               "type mismatch for field \"email\", expect \"string\", actual \"number\"\n");
    post_users("text/plain", "{\"name\":\"a\",\"age\":1}", 400, "field \"name\" is not set\n");
    tc_resp_t r;
    tc_sendf(&C, "POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 9\r\n\r\n{\"name\":}");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 400);
    cr_assert(strncmp(r.body, "invalid JSON body: ", 19) == 0, "%s", r.body);
    cr_assert(r.keep_alive, "a 400 from binding keeps the connection");
    tc_resp_free(&r);
}

Test(mw_bind, path_query_header)
{
    tc_resp_t r;
    tc_sendf(&C, "GET /orgs/42/search?tag=a%%20b&tag[]=c&page=3 HTTP/1.1\r\nHost: x\r\n"
                 "x-client: cli\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "{\"org\":42,\"tag\":[\"a b\",\"c\"],\"sort\":\"new\","
                             "\"page\":3,\"X-Client\":\"cli\"}");
    tc_resp_free(&r);

    tc_sendf(&C, "GET /orgs/x/search HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "field \"org\": strconv.ParseInt: parsing \"x\": invalid syntax\n");
    tc_resp_free(&r);

    tc_sendf(&C, "GET /orgs/1/search?sort=top HTTP/1.1\r\nHost: x\r\nX-Client: c\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body,
                     "value \"top\" for field \"sort\" is not defined in options \"[new old]\"\n");
    tc_resp_free(&r);

    tc_sendf(&C, "GET /orgs/1/search?page=0 HTTP/1.1\r\nHost: x\r\nX-Client: c\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "value \"0\" for field \"page\" is out of range [1:100]\n");
    tc_resp_free(&r);

    tc_sendf(&C, "GET /orgs/1/search HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "field \"X-Client\" is not set\n");
    tc_resp_free(&r);
}
