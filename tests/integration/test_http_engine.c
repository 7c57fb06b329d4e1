/* Integration tests of the HTTP engine over real loopback sockets: keep-alive, pipelining,
 * HTTP/1.0, chunked bodies, 100-continue, HEAD, Date/Content-Length, async and blocking
 * handlers, streaming responses. Limits, errors, timeouts and shutdown: test_http_limits.c. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include "http_client.h"
#include "test_server.h"

static ts_t T;
static tc_conn_t C;

static void setup(void)
{
    ts_init(&T);
    ts_start(&T, NULL, 0);
    cr_assert_eq(tc_connect(&C, T.port, 5000), 0);
}

static void teardown(void)
{
    tc_close(&C);
    ts_stop(&T);
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 30);

Test(http, hello_has_json_date_and_length)
{
    tc_resp_t r;
    tc_sendf(&C, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"message\":\"hello\"}");
    cr_assert_str_eq(tc_header(&r, "Content-Type"), "application/json; charset=utf-8");
    cr_assert_str_eq(tc_header(&r, "Content-Length"), "19");
    cr_assert_not_null(tc_header(&r, "Date"));
    cr_assert(r.keep_alive);
    tc_resp_free(&r);
}

Test(http, keep_alive_serves_many_requests_on_one_connection)
{
    for (int i = 0; i < 50; i++) {
        tc_resp_t r;
        tc_sendf(&C, "GET /users/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        cr_assert_eq(tc_read(&C, &r, false), 0);
        char want[32];
        snprintf(want, sizeof want, "{\"id\":\"%d\"}", i);
        cr_assert_str_eq(r.body, want);
        tc_resp_free(&r);
    }
}

Test(http, pipelined_requests_answer_in_order)
{
    /* one write carrying four requests, the first of them async (answered from a timer) */
    tc_sendf(&C, "GET /slow?ms=50 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                 "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *want[] = {"{\"slept_ms\":50}", "{\"id\":\"1\"}", "abc", "{\"message\":\"hello\"}"};
    for (int i = 0; i < 4; i++) {
        tc_resp_t r;
        cr_assert_eq(tc_read(&C, &r, false), 0, "response %d", i);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.body, want[i]);
        tc_resp_free(&r);
    }
}

Test(http, pipelined_flood_in_tiny_and_huge_writes)
{
    /* 200 pipelined requests, sent byte-split in odd places and all at once */
    char big[200 * 40];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "GET /users/%d HTTP/1.1\r\nHost: x\r\n\r\n",
                              i);
    for (size_t off = 0; off < n; off += 7)
        tc_send(&C, big + off, off + 7 <= n ? 7 : n - off);
    for (int i = 0; i < 200; i++) {
        tc_resp_t r;
        cr_assert_eq(tc_read(&C, &r, false), 0);
        char want[32];
        snprintf(want, sizeof want, "{\"id\":\"%d\"}", i);
        cr_assert_str_eq(r.body, want);
        tc_resp_free(&r);
    }
}

Test(http, http10_closes_unless_keep_alive_asked)
{
    tc_resp_t r;
    tc_sendf(&C, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_str_eq(tc_header(&r, "Connection"), "keep-alive");
    tc_resp_free(&r);
    tc_sendf(&C, "GET /hello HTTP/1.0\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_resp_free(&r);
    cr_assert(tc_closed(&C, 2000));
}

Test(http, connection_close_is_honoured)
{
    tc_resp_t r;
    tc_sendf(&C, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_resp_free(&r);
    cr_assert(tc_closed(&C, 2000));
}

Test(http, chunked_request_body)
{
    tc_resp_t r;
    tc_sendf(&C, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Type: text/x\r\n\r\n"
                 "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello world");
    cr_assert_str_eq(tc_header(&r, "Content-Type"), "text/x");
    tc_resp_free(&r);
}

Test(http, body_split_across_many_reads)
{
    static char body[300000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    tc_sendf(&C, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", sizeof body);
    tc_send(&C, body, sizeof body);
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, sizeof body);
    cr_assert(memcmp(r.body, body, sizeof body) == 0);
    tc_resp_free(&r);
}

Test(http, expect_100_continue)
{
    tc_sendf(&C,
             "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0, "the interim answer comes before the body is sent");
    cr_assert_eq(r.status, 100);
    tc_resp_free(&r);
    tc_sendf(&C, "ping");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ping");
    tc_resp_free(&r);
}

Test(http, unknown_expectation_is_417)
{
    tc_sendf(&C,
             "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: teapot\r\n\r\nping");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_eq(r.status, 417);
    tc_resp_free(&r);
}

Test(http, head_has_length_but_no_body)
{
    tc_sendf(&C, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, true), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(tc_header(&r, "Content-Length"), "19");
    cr_assert_eq(r.body_len, 0);
    tc_resp_free(&r);
    /* the next response on the connection starts right where the head ended */
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_str_eq(r.body, "{\"message\":\"hello\"}");
    tc_resp_free(&r);
}

Test(http, every_response_has_date)
{
    const char *reqs[] = {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
                          "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET /stream?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"};
    for (int i = 0; i < 3; i++) {
        tc_resp_t r;
        tc_sendf(&C, "%s", reqs[i]);
        cr_assert_eq(tc_read(&C, &r, false), 0);
        cr_assert_not_null(tc_header(&r, "Date"), "request %d", i);
        cr_assert(tc_header(&r, "Content-Length") || r.chunked, "request %d", i);
        tc_resp_free(&r);
    }
}

Test(http, streamed_response_is_chunked)
{
    tc_sendf(&C,
             "GET /stream?n=3 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert(r.chunked);
    cr_assert_str_eq(r.body, "chunk 0\nchunk 1\nchunk 2\n");
    tc_resp_free(&r);
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_str_eq(r.body, "{\"message\":\"hello\"}");
    tc_resp_free(&r);
}

Test(http, streamed_response_to_http10_is_close_delimited)
{
    tc_sendf(&C, "GET /stream?n=2 HTTP/1.0\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert(!r.chunked);
    cr_assert_str_eq(r.body, "chunk 0\nchunk 1\n");
    tc_resp_free(&r);
}

Test(http, async_handler_does_not_block_the_loop)
{
    /* one worker: a 400 ms async answer must not delay a request on another connection */
    tc_sendf(&C, "GET /slow?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(50 * 1000);
    long t0 = tc_now_ms();
    tc_resp_t r;
    cr_assert_eq(tc_get(T.port, "/hello", &r), 0);
    cr_assert_lt(tc_now_ms() - t0, 200);
    tc_resp_free(&r);
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_str_eq(r.body, "{\"slept_ms\":400}");
    tc_resp_free(&r);
}

Test(http, blocking_handler_runs_off_the_loop)
{
    tc_sendf(&C, "GET /block?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(50 * 1000);
    long t0 = tc_now_ms();
    tc_resp_t r;
    cr_assert_eq(tc_get(T.port, "/hello", &r), 0);
    cr_assert_lt(tc_now_ms() - t0, 200);
    tc_resp_free(&r);
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_str_eq(r.body, "{\"blocked_ms\":400}");
    tc_resp_free(&r);
}

Test(http, client_gone_during_async_handler_is_safe)
{
    tc_sendf(&C, "GET /slow?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(20 * 1000);
    tc_close(&C);
    usleep(200 * 1000); /* the timer fires on a cancelled request: must not crash (ASan run) */
    tc_resp_t r;
    cr_assert_eq(tc_get(T.port, "/hello", &r), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
}

Test(http, query_and_path_variables)
{
    tc_resp_t r;
    tc_sendf(&C, "GET /users/%%61b%%20c?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(tc_read(&C, &r, false), 0);
    cr_assert_str_eq(r.body, "{\"id\":\"ab c\"}", "path variables are decoded");
    tc_resp_free(&r);
}

static int multi_thread_hits;
static void *hammer(void *arg)
{
    int port = *(int *)arg;
    for (int i = 0; i < 100; i++) {
        tc_resp_t r;
        if (tc_get(port, "/hello", &r) == 0 && r.status == 200)
            __atomic_add_fetch(&multi_thread_hits, 1, __ATOMIC_RELAXED);
        tc_resp_free(&r);
    }
    return NULL;
}

Test(http_workers, several_workers_share_the_port)
{
    ts_t t;
    ts_init(&t);
    t.conf.workers = 3;
    ts_start(&t, NULL, 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, &t.port);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(multi_thread_hits, 400);
    ts_stop(&t);
}
