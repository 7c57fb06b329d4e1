/* SPDX-License-Identifier: MIT
 *
 * etcd_pub.c: registration in etcd, go-zero's discov.Publisher over the JSON gateway.
 *
 * grant a lease of TTL seconds -> put "Key/<lease id>" = value with it -> keep the lease alive
 * every TTL/3 (go-zero keeps it alive through the client's KeepAlive stream; unary keep-alives
 * every third of the TTL leave two chances before expiry). A keep-alive answer without TTL means
 * etcd forgot the lease (expired while we were cut off, etcd restarted with a fresh data dir):
 * grant and put again, as go-zero's keepAliveAsync re-registers. Unreachable etcd: retry with
 * capped exponential backoff on the next host. Unpublish revokes the lease, which deletes the key
 * at once instead of after the TTL.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/log.h"
#include "discov_int.h"

struct cz_etcd_publisher {
    uv_loop_t *loop;
    cz__etcd_t e;
    char *key, *value, *full_key;
    int64_t id, ttl, lease;
    int registered, stopping, failing, timer_open, client_open;
    uv_timer_t timer;
    void (*next)(cz_etcd_publisher_t *p); /* what the timer does */
    uint64_t backoff;
    void (*done)(void *ud);
    void *done_ud;
};

static void do_grant(cz_etcd_publisher_t *p);
static void do_put(cz_etcd_publisher_t *p);
static void do_keepalive(cz_etcd_publisher_t *p);
static void finish(cz_etcd_publisher_t *p);

static void on_timer(uv_timer_t *t)
{
    cz_etcd_publisher_t *p = t->data;
    if (!p->stopping || p->next == finish)
        p->next(p);
}

static void later(cz_etcd_publisher_t *p, void (*next)(cz_etcd_publisher_t *), uint64_t ms)
{
    p->next = next;
    uv_timer_start(&p->timer, on_timer, ms, 0);
}

static uint64_t keepalive_ms(const cz_etcd_publisher_t *p)
{
    uint64_t ms = (uint64_t)p->ttl * 1000 / 3;
    return ms ? ms : 1;
}

static void retry(cz_etcd_publisher_t *p, void (*next)(cz_etcd_publisher_t *), const char *what,
                  int err, int status)
{
    p->backoff = cz__backoff_next(p->backoff, p->e.opts.backoff_min_ms, p->e.opts.backoff_max_ms);
    uint64_t ms = p->backoff;
    if (next == do_keepalive && ms > keepalive_ms(p))
        ms = keepalive_ms(p); /* never let a live lease lapse by backing off */
    if (!p->failing || p->backoff >= p->e.opts.backoff_max_ms)
        cz_log_error("etcd publish %s: %s on %s failed (%s, status %d); retry in %llu ms",
                     p->full_key ? p->full_key : p->key, what, cz__etcd_cur(&p->e),
                     err ? cz__etcd_why(&p->e, err) : "ok", status, (unsigned long long)ms);
    p->failing = 1;
    cz__etcd_rotate(&p->e);
    later(p, next, ms);
}

static void post(cz_etcd_publisher_t *p, const char *path, char *body, cz_fetch_fn cb,
                 void (*again)(cz_etcd_publisher_t *))
{
    int rc = body ? cz__etcd_post(&p->e, path, body, 0, cb, p) : CZ_ENOMEM;
    free(body);
    if (rc)
        retry(p, again, path, rc, 0);
}

static void on_keepalive(int err, const cz_fetch_res_t *res, void *ud)
{
    cz_etcd_publisher_t *p = ud;
    if (p->stopping)
        return;
    int64_t ttl = 0;
    int status = res ? res->status : 0;
    cz__etcd_note(&p->e, err, res ? &res->info : NULL);
    if (err || status != 200 || cz__etcd_parse_keepalive(res->body.p, res->body.n, &ttl)) {
        retry(p, do_keepalive, "keepalive", err, status);
        return;
    }
    if (ttl <= 0) {
        cz_log_info("etcd publish %s: lease %" PRId64 " lost; registering again", p->full_key,
                    p->lease);
        p->registered = 0;
        p->lease = 0;
        do_grant(p);
        return;
    }
    p->failing = 0;
    p->backoff = 0;
    p->registered = 1;
    later(p, do_keepalive, keepalive_ms(p));
}

static void do_keepalive(cz_etcd_publisher_t *p)
{
    post(p, "/v3/lease/keepalive", cz__etcd_lease_body(p->lease), on_keepalive, do_keepalive);
}

static void on_put(int err, const cz_fetch_res_t *res, void *ud)
{
    cz_etcd_publisher_t *p = ud;
    if (p->stopping)
        return;
    int status = res ? res->status : 0;
    cz__etcd_note(&p->e, err, res ? &res->info : NULL);
    int rc = err ? err : res ? cz__etcd_parse_put(res->body.p, res->body.n) : CZ_EPARSE;
    if (rc == CZ_ENOTFOUND) { /* the lease expired between grant and put */
        p->lease = 0;
        do_grant(p);
        return;
    }
    if (rc || status != 200) {
        retry(p, do_put, "put", rc, status);
        return;
    }
    if (p->failing || !p->registered)
        cz_log_info("etcd publish: %s = %s (lease %" PRId64 ", ttl %" PRId64 "s)", p->full_key,
                    p->value, p->lease, p->ttl);
    p->failing = 0;
    p->backoff = 0;
    p->registered = 1;
    later(p, do_keepalive, keepalive_ms(p));
}

static void do_put(cz_etcd_publisher_t *p)
{
    post(p, "/v3/kv/put", cz__etcd_put_body(p->full_key, p->value, p->lease), on_put, do_put);
}

static void on_grant(int err, const cz_fetch_res_t *res, void *ud)
{
    cz_etcd_publisher_t *p = ud;
    if (p->stopping)
        return;
    int status = res ? res->status : 0;
    cz__etcd_note(&p->e, err, res ? &res->info : NULL);
    int64_t id = 0, ttl = 0;
    if (err || status != 200 || cz__etcd_parse_grant(res->body.p, res->body.n, &id, &ttl)) {
        retry(p, do_grant, "grant", err, status);
        return;
    }
    p->lease = id;
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, p->id > 0 ? p->id : id);
    size_t n = strlen(p->key) + strlen(buf) + 2;
    char *fk = malloc(n);
    if (!fk) {
        retry(p, do_grant, "grant", CZ_ENOMEM, status);
        return;
    }
    snprintf(fk, n, "%s/%s", p->key, buf);
    free(p->full_key);
    p->full_key = fk;
    do_put(p);
}

static void do_grant(cz_etcd_publisher_t *p)
{
    post(p, "/v3/lease/grant", cz__etcd_grant_body(p->ttl), on_grant, do_grant);
}

static void free_mem(cz_etcd_publisher_t *p)
{
    free(p->key);
    free(p->value);
    free(p->full_key);
    free(p);
}

cz_etcd_publisher_t *cz_etcd_publish_ex(const cz_etcd_conf_t *conf, const char *value,
                                        uv_loop_t *loop, const cz_etcd_opts_t *opts)
{
    if (cz_etcd_conf_check(conf) != 0 || !value || !loop)
        return NULL;
    cz_etcd_publisher_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->id = conf->id;
    p->ttl = conf->ttl_s > 0 ? conf->ttl_s : 10;
    p->key = strdup(conf->key);
    p->value = strdup(value);
    if (!p->key || !p->value || cz__etcd_setup(&p->e, conf, opts) != 0)
        goto fail;
    if (uv_timer_init(loop, &p->timer) != 0)
        goto fail;
    p->timer.data = p;
    p->timer_open = 1;
    if (cz__etcd_open(&p->e, loop) != 0) {
        cz_etcd_unpublish(p, NULL, NULL);
        return NULL;
    }
    p->client_open = 1;
    do_grant(p);
    return p;
fail:
    cz__etcd_close(&p->e, NULL, NULL);
    free_mem(p);
    return NULL;
}

cz_etcd_publisher_t *cz_etcd_publish(const cz_etcd_conf_t *conf, const char *value,
                                     uv_loop_t *loop)
{
    return cz_etcd_publish_ex(conf, value, loop, NULL);
}

int cz_etcd_publisher_registered(const cz_etcd_publisher_t *p) { return p && p->registered; }

/* ---- unpublish: revoke, close the client, close the timer, free ---- */

static void maybe_freed(cz_etcd_publisher_t *p)
{
    if (p->timer_open || p->client_open)
        return;
    void (*done)(void *) = p->done;
    void *ud = p->done_ud;
    free_mem(p);
    if (done)
        done(ud);
}

static void timer_closed(uv_handle_t *h)
{
    cz_etcd_publisher_t *p = h->data;
    p->timer_open = 0;
    maybe_freed(p);
}

static void client_closed(void *ud)
{
    cz_etcd_publisher_t *p = ud;
    p->client_open = 0;
    maybe_freed(p);
}

static void finish(cz_etcd_publisher_t *p)
{
    if (p->client_open)
        cz__etcd_close(&p->e, client_closed, p);
    else
        cz__etcd_close(&p->e, NULL, NULL);
    if (p->timer_open)
        uv_close((uv_handle_t *)&p->timer, timer_closed);
    else
        maybe_freed(p);
}

static void on_revoke(int err, const cz_fetch_res_t *res, void *ud)
{
    cz_etcd_publisher_t *p = ud;
    if (err || !res || res->status != 200)
        cz_log_error("etcd publish %s: revoke failed (%s, status %d); the key goes with the "
                     "lease TTL", p->full_key ? p->full_key : p->key,
                     err ? cz_strerror(err) : "ok", res ? res->status : 0);
    /* Close from the next loop turn: the client is inside its own callback here. */
    later(p, finish, 0);
}

void cz_etcd_unpublish(cz_etcd_publisher_t *p, void (*done)(void *ud), void *ud)
{
    if (!p) {
        if (done)
            done(ud);
        return;
    }
    p->done = done;
    p->done_ud = ud;
    p->stopping = 1;
    p->registered = 0;
    if (p->timer_open)
        uv_timer_stop(&p->timer);
    if (p->lease && p->client_open) {
        char *body = cz__etcd_lease_body(p->lease);
        int rc = body ? cz__etcd_post(&p->e, "/v3/lease/revoke", body, 0, on_revoke, p)
                      : CZ_ENOMEM;
        free(body);
        if (rc == 0)
            return;
    }
    finish(p);
}
