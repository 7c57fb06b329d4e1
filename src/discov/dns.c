/* SPDX-License-Identifier: MIT
 *
 * dns.c: DNS discovery: a "name:port" re-resolved on an interval.
 *
 * Every A/AAAA answer becomes "addr:port" ("[v6]:port"); the set is sorted and deduplicated and
 * reported only when it differs from the last one, so balancers are not rebuilt every interval.
 * A failed lookup keeps the last set (a flaky resolver must not empty a cluster) and is logged.
 * The resolver is injectable so tests can script changes and failures; the real one is
 * uv_getaddrinfo on the loop's thread pool. One lookup is in flight at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/log.h"
#include "discov_int.h"

typedef struct dns_src {
    cz_discovery_t base;
    uv_timer_t timer;
    cz_resolver_t resolver;
    char *host, *port;
    uint64_t interval_ms;
    char **set; /* last reported "addr:port", sorted */
    size_t nset;
    int have_set, pending, timer_open, failing; /* failing: logged once per failure streak */
} dns_src_t;

/* ---- the default resolver ---- */

typedef struct gai_req {
    uv_getaddrinfo_t req;
    cz_resolve_cb cb;
    void *cb_ud;
} gai_req_t;

static void gai_done(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    gai_req_t *g = (gai_req_t *)req;
    size_t n = 0, cap = 0;
    char(*bufs)[64] = NULL;
    const char **addrs = NULL;
    for (struct addrinfo *a = res; status == 0 && a; a = a->ai_next)
        cap++;
    if (cap && (bufs = malloc(cap * sizeof *bufs)) && (addrs = malloc(cap * sizeof *addrs))) {
        for (struct addrinfo *a = res; a; a = a->ai_next) {
            int rc = -1;
            if (a->ai_family == AF_INET)
                rc = uv_ip4_name((struct sockaddr_in *)a->ai_addr, bufs[n], 64);
            else if (a->ai_family == AF_INET6)
                rc = uv_ip6_name((struct sockaddr_in6 *)a->ai_addr, bufs[n], 64);
            if (rc == 0)
                addrs[n] = bufs[n], n++;
        }
    } else if (cap) {
        status = CZ_ENOMEM;
    }
    uv_freeaddrinfo(res);
    g->cb(status, addrs, n, g->cb_ud);
    free(addrs);
    free(bufs);
    free(g);
}

static void gai_resolve(void *ud, uv_loop_t *loop, const char *host, cz_resolve_cb cb,
                        void *cb_ud)
{
    gai_req_t *g = malloc(sizeof *g);
    if (!g) {
        cb(CZ_ENOMEM, NULL, 0, cb_ud);
        return;
    }
    g->cb = cb;
    g->cb_ud = cb_ud;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(loop, &g->req, gai_done, host, NULL, &hints);
    if (rc) {
        free(g);
        cb(rc, NULL, 0, cb_ud);
    }
}

/* ---- the source ---- */

static void free_set(char **set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(set[i]);
    free(set);
}

static void dns_free_mem(dns_src_t *s)
{
    free_set(s->set, s->nset);
    free(s->host);
    free(s->port);
}

static void maybe_freed(dns_src_t *s)
{
    if (s->base.stopping && !s->pending && !s->timer_open) {
        dns_free_mem(s);
        cz__discov_freed(&s->base);
    }
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void resolve_now(dns_src_t *s);

static void on_timer(uv_timer_t *t) { resolve_now(t->data); }

static void on_resolved(int err, const char *const *addrs, size_t n, void *ud)
{
    dns_src_t *s = ud;
    s->pending = 0;
    if (s->base.stopping) {
        maybe_freed(s);
        return;
    }
    char **set = NULL;
    size_t m = 0;
    if (err == 0 && n == 0)
        err = CZ_ENOTFOUND;
    if (err == 0 && !(set = calloc(n, sizeof *set)))
        err = CZ_ENOMEM;
    for (size_t i = 0; err == 0 && i < n; i++) {
        const char *fmt = strchr(addrs[i], ':') ? "[%s]:%s" : "%s:%s";
        size_t len = strlen(addrs[i]) + strlen(s->port) + 4;
        if (!(set[i] = malloc(len))) {
            err = CZ_ENOMEM;
            break;
        }
        snprintf(set[i], len, fmt, addrs[i], s->port);
        m = i + 1;
    }
    if (err) {
        free_set(set, m);
        /* getaddrinfo's codes are libuv's UV_EAI_* range, unknown to cz_strerror */
        const char *why = err <= -3000 && err >= -3014 ? uv_strerror(err) : cz_strerror(err);
        if (!s->failing)
            cz_log_error("dns discovery %s:%s: %s; keeping the last %zu endpoints", s->host,
                         s->port, why, s->nset);
        s->failing = 1;
    } else {
        if (s->failing)
            cz_log_info("dns discovery %s:%s resolves again", s->host, s->port);
        s->failing = 0;
        qsort(set, m, sizeof *set, str_cmp);
        size_t w = 0;
        for (size_t i = 0; i < m; i++) {
            if (w && strcmp(set[w - 1], set[i]) == 0)
                free(set[i]);
            else
                set[w++] = set[i];
        }
        int same = s->have_set && w == s->nset;
        for (size_t i = 0; same && i < w; i++)
            same = strcmp(set[i], s->set[i]) == 0;
        if (same) {
            free_set(set, w);
        } else {
            free_set(s->set, s->nset);
            s->set = set;
            s->nset = w;
            s->have_set = 1;
            cz_endpoint_t *eps = malloc(w * sizeof *eps);
            if (eps) {
                for (size_t i = 0; i < w; i++)
                    eps[i] = (cz_endpoint_t){set[i], 1};
                cz__discov_report(&s->base, eps, w);
                free(eps);
            } else {
                s->have_set = 0; /* report again next time */
            }
        }
    }
    if (!s->base.stopping)
        uv_timer_start(&s->timer, on_timer, s->interval_ms, 0);
}

static void resolve_now(dns_src_t *s)
{
    if (s->pending || s->base.stopping)
        return;
    s->pending = 1;
    s->resolver.resolve(s->resolver.ud, s->base.loop, s->host, on_resolved, s);
}

static int dns_start(cz_discovery_t *d)
{
    dns_src_t *s = (dns_src_t *)d;
    int rc = uv_timer_init(d->loop, &s->timer);
    if (rc)
        return rc;
    s->timer.data = s;
    s->timer_open = 1;
    resolve_now(s);
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    dns_src_t *s = h->data;
    s->timer_open = 0;
    maybe_freed(s);
}

static void dns_stop(cz_discovery_t *d)
{
    dns_src_t *s = (dns_src_t *)d;
    if (s->timer_open) {
        uv_close((uv_handle_t *)&s->timer, timer_closed);
        return;
    }
    maybe_freed(s);
}

static const cz__discov_ops_t dns_ops = {dns_start, dns_stop};

cz_discovery_t *cz_discovery_dns_ex(const char *host_port, uint64_t interval_ms,
                                    const cz_resolver_t *resolver)
{
    if (!host_port)
        return NULL;
    const char *colon = strrchr(host_port, ':');
    if (!colon || !colon[1] || colon == host_port)
        return NULL;
    const char *h = host_port;
    size_t hn = (size_t)(colon - host_port);
    if (h[0] == '[') { /* "[::1]:80" */
        if (hn < 3 || h[hn - 1] != ']')
            return NULL;
        h++;
        hn -= 2;
    } else if (memchr(h, ':', hn)) {
        return NULL; /* a bare IPv6 literal needs brackets */
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return NULL;
    dns_src_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &dns_ops;
    s->host = strndup(h, hn);
    s->port = strdup(colon + 1);
    s->interval_ms = interval_ms ? interval_ms : 5000;
    s->resolver = resolver && resolver->resolve ? *resolver : (cz_resolver_t){gai_resolve, NULL};
    if (!s->host || !s->port) {
        dns_free_mem(s);
        free(s);
        return NULL;
    }
    return &s->base;
}

cz_discovery_t *cz_discovery_dns(const char *host_port, uint64_t interval_ms)
{
    return cz_discovery_dns_ex(host_port, interval_ms, NULL);
}
