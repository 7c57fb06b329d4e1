/* SPDX-License-Identifier: MIT
 *
 * fake_collector.c: the fake trace collector of the tracing tests (see fake_collector.h).
 */
#include "fake_collector.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FC_MAX 64

struct fc {
    fc_mode_t mode;
    int lfd, port, wake[2];
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n;
    char *body[FC_MAX], *path[FC_MAX];
    int hung[FC_MAX];
    size_t nhung;
    bool stopped;
};

/* Read one request from fd; store it. Returns false on EOF/error or stop. */
static bool read_request(fc_t *f, int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t hl = 0, clen = 0; /* header length once known (an offset: buf moves on realloc) */
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = f->wake[0], .events = POLLIN}};
        if (poll(p, 2, 10000) <= 0 || (p[1].revents & POLLIN))
            break;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        char *hend;
        if (!hl && (hend = strstr(buf, "\r\n\r\n"))) {
            hl = (size_t)(hend + 4 - buf);
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            clen = cl && cl < hend ? strtoul(cl + 17, NULL, 10) : 0;
        }
        if (hl && len >= hl + clen) {
            char *sp1 = strchr(buf, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
            pthread_mutex_lock(&f->mu);
            if (f->n < FC_MAX && sp2) {
                f->path[f->n] = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
                f->body[f->n] = strndup(buf + hl, clen);
                f->n++;
                pthread_cond_broadcast(&f->cv);
            }
            pthread_mutex_unlock(&f->mu);
            free(buf);
            return true;
        }
    }
    free(buf);
    return false;
}

static void *run(void *arg)
{
    fc_t *f = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = f->lfd, .events = POLLIN},
                              {.fd = f->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return NULL;
        if (p[1].revents & POLLIN)
            return NULL;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        bool ok = read_request(f, fd);
        if (ok && f->mode == FC_HANG && f->nhung < FC_MAX) {
            f->hung[f->nhung++] = fd; /* never answered; closed by fc_stop */
            continue;
        }
        if (ok) {
            const char *ans =
                f->mode == FC_OK
                    ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    : "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                      "Connection: close\r\n\r\n";
            ssize_t w = write(fd, ans, strlen(ans));
            (void)w;
        }
        close(fd);
    }
}

fc_t *fc_start(fc_mode_t mode)
{
    fc_t *f = calloc(1, sizeof *f);
    f->mode = mode;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof a) || listen(f->lfd, 16) ||
        getsockname(f->lfd, (struct sockaddr *)&a, &al) || pipe(f->wake)) {
        free(f);
        return NULL;
    }
    f->port = ntohs(a.sin_port);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    pthread_create(&f->th, NULL, run, f);
    return f;
}

int fc_port(const fc_t *f) { return f->port; }

size_t fc_count(fc_t *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fc_wait(fc_t *f, size_t n, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->mu);
    while (f->n < n)
        if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT)
            break;
    bool ok = f->n >= n;
    pthread_mutex_unlock(&f->mu);
    return ok;
}

const char *fc_body(fc_t *f, size_t i) { return i < f->n ? f->body[i] : NULL; }
const char *fc_path(fc_t *f, size_t i) { return i < f->n ? f->path[i] : NULL; }

void fc_stop(fc_t *f)
{
    if (f->stopped)
        return;
    f->stopped = true;
    ssize_t w = write(f->wake[1], "x", 1);
    (void)w;
    pthread_join(f->th, NULL);
    close(f->lfd);
    for (size_t i = 0; i < f->nhung; i++)
        close(f->hung[i]);
    close(f->wake[0]);
    close(f->wake[1]);
}

void fc_free(fc_t *f)
{
    if (!f)
        return;
    fc_stop(f);
    for (size_t i = 0; i < f->n; i++) {
        free(f->body[i]);
        free(f->path[i]);
    }
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
