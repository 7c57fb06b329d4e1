/* SPDX-License-Identifier: MIT
 *
 * redis_server.c: runs redis-server as a child process for tests (see redis_server.h).
 * Waiting with short sleeps is fine here: this is process setup, not the behaviour under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include "redis_server.h"

static int find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0)
            return 1;
        path += n + (end ? 1 : 0);
    }
    return 0;
}

int cz_test_redis_available(void) { return find_in_path("redis-server"); }

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int ping(int port)
{
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
    for (int i = 0; i < 500; i++) {
        if (ping(s->port))
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) { /* died: port taken, bad binary... */
            s->pid = 0;
            return -ECHILD;
        }
        nap_ms(10);
    }
    cz_test_redis_kill(s);
    return -ETIMEDOUT;
}

int cz_test_redis_start(cz_test_redis_t *s)
{
    s->pid = 0;
    if (!cz_test_redis_available())
        return -ENOENT;
    int rc = -1;
    for (int tries = 0; tries < 5 && rc < 0; tries++) { /* another process may grab the port */
        s->port = free_port();
        if (s->port < 0)
            return s->port;
        rc = cz_test_redis_restart(s);
    }
    return rc;
}

static void signal_and_reap(cz_test_redis_t *s, int sig)
{
    if (s->pid <= 0)
        return;
    if (sig != SIGKILL)
        kill(s->pid, SIGCONT); /* a frozen server must be able to act on SIGTERM */
    kill(s->pid, sig);         /* SIGKILL: no SIGCONT, a frozen server must not answer first */
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

void cz_test_redis_stop(cz_test_redis_t *s) { signal_and_reap(s, SIGTERM); }
void cz_test_redis_kill(cz_test_redis_t *s) { signal_and_reap(s, SIGKILL); }

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
