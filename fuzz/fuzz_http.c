/* libFuzzer target for the HTTP request path: the input is a byte stream a client sends on one
 * connection (possibly several pipelined requests). It goes through the real connection code
 * (llhttp callbacks, limits, routing, handlers, responses, lingering close) over a socketpair,
 * on a loop run by this thread, so every execution is deterministic and needs no network. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>
#include "http/http_int.h"

static cz_server_t *srv;
static cz_worker_t worker;

static int hello(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t q = cz_req_query(req, "name");
    cz_str_t h = cz_req_header(req, "X-Test");
    cz_res_printf(res, "{\"q\":%zu,\"h\":%zu}", q.n, h.n);
    return CZ_DONE;
}

static int user(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t id = cz_req_param(req, "id");
    json_t *v = json_pack("{s:s%}", "id", id.p, id.n);
    cz_res_ok_json(res, v);
    json_decref(v);
    return CZ_DONE;
}

static int echo(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t b = cz_req_body(req);
    cz_res_write(res, b.p, b.n);
    return CZ_DONE;
}

static int stream(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_res_stream_begin(res);
    cz_str_t b = cz_req_path(req);
    cz_res_stream_write(res, b.p, b.n);
    cz_res_stream_end(res);
    return CZ_DONE;
}

/* Stream routes (CZ_ROUTE_STREAM_BODY): echo the body as it arrives; answer without reading;
 * pause at the first piece and stay paused until the connection goes (cancel ends it). */
static void sbody(cz_req_t *req, const void *data, size_t n, int err, void *ud)
{
    cz_res_t *res = ud;
    if (n) {
        cz_res_stream_write(res, data, n < 64 ? n : 64);
        if (cz_req_content_length(req) == 7) /* some inputs pause and resume inside a piece */
            cz_req_body_pause(req), cz_req_body_resume(req);
        return;
    }
    (void)err;
    cz_res_end(res);
}

static int supload(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    if (cz_req_body_read(req, sbody, res) != 0)
        return CZ_DONE;
    return CZ_AGAIN;
}

static int snread(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_write(res, "unread", 6);
    return CZ_DONE;
}

static void spause_cancel(cz_req_t *req, void *ud)
{
    (void)req;
    cz_res_end(ud);
}

static void spause_body(cz_req_t *req, const void *data, size_t n, int err, void *ud)
{
    (void)data;
    if (n) {
        cz_req_body_pause(req);
        return;
    }
    (void)err;
    cz_res_end(ud);
}

static int spause(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_req_on_cancel(req, spause_cancel, res);
    if (cz_req_body_read(req, spause_body, res) != 0)
        return CZ_DONE;
    return CZ_AGAIN;
}

static const cz_route_t routes[] = {
    {"POST", "/sup", supload, NULL, CZ_ROUTE_STREAM_BODY},
    {"POST", "/snread", snread, NULL, CZ_ROUTE_STREAM_BODY},
    {"POST", "/spause", spause, NULL, CZ_ROUTE_STREAM_BODY},
    {"GET", "/hello", hello, NULL, 0},          {"GET", "/users/:id", user, NULL, 0},
    {"POST", "/echo", echo, NULL, 0},           {"PUT", "/users/:id/items/:item", echo, NULL, 0},
    {"GET", "/stream/:x", stream, NULL, 0},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static cz_rest_conf_t conf;
    cz_conf_defaults(cz_rest_conf_fields, &conf, NULL);
    conf.middlewares.log = false;
    conf.max_bytes = 4096;
    conf.max_header_bytes = 2048;
    conf.max_request_line = 512;
    srv = cz_server_new(&conf, NULL);
    cz_server_add_routes(srv, routes, sizeof routes / sizeof routes[0], NULL, NULL);
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
    if (size > 100000)
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
