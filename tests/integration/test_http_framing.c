/* SPDX-License-Identifier: MIT
 *
 * test_http_framing.c: RFC 9112 request framing as strict as nginx, over real loopback sockets.
 * Each refused request gets its status (400 for obsolete line folding, an empty header name, a
 * missing, repeated or invalid Host in HTTP/1.1, a bad absolute-form target; 505 for a version
 * other than 1.0/1.1; 501 for a Transfer-Encoding other than exactly "chunked"), no handler
 * runs, and the connection closes after the answer. The valid neighbours of each case still
 * pass, and an absolute-form target is served as origin-form with its authority as Host.
 *
 * Not here: the gateway side (test_proxy_framing.c), sizes and timeouts (test_http_limits.c).
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "http_client.h"
#include "test_server.h"

static ts_t T;
static atomic_int handled;

/* Counts its calls, and answers what the exchange saw: path, target, Host, body. */
static int seen(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    atomic_fetch_add(&handled, 1);
    cz_str_t p = cz_req_path(req), t = cz_req_target(req), h = cz_req_header(req, "Host");
    cz_str_t b = cz_req_body(req);
    cz_res_printf(res, "path=%.*s target=%.*s host=%.*s body=%.*s", (int)p.n, p.p, (int)t.n, t.p,
                  h.p ? (int)h.n : 6, h.p ? h.p : "(none)", (int)b.n, b.p);
    return CZ_DONE;
}

static void start(void)
{
    atomic_store(&handled, 0);
    ts_init(&T);
    static const cz_route_t r[] = {
        {.method = "GET", .path = "/seen", .handler = seen},
        {.method = "POST", .path = "/seen", .handler = seen},
    };
    ts_start(&T, r, 2);
}

/* Send raw on a new connection: the status, which must come with Connection: close and the
 * connection closing after it, and no handler run. */
static void expect_refused(const char *raw, int status)
{
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 5000), 0);
    tc_send(&c, raw, strlen(raw));
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0, "no answer to: %s", raw);
    cr_expect_eq(r.status, status, "got %d, want %d for: %s", r.status, status, raw);
    const char *conn = tc_header(&r, "Connection");
    cr_expect(conn && strcmp(conn, "close") == 0, "Connection: close for: %s", raw);
    tc_resp_free(&r);
    cr_expect(tc_closed(&c, 5000), "the connection must close after: %s", raw);
    cr_expect_eq(atomic_load(&handled), 0, "a handler ran for: %s", raw);
    tc_close(&c);
}

/* Send raw on a new connection: 200 from /seen with this body, and the connection kept. */
static void expect_served(const char *raw, const char *body)
{
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 5000), 0);
    tc_send(&c, raw, strlen(raw));
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0, "no answer to: %s", raw);
    cr_expect_eq(r.status, 200, "got %d for: %s", r.status, raw);
    cr_expect_str_eq(r.body ? r.body : "", body, "for: %s", raw);
    tc_resp_free(&r);
    tc_close(&c);
}

/* ---- point 1: what an upstream client could not send on ---- */

Test(framing, obsolete_line_folding_is_400)
{
    start();
    expect_refused("GET /seen HTTP/1.1\r\nHost: t\r\nX-Foo: a\r\n b\r\n\r\n", 400);
    expect_refused("GET /seen HTTP/1.1\r\nHost: t\r\nX-Foo: a\r\n\tb\r\n\r\n", 400);
    expect_refused("GET /seen HTTP/1.1\r\nHost: t\r\nX-Foo:\r\n b\r\n\r\n", 400);
    expect_refused("GET /seen HTTP/1.1\r\nHost: t\r\nX-Foo: a\r\n \r\n\r\n", 400);
    expect_refused("GET /seen HTTP/1.1\r\nHost: t\r\nX-Foo:\r\n \r\n\r\n", 400);
    /* a value with inner and outer OWS is no fold, nor is an empty value */
    expect_served("GET /seen HTTP/1.1\r\nHost: \t t \t\r\nX-Foo:  a \t b  \r\n\r\n",
                  "path=/seen target=/seen host=t body=");
    expect_served("GET /seen HTTP/1.1\r\nX-A:\r\nX-B: \r\nHost: t\r\nX-C:\t \r\n\r\n",
                  "path=/seen target=/seen host=t body=");
    ts_stop(&T);
}

Test(framing, folding_split_across_reads_is_400)
{
    start();
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 5000), 0);
    tc_sendf(&c, "GET /seen HTTP/1.1\r\nHost: t\r\nX-Foo: a");
    usleep(50 * 1000);
    tc_sendf(&c, "\r\n");
    usleep(50 * 1000);
    tc_sendf(&c, " b\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 400);
    tc_resp_free(&r);
    cr_expect(tc_closed(&c, 5000));
    tc_close(&c);
    cr_expect_eq(atomic_load(&handled), 0);
    ts_stop(&T);
}

Test(framing, empty_header_name_is_400)
{
    start();
    expect_refused("GET /seen HTTP/1.1\r\nHost: t\r\n: v\r\n\r\n", 400);
    expect_refused("GET /seen HTTP/1.1\r\n: v\r\nHost: t\r\n\r\n", 400);
    ts_stop(&T);
}

/* ---- Host ---- */

Test(framing, http11_without_host_is_400_http10_is_served)
{
    start();
    expect_refused("GET /seen HTTP/1.1\r\n\r\n", 400);
    expect_refused("GET /seen HTTP/1.1\r\nX-Host: t\r\n\r\n", 400);
    expect_served("GET /seen HTTP/1.0\r\n\r\n", "path=/seen target=/seen host=(none) body=");
    ts_stop(&T);
}

Test(framing, two_host_headers_are_400)
{
    start();
    expect_refused("GET /seen HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    expect_refused("GET /seen HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400);
    expect_refused("GET /seen HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", 400);
    ts_stop(&T);
}

Test(framing, invalid_host_is_400)
{
    start();
    const char *bad[] = {
        "",           "a b",     "a/b",       "a\\b",       "u@a",      "a..b",    "a:80x",
        "a:123456",   ":80",     "[::1",      "[zz::1]",    "[::1]x",   "[::1]:8a", "a%zz",
        "a\"b",       "a,b c",   "a?b",       "a#b",        "[]",       "a:b:c",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char raw[256];
        snprintf(raw, sizeof raw, "GET /seen HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        expect_refused(raw, 400);
    }
    ts_stop(&T);
}

Test(framing, valid_hosts_are_served)
{
    start();
    const char *good[] = {"t",          "t:8080",    "a.b.example.",  "127.0.0.1:1",
                          "[::1]",      "[::1]:8080", "[2001:db8::7]", "xn--bcher-kva.example",
                          "a-b_c~d:",   "a%41"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char raw[256], want[256];
        snprintf(raw, sizeof raw, "GET /seen HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);
        snprintf(want, sizeof want, "path=/seen target=/seen host=%s body=", good[i]);
        expect_served(raw, want);
    }
    ts_stop(&T);
}

/* ---- version ---- */

Test(framing, versions_other_than_10_and_11_are_505)
{
    start();
    const char *v[] = {"2.0", "0.9", "1.2", "3.0", "9.9"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char raw[128];
        snprintf(raw, sizeof raw, "GET /seen HTTP/%s\r\nHost: t\r\n\r\n", v[i]);
        expect_refused(raw, 505);
    }
    /* not a version at all stays a malformed request */
    expect_refused("GET /seen HTTP/1.x\r\nHost: t\r\n\r\n", 400);
    expect_refused("GET /seen HTTP/11.1\r\nHost: t\r\n\r\n", 400);
    ts_stop(&T);
}

/* ---- Transfer-Encoding ---- */

Test(framing, transfer_encoding_other_than_chunked_is_501)
{
    start();
    const char *te[] = {"identity, chunked", "\tchunked",  "chunked\t", "gzip",
                        "chunked, gzip",     "gzip, chunked", "identity", "chunked;q=1",
                        ""};
    for (size_t i = 0; i < sizeof te / sizeof te[0]; i++) {
        char raw[256];
        snprintf(raw, sizeof raw,
                 "POST /seen HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:%s%s\r\n\r\n0\r\n\r\n",
                 te[i][0] == '\t' ? "" : " ", te[i]);
        expect_refused(raw, 501);
    }
    ts_stop(&T);
}

Test(framing, folded_repeated_or_http10_transfer_encoding_is_400)
{
    start();
    /* folding is refused before the value is looked at (nginx refuses the line too) */
    expect_refused("POST /seen HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                   "0\r\n\r\n",
                   400);
    expect_refused("POST /seen HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                   400);
    expect_refused("POST /seen HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                   400);
    expect_refused("POST /seen HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    ts_stop(&T);
}

Test(framing, chunked_in_any_case_is_served)
{
    start();
    const char *te[] = {"chunked", "CHUNKED", "Chunked", "chunked  "};
    for (size_t i = 0; i < sizeof te / sizeof te[0]; i++) {
        char raw[256];
        snprintf(raw, sizeof raw,
                 "POST /seen HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: %s\r\n\r\n"
                 "5\r\nhello\r\n0\r\n\r\n",
                 te[i]);
        expect_served(raw, "path=/seen target=/seen host=t body=hello");
    }
    ts_stop(&T);
}

/* ---- absolute-form (RFC 9112 3.2.2) ---- */

Test(framing, absolute_form_is_served_as_origin_form_with_its_authority_as_host)
{
    start();
    expect_served("GET http://a.example/seen?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
                  "path=/seen target=/seen?q=1 host=a.example body=");
    expect_served("GET HTTPS://a.example:8443/seen HTTP/1.1\r\nHost: a.example:8443\r\n\r\n",
                  "path=/seen target=/seen host=a.example:8443 body=");
    expect_served("GET http://[::1]:81/x/../seen HTTP/1.1\r\nHost: b\r\n\r\n",
                  "path=/seen target=/x/../seen host=[::1]:81 body=");
    /* HTTP/1.0 may omit Host: the authority becomes it */
    expect_served("GET http://a/seen HTTP/1.0\r\n\r\n", "path=/seen target=/seen host=a body=");
    ts_stop(&T);
}

Test(framing, bad_absolute_form_is_400)
{
    start();
    const char *bad[] = {
        "ftp://a/seen", "http:///seen", "http://u@a/seen", "http://a..b/seen",
        "http://a:x/seen", "http:/a/seen", "seen", "http//a/seen",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char raw[256];
        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", bad[i]);
        expect_refused(raw, 400);
    }
    /* HTTP/1.1 still needs its Host header (RFC 9112 3.2; nginx alike) */
    expect_refused("GET http://a/seen HTTP/1.1\r\n\r\n", 400);
    ts_stop(&T);
}

/* ---- the dev listener runs the same engine ---- */

Test(framing, dev_listener_refuses_the_same_requests)
{
    ts_init(&T);
    T.conf.dev_server.enabled = true;
    free(T.conf.dev_server.host);
    T.conf.dev_server.host = strdup("127.0.0.1");
    T.conf.dev_server.port = 0;
    ts_start(&T, NULL, 0);
    int dport = cz_server_dev_port(T.srv);
    cr_assert_gt(dport, 0);
    const char *raw[] = {"GET /healthz HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n",
                         "GET /healthz HTTP/1.1\r\n\r\n",
                         "GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n"};
    const int want[] = {400, 400, 505};
    for (size_t i = 0; i < 3; i++) {
        tc_conn_t c;
        cr_assert_eq(tc_connect(&c, dport, 5000), 0);
        tc_send(&c, raw[i], strlen(raw[i]));
        tc_resp_t r;
        cr_assert_eq(tc_read(&c, &r, false), 0);
        cr_expect_eq(r.status, want[i], "case %zu: %d", i, r.status);
        tc_resp_free(&r);
        cr_expect(tc_closed(&c, 5000), "case %zu", i);
        tc_close(&c);
    }
    ts_stop(&T);
}
