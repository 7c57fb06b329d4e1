/* SPDX-License-Identifier: MIT
 *
 * client.c: the upstream HTTP client's plumbing: the client object, per-address pools of idle
 * keep-alive connections, opening connections (with a short-lived name cache), one timer per
 * connection and the kick list that parses buffered bytes after a resume.
 *
 * One uv_timer per connection: a call re-arms it only when its deadline is earlier than the one
 * already armed and the callback re-checks what is due, so a keep-alive call costs at most one
 * heap update (nginx keeps one timer per event too). Pools are LIFO so the hottest connection is
 * reused and the cold ones reach their idle timeout. What this file is not: requests, responses
 * and the call API (client_call.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client_int.h"

void cz_client_opts_init(cz_client_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->pool_size = 64;
    o->idle_timeout_ms = 60000;
    o->connect_timeout_ms = 1000;
    o->header_timeout_ms = 10000;
    o->total_timeout_ms = 0;
    o->read_timeout_ms = 0;
    o->max_header_bytes = 64 * 1024;
}

static void on_kick(uv_idle_t *h);

cz_client_t *cz_client_new(uv_loop_t *loop, const cz_client_opts_t *o)
{
    if (!loop)
        return NULL;
    cz_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    if (o)
        c->o = *o;
    else
        cz_client_opts_init(&c->o);
    if (c->o.max_header_bytes == 0)
        c->o.max_header_bytes = 64 * 1024;
    signal(SIGPIPE, SIG_IGN); /* a vanished upstream is an error code, not a process kill */
    uv_idle_init(loop, &c->idle);
    c->idle.data = c;
    c->nhandles = 1;
    return c;
}

static void client_free(cz_client_t *c)
{
    for (unsigned i = 0; i < CZ__CL_POOL_BUCKETS; i++) {
        cz__pool_t *p = c->buckets[i];
        while (p) {
            cz__pool_t *n = p->hnext;
            free(p->addr);
            free(p->host);
            cz_tls_ctx_unref(p->tls);
            free(p);
            p = n;
        }
    }
    while (c->free_calls) {
        cz_call_t *n = c->free_calls->fnext;
        free(c->free_calls);
        c->free_calls = n;
    }
    cz_tls_ctx_unref(c->tls_default);
    void (*done)(void *) = c->done;
    void *ud = c->done_ud;
    free(c);
    if (done)
        done(ud);
}

static void handle_closed(cz_client_t *c)
{
    if (--c->nhandles == 0 && c->closing)
        client_free(c);
}

static void on_idle_closed(uv_handle_t *h) { handle_closed(h->data); }

void cz_client_close(cz_client_t *c, void (*done)(void *ud), void *ud)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    c->done = done;
    c->done_ud = ud;
    /* a failed call closes its connection, which leaves the list; on_done cannot add new
     * connections (cz_client_call refuses while closing) */
    while (c->all) {
        cz__cconn_t *k = c->all;
        if (k->call)
            cz__call_fail(k->call, CZ_ECLOSED);
        if (k->state != CC_CLOSING)
            cz__cconn_close(k);
    }
    uv_close((uv_handle_t *)&c->idle, on_idle_closed);
}

void cz_client_stats(const cz_client_t *c, cz_client_stats_t *out)
{
    *out = c->st;
}

/* ---- pools ---- */

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* "1.2.3.4:80", "[::1]:80", "name:80"; port 1..65535 */
static int parse_addr(cz__pool_t *p, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1] || strlen(colon + 1) > 5)
        return CZ_EARG;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return CZ_EARG;
    snprintf(p->port, sizeof p->port, "%ld", port);
    size_t hl = (size_t)(colon - addr);
    const char *h = addr;
    if (addr[0] == '[') {
        if (hl < 3 || addr[hl - 1] != ']')
            return CZ_EARG;
        h++;
        hl -= 2;
    }
    p->host = strndup(h, hl);
    if (!p->host)
        return CZ_ENOMEM;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&p->sa[0];
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->sa[0];
    if (uv_ip4_addr(p->host, (int)port, s4) == 0 || uv_ip6_addr(p->host, (int)port, s6) == 0) {
        p->literal = true;
        p->naddr = 1;
    }
    else if (addr[0] == '[')
        return CZ_EARG;
    return 0;
}

cz__pool_t *cz__pool_get(cz_client_t *c, const char *addr, cz_tls_ctx_t *tls)
{
    uint32_t b = hash_str(addr) % CZ__CL_POOL_BUCKETS;
    for (cz__pool_t *p = c->buckets[b]; p; p = p->hnext)
        if (p->tls == tls && strcmp(p->addr, addr) == 0)
            return p;
    cz__pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->addr = strdup(addr);
    if (!p->addr || parse_addr(p, addr) != 0) {
        free(p->addr);
        free(p->host);
        free(p);
        return NULL;
    }
    p->tls = tls ? cz_tls_ctx_ref(tls) : NULL;
    p->hnext = c->buckets[b];
    c->buckets[b] = p;
    return p;
}

static void idle_unlink(cz__cconn_t *k)
{
    cz__pool_t *p = k->pool;
    if (k->iprev)
        k->iprev->inext = k->inext;
    else
        p->idle = k->inext;
    if (k->inext)
        k->inext->iprev = k->iprev;
    k->inext = k->iprev = NULL;
    p->nidle--;
    k->c->st.idle--;
}

/* Take the most recently parked idle connection of p, NULL when none. */
cz__cconn_t *cz__pool_take(cz__pool_t *p)
{
    cz__cconn_t *k = p->idle;
    if (!k)
        return NULL;
    idle_unlink(k);
    k->state = CC_ACTIVE;
    k->dl_idle = 0;
    return k;
}

/* ---- connections ---- */

static void on_timer(uv_timer_t *t);
static void on_connect(uv_connect_t *req, int status);

static void conn_closed(uv_handle_t *h)
{
    cz__cconn_t *k = h->data;
    cz_client_t *c = k->c;
    if (--k->nhandles == 0 && !k->gai_pending) {
        free(k->tw.data);
        cz__tls_free(k->tls);
        free(k->rbuf);
        free(k->obuf);
        if (k->wbase && k->wbase != k->obuf)
            free(k->wbase);
        free(k->hbuf);
        free(k);
        handle_closed(c);
    }
}

void cz__cconn_close(cz__cconn_t *k)
{
    if (k->state == CC_CLOSING)
        return;
    cz_client_t *c = k->c;
    if (k->state == CC_IDLE)
        idle_unlink(k);
    if (k->kicked) { /* leave the kick list */
        cz__cconn_t **pp = &c->kick;
        while (*pp && *pp != k)
            pp = &(*pp)->knext;
        if (*pp)
            *pp = k->knext;
        k->kicked = false;
    }
    if (k->tls)
        cz__ctls_goodbye(k);
    k->state = CC_CLOSING;
    if (k->aprev)
        k->aprev->anext = k->anext;
    else
        c->all = k->anext;
    if (k->anext)
        k->anext->aprev = k->aprev;
    k->anext = k->aprev = NULL;
    if (k->gai_pending)
        uv_cancel((uv_req_t *)&k->gai);
    uv_close((uv_handle_t *)&k->timer, conn_closed);
    uv_close((uv_handle_t *)&k->tcp, conn_closed);
}

static int conn_connect(cz__cconn_t *k)
{
    k->state = CC_CONNECTING;
    return uv_tcp_connect(&k->creq, &k->tcp, (const struct sockaddr *)&k->pool->sa[k->ai],
                          on_connect);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    size_t n = a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    return memcmp(a, b, n) == 0;
}

/* Keep every address of a lookup (bounded), in getaddrinfo order. The one that answered last
 * stays the first tried when it is still in the new list, so a refresh does not send each new
 * connection back to a dead first address. 0 or UV_EAI_NONAME when nothing usable came. */
int cz__pool_set_addrs(cz__pool_t *p, const struct addrinfo *res)
{
    struct sockaddr_storage good = p->sa[p->cur < p->naddr ? p->cur : 0];
    bool had = p->naddr > 0;
    uint8_t n = 0;
    for (const struct addrinfo *ai = res; ai && n < CZ__CL_MAX_ADDRS; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof p->sa[0])
            continue;
        memset(&p->sa[n], 0, sizeof p->sa[n]);
        memcpy(&p->sa[n], ai->ai_addr, ai->ai_addrlen);
        n++;
    }
    if (n == 0)
        return UV_EAI_NONAME;
    p->naddr = n;
    p->cur = 0;
    for (uint8_t i = 0; had && i < n; i++)
        if (same_addr(&p->sa[i], &good)) {
            p->cur = i;
            break;
        }
    return 0;
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    cz__cconn_t *k = cz__container_of(req, cz__cconn_t, gai);
    k->gai_pending = false;
    if (k->state == CC_CLOSING) {
        uv_freeaddrinfo(res);
        if (k->nhandles == 0) { /* the handles closed first: finish the free they skipped */
            cz_client_t *c = k->c;
            free(k->rbuf);
            free(k->obuf);
            free(k->hbuf);
            free(k);
            handle_closed(c);
        }
        return;
    }
    if (status == 0)
        status = cz__pool_set_addrs(k->pool, res);
    if (status == 0) {
        k->pool->resolved_ms = uv_now(k->c->loop);
        k->ai = k->pool->cur;
        status = conn_connect(k);
    }
    uv_freeaddrinfo(res);
    if (status != 0)
        cz__call_connected(k, status);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *out)
{
    cz__cconn_t *k = h->data;
    (void)hint;
    if (k->tls) { /* ciphertext goes to the session's input; 0 bytes (no memory): UV_ENOBUFS */
        size_t avail = 0;
        uint8_t *p = cz__tls_in_space(k->tls, CZ__CL_RBUF, &avail);
        *out = uv_buf_init((char *)p, p ? (unsigned)avail : 0);
        return;
    }
    *out = uv_buf_init(k->rbuf + k->rlen, CZ__CL_RBUF - k->rlen);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cz__cconn_t *k = s->data;
    (void)buf;
    if (nread == 0)
        return;
    if (k->tls) {
        cz__ctls_on_read(k, nread);
        return;
    }
    if (k->state == CC_IDLE) { /* the peer closed or sent junk while idle: drop it */
        cz__cconn_close(k);
        return;
    }
    if (k->state != CC_ACTIVE)
        return;
    cz__call_on_read(k, nread);
}

int cz__cconn_read_start(cz__cconn_t *k)
{
    if (k->reading || (k->state != CC_ACTIVE && k->state != CC_HANDSHAKE))
        return 0;
    int rc = uv_read_start((uv_stream_t *)&k->tcp, alloc_cb, on_read);
    k->reading = rc == 0;
    return rc;
}

static void on_connect(uv_connect_t *req, int status)
{
    cz__cconn_t *k = cz__container_of(req, cz__cconn_t, creq);
    if (k->state == CC_CLOSING)
        return;
    if (status == 0) {
        uv_tcp_nodelay(&k->tcp, 1);
        if (k->ai < k->pool->naddr)
            k->pool->cur = k->ai; /* the next connects start at the address that answered */
        if (k->pool->tls) {
            cz__ctls_start(k);
            return;
        }
        k->state = CC_ACTIVE;
        if (!k->call || !k->call->paused) /* a paused call starts reading on resume */
            status = cz__cconn_read_start(k);
        if (status != 0)
            k->state = CC_CONNECTING; /* fail it as a connect error */
    }
    cz__call_connected(k, status);
}

/* A new connection's allocation, handles and place in c->all; both openers start here. */
static cz__cconn_t *cconn_new(cz_client_t *c, cz__pool_t *p, int *err)
{
    cz__cconn_t *k = calloc(1, sizeof *k);
    char *rbuf = malloc(CZ__CL_RBUF);
    if (!k || !rbuf) {
        free(k);
        free(rbuf);
        *err = CZ_ENOMEM;
        return NULL;
    }
    k->rbuf = rbuf;
    k->c = c;
    k->pool = p;
    uv_tcp_init(c->loop, &k->tcp);
    uv_timer_init(c->loop, &k->timer);
    k->tcp.data = k->timer.data = k;
    k->nhandles = 2;
    c->nhandles++;
    k->anext = c->all;
    if (c->all)
        c->all->aprev = k;
    c->all = k;
    llhttp_init(&k->parser, HTTP_RESPONSE, &cz__client_parser_settings);
    k->parser.data = k;
    return k;
}

cz__cconn_t *cz__cconn_open(cz_client_t *c, cz__pool_t *p, uint64_t connect_dl, int *err)
{
    cz__cconn_t *k = cconn_new(c, p, err);
    if (!k)
        return NULL;
    k->dl_phase = connect_dl;
    k->tries = 1;
    c->st.connects++;
    int rc;
    uint64_t now = uv_now(c->loop);
    if (p->literal || p->pinned ||
        (p->resolved_ms && now - p->resolved_ms < CZ__CL_DNS_TTL_MS)) {
        k->ai = p->cur < p->naddr ? p->cur : 0;
        rc = conn_connect(k);
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        k->state = CC_RESOLVING;
        rc = uv_getaddrinfo(c->loop, &k->gai, on_gai, p->host, p->port, &hints);
        k->gai_pending = rc == 0;
    }
    if (rc != 0) {
        *err = rc;
        cz__cconn_close(k);
        return NULL;
    }
    cz__cconn_arm(k);
    return k;
}

cz__cconn_t *cz__cconn_open_next(cz__cconn_t *old, uint64_t connect_dl, int *err)
{
    cz__pool_t *p = old->pool;
    if (old->state != CC_CONNECTING || p->naddr < 2 || old->tries >= p->naddr)
        return NULL;
    cz__cconn_t *k = cconn_new(old->c, p, err);
    if (!k)
        return NULL;
    /* the list the call started with is used to its end, even past the cache's lifetime */
    k->ai = (uint8_t)((old->ai + 1u) % p->naddr);
    k->tries = (uint8_t)(old->tries + 1u);
    k->dl_phase = connect_dl;
    old->c->st.connects++;
    int rc = conn_connect(k);
    if (rc != 0) {
        *err = rc;
        cz__cconn_close(k);
        return NULL;
    }
    cz__cconn_arm(k);
    return k;
}

int cz__client_pin_addrs(cz_client_t *c, const char *addr, const struct sockaddr *const *sa,
                         size_t n)
{
    if (!c || !addr || !sa || n == 0 || n > CZ__CL_MAX_ADDRS)
        return CZ_EARG;
    cz__pool_t *p = cz__pool_get(c, addr, NULL);
    if (!p)
        return CZ_EARG;
    for (size_t i = 0; i < n; i++) {
        size_t len = sa[i]->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                   : sa[i]->sa_family == AF_INET  ? sizeof(struct sockaddr_in)
                                                  : 0;
        if (!len)
            return CZ_EARG;
        memset(&p->sa[i], 0, sizeof p->sa[i]);
        memcpy(&p->sa[i], sa[i], len);
    }
    p->naddr = (uint8_t)n;
    p->cur = 0;
    p->pinned = true;
    return 0;
}

int cz__client_addr_cur(cz_client_t *c, const char *addr)
{
    cz__pool_t *p = cz__pool_get(c, addr, NULL);
    return p && p->naddr ? p->cur : -1;
}

/* A connection over a stream someone else connected (tests, fuzzing); never pooled. */
cz__cconn_t *cz__cconn_open_fd(cz_client_t *c, cz__pool_t *p, int fd, int *err)
{
    cz__cconn_t *k = cconn_new(c, p, err);
    if (!k)
        return NULL;
    k->nopool = true;
    k->state = CC_ACTIVE;
    int rc = uv_tcp_open(&k->tcp, fd);
    if (rc == 0)
        rc = cz__cconn_read_start(k);
    if (rc != 0) {
        *err = rc;
        cz__cconn_close(k);
        return NULL;
    }
    return k;
}

/* Park k (ACTIVE, no call, everything written and read) in its pool, or close it. */
void cz__cconn_pool(cz__cconn_t *k)
{
    cz_client_t *c = k->c;
    cz__pool_t *p = k->pool;
    /* idle connections keep reading: that is how a close by the peer is noticed */
    uint64_t max_idle = p->max_idle ? (p->max_idle < 0 ? 0 : (uint64_t)p->max_idle)
                                    : c->o.pool_size;
    uint64_t idle_ms = p->idle_ms ? p->idle_ms : c->o.idle_timeout_ms;
    if (c->closing || max_idle == 0 || p->nidle >= max_idle || k->nopool ||
        cz__cconn_read_start(k) != 0) {
        cz__cconn_close(k);
        return;
    }
    if (k->ocap > CZ__CL_OBUF_KEEP) {
        free(k->obuf);
        k->obuf = NULL;
        k->ocap = 0;
    }
    k->olen = k->ooff = 0;
    k->state = CC_IDLE;
    k->dl_phase = 0;
    k->dl_idle = idle_ms ? uv_now(c->loop) + idle_ms : 0;
    k->iprev = NULL;
    k->inext = p->idle;
    if (p->idle)
        p->idle->iprev = k;
    p->idle = k;
    p->nidle++;
    c->st.idle++;
    cz__cconn_arm(k);
}

/* The earliest deadline that applies to k now, 0 = none. */
static uint64_t conn_deadline(const cz__cconn_t *k)
{
    uint64_t d = 0;
    if (k->state == CC_IDLE)
        return k->dl_idle;
    d = k->dl_phase;
    if (k->call && k->call->dl_total && (!d || k->call->dl_total < d))
        d = k->call->dl_total;
    return d;
}

void cz__cconn_arm(cz__cconn_t *k)
{
    uint64_t d = conn_deadline(k);
    if (!d || (k->armed && k->armed <= d))
        return; /* an earlier (or equal) wake-up is pending; on_timer re-checks */
    uint64_t now = uv_now(k->c->loop);
    k->armed = d;
    uv_timer_start(&k->timer, on_timer, d > now ? d - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    cz__cconn_t *k = t->data;
    k->armed = 0;
    uint64_t d = conn_deadline(k);
    if (!d)
        return;
    if (d > uv_now(k->c->loop)) {
        cz__cconn_arm(k);
        return;
    }
    if (k->state == CC_IDLE)
        cz__cconn_close(k);
    else if (k->call)
        cz__call_on_timer(k);
}

/* ---- kick list: parse buffered bytes of a resumed call from the loop ---- */

void cz__cconn_kick(cz__cconn_t *k)
{
    cz_client_t *c = k->c;
    if (k->kicked)
        return;
    k->kicked = true;
    k->knext = c->kick;
    c->kick = k;
    if (!uv_is_active((uv_handle_t *)&c->idle))
        uv_idle_start(&c->idle, on_kick);
}

static void on_kick(uv_idle_t *h)
{
    cz_client_t *c = h->data;
    uv_idle_stop(h);
    while (c->kick) {
        cz__cconn_t *k = c->kick;
        c->kick = k->knext;
        k->kicked = false;
        if (k->state == CC_ACTIVE && k->call && !k->call->paused) {
            cz__call_parse(k);
            if (k->tls) /* what the session still holds: the socket may have nothing more */
                cz__ctls_pump(k);
        }
    }
}
