/* SPDX-License-Identifier: MIT
 *
 * Integration tests of CORS on the answers a server gives before its handler (cz_server_cors on
 * routes that also have JWT), on a real server: go-zero's corsRouter wraps the whole router, so
 * a 401 from JWT (no token, bad signature), a 503 from MaxConns or the route's Timeout and a
 * 413 on an announced body over MaxBytes carry Access-Control-Allow-Origin for an allowed
 * origin and only Vary for a disallowed one; a preflight to a JWT OPTIONS route needs no
 * token; a server without CORS answers and chains as before.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "czero/cors.h"
#include "czero/jwt.h"
#include "demo.h"
#include "http_client.h"
#include "test_server.h"

#define SECRET "cors-answers-secret-0123456789"

static int handler_runs;

static int me(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    handler_runs++;
    cz_res_printf(res, "me");
    return CZ_DONE;
}

static const cz_route_t jwt_routes[] = {
    {"GET", "/me", me, NULL, 0},
    {"POST", "/me", me, NULL, 0},
    {"OPTIONS", "/me", me, NULL, 0},
};

static ts_t t;
static void stop(void) { ts_stop(&t); }
TestSuite(cors_answers, .fini = stop);

static const char *const origins[] = {"http://app.example"};

/* The demo routes, the JWT routes above (body limit 16 bytes), CORS when cors is set. */
static void start(bool cors, int64_t max_conns)
{
    ts_init(&t);
    if (max_conns)
        t.conf.max_conns = max_conns;
    cz_diag_t d = {0};
    t.srv = cz_server_new(&t.conf, &d);
    cr_assert_not_null(t.srv, "%s", d.msg);
    cr_assert_eq(cz_server_add_routes(t.srv, demo_routes, demo_nroutes, NULL, &d), 0);
    cz_route_opts_t jo = {.jwt = {.secret = SECRET}, .max_bytes = 16};
    cr_assert_eq(cz_server_add_routes(t.srv, jwt_routes, 3, &jo, &d), 0, "%s", d.msg);
    cz_route_t slow = {"GET", "/slow-capped", NULL, NULL, 0}; /* the demo's /slow, 100 ms cap */
    for (size_t i = 0; i < demo_nroutes; i++)
        if (strcmp(demo_routes[i].path, "/slow") == 0)
            slow.handler = demo_routes[i].handler;
    cz_route_opts_t so = {.timeout_ms = 100};
    cr_assert_eq(cz_server_add_routes(t.srv, &slow, 1, &so, &d), 0, "%s", d.msg);
    if (cors)
        cr_assert_eq(cz_server_cors(t.srv, origins, 1), 0);
    cr_assert_eq(cz_server_start(t.srv), 0);
    t.port = cz_server_port(t.srv);
    handler_runs = 0;
}

/* One request on its own connection; hdrs is a block of header lines ending in \r\n. */
static void req(const char *method, const char *path, const char *hdrs, const char *body,
                tc_resp_t *r)
{
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, t.port, 5000), 0);
    size_t bn = body ? strlen(body) : 0;
    cr_assert_eq(tc_sendf(&c, "%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n%s",
                          method, path, hdrs ? hdrs : "", bn, body ? body : ""),
                 0);
    cr_assert_eq(tc_read(&c, r, false), 0);
    tc_close(&c);
}

static void assert_cors(const tc_resp_t *r)
{
    cr_assert_str_eq(tc_header(r, "Access-Control-Allow-Origin"), "http://app.example",
                     "status %d", r->status);
    cr_assert_str_eq(tc_header(r, "Access-Control-Allow-Credentials"), "true");
    cr_assert_str_eq(tc_header(r, "Access-Control-Expose-Headers"),
                     "Content-Length, Access-Control-Allow-Origin, Access-Control-Allow-Headers");
    cr_assert_str_eq(tc_header(r, "Vary"), "Origin");
}

static void assert_no_allow(const tc_resp_t *r)
{
    cr_assert_null(tc_header(r, "Access-Control-Allow-Origin"), "status %d", r->status);
    cr_assert_null(tc_header(r, "Access-Control-Allow-Credentials"));
    cr_assert_null(tc_header(r, "Access-Control-Expose-Headers"));
}

static char *bearer(const char *secret)
{
    json_t *c = json_pack("{s:s, s:I}", "sub", "42", "exp", (json_int_t)(time(NULL) + 3600));
    char *tok = NULL;
    cr_assert_eq(cz_jwt_sign(CZ_JWT_HS256, secret, strlen(secret), c, &tok), 0);
    json_decref(c);
    char *h = malloc(strlen(tok) + 40);
    sprintf(h, "Authorization: Bearer %s\r\n", tok);
    free(tok);
    return h;
}

Test(cors_answers, jwt_401_without_token_carries_the_cors_headers)
{
    start(true, 0);
    tc_resp_t r;
    req("GET", "/me", "Origin: http://app.example\r\n", NULL, &r);
    cr_assert_eq(r.status, 401);
    assert_cors(&r);
    tc_resp_free(&r);
    cr_assert_eq(handler_runs, 0);
}

Test(cors_answers, bad_signature_is_401_with_the_cors_headers_and_a_good_token_passes)
{
    start(true, 0);
    char *bad = bearer("guessed-secret-0123456789-abcdef");
    char hdrs[1024];
    snprintf(hdrs, sizeof hdrs, "Origin: http://app.example\r\n%s", bad);
    tc_resp_t r;
    req("GET", "/me", hdrs, NULL, &r);
    cr_assert_eq(r.status, 401);
    assert_cors(&r);
    tc_resp_free(&r);
    cr_assert_eq(handler_runs, 0);

    char *good = bearer(SECRET);
    snprintf(hdrs, sizeof hdrs, "Origin: http://app.example\r\n%s", good);
    req("GET", "/me", hdrs, NULL, &r);
    cr_assert_eq(r.status, 200);
    assert_cors(&r); /* the same headers as the success */
    tc_resp_free(&r);
    cr_assert_eq(handler_runs, 1);
    free(bad);
    free(good);
}

Test(cors_answers, disallowed_origin_gets_only_vary_on_the_401)
{
    start(true, 0);
    tc_resp_t r;
    req("GET", "/me", "Origin: http://evil.example\r\n", NULL, &r);
    cr_assert_eq(r.status, 401);
    assert_no_allow(&r);
    cr_assert_str_eq(tc_header(&r, "Vary"), "Origin");
    tc_resp_free(&r);
}

Test(cors_answers, body_over_max_bytes_is_413_with_the_cors_headers)
{
    start(true, 0);
    tc_resp_t r;
    req("POST", "/me", "Origin: http://app.example\r\n", "0123456789abcdefXYZ", &r);
    cr_assert_eq(r.status, 413);
    assert_cors(&r);
    tc_resp_free(&r);
    req("POST", "/me", "Origin: http://evil.example\r\n", "0123456789abcdefXYZ", &r);
    cr_assert_eq(r.status, 413);
    assert_no_allow(&r);
    tc_resp_free(&r);
    cr_assert_eq(handler_runs, 0);
}

Test(cors_answers, maxconns_503_carries_the_cors_headers)
{
    start(true, 1);
    tc_conn_t busy; /* holds the only slot for 800 ms */
    cr_assert_eq(tc_connect(&busy, t.port, 5000), 0);
    cr_assert_eq(tc_sendf(&busy, "GET /slow?ms=800 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    tc_resp_t r;
    int st = 0;
    for (int i = 0; i < 50 && st != 503; i++) { /* until the slow request holds the slot */
        req("GET", "/hello", "Origin: http://app.example\r\n", NULL, &r);
        st = r.status;
        if (st != 503)
            tc_resp_free(&r);
    }
    cr_assert_eq(st, 503);
    assert_cors(&r);
    tc_resp_free(&r);
    cr_assert_eq(tc_read(&busy, &r, false), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    tc_close(&busy);
}

Test(cors_answers, timeout_503_carries_the_cors_headers)
{
    start(true, 0);
    tc_resp_t r;
    req("GET", "/slow-capped?ms=2000", "Origin: http://app.example\r\n", NULL, &r);
    cr_assert_eq(r.status, 503);
    assert_cors(&r);
    tc_resp_free(&r);
}

Test(cors_answers, preflight_to_a_jwt_options_route_needs_no_token)
{
    start(true, 0);
    tc_resp_t r;
    req("OPTIONS", "/me", "Origin: http://app.example\r\nAccess-Control-Request-Method: GET\r\n",
        NULL, &r);
    cr_assert_eq(r.status, 204);
    cr_assert_str_eq(tc_header(&r, "Access-Control-Allow-Origin"), "http://app.example");
    tc_resp_free(&r);
    cr_assert_eq(handler_runs, 0);
}

/* CORS runs before every built-in link that may answer; without it the chain is unchanged. */
Test(cors_answers, chain_order_with_and_without_cors)
{
    const char *names[16];
    start(true, 0);
    size_t n = cz_server_route_chain(t.srv, "GET", "/me", names, 16);
    size_t cors = n, maxconns = n, jwt = n;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "cors") == 0)
            cors = i;
        if (strcmp(names[i], "maxconns") == 0)
            maxconns = i;
        if (strcmp(names[i], "jwt") == 0)
            jwt = i;
    }
    cr_assert(cors < maxconns && maxconns < jwt && jwt < n, "cors %zu maxconns %zu jwt %zu",
              cors, maxconns, jwt);
    for (size_t i = 0; i < cors; i++) /* only the observers see a request before CORS */
        cr_assert(strcmp(names[i], "trace") == 0 || strcmp(names[i], "log") == 0 ||
                      strcmp(names[i], "prometheus") == 0,
                  "%s before cors", names[i]);
    ts_stop(&t);

    start(false, 0);
    n = cz_server_route_chain(t.srv, "GET", "/me", names, 16);
    const char *want[] = {"trace", "maxconns", "breaker", "shedding", "timeout", "metrics",
                          "gunzip", "jwt"}; /* ts_init switches the access log off */
    cr_assert_eq(n, sizeof want / sizeof *want);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(names[i], want[i]);
}

Test(cors_answers, without_cors_the_early_answers_are_unchanged)
{
    start(false, 0);
    tc_resp_t r;
    req("GET", "/me", "Origin: http://app.example\r\n", NULL, &r);
    cr_assert_eq(r.status, 401);
    assert_no_allow(&r);
    cr_assert_null(tc_header(&r, "Vary"));
    tc_resp_free(&r);
    req("POST", "/me", "Origin: http://app.example\r\n", "0123456789abcdefXYZ", &r);
    cr_assert_eq(r.status, 413);
    assert_no_allow(&r);
    cr_assert_null(tc_header(&r, "Vary"));
    tc_resp_free(&r);
}
