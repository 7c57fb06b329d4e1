/* SPDX-License-Identifier: MIT
 *
 * health.c: active health checks of an upstream's nodes (Envoy's HTTP health checker).
 *
 * Every Health.Interval the background loop sends "GET Health.Path" to each live node with its
 * own client (client.h), bounded by Health.Timeout. A node answering ExpectStatus in time passes.
 * UnhealthyThreshold consecutive failures mark it unhealthy (down in the balancer), then
 * HealthyThreshold consecutive passes bring it back. New nodes start healthy, so a cluster serves
 * before its first round of checks. At most one check per node is in flight.
 */
#include <stdlib.h>
#include "czero/client.h"
#include "czero/log.h"
#include "gw_int.h"

void cz__health_result(cz_upstream_t *u, cz__up_node_t *n, bool ok)
{
    pthread_mutex_lock(&n->mu);
    if (ok) {
        n->hc_fail = 0;
        n->hc_ok++;
        if (n->unhealthy && n->hc_ok >= (uint32_t)u->health.healthy) {
            n->unhealthy = false;
            cz__up_node_apply(u, n);
            cz_log_info("upstream %s: node %s is healthy again", u->name, n->addr);
        }
    } else {
        n->hc_ok = 0;
        n->hc_fail++;
        if (!n->unhealthy && n->hc_fail >= (uint32_t)u->health.unhealthy) {
            n->unhealthy = true;
            cz__up_node_apply(u, n);
            cz_log_error("upstream %s: node %s failed %u health checks, marked down", u->name,
                         n->addr, n->hc_fail);
        }
    }
    pthread_mutex_unlock(&n->mu);
}

typedef struct hc_ctx {
    cz_upstream_t *u;
    cz__up_node_t *n;
} hc_ctx_t;

static void on_check(int err, const cz_fetch_res_t *res, void *ud)
{
    hc_ctx_t *h = ud;
    h->n->hc_busy = false;
    /* a node that left discovery while its check ran keeps no verdict */
    if (err != CZ_ECLOSED || (res && res->status))
        cz__health_result(h->u, h->n,
                          err == 0 && res && res->status == h->u->health.expect_status);
    free(h);
}

static void on_tick(uv_timer_t *t)
{
    cz_upstream_t *u = t->data;
    pthread_mutex_lock(&u->mu);
    for (cz__up_node_t *n = u->nodes; n; n = n->next) {
        if (!n->live || n->hc_busy)
            continue;
        hc_ctx_t *h = malloc(sizeof *h);
        if (!h)
            break;
        h->u = u;
        h->n = n;
        cz_client_req_t rq = {
            .addr = n->addr,
            .tls = u->tls,
            .method = CZ_STR("GET"),
            .target = cz_str_c(u->health.path),
            .connect_timeout_ms = (uint64_t)u->health.timeout_ms,
            .header_timeout_ms = (uint64_t)u->health.timeout_ms,
            .total_timeout_ms = (uint64_t)u->health.timeout_ms,
        };
        if (cz_client_fetch(u->hc_client, &rq, 4096, on_check, h) != 0) {
            free(h);
            continue;
        }
        n->hc_busy = true;
    }
    pthread_mutex_unlock(&u->mu);
}

int cz__health_start(cz_upstream_t *u)
{
    cz_client_opts_t o;
    cz_client_opts_init(&o);
    o.pool_size = 4;
    u->hc_client = cz_client_new(&u->loop, &o);
    if (!u->hc_client)
        return CZ_ENOMEM;
    int rc = uv_timer_init(&u->loop, &u->hc_timer);
    if (rc != 0)
        return rc;
    u->hc_timer.data = u;
    uint64_t iv = (uint64_t)u->health.interval_ms;
    return uv_timer_start(&u->hc_timer, on_tick, iv, iv);
}

static void timer_closed(uv_handle_t *h)
{
    cz_upstream_t *u = h->data;
    u->closing--;
}

void cz__health_stop(cz_upstream_t *u)
{
    if (!u->health.enabled || !uv_is_active((uv_handle_t *)&u->hc_timer))
        return;
    uv_timer_stop(&u->hc_timer);
    u->closing++;
    uv_close((uv_handle_t *)&u->hc_timer, timer_closed);
}
