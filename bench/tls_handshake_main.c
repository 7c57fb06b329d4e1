/* SPDX-License-Identifier: MIT
 *
 * tls_handshake_main.c: `czero-tls-handshake`, the new-connections-per-second load generator of
 * `make bench`'s TLS section (bench/tls.sh). wrk measures keep-alive HTTPS; this measures what
 * wrk cannot: a TLS handshake per request. One thread, non-blocking sockets and epoll, OpenSSL 3;
 * the bench pins it to the client CPU. N connection slots each loop, for a fixed time:
 *
 *   TCP connect, TLS handshake, one `GET <path> HTTP/1.1` with `Connection: close`, read the
 *   answer (headers and Content-Length body), read on until the server closes, close.
 *
 * In full mode no session is ever offered, so every handshake is a full one. In resume mode
 * each slot offers the session (TLS 1.3 ticket, or TLS 1.2 ticket/id) its previous connection
 * received; a slot's first connection, and the first after an error, is a full handshake.
 * SSL_session_reused() is checked on every connection: an offered session the server did not
 * resume counts as `unresumed`, a reuse in full mode as `unexpected_reuse`, and either makes the
 * exit status 3, so a server whose tickets do not work cannot pass for one with cheap resumption.
 *
 *   czero-tls-handshake -p PORT [-a 127.0.0.1] [-c 32] [-d 10] [-m full|resume] [-t 1.2|1.3]
 *                       [-u /hello] [-n localhost]
 *
 * prints one line of key=value pairs on stdout:
 *   connections= seconds= rate= full= resumed= unresumed= unexpected_reuse= errors= p50_us= p99_us=
 *   client_cpu_us=
 * connections counts answers with status 200 completed within the time; rate is per second;
 * latency is from connect() to the end of the answer; client_cpu_us is this process's own CPU
 * time (user + system) per connection, to tell whether the client or the server is the limit. Exit status: 0, 1 when it cannot run,
 * 3 when the resumption check failed or no connection completed.
 *
 * Not a general client: the server's certificate is not verified (the bench's is self-signed,
 * and chain building would cost the client CPU the server does not spend), answers must carry a
 * Content-Length, and nothing but the status line is checked of the answer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum st { ST_CONNECT, ST_HANDSHAKE, ST_WRITE, ST_READ, ST_DRAIN };

typedef struct slot {
    int fd;
    enum st st;
    SSL *ssl;
    SSL_SESSION *sess; /* the newest session the server gave this slot (resume mode) */
    int offered;       /* a session was offered on the current connection */
    uint64_t t0;       /* connect() time, ns */
    size_t wrote;
    char buf[4096];
    size_t got;
    long body_left; /* -1: headers not complete yet */
} slot_t;

static struct {
    const char *addr, *path, *sni;
    int port, conns, resume;
    double seconds;
    int tls_max; /* 0: the library's maximum */
} conf = {"127.0.0.1", "/hello", "localhost", 0, 32, 0, 10.0, 0};

static struct {
    uint64_t conns, full, resumed, unresumed, unexpected, errors;
    uint32_t *lat; /* µs per completed connection */
    size_t nlat, cap;
} res;

static SSL_CTX *ctx;
static int ep;
static char req[512];
static size_t req_len;
static uint64_t t_end;
static int measuring = 1;

static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* TLS 1.3 tickets arrive after the handshake; this callback keeps the newest one per slot (the
 * way OpenSSL documents for clients; SSL_get1_session right after the handshake has none yet). */
static int on_new_session(SSL *ssl, SSL_SESSION *s)
{
    slot_t *sl = SSL_get_app_data(ssl);
    if (!conf.resume || !sl) return 0;
    SSL_SESSION_free(sl->sess);
    sl->sess = s;
    return 1; /* the slot owns the reference now */
}

/* Replaces OpenSSL's chain building and verification (which runs, and costs the client, even
 * with SSL_VERIFY_NONE): the bench's certificate is self-signed and trusted by construction. The
 * handshake's own signature (CertificateVerify) is still checked by the protocol. */
static int skip_chain(X509_STORE_CTX *x, void *arg)
{
    return 1;
}

static void slot_start(slot_t *s);

static void slot_close(slot_t *s)
{
    if (s->ssl) {
        SSL_set_app_data(s->ssl, NULL);
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0) {
        close(s->fd); /* also removes it from the epoll set */
        s->fd = -1;
    }
}

static void slot_fail(slot_t *s, const char *what)
{
    static int shown;
    if (measuring) {
        res.errors++;
        if (shown++ < 5) {
            unsigned long e = ERR_peek_error();
            fprintf(stderr, "czero-tls-handshake: %s: %s%s%s\n", what,
                    errno ? strerror(errno) : "", e ? " " : "",
                    e ? ERR_reason_error_string(e) : "");
        }
    }
    ERR_clear_error();
    errno = 0;
    SSL_SESSION_free(s->sess); /* start over with a full handshake */
    s->sess = NULL;
    slot_close(s);
}

static void watch(slot_t *s, uint32_t ev, int op)
{
    struct epoll_event e = {.events = ev, .data.ptr = s};
    if (epoll_ctl(ep, op, s->fd, &e) != 0) slot_fail(s, "epoll_ctl");
}

static void slot_start(slot_t *s)
{
    if (now_ns() >= t_end) return;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) { slot_fail(s, "socket"); return; }
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)conf.port)};
    inet_pton(AF_INET, conf.addr, &sa.sin_addr);
    s->t0 = now_ns();
    s->st = ST_CONNECT;
    s->got = 0;
    s->wrote = 0;
    s->body_left = -1;
    s->offered = 0;
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        slot_fail(s, "connect");
        return;
    }
    watch(s, EPOLLOUT, EPOLL_CTL_ADD);
}

/* Maps an SSL_* result to the events to wait for; 0 when the slot failed. */
static uint32_t want(slot_t *s, int r, const char *what)
{
    switch (SSL_get_error(s->ssl, r)) {
    case SSL_ERROR_WANT_READ: return EPOLLIN;
    case SSL_ERROR_WANT_WRITE: return EPOLLOUT;
    default: slot_fail(s, what); return 0;
    }
}

/* Headers complete: checks the status and finds the Content-Length. */
static int parse_head(slot_t *s)
{
    s->buf[s->got < sizeof s->buf ? s->got : sizeof s->buf - 1] = 0;
    char *end = strstr(s->buf, "\r\n\r\n");
    if (!end) return s->got < sizeof s->buf - 1 ? 0 : -1;
    if (strncmp(s->buf, "HTTP/1.1 200 ", 13) != 0) return -1;
    char *cl = strcasestr(s->buf, "\r\ncontent-length:");
    if (!cl || cl > end) return -1;
    long n = strtol(cl + 17, NULL, 10);
    long have = (long)(s->got - (size_t)(end + 4 - s->buf));
    s->body_left = n - have;
    return 1;
}

static void record(slot_t *s)
{
    if (!measuring) return;
    res.conns++;
    if (SSL_session_reused(s->ssl)) res.resumed++; else res.full++;
    if (s->offered && !SSL_session_reused(s->ssl)) res.unresumed++;
    if (!s->offered && SSL_session_reused(s->ssl)) res.unexpected++;
    if (res.nlat == res.cap) {
        res.cap = res.cap ? res.cap * 2 : 65536;
        uint32_t *n = realloc(res.lat, res.cap * sizeof *n);
        if (!n) { perror("czero-tls-handshake: realloc"); exit(1); }
        res.lat = n;
    }
    res.lat[res.nlat++] = (uint32_t)((now_ns() - s->t0) / 1000);
}

static void step(slot_t *s)
{
    int r;
    uint32_t ev;
    for (;;) {
        switch (s->st) {
        case ST_CONNECT: {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) { errno = err; slot_fail(s, "connect"); return; }
            s->ssl = SSL_new(ctx);
            if (!s->ssl) { slot_fail(s, "SSL_new"); return; }
            SSL_set_app_data(s->ssl, s);
            SSL_set_fd(s->ssl, s->fd);
            SSL_set_tlsext_host_name(s->ssl, conf.sni);
            if (conf.resume && s->sess) {
                SSL_set_session(s->ssl, s->sess);
                s->offered = 1;
            }
            s->st = ST_HANDSHAKE;
            break;
        }
        case ST_HANDSHAKE:
            r = SSL_connect(s->ssl);
            if (r != 1) {
                if ((ev = want(s, r, "handshake"))) watch(s, ev, EPOLL_CTL_MOD);
                return;
            }
            s->st = ST_WRITE;
            break;
        case ST_WRITE:
            r = SSL_write(s->ssl, req + s->wrote, (int)(req_len - s->wrote));
            if (r <= 0) {
                if ((ev = want(s, r, "write"))) watch(s, ev, EPOLL_CTL_MOD);
                return;
            }
            s->wrote += (size_t)r;
            if (s->wrote == req_len) s->st = ST_READ;
            break;
        case ST_READ:
        case ST_DRAIN: {
            char sink[4096];
            char *dst = s->st == ST_READ && s->body_left < 0 ? s->buf + s->got : sink;
            size_t room = dst == sink ? sizeof sink : sizeof s->buf - 1 - s->got;
            r = SSL_read(s->ssl, dst, (int)room);
            if (r <= 0) {
                int e = SSL_get_error(s->ssl, r);
                if (s->st == ST_DRAIN && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    /* the server closed after the answer (close_notify, FIN or even RST) */
                    ERR_clear_error();
                    errno = 0;
                    /* a clean end: SSL_free would otherwise mark the session (the one whose
                     * ticket the slot keeps) not resumable, as after a broken connection */
                    SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
                    slot_close(s);
                    slot_start(s);
                    return;
                }
                if (e == SSL_ERROR_ZERO_RETURN) { slot_fail(s, "closed before the answer"); return; }
                if ((ev = want(s, r, "read"))) watch(s, ev, EPOLL_CTL_MOD);
                return;
            }
            if (s->st == ST_DRAIN) break; /* anything after the answer is ignored */
            if (s->body_left < 0) {
                s->got += (size_t)r;
                int h = parse_head(s);
                if (h < 0) { slot_fail(s, "not a 200 answer with Content-Length"); return; }
                if (h == 0) break;
            } else {
                s->body_left -= r;
            }
            if (s->body_left <= 0) {
                record(s);
                s->st = ST_DRAIN;
            }
            break;
        }
        }
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: czero-tls-handshake -p PORT [-a ADDR] [-c CONNS] [-d SECONDS] "
                    "[-m full|resume] [-t 1.2|1.3] [-u PATH] [-n SNI]\n");
    exit(1);
}

int main(int argc, char **argv)
{
    int o;
    while ((o = getopt(argc, argv, "p:a:c:d:m:t:u:n:")) != -1) {
        switch (o) {
        case 'p': conf.port = atoi(optarg); break;
        case 'a': conf.addr = optarg; break;
        case 'c': conf.conns = atoi(optarg); break;
        case 'd': conf.seconds = atof(optarg); break;
        case 'm':
            if (strcmp(optarg, "full") && strcmp(optarg, "resume")) usage();
            conf.resume = !strcmp(optarg, "resume");
            break;
        case 't':
            if (!strcmp(optarg, "1.2")) conf.tls_max = TLS1_2_VERSION;
            else if (!strcmp(optarg, "1.3")) conf.tls_max = TLS1_3_VERSION;
            else usage();
            break;
        case 'u': conf.path = optarg; break;
        case 'n': conf.sni = optarg; break;
        default: usage();
        }
    }
    if (conf.port <= 0 || conf.port > 65535 || conf.conns < 1 || conf.seconds <= 0) usage();
    req_len = (size_t)snprintf(req, sizeof req,
                               "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: czero-tls-handshake\r\n"
                               "Connection: close\r\n\r\n",
                               conf.path, conf.sni);

    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) { fprintf(stderr, "czero-tls-handshake: SSL_CTX_new failed\n"); return 1; }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, skip_chain, NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF); /* a FIN after the answer is fine */
    if (conf.tls_max) SSL_CTX_set_max_proto_version(ctx, conf.tls_max);
    /* sessions live in the slots, not in a cache the library searches */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);

    ep = epoll_create1(EPOLL_CLOEXEC);
    slot_t *slots = calloc((size_t)conf.conns, sizeof *slots);
    if (ep < 0 || !slots) { perror("czero-tls-handshake"); return 1; }
    uint64_t t0 = now_ns();
    double cpu0 = cpu_us();
    t_end = t0 + (uint64_t)(conf.seconds * 1e9);
    for (int i = 0; i < conf.conns; i++) {
        slots[i].fd = -1;
        slot_start(&slots[i]);
    }
    struct epoll_event evs[256];
    for (;;) {
        uint64_t now = now_ns();
        if (now >= t_end) break;
        int ms = (int)((t_end - now) / 1000000) + 1;
        int n = epoll_wait(ep, evs, 256, ms > 100 ? 100 : ms);
        if (n < 0 && errno != EINTR) { perror("czero-tls-handshake: epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) step(evs[i].data.ptr);
        /* a slot that failed restarts here, not from inside its own failure */
        for (int i = 0; i < conf.conns; i++)
            if (slots[i].fd < 0) slot_start(&slots[i]);
        if (res.errors >= 1000 && res.errors > 10 * res.conns) {
            fprintf(stderr, "czero-tls-handshake: giving up: %llu errors, %llu answers\n",
                    (unsigned long long)res.errors, (unsigned long long)res.conns);
            break;
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    double cpu = cpu_us() - cpu0;
    measuring = 0; /* connections still open are neither answers nor errors */
    for (int i = 0; i < conf.conns; i++) {
        SSL_SESSION_free(slots[i].sess);
        slots[i].sess = NULL;
        slot_close(&slots[i]);
    }
    uint32_t p50 = 0, p99 = 0;
    if (res.nlat) {
        qsort(res.lat, res.nlat, sizeof *res.lat, cmp_u32);
        p50 = res.lat[(res.nlat - 1) / 2];
        p99 = res.lat[(size_t)((double)(res.nlat - 1) * 0.99)];
    }
    printf("connections=%llu seconds=%.2f rate=%.1f full=%llu resumed=%llu unresumed=%llu "
           "unexpected_reuse=%llu errors=%llu p50_us=%u p99_us=%u client_cpu_us=%.1f\n",
           (unsigned long long)res.conns, secs, (double)res.conns / secs,
           (unsigned long long)res.full, (unsigned long long)res.resumed,
           (unsigned long long)res.unresumed, (unsigned long long)res.unexpected,
           (unsigned long long)res.errors, p50, p99, res.conns ? cpu / (double)res.conns : 0.0);
    free(res.lat);
    free(slots);
    SSL_CTX_free(ctx);
    close(ep);
    if (res.conns == 0 || res.unresumed || res.unexpected) return 3;
    return 0;
}
