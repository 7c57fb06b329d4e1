/* SPDX-License-Identifier: MIT
 *
 * redis_server.c: runs redis-server as a child process for tests (see redis_server.h).
 * Waiting with short sleeps is fine here: this is process setup, not the behaviour under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "proc.h"
#include "redis_server.h"

int cz_test_redis_available(void) { return cz_test_in_path("redis-server"); }

static int ping(void *arg)
{
    int port = *(const int *)arg;
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    int ok = 0;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

int cz_test_redis_restart(cz_test_redis_t *s)
{
    if (!cz_test_redis_available())
        return -ENOENT;
    char port[16];
    snprintf(port, sizeof(port), "%d", s->port);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
               (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    int rc = cz_test_proc_wait(&s->pid, ping, &s->port, 500);
    if (rc == -ETIMEDOUT)
        cz_test_redis_kill(s);
    return rc;
}

int cz_test_redis_start(cz_test_redis_t *s)
{
    s->pid = 0;
    if (!cz_test_redis_available())
        return -ENOENT;
    int rc = -1;
    for (int tries = 0; tries < 5 && rc < 0; tries++) { /* another process may grab the port */
        s->port = cz_test_free_port();
        if (s->port < 0)
            return s->port;
        rc = cz_test_redis_restart(s);
    }
    return rc;
}

void cz_test_redis_stop(cz_test_redis_t *s) { cz_test_proc_signal(&s->pid, SIGTERM); }
void cz_test_redis_kill(cz_test_redis_t *s) { cz_test_proc_signal(&s->pid, SIGKILL); }

void cz_test_redis_freeze(cz_test_redis_t *s)
{
    if (s->pid > 0)
        kill(s->pid, SIGSTOP);
}

void cz_test_redis_thaw(cz_test_redis_t *s)
{
    if (s->pid > 0)
        kill(s->pid, SIGCONT);
}

long long cz_test_redis_int(const cz_test_redis_t *s, const char *fmt, ...)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    long long v = -1;
    if (c && !c->err) {
        va_list ap;
        va_start(ap, fmt);
        redisReply *r = redisvCommand(c, fmt, ap);
        va_end(ap);
        if (r && r->type == REDIS_REPLY_INTEGER)
            v = r->integer;
        else if (r && r->type == REDIS_REPLY_STRING)
            v = atoll(r->str);
        else if (r && r->type == REDIS_REPLY_NIL)
            v = -2;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return v;
}
