/* SPDX-License-Identifier: MIT
 *
 * static.c: static files from a directory (go-zero rest.WithFileServer over net/http's
 * FileServer), behaviour described in include/czero/static.h.
 *
 * The route is GET <prefix> plus a trailing "*path" wildcard segment, an async handler on the
 * loop whose disk work runs on the loop's libuv threadpool: realpath(), open() and fstat() in one
 * uv_queue_work, then the body by uv_fs_read, so a slow disk never stalls an event loop.
 * Containment has two layers: the engine decodes and cleans the URL path before routing (so the
 * captured rest never holds ".."), and the resolved real path must lie below the directory's real
 * path (so symlinks cannot lead out); the final open() uses O_NOFOLLOW and O_NONBLOCK (a FIFO
 * planted in the tree cannot hang a thread). A race where a directory inside the tree is
 * swapped for a symlink between realpath() and open() is not covered; openat2(RESOLVE_BENEATH)
 * would close it where the kernel has it.
 *
 * Bodies up to CZ_STATIC_SMALL_BODY are read whole into the request arena and leave with the
 * head in one write. Larger ones are streamed with their Content-Length, nginx-style: a
 * READ_CHUNK read, handed to the socket in pieces the engine's recycled write buffers take,
 * and the next read only while less than HIGH_WATER waits for the client (else on drain), so
 * a request holds one read buffer plus at most HIGH_WATER + READ_CHUNK queued, whatever the
 * file size. The open fd belongs to the request: it is closed before the response ends on every
 * path (done, read error, client gone, shutdown); a cancellation that arrives while a disk
 * operation is in flight is finished by that operation's callback, so the arena that holds the
 * read buffer outlives every read. The route has no handler timeout (a large download to a slow
 * client is not a stuck handler); WriteTimeout still closes a client that stops reading. The
 * small "static" group middleware only owns the configuration, so it is freed with the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "http_int.h"
#include "czero/log.h"
#include "czero/static.h"

typedef struct static_dir {
    char *root; /* realpath of the directory */
    size_t rootlen;
} static_dir_t;

/* ---- content types: the common web types (Go's mime builtins plus a few) ---- */

static const struct {
    const char *ext, *type;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"},  {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},  {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},    {"xml", "text/xml; charset=utf-8"},
    {"svg", "image/svg+xml"},              {"png", "image/png"},
    {"jpg", "image/jpeg"},                 {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},                  {"webp", "image/webp"},
    {"avif", "image/avif"},                {"ico", "image/vnd.microsoft.icon"},
    {"wasm", "application/wasm"},          {"pdf", "application/pdf"},
    {"zip", "application/zip"},            {"gz", "application/gzip"},
    {"woff", "font/woff"},                 {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},                   {"otf", "font/otf"},
    {"mp4", "video/mp4"},                  {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},                 {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},                  {"map", "application/json"},
};

static const char *content_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot && dot[1])
        for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
    return "application/octet-stream";
}

/* ---- conditional requests and ranges ---- */

/* Does the If-None-Match list hold our (weak) tag? Weak comparison: W/ prefixes are ignored. */
static bool etag_listed(cz_str_t list, const char *etag)
{
    const char *tag = etag + 2; /* without W/ */
    size_t tn = strlen(tag);
    const char *p = list.p, *end = list.p + list.n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *q = p;
        while (q < end && *q != ',')
            q++;
        const char *e = q;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e - p == 1 && *p == '*')
            return true;
        if (e - p > 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        if ((size_t)(e - p) == tn && memcmp(p, tag, tn) == 0)
            return true;
        p = q;
    }
    return false;
}

static bool parse_http_date(cz_str_t v, time_t *out)
{
    char buf[64];
    if (!v.p || v.n >= sizeof buf)
        return false;
    memcpy(buf, v.p, v.n);
    buf[v.n] = '\0';
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return false;
    *out = timegm(&tm);
    return true;
}

static bool parse_u64(const char *p, const char *end, uint64_t *out)
{
    if (p == end)
        return false;
    uint64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

enum { RANGE_NONE, RANGE_ONE, RANGE_BAD };

/* One "bytes=" range against size (net/http parseRange rules for a single range). */
static int parse_range(cz_str_t h, uint64_t size, uint64_t *start, uint64_t *len)
{
    if (h.n < 6 || strncmp(h.p, "bytes=", 6) != 0)
        return RANGE_BAD;
    const char *p = h.p + 6, *end = h.p + h.n;
    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    if (memchr(p, ',', (size_t)(end - p)))
        return RANGE_NONE; /* several ranges: the whole file (see static.h) */
    const char *dash = memchr(p, '-', (size_t)(end - p));
    if (!dash)
        return RANGE_BAD;
    uint64_t a, b;
    if (dash == p) { /* "-n": the last n bytes */
        if (!parse_u64(dash + 1, end, &b) || b == 0 || size == 0)
            return RANGE_BAD;
        if (b > size)
            b = size;
        *start = size - b;
        *len = b;
        return RANGE_ONE;
    }
    if (!parse_u64(p, dash, &a) || a >= size)
        return RANGE_BAD;
    if (dash + 1 == end) {
        b = size - 1;
    } else {
        if (!parse_u64(dash + 1, end, &b) || b < a)
            return RANGE_BAD;
        if (b >= size)
            b = size - 1;
    }
    *start = a;
    *len = b - a + 1;
    return RANGE_ONE;
}

/* ---- serving ---- */

#define READ_CHUNK (128u << 10)
#define PIECE 16384u /* fits the engine's recycled streamed-write buffers (h1/h1_write.c) */
#define HIGH_WATER (256u << 10)

/* One file request; in the request arena, so it lives until the response ends. */
typedef struct static_req {
    cz_req_t *req;
    const static_dir_t *sd;
    uv_work_t work;
    uv_fs_t fs;
    char *full, *real; /* arena buffers filled by the open work */
    const char *name;  /* the path the content type is taken from */
    int fd;            /* -1 once closed */
    int err_status;    /* the open work's answer when fd < 0 */
    struct stat st;
    char *buf;
    uint64_t off, left, got;
    bool busy;      /* a threadpool operation is in flight: it finishes a cancellation */
    bool cancelled; /* the client went away (or shutdown reached its deadline) */
    bool small;     /* the whole body goes into buf and out as one collected answer */
} static_req_t;

static int answer(cz_res_t *res, int status, const char *msg)
{
    cz_res_error(res, status, msg);
    return CZ_DONE;
}

static void close_fd(static_req_t *sr)
{
    if (sr->fd >= 0)
        close(sr->fd);
    sr->fd = -1;
}

/* End the response (the last thing done with sr: ending may free the request). */
static void finish(static_req_t *sr)
{
    close_fd(sr);
    cz_req_on_cancel(sr->req, NULL, NULL);
    cz_res_end(&sr->req->res);
}

/* The streamed body cannot be completed: the client sees it truncated. */
static void abort_stream(static_req_t *sr, const char *why)
{
    cz_log_error("static: %s: %s at byte %" PRIu64, sr->name, why, sr->off);
    close_fd(sr);
    cz_req_on_cancel(sr->req, NULL, NULL);
    cz_res_abort(&sr->req->res);
}

static void on_cancel(cz_req_t *r, void *ud)
{
    static_req_t *sr = ud;
    (void)r;
    sr->cancelled = true;
    if (!sr->busy) /* else the operation's callback finishes */
        finish(sr);
}

/* Threadpool: resolve and open the file below the root, following the containment rules. The
 * fd, or fd -1 and the HTTP status to answer with. */
static void open_work(uv_work_t *w)
{
    static_req_t *sr = cz__container_of(w, static_req_t, work);
    const static_dir_t *sd = sr->sd;
    sr->err_status = 404;
    if (!realpath(sr->full, sr->real)) {
        sr->err_status = errno == EACCES ? 403 : 404;
        return;
    }
    if (sd->rootlen > 1 &&
        (strncmp(sr->real, sd->root, sd->rootlen) != 0 ||
         (sr->real[sd->rootlen] != '/' && sr->real[sd->rootlen] != '\0'))) {
        sr->err_status = 403; /* a symlink leading out of the directory */
        return;
    }
    int fd = open(sr->real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0) {
        sr->err_status = errno == EACCES ? 403 : 404;
        return;
    }
    sr->name = sr->real;
    if (fstat(fd, &sr->st) == 0 && S_ISDIR(sr->st.st_mode)) { /* index.html or nothing */
        int ifd = openat(fd, "index.html", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
        close(fd);
        if (ifd < 0)
            return;
        fd = ifd;
        sr->name = "index.html";
    }
    if (fstat(fd, &sr->st) != 0) {
        close(fd);
        sr->err_status = 500;
        return;
    }
    if (!S_ISREG(sr->st.st_mode)) { /* no listings, FIFOs, devices */
        close(fd);
        return;
    }
    sr->fd = fd;
}

static void pump(static_req_t *sr);

static void on_drain(cz_res_t *res, void *ud)
{
    (void)res;
    pump(ud);
}

static void read_done(uv_fs_t *f)
{
    static_req_t *sr = cz__container_of(f, static_req_t, fs);
    ssize_t n = f->result;
    uv_fs_req_cleanup(f);
    sr->busy = false;
    if (sr->cancelled) {
        finish(sr);
        return;
    }
    cz_res_t *res = &sr->req->res;
    if (n <= 0) { /* an error, or the file shrank under us */
        if (!sr->small) {
            abort_stream(sr, n < 0 ? uv_strerror((int)n) : "file shrank");
            return;
        }
        cz_log_error("static: %s: read failed: %s", sr->name,
                     n < 0 ? uv_strerror((int)n) : "file shrank");
        cz_res_clear(res); /* not the file's headers on the error answer */
        cz_res_error(res, 500, "read failed");
        finish(sr);
        return;
    }
    sr->off += (uint64_t)n;
    sr->left -= (uint64_t)n;
    if (sr->small) {
        sr->got += (uint64_t)n;
        if (sr->left) {
            pump(sr);
            return;
        }
        /* the arena buffer becomes the body as it is: no second copy of the file */
        res->body = sr->buf;
        res->body_len = res->body_cap = (size_t)sr->got;
        finish(sr);
        return;
    }
    for (size_t at = 0; at < (size_t)n; at += PIECE) {
        size_t k = (size_t)n - at < PIECE ? (size_t)n - at : PIECE;
        if (cz_res_stream_write(res, sr->buf + at, k) != 0) {
            abort_stream(sr, "write failed");
            return;
        }
    }
    if (!sr->left) {
        finish(sr); /* the whole length went out: cz_res_end ends the stream */
        return;
    }
    pump(sr);
}

/* Read the next piece, unless the client is behind: then wait for its socket to drain. */
static void pump(static_req_t *sr)
{
    if (!sr->small && cz_res_stream_pending(&sr->req->res) > HIGH_WATER) {
        cz_res_on_drain(&sr->req->res, on_drain, sr);
        return;
    }
    size_t want = sr->left < READ_CHUNK ? (size_t)sr->left : READ_CHUNK;
    uv_buf_t b = uv_buf_init(sr->small ? sr->buf + sr->got : sr->buf, (unsigned)want);
    sr->busy = true;
    int rc = uv_fs_read(&sr->req->w->loop, &sr->fs, sr->fd, &b, 1, (int64_t)sr->off, read_done);
    if (rc < 0) {
        sr->busy = false;
        uv_fs_req_cleanup(&sr->fs);
        if (!sr->small) {
            abort_stream(sr, uv_strerror(rc));
            return;
        }
        cz_res_clear(&sr->req->res);
        cz_res_error(&sr->req->res, 503, "service unavailable");
        finish(sr);
    }
}

/* Loop thread, the file open: validators, conditions and range decide the answer. */
static void serve(static_req_t *sr)
{
    cz_req_t *r = sr->req;
    cz_res_t *res = &r->res;
    const struct stat *st = &sr->st;
    uint64_t size = (uint64_t)st->st_size;
    char etag[64], lastmod[40];
    snprintf(etag, sizeof etag, "W/\"%" PRIx64 "-%" PRIx64 "\"", size,
             (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
    struct tm tm;
    gmtime_r(&st->st_mtim.tv_sec, &tm);
    strftime(lastmod, sizeof lastmod, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cz_res_header(res, "Accept-Ranges", "bytes");
    cz_res_header(res, "ETag", etag);
    cz_res_header(res, "Last-Modified", lastmod);

    /* RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only without it */
    cz_str_t inm = cz_req_header(r, "If-None-Match");
    time_t ims;
    if (inm.p ? etag_listed(inm, etag)
              : parse_http_date(cz_req_header(r, "If-Modified-Since"), &ims) &&
                    st->st_mtim.tv_sec <= ims) {
        cz_res_status(res, 304);
        finish(sr);
        return;
    }

    uint64_t start = 0, len = size;
    int status = 200;
    cz_str_t range = cz_req_header(r, "Range");
    if (range.p) {
        cz_str_t ifr = cz_req_header(r, "If-Range");
        bool honour = !ifr.p || cz_str_eq(ifr, cz_str_c(lastmod)); /* weak tags never match */
        int kind = honour ? parse_range(range, size, &start, &len) : RANGE_NONE;
        if (kind == RANGE_BAD) {
            char cr[48];
            snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
            cz_res_header(res, "Content-Range", cr);
            answer(res, 416, "invalid range");
            finish(sr);
            return;
        }
        if (kind == RANGE_ONE) {
            char cr[80];
            snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start,
                     start + len - 1, size);
            cz_res_header(res, "Content-Range", cr);
            status = 206;
        } else {
            start = 0;
            len = size;
        }
    }
    cz_res_header(res, "Content-Type", content_type(sr->name));
    cz_res_status(res, status);
    if (r->head) { /* the length without reading a byte; the engine sends no body */
        cz_res_stream_begin_length(res, (int64_t)len);
        finish(sr);
        return;
    }
    if (len == 0) {
        finish(sr);
        return;
    }
    sr->off = start;
    sr->left = len;
    sr->small = len <= CZ_STATIC_SMALL_BODY;
    sr->buf = cz_arena_alloc(cz_req_arena(r), sr->small ? (size_t)len : READ_CHUNK);
    if (!sr->buf) {
        cz_res_clear(res);
        answer(res, 503, "out of memory");
        finish(sr);
        return;
    }
    if (!sr->small && cz_res_stream_begin_length(res, (int64_t)len) != 0) {
        finish(sr); /* the client is gone: the request settles as 499 */
        return;
    }
    pump(sr);
}

static void open_done(uv_work_t *w, int status)
{
    static_req_t *sr = cz__container_of(w, static_req_t, work);
    sr->busy = false;
    if (sr->cancelled) {
        finish(sr);
        return;
    }
    if (status < 0) { /* the work never ran (libuv cancelled it) */
        answer(&sr->req->res, 503, "service unavailable");
        finish(sr);
        return;
    }
    if (sr->fd < 0) {
        int st = sr->err_status;
        answer(&sr->req->res, st, st == 404 ? "404 page not found" : cz_status_text(st));
        finish(sr);
        return;
    }
    serve(sr);
}

static int static_handler(cz_req_t *r, cz_res_t *res, void *ud)
{
    cz_str_t rel = cz_req_param(r, "path");
    if (!rel.p || memchr(rel.p, '\0', rel.n))
        return answer(res, 404, "404 page not found");
    cz_arena_t *a = cz_req_arena(r);
    static_req_t *sr = cz_arena_calloc(a, sizeof *sr);
    if (!sr)
        return answer(res, 503, "out of memory");
    sr->req = r;
    sr->sd = ud;
    sr->fd = -1;
    sr->full = cz_arena_sprintf(a, "%s/%.*s", sr->sd->root, (int)rel.n, rel.p);
    sr->real = cz_arena_alloc(a, PATH_MAX);
    if (!sr->full || !sr->real)
        return answer(res, 503, "out of memory");
    sr->busy = true;
    if (uv_queue_work(&r->w->loop, &sr->work, open_work, open_done) != 0)
        return answer(res, 503, "service unavailable");
    cz_req_on_cancel(r, on_cancel, sr);
    return CZ_AGAIN;
}

/* ---- registration ---- */

static cz_mw_step_t static_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)mw, (void)r, (void)res, (void)ctx;
    return CZ_MW_NEXT;
}

static void static_free(cz_mw_t *mw)
{
    static_dir_t *sd = mw->data;
    if (!sd)
        return;
    free(sd->root);
    free(sd);
    mw->data = NULL;
}

static const cz_mw_ops_t static_ops = {.name = "static", .enter = static_enter,
                                       .free = static_free};

int cz_server_static(cz_server_t *s, const char *url_prefix, const char *dir)
{
    if (!s || !url_prefix || !dir || (url_prefix[0] && url_prefix[0] != '/'))
        return CZ_EARG;
    static_dir_t *sd = calloc(1, sizeof *sd);
    if (!sd)
        return CZ_ENOMEM;
    cz_mw_t mw = {.ops = &static_ops, .data = sd};
    sd->root = realpath(dir, NULL);
    if (!sd->root) {
        int e = errno;
        static_free(&mw);
        return e == ENOMEM ? CZ_ENOMEM : -e;
    }
    struct stat st;
    if (stat(sd->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        static_free(&mw);
        return -ENOTDIR;
    }
    sd->rootlen = strlen(sd->root);
    size_t pn = strlen(url_prefix);
    while (pn && url_prefix[pn - 1] == '/')
        pn--;
    char *pattern = malloc(pn + sizeof "/*path");
    if (!pattern) {
        static_free(&mw);
        return CZ_ENOMEM;
    }
    memcpy(pattern, url_prefix, pn);
    memcpy(pattern + pn, "/*path", sizeof "/*path");
    cz_route_t route = {"GET", pattern, static_handler, sd, 0};
    /* no handler timeout: a long download is progress, and WriteTimeout catches a stalled one */
    cz_route_opts_t opts = {.timeout_ms = -1, .middlewares = &mw, .nmiddlewares = 1};
    cz_diag_t d = {0};
    int rc = cz_server_add_routes(s, &route, 1, &opts, &d);
    free(pattern);
    if (rc) {
        cz_log_error("static %s: %s", url_prefix, d.msg);
        static_free(&mw);
    }
    return rc;
}
