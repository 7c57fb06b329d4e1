/* SPDX-License-Identifier: MIT
 *
 * client_tls.c: the upstream client's TLS connections: starting the session once TCP connects,
 * driving the handshake, and the read side (ciphertext from the socket into the session,
 * plaintext out of it into the connection's read buffer, then the same parser as plain TCP).
 * The write side is flush() in client_call.c (cz__cconn_flush_tls), the engine is src/tls/.
 *
 * Choices: the handshake runs under the connect deadline (nginx bounds its upstream handshake by
 * proxy_connect_timeout too), so a node that accepts TCP but never finishes TLS fails like one
 * that never accepts. A failed handshake fails the call with CZ_ETLS and OpenSSL's reason in
 * info.tls_error; it does not fall through to the name's next address (the address answered:
 * it is the certificate or the configuration that is wrong). An idle pooled connection that
 * receives anything but TLS housekeeping (a ticket, a key update) — close_notify, data, EOF —
 * is closed, never reused. Sessions are resumed from the context's per-"host:port" cache, so
 * every connection of a pool after the first resumes (TLS 1.3 tickets, TLS 1.2 session ids).
 * A pooled connection keeps its session's byte buffers (no cz__tls_trim when it goes idle): a
 * pool is bounded (Pool.Size) and already keeps a 16 KiB read buffer per connection, and trimming
 * cost two malloc/free pairs per keep-alive request (callgrind: 32.3k -> 30.9k instructions per
 * proxied request). OpenSSL's own record buffers are still released (SSL_MODE_RELEASE_BUFFERS).
 */
#include "client_int.h"

static void tls_fail(cz__cconn_t *k)
{
    cz_call_t *call = k->call;
    if (!call) {
        cz__cconn_close(k);
        return;
    }
    const char *why = cz__tls_error(k->tls);
    call->info.tls_error = why ? why : "handshake failed";
    cz__call_fail(call, CZ_ETLS);
}

static void handshake_step(cz__cconn_t *k)
{
    int r = cz__tls_handshake(k->tls);
    cz__cconn_flush_tls(k); /* the next flight, or an alert */
    if (k->state != CC_HANDSHAKE)
        return;
    if (r == CZ__TLS_WANT_READ)
        return;
    if (r != CZ__TLS_OK) {
        tls_fail(k);
        return;
    }
    k->state = CC_ACTIVE;
    k->c->st.tls_handshakes++;
    if (cz__tls_resumed(k->tls)) {
        k->c->st.tls_resumed++;
        if (k->call)
            k->call->info.tls_resumed = true;
    }
    cz__call_connected(k, 0); /* sends the request (flush encrypts it) */
    if (k->state != CC_ACTIVE)
        return;
    if (k->call && k->call->paused) { /* paused before it connected: reading waits for resume */
        if (k->reading) {
            uv_read_stop((uv_stream_t *)&k->tcp);
            k->reading = false;
        }
        return;
    }
    if (cz__tls_has_input(k->tls))
        cz__ctls_pump(k);
}

void cz__ctls_start(cz__cconn_t *k)
{
    cz__pool_t *p = k->pool;
    k->tls = cz__tls_client_new(p->tls, p->host, p->addr);
    k->state = CC_HANDSHAKE;
    int rc = k->tls ? cz__cconn_read_start(k) : CZ_ENOMEM;
    if (rc != 0) {
        if (k->call)
            cz__call_fail(k->call, rc);
        else
            cz__cconn_close(k);
        return;
    }
    handshake_step(k);
}

/* Idle: a ticket or a key update is housekeeping; anything else ends the connection. */
static void idle_read(cz__cconn_t *k)
{
    for (;;) {
        size_t got = 0;
        int r = cz__tls_read(k->tls, k->rbuf, CZ__CL_RBUF, &got);
        if (r != CZ__TLS_WANT_READ) { /* data nobody asked for, close_notify, an error */
            cz__cconn_close(k);
            return;
        }
        if (!cz__tls_has_input(k->tls))
            return;
    }
}

void cz__ctls_pump(cz__cconn_t *k)
{
    for (;;) {
        cz_call_t *call = k->call;
        if (k->state != CC_ACTIVE || !call || call->paused || k->rlen >= CZ__CL_RBUF)
            return;
        size_t got = 0;
        int r = cz__tls_read(k->tls, k->rbuf + k->rlen, CZ__CL_RBUF - k->rlen, &got);
        if (cz__tls_out_pending(k->tls))
            cz__cconn_flush_tls(k); /* a key update's answer */
        if (k->state != CC_ACTIVE || k->call != call)
            return;
        if (r == CZ__TLS_OK) {
            cz__call_on_read(k, (ssize_t)got); /* parses; may finish, pause or close */
            continue;
        }
        if (r == CZ__TLS_WANT_READ)
            return;
        if (r == CZ__TLS_CLOSED) { /* close_notify: as EOF (a close-delimited body ends) */
            cz__call_on_read(k, UV_EOF);
            return;
        }
        tls_fail(k);
        return;
    }
}

void cz__ctls_on_read(cz__cconn_t *k, ssize_t nread)
{
    if (nread > 0)
        cz__tls_in_commit(k->tls, (size_t)nread);
    switch (k->state) {
    case CC_HANDSHAKE:
        if (nread < 0) { /* the peer hung up mid-handshake: let the session say what it saw */
            if (!k->call) {
                cz__cconn_close(k);
                return;
            }
            const char *why = cz__tls_error(k->tls);
            k->call->info.tls_error = why ? why : "connection closed during the handshake";
            cz__call_fail(k->call, CZ_ETLS);
            return;
        }
        handshake_step(k);
        return;
    case CC_IDLE:
        if (nread < 0)
            cz__cconn_close(k);
        else
            idle_read(k);
        return;
    case CC_ACTIVE:
        if (nread < 0) {
            if (k->call)
                cz__call_on_read(k, nread);
            else
                cz__cconn_close(k);
            return;
        }
        cz__ctls_pump(k);
        return;
    default:
        return;
    }
}

void cz__ctls_goodbye(cz__cconn_t *k)
{
    if (k->writing || (k->state != CC_ACTIVE && k->state != CC_IDLE) ||
        !cz__tls_handshake_done(k->tls) || cz__tls_error(k->tls))
        return;
    if (cz__tls_shutdown(k->tls) != CZ__TLS_OK)
        return;
    size_t n;
    const uint8_t *p = cz__tls_out_peek(k->tls, &n);
    if (n) {
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
        (void)uv_try_write((uv_stream_t *)&k->tcp, &b, 1);
    }
}
