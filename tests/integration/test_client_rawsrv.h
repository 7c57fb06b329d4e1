/* SPDX-License-Identifier: MIT
 *
 * test_client_rawsrv.h: a tiny raw-socket HTTP/1.1 server for the client tests (header-only,
 * included by tests/integration/test_client*.c). One thread accepts on an ephemeral loopback
 * port, one thread per connection reads requests (head, then a Content-Length or chunked body,
 * counted) and hands each to a test-supplied function that writes whatever bytes the test needs:
 * malformed, chunked, truncated, slow, early-close or 1xx responses. It counts accepts so tests
 * can prove keep-alive reuse.
 */
#ifndef TEST_CLIENT_RAWSRV_H
#define TEST_CLIENT_RAWSRV_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct rs rs_t;
typedef struct rs_req {
    int fd;
    int nth;          /* 0-based index of this request on its connection */
    char head[16384]; /* request line + headers, NUL-terminated */
    size_t body_len;  /* bytes of body read (de-chunked) */
    char body[65536]; /* its first bytes */
    bool chunked;
} rs_req_t;
/* Answer one request; return true to read the next one on this connection, false to close. */
typedef bool (*rs_fn)(rs_t *s, rs_req_t *r);

#define RS_MAX_CONNS 64

struct rs {
    int lfd, port;
    pthread_t th;
    atomic_int accepts, requests, stop;
    rs_fn fn;
    void *ud;
    int read_delay_ms;    /* sleep before reading each request body (back-pressure tests) */
    bool no_body;         /* do not read request bodies */
    pthread_mutex_t mu;
    pthread_t conns[RS_MAX_CONNS];
    int nconns;
    char last_head[16384];
};

typedef struct rs_rd {
    rs_t *s;
    int fd;
    char buf[65536];
    size_t len, pos;
} rs_rd_t;

/* -1 on EOF/error/stop */
static int rs_fill(rs_rd_t *r)
{
    if (r->pos == r->len)
        r->pos = r->len = 0;
    while (!atomic_load(&r->s->stop)) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        int pr = poll(&p, 1, 20);
        if (pr <= 0)
            continue;
        ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
        if (n <= 0)
            return -1;
        r->len += (size_t)n;
        return 0;
    }
    return -1;
}

static int rs_line(rs_rd_t *r, char *out, size_t cap)
{
    size_t o = 0;
    for (;;) {
        while (r->pos < r->len) {
            char ch = r->buf[r->pos++];
            if (o + 1 < cap)
                out[o++] = ch;
            if (ch == '\n') {
                out[o] = 0;
                return (int)o;
            }
        }
        if (rs_fill(r) != 0)
            return -1;
    }
}

static int rs_body(rs_rd_t *r, rs_req_t *q, size_t n)
{
    while (n) {
        if (r->pos == r->len && rs_fill(r) != 0)
            return -1;
        size_t k = r->len - r->pos < n ? r->len - r->pos : n;
        if (q->body_len < sizeof q->body) {
            size_t c = sizeof q->body - q->body_len < k ? sizeof q->body - q->body_len : k;
            memcpy(q->body + q->body_len, r->buf + r->pos, c);
        }
        q->body_len += k;
        r->pos += k;
        n -= k;
    }
    return 0;
}

static void *rs_conn(void *arg)
{
    void **a = arg;
    rs_t *s = a[0];
    int fd = (int)(intptr_t)a[1];
    free(arg);
    rs_rd_t *r = calloc(1, sizeof *r);
    rs_req_t *q = calloc(1, sizeof *q);
    r->s = s;
    r->fd = fd;
    for (int nth = 0;; nth++) {
        memset(q, 0, offsetof(rs_req_t, body));
        q->chunked = false;
        q->fd = fd;
        q->nth = nth;
        size_t hl = 0;
        char line[8192];
        int n;
        long long cl = 0;
        while ((n = rs_line(r, line, sizeof line)) > 0) {
            if (hl + (size_t)n < sizeof q->head) {
                memcpy(q->head + hl, line, (size_t)n);
                hl += (size_t)n;
            }
            if (!strncasecmp(line, "Content-Length:", 15))
                cl = atoll(line + 15);
            if (!strncasecmp(line, "Transfer-Encoding:", 18) && strstr(line, "chunked"))
                q->chunked = true;
            if (!strcmp(line, "\r\n"))
                break;
        }
        if (n <= 0)
            break;
        q->head[hl] = 0;
        pthread_mutex_lock(&s->mu);
        memcpy(s->last_head, q->head, hl + 1);
        pthread_mutex_unlock(&s->mu);
        atomic_fetch_add(&s->requests, 1);
        if (s->read_delay_ms)
            usleep((useconds_t)s->read_delay_ms * 1000);
        bool ok = true;
        if (!s->no_body && q->chunked) {
            for (;;) {
                if (rs_line(r, line, sizeof line) <= 0) {
                    ok = false;
                    break;
                }
                size_t sz = strtoul(line, NULL, 16);
                if (sz == 0) {
                    ok = rs_line(r, line, sizeof line) > 0;
                    break;
                }
                if (rs_body(r, q, sz) != 0 || rs_line(r, line, sizeof line) <= 0) {
                    ok = false;
                    break;
                }
            }
        } else if (!s->no_body && cl > 0) {
            ok = rs_body(r, q, (size_t)cl) == 0;
        }
        if (!ok || !s->fn(s, q))
            break;
    }
    close(fd);
    free(r);
    free(q);
    return NULL;
}

static void *rs_main(void *arg)
{
    rs_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        atomic_fetch_add(&s->accepts, 1);
        void **a = malloc(2 * sizeof(void *));
        a[0] = s;
        a[1] = (void *)(intptr_t)fd;
        pthread_mutex_lock(&s->mu);
        if (s->nconns < RS_MAX_CONNS) {
            pthread_create(&s->conns[s->nconns++], NULL, rs_conn, a);
        } else {
            close(fd);
            free(a);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static int rs_listen(int *port, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

static void rs_start(rs_t *s, rs_fn fn)
{
    memset(s, 0, sizeof *s);
    s->fn = fn;
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = rs_listen(&s->port, 128);
    pthread_create(&s->th, NULL, rs_main, s);
}

static void rs_stop(rs_t *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    for (int i = 0; i < s->nconns; i++)
        pthread_join(s->conns[i], NULL);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
}

static void rs_write(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void rs_puts(int fd, const char *s) { rs_write(fd, s, strlen(s)); }

/* ---- the client side: one loop, one client, calls recorded in a tr_t ---- */

#include <uv.h>
#include "czero/client.h"
#include "loop_run.h"

typedef struct tr {
    int done, err, status, heads, bodies;
    cz_call_info_t info;
    char hdrs[8192]; /* "name: value\n"... */
    size_t hlen;
    char *body;
    size_t blen, bcap;
    cz_call_t *call;
    int pause_every;  /* pause after each on_body, resume from a 0 ms timer */
    int pauses;
    uv_timer_t resume_t;
    bool resume_init;
    int drains;
    bool cancel_in_body;
} tr_t;

static int tr_head(cz_call_t *call, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                   void *ud)
{
    tr_t *t = ud;
    t->heads++;
    t->status = status;
    for (size_t i = 0; i < n; i++)
        t->hlen += (size_t)snprintf(t->hdrs + t->hlen, sizeof t->hdrs - t->hlen, "%.*s: %.*s\n",
                                    (int)hn[i].n, hn[i].p, (int)hv[i].n, hv[i].p);
    return 0;
}

static void tr_resume(uv_timer_t *h)
{
    tr_t *t = h->data;
    cz_call_resume(t->call);
}

static void tr_body(cz_call_t *call, const void *data, size_t n, void *ud)
{
    tr_t *t = ud;
    t->bodies++;
    if (t->blen + n > t->bcap) {
        t->bcap = (t->blen + n) * 2;
        t->body = realloc(t->body, t->bcap + 1);
    }
    memcpy(t->body + t->blen, data, n);
    t->blen += n;
    t->body[t->blen] = 0;
    if (t->cancel_in_body) {
        cz_call_cancel(call);
        t->done = 1; /* no on_done follows a cancel */
        return;
    }
    if (t->pause_every) {
        cz_call_pause(call);
        t->pauses++;
        uv_timer_start(&t->resume_t, tr_resume, 0, 0);
    }
}

static void tr_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    tr_t *t = ud;
    t->done++;
    t->err = err;
    t->info = *info;
}

static void tr_drain(cz_call_t *call, void *ud) { ((tr_t *)ud)->drains++; }

static const cz_call_cbs_t TR_CBS = {tr_head, tr_body, tr_drain, tr_done};

static void tr_free(tr_t *t)
{
    if (t->resume_init) { /* t is reused by the caller: finish the close now */
        uv_close((uv_handle_t *)&t->resume_t, NULL);
        uv_run(t->resume_t.loop, UV_RUN_NOWAIT);
        t->resume_init = false;
    }
    free(t->body);
}

/* Run loop until *flag is nonzero or ms pass. Returns *flag. */
static int run_until(uv_loop_t *loop, volatile int *flag, int ms)
{
    return cz_test_run_until(loop, flag, (uint64_t)ms);
}

static void run_for(uv_loop_t *loop, int ms) { cz_test_run_for(loop, (uint64_t)ms); }

static cz_client_req_t tr_get(const char *addr, const char *target)
{
    cz_client_req_t rq = {0};
    rq.addr = addr;
    rq.method = CZ_STR("GET");
    rq.target = cz_str_c(target);
    return rq;
}

static int tr_call(cz_client_t *c, const cz_client_req_t *rq, tr_t *t)
{
    return cz_client_call(c, rq, &TR_CBS, t, &t->call);
}

static void tr_init(uv_loop_t *loop, tr_t *t)
{
    memset(t, 0, sizeof *t);
    uv_timer_init(loop, &t->resume_t);
    t->resume_t.data = t;
    t->resume_init = true;
}

static void closed_cb(void *ud) { *(int *)ud = 1; }

#ifdef RS_FIXTURE
/* ---- the fixture test_client.c and test_client_addr.c share: one loop L, one client C and,
 * when start() is given a handler, one raw server S at ADDR. ---- */
static uv_loop_t L;
static cz_client_t *C;
static rs_t S;
static bool S_on;
static char ADDR[64];

static void start(rs_fn fn, const cz_client_opts_t *o)
{
    uv_loop_init(&L);
    C = cz_client_new(&L, o);
    cr_assert_not_null(C);
    if (fn) {
        rs_start(&S, fn);
        S_on = true;
        snprintf(ADDR, sizeof ADDR, "127.0.0.1:%d", S.port);
    }
}

/* Closes the client (asserting nothing is left open on the loop) and stops the server. */
static void rs_fixture_stop(void)
{
    if (C) {
        int closed = 0;
        cz_client_close(C, closed_cb, &closed);
        run_until(&L, &closed, 2000);
        cr_assert(closed, "client close completes");
        C = NULL;
        uv_run(&L, UV_RUN_NOWAIT);
        cr_assert_eq(uv_loop_close(&L), 0, "no handle left open");
    }
    if (S_on)
        rs_stop(&S);
    S_on = false;
}
#endif

#endif
