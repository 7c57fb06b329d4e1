/* SPDX-License-Identifier: MIT
 *
 * Integration tests of the upstream HTTP client (client.h) against raw-socket servers on
 * loopback: keep-alive reuse and pool limits, stale pooled connections, connect/header/total
 * timeouts, response framing (chunked, read-until-close, HEAD, 204/304, 1xx, Connection: close,
 * HTTP/1.0), malformed and truncated responses, cancel and close. Streaming and the buffered
 * fetch against a czero server: test_client_stream.c.
 */
#include <criterion/criterion.h>
#define RS_FIXTURE
#include "test_client_rawsrv.h"

TestSuite(client, .fini = rs_fixture_stop, .timeout = 30);

static bool ok_2(rs_t *s, rs_req_t *r)
{
    rs_puts(r->fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    return true;
}

/* Make the call rq and run the loop until it is done (5 s at most); tr_call's result. */
static int call(const cz_client_req_t *rq, tr_t *t)
{
    tr_init(&L, t);
    int rc = tr_call(C, rq, t);
    if (rc == 0)
        run_until(&L, &t->done, 5000);
    return rc;
}

static int get(const char *target, tr_t *t)
{
    cz_client_req_t rq = tr_get(ADDR, target);
    return call(&rq, t);
}

/* call() that must start, timed: the milliseconds until it was done. */
static uint64_t timed_call(const cz_client_req_t *rq, tr_t *t)
{
    uint64_t t0 = uv_hrtime();
    cr_assert_eq(call(rq, t), 0);
    return (uv_hrtime() - t0) / 1000000;
}

/* n calls of rq in flight at once, then each one waited for: all must succeed. */
static void call_together_ok(const cz_client_req_t *rq, int n)
{
    tr_t t[8];
    cr_assert_leq(n, 8);
    for (int i = 0; i < n; i++) {
        tr_init(&L, &t[i]);
        cr_assert_eq(tr_call(C, rq, &t[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        run_until(&L, &t[i].done, 5000);
        cr_assert_eq(t[i].err, 0);
        tr_free(&t[i]);
    }
}

Test(client, keep_alive_reuses_one_connection)
{
    start(ok_2, NULL);
    for (int i = 0; i < 20; i++) {
        tr_t t;
        cr_assert_eq(get("/x", &t), 0);
        cr_assert_eq(t.done, 1);
        cr_assert_eq(t.err, 0, "call %d: %s", i, cz_strerror(t.err));
        cr_assert_eq(t.status, 200);
        cr_assert_str_eq(t.body, "ok");
        cr_assert_eq(t.info.reused, i > 0);
        cr_assert_eq(t.info.connect_ns > 0, i == 0, "connect time only for a new connection");
        cr_assert_gt(t.info.ttfb_ns, 0);
        cr_assert_eq(t.info.status, 200);
        tr_free(&t);
    }
    cr_assert_eq(atomic_load(&S.accepts), 1);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.connects, 1);
    cr_assert_eq(st.reuses, 19);
    cr_assert_eq(st.idle, 1);
    cr_assert_eq(st.active, 0);
}

Test(client, host_added_framing_owned_by_client)
{
    start(ok_2, NULL);
    cz_str_t hn[] = {CZ_STR("X-A"), CZ_STR("Content-Length"), CZ_STR("Transfer-Encoding")};
    cz_str_t hv[] = {CZ_STR("1"), CZ_STR("999"), CZ_STR("chunked")};
    cz_client_req_t rq = tr_get(ADDR, "/p?q=1");
    rq.method = CZ_STR("POST");
    rq.hname = hn;
    rq.hvalue = hv;
    rq.nheaders = 3;
    rq.body = CZ_STR("hello");
    tr_t t;
    cr_assert_eq(call(&rq, &t), 0);
    cr_assert_eq(t.err, 0);
    char want[128];
    snprintf(want, sizeof want,
             "POST /p?q=1 HTTP/1.1\r\nX-A: 1\r\nHost: %s\r\nContent-Length: 5\r\n\r\n", ADDR);
    cr_assert_str_eq(S.last_head, want);
    tr_free(&t);
    /* CR/LF in a header value is refused before anything is sent */
    cz_str_t bad = CZ_STR("a\r\nX-Evil: 1");
    rq.hvalue = &bad;
    rq.nheaders = 1;
    cr_assert_eq(cz_client_call(C, &rq, &TR_CBS, &t, NULL), CZ_EARG);
    /* wherever the byte sits: short values, the last byte of a long one, a NUL, a lone LF */
    const char *bad_values[] = {"a\nb", "ab\rcd", "0123456789abcdef\n", "0123456789\r12345678",
                                "\n0123456789abcdef"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        bad = cz_str_c(bad_values[i]);
        cr_assert_eq(cz_client_call(C, &rq, &TR_CBS, &t, NULL), CZ_EARG, "%zu", i);
    }
    bad = (cz_str_t){"abc\0defghijkl", 14};
    cr_assert_eq(cz_client_call(C, &rq, &TR_CBS, &t, NULL), CZ_EARG);
    /* a tab, a vertical tab and bytes above 0x7f are no line break: the call goes */
    cz_str_t fine = CZ_STR("a\tb\x0b\xc3\xa9 0123456789");
    rq.hvalue = &fine;
    cr_assert_eq(call(&rq, &t), 0);
    cr_assert_eq(t.err, 0);
    tr_free(&t);
    /* a name must not hold a colon or a line break either */
    const char *bad_names[] = {"X:A", "X-Long-Name-With:Colon", "X-A\r", "X-Long-Name\nX-B"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        cz_str_t nm = cz_str_c(bad_names[i]);
        rq.hname = &nm;
        cr_assert_eq(cz_client_call(C, &rq, &TR_CBS, &t, NULL), CZ_EARG, "%zu", i);
    }
}

static bool slow_ok(rs_t *s, rs_req_t *r)
{
    usleep(100 * 1000);
    return ok_2(s, r);
}

Test(client, pool_cap_keeps_at_most_pool_size_idle)
{
    cz_client_opts_t o;
    cz_client_opts_init(&o);
    o.pool_size = 2;
    start(slow_ok, &o);
    for (int round = 0; round < 2; round++) {
        cz_client_req_t rq = tr_get(ADDR, "/");
        call_together_ok(&rq, 4);
        cz_client_stats_t st;
        cz_client_stats(C, &st);
        cr_assert_eq(st.idle, 2);
    }
    /* round 2 reused the two pooled connections and opened two more */
    cr_assert_eq(atomic_load(&S.accepts), 6);
}

Test(client, idle_connections_expire)
{
    cz_client_opts_t o;
    cz_client_opts_init(&o);
    o.idle_timeout_ms = 100;
    start(ok_2, &o);
    tr_t t;
    cr_assert_eq(get("/", &t), 0);
    tr_free(&t);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 1);
    run_for(&L, 300);
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 0);
    cr_assert_eq(get("/", &t), 0);
    cr_assert_eq(t.err, 0);
    cr_assert_not(t.info.reused);
    tr_free(&t);
    cr_assert_eq(atomic_load(&S.accepts), 2);
}

/* The second request on a connection is dropped unanswered: the server closed it "while idle". */
static bool close_on_second(rs_t *s, rs_req_t *r)
{
    if (r->nth == 1)
        return false;
    return ok_2(s, r);
}

Test(client, stale_pooled_connection_is_retried_transparently)
{
    start(close_on_second, NULL);
    tr_t t;
    cr_assert_eq(get("/", &t), 0);
    cr_assert_eq(t.err, 0);
    tr_free(&t);
    cr_assert_eq(get("/", &t), 0);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_str_eq(t.body, "ok");
    cr_assert(t.info.stale_retry);
    cr_assert_not(t.info.reused);
    tr_free(&t);
    cr_assert_eq(atomic_load(&S.accepts), 2);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.stale, 1);
}

Test(client, connect_refused_fails_fast)
{
    start(NULL, NULL);
    int port, fd = rs_listen(&port, 1);
    close(fd);
    snprintf(ADDR, sizeof ADDR, "127.0.0.1:%d", port);
    uint64_t t0 = uv_hrtime();
    tr_t t;
    cr_assert_eq(get("/", &t), 0);
    cr_assert_eq(t.done, 1);
    cr_assert_eq(t.err, UV_ECONNREFUSED);
    cr_assert_eq(t.err, -ECONNREFUSED);
    cr_assert_not(t.info.connected);
    cr_assert_not(t.info.sent_any);
    cr_assert_lt(uv_hrtime() - t0, 500 * 1000000ull);
    tr_free(&t);
}

Test(client, connect_timeout_on_full_backlog)
{
    start(NULL, NULL);
    int port, lfd = rs_listen(&port, 0);
    int fill[8];
    for (int i = 0; i < 8; i++) { /* fill the accept queue; later SYNs are dropped */
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(50 * 1000);
    uv_update_time(&L); /* deadlines count from the loop's cached time */
    snprintf(ADDR, sizeof ADDR, "127.0.0.1:%d", port);
    cz_client_req_t rq = tr_get(ADDR, "/");
    rq.connect_timeout_ms = 150;
    tr_t t;
    uint64_t ms = timed_call(&rq, &t);
    cr_assert_eq(t.err, CZ_ETIMEOUT, "%s", cz_strerror(t.err));
    cr_assert_not(t.info.connected);
    cr_assert_geq(ms, 140);
    cr_assert_lt(ms, 1000);
    tr_free(&t);
    for (int i = 0; i < 8; i++)
        close(fill[i]);
    close(lfd);
}

static bool never_answer(rs_t *s, rs_req_t *r)
{
    while (!atomic_load(&s->stop))
        usleep(10 * 1000);
    return false;
}

Test(client, header_timeout)
{
    start(never_answer, NULL);
    cz_client_req_t rq = tr_get(ADDR, "/");
    rq.header_timeout_ms = 150;
    tr_t t;
    uint64_t ms = timed_call(&rq, &t);
    cr_assert_eq(t.err, CZ_ETIMEOUT);
    cr_assert(t.info.connected);
    cr_assert(t.info.sent_any);
    cr_assert_not(t.info.response_started);
    cr_assert_geq(ms, 140);
    cr_assert_lt(ms, 1000);
    tr_free(&t);
}

static bool trickle(rs_t *s, rs_req_t *r)
{
    rs_puts(r->fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    for (int i = 0; i < 100 && !atomic_load(&s->stop); i++) {
        rs_puts(r->fd, "x");
        usleep(20 * 1000);
    }
    return false;
}

Test(client, total_timeout_while_body_trickles)
{
    start(trickle, NULL);
    cz_client_req_t rq = tr_get(ADDR, "/");
    rq.total_timeout_ms = 200;
    tr_t t;
    cr_assert_eq(call(&rq, &t), 0);
    cr_assert_eq(t.err, CZ_ETIMEOUT);
    cr_assert(t.info.response_started);
    cr_assert_eq(t.status, 200);
    cr_assert_gt(t.blen, 0);
    cr_assert_lt(t.blen, 100);
    tr_free(&t);
}

/* Responses by target: the test picks the framing case by path. */
static bool by_path(rs_t *s, rs_req_t *r)
{
    const char *path = strchr(r->head, ' ') + 1;
#define IS(p) (strncmp(path, p " ", strlen(p) + 1) == 0)
    if (IS("/chunked")) {
        rs_puts(r->fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
        usleep(20 * 1000);
        rs_puts(r->fd, "lo\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n");
        return true;
    }
    if (IS("/eof")) {
        rs_puts(r->fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil");
        usleep(20 * 1000);
        rs_puts(r->fd, "-close");
        return false;
    }
    if (IS("/http10")) {
        rs_puts(r->fd, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        return true;
    }
    if (IS("/close")) {
        rs_puts(r->fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
        return true; /* the client must not reuse it even though we would */
    }
    if (IS("/head")) { /* HEAD: a length without a body */
        rs_puts(r->fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        return true;
    }
    if (IS("/204")) {
        rs_puts(r->fd, "HTTP/1.1 204 No Content\r\n\r\n");
        return true;
    }
    if (IS("/304")) {
        rs_puts(r->fd, "HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n\r\n");
        return true;
    }
    if (IS("/1xx")) {
        rs_puts(r->fd, "HTTP/1.1 100 Continue\r\n\r\n"
                       "HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n");
        usleep(10 * 1000);
        rs_puts(r->fd, "HTTP/1.1 200 OK\r\nX-Final: 1\r\nContent-Length: 2\r\n\r\nok");
        return true;
    }
    if (IS("/extra")) {
        rs_puts(r->fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK");
        return true;
    }
    if (IS("/malformed")) {
        rs_puts(r->fd, "HTTP/1.1 2x0 OK\r\n\r\n");
        return true;
    }
    if (IS("/smuggle")) {
        rs_puts(r->fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok");
        return true;
    }
    if (IS("/bighead")) {
        rs_puts(r->fd, "HTTP/1.1 200 OK\r\n");
        for (int i = 0; i < 100; i++)
            rs_puts(r->fd, "X-Pad: 0123456789012345678901234567890123456789\r\n");
        rs_puts(r->fd, "Content-Length: 0\r\n\r\n");
        return true;
    }
    if (IS("/truncated")) {
        rs_puts(r->fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-this");
        return false;
    }
    if (IS("/upgrade")) {
        rs_puts(r->fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
                       "Connection: upgrade\r\n\r\n");
        return true;
    }
    return ok_2(s, r);
#undef IS
}

Test(client, chunked_response_is_dechunked_and_reused)
{
    start(by_path, NULL);
    tr_t t;
    cr_assert_eq(get("/chunked", &t), 0);
    cr_assert_eq(t.err, 0);
    cr_assert_str_eq(t.body, "hello world");
    tr_free(&t);
    cr_assert_eq(get("/", &t), 0);
    cr_assert(t.info.reused);
    tr_free(&t);
    cr_assert_eq(atomic_load(&S.accepts), 1);
}

Test(client, body_until_close_completes_and_is_not_pooled)
{
    start(by_path, NULL);
    tr_t t;
    cr_assert_eq(get("/eof", &t), 0);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_str_eq(t.body, "until-close");
    tr_free(&t);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 0);
}

static void not_pooled_after(const char *path, int status, const char *body)
{
    start(by_path, NULL);
    tr_t t;
    cr_assert_eq(get(path, &t), 0);
    cr_assert_eq(t.err, 0, "%s: %s", path, cz_strerror(t.err));
    cr_assert_eq(t.status, status);
    cr_assert_str_eq(t.body ? t.body : "", body);
    tr_free(&t);
    cr_assert_eq(get("/", &t), 0);
    cr_assert_eq(t.err, 0);
    cr_assert_not(t.info.reused, "%s: the connection was pooled", path);
    tr_free(&t);
    cr_assert_eq(atomic_load(&S.accepts), 2);
}

Test(client, connection_close_is_honoured) { not_pooled_after("/close", 200, "ok"); }
Test(client, http10_without_keepalive_is_not_pooled) { not_pooled_after("/http10", 200, "ok"); }
Test(client, bytes_after_the_response_keep_it_out_of_the_pool)
{
    not_pooled_after("/extra", 200, "ok");
}

static void reused_after(const char *method, const char *path, int status)
{
    start(by_path, NULL);
    cz_client_req_t rq = tr_get(ADDR, path);
    rq.method = cz_str_c(method);
    tr_t t;
    cr_assert_eq(call(&rq, &t), 0);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_eq(t.status, status);
    cr_assert_eq(t.blen, 0);
    tr_free(&t);
    cr_assert_eq(get("/", &t), 0);
    cr_assert_eq(t.err, 0);
    cr_assert_str_eq(t.body, "ok");
    cr_assert(t.info.reused);
    tr_free(&t);
    cr_assert_eq(atomic_load(&S.accepts), 1);
}

Test(client, head_response_has_no_body) { reused_after("HEAD", "/head", 200); }
Test(client, no_content_204) { reused_after("GET", "/204", 204); }
Test(client, not_modified_304) { reused_after("GET", "/304", 304); }

Test(client, interim_1xx_responses_are_skipped)
{
    start(by_path, NULL);
    tr_t t;
    cr_assert_eq(get("/1xx", &t), 0);
    cr_assert_eq(t.err, 0);
    cr_assert_eq(t.heads, 1);
    cr_assert_eq(t.status, 200);
    cr_assert_not_null(strstr(t.hdrs, "X-Final: 1\n"));
    cr_assert_null(strstr(t.hdrs, "Link"));
    cr_assert_str_eq(t.body, "ok");
    tr_free(&t);
}

static void fails_with(const char *path, int err, bool started)
{
    start(by_path, NULL);
    tr_t t;
    cr_assert_eq(get(path, &t), 0);
    cr_assert_eq(t.done, 1);
    cr_assert_eq(t.err, err, "%s: %s", path, cz_strerror(t.err));
    cr_assert_eq(t.info.response_started, started);
    tr_free(&t);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 0);
}

Test(client, malformed_status_is_a_parse_error) { fails_with("/malformed", CZ_EPARSE, true); }
Test(client, duplicate_content_length_is_a_parse_error) { fails_with("/smuggle", CZ_EPARSE, true); }
Test(client, truncated_body_is_closed) { fails_with("/truncated", CZ_ECLOSED, true); }
Test(client, upgrade_is_refused) { fails_with("/upgrade", CZ_EPARSE, true); }

Test(client, oversized_header_block_is_a_parse_error)
{
    cz_client_opts_t o;
    cz_client_opts_init(&o);
    o.max_header_bytes = 1024;
    start(by_path, &o);
    tr_t t;
    cr_assert_eq(get("/bighead", &t), 0);
    cr_assert_eq(t.err, CZ_EPARSE);
    cr_assert_eq(t.heads, 0);
    tr_free(&t);
}

Test(client, cancel_in_body_fires_nothing_more)
{
    start(trickle, NULL);
    tr_t t;
    cz_client_req_t rq = tr_get(ADDR, "/");
    tr_init(&L, &t);
    t.cancel_in_body = true;
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    run_until(&L, &t.done, 5000);
    run_for(&L, 100);
    cr_assert_eq(t.done, 1); /* set by the body callback, not on_done */
    cr_assert_eq(t.blen, 1);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.active, 0);
    cr_assert_eq(st.idle, 0);
    tr_free(&t);
}

static void done_count(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    int *n = ud;
    cr_assert_eq(err, CZ_ECLOSED);
    (*n)++;
}

Test(client, close_fails_calls_in_flight_once)
{
    start(never_answer, NULL);
    static const cz_call_cbs_t cbs = {.on_done = done_count};
    int n = 0;
    cz_client_req_t rq = tr_get(ADDR, "/");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(cz_client_call(C, &rq, &cbs, &n, NULL), 0);
    run_for(&L, 50);
    int closed = 0;
    cz_client_close(C, closed_cb, &closed);
    cr_assert_eq(n, 3);
    run_until(&L, &closed, 2000);
    cr_assert(closed);
    C = NULL;
    cr_assert_eq(uv_loop_close(&L), 0);
}

Test(client, bad_arguments_are_refused)
{
    start(NULL, NULL);
    tr_t t;
    cz_client_req_t rq = tr_get("no-port", "/");
    cr_assert_eq(tr_call(C, &rq, &t), CZ_EARG);
    rq = tr_get("127.0.0.1:99999", "/");
    cr_assert_eq(tr_call(C, &rq, &t), CZ_EARG);
    rq = tr_get("127.0.0.1:80", "");
    cr_assert_eq(tr_call(C, &rq, &t), CZ_EARG);
    rq = tr_get("127.0.0.1:80", "/a b");
    cr_assert_eq(tr_call(C, &rq, &t), CZ_EARG);
}

Test(client, host_names_are_resolved)
{
    start(ok_2, NULL);
    snprintf(ADDR, sizeof ADDR, "localhost:%d", S.port);
    tr_t t;
    cr_assert_eq(get("/", &t), 0);
    /* localhost may resolve to ::1 first where nothing listens: accept a refused IPv6 answer */
    cr_assert(t.err == 0 || t.err == UV_ECONNREFUSED, "%s", cz_strerror(t.err));
    if (t.err == 0)
        cr_assert_str_eq(t.body, "ok");
    tr_free(&t);
}

/* Answers, then closes the kept-alive connection 50 ms later, as a server's idle timeout would. */
static bool ok_then_idle_close(rs_t *s, rs_req_t *r)
{
    ok_2(s, r);
    usleep(50 * 1000);
    return false;
}

Test(client, idle_connection_closed_by_peer_is_dropped_from_pool)
{
    start(ok_then_idle_close, NULL);
    tr_t t;
    cr_assert_eq(get("/", &t), 0);
    cr_assert_eq(t.err, 0);
    tr_free(&t);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 1);
    run_for(&L, 200); /* the close arrives while idle */
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 0);
    cr_assert_eq(get("/", &t), 0);
    cr_assert_eq(t.err, 0);
    cr_assert_not(t.info.reused);
    cr_assert_not(t.info.stale_retry, "noticed while idle: no replay needed");
    tr_free(&t);
}

Test(client, cancel_while_connecting)
{
    start(NULL, NULL);
    int port, lfd = rs_listen(&port, 0);
    int fill[8];
    for (int i = 0; i < 8; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    snprintf(ADDR, sizeof ADDR, "127.0.0.1:%d", port);
    cz_client_req_t rq = tr_get(ADDR, "/");
    tr_t t;
    tr_init(&L, &t);
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    run_for(&L, 20);
    cz_call_cancel(t.call);
    run_for(&L, 1200); /* past the default connect timeout */
    cr_assert_eq(t.done, 0, "no callback after a cancel");
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.active, 0);
    tr_free(&t);
    for (int i = 0; i < 8; i++)
        close(fill[i]);
    close(lfd);
}

/* Reads the head, then closes without an answer while the client still streams a body. */
static bool close_mid_upload(rs_t *s, rs_req_t *r)
{
    usleep(20 * 1000);
    return false;
}

Test(client, peer_closing_during_upload_fails_the_call)
{
    start(close_mid_upload, NULL);
    S.no_body = true;
    cz_client_req_t rq = tr_get(ADDR, "/up");
    rq.method = CZ_STR("PUT");
    rq.body_stream = true;
    rq.body_len = -1;
    tr_t t;
    tr_init(&L, &t);
    cr_assert_eq(tr_call(C, &rq, &t), 0);
    static char chunk[64 * 1024];
    for (int i = 0; i < 400 && !t.done; i++) {
        int rc = cz_call_write(t.call, chunk, sizeof chunk);
        int d = t.drains;
        while (rc == 1 && t.drains == d && !t.done)
            uv_run(&L, UV_RUN_ONCE);
        if (rc == CZ_ECLOSED)
            break;
    }
    run_until(&L, &t.done, 5000);
    cr_assert_eq(t.done, 1);
    cr_assert(t.err == CZ_ECLOSED || t.err == UV_ECONNRESET || t.err == UV_EPIPE,
              "%s", cz_strerror(t.err));
    cr_assert(t.info.sent_any);
    cr_assert_not(t.info.response_started);
    tr_free(&t);
}

Test(client, each_address_has_its_own_pool)
{
    start(ok_2, NULL);
    rs_t s2;
    rs_start(&s2, ok_2);
    char addr2[64];
    snprintf(addr2, sizeof addr2, "127.0.0.1:%d", s2.port);
    for (int i = 0; i < 6; i++) {
        cz_client_req_t rq = tr_get(i % 2 ? addr2 : ADDR, "/");
        tr_t t;
        cr_assert_eq(call(&rq, &t), 0);
        cr_assert_eq(t.err, 0);
        cr_assert_eq(t.info.reused, i >= 2);
        tr_free(&t);
    }
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 2);
    cr_assert_eq(atomic_load(&S.accepts), 1);
    cr_assert_eq(atomic_load(&s2.accepts), 1);
    rs_stop(&s2);
}

Test(client, pool_size_zero_disables_keep_alive)
{
    cz_client_opts_t o;
    cz_client_opts_init(&o);
    o.pool_size = 0;
    start(ok_2, &o);
    for (int i = 0; i < 3; i++) {
        tr_t t;
        cr_assert_eq(get("/", &t), 0);
        cr_assert_eq(t.err, 0);
        cr_assert_not(t.info.reused);
        tr_free(&t);
    }
    cr_assert_eq(atomic_load(&S.accepts), 3);
}

/* An address's pool follows what its calls ask for (an upstream's Pool.Size/IdleTimeout), over
 * the client's defaults. */
Test(client, per_call_pool_settings_override_the_client_defaults)
{
    start(slow_ok, NULL); /* client default: 64 idle, 60 s */
    cz_client_req_t rq = tr_get(ADDR, "/");
    rq.pool_size = 1;
    rq.pool_idle_timeout_ms = 100;
    call_together_ok(&rq, 3);
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 1, "pool_size 1 keeps one of the three connections");
    run_for(&L, 300);
    cz_client_stats(C, &st);
    cr_assert_eq(st.idle, 0, "the call's idle timeout (100 ms), not the client's 60 s");
    /* pool_size < 0: no keep-alive for this address */
    rq.pool_size = -1;
    for (int i = 0; i < 2; i++) {
        tr_t t;
        cr_assert_eq(call(&rq, &t), 0);
        cr_assert_eq(t.err, 0);
        cr_assert_not(t.info.reused);
        tr_free(&t);
    }
    cr_assert_eq(atomic_load(&S.accepts), 5);
}
