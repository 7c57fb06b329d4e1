/* SPDX-License-Identifier: MIT
 *
 * loadgen.c: the open-loop load generator of loadgen.h. A 1 ms timer puts the requests that came
 * due on a queue of scheduled times; idle keep-alive connections take them in order, new
 * connections are opened (up to max_conns) while requests wait. One request per connection at a
 * time, answers parsed just enough (status line, Content-Length, Connection: close).
 */
#include "loadgen.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <uv.h>

typedef struct lg lg_t;

typedef struct lg_conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    lg_t *g;
    struct lg_conn *next_idle, *next_all;
    bool busy, closed;
    uint64_t sched_ns;
    char buf[8192];
    size_t len;
    long body_left; /* -1 while the head is being read */
    int status;
    bool close_after;
} lg_conn_t;

struct lg {
    uv_loop_t loop;
    uv_timer_t tick;
    lg_conf_t c;
    lg_result_t *r;
    char req[1024];
    size_t req_len;
    uint64_t t0, end_ns, deadline_ns;
    uint64_t issued;
    uint64_t *queue;
    size_t qhead, qtail, qcap;
    lg_conn_t *idle, *all;
    int nconns, connecting, inflight;
    uint32_t *lat;
    size_t nlat, caplat;
    uint64_t ok_in_time; /* 2xx answers received before the scheduling ended */
    bool stopping;
};

static void dispatch(lg_t *g);

static void on_closed(uv_handle_t *h) { (void)h; }

static void conn_close(lg_conn_t *k)
{
    if (k->closed)
        return;
    k->closed = true;
    k->g->nconns--;
    /* unlink from the idle list */
    for (lg_conn_t **p = &k->g->idle; *p; p = &(*p)->next_idle)
        if (*p == k) {
            *p = k->next_idle;
            break;
        }
    uv_close((uv_handle_t *)&k->tcp, on_closed);
}

static void record(lg_t *g, lg_conn_t *k)
{
    uint64_t now = uv_hrtime();
    if (k->status >= 200 && k->status < 300) {
        g->r->ok++;
        if (now <= g->end_ns)
            g->ok_in_time++;
        if (g->nlat == g->caplat) {
            size_t cap = g->caplat ? g->caplat * 2 : 4096;
            uint32_t *p = realloc(g->lat, cap * sizeof *p);
            if (!p)
                return;
            g->lat = p;
            g->caplat = cap;
        }
        uint64_t us = (now - k->sched_ns) / 1000;
        g->lat[g->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    } else if (k->status == 503) {
        g->r->s503++;
    } else if (k->status == 429) {
        g->r->s429++;
    } else {
        g->r->other++;
    }
}

static void fail_request(lg_conn_t *k)
{
    if (k->busy) {
        k->busy = false;
        k->g->inflight--;
        k->g->r->errors++;
    }
    conn_close(k);
}

static void on_written(uv_write_t *w, int status)
{
    lg_conn_t *k = w->data;
    free(w);
    if (status < 0 && !k->closed)
        fail_request(k);
}

static void send_one(lg_conn_t *k, uint64_t sched)
{
    lg_t *g = k->g;
    k->busy = true;
    k->sched_ns = sched;
    k->len = 0;
    k->body_left = -1;
    k->status = 0;
    k->close_after = false;
    g->inflight++;
    /* A small request goes out whole at once; the answer can then be read, and the next
     * request sent, before libuv would have called a write callback, so a write request is
     * allocated only for what try_write could not send (never one reused while pending). */
    uv_buf_t b = uv_buf_init(g->req, (unsigned)g->req_len);
    int n = uv_try_write((uv_stream_t *)&k->tcp, &b, 1);
    if (n == (int)g->req_len)
        return;
    if (n > 0)
        b = uv_buf_init(g->req + n, (unsigned)(g->req_len - (size_t)n));
    else if (n != UV_EAGAIN)
        return fail_request(k);
    uv_write_t *w = malloc(sizeof *w);
    if (!w)
        return fail_request(k);
    w->data = k;
    if (uv_write(w, (uv_stream_t *)&k->tcp, &b, 1, on_written) != 0) {
        free(w);
        fail_request(k);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    lg_conn_t *k = h->data;
    if (k->body_left >= 0) { /* body bytes are only counted */
        *b = uv_buf_init(k->buf, sizeof k->buf);
        return;
    }
    *b = uv_buf_init(k->buf + k->len, (unsigned)(sizeof k->buf - k->len));
}

static bool header_is(const char *line, size_t n, const char *name, const char **val)
{
    size_t ln = strlen(name);
    if (n <= ln || strncasecmp(line, name, ln) != 0 || line[ln] != ':')
        return false;
    const char *v = line + ln + 1;
    while (*v == ' ')
        v++;
    *val = v;
    return true;
}

/* The head is whole in buf[0, end): status, Content-Length, Connection. */
static void parse_head(lg_conn_t *k, size_t end)
{
    k->status = (int)strtol(k->buf + 9, NULL, 10); /* "HTTP/1.1 503 ..." */
    long clen = 0;
    const char *p = memchr(k->buf, '\n', end);
    while (p && (size_t)(p + 1 - k->buf) < end) {
        const char *line = p + 1;
        const char *nl = memchr(line, '\n', end - (size_t)(line - k->buf));
        size_t n = nl ? (size_t)(nl - line) : 0;
        const char *v;
        if (header_is(line, n, "Content-Length", &v))
            clen = strtol(v, NULL, 10);
        else if (header_is(line, n, "Connection", &v) && strncasecmp(v, "close", 5) == 0)
            k->close_after = true;
        p = nl;
    }
    k->body_left = clen - (long)(k->len - end);
}

static void complete(lg_conn_t *k)
{
    lg_t *g = k->g;
    k->busy = false;
    g->inflight--;
    record(g, k);
    if (k->close_after) {
        conn_close(k);
    } else {
        k->next_idle = g->idle;
        g->idle = k;
    }
    dispatch(g);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    lg_conn_t *k = s->data;
    (void)b;
    if (n < 0) {
        fail_request(k);
        if (!k->g->stopping)
            dispatch(k->g);
        return;
    }
    if (n == 0 || !k->busy)
        return;
    if (k->body_left >= 0) {
        k->body_left -= n;
    } else {
        k->len += (size_t)n;
        char *e = memmem(k->buf, k->len, "\r\n\r\n", 4);
        if (!e) {
            if (k->len == sizeof k->buf)
                fail_request(k);
            return;
        }
        parse_head(k, (size_t)(e + 4 - k->buf));
    }
    if (k->body_left <= 0)
        complete(k);
}

static bool queue_pop(lg_t *g, uint64_t *sched)
{
    if (g->qhead == g->qtail)
        return false;
    *sched = g->queue[g->qhead++];
    return true;
}

static void on_connect(uv_connect_t *cr, int status)
{
    lg_conn_t *k = cr->data;
    lg_t *g = k->g;
    g->connecting--;
    if (status < 0) {
        uint64_t dropped;
        if (queue_pop(g, &dropped)) /* one request fails with the connection */
            g->r->errors++;
        conn_close(k);
        return;
    }
    uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    uint64_t sched;
    if (!g->stopping && queue_pop(g, &sched)) {
        send_one(k, sched);
    } else {
        k->next_idle = g->idle;
        g->idle = k;
    }
}

static void open_conn(lg_t *g)
{
    lg_conn_t *k = calloc(1, sizeof *k);
    if (!k)
        return;
    k->g = g;
    k->next_all = g->all;
    g->all = k;
    uv_tcp_init(&g->loop, &k->tcp);
    uv_tcp_nodelay(&k->tcp, 1);
    k->tcp.data = k;
    k->creq.data = k;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", g->c.port, &a);
    g->nconns++;
    g->connecting++;
    if (uv_tcp_connect(&k->creq, &k->tcp, (const struct sockaddr *)&a, on_connect) != 0) {
        g->connecting--;
        g->r->errors++;
        conn_close(k);
    }
}

static void dispatch(lg_t *g)
{
    uint64_t sched;
    while (g->idle && g->qhead != g->qtail) {
        lg_conn_t *k = g->idle;
        g->idle = k->next_idle;
        queue_pop(g, &sched);
        send_one(k, sched);
    }
    /* at most 256 connects in progress: a burst of thousands overflows the listen backlog, and
     * a dropped SYN is retried only after a second */
    size_t waiting = g->qtail - g->qhead;
    while ((size_t)g->connecting < waiting && g->connecting < 256 && g->nconns < g->c.max_conns)
        open_conn(g);
}

static void stop_all(lg_t *g)
{
    g->stopping = true;
    uv_timer_stop(&g->tick);
    g->r->errors += (uint64_t)g->inflight + (g->qtail - g->qhead);
    g->inflight = 0;
    g->qhead = g->qtail;
    for (lg_conn_t *k = g->all; k; k = k->next_all) {
        k->busy = false;
        conn_close(k);
    }
}

static void on_tick(uv_timer_t *t)
{
    lg_t *g = t->data;
    uint64_t now = uv_hrtime();
    if (now < g->end_ns) {
        uint64_t due = (uint64_t)((double)(now - g->t0) * g->c.rate / 1e9);
        while (g->issued < due && g->qtail < g->qcap)
            g->queue[g->qtail++] = g->t0 + (uint64_t)((double)g->issued++ * 1e9 / g->c.rate);
        dispatch(g);
        return;
    }
    if ((g->inflight == 0 && g->qhead == g->qtail) || now >= g->deadline_ns)
        stop_all(g);
    else
        dispatch(g);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int lg_run(const lg_conf_t *c, lg_result_t *out)
{
    memset(out, 0, sizeof *out);
    lg_t *g = calloc(1, sizeof *g);
    if (!g || c->rate <= 0 || c->seconds <= 0)
        return free(g), -1;
    g->c = *c;
    if (g->c.max_conns <= 0)
        g->c.max_conns = 256;
    if (g->c.grace_ms <= 0)
        g->c.grace_ms = 2000;
    g->r = out;
    int n = snprintf(g->req, sizeof g->req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                     c->path, c->port);
    if (n <= 0 || (size_t)n >= sizeof g->req)
        return free(g), -1;
    g->req_len = (size_t)n;
    g->qcap = (size_t)(c->rate * c->seconds) + 16;
    g->queue = calloc(g->qcap, sizeof *g->queue);
    if (!g->queue || uv_loop_init(&g->loop) != 0)
        return free(g->queue), free(g), -1;
    uv_timer_init(&g->loop, &g->tick);
    g->tick.data = g;
    g->t0 = uv_hrtime();
    g->end_ns = g->t0 + (uint64_t)(c->seconds * 1e9);
    g->deadline_ns = g->end_ns + (uint64_t)g->c.grace_ms * 1000000u;
    uv_timer_start(&g->tick, on_tick, 0, 1);
    uv_run(&g->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&g->tick, on_closed);
    uv_run(&g->loop, UV_RUN_DEFAULT);
    uv_loop_close(&g->loop);
    out->scheduled = g->issued;
    out->seconds = c->seconds;
    out->goodput = (double)g->ok_in_time / c->seconds;
    if (g->nlat) {
        uint32_t *l = g->lat;
        size_t m = g->nlat;
        qsort(l, m, sizeof *l, cmp_u32); /* a few hundred thousand samples at most */
        size_t i99 = (size_t)((double)m * 0.99);
        out->p50_ms = l[m / 2] / 1000.0;
        out->p99_ms = l[i99 < m ? i99 : m - 1] / 1000.0;
        out->max_ms = l[m - 1] / 1000.0;
    }
    for (lg_conn_t *k = g->all, *nx; k; k = nx) {
        nx = k->next_all;
        free(k);
    }
    free(g->lat);
    free(g->queue);
    free(g);
    return 0;
}
