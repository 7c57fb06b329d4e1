/* SPDX-License-Identifier: MIT
 *
 * upstream.c: a cluster of backend nodes: the balancer that holds them, their per-node state, the
 * node set as discovery reports it, and the background thread that runs discovery and active
 * health checks.
 *
 * The balancer's own passive health (max_fails/fail_timeout) is off: ejection here follows
 * Envoy's outlier detection (doubling back-off, outlier.c), and a node is "down" in the balancer
 * while it is ejected or actively unhealthy. A node returns, and slow-starts (SlowStart), when
 * it is no longer down (the balancer sees the down flag go) and when discovery adds it to a
 * cluster that has nodes; the first nodes (static Nodes, discovery's first answer, or the first
 * after the cluster was empty) take their full share at once: no one else could take it.
 * Worker loops only pick, report and read node state;
 * the background loop (one thread per upstream that needs one: Dns, Etcd or Health) changes the
 * node set. Static Nodes are added in cz_upstream_new, so such an upstream needs no thread unless
 * it is health-checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/client.h"
#include "czero/log.h"
#include "gw_int.h"

const char *cz_upstream_name(const cz_upstream_t *u) { return u->name; }

void cz__up_node_apply(cz_upstream_t *u, cz__up_node_t *n)
{
    if (n->live)
        cz_lb_set_down(u->lb, n->idx, n->eject_until != 0 || n->unhealthy);
}

static cz__up_node_t *node_find(cz_upstream_t *u, const char *addr)
{
    for (cz__up_node_t *n = u->nodes; n; n = n->next)
        if (strcmp(n->addr, addr) == 0)
            return n;
    return NULL;
}

/* Add (or bring back) addr to the balancer; `joins`: it joins a serving cluster, so it
 * slow-starts. u->mu held. */
static int node_add(cz_upstream_t *u, const char *addr, uint32_t weight, bool joins)
{
    addr = cz__up_strip_scheme(addr);
    if (strlen(addr) >= CZ__UP_ADDR_MAX)
        return CZ_EARG;
    cz__up_node_t *n = node_find(u, addr);
    if (!n) {
        n = calloc(1, sizeof *n);
        if (!n)
            return CZ_ENOMEM;
        snprintf(n->addr, sizeof n->addr, "%s", addr);
        pthread_mutex_init(&n->mu, NULL);
        if (u->use_breaker) {
            char bname[CZ__UP_ADDR_MAX + 64];
            snprintf(bname, sizeof bname, "upstream:%s:%s", u->name, addr);
            /* On the system clock the node breaker reads the coarse one, every breaker's
             * default: its 250 ms buckets and 1 s force-pass need no better, and the precise
             * clock costs two vDSO calls per proxied request. An injected clock drives it. */
            const cz_clock_t *bc = u->clock == cz_clock_system() ? cz_clock_coarse() : u->clock;
            cz_breaker_opts_t bo = {.name = bname, .clock = bc};
            if (cz_breaker_new(&bo, &n->breaker) != 0) {
                free(n);
                return CZ_ENOMEM;
            }
        } else {
            n->breaker = cz_breaker_nop();
        }
        n->next = u->nodes;
        u->nodes = n;
    }
    if (n->live)
        return 0;
    size_t idx;
    int rc = cz_lb_add(u->lb, addr, weight ? weight : 1, n, &idx);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&n->mu);
    /* a node coming back starts with a clean record */
    n->idx = idx;
    n->live = true;
    n->weight = weight;
    n->fails = n->ejections = n->hc_ok = n->hc_fail = 0;
    n->eject_until = 0;
    n->trial = n->unhealthy = false;
    pthread_mutex_unlock(&n->mu);
    if (joins) /* a pick or two may come first, at full share: harmless */
        cz_lb_rejoin(u->lb, idx);
    return 0;
}

int cz_upstream_set_nodes(cz_upstream_t *u, const cz_endpoint_t *eps, size_t n)
{
    int err = 0;
    bool serving = false; /* some node stays: new ones join a serving cluster */
    pthread_mutex_lock(&u->mu);
    for (cz__up_node_t *nd = u->nodes; nd; nd = nd->next) {
        if (!nd->live)
            continue;
        bool keep = false;
        for (size_t i = 0; i < n && !keep; i++)
            keep = eps[i].addr && strcmp(eps[i].addr, nd->addr) == 0;
        serving |= keep;
        if (!keep) {
            /* calls in flight keep the struct; their done() on the old slot is ignored */
            pthread_mutex_lock(&nd->mu);
            cz_lb_remove(u->lb, nd->idx);
            nd->live = false;
            pthread_mutex_unlock(&nd->mu);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!eps[i].addr)
            continue;
        int rc = node_add(u, eps[i].addr, eps[i].weight, serving);
        if (rc != 0 && err == 0)
            err = rc;
    }
    pthread_mutex_unlock(&u->mu);
    if (err)
        cz_log_error("upstream %s: node set update: %s", u->name, cz_strerror(err));
    return err;
}

size_t cz_upstream_nodes(cz_upstream_t *u, cz_upstream_node_stat_t *out, size_t max)
{
    size_t k = 0;
    pthread_mutex_lock(&u->mu);
    for (cz__up_node_t *n = u->nodes; n; n = n->next) {
        if (!n->live)
            continue;
        if (k < max) {
            cz_upstream_node_stat_t *s = &out[k];
            memset(s, 0, sizeof *s);
            snprintf(s->addr, sizeof s->addr, "%s", n->addr);
            pthread_mutex_lock(&n->mu);
            s->ejected = n->eject_until != 0;
            s->unhealthy = n->unhealthy;
            s->ejections = n->ejections;
            s->fails = n->fails;
            s->usable = !s->ejected && !s->unhealthy;
            pthread_mutex_unlock(&n->mu);
            s->requests = atomic_load_explicit(&n->requests, memory_order_relaxed);
            cz_lb_node_stats_t ls;
            s->slow_start_pct = cz_lb_node_stats(u->lb, n->idx, &ls) == 0 ? ls.slow_start_pct : 100;
        }
        k++;
    }
    pthread_mutex_unlock(&u->mu);
    return k;
}

/* ---- background loop ---------------------------------------------------------------------- */

static void on_endpoints(const cz_endpoint_t *eps, size_t n, void *ud)
{
    cz_upstream_set_nodes(ud, eps, n);
}

static void bg_closed(uv_handle_t *h)
{
    cz_upstream_t *u = h->data;
    u->closing--;
}

static void bg_done(void *ud)
{
    cz_upstream_t *u = ud;
    u->closing--;
}

static void on_stop(uv_async_t *a)
{
    cz_upstream_t *u = a->data;
    cz__health_stop(u);
    if (u->disc) {
        u->closing++;
        cz_discovery_free(u->disc, bg_done, u);
        u->disc = NULL;
    }
    if (u->hc_client) {
        u->closing++;
        cz_client_close(u->hc_client, bg_done, u);
        u->hc_client = NULL;
    }
    u->closing++;
    uv_close((uv_handle_t *)&u->stop_async, bg_closed);
}

static void bg_main(void *arg)
{
    cz_upstream_t *u = arg;
    if (u->disc && cz_discovery_start(u->disc, &u->loop, on_endpoints, u) != 0)
        cz_log_error("upstream %s: discovery did not start", u->name);
    if (u->health.enabled && cz__health_start(u) != 0)
        cz_log_error("upstream %s: health checks did not start", u->name);
    /* runs until on_stop has closed everything (discovery and client close asynchronously) */
    while (uv_run(&u->loop, UV_RUN_DEFAULT) != 0 || u->closing > 0)
        ;
}

cz_upstream_t *cz_upstream_new(const cz_upstream_conf_t *conf, cz_diag_t *d)
{
    cz_upstream_conf_t c = *conf; /* shallow: the check only sets health.enabled */
    if (cz_upstream_conf_check(&c, NULL, d) != 0)
        return NULL;
    cz_upstream_t *u = calloc(1, sizeof *u);
    if (!u)
        goto oom;
    pthread_mutex_init(&u->mu, NULL);
    atomic_init(&u->next_expiry, UINT64_MAX);
    u->clock = c.clock ? c.clock : cz_clock_system();
    u->policy = c.policy;
    u->connect_timeout_ms = (uint64_t)c.connect_timeout_ms;
    u->read_timeout_ms = (uint64_t)c.read_timeout_ms;
    u->pool_size = c.pool.size ? c.pool.size : -1;
    u->pool_idle_ms = (uint64_t)c.pool.idle_timeout_ms;
    u->outlier = c.outlier;
    u->health = c.health;
    u->health.path = NULL;
    u->use_breaker = c.breaker;
    u->name = strdup(c.name);
    if (!u->name)
        goto oom;
    if (c.tls_enabled) {
        char err[256];
        if (cz_tls_client_ctx_new(&c.tls, &u->tls, err, sizeof err) != 0) {
            cz_diag_set(d, NULL, 0, 0, "Tls", "%s", err);
            cz_upstream_free(u);
            return NULL;
        }
    }
    if (c.health.enabled && !(u->health.path = strdup(c.health.path)))
        goto oom;
    const char *hk = c.hash_key ? c.hash_key : "path";
    if (strncmp(hk, "header:", 7) == 0)
        u->hash_src = CZ__HASH_HEADER, u->hash_name = strdup(hk + 7);
    else if (strncmp(hk, "cookie:", 7) == 0)
        u->hash_src = CZ__HASH_COOKIE, u->hash_name = strdup(hk + 7);
    else if (strncmp(hk, "query:", 6) == 0)
        u->hash_src = CZ__HASH_QUERY, u->hash_name = strdup(hk + 6);
    if (u->hash_src != CZ__HASH_PATH && !u->hash_name)
        goto oom;

    static const cz_lb_kind_t kinds[] = {
        [CZ_UP_P2C_EWMA] = CZ_LB_P2C,      [CZ_UP_ROUND_ROBIN] = CZ_LB_RR,
        [CZ_UP_RANDOM] = CZ_LB_RANDOM,     [CZ_UP_WEIGHTED] = CZ_LB_SWRR,
        [CZ_UP_CONSISTENT_HASH] = CZ_LB_CHASH,
    };
    cz_lb_opts_t lo;
    cz_lb_opts_init(&lo);
    lo.clock = u->clock;
    lo.max_nodes = CZ_LB_MAX_NODES;
    lo.max_fails = 0; /* ejection is ours (outlier.c) */
    lo.slow_start_ns = (uint64_t)c.slow_start_ms * CZ_NS_PER_MS;
    if (c.policy == CZ_UP_CONSISTENT_HASH)
        lo.chash_bound_eps = 0.25;
    u->lb = cz_lb_new(kinds[c.policy], &lo);
    if (!u->lb)
        goto oom;

    if (c.nodes.n) {
        const cz_upstream_node_conf_t *nc = c.nodes.items;
        pthread_mutex_lock(&u->mu);
        int rc = 0;
        for (size_t i = 0; i < c.nodes.n && rc == 0; i++)
            rc = node_add(u, nc[i].addr, (uint32_t)nc[i].weight, false);
        pthread_mutex_unlock(&u->mu);
        if (rc != 0) {
            cz_diag_set(d, NULL, 0, 0, "Nodes", "%s", cz_strerror(rc));
            cz_upstream_free(u);
            return NULL;
        }
    } else if (c.dns && *c.dns) {
        u->disc = cz_discovery_dns(cz__up_strip_scheme(c.dns), (uint64_t)c.dns_interval_ms);
    } else {
        u->disc = cz_discovery_etcd(&c.etcd);
    }
    if (!c.nodes.n && !u->disc)
        goto oom;

    if (u->disc || u->health.enabled) {
        if (uv_loop_init(&u->loop) != 0)
            goto oom;
        if (uv_async_init(&u->loop, &u->stop_async, on_stop) != 0) {
            uv_loop_close(&u->loop);
            goto oom;
        }
        u->stop_async.data = u;
        if (uv_thread_create(&u->thread, bg_main, u) != 0) {
            uv_close((uv_handle_t *)&u->stop_async, NULL);
            uv_run(&u->loop, UV_RUN_DEFAULT);
            uv_loop_close(&u->loop);
            goto oom;
        }
        u->has_thread = true;
    }
    return u;
oom:
    cz_diag_set(d, NULL, 0, 0, "", "out of memory");
    cz_upstream_free(u);
    return NULL;
}

void cz_upstream_free(cz_upstream_t *u)
{
    if (!u)
        return;
    if (u->has_thread) {
        uv_async_send(&u->stop_async);
        uv_thread_join(&u->thread);
        uv_loop_close(&u->loop);
    } else if (u->disc) {
        cz_discovery_free(u->disc, NULL, NULL); /* never started: freed at once */
    }
    cz__up_node_t *n = u->nodes;
    while (n) {
        cz__up_node_t *next = n->next;
        if (n->breaker != cz_breaker_nop())
            cz_breaker_free(n->breaker);
        pthread_mutex_destroy(&n->mu);
        free(n);
        n = next;
    }
    if (u->lb)
        cz_lb_free(u->lb);
    pthread_mutex_destroy(&u->mu);
    free(u->health.path);
    free(u->hash_name);
    free(u->name);
    cz_tls_ctx_unref(u->tls);
    free(u);
}
