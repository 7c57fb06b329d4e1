/* SPDX-License-Identifier: MIT
 *
 * fuzz_gateway_forward.c: libFuzzer target for the gateway's forwarding path, from the bytes a
 * client sends to the bytes the upstream client would send on: the server's real connection code
 * and HTTP/1.1 parser (over a socketpair, on a loop run by this thread, as fuzz_http), then the
 * proxy's request building (cz__proxy_request: hop-by-hop removal, X-Forwarded-*, X-Request-Id,
 * prefix strip and rewrite), then the upstream client's serialiser (cz__client_req_write and, for
 * a chunked body, cz__client_chunk: what cz_client_call and cz_call_write write), with no socket
 * on the upstream side.
 *
 * Invariants, each an abort() when broken:
 *   1. every request the server accepts and routes to the proxy can be written upstream (the
 *      client's check passes): otherwise the gateway could only refuse it (issue 12 point 1);
 *   2. the bytes written parse back with llhttp (HTTP_REQUEST, no lenient flags) as exactly one
 *      request with the same method, the target the route's rewrite gives, the same headers in
 *      order (plus Host when absent, minus framing) and the same body.
 * Not here: retries, balancing, the response path (fuzz_http_response covers the client parser).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <llhttp.h>
#include "gateway/gw_int.h"
#include "http/http_int.h"

#define NODE_ADDR "127.0.0.1:8080"
#define OUT_MAX (1u << 20)
#define MAX_BACK_HEADERS 256

static cz_server_t *srv;
static cz_worker_t worker;
/* "/api/..." is stripped of /api and rewritten to /v2; anything else goes on as it came */
static cz_proxy_route_t route_api = {.strip_prefix = "/api", .rewrite_prefix = "/v2"};
static cz_proxy_route_t route_all;
static bool skip_known; /* FUZZ_GWFWD_SKIP_KNOWN=1: see known_refusal() */

/* One forwarded request: the upstream request, its bytes so far, the body the server gave. */
typedef struct fwd {
    cz_res_t *res;
    cz_client_req_t rq;
    cz_str_t want_target;
    bool chunked;
    size_t out_len;
    size_t body_len;
} fwd_t;

static char out[OUT_MAX];
static char body[OUT_MAX];

static void dump(const char *what, const void *p, size_t n)
{
    fprintf(stderr, "%s (%zu bytes): \"", what, n);
    const unsigned char *s = p;
    for (size_t i = 0; i < n && i < 4096; i++)
        fprintf(stderr, s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' ? "%c"
                                                                                   : "\\x%02x",
                s[i]);
    fprintf(stderr, "\"\n");
}

#define FAIL(...)                                                                                \
    do {                                                                                         \
        fprintf(stderr, "fuzz_gateway_forward: " __VA_ARGS__);                                   \
        fprintf(stderr, "\n");                                                                   \
        abort();                                                                                 \
    } while (0)

/* The two refusals the server's parser is being changed to answer 400 itself (issue 12 point 1:
 * a folded header line, whose value then holds CR LF; an empty header name). Skipped only with
 * FUZZ_GWFWD_SKIP_KNOWN=1, to look for other findings on a branch without that change. */
static bool known_refusal(const cz_client_req_t *rq)
{
    for (size_t i = 0; i < rq->nheaders; i++) {
        cz_str_t v = rq->hvalue[i];
        if (rq->hname[i].n == 0 || (v.n && (memchr(v.p, '\r', v.n) || memchr(v.p, '\n', v.n))))
            return true;
    }
    return false;
}

/* ---- parsing the upstream bytes back ---- */

typedef struct back {
    int messages;
    char url[8192];
    size_t url_n;
    bool url_over;
    struct {
        size_t no, nn, vo, vn; /* offsets into the output buffer */
    } h[MAX_BACK_HEADERS];
    size_t nh;
    int last; /* 1 field, 2 value */
    char *body;
    size_t body_n;
} back_t;

static int b_url(llhttp_t *p, const char *at, size_t n)
{
    back_t *b = p->data;
    if (b->url_n + n > sizeof b->url) {
        b->url_over = true;
        return 0;
    }
    memcpy(b->url + b->url_n, at, n);
    b->url_n += n;
    return 0;
}

static int b_field(llhttp_t *p, const char *at, size_t n)
{
    back_t *b = p->data;
    if (b->last != 1) {
        if (b->nh == MAX_BACK_HEADERS)
            FAIL("more than %d headers parsed back", MAX_BACK_HEADERS);
        b->h[b->nh].no = (size_t)(at - out);
        b->h[b->nh].nn = b->h[b->nh].vn = b->h[b->nh].vo = 0;
        b->nh++;
        b->last = 1;
    }
    b->h[b->nh - 1].nn += n; /* pieces are contiguous: one buffer */
    return 0;
}

static int b_value(llhttp_t *p, const char *at, size_t n)
{
    back_t *b = p->data;
    if (b->last != 2) {
        b->h[b->nh - 1].vo = (size_t)(at - out);
        b->last = 2;
    }
    b->h[b->nh - 1].vn += n;
    return 0;
}

static int b_body(llhttp_t *p, const char *at, size_t n)
{
    back_t *b = p->data;
    if (b->body_n + n > OUT_MAX)
        FAIL("body parsed back is longer than the output");
    memcpy(b->body + b->body_n, at, n);
    b->body_n += n;
    return 0;
}

static int b_done(llhttp_t *p)
{
    back_t *b = p->data;
    b->messages++;
    return HPE_PAUSED;
}

static llhttp_settings_t back_settings;
static char back_body[OUT_MAX];

static bool str_is(cz_str_t s, const char *p, size_t n) { return s.n == n && !memcmp(s.p, p, n); }

static bool is_framing(cz_str_t n)
{
    return cz_str_ieq(n, CZ_STR("Content-Length")) || cz_str_ieq(n, CZ_STR("Transfer-Encoding"));
}

static void check_back(fwd_t *f)
{
    static back_t b;
    memset(&b, 0, offsetof(back_t, body));
    b.body = back_body;
    b.body_n = 0;
    llhttp_t p;
    llhttp_init(&p, HTTP_REQUEST, &back_settings);
    p.data = &b;
    llhttp_errno_t e = llhttp_execute(&p, out, f->out_len);
    if (e != HPE_PAUSED || b.messages != 1) {
        dump("upstream bytes", out, f->out_len);
        FAIL("not one whole request: %s (%s), %d messages", llhttp_errno_name(e),
             llhttp_get_error_reason(&p) ? llhttp_get_error_reason(&p) : "", b.messages);
    }
    size_t used = (size_t)(llhttp_get_error_pos(&p) - out);
    if (used != f->out_len) {
        dump("upstream bytes", out, f->out_len);
        FAIL("%zu bytes after the request", f->out_len - used);
    }
    const char *m = llhttp_method_name(llhttp_get_method(&p));
    if (!str_is(f->rq.method, m, strlen(m))) {
        dump("upstream bytes", out, f->out_len);
        FAIL("method %.*s came back as %s", (int)f->rq.method.n, f->rq.method.p, m);
    }
    if (b.url_over || !str_is(f->want_target, b.url, b.url_n)) {
        dump("upstream bytes", out, f->out_len);
        dump("target wanted", f->want_target.p, f->want_target.n);
        FAIL("the target changed");
    }
    if (b.body_n != f->body_len || memcmp(back_body, body, f->body_len) != 0) {
        dump("upstream bytes", out, f->out_len);
        dump("body sent", body, f->body_len);
        FAIL("the body changed");
    }
    /* headers: rq's in order minus framing, then Host when rq has none, then one framing */
    size_t k = 0;
    bool host = false;
    for (size_t i = 0; i < f->rq.nheaders; i++) {
        cz_str_t n = f->rq.hname[i], v = f->rq.hvalue[i];
        if (is_framing(n))
            continue;
        host |= cz_str_ieq(n, CZ_STR("Host"));
        if (k >= b.nh || !str_is(n, out + b.h[k].no, b.h[k].nn) ||
            !str_is(v, out + b.h[k].vo, b.h[k].vn)) {
            dump("upstream bytes", out, f->out_len);
            dump("header name", n.p, n.n);
            dump("header value", v.p, v.n);
            FAIL("header %zu did not come back as sent", i);
        }
        k++;
    }
    size_t extra = (host ? 0 : 1);
    if (b.nh < k + extra || b.nh > k + extra + 1) {
        dump("upstream bytes", out, f->out_len);
        FAIL("%zu headers came back for %zu sent", b.nh, k);
    }
    for (; k < b.nh; k++) {
        cz_str_t n = {out + b.h[k].no, b.h[k].nn};
        if (!is_framing(n) && !cz_str_ieq(n, CZ_STR("Host")))
            FAIL("unexpected header %.*s", (int)n.n, n.p);
    }
}

/* ---- the server side ---- */

static void on_body(cz_req_t *req, const void *data, size_t n, int err, void *ud)
{
    fwd_t *f = ud;
    (void)req;
    if (err < 0) { /* the body will not complete: nothing is forwarded */
        cz_res_end(f->res);
        return;
    }
    if (n) {
        if (f->body_len + n > OUT_MAX || f->out_len + n + CZ__CHUNK_OVERHEAD > OUT_MAX)
            FAIL("body over the buffers");
        memcpy(body + f->body_len, data, n);
        f->body_len += n;
        if (f->chunked) /* streamed on as it arrives, as the proxy does */
            f->out_len += cz__client_chunk(out + f->out_len, data, n);
        return;
    }
    if (f->chunked) {
        f->out_len += cz__client_chunk(out + f->out_len, NULL, 0);
    } else {
        f->rq.body = (cz_str_t){body, f->body_len};
        size_t need;
        bool has_host;
        if (cz__client_req_size(&f->rq, strlen(NODE_ADDR), &need, &has_host) != 0 ||
            need > OUT_MAX)
            FAIL("the request stopped being writable");
        f->out_len = cz__client_req_write(out, &f->rq, NODE_ADDR, has_host);
        if (f->out_len > need)
            FAIL("wrote %zu bytes, sized %zu", f->out_len, need);
    }
    check_back(f);
    cz_res_status(f->res, 204);
    cz_res_end(f->res);
}

static cz_str_t want_target(cz_req_t *req, const cz_proxy_route_t *rt, cz_arena_t *a)
{
    cz_str_t t = cz_req_target(req);
    /* route_api: "/api" then '/', '?' or the end becomes "/v2" and the rest */
    if (rt != &route_api || t.n < 4 || memcmp(t.p, "/api", 4) != 0 ||
        (t.n > 4 && t.p[4] != '/' && t.p[4] != '?'))
        return t;
    char *p = cz_arena_alloc(a, t.n - 4 + 3);
    if (!p)
        return CZ_STR_NULL;
    memcpy(p, "/v2", 3);
    memcpy(p + 3, t.p + 4, t.n - 4);
    return (cz_str_t){p, t.n - 4 + 3};
}

static int forward(cz_req_t *req, cz_res_t *res, void *ud)
{
    const cz_proxy_route_t *rt = ud;
    cz_arena_t *a = cz_req_arena(req);
    fwd_t *f = cz_arena_calloc(a, sizeof *f);
    if (!f || cz__proxy_request(req, rt, a, &f->rq) != 0)
        return cz_res_error(res, 503, "out of memory"), CZ_DONE;
    f->res = res;
    f->want_target = want_target(req, rt, a);
    if (!f->want_target.p)
        return cz_res_error(res, 503, "out of memory"), CZ_DONE;
    if (cz__client_req_check(&f->rq) != 0) {
        if (skip_known && known_refusal(&f->rq))
            return cz_res_error(res, 400, "known"), CZ_DONE;
        cz_str_t t = cz_req_target(req);
        dump("target", t.p, t.n);
        for (size_t i = 0; i < f->rq.nheaders; i++) {
            dump("  name", f->rq.hname[i].p, f->rq.hname[i].n);
            dump("  value", f->rq.hvalue[i].p, f->rq.hvalue[i].n);
        }
        FAIL("the server accepted a request the upstream client refuses to write");
    }
    int64_t cl = cz_req_content_length(req);
    if (cl < 0) { /* the proxy streams a chunked body: head first, then chunks */
        f->chunked = true;
        f->rq.body_stream = true;
        f->rq.body_len = -1;
        size_t need;
        bool has_host;
        if (cz__client_req_size(&f->rq, strlen(NODE_ADDR), &need, &has_host) != 0 ||
            need > OUT_MAX)
            FAIL("the request stopped being writable");
        f->out_len = cz__client_req_write(out, &f->rq, NODE_ADDR, has_host);
    }
    if (cz_req_body_read(req, on_body, f) != 0)
        return cz_res_error(res, 500, "body"), CZ_DONE;
    return CZ_AGAIN;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *sk = getenv("FUZZ_GWFWD_SKIP_KNOWN");
    skip_known = sk && *sk == '1';
    llhttp_settings_init(&back_settings);
    back_settings.on_url = b_url;
    back_settings.on_header_field = b_field;
    back_settings.on_header_value = b_value;
    back_settings.on_body = b_body;
    back_settings.on_message_complete = b_done;

    static cz_rest_conf_t conf;
    cz_conf_defaults(cz_rest_conf_fields, &conf, NULL);
    conf.middlewares.log = false;
    conf.max_bytes = 4096;
    conf.max_header_bytes = 4096;
    conf.max_request_line = 1024;
    srv = cz_server_new(&conf, NULL);
    /* the gateway's routes (tools/czero-gateway/gw_routes.c): every common method, a prefix
     * and the prefix with "*rest", streamed bodies */
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    cz_route_t r[32];
    size_t n = 0;
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        r[n++] = (cz_route_t){methods[i], "/api", forward, &route_api, CZ_ROUTE_STREAM_BODY};
        r[n++] = (cz_route_t){methods[i], "/api/*rest", forward, &route_api,
                              CZ_ROUTE_STREAM_BODY};
        r[n++] = (cz_route_t){methods[i], "/*rest", forward, &route_all, CZ_ROUTE_STREAM_BODY};
    }
    if (cz_server_add_routes(srv, r, n, NULL, NULL) != 0)
        abort();
    cz__worker_init(srv, &worker, 0, -1);
    return 0;
}

static void drain(int fd)
{
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 20000)
        return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 0;
    int sz = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    size_t off = 0;
    cz_conn_t *c = cz__conn_open_fd(&worker, sv[0]);
    if (!c) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    for (int i = 0; i < 2000 && worker.nconns; i++) {
        if (off < size) {
            ssize_t w = write(sv[1], data + off, size - off);
            if (w > 0)
                off += (size_t)w;
            if (off == size)
                shutdown(sv[1], SHUT_WR);
        } else if (size == 0 && i == 0) {
            shutdown(sv[1], SHUT_WR);
        }
        uv_run(&worker.loop, UV_RUN_NOWAIT);
        drain(sv[1]);
    }
    if (worker.nconns)
        cz__conn_close(c);
    while (worker.nconns)
        uv_run(&worker.loop, UV_RUN_NOWAIT);
    close(sv[1]);
    return 0;
}
