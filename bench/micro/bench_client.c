/* SPDX-License-Identifier: MIT
 *
 * bench_client.c: the upstream client's cost per call (client.h), against a tiny blocking
 * server thread on loopback that answers every request with a fixed 2-byte response. Prints
 * one "name value" line per measure so bench/run.sh can collect them:
 *   client_seq_rps          sequential calls over one kept-alive connection (latency bound)
 *   client_seq_cpu_us       CPU of the client's loop thread per call (user+sys), same run
 *   client_conc8_rps        8 calls in flight over 8 kept-alive connections
 *   client_conc8_cpu_us     client loop thread CPU per call, same run
 * Each figure is the best of several rounds (least disturbed by other load).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "czero/client.h"

#define ROUNDS 3
#define CALLS 20000

static const char RESP[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    char out[sizeof RESP * 64];
    size_t carry = 0; /* bytes of a "\r\n\r\n" seen at the end of the previous read */
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        size_t reqs = 0;
        for (ssize_t i = 0; i < n; i++) { /* requests have no body: count head ends */
            char want = (carry % 2 == 0) ? '\r' : '\n';
            if (buf[i] == want) {
                if (++carry == 4) {
                    reqs++;
                    carry = 0;
                }
            } else {
                carry = buf[i] == '\r' ? 1 : 0;
            }
        }
        while (reqs) {
            size_t k = reqs < 64 ? reqs : 64, len = 0;
            for (size_t j = 0; j < k; j++, len += sizeof RESP - 1)
                memcpy(out + len, RESP, sizeof RESP - 1);
            if (write(fd, out, len) != (ssize_t)len)
                goto done;
            reqs -= k;
        }
    }
done:
    close(fd);
    return NULL;
}

static void *serve(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

typedef struct bench {
    uv_loop_t loop;
    cz_client_t *c;
    cz_client_req_t rq;
    int left, inflight, errors;
} bench_t;

static void on_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud);
static const cz_call_cbs_t cbs = {.on_done = on_done};

static void start_one(bench_t *b)
{
    b->left--;
    b->inflight++;
    if (cz_client_call(b->c, &b->rq, &cbs, b, NULL) != 0) {
        b->errors++;
        b->inflight--;
    }
}

static void on_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    bench_t *b = ud;
    b->inflight--;
    if (err || info->status != 200)
        b->errors++;
    if (b->left > 0)
        start_one(b);
}

static double now_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void closed(void *ud) { *(int *)ud = 1; }

static void run(const char *addr, int conc, double *rps, double *cpu_us)
{
    *rps = 0;
    *cpu_us = 1e9;
    bench_t b;
    memset(&b, 0, sizeof b);
    uv_loop_init(&b.loop);
    b.c = cz_client_new(&b.loop, NULL);
    b.rq.addr = addr;
    b.rq.method = (cz_str_t){"GET", 3};
    b.rq.target = (cz_str_t){"/bench", 6};
    for (int round = 0; round <= ROUNDS; round++) { /* round 0 warms the pool up */
        b.left = round ? CALLS : conc * 10;
        double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        int n = b.left;
        for (int i = 0; i < conc; i++)
            start_one(&b);
        while (b.inflight)
            uv_run(&b.loop, UV_RUN_ONCE);
        double w = now_s(CLOCK_MONOTONIC) - w0, c = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        if (round && n / w > *rps)
            *rps = n / w;
        if (round && c / n * 1e6 < *cpu_us)
            *cpu_us = c / n * 1e6;
    }
    if (b.errors)
        fprintf(stderr, "bench_client: %d failed calls\n", b.errors);
    int done = 0;
    cz_client_close(b.c, closed, &done);
    while (!done)
        uv_run(&b.loop, UV_RUN_ONCE);
    uv_loop_close(&b.loop);
}

int main(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 64) != 0)
        return 1;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
    pthread_t srv;
    pthread_create(&srv, NULL, serve, (void *)(intptr_t)lfd);
    pthread_detach(srv);

    double rps, cpu;
    run(addr, 1, &rps, &cpu);
    printf("client_seq_rps %.0f\n", rps);
    printf("client_seq_cpu_us %.2f\n", cpu);
    run(addr, 8, &rps, &cpu);
    printf("client_conc8_rps %.0f\n", rps);
    printf("client_conc8_cpu_us %.2f\n", cpu);
    return 0;
}
