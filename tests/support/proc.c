/* SPDX-License-Identifier: MIT
 *
 * proc.c: child-process helpers for the tests' real servers (see proc.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "proc.h"

int cz_test_in_path(const char *name)
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

int cz_test_free_port(void)
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

void cz_test_nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int cz_test_proc_wait(pid_t *pid, int (*ready)(void *arg), void *arg, int tries)
{
    for (int i = 0; i < tries; i++) {
        if (ready(arg))
            return 0;
        int st;
        if (waitpid(*pid, &st, WNOHANG) == *pid) { /* died: port taken, bad binary... */
            *pid = 0;
            return -ECHILD;
        }
        cz_test_nap_ms(10);
    }
    return -ETIMEDOUT;
}

void cz_test_proc_signal(pid_t *pid, int sig)
{
    if (*pid <= 0)
        return;
    if (sig != SIGKILL)
        kill(*pid, SIGCONT);
    kill(*pid, sig);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}
