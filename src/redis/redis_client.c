/* SPDX-License-Identifier: MIT
 *
 * redis_client.c: czero's async Redis client (include/czero/redis.h) over hiredis' async API.
 *
 * hiredis gives pipelining and reply parsing; this file adds the request-path guarantees:
 * a connect timeout, per-command deadlines kept in one FIFO (every command has the same timeout,
 * so issue order is deadline order and one uv_timer serves them all), reconnection with
 * exponential backoff, hang detection, and EVALSHA with SCRIPT LOAD pipelined once per connection.
 *
 * A command record stays alive until hiredis hands it back (with a reply, or NULL when the
 * context dies), even after its deadline fired: that is what makes a late reply harmless.
 *
 * Host names are resolved here with uv_getaddrinfo on libuv's threadpool, never by hiredis:
 * redisAsyncConnect calls getaddrinfo on the caller's thread, which would stall the worker loop
 * for as long as DNS takes (seconds with a dead DNS server), on every reconnect. hiredis is only
 * ever given numeric addresses, which glibc parses without a lookup. The answer is cached for
 * dns_ttl_ms so reconnects during a Redis outage do not hammer DNS, a refused or timed-out
 * address moves on to the next one at once, and a failed lookup keeps the previous answer when
 * there is one. While the lookup runs, commands are queued (formatted, with their deadlines
 * already running) as hiredis buffers them while a connect is in progress.
 *
 * The libuv glue is written here rather than taken from <hiredis/adapters/libuv.h> because that
 * adapter (0.14) returns early when uv_poll reports an error status: libuv stops the poll handle
 * on POLLERR, so a refused connect or a reset connection would never reach hiredis and the
 * context would hang forever. Here an error status is handed to hiredis' read path, which then
 * notices the socket error and tears the context down.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <openssl/sha.h>
#include "czero/log.h"
#include "czero/redis.h"
#include "internal.h"

#define MAX_LOADED_SCRIPTS 16
#define MAX_ADDRS 8

typedef struct cmd {
    struct cmd *prev, *next; /* in r->pending while the caller still waits */
    cz_redis_t *r;
    cz_redis_cb cb;
    void *ud;
    uint64_t deadline; /* uv_now() ms */
    int done;          /* caller already told (timeout): drop whatever hiredis returns */
    int retried;       /* NOSCRIPT retry used */
    int sent;          /* handed to hiredis; 0 while queued behind a name lookup (fmt holds it) */
    const cz_redis_script_t *script;
    char *fmt; /* formatted EVALSHA, kept for the NOSCRIPT retry */
    size_t fmtlen;
} cmd_t;

struct cz_redis {
    uv_loop_t *loop;
    cz_redis_conf_t conf;
    redisAsyncContext *ac;
    cz_redis_state_t state;
    uv_timer_t deadline_timer;
    uv_timer_t conn_timer; /* connect timeout while CONNECTING, backoff while DOWN */
    uint64_t backoff;
    uint64_t last_rx; /* uv_now() of the last reply or connect */
    cmd_t pending;    /* list sentinel, ordered by deadline */
    const cz_redis_script_t *loaded[MAX_LOADED_SCRIPTS];
    int nloaded;
    int closing;
    int open_handles;
    cz_redis_stats_t stats;
    /* name resolution (host is not an IP literal) */
    int literal;
    int gai_pending;      /* the lookup holds r until its callback runs */
    int gai_failing;      /* a failure was logged; log again only after a success */
    uv_getaddrinfo_t gai;
    struct sockaddr_storage addrs[MAX_ADDRS];
    int naddr, addr_i, tries; /* tries: addresses that failed in this round */
    int next_addr;            /* the retry timer moves on to addrs[addr_i], even if expired */
    uint64_t resolved_at;     /* uv_now() of the cached answer */
};

typedef struct ev {
    uv_poll_t poll;
    redisAsyncContext *ac;
    int events;
} ev_t;

static void start_connect(cz_redis_t *r);
static void on_retry(uv_timer_t *t) { start_connect(t->data); }
static void fail_queued(cz_redis_t *r, int status);

/* ---------------------------------------------------------------- libuv <-> hiredis */

static void ev_poll_cb(uv_poll_t *h, int status, int events)
{
    ev_t *e = h->data;
    if (status < 0) {
        /* Let hiredis find the socket error itself (see the file comment). */
        if (e->ac)
            redisAsyncHandleRead(e->ac);
        return;
    }
    if (e->ac && (events & UV_READABLE))
        redisAsyncHandleRead(e->ac);
    if (e->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(e->ac);
}

static void ev_update(ev_t *e)
{
    if (e->events)
        uv_poll_start(&e->poll, e->events, ev_poll_cb);
    else
        uv_poll_stop(&e->poll);
}

static void ev_add_read(void *p) { ((ev_t *)p)->events |= UV_READABLE, ev_update(p); }
static void ev_del_read(void *p) { ((ev_t *)p)->events &= ~UV_READABLE, ev_update(p); }
static void ev_add_write(void *p) { ((ev_t *)p)->events |= UV_WRITABLE, ev_update(p); }
static void ev_del_write(void *p) { ((ev_t *)p)->events &= ~UV_WRITABLE, ev_update(p); }
static void ev_closed(uv_handle_t *h) { free(h->data); }

static void ev_cleanup(void *p)
{
    ev_t *e = p;
    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, ev_closed);
}

static int ev_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    ev_t *e = calloc(1, sizeof(*e));
    if (!e)
        return CZ_ENOMEM;
    int rc = uv_poll_init(loop, &e->poll, ac->c.fd);
    if (rc < 0) {
        free(e);
        return rc;
    }
    e->ac = ac;
    e->poll.data = e;
    ac->ev.data = e;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return 0;
}

/* ---------------------------------------------------------------- pending commands */

static void list_push(cz_redis_t *r, cmd_t *c)
{
    c->prev = r->pending.prev;
    c->next = &r->pending;
    r->pending.prev->next = c;
    r->pending.prev = c;
}

static void list_del(cmd_t *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = c;
}

static void cmd_free(cmd_t *c)
{
    if (c->fmt)
        redisFreeCommand(c->fmt);
    free(c);
}

static void on_deadline(uv_timer_t *t);

static void rearm(cz_redis_t *r)
{
    if (r->pending.next == &r->pending || r->closing)
        return;
    uint64_t now = uv_now(r->loop), at = r->pending.next->deadline;
    uv_timer_start(&r->deadline_timer, on_deadline, at > now ? at - now : 0, 0);
}

/* Give up on a connection: whoever drops it schedules the reconnect. */
static void schedule_retry(cz_redis_t *r)
{
    r->state = CZ_REDIS_DOWN;
    if (r->closing)
        return;
    uv_timer_stop(&r->conn_timer);
    uv_timer_start(&r->conn_timer, on_retry, r->backoff, 0);
    r->backoff = cz__min(r->backoff * 2, r->conf.backoff_max_ms);
    fail_queued(r, CZ_ECLOSED); /* as hiredis fails what it buffered for a failed connect */
}

static void drop_connection(cz_redis_t *r)
{
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->state = CZ_REDIS_DOWN;
    if (ac)
        redisAsyncFree(ac); /* pending commands come back with NULL replies */
    schedule_retry(r);
}

static void on_deadline(uv_timer_t *t)
{
    cz_redis_t *r = t->data;
    uint64_t now = uv_now(r->loop);
    int expired = 0;
    while (r->pending.next != &r->pending && r->pending.next->deadline <= now) {
        cmd_t *c = r->pending.next;
        list_del(c);
        c->done = 1;
        expired += c->sent;
        r->stats.timeouts++;
        c->cb(r, CZ_ETIMEOUT, NULL, c->ud);
        if (!c->sent) /* still queued behind a lookup: hiredis never saw it */
            cmd_free(c);
    }
    /* A server that answers nothing at all (stopped, wedged, or a dead peer whose FIN never
     * came) would otherwise hold every command until its TCP timeout: reconnect instead. */
    if (expired && r->state == CZ_REDIS_UP && now - r->last_rx >= r->conf.hang_ms)
        drop_connection(r);
    rearm(r);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    cmd_t *c = priv;
    cz_redis_t *r = c->r;
    redisReply *rep = reply;
    r->stats.in_flight--;
    if (rep)
        r->last_rx = uv_now(r->loop);
    if (c->done) {
        if (rep)
            r->stats.late_replies++;
        cmd_free(c);
        return;
    }
    if (!rep && c->fmt && r->ac != ac && r->state == CZ_REDIS_CONNECTING && !r->closing) {
        /* The address refused and the next one is being tried: a command that was queued
         * behind the lookup goes there too instead of failing. */
        c->sent = 0;
        return;
    }
    if (rep && rep->type == REDIS_REPLY_ERROR && c->script && !c->retried && r->ac == ac &&
        !r->closing && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        /* Someone flushed the script cache: load it again and retry in the same budget. */
        c->retried = 1;
        for (int i = 0; i < r->nloaded; i++)
            if (r->loaded[i] == c->script)
                r->loaded[i] = r->loaded[--r->nloaded];
        r->stats.script_loads++;
        redisAsyncCommand(ac, NULL, NULL, "SCRIPT LOAD %s", c->script->src);
        if (redisAsyncFormattedCommand(ac, on_reply, c, c->fmt, c->fmtlen) == REDIS_OK) {
            r->stats.in_flight++;
            return;
        }
    }
    list_del(c);
    int status = !rep ? CZ_ECLOSED : rep->type == REDIS_REPLY_ERROR ? CZ_EREDIS : 0;
    c->cb(r, status, rep, c->ud);
    cmd_free(c);
}

/* ---------------------------------------------------------------- connection */

/* Complete the commands queued behind a name lookup. They move to a local list first, so a
 * callback that issues commands or frees the client does not disturb the walk. */
static void fail_queued(cz_redis_t *r, int status)
{
    cmd_t q = {.prev = &q, .next = &q};
    for (cmd_t *c = r->pending.next, *next; c != &r->pending; c = next) {
        next = c->next;
        if (!c->sent) {
            list_del(c);
            c->prev = q.prev, c->next = &q, q.prev->next = c, q.prev = c;
        }
    }
    while (q.next != &q) {
        cmd_t *c = q.next;
        list_del(c);
        c->done = 1;
        c->cb(r, status, NULL, c->ud);
        cmd_free(c);
    }
}

/* Hand a formatted command to hiredis; a script's first use on this connection gets its
 * SCRIPT LOAD pipelined in front (Redis runs commands in order, so no round trip is spent). */
static int submit(cz_redis_t *r, cmd_t *c)
{
    if (c->script) {
        int loaded = 0;
        for (int i = 0; i < r->nloaded && !loaded; i++)
            loaded = r->loaded[i] == c->script;
        if (!loaded) {
            r->stats.script_loads++;
            if (redisAsyncCommand(r->ac, NULL, NULL, "SCRIPT LOAD %s", c->script->src) ==
                    REDIS_OK &&
                r->nloaded < MAX_LOADED_SCRIPTS)
                r->loaded[r->nloaded++] = c->script;
        }
    }
    if (redisAsyncFormattedCommand(r->ac, on_reply, c, c->fmt, c->fmtlen) != REDIS_OK)
        return CZ_ENOMEM;
    c->sent = 1;
    r->stats.in_flight++;
    return 0;
}

static void on_connect(const redisAsyncContext *ac, int status);
static void on_disconnect(const redisAsyncContext *ac, int status);
static void on_connect_timeout(uv_timer_t *t);

/* A connect did not work: try the next cached address at once, or back off after a full round. */
static void connect_failed(cz_redis_t *r)
{
    int n = r->literal ? 1 : r->naddr;
    if (n > 1)
        r->addr_i = (r->addr_i + 1) % n;
    if (++r->tries < n && !r->closing) {
        r->state = CZ_REDIS_CONNECTING; /* commands keep queueing meanwhile */
        r->next_addr = 1; /* a round ends before the answer is looked up again */
        uv_timer_stop(&r->conn_timer);
        uv_timer_start(&r->conn_timer, on_retry, 0, 0);
        return;
    }
    r->tries = 0;
    schedule_retry(r);
}

/* ip is numeric, so hiredis' own getaddrinfo returns without a lookup. */
static void connect_to(cz_redis_t *r, const char *ip)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, r->conf.port);
    if (!ac || ac->err || ev_attach(ac, r->loop) < 0) {
        if (ac)
            redisAsyncFree(ac);
        connect_failed(r);
        return;
    }
    ac->data = r;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->state = CZ_REDIS_CONNECTING;
    r->nloaded = 0;
    if (r->conf.password)
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", r->conf.password);
    /* Commands queued during the lookup go out behind AUTH, in issue order. One hiredis refused
     * (no memory) stays queued and ends at its deadline. */
    for (cmd_t *c = r->pending.next; c != &r->pending; c = c->next)
        if (!c->sent)
            (void)submit(r, c);
    uv_timer_stop(&r->conn_timer);
    uv_timer_start(&r->conn_timer, on_connect_timeout, r->conf.connect_timeout_ms, 0);
}

static void connect_cached(cz_redis_t *r)
{
    char ip[64];
    const struct sockaddr_storage *sa = &r->addrs[r->addr_i];
    if (sa->ss_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof ip);
    else
        uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof ip);
    connect_to(r, ip);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    cz_redis_t *r = ac->data;
    if (r->ac != ac)
        return;
    uv_timer_stop(&r->conn_timer);
    if (status != REDIS_OK) {
        r->ac = NULL; /* hiredis frees the context after this callback */
        r->state = CZ_REDIS_DOWN;
        connect_failed(r);
        return;
    }
    r->state = CZ_REDIS_UP;
    r->backoff = r->conf.backoff_min_ms;
    r->tries = 0;
    r->last_rx = uv_now(r->loop);
    r->stats.connects++;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    cz_redis_t *r = ac->data;
    if (r->ac != ac) /* we dropped it ourselves and already scheduled the retry */
        return;
    r->ac = NULL;
    schedule_retry(r);
}

static void on_connect_timeout(uv_timer_t *t)
{
    cz_redis_t *r = t->data;
    if (r->state != CZ_REDIS_CONNECTING)
        return;
    redisAsyncContext *ac = r->ac;
    if (!ac) { /* the lookup is slow: back off; its answer is still cached when it comes */
        schedule_retry(r);
        return;
    }
    r->ac = NULL;
    r->state = CZ_REDIS_DOWN;
    connect_failed(r);  /* first: queued commands move on when another address is left */
    redisAsyncFree(ac); /* pending commands come back with NULL replies */
}

static void release(cz_redis_t *r)
{
    free((char *)r->conf.host);
    free((char *)r->conf.password);
    free(r);
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    cz_redis_t *r = cz__container_of(req, cz_redis_t, gai);
    r->gai_pending = 0;
    if (r->closing) {
        uv_freeaddrinfo(res);
        if (r->open_handles == 0)
            release(r);
        return;
    }
    int n = 0;
    for (struct addrinfo *ai = res; status == 0 && ai && n < MAX_ADDRS; ai = ai->ai_next)
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof r->addrs[0])
            memcpy(&r->addrs[n++], ai->ai_addr, ai->ai_addrlen);
    uv_freeaddrinfo(res);
    if (n) {
        if (r->gai_failing)
            cz_log_info("redis %s:%d resolves again", r->conf.host, r->conf.port);
        r->gai_failing = 0;
        r->naddr = n, r->addr_i = 0, r->tries = 0;
        r->resolved_at = uv_now(r->loop);
    } else {
        /* Once per failure streak: the backoff retries it every backoff_max_ms. A stale answer
         * is kept (and re-resolved on the next connect) rather than dropped. */
        if (!r->gai_failing)
            cz_log_error("redis %s:%d: cannot resolve the host: %s%s", r->conf.host,
                         r->conf.port, uv_strerror(status ? status : UV_EAI_NONAME),
                         r->naddr ? "; using the previous addresses" : "");
        r->gai_failing = 1;
    }
    if (r->state != CZ_REDIS_CONNECTING || r->ac) /* that attempt already gave up */
        return;
    if (r->naddr)
        connect_cached(r);
    else
        schedule_retry(r);
}

static void start_connect(cz_redis_t *r)
{
    if (r->closing || r->ac)
        return;
    if (r->literal) {
        connect_to(r, r->conf.host);
        return;
    }
    if (r->naddr && (r->next_addr || uv_now(r->loop) - r->resolved_at < r->conf.dns_ttl_ms)) {
        r->next_addr = 0;
        connect_cached(r);
        return;
    }
    r->state = CZ_REDIS_CONNECTING; /* commands queue until the answer */
    uv_timer_stop(&r->conn_timer);
    uv_timer_start(&r->conn_timer, on_connect_timeout, r->conf.connect_timeout_ms, 0);
    if (r->gai_pending) /* an earlier lookup outlived its attempt: its answer serves this one */
        return;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(r->loop, &r->gai, on_gai, r->conf.host, NULL, &hints);
    if (rc == 0)
        r->gai_pending = 1;
    else
        on_gai(&r->gai, rc, NULL);
}

/* ---------------------------------------------------------------- public API */

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

cz_redis_t *cz_redis_new(uv_loop_t *loop, const cz_redis_conf_t *conf)
{
    if (!loop)
        return NULL;
    cz_redis_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    cz_redis_conf_t c = conf ? *conf : (cz_redis_conf_t){0};
    const char *h = c.host && *c.host ? c.host : "127.0.0.1";
    size_t hl = strlen(h);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') /* "[::1]", as written before a port */
        c.host = strndup(h + 1, hl - 2);
    else
        c.host = strdup(h);
    c.password = dupstr(c.password);
    if (!c.port)
        c.port = 6379;
    if (!c.connect_timeout_ms)
        c.connect_timeout_ms = 500;
    if (!c.command_timeout_ms)
        c.command_timeout_ms = 100;
    if (!c.backoff_min_ms)
        c.backoff_min_ms = 50;
    if (!c.backoff_max_ms)
        c.backoff_max_ms = 2000;
    if (c.backoff_max_ms < c.backoff_min_ms)
        c.backoff_max_ms = c.backoff_min_ms;
    if (!c.hang_ms)
        c.hang_ms = 1000;
    if (!c.dns_ttl_ms)
        c.dns_ttl_ms = 10000;
    r->conf = c;
    if (!c.host || (conf && conf->password && !c.password)) {
        free((char *)c.host);
        free((char *)c.password);
        free(r);
        return NULL;
    }
    unsigned char bin[16];
    r->literal = uv_inet_pton(AF_INET, c.host, bin) == 0 ||
                 uv_inet_pton(AF_INET6, c.host, bin) == 0;
    r->loop = loop;
    r->backoff = c.backoff_min_ms;
    r->pending.prev = r->pending.next = &r->pending;
    uv_timer_init(loop, &r->deadline_timer);
    uv_timer_init(loop, &r->conn_timer);
    r->deadline_timer.data = r->conn_timer.data = r;
    r->open_handles = 2;
    start_connect(r);
    return r;
}

static void on_handle_closed(uv_handle_t *h)
{
    cz_redis_t *r = h->data;
    if (--r->open_handles == 0 && !r->gai_pending) /* else on_gai releases it */
        release(r);
}

void cz_redis_free(cz_redis_t *r)
{
    if (!r || r->closing)
        return;
    r->closing = 1;
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->state = CZ_REDIS_DOWN;
    if (ac)
        redisAsyncFree(ac);
    if (r->gai_pending) /* the callback still runs (UV_ECANCELED or late) and frees r */
        uv_cancel((uv_req_t *)&r->gai);
    /* What is still listed was queued behind a lookup and never handed to hiredis. */
    while (r->pending.next != &r->pending) {
        cmd_t *c = r->pending.next;
        list_del(c);
        c->done = 1;
        c->cb(r, CZ_ECLOSED, NULL, c->ud);
        if (!c->sent)
            cmd_free(c);
    }
    uv_close((uv_handle_t *)&r->deadline_timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->conn_timer, on_handle_closed);
}

cz_redis_state_t cz_redis_state(const cz_redis_t *r) { return r->state; }
uv_loop_t *cz_redis_loop(const cz_redis_t *r) { return r->loop; }
void cz_redis_stats(const cz_redis_t *r, cz_redis_stats_t *out) { *out = r->stats; }

static cmd_t *cmd_new(cz_redis_t *r, cz_redis_cb cb, void *ud)
{
    cmd_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->r = r;
    c->cb = cb;
    c->ud = ud;
    c->prev = c->next = c;
    return c;
}

static int check_ready(cz_redis_t *r, cz_redis_cb cb)
{
    if (!r || !cb)
        return CZ_EARG;
    if (r->closing)
        return CZ_ECLOSED;
    if (!r->ac && r->state != CZ_REDIS_CONNECTING) /* connecting without ac: resolving */
        return -ENOTCONN;
    return 0;
}

/* The command was accepted by hiredis or queued behind a lookup: start its clock. */
static void cmd_track(cz_redis_t *r, cmd_t *c)
{
    int was_empty = r->pending.next == &r->pending;
    c->deadline = uv_now(r->loop) + r->conf.command_timeout_ms;
    list_push(r, c);
    if (was_empty)
        rearm(r);
}

int cz_redis_command_argv(cz_redis_t *r, cz_redis_cb cb, void *ud, int argc, const char **argv,
                          const size_t *argvlen)
{
    int rc = check_ready(r, cb);
    if (rc < 0)
        return rc;
    if (argc <= 0 || !argv)
        return CZ_EARG;
    cmd_t *c = cmd_new(r, cb, ud);
    if (!c)
        return CZ_ENOMEM;
    if (!r->ac) {
        int len = redisFormatCommandArgv(&c->fmt, argc, argv, argvlen);
        if (len < 0) {
            cmd_free(c);
            return CZ_ENOMEM;
        }
        c->fmtlen = (size_t)len;
    } else if (redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, argvlen) != REDIS_OK) {
        cmd_free(c);
        return CZ_ENOMEM;
    } else {
        c->sent = 1;
        r->stats.in_flight++;
    }
    cmd_track(r, c);
    return 0;
}

int cz_redis_command(cz_redis_t *r, cz_redis_cb cb, void *ud, const char *fmt, ...)
{
    int rc = check_ready(r, cb);
    if (rc < 0)
        return rc;
    if (!fmt)
        return CZ_EARG;
    cmd_t *c = cmd_new(r, cb, ud);
    if (!c)
        return CZ_ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    if (!r->ac) {
        int len = redisvFormatCommand(&c->fmt, fmt, ap);
        c->fmtlen = len > 0 ? (size_t)len : 0;
        rc = len > 0 ? REDIS_OK : REDIS_ERR;
    } else {
        rc = redisvAsyncCommand(r->ac, on_reply, c, fmt, ap);
        c->sent = rc == REDIS_OK;
        r->stats.in_flight += c->sent;
    }
    va_end(ap);
    if (rc != REDIS_OK) {
        cmd_free(c);
        return CZ_EARG;
    }
    cmd_track(r, c);
    return 0;
}

void cz_redis_script_init(cz_redis_script_t *s, const char *src)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    s->src = src;
    SHA1((const unsigned char *)src, strlen(src), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(s->sha1 + 2 * i, 3, "%02x", md[i]);
}

int cz_redis_evalsha(cz_redis_t *r, const cz_redis_script_t *s, cz_redis_cb cb, void *ud,
                     int nkeys, int argc, const char **argv, const size_t *argvlen)
{
    int rc = check_ready(r, cb);
    if (rc < 0)
        return rc;
    if (!s || !s->src || nkeys < 0 || argc < nkeys || (argc && !argv) || argc > 64)
        return CZ_EARG;
    const char *av[67];
    size_t al[67];
    char nk[16];
    av[0] = "EVALSHA", al[0] = 7;
    av[1] = s->sha1, al[1] = 40;
    al[2] = (size_t)snprintf(nk, sizeof(nk), "%d", nkeys);
    av[2] = nk;
    for (int i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    cmd_t *c = cmd_new(r, cb, ud);
    if (!c)
        return CZ_ENOMEM;
    int len = redisFormatCommandArgv(&c->fmt, argc + 3, av, al);
    if (len < 0) {
        cmd_free(c);
        return CZ_ENOMEM;
    }
    c->fmtlen = (size_t)len;
    c->script = s;
    if (r->ac && submit(r, c) < 0) { /* else queued: submitted once connected */
        cmd_free(c);
        return CZ_ENOMEM;
    }
    cmd_track(r, c);
    return 0;
}
