/* SPDX-License-Identifier: MIT
 *
 * h1_link.c: the HTTP/1.1 connection's primitives, below its reading (h1_conn.c), its streamed
 * bodies (h1_body.c) and its writing (h1_write.c): the timer lists, the recycled read buffers,
 * starting to read, closing and freeing. They call nothing of the codec above them; the files
 * above call the connection's state machine back only through c->up (cz__h1_up_t), which
 * h1_conn.c registers.
 */
#include <stdlib.h>
#include "http/http_int.h"

/* ---- lifecycle (the timer lists and read buffers are inline in http_int.h: every request
 * uses them) ---- */

void cz__h1_closed(cz__transport_t *t)
{
    cz_conn_t *c = (cz_conn_t *)t;
    cz_worker_t *w = c->w;
    if (c->req.in_to_list)
        cz__timeout_remove(&c->req);
    if (c->buf)
        cz__h1_buf_put(w, c->buf);
    free(c->out);
    cz_arena_dispose(&c->req.arena);
    if (c->aprev)
        c->aprev->anext = c->anext;
    else
        w->all = c->anext;
    if (c->anext)
        c->anext->aprev = c->aprev;
    w->nconns--;
    w->nclosing--;
    free(c);
}

/* The descriptor is released now (the transport closes it); the memory in cz__h1_closed. */
void cz__conn_release(cz_conn_t *c)
{
    c->w->nclosing++;
    c->tr.ops->close(&c->tr);
}

void cz__conn_close(cz_conn_t *c)
{
    if (c->closed)
        return;
    c->closed = true;
    c->req.link_closed = true; /* what the exchange sees of it */
    c->state = CS_CLOSING;
    cz__tl_set(c, TL_NONE);
    cz__swl_set(c, false);
    if (c->req.in_handler) {
        /* An async or pool handler still holds the request: it learns of the cancellation and
         * the connection is freed when it ends the response (cz__conn_request_done). */
        c->req.cancelled = true;
        c->tr.ops->read_stop(&c->tr);
        if (c->req.cancel_cb) {
            void (*cb)(cz_req_t *, void *) = c->req.cancel_cb;
            c->req.cancel_cb = NULL;
            cb(&c->req, c->req.cancel_ud); /* may end the request (c is freed by cz__h1_closed) */
        }
        /* a stream handler still waiting for its body hears of it even without a cancel
         * callback (shutdown deadline, write error, timeout): otherwise it would wait forever */
        if (c->req.in_handler && c->req.stream_body && c->req.body_cb && !c->req.body_done) {
            c->req.body_done = true;
            c->req.body_cb(&c->req, NULL, 0, CZ_ECLOSED, c->req.body_ud);
        }
        return;
    }
    cz__conn_release(c);
}

void cz__conn_start_reading(cz_conn_t *c)
{
    if (!c->reading && !c->closed && !c->peer_eof) {
        if (c->state == CS_STREAM && c->req.body_paused)
            return;
        if (c->tr.ops->read_start(&c->tr) == 0)
            c->reading = true;
    }
}

/* ---- the write deadline list ---- */

void cz__swl_set(cz_conn_t *c, bool on)
{
    cz__tlist_t *l = &c->w->swl;
    if (c->in_swl) {
        if (c->wprev)
            c->wprev->wnext = c->wnext;
        else
            l->head = c->wnext;
        if (c->wnext)
            c->wnext->wprev = c->wprev;
        else
            l->tail = c->wprev;
        c->wprev = c->wnext = NULL;
        c->in_swl = false;
    }
    if (!on || c->closed)
        return;
    /* one timeout for all: appending keeps the list sorted by deadline */
    c->wdeadline = uv_now(&c->w->loop) + l->timeout_ms;
    c->wprev = l->tail;
    if (l->tail)
        l->tail->wnext = c;
    else
        l->head = c;
    l->tail = c;
    c->in_swl = true;
}

void cz__swl_tick(cz_worker_t *w, uint64_t now)
{
    while (w->swl.head && w->swl.head->wdeadline <= now) {
        cz_conn_t *c = w->swl.head;
        cz__swl_set(c, false);
        cz__conn_close(c); /* the client stopped reading: as nginx's send_timeout */
    }
}
