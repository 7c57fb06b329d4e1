/* SPDX-License-Identifier: MIT
 *
 * server.c: the server's lifecycle: routes, worker threads, listeners, shutdown; it wires the
 * layers (http_int.h): a worker's listener hands connections to the HTTP/1.1 codec, whose
 * requests the exchange (exchange/dispatch.c) runs.
 *
 * Each worker thread runs its own libuv loop with its own SO_REUSEPORT listening socket, so the
 * kernel spreads connections and nothing on the request path is shared between threads except
 * the read-only route table. The listening sockets are created by cz_server_start() on the
 * calling thread (listen.c), so a bad address or a port in use is reported there,
 * synchronously; a port another process listens on is refused even when that process set
 * SO_REUSEPORT too, unless ReusePort is on. A server replacing another on the same port (the
 * gateway's reload) takes duplicates of the old one's listening sockets instead
 * (cz_server_inherit_listeners): a connection still in the old socket's accept queue when the
 * old server stops accepting is then accepted by the new one; a socket closed with its queue
 * would reset them.
 * Graceful shutdown (go-zero's proc shutdown listener): stop accepting, close idle keep-alive
 * connections, let requests in flight finish until ShutdownTimeout, then close what is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "http_int.h"
#include "czero/client.h"
#include "czero/log.h"
#include "czero/discovery.h" /* cz_etcd_server_hook, the one hook every server installs */

/* Lifecycle hooks (cz_server_add_hook, server.h): process-wide, in the order added. */
#define CZ__SERVER_HOOKS 8
static pthread_mutex_t hooks_mu = PTHREAD_MUTEX_INITIALIZER;
static const cz_server_hook_t *hooks[CZ__SERVER_HOOKS];
static int nhooks;

int cz_server_add_hook(const cz_server_hook_t *hook)
{
    if (!hook)
        return CZ_EARG;
    int rc = 0, i;
    pthread_mutex_lock(&hooks_mu);
    for (i = 0; i < nhooks && hooks[i] != hook; i++)
        ;
    if (i == nhooks && nhooks == CZ__SERVER_HOOKS)
        rc = CZ_EFULL;
    else if (i == nhooks)
        hooks[nhooks++] = hook;
    pthread_mutex_unlock(&hooks_mu);
    return rc;
}

/* A copy of the list, so no hook runs under the lock (a stop joins a thread). */
static int hooks_get(const cz_server_hook_t **out)
{
    pthread_mutex_lock(&hooks_mu);
    int n = nhooks;
    memcpy(out, hooks, sizeof(*out) * (size_t)n);
    pthread_mutex_unlock(&hooks_mu);
    return n;
}

static int hooks_check(const cz_server_t *s)
{
    /* Etcd self-registration: a service with Etcd in its config registers without code. */
    cz_server_add_hook(cz_etcd_server_hook());
    const cz_server_hook_t *h[CZ__SERVER_HOOKS];
    int n = hooks_get(h);
    for (int i = 0; i < n; i++) {
        int rc = h[i]->check ? h[i]->check(s, &s->conf, h[i]->ud) : 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void hooks_run(const cz_server_t *s, int start)
{
    const cz_server_hook_t *h[CZ__SERVER_HOOKS];
    int n = hooks_get(h);
    for (int i = 0; i < n; i++) {
        if (start && h[i]->start)
            h[i]->start(s, &s->conf, s->port, h[i]->ud);
        else if (!start && h[i]->stop)
            h[i]->stop(s, h[i]->ud);
    }
}

static int64_t or_default(int64_t v, int64_t def) { return v > 0 ? v : def; }

/* MaxConnections 0: what the open-files limit allows, less a reserve for everything else the
 * process opens (log files, upstream and Redis connections, the listeners): an eighth of the
 * limit, 32 to 1024 descriptors. */
static int64_t default_max_connections(void)
{
    struct rlimit rl;
    uint64_t cur = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        cur = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20) ? 1u << 20 : rl.rlim_cur;
    uint64_t reserve = cur / 8 < 32 ? 32 : cur / 8 > 1024 ? 1024 : cur / 8;
    return cur > reserve + 16 ? (int64_t)(cur - reserve) : 16;
}

static const cz__server_api_t server_api = {
    .create = cz_server_new,
    .add_routes = cz_server_add_routes,
    .start = cz_server_start,
    .port = cz_server_port,
    .shutdown = cz_server_shutdown,
    .wait = cz_server_wait,
    .destroy = cz_server_free,
};

cz_server_t *cz_server_new(const cz_rest_conf_t *conf, cz_diag_t *d)
{
    if (conf->port < 0 || conf->port > 65535) {
        cz_diag_set(d, NULL, 0, 0, "Port", "must be 0..65535, got %lld", (long long)conf->port);
        return NULL;
    }
    cz_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->conn_log_mu, NULL); /* first: cz_server_free destroys it */
    s->api = &server_api;
    s->conf = *conf;
    s->host = strdup(conf->host && *conf->host ? conf->host : "0.0.0.0");
    s->conf.host = s->host;
    cz_rest_conf_t *c = &s->conf;
    /* zero means "default" for the engine's knobs, so a hand-built config works too */
    c->max_header_bytes = or_default(c->max_header_bytes, 8192);
    c->max_request_line = or_default(c->max_request_line, 8192);
    c->header_timeout_ms = or_default(c->header_timeout_ms, 10000);
    c->idle_timeout_ms = or_default(c->idle_timeout_ms, 60000);
    c->read_timeout_ms = or_default(c->read_timeout_ms, 30000);
    c->write_timeout_ms = or_default(c->write_timeout_ms, 30000);
    c->shutdown_timeout_ms = or_default(c->shutdown_timeout_ms, 5500);
    c->linger_timeout_ms = or_default(c->linger_timeout_ms, 5000);
    c->blocking_threads = or_default(c->blocking_threads, 16);
    c->blocking_queue = or_default(c->blocking_queue, 1024);
    c->max_connections = or_default(c->max_connections, default_max_connections());
    if (c->max_header_bytes < 1024)
        c->max_header_bytes = 1024;
    s->buf_size = (uint32_t)c->max_header_bytes;
    s->nworkers = c->workers > 0 ? (int)c->workers : (int)uv_available_parallelism();
    s->router = cz_router_new();
    if (!s->host || !s->router) {
        cz_server_free(s);
        return NULL;
    }
    cz__parser_settings_init(&s->parser_settings);
    return s;
}

const cz_rest_conf_t *cz_server_conf(const cz_server_t *s) { return &s->conf; }

size_t cz_server_connections(const cz_server_t *s)
{
    size_t n = 0;
    for (int i = 0; s->workers && i < s->nworkers; i++)
        n += __atomic_load_n(&s->workers[i].nconns, __ATOMIC_RELAXED);
    return n;
}
int cz_server_port(const cz_server_t *s) { return s->port; }

static char *join_path(const char *prefix, const char *path)
{
    size_t pn = prefix ? strlen(prefix) : 0;
    while (pn && prefix[pn - 1] == '/')
        pn--;
    size_t n = strlen(path);
    char *out = malloc(pn + n + 2);
    if (!out)
        return NULL;
    memcpy(out, prefix ? prefix : "", pn);
    size_t o = pn;
    if (path[0] != '/' && (pn || n == 0))
        out[o++] = '/';
    memcpy(out + o, path, n + 1);
    return out;
}

int cz_server_add_routes(cz_server_t *s, const cz_route_t *routes, size_t n,
                         const cz_route_opts_t *opts, cz_diag_t *d)
{
    if (s->started)
        return cz_diag_set(d, NULL, 0, 0, NULL, "routes must be added before the server starts");
    for (size_t i = 0; i < n; i++) {
        const cz_route_t *rt = &routes[i];
        if (!rt->method || !rt->path || !rt->handler)
            return cz_diag_set(d, NULL, 0, 0, NULL, "route %zu: method, path and handler are required", i);
        if ((rt->flags & CZ_ROUTE_BLOCKING) && (rt->flags & CZ_ROUTE_STREAM_BODY))
            return cz_diag_set(d, NULL, 0, 0, NULL,
                               "route %s %s: a streamed body is read on the loop, not on the "
                               "blocking pool", rt->method, rt->path);
        cz__route_t *r = calloc(1, sizeof *r);
        if (!r)
            return CZ_ENOMEM;
        r->method = strdup(rt->method);
        r->pattern = join_path(opts ? opts->prefix : NULL, rt->path);
        r->handler = rt->handler;
        r->ud = rt->ud;
        r->flags = rt->flags;
        r->timeout_ms = opts ? opts->timeout_ms : 0;
        r->max_bytes = opts ? opts->max_bytes : 0;
        int rc = CZ_ENOMEM;
        bool copied = true;
        if (opts) {
            r->priority = opts->priority;
            r->signature = opts->signature;
            if (opts->jwt.secret && !(r->jwt_secret = strdup(opts->jwt.secret)))
                copied = false;
            if (opts->jwt.prev_secret && !(r->jwt_prev = strdup(opts->jwt.prev_secret)))
                copied = false;
            if (opts->nmiddlewares) {
                r->group_mws = malloc(opts->nmiddlewares * sizeof *r->group_mws);
                if (r->group_mws) {
                    memcpy(r->group_mws, opts->middlewares, opts->nmiddlewares * sizeof *r->group_mws);
                    r->ngroup_mws = opts->nmiddlewares;
                } else {
                    copied = false;
                }
            }
        }
        /* room in the route array first: once the router holds r, r must be kept */
        if (copied && s->nroutes == s->routes_cap) {
            size_t cap = s->routes_cap ? s->routes_cap * 2 : 16;
            cz__route_t **nr = realloc(s->routes, cap * sizeof *nr);
            if (nr) {
                s->routes = nr;
                s->routes_cap = cap;
            } else {
                copied = false;
            }
        }
        if (r->method && r->pattern && copied)
            rc = cz_router_add(s->router, r->method, r->pattern, r, d);
        if (rc != 0) {
            if (d) /* name the route the way the user wrote it, with its group prefix */
                snprintf(d->key, sizeof d->key, "%s %s", rt->method, r->pattern ? r->pattern : "");
            free(r->method);
            free(r->pattern);
            free(r->jwt_secret);
            free(r->jwt_prev);
            free(r->group_mws);
            free(r);
            return rc;
        }
        s->routes[s->nroutes++] = r;
    }
    return 0;
}

int cz_server_add_route(cz_server_t *s, const cz_route_t *route, cz_diag_t *d)
{
    return cz_server_add_routes(s, route, 1, NULL, d);
}

int cz_server_use(cz_server_t *s, const cz_mw_t *mw)
{
    if (s->started || !mw || !mw->ops || !mw->ops->enter)
        return CZ_EARG;
    cz_mw_t *nu = realloc(s->use, (s->nuse + 1) * sizeof *nu);
    if (!nu)
        return CZ_ENOMEM;
    nu[s->nuse++] = *mw;
    s->use = nu;
    return 0;
}

int cz_server_on_worker_stop(cz_server_t *s, void (*fn)(void *loop, void *ud), void *ud)
{
    if (!fn || s->started)
        return CZ_EARG;
    void *p = realloc(s->stop_hooks, (s->nstop_hooks + 1) * sizeof *s->stop_hooks);
    if (!p)
        return CZ_ENOMEM;
    s->stop_hooks = p;
    s->stop_hooks[s->nstop_hooks++] = (struct cz__stop_hook){fn, ud};
    return 0;
}

void cz_server_set_not_found(cz_server_t *s, cz_handler_fn fn, void *ud)
{
    s->not_found = fn;
    s->not_found_ud = ud;
}

void cz_server_set_not_allowed(cz_server_t *s, cz_handler_fn fn, void *ud)
{
    s->not_allowed = fn;
    s->not_allowed_ud = ud;
}

/* ---- workers ---- */

static void close_cb_noop(uv_handle_t *h) { (void)h; }

static void worker_maybe_exit(cz_worker_t *w)
{
    if (!w->stopping)
        return;
    uint64_t now = uv_now(&w->loop);
    if (w->nconns && now >= w->stop_deadline) {
        for (cz_conn_t *c = w->all, *next; c; c = next) {
            next = c->anext;
            cz__conn_close(c);
        }
    }
    if (w->nconns == 0 && !uv_is_closing((uv_handle_t *)&w->tick)) {
        /* no request of this worker runs any more: per-loop parts of components can go */
        for (size_t i = 0; i < w->srv->nstop_hooks; i++)
            w->srv->stop_hooks[i].fn(&w->loop, w->srv->stop_hooks[i].ud);
        uv_close((uv_handle_t *)&w->tick, close_cb_noop);
        uv_close((uv_handle_t *)&w->turn, close_cb_noop);
        uv_close((uv_handle_t *)&w->wake, close_cb_noop);
        if (w->client) { /* its pooled upstream connections must not keep the loop alive */
            cz_client_close(w->client, NULL, NULL);
            w->client = NULL;
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    cz_worker_t *w = cz__container_of(t, cz_worker_t, tick);
    cz__load_sample(w);
    cz__date_update(w);
    cz__conn_tick(w, uv_now(&w->loop));
    cz__timeouts_tick(w, uv_now(&w->loop));
    cz__accept_tick(w);
    cz__server_tls_tick(w, uv_now(&w->loop));
    worker_maybe_exit(w);
}

static void on_wake(uv_async_t *a)
{
    cz_worker_t *w = cz__container_of(a, cz_worker_t, wake);
    cz__worker_drain_done(w);
    bool stopping = atomic_load(&w->srv->stopping);
    if (stopping || atomic_load(&w->srv->stop_accepting))
        cz__accept_close(w);
    if (stopping && !w->stopping) {
        w->stopping = true;
        w->stop_deadline = uv_now(&w->loop) + (uint64_t)w->srv->conf.shutdown_timeout_ms;
        cz__worker_start_stop(w);
        worker_maybe_exit(w);
    }
}

/* Set up a worker's loop, timers and (when listen_fd >= 0) its listener, on the calling thread. */
void cz__worker_init(cz_server_t *s, cz_worker_t *w, int id, int listen_fd)
{
    w->srv = s;
    w->id = id;
    uv_loop_init(&w->loop);
    uv_loop_configure(&w->loop, UV_METRICS_IDLE_TIME); /* the shedder's reading (worker_load.c) */
    w->spare_fd = -1;
    /* this worker's share of MaxConnections (the kernel spreads connections evenly) */
    w->max_conns = (size_t)((s->conf.max_connections + s->nworkers - 1) / s->nworkers);
    w->conn_open = cz__h1_accept; /* the one codec until ALPN picks among several */
    w->conn_drain = cz__conn_drain;
    w->transport_open = s->tls ? cz__tls_transport_open : cz__tcp_open;
    if (listen_fd >= 0)
        cz__accept_start(w, listen_fd);
    uv_async_init(&w->loop, &w->wake, on_wake);
    uv_timer_init(&w->loop, &w->tick);
    uv_timer_start(&w->tick, on_tick, CZ__TICK_MS, CZ__TICK_MS);
    cz__load_init(w);
    pthread_mutex_init(&w->done_mu, NULL);
    w->timeouts = s->nroutes ? calloc(s->nroutes, sizeof *w->timeouts) : NULL;
    w->tl[TL_IDLE].timeout_ms = (uint64_t)s->conf.idle_timeout_ms;
    w->tl[TL_HEADER].timeout_ms = (uint64_t)s->conf.header_timeout_ms;
    w->tl[TL_FRESH].timeout_ms = (uint64_t)s->conf.header_timeout_ms;
    w->tl[TL_BODY].timeout_ms = (uint64_t)s->conf.read_timeout_ms;
    w->tl[TL_WRITE].timeout_ms = (uint64_t)s->conf.write_timeout_ms;
    w->swl.timeout_ms = (uint64_t)s->conf.write_timeout_ms;
    w->tl[TL_LINGER].timeout_ms = (uint64_t)s->conf.linger_timeout_ms;
    cz__date_update(w);
}

static void *worker_main(void *arg)
{
    cz_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    while (w->free_bufs) {
        void *b = w->free_bufs;
        w->free_bufs = *(void **)b;
        free(b);
    }
    free(w->timeouts);
    w->timeouts = NULL;
    cz__chunks_free(w);
    atomic_fetch_sub(&w->srv->running_workers, 1);
    return NULL;
}

int cz_server_inherit_listeners(cz_server_t *s, const cz_server_t *from)
{
    if (!s || !from || s->started || !from->started || atomic_load(&from->stopping) ||
        atomic_load(&from->stop_accepting))
        return CZ_EARG;
    s->inherit = from;
    return 0;
}

/* A descriptor of from's listener i when s would bind the same address, else -1. */
static int inherited_listener(const cz_server_t *s, int i)
{
    const cz_server_t *from = s->inherit;
    if (!from || i >= from->nworkers || strcmp(from->host, s->host) != 0 ||
        (s->conf.port != 0 && s->conf.port != from->port) ||
        atomic_load(&from->stop_accepting) || atomic_load(&from->stopping))
        return -1; /* a closed listener's descriptor may already name another file */
    return fcntl(from->workers[i].listen_fd, F_DUPFD_CLOEXEC, 0);
}

void cz_server_stop_accepting(cz_server_t *s)
{
    if (!s->started || atomic_exchange(&s->stop_accepting, 1))
        return;
    for (int i = 0; i < s->nworkers; i++)
        uv_async_send(&s->workers[i].wake);
}

int cz_server_start(cz_server_t *s)
{
    if (s->started)
        return CZ_EARG;
    int hrc = hooks_check(s); /* e.g. Etcd given but incomplete (logged) */
    if (hrc != 0)
        return hrc;
    signal(SIGPIPE, SIG_IGN); /* a peer that went away is an error code, not a process kill */
    /* the main port first: a service started twice names it, not the dev listener's (which the
     * chain opens); checked again right before the bind below, where the window is smallest */
    int lrc = cz__listen_check(s->host, (int)s->conf.port, s->conf.reuse_port);
    if (lrc) {
        cz__listen_log_error(s->host, (int)s->conf.port, lrc);
        return lrc;
    }
    if (!s->tls) { /* CertFile/KeyFile: "TLS: CertFile /x.pem: No such file..." logged */
        int trc = cz__server_tls_start(s);
        if (trc)
            return trc;
    }
    cz_diag_t d = {0};
    int brc = cz__chain_build(s, &d);
    if (brc) {
        char msg[512];
        if (d.msg[0]) /* else the part that failed logged why (the dev listener) */
            cz_log_error("middleware chain: %s", cz_diag_format(&d, msg, sizeof msg));
        else if (brc == CZ_ENOMEM)
            cz_log_error("middleware chain: %s", cz_strerror(brc));
        return brc;
    }
    bool need_pool = false;
    for (size_t i = 0; i < s->nroutes; i++)
        need_pool |= (s->routes[i]->flags & CZ_ROUTE_BLOCKING) != 0;
    if (need_pool) {
        int rc = cz__pool_new(&s->pool, (int)s->conf.blocking_threads, (int)s->conf.blocking_queue);
        if (rc)
            return rc;
    }
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (!s->workers)
        return CZ_ENOMEM;
    int port = (int)s->conf.port;
    bool checked = false; /* another process holding the port: refused once, before a bind */
    for (int i = 0; i < s->nworkers; i++) {
        cz_worker_t *w = &s->workers[i];
        int rc = 0;
        if ((w->listen_fd = inherited_listener(s, i)) < 0) {
            if (!checked) {
                checked = true;
                rc = cz__listen_check(s->host, port, s->conf.reuse_port);
            }
            if (rc == 0)
                rc = cz__listen_open(s->host, port, &w->listen_fd);
        }
        if (rc) {
            cz__listen_log_error(s->host, port, rc);
            for (int j = 0; j < i; j++)
                close(s->workers[j].listen_fd);
            free(s->workers);
            s->workers = NULL;
            return rc;
        }
        if (port == 0) /* ephemeral: every worker shares the port the first one got */
            port = cz__listen_port(w->listen_fd);
    }
    s->port = port;
    cz__listen_hold(s->host, port, true); /* this process's next server there may share it */
    s->listen_held = true;
    s->started = true;
    s->inherit = NULL;
    for (int i = 0; i < s->nworkers; i++) {
        cz_worker_t *w = &s->workers[i];
        cz__worker_init(s, w, i, w->listen_fd);
        atomic_fetch_add(&s->running_workers, 1);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            atomic_fetch_sub(&s->running_workers, 1);
            s->nworkers = i;
            cz_server_shutdown(s);
            cz_server_wait(s);
            return CZ_ENOMEM;
        }
    }
    cz_log_info("Starting server at %s:%d%s (%d workers)...", s->host, port,
                s->tls ? " (TLS)" : "", s->nworkers);
    hooks_run(s, 1); /* e.g. Etcd: register (logs errors) */
    return 0;
}

void cz_server_shutdown(cz_server_t *s)
{
    if (!s->started || atomic_exchange(&s->stopping, 1))
        return;
    hooks_run(s, 0); /* e.g. leave etcd before the listeners close */
    cz__chain_stop(s);
    for (int i = 0; i < s->nworkers; i++)
        uv_async_send(&s->workers[i].wake);
}

void cz_server_wait(cz_server_t *s)
{
    if (!s->workers)
        return;
    for (int i = 0; i < s->nworkers; i++) {
        if (s->workers[i].thread) {
            pthread_join(s->workers[i].thread, NULL);
            s->workers[i].thread = 0;
        }
    }
    cz_log_flush();
}

typedef struct sigctx {
    cz_server_t *s;
    sigset_t set;
    atomic_int done;
} sigctx_t;

static void *signal_main(void *arg)
{
    sigctx_t *sc = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&sc->set, &sig) != 0 || atomic_load(&sc->done))
            break;
        cz_log_info("Got signal %d, shutting down...", sig);
        cz_server_shutdown(sc->s);
    }
    return NULL;
}

int cz_server_run(cz_server_t *s)
{
    sigctx_t sc = {.s = s};
    sigset_t old;
    sigemptyset(&sc.set);
    sigaddset(&sc.set, SIGINT);
    sigaddset(&sc.set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sc.set, &old); /* workers inherit the mask */
    int rc = cz_server_start(s);
    if (rc) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    pthread_t th;
    bool have_th = pthread_create(&th, NULL, signal_main, &sc) == 0;
    cz_server_wait(s);
    if (have_th) {
        atomic_store(&sc.done, 1);
        pthread_kill(th, SIGTERM);
        pthread_join(th, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    cz_log_info("Server stopped");
    cz_log_flush();
    return 0;
}

void cz_server_free(cz_server_t *s)
{
    if (!s)
        return;
    hooks_run(s, 0);
    if (s->pool)
        cz__pool_free(s->pool);
    if (s->workers)
        for (int i = 0; i < s->nworkers; i++)
            pthread_mutex_destroy(&s->workers[i].done_mu);
    free(s->workers);
    if (s->listen_held)
        cz__listen_hold(s->host, s->port, false);
    cz__chain_free(s);
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i]->method);
        free(s->routes[i]->pattern);
        free(s->routes[i]->jwt_secret);
        free(s->routes[i]->jwt_prev);
        free(s->routes[i]);
    }
    free(s->routes);
    free(s->stop_hooks);
    pthread_mutex_destroy(&s->conn_log_mu);
    cz__server_tls_free(s);
    cz_router_free(s->router);
    free(s->host);
    free(s);
}
