/* SPDX-License-Identifier: MIT
 *
 * Integration tests of the upstream HTTP client's streaming and buffered paths: a 10 MiB
 * request body under back-pressure, a 10 MiB response read with pause/resume, chunked bodies
 * both ways against a czero server, a response that arrives before the request body is sent,
 * and cz_client_fetch (go-zero httpc.Do).
 */
#include <criterion/criterion.h>
#include "test_client_rawsrv.h"
#include "test_server.h"

#define MIB (1024 * 1024)

static uv_loop_t L;
static cz_client_t *C;
static rs_t S;
static bool S_on;
static ts_t T;
static bool T_on;
static char ADDR[64];

static void start_client(void)
{
    uv_loop_init(&L);
    C = cz_client_new(&L, NULL);
    cr_assert_not_null(C);
}

static void start_raw(rs_fn fn, int read_delay_ms, bool no_body)
{
    start_client();
    rs_start(&S, fn);
    S.read_delay_ms = read_delay_ms;
    S.no_body = no_body;
    S_on = true;
    snprintf(ADDR, sizeof ADDR, "127.0.0.1:%d", S.port);
}

static void start_czero(void)
{
    start_client();
    ts_init(&T);
    ts_start(&T, NULL, 0);
    T_on = true;
    snprintf(ADDR, sizeof ADDR, "127.0.0.1:%d", T.port);
}

static void teardown(void)
{
    if (C) {
        int closed = 0;
        cz_client_close(C, closed_cb, &closed);
        run_until(&L, &closed, 2000);
        cr_assert(closed);
        C = NULL;
        uv_run(&L, UV_RUN_NOWAIT);
        cr_assert_eq(uv_loop_close(&L), 0, "no handle left open");
    }
    if (S_on)
        rs_stop(&S);
    if (T_on)
        ts_stop(&T);
    S_on = T_on = false;
}

TestSuite(client_stream, .fini = teardown, .timeout = 60);

static unsigned char pat(size_t i) { return (unsigned char)(i % 251); }

/* Answers with the number of body bytes it read, after checking their first 64 KiB. */
static bool count_body(rs_t *s, rs_req_t *r)
{
    size_t chk = r->body_len < sizeof r->body ? r->body_len : sizeof r->body;
    bool good = true;
    for (size_t i = 0; i < chk; i++)
        good &= (unsigned char)r->body[i] == pat(i);
    char out[128], num[32];
    int n = snprintf(num, sizeof num, "%zu%s", r->body_len, good ? "" : "-bad");
    int h = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n, num);
    rs_write(r->fd, out, (size_t)h);
    return true;
}

static void stream_body(size_t total, int64_t body_len, tr_t *t, int *ones)
{
    static unsigned char chunk[64 * 1024];
    cz_client_req_t rq = tr_get(ADDR, "/up");
    rq.method = CZ_STR("PUT");
    rq.body_stream = true;
    rq.body_len = body_len;
    tr_init(&L, t);
    cr_assert_eq(tr_call(C, &rq, t), 0);
    size_t sent = 0;
    *ones = 0;
    while (sent < total) {
        size_t n = total - sent < sizeof chunk ? total - sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pat(sent + i);
        int rc = cz_call_write(t->call, chunk, n);
        cr_assert(rc == 0 || rc == 1, "write: %d", rc);
        sent += n;
        if (rc == 1) {
            (*ones)++;
            int before = t->drains;
            volatile int got = 0;
            while (t->drains == before && !t->done) {
                uv_run(&L, UV_RUN_ONCE);
                got = t->drains != before;
            }
            (void)got;
            cr_assert_not(t->done, "call ended early: %s", cz_strerror(t->err));
        }
    }
    cr_assert_eq(cz_call_write_end(t->call), 0);
    run_until(&L, &t->done, 20000);
}

Test(client_stream, ten_mib_request_body_with_backpressure)
{
    start_raw(count_body, 200, false);
    tr_t t;
    int ones;
    stream_body(10 * MIB, 10 * MIB, &t, &ones);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_str_eq(t.body, "10485760");
    cr_assert_gt(ones, 0, "the writer was never told to wait");
    cr_assert_eq(t.drains, ones);
    cr_assert_not_null(strstr(S.last_head, "Content-Length: 10485760\r\n"));
    tr_free(&t);
}

Test(client_stream, chunked_request_body_to_raw_server)
{
    start_raw(count_body, 0, false);
    tr_t t;
    int ones;
    stream_body(3 * MIB + 17, -1, &t, &ones);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_str_eq(t.body, "3145745");
    cr_assert_not_null(strstr(S.last_head, "Transfer-Encoding: chunked\r\n"));
    tr_free(&t);
    /* the connection stays usable after a chunked body */
    cz_client_req_t rq = tr_get(ADDR, "/");
    tr_init(&L, &t);
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    run_until(&L, &t.done, 5000);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert(t.info.reused, "accepts %d requests %d [%s]", atomic_load(&S.accepts),
              atomic_load(&S.requests), S.last_head);
    tr_free(&t);
}

Test(client_stream, write_over_declared_length_is_refused)
{
    start_raw(count_body, 0, false);
    cz_client_req_t rq = tr_get(ADDR, "/up");
    rq.method = CZ_STR("POST");
    rq.body_stream = true;
    rq.body_len = 4;
    tr_t t;
    tr_init(&L, &t);
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    cr_assert_eq(cz_call_write(t.call, "abc", 3), 0);
    cr_assert_eq(cz_call_write(t.call, "de", 2), CZ_EARG);
    cr_assert_eq(cz_call_write_end(t.call), CZ_EARG, "one byte is missing");
    cr_assert_eq(cz_call_write(t.call, "d", 1), 0);
    cr_assert_eq(cz_call_write_end(t.call), 0);
    run_until(&L, &t.done, 5000);
    cr_assert_eq(t.err, 0);
    cr_assert_str_eq(t.body, "4-bad"); /* "abcd" is not the test pattern: the bytes arrived */
    tr_free(&t);
}

static bool big_response(rs_t *s, rs_req_t *r)
{
    char h[128];
    int n = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 10 * MIB);
    rs_write(r->fd, h, (size_t)n);
    static unsigned char buf[64 * 1024];
    for (size_t off = 0; off < 10u * MIB; off += sizeof buf) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = pat(off + i);
        rs_write(r->fd, buf, sizeof buf);
    }
    return true;
}

Test(client_stream, ten_mib_response_with_pause_resume)
{
    start_raw(big_response, 0, false);
    cz_client_req_t rq = tr_get(ADDR, "/big");
    tr_t t;
    tr_init(&L, &t);
    t.pause_every = 1;
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    run_until(&L, &t.done, 30000);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_eq(t.blen, 10u * MIB);
    cr_assert_gt(t.pauses, 10);
    size_t bad = 0;
    for (size_t i = 0; i < t.blen; i++)
        bad += (unsigned char)t.body[i] != pat(i);
    cr_assert_eq(bad, 0);
    tr_free(&t);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 1, "read to its end: pooled");
}

Test(client_stream, pause_holds_back_body_until_resume)
{
    start_raw(big_response, 0, false);
    cz_client_req_t rq = tr_get(ADDR, "/big");
    tr_t t;
    tr_init(&L, &t);
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    while (!t.blen && !t.done)
        uv_run(&L, UV_RUN_ONCE);
    cz_call_pause(t.call);
    size_t at = t.blen;
    run_for(&L, 100);
    cr_assert_eq(t.blen, at, "no body while paused");
    cz_call_resume(t.call);
    run_until(&L, &t.done, 30000);
    cr_assert_eq(t.err, 0);
    cr_assert_eq(t.blen, 10u * MIB);
    tr_free(&t);
}

static bool early_413(rs_t *s, rs_req_t *r)
{
    rs_puts(r->fd, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig");
    shutdown(r->fd, SHUT_WR);
    char buf[65536];
    while (!atomic_load(&s->stop)) { /* drain so the close is not a reset */
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        if (poll(&p, 1, 20) > 0 && read(r->fd, buf, sizeof buf) <= 0)
            break;
    }
    return false;
}

Test(client_stream, response_before_request_body_is_delivered)
{
    start_raw(early_413, 0, true);
    cz_client_req_t rq = tr_get(ADDR, "/up");
    rq.method = CZ_STR("POST");
    rq.body_stream = true;
    rq.body_len = 100 * MIB;
    tr_t t;
    tr_init(&L, &t);
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    static char chunk[64 * 1024];
    for (int i = 0; i < 1600 && !t.done; i++) {
        int rc = cz_call_write(t.call, chunk, sizeof chunk);
        cr_assert(rc == 0 || rc == 1 || rc == CZ_ECLOSED);
        int d = t.drains;
        while (rc == 1 && t.drains == d && !t.done)
            uv_run(&L, UV_RUN_ONCE);
    }
    run_until(&L, &t.done, 5000);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_eq(t.status, 413);
    cr_assert_str_eq(t.body, "big");
    tr_free(&t);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 0, "a half-sent request never goes back to the pool");
}

Test(client_stream, chunked_both_ways_through_czero_echo)
{
    start_czero();
    static char body[512 * 1024];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    cz_client_req_t rq = tr_get(ADDR, "/echo");
    rq.method = CZ_STR("POST");
    rq.body_stream = true;
    rq.body_len = -1;
    tr_t t;
    tr_init(&L, &t);
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    for (size_t off = 0; off < sizeof body; off += 10000) {
        size_t n = sizeof body - off < 10000 ? sizeof body - off : 10000;
        int rc = cz_call_write(t.call, body + off, n);
        cr_assert(rc == 0 || rc == 1);
        int d = t.drains;
        while (rc == 1 && t.drains == d && !t.done)
            uv_run(&L, UV_RUN_ONCE);
    }
    cr_assert_eq(cz_call_write_end(t.call), 0);
    run_until(&L, &t.done, 10000);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_eq(t.status, 200);
    cr_assert_eq(t.blen, sizeof body);
    cr_assert_eq(memcmp(t.body, body, sizeof body), 0);
    tr_free(&t);

    /* a chunked response: /stream */
    rq = tr_get(ADDR, "/stream?n=500");
    tr_init(&L, &t);
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    run_until(&L, &t.done, 10000);
    cr_assert_eq(t.err, 0);
    cr_assert_not_null(strstr(t.hdrs, "Transfer-Encoding: chunked"));
    cr_assert_not_null(strstr(t.body, "chunk 0\nchunk 1\n"));
    cr_assert_not_null(strstr(t.body, "chunk 499\n"));
    cr_assert(t.info.reused);
    tr_free(&t);
}

typedef struct fr {
    int done, err, status;
    char body[256], ctype[128];
    size_t blen;
} fr_t;

static void fetched(int err, const cz_fetch_res_t *res, void *ud)
{
    fr_t *f = ud;
    f->done++;
    f->err = err;
    f->status = res->status;
    f->blen = res->body.n;
    snprintf(f->body, sizeof f->body, "%.*s", (int)res->body.n, res->body.p);
    for (size_t i = 0; i < res->nheaders; i++)
        if (cz_str_ieq(res->hname[i], CZ_STR("Content-Type")))
            snprintf(f->ctype, sizeof f->ctype, "%.*s", (int)res->hvalue[i].n, res->hvalue[i].p);
}

Test(client_stream, fetch_collects_status_headers_body)
{
    start_czero();
    fr_t f = {0};
    cz_client_req_t rq = tr_get(ADDR, "/hello");
    cr_assert_eq(cz_client_fetch(C, &rq, 0, fetched, &f), 0);
    cr_assert_eq(f.done, 0, "never from inside the call");
    run_until(&L, &f.done, 5000);
    cr_assert_eq(f.done, 1);
    cr_assert_eq(f.err, 0);
    cr_assert_eq(f.status, 200);
    cr_assert_str_eq(f.body, "{\"message\":\"hello\"}");
    cr_assert_str_eq(f.ctype, "application/json; charset=utf-8");

    fr_t g = {0};
    cr_assert_eq(cz_client_fetch(C, &rq, 5, fetched, &g), 0);
    run_until(&L, &g.done, 5000);
    cr_assert_eq(g.done, 1);
    cr_assert_eq(g.err, CZ_EFULL, "a body over max_body: %s", cz_strerror(g.err));

    fr_t h = {0};
    rq = tr_get(ADDR, "/stream?n=100"); /* chunked: the cap is hit while reading */
    cr_assert_eq(cz_client_fetch(C, &rq, 64, fetched, &h), 0);
    run_until(&L, &h.done, 5000);
    run_for(&L, 50);
    cr_assert_eq(h.done, 1);
    cr_assert_eq(h.err, CZ_EFULL);
}
