/* SPDX-License-Identifier: MIT
 *
 * accept.c: a worker's accept loop: MaxConnections, running out of file descriptors, and the
 * log line and counters that say so.
 *
 * The worker polls its listening socket for readiness and calls accept4() itself rather than
 * through uv_listen, because libuv's own loop answers EMFILE with its "emfile trick" (close a
 * reserve descriptor, accept and close every queued connection, reopen it) without telling the
 * application: new clients were refused with no log line and no chance to close idle ones. Here,
 * as nginx does (ngx_drain_connections, ngx_event_accept):
 *  - at MaxConnections (this worker's share), or when accept fails with EMFILE/ENFILE, the
 *    oldest reusable connections are closed first: keep-alive idle ones and new ones that have
 *    sent nothing yet (the codec's, w->conn_drain), an eighth of the open ones, 1 to 32 at a time;
 *  - with nothing reusable, the new connection is accepted and closed at once (out of
 *    descriptors: through a spare descriptor closed for that moment), so the client learns it
 *    now instead of waiting in the kernel's queue; if even that fails the worker stops polling
 *    the listener until its next tick (100 ms), so it never spins;
 *  - every case is counted (cz__server_conn_stats, exported on /metrics by the prometheus
 *    module) and logged at most once a second per server, with what happened since the last
 *    line.
 * What this file is not: reading and serving a connection (the codec, h1/), the lifecycle (server.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "http/http_int.h"
#include "czero/log.h"

#define ACCEPT_BATCH 64 /* per readiness: a flood of connects does not starve the loop's reads */
#define LOG_EVERY_MS 1000

static void on_readable(uv_poll_t *p, int status, int events);
static void conn_log(cz_worker_t *w, bool force);

static int open_spare(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? fd : open("/", O_RDONLY | O_CLOEXEC);
}

/* Owner-thread increment of a counter other threads read. */
static inline void bump(uint64_t *p)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

static inline size_t open_conns(const cz_worker_t *w) { return w->nconns - w->nclosing; }

void cz__accept_start(cz_worker_t *w, int listen_fd)
{
    w->spare_fd = open_spare();
    if (uv_poll_init(&w->loop, &w->listener, listen_fd) != 0)
        return;
    uv_poll_start(&w->listener, UV_READABLE, on_readable);
    w->listening = true;
}

static void close_noop(uv_handle_t *h) { (void)h; }

void cz__accept_close(cz_worker_t *w)
{
    if (!w->listening)
        return;
    if (w->conns_drained || w->conns_refused || w->accept_nofd)
        conn_log(w, true); /* what the last second's line did not tell yet */
    w->listening = false;
    uv_close((uv_handle_t *)&w->listener, close_noop);
    close(w->listen_fd); /* uv_poll_t does not own it */
    if (w->spare_fd >= 0)
        close(w->spare_fd);
    w->spare_fd = -1;
}

void cz__server_conn_stats(const cz_server_t *s, cz__conn_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->max = (uint64_t)s->conf.max_connections;
    for (int i = 0; s->workers && i < s->nworkers; i++) {
        const cz_worker_t *w = &s->workers[i];
        out->open += __atomic_load_n(&w->nconns, __ATOMIC_RELAXED) -
                     __atomic_load_n(&w->nclosing, __ATOMIC_RELAXED);
        out->drained += __atomic_load_n(&w->conns_drained, __ATOMIC_RELAXED);
        out->refused += __atomic_load_n(&w->conns_refused, __ATOMIC_RELAXED);
        out->accept_nofd += __atomic_load_n(&w->accept_nofd, __ATOMIC_RELAXED);
    }
}

/* One line a second at most per server, with what happened since the last one; called after
 * each event and from the tick, so the tail of a burst is reported within a second too. */
static void conn_log(cz_worker_t *w, bool force)
{
    cz_server_t *s = w->srv;
    cz__conn_stats_t st;
    cz__server_conn_stats(s, &st);
    uint64_t now = uv_now(&w->loop), cur[3] = {st.drained, st.refused, st.accept_nofd}, d[3];
    pthread_mutex_lock(&s->conn_log_mu);
    bool news = cur[0] != s->conn_logged[0] || cur[1] != s->conn_logged[1] ||
                cur[2] != s->conn_logged[2];
    if (!news || (!force && s->conn_log_ms && now < s->conn_log_ms + LOG_EVERY_MS)) {
        pthread_mutex_unlock(&s->conn_log_mu);
        return;
    }
    uint64_t since = s->conn_log_ms ? now - s->conn_log_ms : 0;
    for (int i = 0; i < 3; i++) {
        d[i] = cur[i] - s->conn_logged[i];
        s->conn_logged[i] = cur[i];
    }
    __atomic_store_n(&s->conn_log_ms, now, __ATOMIC_RELAXED); /* the tick reads it unlocked */
    pthread_mutex_unlock(&s->conn_log_mu);
    struct rlimit rl = {0};
    getrlimit(RLIMIT_NOFILE, &rl);
    char window[48] = "";
    if (since)
        snprintf(window, sizeof window, " in the last %.1f s", (double)since / 1000.0);
    cz_log_error("server %s:%d is out of connections (MaxConnections %lld, %llu open, open files "
                 "limit %llu)%s: %llu idle connections closed to admit new ones, %llu new "
                 "connections refused, %llu accepts failed for lack of file descriptors",
                 s->host, s->port, (long long)s->conf.max_connections,
                 (unsigned long long)st.open, (unsigned long long)rl.rlim_cur, window,
                 (unsigned long long)d[0], (unsigned long long)d[1], (unsigned long long)d[2]);
}

void cz__accept_tick(cz_worker_t *w)
{
    if (w->accept_paused && w->listening && !w->stopping) {
        if (w->spare_fd < 0)
            w->spare_fd = open_spare();
        w->accept_paused = false;
        uv_poll_start(&w->listener, UV_READABLE, on_readable);
    }
    if (__atomic_load_n(&w->srv->conn_log_ms, __ATOMIC_RELAXED) || w->conns_drained ||
        w->conns_refused || w->accept_nofd)
        conn_log(w, false);
}

/* Close reusable connections to make room: an eighth of the open ones, 1 to 32 (nginx). */
static size_t make_room(cz_worker_t *w)
{
    size_t want = open_conns(w) / 8;
    want = want < 1 ? 1 : want > 32 ? 32 : want;
    size_t n = w->conn_drain(w, want);
    for (size_t i = 0; i < n; i++)
        bump(&w->conns_drained);
    return n;
}

/* Out of descriptors with nothing reusable: take one connection off the queue and close it,
 * through the spare descriptor. False when that is not possible either. */
static bool refuse_one(cz_worker_t *w)
{
    if (w->spare_fd < 0)
        return false;
    close(w->spare_fd);
    int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        bump(&w->conns_refused);
    }
    w->spare_fd = open_spare();
    return fd >= 0;
}

static void pause_accepting(cz_worker_t *w)
{
    uv_poll_stop(&w->listener);
    w->accept_paused = true;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    cz_worker_t *w = cz__container_of(p, cz_worker_t, listener);
    (void)events;
    if (status < 0 || w->stopping || !w->listening)
        return;
    bool event = false;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                break;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue;
            if (e == EMFILE || e == ENFILE) {
                bump(&w->accept_nofd);
                event = true;
                if (make_room(w) > 0 || refuse_one(w))
                    continue;
            } else {
                cz_log_error("server %s:%d: accept: %s", w->srv->host, w->srv->port, strerror(e));
            }
            pause_accepting(w);
            break;
        }
        if (open_conns(w) >= w->max_conns && make_room(w) == 0) {
            close(fd);
            bump(&w->conns_refused);
            event = true;
            continue;
        }
        if (!w->conn_open(w, fd))
            close(fd);
    }
    if (event)
        conn_log(w, false);
}
