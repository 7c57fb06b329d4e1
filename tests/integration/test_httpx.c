/* SPDX-License-Identifier: MIT
 *
 * Integration tests of go-zero's httpx error and OK handlers (include/czero/httpx.h,
 * src/http/httpx.c) on a real server: without handlers an error answers as cz_res_error always
 * did (status, text/plain message); with cz_http_set_error_handler the same handler's error
 * becomes the handler's {"code":...,"msg":...} JSON with its status and Content-Type; a logic
 * error recorded by cz_logic_error and answered by cz_httpx_fail carries its message and code;
 * binding errors go through the handler; cz_http_set_ok_handler wraps 200 bodies; the server's
 * own 404 stays plain. Each test runs in its own process, so the process-wide hooks do not leak
 * between tests. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stddef.h>
#include <string.h>
#include "czero/httpx.h"
#include "http_client.h"
#include "test_server.h"

/* POST /x/users: name taken (409, code 1001) unless the name is "new" */
typedef struct name_req {
    char *name;
} name_req_t;

static const cz_bind_field_t name_fields[] = {
    {.name = "name", .type = CZ_BIND_STRING, .offset = offsetof(name_req_t, name)},
    {0},
};

static int create(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    name_req_t in = {0};
    if (cz_httpx_parse(req, res, name_fields, &in) != 0)
        return CZ_DONE;
    if (strcmp(in.name, "new") != 0)
        return cz_httpx_error(res, 409, 1001, "name taken"), CZ_DONE;
    json_t *v = json_pack("{s:s}", "name", in.name);
    cz_httpx_ok_json(res, v);
    json_decref(v);
    return CZ_DONE;
}

/* a czctl-style logic function and the generated handler's shape around it */
static int find_logic(cz_req_t *req, const char *id)
{
    if (strcmp(id, "42") == 0)
        return 0;
    if (strcmp(id, "teapot") == 0)
        return 302; /* not an error status: 500 */
    if (strcmp(id, "gone") == 0)
        return 410; /* a bare status, no message */
    return cz_logic_error(req, 404, 2002, "no user %s", id);
}

static int find(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t id = cz_req_param(req, "id");
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)id.n, id.p);
    int rc = find_logic(req, buf);
    if (rc != 0)
        return cz_httpx_fail(res, rc);
    json_t *v = json_pack("{s:s}", "id", buf);
    cz_httpx_ok_json(res, v);
    json_decref(v);
    return CZ_DONE;
}

static const cz_route_t routes[] = {
    {"POST", "/x/users", create, NULL, 0},
    {"GET", "/x/users/:id", find, NULL, 0},
};

static int code_msg(cz_req_t *req, const cz_errx_t *e, json_t **body, void *ud)
{
    cr_assert_not_null(req);
    cr_assert_eq(ud, (void *)&code_msg);
    *body = json_pack("{s:i,s:s}", "code", e->code, "msg", e->msg);
    return e->status;
}

static json_t *wrap(cz_req_t *req, json_t *body, void *ud)
{
    (void)req, (void)ud;
    return json_pack("{s:i,s:O}", "code", 0, "data", body);
}

static void request(int port, const char *method, const char *path, const char *body,
                    tc_resp_t *r)
{
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, port, 5000), 0);
    if (body)
        tc_sendf(&c,
                 "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 method, path, strlen(body), body);
    else
        tc_sendf(&c, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", method, path);
    cr_assert_eq(tc_read(&c, r, false), 0);
    tc_close(&c);
}

static void expect(int port, const char *method, const char *path, const char *body, int status,
                   const char *ctype, const char *want)
{
    tc_resp_t r;
    request(port, method, path, body, &r);
    cr_assert_eq(r.status, status, "%s %s: %d %s", method, path, r.status, r.body);
    cr_assert_str_eq(tc_header(&r, "Content-Type") ? tc_header(&r, "Content-Type") : "", ctype,
                     "%s %s", method, path);
    cr_assert_str_eq(r.body, want, "%s %s", method, path);
    tc_resp_free(&r);
}

#define JSON_CT "application/json; charset=utf-8"
#define TEXT_CT "text/plain; charset=utf-8"

Test(httpx, without_handlers_errors_are_plain_text_as_before)
{
    ts_t t;
    ts_init(&t);
    ts_start(&t, routes, 2);
    expect(t.port, "POST", "/x/users", "{\"name\":\"ann\"}", 409, TEXT_CT, "name taken\n");
    expect(t.port, "GET", "/x/users/7", NULL, 404, TEXT_CT, "no user 7\n");
    expect(t.port, "GET", "/x/users/gone", NULL, 410, TEXT_CT, "Gone\n");
    expect(t.port, "GET", "/x/users/teapot", NULL, 500, TEXT_CT, "Internal Server Error\n");
    expect(t.port, "POST", "/x/users", "{}", 400, TEXT_CT, "field \"name\" is not set\n");
    expect(t.port, "POST", "/x/users", "{\"name\":\"new\"}", 200, JSON_CT, "{\"name\":\"new\"}");
    ts_stop(&t);
}

Test(httpx, error_handler_answers_code_and_msg)
{
    cz_http_set_error_handler(code_msg, (void *)&code_msg);
    ts_t t;
    ts_init(&t);
    ts_start(&t, routes, 2);
    expect(t.port, "POST", "/x/users", "{\"name\":\"ann\"}", 409, JSON_CT,
           "{\"code\":1001,\"msg\":\"name taken\"}");
    /* a logic error with a message and a code */
    expect(t.port, "GET", "/x/users/7", NULL, 404, JSON_CT, "{\"code\":2002,\"msg\":\"no user 7\"}");
    /* a bare status from logic: the reason phrase as the message */
    expect(t.port, "GET", "/x/users/gone", NULL, 410, JSON_CT, "{\"code\":0,\"msg\":\"Gone\"}");
    expect(t.port, "GET", "/x/users/teapot", NULL, 500, JSON_CT,
           "{\"code\":0,\"msg\":\"Internal Server Error\"}");
    /* binding (httpx.Parse) errors go through it too */
    expect(t.port, "POST", "/x/users", "{}", 400, JSON_CT,
           "{\"code\":0,\"msg\":\"field \\\"name\\\" is not set\"}");
    /* success is untouched, and so is the server's own 404 */
    expect(t.port, "GET", "/x/users/42", NULL, 200, JSON_CT, "{\"id\":\"42\"}");
    expect(t.port, "GET", "/nowhere", NULL, 404, TEXT_CT, "404 page not found\n");
    ts_stop(&t);
}

static int always_200(cz_req_t *req, const cz_errx_t *e, json_t **body, void *ud)
{
    (void)req, (void)ud;
    *body = json_pack("{s:i,s:s}", "code", e->code ? e->code : e->status, "msg", e->msg);
    return 200;
}

static int text_only(cz_req_t *req, const cz_errx_t *e, json_t **body, void *ud)
{
    (void)req, (void)e, (void)body, (void)ud;
    return 0; /* no body, no status of its own: the default answer */
}

Test(httpx, error_handler_chooses_the_status)
{
    cz_http_set_error_handler(always_200, NULL);
    ts_t t;
    ts_init(&t);
    ts_start(&t, routes, 2);
    expect(t.port, "GET", "/x/users/gone", NULL, 200, JSON_CT, "{\"code\":410,\"msg\":\"Gone\"}");
    cz_http_set_error_handler(text_only, NULL);
    expect(t.port, "GET", "/x/users/7", NULL, 404, TEXT_CT, "no user 7\n");
    cz_http_set_error_handler(NULL, NULL);
    expect(t.port, "POST", "/x/users", "{\"name\":\"ann\"}", 409, TEXT_CT, "name taken\n");
    ts_stop(&t);
}

Test(httpx, ok_handler_wraps_200_bodies)
{
    cz_http_set_ok_handler(wrap, NULL);
    cz_http_set_error_handler(code_msg, (void *)&code_msg);
    ts_t t;
    ts_init(&t);
    ts_start(&t, routes, 2);
    expect(t.port, "GET", "/x/users/42", NULL, 200, JSON_CT,
           "{\"code\":0,\"data\":{\"id\":\"42\"}}");
    expect(t.port, "POST", "/x/users", "{\"name\":\"new\"}", 200, JSON_CT,
           "{\"code\":0,\"data\":{\"name\":\"new\"}}");
    expect(t.port, "POST", "/x/users", "{\"name\":\"ann\"}", 409, JSON_CT,
           "{\"code\":1001,\"msg\":\"name taken\"}");
    ts_stop(&t);
}
