/* SPDX-License-Identifier: MIT
 *
 * Integration tests of CORS (src/http/cors.c) on a real server, against go-zero's
 * rest/internal/cors/handlers.go: preflights from allowed and disallowed origins, subdomains and
 * case, simple requests with Vary, "*" without credentials, 404 for other methods on a path
 * routed for some, unknown paths (go-zero 1.6+ wraps the whole router), OPTIONS routes answered
 * by the middleware, and the two custom hooks.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "czero/cors.h"
#include "demo.h"
#include "http_client.h"
#include "test_server.h"

static int handler_runs;

static int opt_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    handler_runs++;
    cz_res_printf(res, "handler");
    return CZ_DONE;
}

static const cz_route_t extra[] = {{"OPTIONS", "/opt", opt_handler, NULL, 0}};

static ts_t t;
static void stop(void) { ts_stop(&t); }
TestSuite(cors, .fini = stop);

/* ts_start, with CORS switched on between creating and starting the server. */
static void start(const char *const *origins, size_t n, cz_cors_header_fn hf,
                  cz_cors_not_allowed_fn nf, void *ud)
{
    ts_init(&t);
    cz_diag_t d = {0};
    t.srv = cz_server_new(&t.conf, &d);
    cr_assert_not_null(t.srv, "%s", d.msg);
    cr_assert_eq(cz_server_add_routes(t.srv, demo_routes, demo_nroutes, NULL, &d), 0);
    cr_assert_eq(cz_server_add_routes(t.srv, extra, 1, NULL, &d), 0);
    cr_assert_eq(cz_server_cors_custom(t.srv, hf, nf, ud, origins, n), 0);
    cr_assert_eq(cz_server_start(t.srv), 0);
    t.port = cz_server_port(t.srv);
}

static void req(const char *method, const char *path, const char *origin, tc_resp_t *r)
{
    tc_conn_t *c = malloc(sizeof *c);
    cr_assert_eq(tc_connect(c, t.port, 5000), 0);
    char o[256] = "";
    if (origin)
        snprintf(o, sizeof o, "Origin: %s\r\n", origin);
    cr_assert_eq(tc_sendf(c,
                          "%s %s HTTP/1.1\r\nHost: t\r\n%sAccess-Control-Request-Method: POST\r\n"
                          "Content-Length: 0\r\n\r\n",
                          method, path, o),
                 0);
    cr_assert_eq(tc_read(c, r, strcmp(method, "HEAD") == 0), 0);
    tc_close(c);
    free(c);
}

/* The Vary values, joined with ',' in order. */
static const char *vary(const tc_resp_t *r, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->name[i], "Vary") == 0) {
            if (buf[0])
                strncat(buf, ",", n - strlen(buf) - 1);
            strncat(buf, r->value[i], n - strlen(buf) - 1);
        }
    return buf;
}

static void assert_allowed(const tc_resp_t *r, const char *origin)
{
    cr_assert_str_eq(tc_header(r, "Access-Control-Allow-Origin"), origin);
    cr_assert_str_eq(tc_header(r, "Access-Control-Allow-Methods"),
                     "GET, HEAD, POST, PATCH, PUT, DELETE");
    cr_assert_str_eq(tc_header(r, "Access-Control-Allow-Headers"),
                     "Content-Type, Origin, X-CSRF-Token, Authorization, AccessToken, Token, Range");
    cr_assert_str_eq(tc_header(r, "Access-Control-Expose-Headers"),
                     "Content-Length, Access-Control-Allow-Origin, Access-Control-Allow-Headers");
    cr_assert_str_eq(tc_header(r, "Access-Control-Max-Age"), "86400");
    if (strcmp(origin, "*") == 0)
        cr_assert_null(tc_header(r, "Access-Control-Allow-Credentials"));
    else
        cr_assert_str_eq(tc_header(r, "Access-Control-Allow-Credentials"), "true");
}

static void assert_no_cors(const tc_resp_t *r)
{
    cr_assert_null(tc_header(r, "Access-Control-Allow-Origin"));
    cr_assert_null(tc_header(r, "Access-Control-Allow-Methods"));
    cr_assert_null(tc_header(r, "Access-Control-Allow-Credentials"));
}

static const char *const origins[] = {"http://a.example", "b.example"};

Test(cors, preflight_from_allowed_origin_is_204_with_headers)
{
    start(origins, 2, NULL, NULL, NULL);
    tc_resp_t r;
    char v[256];
    req("OPTIONS", "/echo", "http://a.example", &r); /* /echo has POST only: not-allowed path */
    cr_assert_eq(r.status, 204);
    assert_allowed(&r, "http://a.example");
    cr_assert_str_eq(vary(&r, v, sizeof v),
                     "Origin,Access-Control-Request-Method,Access-Control-Request-Headers");
    cr_assert_eq(r.body_len, 0);
    tc_resp_free(&r);
}

Test(cors, subdomains_and_case_match)
{
    start(origins, 2, NULL, NULL, NULL);
    tc_resp_t r;
    req("OPTIONS", "/users/7", "https://api.b.example", &r);
    cr_assert_eq(r.status, 204);
    assert_allowed(&r, "https://api.b.example");
    tc_resp_free(&r);
    req("OPTIONS", "/users/7", "HTTP://A.EXAMPLE", &r);
    assert_allowed(&r, "HTTP://A.EXAMPLE"); /* echoed as sent */
    tc_resp_free(&r);
    req("OPTIONS", "/users/7", "http://xb.example", &r); /* not a subdomain: no dot */
    assert_no_cors(&r);
    tc_resp_free(&r);
}

Test(cors, disallowed_origin_gets_no_allow_headers)
{
    start(origins, 2, NULL, NULL, NULL);
    tc_resp_t r;
    char v[256];
    req("OPTIONS", "/echo", "http://evil.example", &r);
    cr_assert_eq(r.status, 204, "go-zero still answers the preflight 204");
    assert_no_cors(&r);
    cr_assert_str_eq(vary(&r, v, sizeof v),
                     "Origin,Access-Control-Request-Method,Access-Control-Request-Headers");
    tc_resp_free(&r);
    req("GET", "/hello", "http://evil.example", &r);
    cr_assert_eq(r.status, 200, "the request itself is served; the browser drops it");
    assert_no_cors(&r);
    cr_assert_str_eq(vary(&r, v, sizeof v), "Origin");
    tc_resp_free(&r);
    req("GET", "/hello", NULL, &r);
    assert_no_cors(&r);
    tc_resp_free(&r);
}

Test(cors, simple_request_gets_headers_and_vary)
{
    start(origins, 2, NULL, NULL, NULL);
    tc_resp_t r;
    char v[256];
    req("GET", "/hello", "http://a.example", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_gt(r.body_len, 0, "the handler ran");
    assert_allowed(&r, "http://a.example");
    cr_assert_str_eq(vary(&r, v, sizeof v), "Origin");
    tc_resp_free(&r);
}

Test(cors, any_origin_is_star_without_credentials)
{
    start(NULL, 0, NULL, NULL, NULL);
    tc_resp_t r;
    req("GET", "/hello", "http://whoever.example", &r);
    cr_assert_eq(r.status, 200);
    assert_allowed(&r, "*");
    tc_resp_free(&r);
    req("OPTIONS", "/hello", NULL, &r);
    cr_assert_eq(r.status, 204);
    assert_allowed(&r, "*");
    tc_resp_free(&r);
}

/* go-zero 1.6+: corsRouter wraps the whole router, so unknown paths get the headers too. */
Test(cors, other_methods_on_a_routed_path_are_404_and_unknown_paths_get_cors_too)
{
    start(origins, 2, NULL, NULL, NULL);
    tc_resp_t r;
    req("DELETE", "/echo", "http://a.example", &r);
    cr_assert_eq(r.status, 404, "cors.NotAllowedHandler: not OPTIONS -> 404, not 405");
    assert_allowed(&r, "http://a.example");
    tc_resp_free(&r);
    req("OPTIONS", "/nowhere", "http://a.example", &r);
    cr_assert_eq(r.status, 204, "a preflight to an unknown path is answered by corsRouter");
    assert_allowed(&r, "http://a.example");
    tc_resp_free(&r);
    req("GET", "/nowhere", "http://a.example", &r);
    cr_assert_eq(r.status, 404);
    assert_allowed(&r, "http://a.example");
    tc_resp_free(&r);
    req("GET", "/nowhere", "http://evil.example", &r);
    cr_assert_eq(r.status, 404);
    assert_no_cors(&r);
    tc_resp_free(&r);
}

Test(cors, options_route_is_answered_by_the_middleware)
{
    start(origins, 2, NULL, NULL, NULL);
    handler_runs = 0;
    tc_resp_t r;
    req("OPTIONS", "/opt", "http://a.example", &r);
    cr_assert_eq(r.status, 204);
    cr_assert_eq(r.body_len, 0);
    assert_allowed(&r, "http://a.example");
    cr_assert_eq(handler_runs, 0, "go-zero's cors.Middleware never calls next for OPTIONS");
    tc_resp_free(&r);
}

static void add_header(cz_res_t *res, void *ud)
{
    cz_res_header(res, "X-Custom", ud);
}

static void teapot(cz_res_t *res, void *ud)
{
    cz_res_header(res, "X-Not-Allowed", ud);
    cz_res_status(res, 418);
}

static void header_only(cz_res_t *res, void *ud) { cz_res_header(res, "X-Not-Allowed", ud); }

/* go-zero 1.6+ WithCustomCors: the header hook runs on every answer (corsRouter); the
 * not-allowed hook only where the router answers 405, which a preflight never reaches. */
Test(cors, custom_header_hook_and_not_allowed_handler_run)
{
    start(origins, 2, add_header, teapot, "hook");
    tc_resp_t r;
    req("GET", "/hello", "http://a.example", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(tc_header(&r, "X-Custom"), "hook");
    cr_assert_null(tc_header(&r, "X-Not-Allowed"));
    tc_resp_free(&r);
    req("DELETE", "/echo", "http://a.example", &r);
    cr_assert_eq(r.status, 418, "the hook's status wins, as go-zero's header-once writer");
    cr_assert_str_eq(tc_header(&r, "X-Not-Allowed"), "hook");
    cr_assert_str_eq(tc_header(&r, "X-Custom"), "hook");
    assert_allowed(&r, "http://a.example");
    tc_resp_free(&r);
    req("OPTIONS", "/echo", "http://a.example", &r);
    cr_assert_eq(r.status, 204);
    cr_assert_null(tc_header(&r, "X-Not-Allowed"));
    cr_assert_str_eq(tc_header(&r, "X-Custom"), "hook");
    assert_allowed(&r, "http://a.example");
    tc_resp_free(&r);
}

Test(cors, not_allowed_hook_without_status_keeps_404)
{
    start(NULL, 0, NULL, header_only, "yes");
    tc_resp_t r;
    req("DELETE", "/echo", "http://a.example", &r);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(tc_header(&r, "X-Not-Allowed"), "yes");
    assert_allowed(&r, "*");
    tc_resp_free(&r);
}

Test(cors, bad_arguments)
{
    ts_init(&t);
    cz_diag_t d = {0};
    t.srv = cz_server_new(&t.conf, &d);
    cr_assert_eq(cz_server_cors(NULL, NULL, 0), CZ_EARG);
    cr_assert_eq(cz_server_cors(t.srv, NULL, 2), CZ_EARG);
    const char *const bad[] = {"a", NULL};
    cr_assert_eq(cz_server_cors(t.srv, bad, 2), CZ_EARG);
    cr_assert_eq(cz_server_cors(t.srv, origins, 2), 0);
}
