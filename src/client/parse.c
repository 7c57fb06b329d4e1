/* SPDX-License-Identifier: MIT
 *
 * parse.c: the llhttp callbacks of the upstream client (response mode). Header names and values
 * are recorded as offsets into the read buffer while the whole head arrives in one read (the
 * usual case: no copy); when a read ends inside the head, what was recorded is copied into the
 * connection's header buffer (cz__head_spill) and the rest of the head is appended there. The
 * head is bounded by max_header_bytes and CZ__CL_MAX_HEADERS; 1xx interim responses are
 * skipped; the head is handed to on_head as views; body pieces go to on_body straight from the
 * read buffer; the parser is paused at the end of each message so client_call.c can tell whether
 * bytes follow it. A callback that cancels or pauses the call is honoured through the return
 * value (llhttp's rule: never call llhttp_pause from a callback).
 */
#include <stdlib.h>
#include <string.h>
#include "client_int.h"

/* Copy n bytes to the end of the header buffer. */
static int hb_copy(cz__cconn_t *k, const char *at, size_t n)
{
    if (k->hlen + n > k->hcap) {
        uint32_t cap = k->hcap ? k->hcap : 2048;
        while (cap < k->hlen + n)
            cap *= 2;
        char *nb = realloc(k->hbuf, cap);
        if (!nb)
            return -1;
        k->hbuf = nb;
        k->hcap = cap;
    }
    if (n) /* llhttp may call back with an empty span: no memcpy from NULL + 0 */
        memcpy(k->hbuf + k->hlen, at, n);
    k->hlen += (uint32_t)n;
    return 0;
}

/* Account for a piece of the head; copied only once the head is no longer in the read buffer. */
static int hb_append(cz__cconn_t *k, const char *at, size_t n)
{
    k->head_bytes += (uint32_t)n;
    if (k->head_bytes > k->c->o.max_header_bytes)
        return -1;
    return k->head_in_rbuf ? 0 : hb_copy(k, at, n);
}

/* Where a piece that starts a name or value will be: its offset in the read buffer while the
 * head is there (llhttp calls back once per span per execute, so a piece there is whole), else
 * the end of the header buffer. */
static uint32_t hb_off(const cz__cconn_t *k, const char *at, size_t n)
{
    if (!k->head_in_rbuf)
        return k->hlen;
    return n ? (uint32_t)(at - k->rbuf) : 0; /* an empty span may come with any pointer */
}

int cz__head_spill(cz__cconn_t *k)
{
    if (!k->head_in_rbuf)
        return 0;
    /* names and values in order: the piece a later read continues is the last one copied */
    k->hlen = 0;
    for (uint32_t i = 0; i < k->nh; i++) {
        uint32_t no = k->hlen;
        if (hb_copy(k, k->rbuf + k->hno[i], k->hnl[i]) != 0)
            return -1;
        k->hno[i] = no;
        uint32_t vo = k->hlen;
        if (hb_copy(k, k->rbuf + k->hvo[i], k->hvl[i]) != 0)
            return -1;
        k->hvo[i] = vo;
    }
    k->head_in_rbuf = false;
    return 0;
}

static int p_message_begin(llhttp_t *p)
{
    cz__cconn_t *k = p->data;
    if (!k->call || k->call->cancelled)
        return HPE_USER;
    k->hlen = k->nh = k->head_bytes = 0;
    k->head_in_rbuf = true;
    k->last_cb = CB_NONE;
    return 0;
}

static int p_status(llhttp_t *p, const char *at, size_t n)
{
    cz__cconn_t *k = p->data;
    k->head_bytes += (uint32_t)n;
    return k->head_bytes > k->c->o.max_header_bytes ? -1 : 0;
}

static int p_header_field(llhttp_t *p, const char *at, size_t n)
{
    cz__cconn_t *k = p->data;
    if (k->last_cb != CB_FIELD) {
        if (k->nh == CZ__CL_MAX_HEADERS)
            return -1;
        k->hno[k->nh] = hb_off(k, at, n);
        k->hnl[k->nh] = k->hvo[k->nh] = k->hvl[k->nh] = 0;
        k->nh++;
        k->last_cb = CB_FIELD;
        k->head_bytes += 4; /* ": " and CRLF */
    }
    if (hb_append(k, at, n) != 0)
        return -1;
    k->hnl[k->nh - 1] += (uint32_t)n;
    return 0;
}

static int p_header_value(llhttp_t *p, const char *at, size_t n)
{
    cz__cconn_t *k = p->data;
    if (k->last_cb == CB_NONE)
        return -1; /* a value without a name (llhttp lets ": v" through) */
    if (k->last_cb != CB_VALUE) {
        k->hvo[k->nh - 1] = hb_off(k, at, n);
        k->last_cb = CB_VALUE;
    }
    if (hb_append(k, at, n) != 0)
        return -1;
    k->hvl[k->nh - 1] += (uint32_t)n;
    return 0;
}

static int p_header_value_complete(llhttp_t *p)
{
    ((cz__cconn_t *)p->data)->last_cb = CB_NONE;
    return 0;
}

static int p_headers_complete(llhttp_t *p)
{
    cz__cconn_t *k = p->data;
    cz_call_t *call = k->call;
    int status = p->status_code;
    if (!call || call->cancelled)
        return HPE_USER;
    if (status < 200) {
        if (status == 101 || status < 100)
            return -1; /* no upgrades through this client */
        call->interim = true;
        return 0;
    }
    for (uint32_t i = 0; i < k->nh; i++)
        if (k->hnl[i] == 0)
            return -1; /* a header without a name: refuse rather than forward it */
    call->head_done = true;
    call->info.status = status;
    /* from here the read (idle) timeout runs instead; a pause in on_head clears it again */
    k->dl_phase = 0;
    if (call->read_to) {
        k->dl_phase = uv_now(k->c->loop) + call->read_to;
        cz__cconn_arm(k);
    }
    if (call->cbs->on_head) {
        cz_str_t hn[CZ__CL_MAX_HEADERS], hv[CZ__CL_MAX_HEADERS];
        const char *base = k->head_in_rbuf ? k->rbuf : k->hbuf;
        for (uint32_t i = 0; i < k->nh; i++) {
            uint32_t vl = k->hvl[i];
            const char *v = base + k->hvo[i];
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) /* trailing OWS is no value */
                vl--;
            hn[i] = (cz_str_t){base + k->hno[i], k->hnl[i]};
            hv[i] = (cz_str_t){v, vl};
        }
        int r = call->cbs->on_head(call, status, hn, hv, k->nh, call->ud);
        if (call->cancelled || k->call != call)
            return HPE_USER;
        if (r != 0) {
            call->aborted = true;
            return HPE_USER;
        }
    }
    if (call->is_head)
        return 1; /* no body follows, whatever the framing headers say */
    return call->paused ? HPE_PAUSED : 0;
}

static int p_body(llhttp_t *p, const char *at, size_t n)
{
    cz__cconn_t *k = p->data;
    cz_call_t *call = k->call;
    if (!call || call->cancelled)
        return HPE_USER;
    if (n == 0) /* llhttp re-opens the body span on every execute; an empty piece is no news */
        return 0;
    if (call->cbs->on_body)
        call->cbs->on_body(call, at, n, call->ud);
    if (k->call != call || call->cancelled)
        return HPE_USER;
    return call->paused ? HPE_PAUSED : 0;
}

static int p_message_complete(llhttp_t *p)
{
    cz__cconn_t *k = p->data;
    cz_call_t *call = k->call;
    if (!call)
        return HPE_USER;
    if (call->interim) {
        call->interim = false;
        return 0;
    }
    call->msg_done = true;
    k->keep = llhttp_should_keep_alive(p);
    return HPE_PAUSED;
}

const llhttp_settings_t cz__client_parser_settings = {
    .on_message_begin = p_message_begin,
    .on_status = p_status,
    .on_header_field = p_header_field,
    .on_header_value = p_header_value,
    .on_header_value_complete = p_header_value_complete,
    .on_headers_complete = p_headers_complete,
    .on_body = p_body,
    .on_message_complete = p_message_complete,
};
