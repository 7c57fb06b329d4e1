/* SPDX-License-Identifier: MIT
 *
 * Integration tests of the Gunzip link (src/http/mw/gunzip.c) on a real server: a gzip body
 * reaches the handler inflated and without Content-Encoding, the inflated size is bounded by the
 * route's body limit (a 100 MB gzip bomb is refused quickly, with bounded memory), broken gzip
 * is 400, and with Middlewares.Gunzip off the body passes through untouched.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>
#include "http_client.h"
#include "test_server.h"

/* gzip of data[0..n) repeated `times` times; *out malloc'd. Z_RLE: a 100 MB bomb compresses
 * in a fraction of the time the default strategy takes, at the same ~1000:1 ratio. */
static size_t gz(const void *data, size_t n, size_t times, char **out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_RLE), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)(n * times)) + 64, len = 0;
    char *buf = malloc(cap);
    for (size_t i = 0; i < times; i++) {
        zs.next_in = (Bytef *)data;
        zs.avail_in = (uInt)n;
        int flush = i + 1 == times ? Z_FINISH : Z_NO_FLUSH;
        do {
            zs.next_out = (Bytef *)buf + len;
            zs.avail_out = (uInt)(cap - len);
            int rc = deflate(&zs, flush);
            cr_assert(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR);
            len = cap - zs.avail_out;
        } while (zs.avail_in || (flush == Z_FINISH && zs.avail_out == 0));
    }
    deflateEnd(&zs);
    *out = buf;
    return len;
}

static int post(int port, const char *path, const char *encoding, const void *body, size_t n,
                tc_resp_t *r)
{
    tc_conn_t *c = malloc(sizeof *c);
    cr_assert_eq(tc_connect(c, port, 10000), 0);
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n%s%s%s"
                      "Content-Length: %zu\r\n\r\n",
                      path, encoding ? "Content-Encoding: " : "", encoding ? encoding : "",
                      encoding ? "\r\n" : "", n);
    int rc = tc_send(c, head, (size_t)hn);
    if (rc == 0 && n)
        rc = tc_send(c, body, n);
    if (rc == 0)
        rc = tc_read(c, r, false);
    tc_close(c);
    free(c);
    return rc;
}

/* What the handler saw: Content-Encoding, Content-Length and the body size. */
static int seen(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t ce = cz_req_header(req, "Content-Encoding"), cl = cz_req_header(req, "Content-Length");
    cz_res_printf(res, "ce=%.*s cl=%.*s n=%zu", (int)ce.n, ce.p ? ce.p : "", (int)cl.n,
                  cl.p ? cl.p : "", cz_req_body(req).n);
    return CZ_DONE;
}

static const cz_route_t extra[] = {{"POST", "/seen", seen, NULL, 0}};

static ts_t t;
static void stop(void) { ts_stop(&t); }
TestSuite(gunzip, .fini = stop);

Test(gunzip, body_is_inflated_for_the_handler)
{
    ts_init(&t);
    ts_start(&t, extra, 1);
    const char *text = "hello, gzip world! ";
    char *z;
    size_t zn = gz(text, strlen(text), 100, &z);
    tc_resp_t r;
    cr_assert_eq(post(t.port, "/echo", "gzip", z, zn, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, strlen(text) * 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(memcmp(r.body + i * strlen(text), text, strlen(text)), 0);
    tc_resp_free(&r);

    cr_assert_eq(post(t.port, "/seen", "gzip", z, zn, &r), 0);
    char want[64];
    snprintf(want, sizeof want, "ce= cl=%zu n=%zu", strlen(text) * 100, strlen(text) * 100);
    cr_assert_str_eq(r.body, want, "the handler sees the inflated body, no Content-Encoding");
    tc_resp_free(&r);
    free(z);
}

Test(gunzip, other_encodings_and_plain_bodies_pass_through)
{
    ts_init(&t);
    ts_start(&t, extra, 1);
    tc_resp_t r;
    cr_assert_eq(post(t.port, "/seen", "identity", "abc", 3, &r), 0);
    cr_assert_str_eq(r.body, "ce=identity cl=3 n=3");
    tc_resp_free(&r);
    cr_assert_eq(post(t.port, "/echo", NULL, "plain", 5, &r), 0);
    cr_assert_str_eq(r.body, "plain");
    tc_resp_free(&r);
}

Test(gunzip, concatenated_members_are_one_stream)
{
    ts_init(&t);
    ts_start(&t, extra, 1);
    char *a, *b;
    size_t an = gz("first,", 6, 1, &a), bn = gz("second", 6, 1, &b);
    char *both = malloc(an + bn);
    memcpy(both, a, an);
    memcpy(both + an, b, bn);
    tc_resp_t r;
    cr_assert_eq(post(t.port, "/echo", "gzip", both, an + bn, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "first,second");
    tc_resp_free(&r);
    free(a), free(b), free(both);
}

Test(gunzip, broken_gzip_is_400)
{
    ts_init(&t);
    ts_start(&t, extra, 1);
    tc_resp_t r;
    cr_assert_eq(post(t.port, "/echo", "gzip", "this is not gzip at all", 23, &r), 0);
    cr_assert_eq(r.status, 400);
    tc_resp_free(&r);

    char *z;
    size_t zn = gz("some text that will be cut short", 32, 4, &z);
    cr_assert_eq(post(t.port, "/echo", "gzip", z, zn - 6, &r), 0);
    cr_assert_eq(r.status, 400, "truncated stream (no trailer)");
    tc_resp_free(&r);

    z[zn - 3] ^= 0x55; /* corrupt the ISIZE trailer */
    cr_assert_eq(post(t.port, "/echo", "gzip", z, zn, &r), 0);
    cr_assert_eq(r.status, 400, "bad trailer");
    tc_resp_free(&r);

    char *g = malloc(zn + 4);
    z[zn - 3] ^= 0x55;
    memcpy(g, z, zn);
    memcpy(g + zn, "junk", 4);
    cr_assert_eq(post(t.port, "/echo", "gzip", g, zn + 4, &r), 0);
    cr_assert_eq(r.status, 400, "trailing garbage after the member");
    tc_resp_free(&r);

    cr_assert_eq(post(t.port, "/echo", "gzip", "", 0, &r), 0);
    cr_assert_eq(r.status, 400, "an empty body is not gzip (Go: gzip.NewReader -> EOF)");
    tc_resp_free(&r);
    free(z), free(g);
}

Test(gunzip, limit_is_on_the_inflated_size)
{
    ts_init(&t);
    t.conf.max_bytes = 4096;
    ts_start(&t, extra, 1);
    char *plain = calloc(1, 4097), *z;
    memset(plain, 'x', 4097);
    size_t zn = gz(plain, 4096, 1, &z);
    tc_resp_t r;
    cr_assert_eq(post(t.port, "/seen", "gzip", z, zn, &r), 0);
    cr_assert_eq(r.status, 200, "exactly MaxBytes inflated is fine");
    cr_assert_str_eq(r.body, "ce= cl=4096 n=4096");
    tc_resp_free(&r);
    free(z);
    zn = gz(plain, 4097, 1, &z);
    cr_assert_lt(zn, 4096);
    cr_assert_eq(post(t.port, "/seen", "gzip", z, zn, &r), 0);
    cr_assert_eq(r.status, 413, "one byte more is 413");
    tc_resp_free(&r);
    free(z), free(plain);
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

Test(gunzip, bomb_is_413_quickly_with_bounded_memory)
{
    ts_init(&t);
    ts_start(&t, extra, 1); /* MaxBytes default: 1 MiB */
    size_t mb = 1 << 20;
    char *zeros = calloc(1, mb), *z;
    size_t zn = gz(zeros, mb, 100, &z); /* 100 MB of zeros */
    free(zeros);
    cr_assert_lt(zn, 200 * 1024, "the bomb itself is small: %zu bytes", zn);
    long rss0 = maxrss_kb(), t0 = tc_now_ms();
    tc_resp_t r;
    cr_assert_eq(post(t.port, "/echo", "gzip", z, zn, &r), 0);
    long ms = tc_now_ms() - t0, grew_kb = maxrss_kb() - rss0;
    cr_log_info("bomb (%zu bytes) refused in %ld ms, peak RSS +%ld KiB", zn, ms, grew_kb);
    cr_assert_eq(r.status, 413);
    cr_assert_lt(ms, 2000, "refused after inflating about MaxBytes, not 100 MB (%ld ms)", ms);
    cr_assert_lt(grew_kb, 32 * 1024, "peak memory grew by %ld KiB", grew_kb);
    tc_resp_free(&r);
    free(z);
}

Test(gunzip, switched_off_passes_the_body_through)
{
    ts_init(&t);
    t.conf.middlewares.gunzip = false;
    ts_start(&t, extra, 1);
    char *z;
    size_t zn = gz("compressed", 10, 1, &z);
    tc_resp_t r;
    cr_assert_eq(post(t.port, "/echo", "gzip", z, zn, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, zn);
    cr_assert_eq(memcmp(r.body, z, zn), 0, "the handler got the gzip bytes as sent");
    tc_resp_free(&r);
    cr_assert_eq(post(t.port, "/seen", "gzip", z, zn, &r), 0);
    char want[64];
    snprintf(want, sizeof want, "ce=gzip cl=%zu n=%zu", zn, zn);
    cr_assert_str_eq(r.body, want);
    tc_resp_free(&r);
    free(z);
}
