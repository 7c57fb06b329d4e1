/* SPDX-License-Identifier: MIT
 *
 * Integration tests of large static files (src/http/static.c streaming) on a real server: a
 * 40 MiB file (sparse, with marked blocks, so it takes ~200 KiB of disk) comes whole with its
 * Content-Length and every byte right; a Range in its middle is 206 with the right bytes; HEAD
 * has the length and no body; a client leaving mid-file gets its file descriptor closed and the
 * server keeps serving; a slow reader does not make the server read ahead of it (the bytes the
 * process read from disk stay within a few MiB of what the client took); a server stop in the
 * middle of a download ends it and closes the file.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "czero/static.h"
#include "http_client.h"
#include "test_server.h"

#define MIB (1024u * 1024u)
#define BIG_SIZE (40ull * MIB)
#define MARK_AT 777u /* marked block in every MiB, not aligned to any read size */
#define MARK_LEN 4096u
#define TAIL_LEN 100u

static ts_t t;
static char base[64], root[96], bigpath[128];

/* The byte the big file holds at o: marked blocks and the tail carry a pattern, holes are 0. */
static uint8_t pattern(uint64_t o) { return (uint8_t)(o ^ (o >> 8) ^ (o >> 16) ^ 0x5a); }

static uint8_t want(uint64_t o)
{
    uint64_t m = o % MIB;
    if ((m >= MARK_AT && m < MARK_AT + MARK_LEN) || o >= BIG_SIZE - TAIL_LEN)
        return pattern(o);
    return 0;
}

static void write_at(int fd, uint64_t off, size_t n)
{
    uint8_t b[MARK_LEN];
    for (size_t i = 0; i < n; i++)
        b[i] = pattern(off + i);
    cr_assert_eq(pwrite(fd, b, n, (off_t)off), (ssize_t)n);
}

static void start_server(ts_t *s)
{
    cz_diag_t d = {0};
    s->srv = cz_server_new(&s->conf, &d);
    cr_assert_not_null(s->srv, "%s", d.msg);
    cr_assert_eq(cz_server_static(s->srv, "/static", root), 0);
    cr_assert_eq(cz_server_start(s->srv), 0);
    s->port = cz_server_port(s->srv);
}

static void setup(void)
{
    strcpy(base, "/tmp/cz_static_big_XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(root, sizeof root, "%s/root", base);
    cr_assert_eq(mkdir(root, 0755), 0);
    snprintf(bigpath, sizeof bigpath, "%s/big.bin", root);
    int fd = open(bigpath, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)BIG_SIZE), 0); /* sparse: holes read as zeros */
    for (uint64_t m = 0; m < BIG_SIZE / MIB; m++)
        write_at(fd, m * MIB + MARK_AT, MARK_LEN);
    write_at(fd, BIG_SIZE - TAIL_LEN, TAIL_LEN);
    close(fd);
    char p[160];
    snprintf(p, sizeof p, "%s/hello.txt", root);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    fputs("hello static\n", f);
    fclose(f);
    ts_init(&t);
    start_server(&t);
}

static void teardown(void)
{
    ts_stop(&t);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(static_big, .init = setup, .fini = teardown, .timeout = 60);

/* ---- a raw client that checks the body as it arrives (no 40 MiB buffer) ---- */

typedef struct raw {
    int fd;
    int status;
    int64_t clen;
    char head[4096];
    char extra[65536]; /* body bytes that came with the head */
    size_t nextra;
} raw_t;

static int raw_connect(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (rcvbuf) /* before connect, so the window is small from the start */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static const char *raw_header(const raw_t *r, const char *name)
{
    static char v[256];
    char pat[80];
    snprintf(pat, sizeof pat, "\r\n%s: ", name);
    const char *p = strcasestr(r->head, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    size_t n = strcspn(p, "\r");
    snprintf(v, sizeof v, "%.*s", (int)n, p);
    return v;
}

/* Send a request and read its head; the body (if any) stays on the socket (and in extra). */
static void raw_request(raw_t *r, int fd, const char *method, const char *target,
                        const char *hdrs)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n", method, target,
                     hdrs ? hdrs : "");
    cr_assert_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        cr_assert_lt(len, sizeof r->head - 1, "head too long");
        ssize_t k = recv(fd, r->head + len, sizeof r->head - 1 - len, 0);
        cr_assert_gt(k, 0, "no head: %s", strerror(errno));
        len += (size_t)k;
        r->head[len] = '\0';
        end = strstr(r->head, "\r\n\r\n");
    }
    r->nextra = len - (size_t)(end + 4 - r->head);
    memcpy(r->extra, end + 4, r->nextra);
    end[2] = '\0'; /* keep the last header's CRLF for raw_header */
    cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    const char *cl = raw_header(r, "Content-Length");
    r->clen = cl ? strtoll(cl, NULL, 10) : -1;
}

/* Read n body bytes that should equal the big file from offset `from`; returns mismatches
 * and fills *hash (FNV-1a) of what came. */
static uint64_t raw_body(raw_t *r, uint64_t from, uint64_t n, uint64_t *hash)
{
    static uint8_t buf[1 << 16];
    uint64_t bad = 0, got = 0, h = 1469598103934665603ull;
    size_t take = r->nextra < n ? r->nextra : (size_t)n;
    memcpy(buf, r->extra, take);
    size_t have = take;
    r->nextra = 0;
    for (;;) {
        for (size_t i = 0; i < have; i++, got++) {
            bad += buf[i] != want(from + got);
            h = (h ^ buf[i]) * 1099511628211ull;
        }
        if (got == n)
            break;
        uint64_t room = n - got < sizeof buf ? n - got : sizeof buf;
        ssize_t k = recv(r->fd, buf, (size_t)room, 0);
        cr_assert_gt(k, 0, "body ended at %llu of %llu", (unsigned long long)got,
                     (unsigned long long)n);
        have = (size_t)k;
    }
    *hash = h;
    return bad;
}

static uint64_t expected_hash(uint64_t from, uint64_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ want(from + i)) * 1099511628211ull;
    return h;
}

/* Another request on the same connection still works: the previous body was framed exactly. */
static void expect_hello_on(int fd)
{
    raw_t r;
    raw_request(&r, fd, "GET", "/static/hello.txt", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.clen, 13);
    while (r.nextra < 13) {
        ssize_t k = recv(fd, r.extra + r.nextra, sizeof r.extra - r.nextra, 0);
        cr_assert_gt(k, 0);
        r.nextra += (size_t)k;
    }
    cr_assert_eq(r.nextra, 13, "nothing after the body");
    cr_assert_eq(memcmp(r.extra, "hello static\n", 13), 0);
}

/* How many open descriptors of this process refer to the big file. */
static int big_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[300], target[512];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(p, target, sizeof target - 1);
        if (k <= 0)
            continue;
        target[k] = '\0';
        n += strstr(target, "/root/big.bin") != NULL;
    }
    closedir(d);
    return n;
}

static bool no_big_fds_within(long ms)
{
    long t0 = tc_now_ms();
    while (big_fds() > 0) {
        if (tc_now_ms() - t0 > ms)
            return false;
        usleep(10000);
    }
    return true;
}

/* Bytes this process has read through read()/pread() (its file reads; recv() is not counted). */
static uint64_t rchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    cr_assert_not_null(f);
    unsigned long long v = 0;
    char line[128];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "rchar: %llu", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* ---- tests ---- */

Test(static_big, whole_file_with_length_and_right_bytes)
{
    int fd = raw_connect(t.port, 0);
    raw_t r;
    raw_request(&r, fd, "GET", "/static/big.bin", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.clen, (int64_t)BIG_SIZE);
    cr_assert_null(raw_header(&r, "Transfer-Encoding"));
    cr_assert_str_eq(raw_header(&r, "Accept-Ranges"), "bytes");
    cr_assert_not_null(raw_header(&r, "ETag"));
    uint64_t h;
    cr_assert_eq(raw_body(&r, 0, BIG_SIZE, &h), 0, "bytes differ from the file");
    cr_assert_eq(h, expected_hash(0, BIG_SIZE), "checksum");
    expect_hello_on(fd);
    close(fd);
    cr_assert(no_big_fds_within(2000), "the file stays open after the answer");
}

Test(static_big, range_in_the_middle_is_206)
{
    const uint64_t a = 20 * MIB - 1000, b = 22 * MIB + 5000; /* spans two marked blocks */
    char h[96];
    snprintf(h, sizeof h, "Range: bytes=%llu-%llu\r\n", (unsigned long long)a,
             (unsigned long long)b);
    int fd = raw_connect(t.port, 0);
    raw_t r;
    raw_request(&r, fd, "GET", "/static/big.bin", h);
    cr_assert_eq(r.status, 206);
    cr_assert_eq(r.clen, (int64_t)(b - a + 1));
    char cr[96];
    snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)a, (unsigned long long)b,
             (unsigned long long)BIG_SIZE);
    cr_assert_str_eq(raw_header(&r, "Content-Range"), cr);
    uint64_t hash;
    cr_assert_eq(raw_body(&r, a, b - a + 1, &hash), 0, "range bytes differ");
    cr_assert_eq(hash, expected_hash(a, b - a + 1));
    expect_hello_on(fd);

    raw_request(&r, fd, "GET", "/static/big.bin", "Range: bytes=-100\r\n"); /* the tail */
    cr_assert_eq(r.status, 206);
    cr_assert_eq(r.clen, 100);
    cr_assert_eq(raw_body(&r, BIG_SIZE - 100, 100, &hash), 0);
    close(fd);
}

Test(static_big, head_has_length_and_no_body)
{
    int fd = raw_connect(t.port, 0);
    raw_t r;
    long t0 = tc_now_ms();
    raw_request(&r, fd, "HEAD", "/static/big.bin", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.clen, (int64_t)BIG_SIZE);
    cr_assert_eq(r.nextra, 0);
    expect_hello_on(fd); /* any body bytes after HEAD would show up here */
    cr_assert_lt(tc_now_ms() - t0, 2000);
    close(fd);
    cr_assert(no_big_fds_within(2000));
}

Test(static_big, client_leaving_mid_file_closes_it)
{
    for (int i = 0; i < 3; i++) {
        int fd = raw_connect(t.port, 0);
        raw_t r;
        raw_request(&r, fd, "GET", "/static/big.bin", NULL);
        cr_assert_eq(r.status, 200);
        char buf[8192];
        cr_assert_gt(recv(fd, buf, sizeof buf, MSG_WAITALL), 0);
        if (i == 1)
            shutdown(fd, SHUT_WR); /* a FIN first, then the close */
        close(fd);                 /* unread data: a reset */
    }
    cr_assert(no_big_fds_within(3000), "a download the client left still holds the file");
    tc_resp_t r;
    cr_assert_eq(tc_get(t.port, "/static/hello.txt", &r), 0);
    cr_assert_eq(r.status, 200, "the server keeps serving");
    cr_assert_str_eq(r.body, "hello static\n");
    tc_resp_free(&r);
}

Test(static_big, slow_reader_is_not_read_ahead_of)
{
    const uint64_t bound = 8 * MIB; /* socket buffers (~4 MiB on loopback) + the 256 KiB queue */
    int fd = raw_connect(t.port, 64 * 1024);
    uint64_t r0 = rchar();
    raw_t r;
    raw_request(&r, fd, "GET", "/static/big.bin", NULL);
    cr_assert_eq(r.status, 200);
    usleep(300 * 1000); /* not reading: the server must stop */
    uint64_t ahead = rchar() - r0;
    cr_assert_lt(ahead, bound, "read %llu bytes of the file for a client that took none",
                 (unsigned long long)ahead);

    /* trickle 2 MiB, then check again */
    uint64_t got = 0, bad = 0, h;
    static uint8_t buf[65536];
    size_t take = r.nextra;
    for (size_t i = 0; i < take; i++)
        bad += (uint8_t)r.extra[i] != want(got + i);
    got += take;
    while (got < 2 * MIB) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        cr_assert_gt(k, 0);
        for (ssize_t i = 0; i < k; i++)
            bad += buf[i] != want(got + (uint64_t)i);
        got += (uint64_t)k;
        usleep(2000);
    }
    usleep(100 * 1000);
    ahead = rchar() - r0 - got;
    cr_assert_lt(ahead, bound, "%llu bytes read ahead of a slow client",
                 (unsigned long long)ahead);
    /* the rest at full speed: it all arrives, right */
    r.nextra = 0;
    bad += raw_body(&r, got, BIG_SIZE - got, &h);
    cr_assert_eq(bad, 0);
    expect_hello_on(fd);
    close(fd);
}

Test(static_big, stop_mid_download_closes_the_file)
{
    ts_t s;
    ts_init(&s);
    s.conf.shutdown_timeout_ms = 300;
    start_server(&s);
    int fd = raw_connect(s.port, 64 * 1024);
    raw_t r;
    raw_request(&r, fd, "GET", "/static/big.bin", NULL);
    cr_assert_eq(r.status, 200);
    long t0 = tc_now_ms();
    ts_stop(&s); /* the client reads nothing: the shutdown deadline cuts the download */
    cr_assert_lt(tc_now_ms() - t0, 3000);
    cr_assert(no_big_fds_within(1000), "the stopped server left the file open");
    /* the client sees a truncated body: fewer bytes than announced, then EOF or reset */
    uint64_t got = r.nextra;
    char buf[65536];
    ssize_t k;
    while ((k = recv(fd, buf, sizeof buf, 0)) > 0)
        got += (uint64_t)k;
    cr_assert_lt(got, BIG_SIZE);
    close(fd);
}
