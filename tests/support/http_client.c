/* The blocking HTTP test client (see http_client.h). */
#include "http_client.h"
#include <arpa/inet.h>
#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

long tc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tc_connect(tc_conn_t *c, int port, int timeout_ms)
{
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

void tc_close(tc_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int tc_send(tc_conn_t *c, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tc_sendf(tc_conn_t *c, const char *fmt, ...)
{
    char buf[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        return -1;
    return tc_send(c, buf, (size_t)n);
}

typedef struct pstate {
    tc_resp_t *r;
    bool done, head, in_value;
} pstate_t;

static int on_hfield(llhttp_t *p, const char *at, size_t n)
{
    pstate_t *s = p->data;
    tc_resp_t *r = s->r;
    if (s->in_value || r->nheaders == 0) {
        if (r->nheaders == TC_MAX_HEADERS)
            return 0;
        r->nheaders++;
        r->name[r->nheaders - 1][0] = r->value[r->nheaders - 1][0] = 0;
        s->in_value = false;
    }
    strncat(r->name[r->nheaders - 1], at, n < 63 ? n : 63);
    return 0;
}

static int on_hvalue(llhttp_t *p, const char *at, size_t n)
{
    pstate_t *s = p->data;
    tc_resp_t *r = s->r;
    s->in_value = true;
    if (r->nheaders)
        strncat(r->value[r->nheaders - 1], at, n < 511 ? n : 511);
    return 0;
}

static int on_hdone(llhttp_t *p)
{
    pstate_t *s = p->data;
    s->r->status = p->status_code;
    s->r->chunked = (p->flags & F_CHUNKED) != 0;
    s->r->keep_alive = llhttp_should_keep_alive(p);
    /* 1xx answers are interim: report them as responses of their own */
    return s->head ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    pstate_t *s = p->data;
    tc_resp_t *r = s->r;
    r->body = realloc(r->body, r->body_len + n + 1);
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return 0;
}

static int on_done(llhttp_t *p)
{
    ((pstate_t *)p->data)->done = true;
    return HPE_PAUSED;
}

int tc_read(tc_conn_t *c, tc_resp_t *r, bool head)
{
    memset(r, 0, sizeof *r);
    r->body = calloc(1, 1);
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_header_field = on_hfield;
    st.on_header_value = on_hvalue;
    st.on_headers_complete = on_hdone;
    st.on_body = on_body;
    st.on_message_complete = on_done;
    llhttp_t p;
    llhttp_init(&p, HTTP_RESPONSE, &st);
    pstate_t s = {.r = r, .head = head};
    p.data = &s;
    size_t off = 0;
    for (;;) {
        if (off < c->len) {
            llhttp_errno_t e = llhttp_execute(&p, c->buf + off, c->len - off);
            if (e == HPE_PAUSED) {
                size_t used = (size_t)(llhttp_get_error_pos(&p) - c->buf);
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
                return 0;
            }
            if (e != HPE_OK)
                return -1;
            off = c->len;
        }
        if (c->len == sizeof c->buf) { /* body larger than the buffer: keep only the tail */
            c->len = 0;
            off = 0;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n <= 0) {
            if (n == 0 && llhttp_message_needs_eof(&p) && llhttp_finish(&p) == HPE_OK) {
                c->len = 0;
                return s.done ? 0 : -1;
            }
            if (n == 0 && s.done)
                return 0;
            return -1;
        }
        c->len += (size_t)n;
    }
}

bool tc_closed(tc_conn_t *c, int timeout_ms)
{
    if (c->len)
        return false;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return false;
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

const char *tc_header(const tc_resp_t *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->name[i], name) == 0)
            return r->value[i];
    return NULL;
}

void tc_resp_free(tc_resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

int tc_get(int port, const char *path, tc_resp_t *r)
{
    tc_conn_t *c = malloc(sizeof *c);
    if (tc_connect(c, port, 5000) != 0) {
        free(c);
        return -1;
    }
    int rc = tc_sendf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    if (rc == 0)
        rc = tc_read(c, r, false);
    tc_close(c);
    free(c);
    return rc;
}
