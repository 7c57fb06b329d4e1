/* SPDX-License-Identifier: MIT
 *
 * test_gateway_cors.c: czero-gateway's per-route Cors on the answers the route gives before the
 * upstream, on a real gateway instance (compiled in from tools/czero-gateway, as
 * test_gateway_conf.c does) in front of a real backend on loopback: with Cors, a Jwt 401 (no
 * token, bad signature), a RateLimit 429 and a MaxBytes 413 (announced or streamed) carry
 * Access-Control-Allow-Origin as the proxied success does; a disallowed origin gets none; a
 * route without Cors is unchanged; the preflight still needs no token.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "../../tools/czero-gateway/gw_conf.c"
#include "../../tools/czero-gateway/gw_cors.c"
#include "../../tools/czero-gateway/gw_drain.c"
#include "../../tools/czero-gateway/gw_ratelimit.c"
#include "../../tools/czero-gateway/gw_routes.c"
#include "http_client.h"
#include "test_server.h"

#define SECRET "gateway-cors-secret-0123456789"
#define ORIGIN "Origin: http://app.example\r\n"

static ts_t backend;
static gw_instance_t *gw;
static int gport;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &n) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void setup(void)
{
    ts_init(&backend);
    ts_start(&backend, NULL, 0);
    char yaml[2048];
    int port = free_port();
    snprintf(yaml, sizeof yaml,
             "Name: gw-cors\nHost: 127.0.0.1\nPort: %d\nWorkers: 1\n"
             "Log: {Mode: console, Encoding: plain, Stat: false}\n"
             "Middlewares: {Log: false, Shedding: false}\n"
             "Upstreams:\n  - Name: a\n    Nodes: [{Addr: 127.0.0.1:%d}]\n"
             "Routes:\n"
             "  - Prefix: /api\n    StripPrefix: /api\n    Upstream: a\n"
             "    Jwt: {Secret: " SECRET "}\n"
             "    Cors: {AllowOrigins: [example.org, 'http://app.example']}\n"
             "  - Prefix: /lim\n    StripPrefix: /lim\n    Upstream: a\n"
             "    RateLimit: {Kind: period, Quota: 1, Period: 60s}\n"
             "    Cors: {AllowOrigins: ['http://app.example']}\n"
             "  - Method: POST\n    Path: /echo\n    Upstream: a\n    MaxBytes: 16\n"
             "    Cors: {AllowOrigins: ['*']}\n"
             "  - Prefix: /plain\n    StripPrefix: /plain\n    Upstream: a\n"
             "    Jwt: {Secret: " SECRET "}\n"
             "    RateLimit: {Kind: period, Quota: 1, Period: 60s}\n",
             port, backend.port);
    gw_conf_t c;
    cz_diag_t d = {0};
    char msg[512];
    int rc = gw_conf_load_string("gw.yaml", yaml, strlen(yaml), &c, &d);
    cz_diag_format(&d, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    gw = gw_instance_start(&c, "gw.yaml", NULL, &d);
    cz_diag_format(&d, msg, sizeof msg);
    cr_assert_not_null(gw, "%s", msg);
    gport = gw_instance_port(gw);
}

static void teardown(void)
{
    if (gw)
        gw_instance_free(gw);
    gw = NULL;
    ts_stop(&backend);
}

TestSuite(gateway_cors, .init = setup, .fini = teardown);

static void req(const char *method, const char *path, const char *hdrs, const char *body,
                tc_resp_t *r)
{
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, gport, 5000), 0);
    size_t bn = body ? strlen(body) : 0;
    cr_assert_eq(tc_sendf(&c, "%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n%s",
                          method, path, hdrs ? hdrs : "", bn, body ? body : ""),
                 0);
    cr_assert_eq(tc_read(&c, r, strcmp(method, "HEAD") == 0), 0);
    tc_close(&c);
}

static void assert_cors(const tc_resp_t *r, const char *origin)
{
    cr_assert_str_eq(tc_header(r, "Access-Control-Allow-Origin"), origin, "status %d",
                     r->status);
    cr_assert_str_eq(tc_header(r, "Access-Control-Allow-Methods"),
                     "GET, HEAD, POST, PATCH, PUT, DELETE");
    cr_assert_str_eq(tc_header(r, "Vary"), "Origin");
}

static void assert_no_cors(const tc_resp_t *r)
{
    cr_assert_null(tc_header(r, "Access-Control-Allow-Origin"), "status %d", r->status);
    cr_assert_null(tc_header(r, "Access-Control-Allow-Methods"));
}

static char *bearer(const char *secret)
{
    json_t *c = json_pack("{s:s, s:I}", "user", "ann", "exp", (json_int_t)(time(NULL) + 3600));
    char *tok = NULL;
    cr_assert_eq(cz_jwt_sign(CZ_JWT_HS256, secret, strlen(secret), c, &tok), 0);
    json_decref(c);
    char *h = malloc(strlen(tok) + 64);
    sprintf(h, ORIGIN "Authorization: Bearer %s\r\n", tok);
    free(tok);
    return h;
}

Test(gateway_cors, jwt_401_carries_the_headers_the_success_gets)
{
    tc_resp_t r;
    req("GET", "/api/hello", ORIGIN, NULL, &r);
    cr_assert_eq(r.status, 401);
    assert_cors(&r, "http://app.example");
    cr_assert_str_eq(tc_header(&r, "Access-Control-Allow-Credentials"), "true");
    tc_resp_free(&r);

    char *bad = bearer("guessed-secret-0123456789-abcdef");
    req("GET", "/api/hello", bad, NULL, &r);
    cr_assert_eq(r.status, 401);
    assert_cors(&r, "http://app.example");
    tc_resp_free(&r);

    char *good = bearer(SECRET);
    req("GET", "/api/hello", good, NULL, &r);
    cr_assert_eq(r.status, 200);
    assert_cors(&r, "http://app.example");
    tc_resp_free(&r);
    free(bad);
    free(good);
}

Test(gateway_cors, disallowed_origin_gets_no_allow_origin_on_the_401)
{
    tc_resp_t r;
    req("GET", "/api/hello", "Origin: http://evil.example\r\n", NULL, &r);
    cr_assert_eq(r.status, 401);
    assert_no_cors(&r);
    cr_assert_str_eq(tc_header(&r, "Vary"), "Origin");
    tc_resp_free(&r);
}

Test(gateway_cors, rate_limit_429_carries_the_headers)
{
    tc_resp_t r;
    req("GET", "/lim/hello", ORIGIN, NULL, &r);
    cr_assert_eq(r.status, 200);
    assert_cors(&r, "http://app.example");
    tc_resp_free(&r);
    req("GET", "/lim/hello", ORIGIN, NULL, &r);
    cr_assert_eq(r.status, 429);
    assert_cors(&r, "http://app.example");
    tc_resp_free(&r);
}

Test(gateway_cors, max_bytes_413_carries_the_headers)
{
    tc_resp_t r;
    req("POST", "/echo", ORIGIN, "0123456789abcdefXYZ", &r);
    cr_assert_eq(r.status, 413);
    assert_cors(&r, "*");
    tc_resp_free(&r);
    req("POST", "/echo", ORIGIN, "hi", &r);
    cr_assert_eq(r.status, 200);
    assert_cors(&r, "*");
    tc_resp_free(&r);
    /* chunked: the limit is found while the body streams to the upstream */
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, gport, 5000), 0);
    cr_assert_eq(tc_sendf(&c, "POST /echo HTTP/1.1\r\nHost: t\r\n" ORIGIN
                              "Transfer-Encoding: chunked\r\n\r\n14\r\n0123456789abcdefghij"
                              "\r\n0\r\n\r\n"),
                 0);
    cr_assert_eq(tc_read(&c, &r, false), 0);
    tc_close(&c);
    cr_assert_eq(r.status, 413);
    assert_cors(&r, "*");
    tc_resp_free(&r);
}

Test(gateway_cors, preflight_still_needs_no_token)
{
    tc_resp_t r;
    req("OPTIONS", "/api/hello", ORIGIN "Access-Control-Request-Method: GET\r\n", NULL, &r);
    cr_assert_eq(r.status, 204);
    assert_cors(&r, "http://app.example");
    tc_resp_free(&r);
}

Test(gateway_cors, route_without_cors_is_unchanged)
{
    tc_resp_t r;
    req("GET", "/plain/hello", ORIGIN, NULL, &r);
    cr_assert_eq(r.status, 401);
    assert_no_cors(&r);
    cr_assert_null(tc_header(&r, "Vary"));
    tc_resp_free(&r);
    char *good = bearer(SECRET);
    req("GET", "/plain/hello", good, NULL, &r);
    cr_assert_eq(r.status, 200);
    assert_no_cors(&r);
    tc_resp_free(&r);
    req("GET", "/plain/hello", good, NULL, &r);
    cr_assert_eq(r.status, 429);
    assert_no_cors(&r);
    tc_resp_free(&r);
    free(good);
}

/* A method the Cors route does not take: the 405 (with Allow) carries the route's CORS headers,
 * so the browser shows the real error; a path no route serves gets a plain 404. */
Test(gateway_cors, method_not_allowed_on_a_cors_path_carries_the_headers)
{
    tc_resp_t r;
    req("GET", "/echo", ORIGIN, NULL, &r);
    cr_assert_eq(r.status, 405);
    cr_assert_not_null(strstr(tc_header(&r, "Allow"), "POST"), "Allow: %s", tc_header(&r, "Allow"));
    assert_cors(&r, "*");
    tc_resp_free(&r);
    req("GET", "/nowhere", ORIGIN, NULL, &r);
    cr_assert_eq(r.status, 404);
    assert_no_cors(&r);
    tc_resp_free(&r);
}
