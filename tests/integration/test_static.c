/* SPDX-License-Identifier: MIT
 *
 * Integration tests of static file serving (src/http/static.c) on a real server: files with
 * their content types, index.html, 404s, every way out of the directory refused (../, %2e%2e,
 * %2f, symlinks to outside; a symlink inside works), a FIFO does not hang, ETag and
 * If-None-Match / If-Modified-Since -> 304, Range -> 206 / 416, If-Range, HEAD, bad arguments.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "czero/static.h"
#include "demo.h"
#include "http_client.h"
#include "test_server.h"

static ts_t t;
static char base[64], root[96];

static void put(const char *rel, const void *data, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "%s", p);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void mk(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    cr_assert_eq(mkdir(p, 0755), 0, "%s", p);
}

static void ln(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    cr_assert_eq(symlink(target, p), 0, "%s", p);
}

static char big[100000];

static void setup(void)
{
    strcpy(base, "/tmp/cz_static_XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(root, sizeof root, "%s/root", base);
    mk("root");
    mk("root/sub");
    mk("root/sub/deep");
    mk("outside");
    put("secret.txt", "TOP SECRET", 10);
    put("outside/secret.txt", "TOP SECRET", 10);
    put("root/hello.txt", "hello static\n", 13);
    put("root/site.css", "body{}", 6);
    put("root/empty.txt", "", 0);
    put("root/sub/index.html", "<p>index</p>", 12);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + i / 251);
    put("root/sub/deep/data.bin", big, sizeof big);
    ln("hello.txt", "root/inside-link");
    char p[256];
    snprintf(p, sizeof p, "%s/secret.txt", base);
    ln(p, "root/escape-link");
    snprintf(p, sizeof p, "%s/outside", base);
    ln(p, "root/escape-dir");
    snprintf(p, sizeof p, "%s/root/fifo", base);
    cr_assert_eq(mkfifo(p, 0644), 0);

    ts_init(&t);
    cz_diag_t d = {0};
    t.srv = cz_server_new(&t.conf, &d);
    cr_assert_not_null(t.srv, "%s", d.msg);
    cr_assert_eq(cz_server_add_routes(t.srv, demo_routes, demo_nroutes, NULL, &d), 0);
    cr_assert_eq(cz_server_static(t.srv, "/static", root), 0);
    cr_assert_eq(cz_server_start(t.srv), 0);
    t.port = cz_server_port(t.srv);
}

static void teardown(void)
{
    ts_stop(&t);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(static_files, .init = setup, .fini = teardown);

/* One request with optional extra header lines ("A: b\r\n"). */
static void get(const char *method, const char *target, const char *hdrs, tc_resp_t *r)
{
    tc_conn_t *c = malloc(sizeof *c);
    cr_assert_eq(tc_connect(c, t.port, 5000), 0);
    cr_assert_eq(tc_sendf(c, "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n", method, target,
                          hdrs ? hdrs : ""),
                 0);
    cr_assert_eq(tc_read(c, r, strcmp(method, "HEAD") == 0), 0, "%s %s", method, target);
    tc_close(c);
    free(c);
}

static int status_of(const char *target)
{
    tc_resp_t r;
    get("GET", target, NULL, &r);
    cr_assert_null(strstr(r.body, "SECRET"), "%s leaked the secret", target);
    int s = r.status;
    tc_resp_free(&r);
    return s;
}

Test(static_files, serves_files_with_types_and_validators)
{
    tc_resp_t r;
    get("GET", "/static/hello.txt", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello static\n");
    cr_assert_str_eq(tc_header(&r, "Content-Type"), "text/plain; charset=utf-8");
    cr_assert_str_eq(tc_header(&r, "Accept-Ranges"), "bytes");
    cr_assert_eq(strncmp(tc_header(&r, "ETag"), "W/\"d-", 5), 0, "weak, size first: %s",
                 tc_header(&r, "ETag"));
    cr_assert(strstr(tc_header(&r, "Last-Modified"), " GMT"));
    tc_resp_free(&r);

    get("GET", "/static/site.css", NULL, &r);
    cr_assert_str_eq(tc_header(&r, "Content-Type"), "text/css; charset=utf-8");
    tc_resp_free(&r);

    get("GET", "/static/sub", NULL, &r);
    cr_assert_eq(r.status, 200, "a directory serves its index.html");
    cr_assert_str_eq(r.body, "<p>index</p>");
    cr_assert_str_eq(tc_header(&r, "Content-Type"), "text/html; charset=utf-8");
    tc_resp_free(&r);

    get("GET", "/static/sub/deep/data.bin", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, sizeof big);
    cr_assert_eq(memcmp(r.body, big, sizeof big), 0);
    cr_assert_str_eq(tc_header(&r, "Content-Type"), "application/octet-stream");
    tc_resp_free(&r);

    get("GET", "/static/empty.txt", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 0);
    tc_resp_free(&r);

    get("GET", "/static/sub/../hello.txt", NULL, &r);
    cr_assert_eq(r.status, 200, "a cleaned path that stays inside is fine");
    cr_assert_str_eq(r.body, "hello static\n");
    tc_resp_free(&r);
}

Test(static_files, missing_things_are_404)
{
    cr_assert_eq(status_of("/static/nope.txt"), 404);
    cr_assert_eq(status_of("/static/sub/deep"), 404, "no index.html, no listing");
    cr_assert_eq(status_of("/static/hello.txt/x"), 404);
    cr_assert_eq(status_of("/static"), 404);
    long t0 = tc_now_ms();
    cr_assert_eq(status_of("/static/fifo"), 404, "not a regular file");
    cr_assert_lt(tc_now_ms() - t0, 2000, "opening a FIFO must not block");
}

Test(static_files, escapes_are_refused)
{
    cr_assert_eq(status_of("/static/../secret.txt"), 404);
    cr_assert_eq(status_of("/static/%2e%2e/secret.txt"), 404);
    cr_assert_eq(status_of("/static/%2E%2E/%2e%2e/secret.txt"), 404);
    cr_assert_eq(status_of("/static/sub/..%2f..%2fsecret.txt"), 404);
    cr_assert_eq(status_of("/static/..%5csecret.txt"), 404);
    cr_assert_eq(status_of("/static/escape-link"), 403, "symlink to a file outside");
    cr_assert_eq(status_of("/static/escape-dir/secret.txt"), 403, "symlink to a dir outside");
    cr_assert_eq(status_of("/static/inside-link"), 200, "a symlink staying inside works");
}

Test(static_files, etag_and_dates_give_304)
{
    tc_resp_t r;
    get("GET", "/static/hello.txt", NULL, &r);
    char etag[128], lm[64], h[256];
    snprintf(etag, sizeof etag, "%s", tc_header(&r, "ETag"));
    snprintf(lm, sizeof lm, "%s", tc_header(&r, "Last-Modified"));
    tc_resp_free(&r);

    snprintf(h, sizeof h, "If-None-Match: %s\r\n", etag);
    get("GET", "/static/hello.txt", h, &r);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(r.body_len, 0);
    cr_assert_str_eq(tc_header(&r, "ETag"), etag);
    tc_resp_free(&r);

    snprintf(h, sizeof h, "If-None-Match: \"x\", %s\r\n", etag + 2); /* strong form, in a list */
    get("GET", "/static/hello.txt", h, &r);
    cr_assert_eq(r.status, 304, "weak comparison");
    tc_resp_free(&r);

    get("GET", "/static/hello.txt", "If-None-Match: *\r\n", &r);
    cr_assert_eq(r.status, 304);
    tc_resp_free(&r);

    get("GET", "/static/hello.txt", "If-None-Match: W/\"other\"\r\n", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello static\n");
    tc_resp_free(&r);

    snprintf(h, sizeof h, "If-Modified-Since: %s\r\n", lm);
    get("GET", "/static/hello.txt", h, &r);
    cr_assert_eq(r.status, 304);
    tc_resp_free(&r);

    get("GET", "/static/hello.txt", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT\r\n", &r);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);

    snprintf(h, sizeof h, "If-None-Match: W/\"other\"\r\nIf-Modified-Since: %s\r\n", lm);
    get("GET", "/static/hello.txt", h, &r);
    cr_assert_eq(r.status, 200, "If-Modified-Since is ignored when If-None-Match is present");
    tc_resp_free(&r);
}

static void expect_range(const char *range, int status, const char *body, const char *cr)
{
    char h[128];
    snprintf(h, sizeof h, "Range: %s\r\n", range);
    tc_resp_t r;
    get("GET", "/static/hello.txt", h, &r);
    cr_assert_eq(r.status, status, "%s", range);
    if (body)
        cr_assert_str_eq(r.body, body, "%s", range);
    if (cr)
        cr_assert_str_eq(tc_header(&r, "Content-Range"), cr, "%s", range);
    else
        cr_assert_null(tc_header(&r, "Content-Range"), "%s", range);
    tc_resp_free(&r);
}

Test(static_files, ranges)
{
    expect_range("bytes=0-4", 206, "hello", "bytes 0-4/13");
    expect_range("bytes=6-", 206, "static\n", "bytes 6-12/13");
    expect_range("bytes=6-1000", 206, "static\n", "bytes 6-12/13");
    expect_range("bytes=-7", 206, "static\n", "bytes 6-12/13");
    expect_range("bytes=-100", 206, "hello static\n", "bytes 0-12/13");
    expect_range("bytes=12-12", 206, "\n", "bytes 12-12/13");
    expect_range("bytes=13-20", 416, NULL, "bytes */13");
    expect_range("bytes=5-2", 416, NULL, "bytes */13");
    expect_range("bytes=-0", 416, NULL, "bytes */13");
    expect_range("bytes=x-1", 416, NULL, "bytes */13");
    expect_range("items=0-1", 416, NULL, "bytes */13");
    expect_range("bytes=0-1,3-4", 200, "hello static\n", NULL);

    tc_resp_t r;
    get("GET", "/static/sub/deep/data.bin", "Range: bytes=50000-50099\r\n", &r);
    cr_assert_eq(r.status, 206);
    cr_assert_eq(r.body_len, 100);
    cr_assert_eq(memcmp(r.body, big + 50000, 100), 0);
    tc_resp_free(&r);

    get("GET", "/static/hello.txt", NULL, &r);
    char h[256], lm[64];
    snprintf(lm, sizeof lm, "%s", tc_header(&r, "Last-Modified"));
    tc_resp_free(&r);
    snprintf(h, sizeof h, "Range: bytes=0-4\r\nIf-Range: %s\r\n", lm);
    get("GET", "/static/hello.txt", h, &r);
    cr_assert_eq(r.status, 206, "If-Range with the current date keeps the range");
    tc_resp_free(&r);
    get("GET", "/static/hello.txt", "Range: bytes=0-4\r\nIf-Range: \"old\"\r\n", &r);
    cr_assert_eq(r.status, 200, "any other If-Range sends the whole file");
    cr_assert_str_eq(r.body, "hello static\n");
    tc_resp_free(&r);
}

Test(static_files, head_has_headers_and_no_body)
{
    tc_conn_t *c = malloc(sizeof *c);
    cr_assert_eq(tc_connect(c, t.port, 5000), 0);
    /* HEAD then GET on one connection: a body after HEAD would corrupt the second answer */
    cr_assert_eq(tc_sendf(c, "HEAD /static/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                             "GET /static/site.css HTTP/1.1\r\nHost: t\r\n\r\n"),
                 0);
    tc_resp_t r;
    cr_assert_eq(tc_read(c, &r, true), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(tc_header(&r, "Content-Length"), "13");
    cr_assert_str_eq(tc_header(&r, "Content-Type"), "text/plain; charset=utf-8");
    cr_assert_not_null(tc_header(&r, "ETag"));
    tc_resp_free(&r);
    cr_assert_eq(tc_read(c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "body{}");
    tc_resp_free(&r);
    tc_close(c);
    free(c);
}

Test(static_files, bad_arguments)
{
    cz_diag_t d = {0};
    cz_server_t *s = cz_server_new(&t.conf, &d);
    cr_assert_not_null(s);
    char p[256];
    snprintf(p, sizeof p, "%s/missing", base);
    cr_assert_eq(cz_server_static(s, "/x", p), -ENOENT);
    snprintf(p, sizeof p, "%s/secret.txt", base);
    cr_assert_eq(cz_server_static(s, "/x", p), -ENOTDIR);
    cr_assert_eq(cz_server_static(s, "x", root), CZ_EARG);
    cr_assert_eq(cz_server_static(s, NULL, root), CZ_EARG);
    cr_assert_eq(cz_server_static(s, "/x/", root), 0);
    cr_assert_eq(cz_server_static(s, "/x", root), CZ_EDUPLICATE);
    cz_server_free(s);
}
