/* SPDX-License-Identifier: MIT
 *
 * Unit tests of the client's response parsing glue (src/client/client_call.c), driven over a
 * socketpair through the cz__client_call_fd hook: the test plays the upstream and writes the
 * response in pieces (down to one byte at a time), running the loop between pieces so that each
 * piece is a separate read. Header views, split header blocks, de-chunking, the header limits,
 * on_head aborts and the request bytes the client writes.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "client/client_int.h"

static uv_loop_t L;
static cz_client_t *C;
static int peer = -1;

typedef struct rec {
    int done, err, heads, status;
    size_t nh;
    char hdrs[4096], body[4096];
    size_t hlen, blen;
    cz_call_info_t info;
    int abort_head;
} rec_t;

static int r_head(cz_call_t *c, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                  void *ud)
{
    rec_t *r = ud;
    r->heads++;
    r->status = status;
    r->nh = n;
    for (size_t i = 0; i < n; i++)
        r->hlen += (size_t)snprintf(r->hdrs + r->hlen, sizeof r->hdrs - r->hlen, "[%.*s=%.*s]",
                                    (int)hn[i].n, hn[i].p, (int)hv[i].n, hv[i].p);
    return r->abort_head;
}

static void r_body(cz_call_t *c, const void *d, size_t n, void *ud)
{
    rec_t *r = ud;
    cr_assert_gt(n, 0, "no empty body pieces");
    cr_assert_lt(r->blen + n, sizeof r->body);
    memcpy(r->body + r->blen, d, n);
    r->blen += n;
}

static void r_done(cz_call_t *c, int err, const cz_call_info_t *info, void *ud)
{
    rec_t *r = ud;
    r->done++;
    r->err = err;
    r->info = *info;
}

static const cz_call_cbs_t CBS = {r_head, r_body, NULL, r_done};

static void setup(void)
{
    uv_loop_init(&L);
    cz_client_opts_t o;
    cz_client_opts_init(&o);
    o.max_header_bytes = 2048;
    C = cz_client_new(&L, &o);
}

static void closed(void *ud) { *(int *)ud = 1; }

static void teardown(void)
{
    int done = 0;
    cz_client_close(C, closed, &done);
    while (!done)
        uv_run(&L, UV_RUN_ONCE);
    cr_assert_eq(uv_loop_close(&L), 0);
    if (peer >= 0)
        close(peer);
    peer = -1;
}

TestSuite(client_parse, .init = setup, .fini = teardown, .timeout = 20);

/* Start a call over a fresh socketpair; the test holds the upstream end in `peer`. */
static void call(const char *method, rec_t *r)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    peer = sv[1];
    cz_client_req_t rq = {.addr = "10.0.0.1:80", .method = cz_str_c(method),
                          .target = CZ_STR("/t")};
    memset(r, 0, sizeof *r);
    cr_assert_eq(cz__client_call_fd(C, sv[0], &rq, &CBS, r, NULL), 0);
}

static void pump(void)
{
    for (int i = 0; i < 4; i++)
        uv_run(&L, UV_RUN_NOWAIT);
}

/* Write s in pieces of `step` bytes, a loop turn after each. */
static void feed(const char *s, size_t step)
{
    size_t n = strlen(s);
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        if (write(peer, s + off, k) != (ssize_t)k)
            return; /* the client already gave up on this response */
        pump();
    }
}

static void finish(rec_t *r)
{
    shutdown(peer, SHUT_WR);
    for (int i = 0; i < 1000 && !r->done; i++)
        uv_run(&L, UV_RUN_ONCE);
    cr_assert_eq(r->done, 1);
}

static const char RESP[] = "HTTP/1.1 201 Created\r\nX-One: 1\r\nX-Two:  two words \r\n"
                           "Content-Length: 5\r\n\r\nhello";

Test(client_parse, one_byte_at_a_time)
{
    rec_t r;
    call("GET", &r);
    feed(RESP, 1);
    cr_assert_eq(r.done, 1, "complete without waiting for the close");
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.status, 201);
    cr_assert_eq(r.heads, 1);
    cr_assert_str_eq(r.hdrs, "[X-One=1][X-Two=two words][Content-Length=5]");
    cr_assert_eq(r.blen, 5);
    cr_assert_eq(memcmp(r.body, "hello", 5), 0);
    cr_assert(r.info.response_started);
    cr_assert(r.info.sent_any);
    cr_assert_eq(r.info.status, 201);
}

Test(client_parse, every_split_gives_the_same_result)
{
    for (size_t step = 2; step < sizeof RESP; step += 7) {
        rec_t r;
        call("GET", &r);
        feed(RESP, step);
        cr_assert_eq(r.done, 1, "step %zu", step);
        cr_assert_eq(r.err, 0);
        cr_assert_str_eq(r.hdrs, "[X-One=1][X-Two=two words][Content-Length=5]");
        cr_assert_eq(r.blen, 5);
        close(peer);
        peer = -1;
    }
}

/* A head in two reads, cut at every offset (inside a name, a value, the CRLFs, after a 100
 * Continue), and a head in one read that follows a body in the same read: the names and values
 * come out whole whichever buffer they were kept in. */
Test(client_parse, a_head_cut_at_every_offset_keeps_its_headers)
{
    static const char resp[] = "HTTP/1.1 100 Continue\r\nX-Early: e\r\n\r\n"
                               "HTTP/1.1 200 OK\r\nX-A-Long-Header-Name: a long value here\r\n"
                               "X-Empty:\r\nX-B: b\r\nContent-Length: 3\r\n\r\nabc";
    size_t n = strlen(resp);
    for (size_t cut = 1; cut < n; cut++) {
        rec_t r;
        call("GET", &r);
        cr_assert_eq(write(peer, resp, cut), (ssize_t)cut);
        pump();
        cr_assert_eq(write(peer, resp + cut, n - cut), (ssize_t)(n - cut));
        pump();
        cr_assert_eq(r.done, 1, "cut %zu", cut);
        cr_assert_eq(r.err, 0, "cut %zu", cut);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.hdrs,
                         "[X-A-Long-Header-Name=a long value here][X-Empty=][X-B=b]"
                         "[Content-Length=3]",
                         "cut %zu", cut);
        cr_assert_eq(r.blen, 3);
        close(peer);
        peer = -1;
    }
}

Test(client_parse, request_bytes_on_the_wire)
{
    rec_t r;
    call("DELETE", &r);
    pump();
    char buf[256] = {0};
    ssize_t n = read(peer, buf, sizeof buf - 1);
    cr_assert_gt(n, 0);
    cr_assert_str_eq(buf, "DELETE /t HTTP/1.1\r\nHost: 10.0.0.1:80\r\n\r\n");
    feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 64);
    cr_assert_eq(r.done, 1);
}

Test(client_parse, chunked_with_extensions_and_trailers)
{
    rec_t r;
    call("GET", &r);
    feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n", 3);
    cr_assert_eq(r.done, 1);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.blen, 19);
    cr_assert_eq(memcmp(r.body, "abc0123456789abcdef", 19), 0);
}

Test(client_parse, bad_chunk_size_is_a_parse_error)
{
    rec_t r;
    call("GET", &r);
    feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100);
    finish(&r);
    cr_assert_eq(r.err, CZ_EPARSE);
}

Test(client_parse, header_block_over_the_limit)
{
    rec_t r;
    call("GET", &r);
    char big[4096];
    int n = snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Big: %03000d\r\n\r\n", 0);
    cr_assert_lt(n, (int)sizeof big);
    feed(big, 512);
    finish(&r);
    cr_assert_eq(r.err, CZ_EPARSE);
    cr_assert_eq(r.heads, 0);
}

Test(client_parse, too_many_headers)
{
    rec_t r;
    call("GET", &r);
    feed("HTTP/1.1 200 OK\r\n", 100);
    for (int i = 0; i < CZ__CL_MAX_HEADERS + 1; i++)
        feed("A:1\r\n", 100);
    feed("\r\n", 100);
    finish(&r);
    cr_assert_eq(r.err, CZ_EPARSE);
}

Test(client_parse, on_head_nonzero_aborts)
{
    rec_t r;
    call("GET", &r);
    r.abort_head = 1;
    feed(RESP, 1000);
    finish(&r);
    cr_assert_eq(r.err, CZ_ECLOSED);
    cr_assert_eq(r.blen, 0);
}

Test(client_parse, eof_before_any_byte)
{
    rec_t r;
    call("GET", &r);
    pump();
    finish(&r);
    cr_assert_eq(r.err, CZ_ECLOSED);
    cr_assert_not(r.info.response_started);
    cr_assert(r.info.sent_any);
}

Test(client_parse, eof_inside_the_head)
{
    rec_t r;
    call("GET", &r);
    feed("HTTP/1.1 200 OK\r\nContent-Le", 100);
    finish(&r);
    cr_assert_eq(r.err, CZ_ECLOSED);
    cr_assert(r.info.response_started);
    cr_assert_eq(r.heads, 0);
}

Test(client_parse, head_response_ignores_chunked_framing)
{
    rec_t r;
    call("HEAD", &r);
    feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 100);
    cr_assert_eq(r.done, 1);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.blen, 0);
}
