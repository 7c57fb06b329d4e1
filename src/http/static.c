/* SPDX-License-Identifier: MIT
 *
 * static.c: static files from a directory (go-zero rest.WithFileServer over net/http's
 * FileServer), behaviour described in include/czero/static.h.
 *
 * The route is GET <prefix> plus a trailing "*path" wildcard segment, on the blocking pool:
 * realpath(), open() and read() may block on a slow disk and must not stall an event loop.
 * Containment has two layers: the engine decodes and cleans the URL path before routing (so the
 * captured rest never holds ".."), and the resolved real path must lie below the directory's real
 * path (so symlinks cannot lead out); the final open() uses O_NOFOLLOW and O_NONBLOCK (a FIFO
 * planted in the tree cannot hang a pool thread). A race where a directory inside the tree is
 * swapped for a symlink between realpath() and open() is not covered; openat2(RESOLVE_BENEATH)
 * would close it where the kernel has it.
 *
 * Bodies are read into the request arena because a blocking handler cannot stream (the socket
 * belongs to the loop thread), hence CZ_STATIC_MAX_BODY. The route carries a small "static"
 * group middleware that only owns the configuration, so it is freed with the server.
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

static int answer(cz_res_t *res, int status, const char *msg)
{
    cz_res_error(res, status, msg);
    return CZ_DONE;
}

/* Open the file for rel below the root, following the containment rules; the fd or an HTTP
 * status (negative) to answer with. *name is the path used for the content type. */
static int open_inside(const static_dir_t *sd, cz_req_t *r, cz_str_t rel, const char **name)
{
    if (!rel.p || memchr(rel.p, '\0', rel.n))
        return -404;
    char *full = cz_arena_sprintf(cz_req_arena(r), "%s/%.*s", sd->root, (int)rel.n, rel.p);
    char *real = cz_arena_alloc(cz_req_arena(r), PATH_MAX);
    if (!full || !real)
        return -503;
    if (!realpath(full, real))
        return errno == EACCES ? -403 : -404;
    if (sd->rootlen > 1 &&
        (strncmp(real, sd->root, sd->rootlen) != 0 ||
         (real[sd->rootlen] != '/' && real[sd->rootlen] != '\0')))
        return -403; /* a symlink leading out of the directory */
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return errno == EACCES ? -403 : -404;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -500;
    }
    *name = real;
    if (S_ISDIR(st.st_mode)) { /* index.html or nothing: no listings */
        int ifd = openat(fd, "index.html", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
        close(fd);
        if (ifd < 0)
            return -404;
        fd = ifd;
        *name = "index.html";
    }
    return fd;
}

static int read_all(int fd, char *buf, uint64_t off, uint64_t len)
{
    uint64_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, (size_t)(len - got), (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1; /* an error, or the file shrank under us */
        got += (uint64_t)n;
    }
    return 0;
}

static int serve_fd(cz_req_t *r, cz_res_t *res, int fd, const char *name)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return answer(res, 500, "stat failed");
    if (!S_ISREG(st.st_mode))
        return answer(res, 404, "404 page not found");
    uint64_t size = (uint64_t)st.st_size;
    char etag[64], lastmod[40];
    snprintf(etag, sizeof etag, "W/\"%" PRIx64 "-%" PRIx64 "\"", size,
             (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec);
    struct tm tm;
    gmtime_r(&st.st_mtim.tv_sec, &tm);
    strftime(lastmod, sizeof lastmod, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cz_res_header(res, "Accept-Ranges", "bytes");
    cz_res_header(res, "ETag", etag);
    cz_res_header(res, "Last-Modified", lastmod);

    /* RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only without it */
    cz_str_t inm = cz_req_header(r, "If-None-Match");
    time_t ims;
    if (inm.p ? etag_listed(inm, etag)
              : parse_http_date(cz_req_header(r, "If-Modified-Since"), &ims) &&
                    st.st_mtim.tv_sec <= ims) {
        cz_res_status(res, 304);
        return CZ_DONE;
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
            return answer(res, 416, "invalid range");
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
    if (len > CZ_STATIC_MAX_BODY) {
        cz_log_error("static: %s is %" PRIu64 " bytes, above CZ_STATIC_MAX_BODY", name, len);
        return answer(res, 500, "file too large");
    }
    cz_res_header(res, "Content-Type", content_type(name));
    cz_res_status(res, status);
    if (len == 0)
        return CZ_DONE;
    char *buf = cz_arena_alloc(cz_req_arena(r), (size_t)len);
    if (!buf)
        return answer(res, 503, "out of memory");
    if (read_all(fd, buf, start, len) != 0) {
        res->hdrs_len = 0; /* drop the file's headers from the error answer */
        res->has_ctype = false;
        return answer(res, 500, "read failed");
    }
    /* the arena buffer becomes the body as it is: no second copy of the file */
    res->body = buf;
    res->body_len = res->body_cap = (size_t)len;
    return CZ_DONE;
}

static int static_handler(cz_req_t *r, cz_res_t *res, void *ud)
{
    const static_dir_t *sd = ud;
    const char *name = NULL;
    int fd = open_inside(sd, r, cz_req_param(r, "path"), &name);
    if (fd < 0) {
        int st = -fd;
        return answer(res, st, st == 404 ? "404 page not found" : cz_status_text(st));
    }
    int rc = serve_fd(r, res, fd, name);
    close(fd);
    return rc;
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
    cz_route_t route = {"GET", pattern, static_handler, sd, CZ_ROUTE_BLOCKING};
    cz_route_opts_t opts = {.middlewares = &mw, .nmiddlewares = 1};
    cz_diag_t d = {0};
    int rc = cz_server_add_routes(s, &route, 1, &opts, &d);
    free(pattern);
    if (rc) {
        cz_log_error("static %s: %s", url_prefix, d.msg);
        static_free(&mw);
    }
    return rc;
}
