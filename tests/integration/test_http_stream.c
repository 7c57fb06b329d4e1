/* SPDX-License-Identifier: MIT
 *
 * Integration tests of streamed request bodies (CZ_ROUTE_STREAM_BODY: cz_req_body_read, pause,
 * resume) and of streamed-response back-pressure (cz_res_stream_pending, cz_res_on_drain), over
 * real loopback sockets against an in-process server. The handlers report what they saw in
 * their answers, so the assertions run on the test thread.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "czero/client.h"
#include "czero/log.h"
#include "http_client.h"
#include "test_server.h"

static ts_t T;
static tc_conn_t C;
static atomic_int g_last_status; /* the status the chain settled with (rec middleware) */
static atomic_int g_body_err;    /* the error the last upload callback got */

static unsigned char pat(uint64_t i) { return (unsigned char)(i * 7 + (i >> 13) + 3); }

/* ---- /up: checks the streamed body byte by byte, reports size, largest piece, arena use ---- */

typedef struct up {
    cz_res_t *res;
    uint64_t n, bad;
    size_t max_piece, pieces;
    char *probe; /* an arena allocation made before the body: the arena must not move on */
} up_t;

static void up_body(cz_req_t *r, const void *data, size_t n, int err, void *ud)
{
    up_t *u = ud;
    if (err) {
        atomic_store(&g_body_err, err);
        cz_res_end(u->res); /* after an engine answer this only releases the request */
        return;
    }
    if (n) {
        const unsigned char *p = data;
        for (size_t i = 0; i < n; i++)
            u->bad += p[i] != pat(u->n + i);
        u->n += n;
        u->pieces++;
        if (n > u->max_piece)
            u->max_piece = n;
        return;
    }
    cz_arena_t *a = cz_req_arena(r);
    char *probe2 = cz_arena_alloc(a, 16);
    /* a body-sized allocation would be a large block or a new chunk */
    int grew = a->large != NULL || a->spare != NULL || !probe2 || probe2 - u->probe > 4096 ||
               probe2 < u->probe;
    cz_res_printf(u->res, "n=%llu bad=%llu max=%zu pieces=%zu grew=%d cl=%lld",
                  (unsigned long long)u->n, (unsigned long long)u->bad, u->max_piece, u->pieces,
                  grew, (long long)cz_req_content_length(r));
    cz_res_end(u->res);
}

static int up_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    up_t *u = cz_arena_calloc(cz_req_arena(req), sizeof *u);
    u->res = res;
    u->probe = cz_arena_alloc(cz_req_arena(req), 16);
    if (cz_req_body(req).n != 0)
        return cz_res_error(res, 500, "a stream route must not buffer"), CZ_DONE;
    if (cz_req_body_read(req, up_body, u) != 0)
        return cz_res_error(res, 500, "body_read"), CZ_DONE;
    return CZ_AGAIN;
}

/* ---- /pause: pauses twice for 150 ms; any piece delivered while paused is a violation ---- */

typedef struct pz {
    cz_req_t *req;
    cz_res_t *res;
    uv_timer_t timer;
    uint64_t n, paused_at;
    int paused, violations, pauses;
    uint64_t gap_ms; /* shortest pause as seen by the callback */
} pz_t;

static void pz_free(uv_handle_t *h) { free(h->data); }

static void pz_wake(uv_timer_t *t)
{
    pz_t *z = t->data;
    uint64_t ms = uv_now(t->loop) - z->paused_at;
    if (!z->gap_ms || ms < z->gap_ms)
        z->gap_ms = ms;
    z->paused = 0;
    cz_req_body_resume(z->req);
}

static void pz_body(cz_req_t *r, const void *data, size_t n, int err, void *ud)
{
    pz_t *z = ud;
    (void)data;
    if (z->paused)
        z->violations++;
    if (err || n == 0) {
        if (!err)
            cz_res_printf(z->res, "n=%llu viol=%d pauses=%d gap=%llu", (unsigned long long)z->n,
                          z->violations, z->pauses, (unsigned long long)z->gap_ms);
        cz_res_end(z->res);
        uv_close((uv_handle_t *)&z->timer, pz_free);
        return;
    }
    uint64_t before = z->n;
    z->n += n;
    if (before == 0 || (before < 512 * 1024 && z->n >= 512 * 1024)) {
        z->paused = 1;
        z->pauses++;
        z->paused_at = uv_now(cz_req_loop(r));
        cz_req_body_pause(r);
        uv_timer_start(&z->timer, pz_wake, 150, 0);
    }
}

static int pause_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    pz_t *z = calloc(1, sizeof *z);
    z->req = req;
    z->res = res;
    uv_timer_init(cz_req_loop(req), &z->timer);
    z->timer.data = z;
    cz_req_body_read(req, pz_body, z);
    return CZ_AGAIN;
}

/* ---- /nread: answers without reading its body ---- */

static int nread_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_write(res, "unread", 6);
    return CZ_DONE;
}

static int ping_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_write(res, "pong", 4);
    return CZ_DONE;
}

/* ---- /big: a 16 MiB streamed answer; the tail says whether on_drain ran ---- */

#define BIG_PIECE 65536
#define BIG_PIECES 256

typedef struct big {
    size_t pending0;
    uint64_t t0;
    uv_loop_t *loop;
} big_t;

static void big_drained(cz_res_t *res, void *ud)
{
    big_t *b = ud;
    char tail[128];
    int n = snprintf(tail, sizeof tail, "|drained pending0=%zu now=%zu after=%llu", b->pending0,
                     cz_res_stream_pending(res), (unsigned long long)(uv_now(b->loop) - b->t0));
    cz_res_stream_write(res, tail, (size_t)n);
    cz_res_stream_end(res);
}

static int big_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    static char piece[BIG_PIECE];
    memset(piece, 'b', sizeof piece);
    cz_res_stream_begin(res);
    for (int i = 0; i < BIG_PIECES; i++)
        cz_res_stream_write(res, piece, sizeof piece);
    big_t *b = cz_arena_calloc(cz_req_arena(req), sizeof *b);
    b->loop = cz_req_loop(req);
    b->t0 = uv_now(b->loop);
    b->pending0 = cz_res_stream_pending(res);
    cz_res_on_drain(res, big_drained, b);
    return CZ_AGAIN;
}

/* ---- /self: calls this server's /ping through the worker's client (cz_req_client) ---- */

static int g_port;

typedef struct selfc {
    cz_res_t *res;
    char addr[32];
} selfc_t;

static void self_done(int err, const cz_fetch_res_t *fr, void *ud)
{
    selfc_t *s = ud;
    if (err)
        cz_res_error(s->res, 502, cz_strerror(err));
    else
        cz_res_printf(s->res, "upstream %d %.*s", fr->status, (int)fr->body.n, fr->body.p);
    cz_res_end(s->res);
}

static int self_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_client_t *cl = cz_req_client(req);
    if (!cl || cl != cz_req_client(req)) /* one client per worker, kept */
        return cz_res_error(res, 500, "no client"), CZ_DONE;
    selfc_t *s = cz_arena_calloc(cz_req_arena(req), sizeof *s);
    s->res = res;
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", g_port);
    cz_client_req_t rq = {.addr = s->addr, .method = CZ_STR("GET"), .target = CZ_STR("/ping")};
    if (cz_client_fetch(cl, &rq, 0, self_done, s) != 0)
        return cz_res_error(res, 500, "fetch"), CZ_DONE;
    return CZ_AGAIN;
}

/* ---- /stuck: never reads nor answers until cancelled (the timeout link answers 503) ---- */

static void stuck_cancel(cz_req_t *req, void *ud)
{
    (void)req;
    cz_res_end(ud);
}

static int stuck_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_req_on_cancel(req, stuck_cancel, res);
    return CZ_AGAIN;
}

/* ---- a middleware recording the status the chain settles with ---- */

static cz_mw_step_t rec_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    (void)mw, (void)req, (void)res, (void)ctx;
    return CZ_MW_NEXT;
}

static void rec_leave(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    (void)mw, (void)req, (void)ctx;
    atomic_store(&g_last_status, cz_res_get_status(res));
}

static const cz_mw_ops_t rec_ops = {.name = "rec", .enter = rec_enter, .leave = rec_leave};

static const cz_route_t routes[] = {
    {"POST", "/up", up_handler, NULL, CZ_ROUTE_STREAM_BODY},
    {"GET", "/up", up_handler, NULL, CZ_ROUTE_STREAM_BODY},
    {"POST", "/pause", pause_handler, NULL, CZ_ROUTE_STREAM_BODY},
    {"POST", "/nread", nread_handler, NULL, CZ_ROUTE_STREAM_BODY},
    {"GET", "/ping", ping_handler, NULL, 0},
    {"GET", "/big", big_handler, NULL, 0},
    {"GET", "/self", self_handler, NULL, 0},
    {"GET", "/hang", nread_handler, NULL, CZ_ROUTE_STREAM_BODY},
    {"POST", "/stuck", stuck_handler, NULL, CZ_ROUTE_STREAM_BODY},
};

static bool g_access_log;  /* the next start_with turns the log middleware on */
static int64_t g_timeout_ms; /* the next start_with's Timeout (0: the default) */

static void start_with(int64_t max_bytes, int64_t read_timeout_ms)
{
    ts_init(&T);
    T.conf.middlewares.log = g_access_log;
    if (g_timeout_ms)
        T.conf.timeout_ms = g_timeout_ms;
    T.conf.max_bytes = max_bytes;
    if (read_timeout_ms)
        T.conf.read_timeout_ms = read_timeout_ms;
    atomic_store(&g_last_status, 0);
    atomic_store(&g_body_err, 0);
    cz_diag_t d = {0};
    T.srv = cz_server_new(&T.conf, &d);
    cr_assert_not_null(T.srv, "%s", d.msg);
    cr_assert_eq(cz_server_add_routes(T.srv, routes, sizeof routes / sizeof routes[0], NULL, &d),
                 0, "%s", d.msg);
    cz_mw_t rec = {.ops = &rec_ops};
    cr_assert_eq(cz_server_use(T.srv, &rec), 0);
    cr_assert_eq(cz_server_start(T.srv), 0);
    T.port = cz_server_port(T.srv);
    g_port = T.port;
    cr_assert_eq(tc_connect(&C, T.port, 5000), 0);
}

static void stop(void)
{
    tc_close(&C);
    ts_stop(&T);
}

static char *pattern_body(size_t n)
{
    char *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)pat(i);
    return b;
}

static void send_all(const char *b, size_t n)
{
    for (size_t off = 0; off < n; off += 1 << 20) {
        size_t k = n - off < (1u << 20) ? n - off : 1u << 20;
        cr_assert_eq(tc_send(&C, b + off, k), 0);
    }
}

static void read_ok(const char *expect_prefix, tc_resp_t *r)
{
    cr_assert_eq(tc_read(&C, r, false), 0);
    cr_assert_eq(r->status, 200, "status %d: %s", r->status, r->body);
    if (expect_prefix)
        cr_assert(strncmp(r->body, expect_prefix, strlen(expect_prefix)) == 0, "body: %s",
                  r->body);
}

static int wait_for(atomic_int *v, int ms)
{
    long end = tc_now_ms() + ms;
    while (!atomic_load(v) && tc_now_ms() < end)
        usleep(2000);
    return atomic_load(v);
}

Test(stream, upload_20mib_arrives_intact_in_bounded_pieces)
{
    start_with(32 << 20, 0);
    size_t n = 20u << 20;
    char *b = pattern_body(n);
    tc_sendf(&C, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
    send_all(b, n);
    free(b);
    tc_resp_t r;
    read_ok(NULL, &r);
    unsigned long long got, bad;
    size_t max, pieces;
    int grew;
    long long cl;
    cr_assert_eq(sscanf(r.body, "n=%llu bad=%llu max=%zu pieces=%zu grew=%d cl=%lld", &got, &bad,
                        &max, &pieces, &grew, &cl), 6, "%s", r.body);
    cr_assert_eq(got, n);
    cr_assert_eq(bad, 0, "corrupted bytes");
    cr_assert_leq(max, (size_t)T.conf.max_header_bytes, "a piece is at most one read buffer");
    cr_assert_gt(pieces, 100);
    cr_assert_eq(grew, 0, "the request arena grew while streaming");
    cr_assert_eq(cl, (long long)n);
    tc_resp_free(&r);
    stop();
}

Test(stream, chunked_upload_and_keep_alive_after_it)
{
    start_with(32 << 20, 0);
    size_t n = 300000;
    char *b = pattern_body(n);
    tc_sendf(&C, "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t off = 0, sz = 1;
    while (off < n) { /* chunk sizes 1, 3, 9, ... so pieces straddle reads */
        size_t k = n - off < sz ? n - off : sz;
        tc_sendf(&C, "%zx\r\n", k);
        tc_send(&C, b + off, k);
        tc_sendf(&C, "\r\n");
        off += k;
        sz = sz * 3 + 1;
    }
    tc_sendf(&C, "0\r\n\r\n");
    free(b);
    tc_resp_t r;
    read_ok("n=300000 bad=0", &r);
    cr_assert(strstr(r.body, "cl=-1"), "%s", r.body);
    cr_assert_null(tc_header(&r, "Connection"));
    tc_resp_free(&r);
    /* the same connection serves the next requests: a normal one, then a body-less stream */
    tc_sendf(&C, "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok("pong", &r);
    tc_resp_free(&r);
    tc_sendf(&C, "GET /up HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok("n=0 bad=0", &r);
    cr_assert(strstr(r.body, "cl=0"), "%s", r.body);
    tc_resp_free(&r);
    stop();
}

Test(stream, pipelined_requests_after_a_streamed_body_answer_in_order)
{
    start_with(32 << 20, 0);
    char *b = pattern_body(5000);
    char req[8192];
    int h = snprintf(req, sizeof req, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    memcpy(req + h, b, 5000);
    int m = snprintf(req + h + 5000, sizeof req - (size_t)h - 5000,
                     "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    tc_send(&C, req, (size_t)h + 5000 + (size_t)m); /* one write: both requests in one read */
    free(b);
    tc_resp_t r;
    read_ok("n=5000 bad=0", &r);
    tc_resp_free(&r);
    read_ok("pong", &r);
    tc_resp_free(&r);
    stop();
}

Test(stream, pause_stops_delivery_and_resume_delivers_the_rest)
{
    start_with(32 << 20, 0);
    size_t n = 2u << 20;
    char *b = pattern_body(n);
    tc_sendf(&C, "POST /pause HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
    send_all(b, n);
    free(b);
    tc_resp_t r;
    read_ok(NULL, &r);
    unsigned long long got, gap;
    int viol, pauses;
    cr_assert_eq(sscanf(r.body, "n=%llu viol=%d pauses=%d gap=%llu", &got, &viol, &pauses, &gap),
                 4, "%s", r.body);
    cr_assert_eq(got, n);
    cr_assert_eq(viol, 0, "a piece arrived while paused");
    cr_assert_eq(pauses, 2);
    cr_assert_geq(gap, 140);
    tc_resp_free(&r);
    stop();
}

Test(stream, expect_100_continue_is_sent_when_the_handler_reads)
{
    start_with(32 << 20, 0);
    tc_sendf(&C, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n"
                 "Expect: 100-continue\r\n\r\n");
    char line[64] = {0};
    ssize_t k = recv(C.fd, line, 25, MSG_WAITALL);
    cr_assert_eq(k, 25);
    cr_assert_str_eq(line, "HTTP/1.1 100 Continue\r\n\r\n");
    char *b = pattern_body(1000);
    tc_send(&C, b, 1000);
    free(b);
    tc_resp_t r;
    read_ok("n=1000 bad=0", &r);
    tc_resp_free(&r);
    stop();
}

Test(stream, over_max_bytes_is_413)
{
    start_with(64 * 1024, 0);
    /* Content-Length over the limit: refused before the handler runs */
    tc_sendf(&C, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 413);
    tc_resp_free(&r);
    tc_close(&C);
    /* chunked: the handler's callback gets CZ_EFULL and the engine answers 413 */
    cr_assert_eq(tc_connect(&C, T.port, 5000), 0);
    tc_sendf(&C, "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    char *b = pattern_body(16384);
    for (int i = 0; i < 8; i++) {
        tc_sendf(&C, "4000\r\n");
        if (tc_send(&C, b, 16384) != 0 || tc_sendf(&C, "\r\n") != 0)
            break;
    }
    free(b);
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 413);
    cr_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_resp_free(&r);
    cr_assert_eq(wait_for(&g_body_err, 2000), CZ_EFULL);
    cr_assert(tc_closed(&C, 2000));
    stop();
}

Test(stream, client_gone_mid_body_gives_eclosed_and_settles_as_499)
{
    char dir[] = "/tmp/cz-stream-log-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cz_log_conf_t lc = {.mode = CZ_LOG_MODE_FILE, .encoding = CZ_LOG_ENC_PLAIN, .path = dir,
                        .level = CZ_LOG_INFO};
    cz_diag_t d;
    cr_assert_eq(cz_log_setup(&lc, &d), 0, "%s", d.msg);
    g_access_log = true;
    start_with(32 << 20, 0);
    tc_sendf(&C, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
    char *b = pattern_body(100000);
    tc_send(&C, b, 100000);
    free(b);
    usleep(50000);
    tc_close(&C);
    cr_assert_eq(wait_for(&g_body_err, 3000), CZ_ECLOSED);
    cr_assert_eq(wait_for(&g_last_status, 3000), 499);
    ts_stop(&T);
    cz_log_flush();
    char path[128], text[4096] = {0};
    snprintf(path, sizeof path, "%s/access.log", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    cz_log_close();
    cr_assert_gt(n, 0);
    cr_assert(strstr(text, "499") && strstr(text, "/up"), "access log: %s", text);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(stream, body_read_timeout_is_408)
{
    start_with(32 << 20, 300);
    tc_sendf(&C, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    char *b = pattern_body(100);
    tc_send(&C, b, 100); /* then nothing */
    free(b);
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 408);
    tc_resp_free(&r);
    cr_assert_eq(wait_for(&g_body_err, 2000), CZ_ETIMEOUT);
    stop();
}

Test(stream, unread_small_body_is_discarded_and_the_connection_kept)
{
    start_with(32 << 20, 0);
    char *b = pattern_body(20000);
    tc_sendf(&C, "POST /nread HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n\r\n");
    tc_send(&C, b, 20000);
    tc_resp_t r;
    read_ok("unread", &r);
    cr_assert_null(tc_header(&r, "Connection"));
    tc_resp_free(&r);
    tc_sendf(&C, "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok("pong", &r);
    tc_resp_free(&r);
    /* chunked, the body sent after the answer arrived */
    tc_sendf(&C, "POST /nread HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    read_ok("unread", &r);
    tc_resp_free(&r);
    tc_sendf(&C, "1000\r\n");
    tc_send(&C, b, 4096);
    tc_sendf(&C, "\r\n0\r\n\r\nGET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok("pong", &r);
    tc_resp_free(&r);
    free(b);
    stop();
}

Test(stream, unread_large_body_closes_after_the_answer)
{
    start_with(32 << 20, 0);
    tc_sendf(&C, "POST /nread HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n");
    char *b = pattern_body(200000);
    tc_send(&C, b, 200000);
    free(b);
    tc_resp_t r;
    read_ok("unread", &r);
    cr_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_resp_free(&r);
    cr_assert(tc_closed(&C, 2000));
    stop();
}

Test(stream, on_drain_fires_once_a_slow_reader_took_a_large_response)
{
    start_with(32 << 20, 0);
    int small = 65536;
    setsockopt(C.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    tc_sendf(&C, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(300000); /* a slow reader: the server must queue */
    /* read raw (one buffer, no per-piece copies): the chunked answer ends with 0 CRLF CRLF */
    size_t cap = (size_t)BIG_PIECE * BIG_PIECES + (1u << 20), len = 0;
    char *all = malloc(cap);
    memcpy(all, C.buf, C.len);
    len = C.len;
    while (len < 7 || memcmp(all + len - 7, "\r\n0\r\n\r\n", 7) != 0) {
        ssize_t k = recv(C.fd, all + len, cap - len - 1, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    all[len] = 0;
    cr_assert(strncmp(all, "HTTP/1.1 200", 12) == 0);
    cr_assert_gt(len, (size_t)BIG_PIECE * BIG_PIECES);
    const char *tail = strstr(all + (size_t)BIG_PIECE * BIG_PIECES, "|drained");
    cr_assert_not_null(tail, "no tail: on_drain did not run");
    size_t pending0, now;
    unsigned long long after;
    cr_assert_eq(sscanf(tail, "|drained pending0=%zu now=%zu after=%llu", &pending0, &now, &after),
                 3, "tail: %.80s", tail);
    cr_assert_gt(pending0, 0, "a slow reader leaves bytes pending");
    cr_assert_eq(now, 0);
    cr_assert_geq(after, 250, "drained only once the reader read");
    free(all);
    stop();
}

Test(stream, worker_client_is_created_on_use_and_closed_at_stop)
{
    start_with(32 << 20, 0);
    tc_resp_t r;
    for (int i = 0; i < 3; i++) { /* the second and third calls reuse the pooled connection */
        tc_sendf(&C, "GET /self HTTP/1.1\r\nHost: t\r\n\r\n");
        read_ok("upstream 200 pong", &r);
        tc_resp_free(&r);
    }
    tc_close(&C);
    /* the pooled upstream connection (to ourselves) must not keep the worker's loop alive:
     * shutdown returns well before ShutdownTimeout */
    long t0 = tc_now_ms();
    ts_stop(&T);
    cr_assert_lt(tc_now_ms() - t0, 2000);
}

Test(stream, head_and_bodyless_requests_on_a_stream_route)
{
    start_with(32 << 20, 0);
    tc_sendf(&C, "HEAD /up HTTP/1.1\r\nHost: t\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, true), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 0);
    tc_resp_free(&r);
    tc_sendf(&C, "GET /hang HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok("unread", &r);
    tc_resp_free(&r);
    stop();
}

Test(stream, timeout_link_answers_503_while_the_body_is_unread)
{
    g_timeout_ms = 200;
    start_with(32 << 20, 0);
    tc_sendf(&C, "POST /stuck HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    char *b = pattern_body(30000);
    tc_send(&C, b, 30000);
    free(b);
    long t0 = tc_now_ms();
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 503);
    cr_assert_geq(tc_now_ms() - t0, 150);
    tc_resp_free(&r);
    cr_assert(tc_closed(&C, 2000));
    cr_assert_eq(wait_for(&g_last_status, 2000), 503);
    stop();
}
