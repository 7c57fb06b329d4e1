/* SPDX-License-Identifier: MIT
 *
 * etcd_sub.c: etcd discovery, go-zero's core/discov Subscriber over the JSON gateway.
 *
 * The cycle is: range "Key/" (the whole current set and its revision), report it if it changed,
 * then hold one /v3/watch stream from revision+1 and apply its PUT/DELETE events, reporting the
 * full set after each change. Any failure (etcd unreachable, non-200, junk, the stream ending,
 * a compacted start revision) keeps the last set, is logged, moves to the next host and starts
 * the cycle again after a capped exponential backoff; re-ranging rather than resuming the watch
 * means events missed while disconnected can never leave a stale node behind. The cycle is also
 * renewed every resync_ms, because a watch on a partitioned or frozen member just goes quiet.
 */
#include <stdlib.h>
#include <string.h>
#include "czero/log.h"
#include "discov_int.h"

typedef struct etcd_src {
    cz_discovery_t base;
    cz__etcd_t e;
    cz_etcd_opts_t opts;
    char *key, *prefix;
    uv_timer_t timer;
    int timer_open, client_open;
    cz__kvset_t set;
    int reported, failing;
    int64_t rev;
    cz_call_t *watch;
    char *buf; /* watch stream bytes not yet framed */
    size_t blen, bcap;
    uint64_t backoff;
} etcd_src_t;

static void do_range(etcd_src_t *s);

static void report(etcd_src_t *s)
{
    cz_endpoint_t *eps;
    size_t n;
    if (cz__kvset_endpoints(&s->set, &eps, &n) != 0) {
        s->reported = 0; /* retry the report on the next change or range */
        return;
    }
    s->reported = 1;
    cz__discov_report(&s->base, eps, n);
    free(eps);
}

static void on_timer(uv_timer_t *t) { do_range(t->data); }

/* Periodic renewal: drop the watch and go round the cycle again. The range reports only a
 * changed set, so a healthy resync is invisible to the user. */
static void on_resync(uv_timer_t *t)
{
    etcd_src_t *s = t->data;
    if (s->watch) {
        cz_call_cancel(s->watch);
        s->watch = NULL;
        s->blen = 0;
    }
    do_range(s);
}

static void fail(etcd_src_t *s, const char *what, int err, int status)
{
    if (s->base.stopping)
        return;
    s->backoff = cz__backoff_next(s->backoff, s->opts.backoff_min_ms, s->opts.backoff_max_ms);
    if (!s->failing || s->backoff >= s->opts.backoff_max_ms)
        cz_log_error("etcd discovery %s: %s on %s failed (%s, status %d); keeping %zu "
                     "endpoints, retry in %llu ms",
                     s->key, what, cz__etcd_cur(&s->e), err ? cz__etcd_why(&s->e, err) : "ok", status,
                     s->set.n, (unsigned long long)s->backoff);
    s->failing = 1;
    cz__etcd_rotate(&s->e);
    uv_timer_start(&s->timer, on_timer, s->backoff, 0);
}

/* ---- the watch stream ---- */

static int on_watch_head(cz_call_t *call, int status, const cz_str_t *hn, const cz_str_t *hv,
                         size_t n, void *ud)
{
    etcd_src_t *s = ud;
    if (status != 200) {
        cz_log_error("etcd discovery %s: watch answered %d", s->key, status);
        return 1; /* on_done follows with CZ_ECLOSED: fail() there */
    }
    return 0;
}

static void restart_now(etcd_src_t *s)
{
    cz_call_cancel(s->watch); /* no on_done after this */
    s->watch = NULL;
    s->blen = 0;
    uv_timer_start(&s->timer, on_timer, 0, 0);
}

static void on_watch_body(cz_call_t *call, const void *data, size_t n, void *ud)
{
    etcd_src_t *s = ud;
    if (s->blen + n > s->bcap) {
        size_t cap = s->bcap ? s->bcap : 4096;
        while (cap < s->blen + n)
            cap *= 2;
        char *b = cap <= (64u << 20) ? realloc(s->buf, cap) : NULL;
        if (!b) {
            cz_log_error("etcd discovery %s: watch message too large", s->key);
            restart_now(s);
            return;
        }
        s->buf = b;
        s->bcap = cap;
    }
    memcpy(s->buf + s->blen, data, n);
    s->blen += n;
    size_t off = 0;
    for (;;) {
        size_t skip;
        long len = cz__json_frame(s->buf + off, s->blen - off, &skip);
        if (len == 0) {
            off += skip;
            break;
        }
        cz__watch_msg_t msg;
        int rc = len < 0 ? (int)len
                         : cz__etcd_parse_watch(s->buf + off + skip, (size_t)len, &s->set, &msg);
        if (rc) {
            cz_log_error("etcd discovery %s: %s; ranging again", s->key,
                         rc == CZ_ECLOSED ? "watch ended by etcd" : "bad watch message");
            restart_now(s);
            return;
        }
        off += skip + (size_t)len;
        if (msg.revision > s->rev)
            s->rev = msg.revision;
        if (msg.compact_revision > 0 || msg.canceled) {
            cz_log_info("etcd discovery %s: watch %s; ranging again", s->key,
                        msg.canceled ? "canceled" : "compacted");
            restart_now(s);
            return;
        }
        if (msg.created) {
            s->failing = 0;
            s->backoff = 0;
            if (s->opts.resync_ms)
                uv_timer_start(&s->timer, on_resync, s->opts.resync_ms, 0);
        }
        if (msg.changed || !s->reported)
            report(s);
        if (s->base.stopping || !s->watch)
            return;
    }
    memmove(s->buf, s->buf + off, s->blen - off);
    s->blen -= off;
}

static void on_watch_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    etcd_src_t *s = ud;
    s->watch = NULL;
    s->blen = 0;
    cz__etcd_note(&s->e, err, info);
    fail(s, "watch", err ? err : CZ_ECLOSED, info ? info->status : 0);
}

static const cz_call_cbs_t watch_cbs = {
    .on_head = on_watch_head,
    .on_body = on_watch_body,
    .on_done = on_watch_done,
};

static void start_watch(etcd_src_t *s)
{
    char *body = cz__etcd_watch_body(s->prefix, s->rev + 1);
    if (!body) {
        fail(s, "watch", CZ_ENOMEM, 0);
        return;
    }
    const cz_str_t hn[] = {{"Content-Type", 12}, {"Authorization", 13}};
    const cz_str_t hv[] = {{"application/json", 16},
                           cz_str_c(s->e.token ? s->e.token : "")}; /* the range's token */
    cz_client_req_t rq = {
        .addr = cz__etcd_cur(&s->e),
        .method = {"POST", 4},
        .target = {"/v3/watch", 9},
        .hname = hn,
        .hvalue = hv,
        .nheaders = s->e.token ? 2 : 1,
        .body = {body, strlen(body)},
        .header_timeout_ms = s->opts.request_timeout_ms,
        .tls = s->e.tls,
    };
    s->blen = 0;
    int rc = cz_client_call(s->e.client, &rq, &watch_cbs, s, &s->watch);
    free(body);
    if (rc) {
        s->watch = NULL;
        fail(s, "watch", rc, 0);
    }
}

/* ---- the range ---- */

static void on_range(int err, const cz_fetch_res_t *res, void *ud)
{
    etcd_src_t *s = ud;
    if (s->base.stopping)
        return;
    int status = res ? res->status : 0;
    if (err || status != 200) {
        cz__etcd_note(&s->e, err, res ? &res->info : NULL);
        fail(s, "range", err, status);
        return;
    }
    cz__kvset_t fresh = {0};
    int64_t rev = 0;
    int rc = cz__etcd_parse_range(res->body.p, res->body.n, &fresh, &rev);
    if (rc) {
        cz__kvset_free(&fresh);
        fail(s, "range", rc, status);
        return;
    }
    int same = s->reported && cz__kvset_equal(&fresh, &s->set);
    cz__kvset_free(&s->set);
    s->set = fresh;
    s->rev = rev;
    if (s->failing)
        cz_log_info("etcd discovery %s: %s answers again (%zu endpoints)", s->key,
                    cz__etcd_cur(&s->e), s->set.n);
    if (!same)
        report(s);
    if (!s->base.stopping)
        start_watch(s);
}

static void do_range(etcd_src_t *s)
{
    if (s->base.stopping)
        return;
    char *body = cz__etcd_range_body(s->prefix);
    int rc = body ? cz__etcd_post(&s->e, "/v3/kv/range", body, 0, on_range, s) : CZ_ENOMEM;
    free(body);
    if (rc)
        fail(s, "range", rc, 0);
}

/* ---- lifecycle ---- */

static int etcd_start(cz_discovery_t *d)
{
    etcd_src_t *s = (etcd_src_t *)d;
    int rc = uv_timer_init(d->loop, &s->timer);
    if (rc)
        return rc;
    s->timer.data = s;
    s->timer_open = 1;
    if ((rc = cz__etcd_open(&s->e, d->loop)) != 0)
        return rc;
    s->client_open = 1;
    do_range(s);
    return 0;
}

static void free_mem(etcd_src_t *s)
{
    cz__kvset_free(&s->set);
    free(s->buf);
    free(s->key);
    free(s->prefix);
}

static void maybe_freed(etcd_src_t *s)
{
    if (!s->timer_open && !s->client_open) {
        free_mem(s);
        cz__discov_freed(&s->base);
    }
}

static void timer_closed(uv_handle_t *h)
{
    etcd_src_t *s = h->data;
    s->timer_open = 0;
    maybe_freed(s);
}

static void client_closed(void *ud)
{
    etcd_src_t *s = ud;
    s->client_open = 0;
    maybe_freed(s);
}

static void etcd_stop(cz_discovery_t *d)
{
    etcd_src_t *s = (etcd_src_t *)d;
    if (s->watch) {
        cz_call_cancel(s->watch);
        s->watch = NULL;
    }
    if (s->client_open) /* an in-flight range ends with CZ_ECLOSED and sees stopping */
        cz__etcd_close(&s->e, client_closed, s);
    else
        cz__etcd_close(&s->e, NULL, NULL);
    if (s->timer_open)
        uv_close((uv_handle_t *)&s->timer, timer_closed);
    else
        maybe_freed(s);
}

static const cz__discov_ops_t etcd_ops = {etcd_start, etcd_stop};

cz_discovery_t *cz_discovery_etcd_ex(const cz_etcd_conf_t *conf, const cz_etcd_opts_t *opts)
{
    if (cz_etcd_conf_check(conf) != 0)
        return NULL;
    etcd_src_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &etcd_ops;
    if (opts)
        s->opts = *opts;
    else
        cz_etcd_opts_init(&s->opts);
    s->key = strdup(conf->key);
    s->prefix = cz__etcd_prefix(conf->key);
    if (!s->key || !s->prefix || cz__etcd_setup(&s->e, conf, &s->opts) != 0) {
        cz__etcd_close(&s->e, NULL, NULL);
        free_mem(s);
        free(s);
        return NULL;
    }
    return &s->base;
}

cz_discovery_t *cz_discovery_etcd(const cz_etcd_conf_t *conf)
{
    return cz_discovery_etcd_ex(conf, NULL);
}
