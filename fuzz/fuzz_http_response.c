/* SPDX-License-Identifier: MIT
 *
 * libFuzzer target for the upstream client's response path: the input is what an upstream
 * sends back on one connection. It runs through the real client code (src/client: reading,
 * llhttp in response mode, header limits, de-chunking, pause/resume, completion) over a
 * socketpair on a loop run by this thread, so it needs no network and stays deterministic.
 * The first input byte picks the request: bit 0 HEAD, bit 1 pause on every body piece and
 * resume from the loop, bit 2 a streamed chunked request body, bit 3 cancel after the head.
 * Invariants: no crash or leak, and on_done fires exactly once (never after a cancel).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "client/client_int.h"

static uv_loop_t loop;
static cz_client_t *client;

typedef struct run {
    int done, heads;
    bool pause, cancel_after_head, cancelled;
    size_t body;
    cz_call_t *call;
    uv_timer_t resume;
} run_t;

static void on_resume(uv_timer_t *t)
{
    run_t *r = t->data;
    if (!r->done && !r->cancelled)
        cz_call_resume(r->call);
}

static int on_head(cz_call_t *c, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                   void *ud)
{
    run_t *r = ud;
    r->heads++;
    if (status < 200 || status > 999)
        abort(); /* interim responses must never reach the caller */
    for (size_t i = 0; i < n; i++)
        if (!hn[i].n)
            abort();
    if (r->cancel_after_head) {
        r->cancelled = true;
        cz_call_cancel(c);
    }
    return 0;
}

static void on_body(cz_call_t *c, const void *data, size_t n, void *ud)
{
    run_t *r = ud;
    if (r->cancelled || n == 0)
        abort();
    r->body += n;
    if (r->pause) {
        cz_call_pause(c);
        uv_timer_start(&r->resume, on_resume, 0, 0);
    }
}

static void on_done(cz_call_t *c, int err, const cz_call_info_t *info, void *ud)
{
    run_t *r = ud;
    if (r->cancelled)
        abort();
    r->done++;
}

static const cz_call_cbs_t cbs = {on_head, on_body, NULL, on_done};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!client) {
        uv_loop_init(&loop);
        cz_client_opts_t o;
        cz_client_opts_init(&o);
        o.max_header_bytes = 4096;
        client = cz_client_new(&loop, &o);
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return 0;
    run_t r = {.pause = mode & 2, .cancel_after_head = mode & 8};
    uv_timer_init(&loop, &r.resume);
    r.resume.data = &r;
    cz_client_req_t rq = {.addr = "127.0.0.1:9", .method = (mode & 1) ? CZ_STR("HEAD")
                                                                      : CZ_STR("GET"),
                          .target = CZ_STR("/f"), .body_stream = (mode & 4) != 0, .body_len = -1};
    if (cz__client_call_fd(client, sv[0], &rq, &cbs, &r, &r.call) != 0) {
        close(sv[0]);
        close(sv[1]);
        uv_close((uv_handle_t *)&r.resume, NULL);
        uv_run(&loop, UV_RUN_NOWAIT);
        return 0;
    }
    if (mode & 4) {
        cz_call_write(r.call, "abc", 3);
        cz_call_write_end(r.call);
    }
    size_t off = 0;
    while (off < size) { /* the socket buffer holds far more than libFuzzer's inputs */
        ssize_t w = write(sv[1], data + off, size - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 100000 && !r.done && !r.cancelled; i++)
        uv_run(&loop, UV_RUN_ONCE);
    if (!r.cancelled && r.done != 1)
        abort();
    close(sv[1]);
    uv_close((uv_handle_t *)&r.resume, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_run(&loop, UV_RUN_NOWAIT);
    cz_client_stats_t st;
    cz_client_stats(client, &st);
    if (st.active != 0 || st.idle != 0)
        abort();
    return 0;
}
