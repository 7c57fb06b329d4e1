/* SPDX-License-Identifier: MIT
 *
 * Integration tests for host names in the Redis client (src/redis/redis_client.c) against a real
 * redis-server on loopback: "localhost" connects and carries limiter decisions into Redis; the
 * lookup runs on libuv's threadpool, so a DNS that takes 200 ms (or fails after 200 ms) never
 * stalls the loop (a 5 ms uv timer on the same loop measures the largest gap); an unknown name
 * degrades as a refused connect does (queued commands fail with CZ_ECLOSED, then -ENOTCONN,
 * the limiter decides without Redis) and is retried with the backoff; reconnects reuse the
 * cached answer for dns_ttl_ms; a refused first address moves on to the next.
 *
 * DNS is made slow and observable by interposing getaddrinfo in this executable (the dynamic
 * linker prefers it over libc's for libuv and hiredis): names "slow-<name>" sleep 200 ms and
 * then resolve <name>; "two-addrs" resolves to 127.0.0.2 (nothing listens there) then 127.0.0.1.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include "czero/limiter.h"
#include "czero/redis.h"
#include "loop_run.h"
#include "redis_server.h"

#define SLOW_MS 200

/* ---------------------------------------------------------------- getaddrinfo hook */

static int lookups;             /* non-numeric lookups seen, all threads */
static int loop_thread_lookups; /* of those, made on the test (loop) thread */
static pthread_t main_thread;

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

static int real_gai(const char *node, const char *svc, const struct addrinfo *h,
                    struct addrinfo **res)
{
    static gai_fn fn;
    if (!fn)
        fn = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    return fn(node, svc, h, res);
}

static int numeric(const char *node)
{
    unsigned char b[16];
    return inet_pton(AF_INET, node, b) == 1 || inet_pton(AF_INET6, node, b) == 1;
}

int getaddrinfo(const char *node, const char *svc, const struct addrinfo *hints,
                struct addrinfo **res)
{
    if (!node || numeric(node))
        return real_gai(node, svc, hints, res);
    __atomic_add_fetch(&lookups, 1, __ATOMIC_SEQ_CST);
    if (pthread_equal(pthread_self(), main_thread))
        __atomic_add_fetch(&loop_thread_lookups, 1, __ATOMIC_SEQ_CST);
    if (strncmp(node, "slow-", 5) == 0) {
        nanosleep(&(struct timespec){0, SLOW_MS * 1000000L}, NULL);
        return real_gai(node + 5, svc, hints, res);
    }
    if (strcmp(node, "two-addrs") == 0) {
        struct addrinfo h = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST};
        struct addrinfo *a = NULL, *b = NULL;
        if (real_gai("127.0.0.2", svc, &h, &a) != 0)
            return EAI_FAIL;
        if (real_gai("127.0.0.1", svc, &h, &b) != 0) {
            freeaddrinfo(a);
            return EAI_FAIL;
        }
        struct addrinfo *t = a;
        while (t->ai_next)
            t = t->ai_next;
        t->ai_next = b;
        *res = a;
        return 0;
    }
    return real_gai(node, svc, hints, res);
}

/* ---------------------------------------------------------------- fixture */

static cz_test_redis_t srv;
static uv_loop_t loop;

static void setup(void)
{
    if (!cz_test_redis_available())
        cr_skip_test("redis-server not installed");
    cr_assert_eq(cz_test_redis_start(&srv), 0, "redis-server did not start");
    uv_loop_init(&loop);
    main_thread = pthread_self();
    lookups = loop_thread_lookups = 0;
}

static void close_any(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void teardown(void)
{
    if (srv.pid)
        cz_test_redis_kill(&srv);
    /* A freed client whose lookup is still sleeping on the threadpool keeps the loop alive
     * until that lookup returns (it cannot be cancelled once running): wait for it, bounded. */
    uint64_t until = uv_hrtime() + 3000000000ull;
    while (uv_loop_alive(&loop) && uv_hrtime() < until) {
        uv_run(&loop, UV_RUN_NOWAIT);
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    int alive = uv_loop_alive(&loop);
    uv_walk(&loop, close_any, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    cr_assert_eq(alive, 0, "handles or requests left open");
}

TestSuite(redis_dns, .init = setup, .fini = teardown);

/* A 5 ms repeating timer on the test loop: the largest gap between its runs is how long the
 * loop was blocked. Each tick may also call a hook (issue a command, take a decision). */
typedef struct {
    uv_timer_t t;
    uint64_t last, max_gap; /* uv_hrtime() ns */
    int ticks;
    void (*hook)(void);
} ticker_t;

static void on_tick(uv_timer_t *t)
{
    ticker_t *k = (ticker_t *)t;
    uint64_t now = uv_hrtime();
    if (now - k->last > k->max_gap)
        k->max_gap = now - k->last;
    k->last = now;
    k->ticks++;
    if (k->hook)
        k->hook();
}

static void ticker_start(ticker_t *k, void (*hook)(void))
{
    memset(k, 0, sizeof *k);
    k->hook = hook;
    uv_timer_init(&loop, &k->t);
    k->last = uv_hrtime();
    uv_timer_start(&k->t, on_tick, 5, 5);
}

/* k lives on the test's stack: its close callback must run before the test returns. */
static void ticker_stop(ticker_t *k)
{
    uv_close((uv_handle_t *)&k->t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

typedef struct {
    int done, status;
    long long integer;
    uint64_t at_ns;
} res_t;

static void on_res(cz_redis_t *r, int status, struct redisReply *reply, void *ud)
{
    res_t *x = ud;
    x->done++;
    x->status = status;
    x->at_ns = uv_hrtime();
    if (reply)
        x->integer = reply->integer;
}

typedef struct {
    int done, result, err;
} got_t;

static void on_dec(void *ud, int result, int err)
{
    got_t *g = ud;
    g->done++;
    g->result = result;
    g->err = err;
}

static cz_redis_t *client(const char *host, uint64_t ttl_ms)
{
    cz_redis_conf_t c = {.host = host, .port = srv.port, .command_timeout_ms = 2000,
                         .connect_timeout_ms = 1000, .backoff_min_ms = 20,
                         .backoff_max_ms = 100, .dns_ttl_ms = ttl_ms};
    cz_redis_t *r = cz_redis_new(&loop, &c);
    cr_assert_not_null(r);
    return r;
}

static void wait_up(cz_redis_t *r)
{
    for (int i = 0; i < 150 && cz_redis_state(r) != CZ_REDIS_UP; i++) {
        int never = 0;
        cz_test_run_until(&loop, &never, 20);
    }
    cr_assert_eq(cz_redis_state(r), CZ_REDIS_UP);
}

/* ---------------------------------------------------------------- tests */

Test(redis_dns, localhost_connects_with_the_lookup_off_the_loop_thread)
{
    cz_redis_t *r = client("localhost", 0);
    cr_assert_eq(cz_redis_state(r), CZ_REDIS_CONNECTING);
    res_t a = {0};
    /* issued while the lookup is pending: queued, not refused */
    cr_assert_eq(cz_redis_command(r, on_res, &a, "INCRBY %s %d", "dns:k", 7), 0);
    cr_assert(cz_test_run_until(&loop, &a.done, 3000));
    cr_assert_eq(a.status, 0, "%s", cz_strerror(a.status));
    cr_assert_eq(a.integer, 7);
    cr_assert_eq(cz_test_redis_int(&srv, "GET dns:k"), 7);
    cr_assert_geq(lookups, 1);
    cr_assert_eq(loop_thread_lookups, 0, "a lookup ran on the loop thread");
    cz_redis_free(r);
}

Test(redis_dns, limiter_decisions_go_through_redis_by_name)
{
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_PERIOD, .store = CZ_LIMIT_REDIS, .key_prefix = "dl:",
                           .period_ms = 60000, .quota = 10,
                           .redis = {.host = "localhost", .port = srv.port,
                                     .command_timeout_ms = 2000}};
    cz_limiter_t *l = NULL;
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    for (int i = 0; i < 3; i++) {
        got_t g = {0};
        cr_assert_eq(cz_limiter_take(l, &loop, cz_str_c("who"), 1, on_dec, &g), 0);
        cr_assert(cz_test_run_until(&loop, &g.done, 3000), "no decision");
        cr_assert_eq(g.err, 0, "take %d decided without Redis: %s", i, cz_strerror(g.err));
        cr_assert_eq(g.result, CZ_LIMIT_ALLOWED);
    }
    cr_assert_eq(cz_test_redis_int(&srv, "GET dl:who"), 3);
    cr_assert_eq(loop_thread_lookups, 0);
    cz_limiter_free(l);
}

Test(redis_dns, slow_dns_does_not_stall_the_loop)
{
    ticker_t k;
    ticker_start(&k, NULL);
    uint64_t t0 = uv_hrtime();
    cz_redis_t *r = client("slow-localhost", 0);
    res_t a = {0};
    cr_assert_eq(cz_redis_command(r, on_res, &a, "SET dns:s 1"), 0);
    cr_assert(cz_test_run_until(&loop, &a.done, 3000));
    cr_assert_eq(a.status, 0, "%s", cz_strerror(a.status));
    uint64_t took_ms = (a.at_ns - t0) / 1000000;
    /* the lookup really took SLOW_MS, so a blocked loop would show a gap that long */
    cr_assert_geq(took_ms, SLOW_MS - 5, "took %llu ms", (unsigned long long)took_ms);
    cr_assert_lt(k.max_gap / 1000000, 100, "loop blocked for %llu ms",
                 (unsigned long long)(k.max_gap / 1000000));
    cr_assert_gt(k.ticks, 10);
    ticker_stop(&k);
    cz_redis_free(r);
}

static cz_redis_t *bad;
static int n_ok, n_notconn, n_other, n_closed, n_issued, n_done;
static void on_bad(cz_redis_t *r, int status, struct redisReply *reply, void *ud)
{
    n_done++;
    n_closed += status == CZ_ECLOSED;
}
static void issue_bad(void)
{
    int rc = cz_redis_command(bad, on_bad, NULL, "PING");
    n_issued++;
    n_ok += rc == 0;
    n_notconn += rc == -ENOTCONN;
    n_other += rc != 0 && rc != -ENOTCONN;
}

Test(redis_dns, unknown_name_degrades_without_blocking_the_loop)
{
    n_ok = n_notconn = n_other = n_closed = n_issued = n_done = 0;
    ticker_t k;
    ticker_start(&k, issue_bad);
    bad = client("slow-nonexistent.invalid", 0);
    int never = 0;
    cz_test_run_until(&loop, &never, 800);
    cr_assert_lt(k.max_gap / 1000000, 100, "loop blocked for %llu ms",
                 (unsigned long long)(k.max_gap / 1000000));
    cr_assert_gt(k.ticks, 60, "the timer kept its 5 ms pace (%d ticks)", k.ticks);
    cr_assert_neq(cz_redis_state(bad), CZ_REDIS_UP);
    cr_assert_geq(lookups, 2, "retried with the backoff (%d lookups)", lookups);
    cr_assert_eq(loop_thread_lookups, 0);
    cr_assert_gt(n_ok, 0, "commands queue while the lookup runs");
    cr_assert_gt(n_notconn, 0, "and fail fast while down");
    cr_assert_eq(n_other, 0);
    ticker_stop(&k);
    cz_redis_free(bad);
    cr_assert_eq(n_done, n_ok, "every accepted command completed");
    cr_assert_eq(n_closed, n_done, "a failed lookup fails the queue with CZ_ECLOSED");

    /* The loop still serves: a client by name on the same loop works. */
    cz_redis_t *r = client("localhost", 0);
    res_t a = {0};
    cr_assert_eq(cz_redis_command(r, on_res, &a, "INCR dns:after"), 0);
    cr_assert(cz_test_run_until(&loop, &a.done, 3000));
    cr_assert_eq(a.status, 0);
    cr_assert_eq(a.integer, 1);
    cz_redis_free(r);
}

Test(redis_dns, limiter_falls_back_quickly_on_an_unknown_name)
{
    cz_limiter_conf_t c = {.kind = CZ_LIMIT_TOKEN, .store = CZ_LIMIT_REDIS, .rate = 1,
                           .burst = 3,
                           .redis = {.host = "nonexistent.invalid", .port = 6379,
                                     .command_timeout_ms = 50, .backoff_min_ms = 20,
                                     .backoff_max_ms = 100}};
    cz_limiter_t *l = NULL;
    cr_assert_eq(cz_limiter_new(&c, &l), 0);
    int over = 0;
    for (int i = 0; i < 5; i++) {
        got_t g = {0};
        uint64_t t0 = uv_hrtime();
        cr_assert_eq(cz_limiter_take(l, &loop, cz_str_c("k"), 1, on_dec, &g), 0);
        cr_assert(cz_test_run_until(&loop, &g.done, 2000), "no decision");
        /* the first take waited on the lookup and failed with it; later ones go straight to
         * the in-process bucket (err 0: limiter.h's "known down") */
        if (i == 0)
            cr_assert_eq(g.err, CZ_ECLOSED, "%s", cz_strerror(g.err));
        cr_assert_lt((uv_hrtime() - t0) / 1000000, 500);
        over += g.result == CZ_LIMIT_OVER_QUOTA;
    }
    cr_assert_eq(cz_limiter_redis_alive(l, &loop), 0);
    cr_assert_eq(over, 2, "burst 3 of 5 admitted by the in-process bucket");
    cr_assert_eq(loop_thread_lookups, 0);
    cz_limiter_free(l);
}

static int reconnect_lookups(uint64_t ttl_ms)
{
    cz_redis_t *r = client("localhost", ttl_ms);
    wait_up(r);
    int before = lookups;
    cz_test_redis_kill(&srv);
    for (int i = 0; i < 50 && cz_redis_state(r) == CZ_REDIS_UP; i++) {
        res_t a = {0};
        if (cz_redis_command(r, on_res, &a, "PING") == 0)
            cz_test_run_until(&loop, &a.done, 100);
    }
    int never = 0;
    cz_test_run_until(&loop, &never, 150); /* a few failed reconnects against the dead port */
    cr_assert_eq(cz_test_redis_restart(&srv), 0);
    wait_up(r);
    cz_redis_stats_t st;
    cz_redis_stats(r, &st);
    cr_assert_eq(st.connects, 2);
    cz_redis_free(r);
    return lookups - before;
}

Test(redis_dns, reconnects_reuse_the_cached_answer)
{
    cr_assert_eq(reconnect_lookups(0), 0, "default TTL (10 s): no lookup on reconnect");
}

Test(redis_dns, an_expired_answer_is_looked_up_again)
{
    cr_assert_geq(reconnect_lookups(1), 1, "1 ms TTL: reconnects look the name up again");
}

static void refused_then_next(uint64_t ttl_ms)
{
    cz_redis_t *r = client("two-addrs", ttl_ms);
    res_t a = {0};
    cr_assert_eq(cz_redis_command(r, on_res, &a, "SET dns:two 2"), 0);
    cr_assert(cz_test_run_until(&loop, &a.done, 3000));
    /* 127.0.0.2 refused; the command queued during the lookup went on to 127.0.0.1 */
    cr_assert_eq(a.status, 0, "%s", cz_strerror(a.status));
    cr_assert_eq(cz_redis_state(r), CZ_REDIS_UP);
    res_t b = {0};
    cr_assert_eq(cz_redis_command(r, on_res, &b, "INCR dns:two"), 0);
    cr_assert(cz_test_run_until(&loop, &b.done, 3000));
    cr_assert_eq(b.status, 0);
    cr_assert_eq(b.integer, 3, "the SET reached Redis");
    cz_redis_stats_t st;
    cz_redis_stats(r, &st);
    cr_assert_eq(st.connects, 1);
    cz_redis_free(r);
}

Test(redis_dns, a_refused_address_moves_on_to_the_next) { refused_then_next(0); }

static void slow_tick(void) { nanosleep(&(struct timespec){0, 3000000}, NULL); }

/* An answer that expires within the round still gets its second address tried (a new lookup
 * would restart the round at the refusing first address, forever). The ticker makes loop time
 * pass between the refusal and the retry, so the 1 ms answer has expired by then. */
Test(redis_dns, a_short_ttl_does_not_restart_the_round)
{
    ticker_t k;
    ticker_start(&k, slow_tick);
    uv_timer_start(&k.t, on_tick, 1, 1);
    refused_then_next(1);
    ticker_stop(&k);
}
