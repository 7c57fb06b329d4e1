/* SPDX-License-Identifier: MIT
 *
 * Integration tests of how an answer ends and what runs around it, over real loopback sockets
 * against an in-process server: cz_res_close_after (Connection: close, then the connection
 * closes), cz_res_abort (a streamed answer cut short: no last chunk, the chain still settles
 * with the status sent), cz_res_stream_begin_length (Content-Length kept, writes past it
 * refused, a short answer truncated, HEAD), the order of "100 Continue" behind a pipelined
 * answer, the streamed-response write deadline and the body-read deadline holding at the same
 * time, cz_server_on_worker_stop, and header values with a CR, LF or NUL refused.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "http_client.h"
#include "test_server.h"

static ts_t T;
static atomic_int g_settled;     /* the status the chain settled with (rec middleware) */
static atomic_int g_leaves;      /* how many requests settled */
static atomic_int g_over;        /* what a write past the announced length returned */
static atomic_int g_body_err;    /* the error a body callback got */
static atomic_int g_cancelled;   /* a handler heard of its cancellation */

#define LEN_N 100000

static unsigned char pat(size_t i) { return (unsigned char)('a' + (i * 7 + i / 1000) % 26); }

/* ---- handlers ---- */

static int close_after_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_close_after(res);
    cz_res_write(res, "bye", 3);
    return CZ_DONE;
}

static int close_after_stream_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_stream_begin(res);
    cz_res_close_after(res); /* after the head: no header, but the connection still ends */
    cz_res_stream_write(res, "x", 1);
    return CZ_DONE;
}

typedef struct later {
    uv_timer_t t;
    cz_res_t *res;
} later_t;

static void later_free(uv_handle_t *h) { free(h->data); }

static void later_abort(uv_timer_t *t)
{
    later_t *l = t->data;
    cz_res_abort(l->res);
    uv_close((uv_handle_t *)t, later_free);
}

/* streams a head and a piece, then fails as a proxy's backend would */
static int abort_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_res_status(res, 201);
    if (cz_req_query(req, "len").p)
        cz_res_stream_begin_length(res, 1000);
    else if (!cz_req_query(req, "early").p)
        cz_res_stream_begin(res);
    if (!cz_req_query(req, "early").p)
        cz_res_stream_write(res, "partial", 7);
    later_t *l = calloc(1, sizeof *l);
    l->res = res;
    l->t.data = l;
    uv_timer_init(cz_req_loop(req), &l->t);
    uv_timer_start(&l->t, later_abort, 30, 0);
    return CZ_AGAIN;
}

static int len_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    static unsigned char body[LEN_N + 1];
    for (size_t i = 0; i < LEN_N; i++)
        body[i] = pat(i);
    cz_res_header(res, "Content-Type", "application/octet-stream");
    cr_assert_eq(cz_res_stream_begin_length(res, LEN_N), 0);
    for (size_t off = 0; off < LEN_N - LEN_N / 10; off += LEN_N / 10)
        cz_res_stream_write(res, body + off, LEN_N / 10);
    /* one byte too many is refused whole (stored before the client can have the last piece) */
    atomic_store(&g_over, cz_res_stream_write(res, body + LEN_N - LEN_N / 10, LEN_N / 10 + 1));
    cz_res_stream_write(res, body + LEN_N - LEN_N / 10, LEN_N / 10);
    return CZ_DONE;
}

static int short_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_stream_begin_length(res, 1000);
    cz_res_stream_write(res, "only ten b", 10);
    return CZ_DONE; /* ends 990 bytes short */
}

/* Header values that would break their line are refused wherever the byte sits; the rest go. */
static int hdr_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    static const cz_str_t bad[] = {CZ_STR("a\nb"), CZ_STR("ab\rcd"), CZ_STR("0123456789abcdef\n"),
                                   CZ_STR("0123456789\r\nX-Evil: 12345678"),
                                   {"abc\0defghijkl", 14}, CZ_STR("\n")};
    int refused = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused += cz_res_header_n(res, CZ_STR("X-Bad"), bad[i]) == CZ_EARG;
    char n[16];
    snprintf(n, sizeof n, "%d", refused);
    cz_res_header(res, "X-Refused", n);
    cz_res_header(res, "X-Fine", "a\tb\xc3\xa9 0123456789");
    cz_res_write(res, "ok", 2);
    return CZ_DONE;
}

static int ping_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_write(res, "pong", 4);
    return CZ_DONE;
}

static int echo_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t b = cz_req_body(req);
    cz_res_write(res, b.p, b.n);
    return CZ_DONE;
}

/* /wt: queues 16 MiB of answer, then reads the body: its write deadline must hold while the
 * body (trickled by the client) keeps the read deadline fresh. */
typedef struct wt {
    cz_res_t *res;
    bool ended;
} wt_t;

static void wt_body(cz_req_t *req, const void *data, size_t n, int err, void *ud)
{
    wt_t *w = ud;
    (void)req, (void)data;
    if (err)
        atomic_store(&g_body_err, err);
    if ((err || n == 0) && !w->ended) {
        w->ended = true;
        if (err)
            cz_res_abort(w->res);
        else
            cz_res_stream_end(w->res);
    }
}

static void wt_cancel(cz_req_t *req, void *ud)
{
    wt_t *w = ud;
    (void)req;
    atomic_store(&g_cancelled, 1);
    if (!w->ended) {
        w->ended = true;
        cz_res_end(w->res);
    }
}

static int wt_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    wt_t *w = cz_arena_calloc(cz_req_arena(req), sizeof *w);
    w->res = res;
    cz_req_on_cancel(req, wt_cancel, w);
    static char piece[65536];
    memset(piece, 'w', sizeof piece);
    cz_res_stream_begin(res);
    for (int i = 0; i < 256; i++)
        cz_res_stream_write(res, piece, sizeof piece);
    cz_req_body_read(req, wt_body, w);
    return CZ_AGAIN;
}

/* /rt: reads the body and streams a small piece every 50 ms for 3 s: the body read deadline
 * must hold although the answer keeps making progress. */
typedef struct rt {
    uv_timer_t t;
    cz_res_t *res;
    int ticks;
    bool ended;
} rt_t;

static void rt_free(uv_handle_t *h) { free(h->data); }

static void rt_stop(rt_t *k) { uv_close((uv_handle_t *)&k->t, rt_free); }

static void rt_tick(uv_timer_t *t)
{
    rt_t *k = t->data;
    cz_res_stream_write(k->res, "tick\n", 5);
    if (++k->ticks == 60) {
        k->ended = true;
        cz_res_stream_end(k->res);
        rt_stop(k);
    }
}

static void rt_body(cz_req_t *req, const void *data, size_t n, int err, void *ud)
{
    rt_t *k = ud;
    (void)req, (void)data, (void)n;
    if (!err || k->ended)
        return;
    atomic_store(&g_body_err, err);
    k->ended = true;
    cz_req_on_cancel(req, NULL, NULL);
    cz_res_abort(k->res);
    rt_stop(k);
}

static void rt_cancel(cz_req_t *req, void *ud)
{
    rt_t *k = ud;
    (void)req;
    atomic_store(&g_cancelled, 1);
    if (!k->ended) {
        k->ended = true;
        cz_res_end(k->res);
        rt_stop(k);
    }
}

static int rt_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    rt_t *k = calloc(1, sizeof *k);
    k->res = res;
    k->t.data = k;
    cz_req_on_cancel(req, rt_cancel, k);
    cz_req_body_read(req, rt_body, k);
    cz_res_stream_begin(res);
    uv_timer_init(cz_req_loop(req), &k->t);
    uv_timer_start(&k->t, rt_tick, 50, 50);
    return CZ_AGAIN;
}

/* ---- a middleware recording how each request settled ---- */

static cz_mw_step_t rec_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    (void)mw, (void)req, (void)res, (void)ctx;
    return CZ_MW_NEXT;
}

static void rec_leave(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    (void)mw, (void)req, (void)ctx;
    atomic_store(&g_settled, cz_res_get_status(res));
    atomic_fetch_add(&g_leaves, 1);
}

static const cz_mw_ops_t rec_ops = {.name = "rec", .enter = rec_enter, .leave = rec_leave};

static const cz_route_t routes[] = {
    {"GET", "/ca", close_after_handler, NULL, 0},
    {"GET", "/cas", close_after_stream_handler, NULL, 0},
    {"GET", "/abort", abort_handler, NULL, 0},
    {"GET", "/len", len_handler, NULL, 0},
    {"GET", "/short", short_handler, NULL, 0},
    {"GET", "/ping", ping_handler, NULL, 0},
    {"GET", "/hdr", hdr_handler, NULL, 0},
    {"POST", "/echo", echo_handler, NULL, 0},
    {"POST", "/wt", wt_handler, NULL, CZ_ROUTE_STREAM_BODY},
    {"POST", "/rt", rt_handler, NULL, CZ_ROUTE_STREAM_BODY},
};

static void start(int64_t read_timeout_ms, int64_t write_timeout_ms)
{
    ts_init(&T);
    T.conf.timeout_ms = 0;
    if (read_timeout_ms)
        T.conf.read_timeout_ms = read_timeout_ms;
    if (write_timeout_ms)
        T.conf.write_timeout_ms = write_timeout_ms;
    atomic_store(&g_settled, 0);
    atomic_store(&g_leaves, 0);
    atomic_store(&g_body_err, 0);
    atomic_store(&g_cancelled, 0);
    cz_diag_t d = {0};
    T.srv = cz_server_new(&T.conf, &d);
    cr_assert_not_null(T.srv, "%s", d.msg);
    cr_assert_eq(cz_server_add_routes(T.srv, routes, sizeof routes / sizeof routes[0], NULL, &d),
                 0, "%s", d.msg);
    cz_mw_t rec = {.ops = &rec_ops};
    cr_assert_eq(cz_server_use(T.srv, &rec), 0);
    cr_assert_eq(cz_server_start(T.srv), 0);
    T.port = cz_server_port(T.srv);
}

/* Everything the server sends until it closes (or timeout_ms passes: *eof false). */
static size_t read_to_eof(tc_conn_t *c, char *out, size_t cap, int timeout_ms, bool *eof)
{
    size_t n = c->len < cap ? c->len : cap;
    memcpy(out, c->buf, n);
    c->len = 0;
    *eof = false;
    long until = tc_now_ms() + timeout_ms;
    while (n < cap && tc_now_ms() < until) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t k = recv(c->fd, out + n, cap - n, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno == ECONNRESET)) {
            *eof = true;
            break;
        }
        if (k > 0)
            n += (size_t)k;
    }
    out[n < cap ? n : cap - 1] = 0;
    return n;
}

static bool wait_int(atomic_int *v, int want, int ms)
{
    long until = tc_now_ms() + ms;
    while (atomic_load(v) != want && tc_now_ms() < until)
        usleep(5000);
    return atomic_load(v) == want;
}

/* ---- close after ---- */

Test(answer, close_after_says_connection_close_and_closes)
{
    start(0, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 2000), 0);
    /* a pipelined request behind it must not be served on this connection */
    tc_sendf(&c, "GET /ca HTTP/1.1\r\nHost: h\r\n\r\nGET /ping HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "bye");
    cr_expect_str_eq(tc_header(&r, "Connection") ? tc_header(&r, "Connection") : "", "close");
    tc_resp_free(&r);
    cr_expect(tc_closed(&c, 2000), "the connection ends after the answer");
    tc_close(&c);
    /* after a streamed head: no header any more, the connection still closes after it */
    cr_assert_eq(tc_connect(&c, T.port, 2000), 0);
    tc_sendf(&c, "GET /cas HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect(r.chunked);
    cr_expect_str_eq(r.body, "x");
    tc_resp_free(&r);
    cr_expect(tc_closed(&c, 2000), "the connection ends after the streamed answer");
    tc_close(&c);
    ts_stop(&T);
}

Test(answer, header_values_with_line_breaks_are_refused)
{
    start(0, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 2000), 0);
    tc_sendf(&c, "GET /hdr HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(tc_header(&r, "X-Refused") ? tc_header(&r, "X-Refused") : "", "6");
    cr_expect_null(tc_header(&r, "X-Bad"));
    cr_expect_null(tc_header(&r, "X-Evil"));
    cr_expect_str_eq(tc_header(&r, "X-Fine") ? tc_header(&r, "X-Fine") : "",
                     "a\tb\xc3\xa9 0123456789");
    cr_expect_str_eq(r.body, "ok");
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&T);
}

/* ---- abort ---- */

Test(answer, abort_truncates_a_streamed_answer_and_settles_the_request)
{
    start(0, 0);
    tc_conn_t c;
    char buf[4096];
    bool eof;
    cr_assert_eq(tc_connect(&c, T.port, 2000), 0);
    tc_sendf(&c, "GET /abort HTTP/1.1\r\nHost: h\r\n\r\n");
    size_t n = read_to_eof(&c, buf, sizeof buf, 3000, &eof);
    cr_assert(eof, "the connection is closed under the answer: %s", buf);
    cr_expect(strncmp(buf, "HTTP/1.1 201", 12) == 0, "%s", buf);
    cr_expect(strstr(buf, "Transfer-Encoding: chunked\r\n"), "%s", buf);
    cr_expect(strstr(buf, "7\r\npartial\r\n"), "%s", buf);
    cr_expect(n < 5 || memcmp(buf + n - 5, "0\r\n\r\n", 5) != 0, "no last chunk: %s", buf);
    cr_expect(wait_int(&g_leaves, 1, 2000), "the chain settled");
    cr_expect_eq(atomic_load(&g_settled), 201, "with the status that was sent");
    tc_close(&c);
    /* the same with a Content-Length: the client sees fewer bytes than announced */
    cr_assert_eq(tc_connect(&c, T.port, 2000), 0);
    tc_sendf(&c, "GET /abort?len=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    cr_expect_eq(tc_read(&c, &r, false), -1, "a truncated answer must not look complete");
    cr_expect_eq(r.status, 201);
    tc_resp_free(&r);
    cr_expect(wait_int(&g_leaves, 2, 2000));
    tc_close(&c);
    /* before any head: nothing reaches the client, the chain settles as 499 */
    cr_assert_eq(tc_connect(&c, T.port, 2000), 0);
    tc_sendf(&c, "GET /abort?early=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    n = read_to_eof(&c, buf, sizeof buf, 3000, &eof);
    cr_expect(eof && n == 0, "closed with no answer (%zu bytes)", n);
    cr_expect(wait_int(&g_leaves, 3, 2000));
    cr_expect_eq(atomic_load(&g_settled), 499, "settled %d, leaves %d", atomic_load(&g_settled),
                 atomic_load(&g_leaves));
    tc_close(&c);
    /* the worker goes on serving */
    cr_assert_eq(tc_get(T.port, "/ping", &r), 0);
    cr_expect_str_eq(r.body, "pong");
    tc_resp_free(&r);
    ts_stop(&T);
}

/* ---- fixed-length streaming ---- */

Test(answer, streamed_answer_keeps_its_content_length)
{
    start(0, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 2000), 0);
    tc_sendf(&c, "GET /len HTTP/1.1\r\nHost: h\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 200);
    cr_expect(!r.chunked, "not chunked");
    cr_expect_null(tc_header(&r, "Transfer-Encoding"));
    cr_assert_not_null(tc_header(&r, "Content-Length"));
    cr_expect_eq(atol(tc_header(&r, "Content-Length")), LEN_N);
    cr_assert_eq(r.body_len, (size_t)LEN_N);
    size_t bad = 0;
    for (size_t i = 0; i < LEN_N; i++)
        bad += (unsigned char)r.body[i] != pat(i);
    cr_expect_eq(bad, 0, "%zu bytes differ", bad);
    cr_expect_eq(atomic_load(&g_over), CZ_EFULL, "a write past the length is refused");
    tc_resp_free(&r);
    /* HEAD: the length, no body; the connection stays in step */
    tc_sendf(&c, "HEAD /len HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, true), 0);
    cr_expect_eq(atol(tc_header(&r, "Content-Length") ? tc_header(&r, "Content-Length") : "0"),
                 LEN_N);
    tc_resp_free(&r);
    tc_sendf(&c, "GET /ping HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(tc_read(&c, &r, false), 0, "keep-alive after both");
    cr_expect_str_eq(r.body, "pong");
    tc_resp_free(&r);
    tc_close(&c);
    /* ending short of the length closes the connection: truncated, never complete-looking */
    cr_assert_eq(tc_connect(&c, T.port, 2000), 0);
    tc_sendf(&c, "GET /short HTTP/1.1\r\nHost: h\r\n\r\n");
    char buf[2048];
    bool eof;
    size_t n = read_to_eof(&c, buf, sizeof buf, 3000, &eof);
    cr_expect(eof, "closed after the short answer");
    cr_expect(strstr(buf, "Content-Length: 1000\r\n"), "%s", buf);
    cr_expect(n > 10 && memcmp(buf + n - 10, "only ten b", 10) == 0, "%s", buf);
    tc_close(&c);
    ts_stop(&T);
}

/* ---- 100 Continue after a pipelined answer ---- */

Test(answer, continue_goes_out_after_the_pipelined_answer_before_it)
{
    start(0, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 2000), 0);
    tc_sendf(&c, "GET /ping HTTP/1.1\r\nHost: h\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                 "Expect: 100-continue\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 200, "the first answer comes first, not the 100 (got %d)", r.status);
    cr_expect_str_eq(r.body ? r.body : "", "pong");
    tc_resp_free(&r);
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 100);
    tc_resp_free(&r);
    tc_send(&c, "hello", 5);
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "hello");
    tc_resp_free(&r);
    tc_close(&c);
    ts_stop(&T);
}

/* ---- both deadlines of a stream route ---- */

static int connect_small_rcvbuf(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int sz = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

Test(answer, write_deadline_holds_while_the_body_is_read)
{
    start(10000, 400);
    int fd = connect_small_rcvbuf(T.port);
    const char *h = "POST /wt HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n";
    cr_assert_eq(send(fd, h, strlen(h), MSG_NOSIGNAL), (ssize_t)strlen(h));
    /* a byte of body every 100 ms keeps the read deadline fresh; the answer is never read */
    long t0 = tc_now_ms(), closed_at = 0;
    for (int i = 0; i < 40 && !closed_at; i++) {
        usleep(100000);
        if (send(fd, "b", 1, MSG_NOSIGNAL) != 1)
            closed_at = tc_now_ms();
    }
    close(fd);
    cr_assert(closed_at, "the stalled answer must end the connection");
    cr_expect_lt(closed_at - t0, 2500, "WriteTimeout 400 ms, closed after %ld ms",
                 closed_at - t0);
    cr_expect(wait_int(&g_cancelled, 1, 2000), "the handler heard of it");
    ts_stop(&T);
}

Test(answer, body_deadline_holds_while_the_answer_streams)
{
    start(400, 10000);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 5000), 0);
    long t0 = tc_now_ms();
    tc_sendf(&c, "POST /rt HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789");
    /* the answer is read as it comes; the rest of the body never does */
    static char buf[65536];
    bool eof;
    read_to_eof(&c, buf, sizeof buf, 4000, &eof);
    long took = tc_now_ms() - t0;
    cr_assert(eof, "the connection is closed");
    cr_expect(wait_int(&g_body_err, CZ_ETIMEOUT, 1000), "the body read timed out (err %d)",
              atomic_load(&g_body_err));
    cr_expect_lt(took, 2000, "ReadTimeout 400 ms, closed after %ld ms", took);
    cr_expect(strstr(buf, "tick\n"), "the answer was streaming meanwhile");
    tc_close(&c);
    ts_stop(&T);
}

/* ---- the worker stop hook ---- */

/* A per-loop handle made lazily by a handler (as a Redis client per loop is): it keeps its loop
 * alive until the stop hook closes it. */
typedef struct loop_slot {
    void *loop;
    uv_timer_t *timer;
    pthread_t thread;
} loop_slot_t;

static loop_slot_t g_slots[4];
static pthread_mutex_t g_slots_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_hook_calls, g_hook_wrong_thread, g_hook_closed;

static void noop_tick(uv_timer_t *t) { (void)t; }
static void free_handle(uv_handle_t *h) { free(h); }

static int arm_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    void *loop = cz_req_loop(req);
    pthread_mutex_lock(&g_slots_mu);
    int i = 0;
    while (i < 4 && g_slots[i].loop && g_slots[i].loop != loop)
        i++;
    if (i < 4 && !g_slots[i].loop) {
        g_slots[i].loop = loop;
        g_slots[i].thread = pthread_self();
        g_slots[i].timer = malloc(sizeof(uv_timer_t));
        uv_timer_init(loop, g_slots[i].timer);
        uv_timer_start(g_slots[i].timer, noop_tick, 1000, 1000);
    }
    pthread_mutex_unlock(&g_slots_mu);
    cz_res_write(res, "armed", 5);
    return CZ_DONE;
}

static void stop_hook(void *loop, void *ud)
{
    (void)ud;
    atomic_fetch_add(&g_hook_calls, 1);
    pthread_mutex_lock(&g_slots_mu);
    for (int i = 0; i < 4; i++)
        if (g_slots[i].loop == loop) {
            if (!pthread_equal(g_slots[i].thread, pthread_self()))
                atomic_fetch_add(&g_hook_wrong_thread, 1);
            uv_close((uv_handle_t *)g_slots[i].timer, free_handle);
            atomic_fetch_add(&g_hook_closed, 1);
        }
    pthread_mutex_unlock(&g_slots_mu);
}

Test(answer, worker_stop_hook_runs_on_each_worker_thread, .timeout = 20)
{
    ts_init(&T);
    T.conf.workers = 2;
    cz_diag_t d = {0};
    T.srv = cz_server_new(&T.conf, &d);
    cr_assert_not_null(T.srv);
    cz_route_t arm = {"GET", "/arm", arm_handler, NULL, 0};
    cr_assert_eq(cz_server_add_route(T.srv, &arm, &d), 0, "%s", d.msg);
    cr_assert_eq(cz_server_on_worker_stop(T.srv, NULL, NULL), CZ_EARG);
    cr_assert_eq(cz_server_on_worker_stop(T.srv, stop_hook, NULL), 0);
    cr_assert_eq(cz_server_start(T.srv), 0);
    cr_assert_eq(cz_server_on_worker_stop(T.srv, stop_hook, NULL), CZ_EARG, "not after start");
    T.port = cz_server_port(T.srv);
    for (int i = 0; i < 8; i++) {
        tc_resp_t r;
        cr_assert_eq(tc_get(T.port, "/arm", &r), 0);
        tc_resp_free(&r);
    }
    int armed = 0;
    for (int i = 0; i < 4; i++)
        armed += g_slots[i].loop != NULL;
    cr_assert_geq(armed, 1);
    /* without the hook the armed loops never end and this waits forever (the test times out) */
    ts_stop(&T);
    cr_expect_eq(atomic_load(&g_hook_calls), 2, "once per worker");
    cr_expect_eq(atomic_load(&g_hook_closed), armed);
    cr_expect_eq(atomic_load(&g_hook_wrong_thread), 0, "on the worker's own loop thread");
}
