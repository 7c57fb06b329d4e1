/* SPDX-License-Identifier: MIT
 *
 * redis_server.h: a real redis-server child for integration tests and benches.
 *
 * Starts `redis-server --port <free port> --bind 127.0.0.1 --save '' --appendonly no
 * --daemonize no` (no files written), waits until PING answers, and can stop it, kill -9 it,
 * freeze it (SIGSTOP) and restart it on the same port, so tests can watch clients fail over
 * and come back. Tests call cz_test_redis_available() first and cr_skip_test() without it.
 */
#ifndef CZ_TEST_REDIS_SERVER_H
#define CZ_TEST_REDIS_SERVER_H

#include <sys/types.h>

typedef struct cz_test_redis {
    pid_t pid; /* 0 when not running */
    int port;
} cz_test_redis_t;

/** 1 when a redis-server binary is on PATH. */
int cz_test_redis_available(void);
/** Pick a free loopback port, start the server, wait (up to 5 s) until PING answers.
 *  Returns 0, -ENOENT without redis-server, or -ETIMEDOUT / -errno. */
int cz_test_redis_start(cz_test_redis_t *s);
/** Start again on s->port after a stop or kill. Same returns. */
int cz_test_redis_restart(cz_test_redis_t *s);
/** SIGTERM and reap. */
void cz_test_redis_stop(cz_test_redis_t *s);
/** SIGKILL (kill -9) and reap: the way a crashed server disappears. */
void cz_test_redis_kill(cz_test_redis_t *s);
/** SIGSTOP / SIGCONT: a server that accepts bytes but never answers. */
void cz_test_redis_freeze(cz_test_redis_t *s);
void cz_test_redis_thaw(cz_test_redis_t *s);
/** Run one command synchronously (hiredis blocking API) and return its integer reply, or
 *  a negative value on error; for checking what the server holds. */
long long cz_test_redis_int(const cz_test_redis_t *s, const char *fmt, ...);

#endif
