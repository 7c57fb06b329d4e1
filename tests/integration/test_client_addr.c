/* SPDX-License-Identifier: MIT
 *
 * Integration tests of the upstream client's address list and read timeout (client.h), against
 * raw-socket servers on loopback. A name's addresses are fed through the cz__client_pin_addrs
 * seam (this machine's localhost has only 127.0.0.1): a dead first address (refused, or a full
 * accept queue that never answers the SYN) falls through to the live second one, and the next
 * connection starts at the live one. The read timeout cuts a body that stops arriving, lets a
 * slow-but-steady body through, does not run before the head or while the consumer has paused.
 */
#include <criterion/criterion.h>
#include "client/client_int.h"
#define RS_FIXTURE
#include "test_client_rawsrv.h"

static int DEAD_FD = -1, FILL[8];
static int NFILL;

static void teardown(void)
{
    rs_fixture_stop();
    for (int i = 0; i < NFILL; i++)
        close(FILL[i]);
    NFILL = 0;
    if (DEAD_FD >= 0)
        close(DEAD_FD);
    DEAD_FD = -1;
}

TestSuite(client_addr, .fini = teardown, .timeout = 30);

static bool ok_2(rs_t *s, rs_req_t *r)
{
    rs_puts(r->fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    return true;
}

static struct sockaddr_in loop4(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

/* A loopback port nobody listens on: connects are refused. */
static int refused_port(void)
{
    int port, fd = rs_listen(&port, 1);
    cr_assert_geq(fd, 0);
    close(fd);
    return port;
}

/* A loopback port whose accept queue is full: SYNs are dropped, connects time out. */
static int blackhole_port(void)
{
    int port;
    DEAD_FD = rs_listen(&port, 0);
    cr_assert_geq(DEAD_FD, 0);
    for (NFILL = 0; NFILL < 8; NFILL++) {
        FILL[NFILL] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = loop4(port);
        connect(FILL[NFILL], (struct sockaddr *)&a, sizeof a);
    }
    usleep(50 * 1000);
    uv_update_time(&L); /* deadlines count from the loop's cached time */
    return port;
}

/* Pin "svc.test:80" to the given loopback ports, in order. */
static const char *pin(const int *ports, size_t n)
{
    struct sockaddr_in a[CZ__CL_MAX_ADDRS];
    const struct sockaddr *p[CZ__CL_MAX_ADDRS];
    for (size_t i = 0; i < n; i++) {
        a[i] = loop4(ports[i]);
        p[i] = (const struct sockaddr *)&a[i];
    }
    cr_assert_eq(cz__client_pin_addrs(C, "svc.test:80", p, n), 0);
    return "svc.test:80";
}

static uint64_t timed_call(const cz_client_req_t *rq, tr_t *t)
{
    tr_init(&L, t);
    uint64_t t0 = uv_hrtime();
    cr_assert_eq(tr_call(C, rq, t), 0);
    run_until(&L, &t->done, 5000);
    cr_assert_eq(t->done, 1, "the call ends");
    return (uv_hrtime() - t0) / 1000000;
}

static uint64_t connects(void)
{
    cz_client_stats_t st;
    cz_client_stats(C, &st);
    return st.connects;
}

Test(client_addr, refused_first_address_falls_through_and_the_next_call_starts_at_the_live)
{
    start(ok_2, NULL);
    int ports[2] = {refused_port(), S.port};
    cz_client_req_t rq = tr_get(pin(ports, 2), "/");
    rq.pool_size = -1; /* no keep-alive: every call connects */
    tr_t t;
    timed_call(&rq, &t);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_eq(t.status, 200);
    cr_assert_str_eq(t.body, "ok");
    cr_assert_eq(t.info.addrs_tried, 2);
    cr_assert_eq(connects(), 2);
    cr_assert_eq(cz__client_addr_cur(C, "svc.test:80"), 1, "the live address is remembered");
    cr_assert_not_null(strstr(S.last_head, "Host: svc.test:80"), "Host is the name");
    tr_free(&t);

    timed_call(&rq, &t);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_eq(t.info.addrs_tried, 1, "straight to the live address");
    cr_assert_eq(connects(), 3);
    cr_assert_eq(atomic_load(&S.accepts), 2);
    tr_free(&t);
}

Test(client_addr, every_address_refused_reports_the_error_after_trying_each)
{
    start(NULL, NULL);
    int ports[3] = {refused_port(), refused_port(), refused_port()};
    cz_client_req_t rq = tr_get(pin(ports, 3), "/");
    tr_t t;
    uint64_t ms = timed_call(&rq, &t);
    cr_assert_eq(t.err, UV_ECONNREFUSED, "%s", cz_strerror(t.err));
    cr_assert_eq(t.info.addrs_tried, 3);
    cr_assert_not(t.info.connected);
    cr_assert_eq(connects(), 3);
    cr_assert_lt(ms, 500);
    tr_free(&t);
}

Test(client_addr, connect_timeout_falls_through_to_the_next_address)
{
    start(ok_2, NULL);
    int ports[2] = {blackhole_port(), S.port};
    cz_client_req_t rq = tr_get(pin(ports, 2), "/");
    rq.connect_timeout_ms = 150;
    rq.pool_size = -1;
    tr_t t;
    uint64_t ms = timed_call(&rq, &t);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_eq(t.info.addrs_tried, 2);
    cr_assert_geq(ms, 140, "the first address had its connect timeout");
    cr_assert_lt(ms, 1000);
    tr_free(&t);

    ms = timed_call(&rq, &t);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_eq(t.info.addrs_tried, 1);
    cr_assert_lt(ms, 100, "no second wait on the dead address");
    tr_free(&t);
}

Test(client_addr, total_timeout_bounds_the_walk_over_addresses)
{
    start(ok_2, NULL);
    int bh = blackhole_port();
    int ports[3] = {bh, bh, S.port};
    cz_client_req_t rq = tr_get(pin(ports, 3), "/");
    rq.connect_timeout_ms = 150;
    rq.total_timeout_ms = 220;
    tr_t t;
    uint64_t ms = timed_call(&rq, &t);
    cr_assert_eq(t.err, CZ_ETIMEOUT, "%s", cz_strerror(t.err));
    cr_assert_eq(t.info.addrs_tried, 2, "the third address was never reached");
    cr_assert_geq(ms, 210);
    cr_assert_lt(ms, 1000);
    run_for(&L, 100); /* nothing goes on connecting after the call ended */
    cr_assert_eq(atomic_load(&S.accepts), 0);
    cr_assert_eq(connects(), 2);
    tr_free(&t);
}

/* ---- read timeout ---- */

static bool half_then_stall(rs_t *s, rs_req_t *r)
{
    char half[51];
    memset(half, 'x', 50);
    half[50] = 0;
    rs_puts(r->fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    rs_puts(r->fd, half);
    while (!atomic_load(&s->stop))
        usleep(10 * 1000);
    return false;
}

static void stalled_body_is_cut(const cz_client_opts_t *o, uint64_t rq_read_ms)
{
    start(half_then_stall, o);
    cz_client_req_t rq = tr_get(ADDR, "/");
    rq.read_timeout_ms = rq_read_ms;
    rq.total_timeout_ms = 5000;
    tr_t t;
    uint64_t ms = timed_call(&rq, &t);
    cr_assert_eq(t.err, CZ_ETIMEOUT, "%s", cz_strerror(t.err));
    cr_assert_eq(t.status, 200);
    cr_assert_eq(t.blen, 50);
    cr_assert_geq(ms, 190);
    cr_assert_lt(ms, 1000, "cut at the read timeout, well before the total (%llu ms)",
                 (unsigned long long)ms);
    tr_free(&t);
}

Test(client_addr, read_timeout_cuts_a_body_that_stops_arriving) { stalled_body_is_cut(NULL, 200); }

Test(client_addr, the_clients_read_timeout_is_the_default)
{
    cz_client_opts_t o;
    cz_client_opts_init(&o);
    cr_assert_eq(o.read_timeout_ms, 0, "off unless asked for");
    o.read_timeout_ms = 200;
    stalled_body_is_cut(&o, 0);
}

static bool steady_chunks(rs_t *s, rs_req_t *r)
{
    rs_puts(r->fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 12 && !atomic_load(&s->stop); i++) {
        usleep(50 * 1000);
        rs_puts(r->fd, "5\r\nabcde\r\n");
    }
    rs_puts(r->fd, "0\r\n\r\n");
    return true;
}

Test(client_addr, a_slow_but_steady_body_completes)
{
    start(steady_chunks, NULL);
    cz_client_req_t rq = tr_get(ADDR, "/");
    rq.read_timeout_ms = 200;
    rq.total_timeout_ms = 5000;
    tr_t t;
    uint64_t ms = timed_call(&rq, &t);
    cr_assert_eq(t.err, 0, "%s", cz_strerror(t.err));
    cr_assert_eq(t.blen, 60);
    cr_assert_geq(ms, 550, "the body took longer than the read timeout, twice over");
    tr_free(&t);
}

static bool late_head(rs_t *s, rs_req_t *r)
{
    usleep(300 * 1000);
    rs_puts(r->fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    return true;
}

Test(client_addr, read_timeout_does_not_bound_the_wait_for_the_head)
{
    start(late_head, NULL);
    cz_client_req_t rq = tr_get(ADDR, "/");
    rq.read_timeout_ms = 100;
    tr_t t;
    timed_call(&rq, &t);
    cr_assert_eq(t.err, 0, "the header timeout governs the head: %s", cz_strerror(t.err));
    cr_assert_str_eq(t.body, "ok");
    tr_free(&t);
}

/* ---- a consumer that pauses in on_head and resumes 400 ms later ---- */

typedef struct {
    tr_t t;
    uv_timer_t later;
} slow_t;

static void slow_resume(uv_timer_t *h) { cz_call_resume(((slow_t *)h->data)->t.call); }

static int slow_head(cz_call_t *call, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                     void *ud)
{
    slow_t *s = ud;
    cz_call_pause(call);
    uv_timer_start(&s->later, slow_resume, 400, 0);
    return tr_head(call, status, hn, hv, n, ud);
}

static const cz_call_cbs_t SLOW_CBS = {slow_head, tr_body, NULL, tr_done};

Test(client_addr, read_timeout_does_not_run_while_the_consumer_pauses)
{
    start(ok_2, NULL);
    cz_client_req_t rq = tr_get(ADDR, "/");
    rq.read_timeout_ms = 150;
    slow_t s;
    tr_init(&L, &s.t);
    uv_timer_init(&L, &s.later);
    s.later.data = &s;
    cr_assert_eq(cz_client_call(C, &rq, &SLOW_CBS, &s, &s.t.call), 0);
    run_until(&L, &s.t.done, 5000);
    cr_assert_eq(s.t.done, 1);
    cr_assert_eq(s.t.err, 0, "%s", cz_strerror(s.t.err));
    cr_assert_str_eq(s.t.body, "ok");
    uv_close((uv_handle_t *)&s.later, NULL);
    tr_free(&s.t);
}
