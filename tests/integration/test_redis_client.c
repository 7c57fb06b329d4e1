/* SPDX-License-Identifier: MIT
 *
 * Integration tests for the async Redis client (src/redis/redis_client.c) against a real
 * redis-server on a loopback port: replies and error replies, EVALSHA with one SCRIPT LOAD per
 * connection and recovery from SCRIPT FLUSH, the per-command timeout with a late reply dropped,
 * hang detection, kill -9 and restart, connecting before the server exists, and freeing with
 * commands in flight. Skips when redis-server is not installed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "czero/redis.h"
#include "loop_run.h"
#include "redis_server.h"

static cz_test_redis_t srv;
static uv_loop_t loop;

static void setup(void)
{
    if (!cz_test_redis_available())
        cr_skip_test("redis-server not installed");
    cr_assert_eq(cz_test_redis_start(&srv), 0, "redis-server did not start");
    uv_loop_init(&loop);
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
    /* Every handle must be closed by now (a leak makes uv_loop_close fail); a test that failed
     * half-way may leave a client behind, so never wait on the loop here. */
    for (int i = 0; i < 10; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    int alive = uv_loop_alive(&loop);
    uv_walk(&loop, close_any, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    cr_assert_eq(alive, 0, "handles left open");
}

TestSuite(redis_client, .init = setup, .fini = teardown);

typedef struct {
    int done, status, type;
    long long integer;
    char str[64];
    uint64_t at; /* uv_now() at completion */
} res_t;

static void on_res(cz_redis_t *r, int status, struct redisReply *reply, void *ud)
{
    res_t *x = ud;
    x->done++;
    x->status = status;
    x->at = uv_now(&loop);
    if (reply) {
        x->type = reply->type;
        x->integer = reply->integer;
        if (reply->str)
            snprintf(x->str, sizeof(x->str), "%s", reply->str);
    }
}

static int is_up;
static void poll_up(cz_redis_t *r, int *flag)
{
    /* state is polled: the client has no connect callback by design */
    for (int i = 0; i < 200 && cz_redis_state(r) != CZ_REDIS_UP; i++) {
        int never = 0;
        cz_test_run_until(&loop, &never, 20);
    }
    *flag = cz_redis_state(r) == CZ_REDIS_UP;
}

static cz_redis_t *client(uint64_t timeout_ms, uint64_t hang_ms)
{
    cz_redis_conf_t c = {.port = srv.port, .command_timeout_ms = timeout_ms, .hang_ms = hang_ms,
                         .backoff_min_ms = 20, .backoff_max_ms = 100};
    cz_redis_t *r = cz_redis_new(&loop, &c);
    cr_assert_not_null(r);
    return r;
}

Test(redis_client, replies_and_error_replies)
{
    cz_redis_t *r = client(1000, 0);
    res_t a = {0}, b = {0}, c = {0};
    cr_assert_eq(cz_redis_command(r, on_res, &a, "SET %s %s", "k", "41"), 0);
    cr_assert_eq(cz_redis_command(r, on_res, &b, "INCR k"), 0);
    const char *argv[] = {"HSET", "k", "f", "v"};
    cr_assert_eq(cz_redis_command_argv(r, on_res, &c, 4, argv, NULL), 0);
    cr_assert_eq(a.done + b.done + c.done, 0, "callbacks never run inside the call");
    cr_assert(cz_test_run_until(&loop, &c.done, 2000));
    cr_assert_eq(a.status, 0);
    cr_assert_str_eq(a.str, "OK");
    cr_assert_eq(b.status, 0);
    cr_assert_eq(b.integer, 42);
    cr_assert_eq(c.status, CZ_EREDIS); /* WRONGTYPE */
    cr_assert(strncmp(c.str, "WRONGTYPE", 9) == 0, "%s", c.str);
    cz_redis_stats_t st;
    cz_redis_stats(r, &st);
    cr_assert_eq(st.connects, 1);
    cr_assert_eq(st.in_flight, 0);
    cz_redis_free(r);
}

static const char lua_add[] = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

Test(redis_client, evalsha_loads_once_and_recovers_from_script_flush)
{
    cz_redis_script_t s;
    cz_redis_script_init(&s, lua_add);
    cr_assert_eq(strlen(s.sha1), 40);
    cz_redis_t *r = client(1000, 0);
    res_t x[5] = {{0}};
    for (int i = 0; i < 5; i++) {
        const char *argv[] = {"sum", "2"};
        cr_assert_eq(cz_redis_evalsha(r, &s, on_res, &x[i], 1, 2, argv, NULL), 0);
    }
    cr_assert(cz_test_run_until(&loop, &x[4].done, 2000));
    cr_assert_eq(x[4].status, 0);
    cr_assert_eq(x[4].integer, 10);
    cz_redis_stats_t st;
    cz_redis_stats(r, &st);
    cr_assert_eq(st.script_loads, 1);

    cr_assert_eq(cz_test_redis_int(&srv, "SCRIPT FLUSH"), -1); /* status reply, not an int */
    res_t y = {0};
    const char *argv[] = {"sum", "5"};
    cr_assert_eq(cz_redis_evalsha(r, &s, on_res, &y, 1, 2, argv, NULL), 0);
    cr_assert(cz_test_run_until(&loop, &y.done, 2000));
    cr_assert_eq(y.status, 0, "NOSCRIPT must be retried, got %s", y.str);
    cr_assert_eq(y.integer, 15);
    cz_redis_stats(r, &st);
    cr_assert_eq(st.script_loads, 2);
    cz_redis_free(r);
}

Test(redis_client, timeout_completes_in_time_and_late_reply_is_dropped)
{
    cz_redis_t *r = client(100, 60000);
    int up = 0;
    poll_up(r, &up);
    cr_assert(up);
    cz_redis_stats_t st;
    cz_redis_stats(r, &st);
    uint64_t late0 = st.late_replies; /* a loaded machine may already have produced one */
    cz_test_redis_freeze(&srv);
    res_t x = {0};
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    cr_assert_eq(cz_redis_command(r, on_res, &x, "INCR late"), 0);
    cr_assert(cz_test_run_until(&loop, &x.done, 2000));
    cr_assert_eq(x.status, CZ_ETIMEOUT);
    cr_assert_geq(x.at - t0, 100);
    cr_assert_lt(x.at - t0, 300, "took %llu ms", (unsigned long long)(x.at - t0));
    cz_test_redis_thaw(&srv);
    for (int i = 0; i < 100; i++) {
        int never = 0;
        cz_test_run_until(&loop, &never, 10);
        cz_redis_stats(r, &st);
        if (st.late_replies > late0)
            break;
    }
    cr_assert_eq(st.late_replies, late0 + 1);
    cr_assert_eq(x.done, 1, "the callback ran once only");
    cr_assert_eq(cz_test_redis_int(&srv, "GET late"), 1); /* the server did run it */
    res_t y = {0};
    cz_redis_command(r, on_res, &y, "INCR late");
    cr_assert(cz_test_run_until(&loop, &y.done, 2000));
    cr_assert_eq(y.status, 0);
    cr_assert_eq(y.integer, 2);
    cz_redis_free(r);
}

Test(redis_client, silent_server_is_dropped_and_reconnected)
{
    cz_redis_t *r = client(50, 200);
    int up = 0;
    poll_up(r, &up);
    cr_assert(up);
    cz_test_redis_freeze(&srv);
    int timeouts = 0;
    for (int i = 0; i < 20 && cz_redis_state(r) == CZ_REDIS_UP; i++) {
        res_t x = {0};
        if (cz_redis_command(r, on_res, &x, "PING") == 0) {
            cz_test_run_until(&loop, &x.done, 1000);
            timeouts += x.status == CZ_ETIMEOUT;
        }
    }
    cr_assert_neq(cz_redis_state(r), CZ_REDIS_UP, "a wedged server must be given up on");
    cr_assert_geq(timeouts, 3);
    cz_test_redis_thaw(&srv);
    poll_up(r, &up);
    cr_assert(up);
    cz_redis_stats_t st;
    cz_redis_stats(r, &st);
    cr_assert_geq(st.connects, 2);
    cz_redis_free(r);
}

Test(redis_client, kill9_fails_pending_then_reconnects_after_restart)
{
    cz_redis_t *r = client(5000, 60000);
    int up = 0;
    poll_up(r, &up);
    cr_assert(up);
    cz_test_redis_freeze(&srv); /* so the command is surely pending when the server dies */
    res_t x = {0};
    cr_assert_eq(cz_redis_command(r, on_res, &x, "PING"), 0);
    int never = 0;
    cz_test_run_until(&loop, &never, 20);
    cz_test_redis_kill(&srv);
    cr_assert(cz_test_run_until(&loop, &x.done, 2000));
    cr_assert_eq(x.status, CZ_ECLOSED, "got %d", x.status);
    cr_assert_lt(x.at, uv_now(&loop) + 1);
    res_t y = {0};
    cz_test_run_until(&loop, &never, 10);
    int rc = cz_redis_command(r, on_res, &y, "PING");
    if (rc == 0) { /* a reconnect attempt was under way: it must fail, not hang */
        cr_assert(cz_test_run_until(&loop, &y.done, 6000));
        cr_assert_neq(y.status, 0);
    } else {
        cr_assert_eq(rc, -ENOTCONN);
    }
    cr_assert_eq(cz_test_redis_restart(&srv), 0);
    poll_up(r, &up);
    cr_assert(up, "client must come back after the restart");
    res_t z = {0};
    cr_assert_eq(cz_redis_command(r, on_res, &z, "PING"), 0);
    cr_assert(cz_test_run_until(&loop, &z.done, 2000));
    cr_assert_eq(z.status, 0);
    cz_redis_free(r);
}

Test(redis_client, connects_once_the_server_appears)
{
    cz_test_redis_kill(&srv); /* the port is known, nothing listens on it */
    cz_redis_t *r = client(100, 0);
    int never = 0;
    cz_test_run_until(&loop, &never, 150);
    cr_assert_neq(cz_redis_state(r), CZ_REDIS_UP);
    res_t x = {0};
    int rc = cz_redis_command(r, on_res, &x, "PING");
    cr_assert(rc == -ENOTCONN || rc == 0);
    if (rc == 0) {
        cr_assert(cz_test_run_until(&loop, &x.done, 1000));
        cr_assert_neq(x.status, 0);
    }
    cr_assert_eq(cz_test_redis_restart(&srv), 0);
    poll_up(r, &is_up);
    cr_assert(is_up);
    cz_redis_free(r);
}

Test(redis_client, free_completes_pending_commands_and_closes_handles)
{
    cz_redis_t *r = client(5000, 0);
    int up = 0;
    poll_up(r, &up);
    cz_test_redis_freeze(&srv);
    res_t x[3] = {{0}};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(cz_redis_command(r, on_res, &x[i], "PING"), 0);
    cz_redis_free(r);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(x[i].done, 1);
        cr_assert_eq(x[i].status, CZ_ECLOSED);
    }
    cz_test_redis_thaw(&srv); /* teardown checks that the loop closes cleanly */
}

Test(redis_client, bad_arguments)
{
    cz_redis_t *r = client(100, 0);
    res_t x = {0};
    cr_assert_eq(cz_redis_command(r, NULL, &x, "PING"), CZ_EARG);
    cr_assert_eq(cz_redis_command_argv(r, on_res, &x, 0, NULL, NULL), CZ_EARG);
    cr_assert_null(cz_redis_new(NULL, NULL));
    cz_redis_free(NULL);
    cz_redis_free(r);
    cr_assert_eq(x.done, 0);
}
