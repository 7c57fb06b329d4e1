/* SPDX-License-Identifier: MIT
 *
 * tcp.c: the plain TCP transport (transport.h): a libuv TCP stream, read into the buffers the
 * codec gives, written with uv_try_write first and uv_write for what the socket does not take.
 * It knows nothing of HTTP; the codec registered its callbacks at open. No TLS: the accessors
 * answer false / NULL.
 */
#include <stdlib.h>
#include <sys/ioctl.h>
#include "http/transport/transport.h"

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *out)
{
    cz__transport_t *t = (cz__transport_t *)h;
    (void)hint;
    t->cbs->alloc(t, out);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cz__transport_t *t = (cz__transport_t *)s;
    (void)buf;
    if (nread < 0) /* libuv keeps reading after ENOBUFS; stop so both cases look alike */
        uv_read_stop(s);
    t->cbs->read(t, nread);
}

static int tcp_read_start(cz__transport_t *t)
{
    return uv_read_start((uv_stream_t *)&t->tcp, on_alloc, on_read);
}

static void tcp_read_stop(cz__transport_t *t) { uv_read_stop((uv_stream_t *)&t->tcp); }

static int tcp_try_write(cz__transport_t *t, const uv_buf_t *b, unsigned n)
{
    return uv_try_write((uv_stream_t *)&t->tcp, b, n);
}

static void on_write(uv_write_t *req, int status)
{
    cz__twrite_t *wr = (cz__twrite_t *)req;
    wr->cb(wr, status);
}

static int tcp_write(cz__transport_t *t, cz__twrite_t *wr, const uv_buf_t *b, unsigned n,
                     cz__twrite_cb cb)
{
    wr->t = t;
    wr->cb = cb;
    return uv_write(&wr->uv, (uv_stream_t *)&t->tcp, b, n, on_write);
}

static void on_shutdown(uv_shutdown_t *req, int status) { (void)req, (void)status; }

static void tcp_shutdown(cz__transport_t *t)
{
    uv_shutdown(&t->sreq, (uv_stream_t *)&t->tcp, on_shutdown);
}

static void on_close(uv_handle_t *h)
{
    cz__transport_t *t = (cz__transport_t *)h;
    t->cbs->closed(t);
}

static void tcp_close(cz__transport_t *t) { uv_close((uv_handle_t *)&t->tcp, on_close); }

static size_t tcp_queued(const cz__transport_t *t)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&t->tcp);
}

/* One ioctl: asked on the reuse path only (a worker out of connections), never per request. */
static bool tcp_unread(const cz__transport_t *t)
{
    uv_os_fd_t fd;
    int pending = 0;
    return uv_fileno((const uv_handle_t *)&t->tcp, &fd) != 0 || ioctl(fd, FIONREAD, &pending) != 0 ||
           pending != 0;
}

static int tcp_peer(const cz__transport_t *t, struct sockaddr_storage *ss)
{
    int len = sizeof *ss;
    return uv_tcp_getpeername(&t->tcp, (struct sockaddr *)ss, &len);
}

static bool no_tls(const cz__transport_t *t) { (void)t; return false; }
static const char *no_str(const cz__transport_t *t) { (void)t; return NULL; }

const cz__transport_ops_t cz__tcp_ops = {
    .name = "tcp",
    .read_start = tcp_read_start,
    .read_stop = tcp_read_stop,
    .try_write = tcp_try_write,
    .write = tcp_write,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
    .queued = tcp_queued,
    .unread = tcp_unread,
    .peer = tcp_peer,
    .is_tls = no_tls,
    .sni = no_str,
    .alpn = no_str,
    .peer_subject = no_str,
};

static void free_unopened(uv_handle_t *h) { free(h); }

int cz__tcp_open(cz__transport_t *t, uv_loop_t *loop, int fd, const cz__transport_cbs_t *cbs)
{
    uv_tcp_init(loop, &t->tcp);
    int rc = uv_tcp_open(&t->tcp, fd);
    if (rc != 0) {
        uv_close((uv_handle_t *)&t->tcp, free_unopened);
        return rc;
    }
    t->ops = &cz__tcp_ops;
    t->cbs = cbs;
    t->impl = NULL;
    uv_tcp_nodelay(&t->tcp, 1);
    return 0;
}
