/* SPDX-License-Identifier: MIT
 *
 * discovery.c: the common part of cz_discovery_t (start, report, free) and the static source.
 *
 * A source is a struct embedding cz_discovery_t first with an ops table (start, stop). The base
 * keeps the callback and suppresses reports once free has begun, so a source's in-flight
 * resolution or etcd answer arriving during teardown never reaches the user.
 */
#include <stdlib.h>
#include <string.h>
#include "czero/log.h"
#include "discov_int.h"

int cz_discovery_start(cz_discovery_t *d, uv_loop_t *loop, cz_endpoints_fn fn, void *ud)
{
    if (!d || !loop || !fn || d->started)
        return CZ_EARG;
    d->loop = loop;
    d->fn = fn;
    d->ud = ud;
    d->started = 1;
    return d->ops->start(d);
}

void cz__discov_report(cz_discovery_t *d, const cz_endpoint_t *eps, size_t n)
{
    if (!d->stopping)
        d->fn(eps, n, d->ud);
}

void cz__discov_freed(cz_discovery_t *d)
{
    void (*done)(void *) = d->done;
    void *ud = d->done_ud;
    free(d);
    if (done)
        done(ud);
}

void cz_discovery_free(cz_discovery_t *d, void (*done)(void *ud), void *ud)
{
    if (!d) {
        if (done)
            done(ud);
        return;
    }
    d->done = done;
    d->done_ud = ud;
    d->stopping = 1;
    d->ops->stop(d);
}

/* ---- static ---- */

typedef struct static_src {
    cz_discovery_t base;
    uv_idle_t idle; /* reports on the next loop turn, not inside start */
    size_t n;
    cz_endpoint_t *eps;
    char *strings;
} static_src_t;

static void static_free_mem(static_src_t *s)
{
    free(s->eps);
    free(s->strings);
}

static void static_fire(uv_idle_t *h)
{
    static_src_t *s = h->data;
    uv_idle_stop(h);
    cz__discov_report(&s->base, s->eps, s->n);
}

static int static_start(cz_discovery_t *d)
{
    static_src_t *s = (static_src_t *)d;
    int rc = uv_idle_init(d->loop, &s->idle);
    if (rc)
        return rc;
    s->idle.data = s;
    return uv_idle_start(&s->idle, static_fire);
}

static void static_closed(uv_handle_t *h)
{
    static_src_t *s = h->data;
    static_free_mem(s);
    cz__discov_freed(&s->base);
}

static void static_stop(cz_discovery_t *d)
{
    static_src_t *s = (static_src_t *)d;
    if (d->started && d->loop) {
        uv_close((uv_handle_t *)&s->idle, static_closed);
        return;
    }
    static_free_mem(s);
    cz__discov_freed(d);
}

static const cz__discov_ops_t static_ops = {static_start, static_stop};

cz_discovery_t *cz_discovery_static(const cz_endpoint_t *eps, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!eps[i].addr || !eps[i].addr[0])
            return NULL;
        bytes += strlen(eps[i].addr) + 1;
    }
    static_src_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &static_ops;
    s->n = n;
    s->eps = n ? malloc(n * sizeof *s->eps) : NULL;
    s->strings = bytes ? malloc(bytes) : NULL;
    if (n && (!s->eps || !s->strings)) {
        static_free_mem(s);
        free(s);
        return NULL;
    }
    char *w = s->strings;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(eps[i].addr) + 1;
        memcpy(w, eps[i].addr, len);
        s->eps[i] = (cz_endpoint_t){w, eps[i].weight ? eps[i].weight : 1};
        w += len;
    }
    return &s->base;
}
