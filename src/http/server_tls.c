/* SPDX-License-Identifier: MIT
 *
 * server_tls.c: a server's TLS certificates over its life: the context built at start (a bad
 * CertFile/KeyFile refuses the start with the path and OpenSSL's reason), the reload slot the
 * workers' TLS transport opens sessions from (transport/tls.c), the file watch that reloads a
 * service's certificates when their files change, cz_server_tls_reload, and the counters
 * /metrics shows.
 *
 * The watch (Tls.WatchInterval, 2 s by default) runs from worker 0's tick: the stat() calls
 * and, when something changed, the rebuild (reading PEM files, checking the key) run on
 * libuv's thread pool, never on a loop. A reload keeps the session-ticket keys (tickets issued
 * before it still resume) and leaves open connections on the context they started with. A
 * reload that fails (a key written after its certificate, a bad file) keeps the old context,
 * is logged once per distinct reason, and is tried again at the next check while the files
 * still differ from the loaded ones. A server inheriting another's listeners (the gateway's
 * reload) inherits its ticket keys the same way.
 * What this is not: the TLS engine (src/tls/), the transport (transport/tls.c).
 */
#include <stdio.h>
#include <string.h>
#include "http/http_int.h"
#include "czero/log.h"
#include "czero/tls.h"

int cz__server_tls_start(cz_server_t *s)
{
    if (!cz_tls_conf_enabled(&s->conf.tls))
        return 0;
    char err[512];
    cz_tls_ctx_t *ctx = NULL;
    int rc;
    cz_tls_ctx_t *prev = s->inherit && s->inherit->tls ? cz_tls_slot_get(s->inherit->tls) : NULL;
    if (prev)
        rc = cz_tls_server_ctx_renew(prev, &s->conf.tls, &ctx, err, sizeof err);
    else
        rc = cz_tls_server_ctx_new(&s->conf.tls, NULL, &ctx, err, sizeof err);
    cz_tls_ctx_unref(prev);
    if (rc != 0) {
        cz_log_error("TLS: %s", err);
        return rc;
    }
    if (!(s->tls = cz_tls_slot_new(ctx))) {
        cz_tls_ctx_unref(ctx);
        return CZ_ENOMEM;
    }
    pthread_mutex_init(&s->tls_mu, NULL);
    return 0;
}

void cz__server_tls_free(cz_server_t *s)
{
    if (!s->tls)
        return;
    cz_tls_slot_free(s->tls);
    s->tls = NULL;
    pthread_mutex_destroy(&s->tls_mu);
}

/* Log a failed reload once per distinct reason: the watch retries every interval. */
static void reload_result(cz_server_t *s, int rc, const char *err, bool forced)
{
    pthread_mutex_lock(&s->tls_mu);
    bool news = rc == 0 || forced || strcmp(s->tls_last_err, err) != 0;
    if (rc == 0) {
        s->tls_reloads++;
        s->tls_last_err[0] = '\0';
    } else {
        s->tls_reload_failures++;
        snprintf(s->tls_last_err, sizeof s->tls_last_err, "%s", err);
    }
    pthread_mutex_unlock(&s->tls_mu);
    if (rc == 0)
        cz_log_info("TLS: certificates of %s:%d reloaded", s->host, s->port);
    else if (news)
        cz_log_error("TLS: reloading the certificates of %s:%d failed, the old ones stay: %s",
                     s->host, s->port, err);
}

int cz_server_tls_reload(cz_server_t *s, char *err, size_t errsize)
{
    if (!s || !s->tls)
        return CZ_EARG;
    char buf[512];
    int rc = cz_tls_slot_reload(s->tls, &s->conf.tls, buf, sizeof buf);
    reload_result(s, rc, buf, true);
    if (rc && err && errsize)
        snprintf(err, errsize, "%s", buf);
    return rc;
}

static void watch_work(uv_work_t *req)
{
    cz_server_t *s = req->data;
    cz_tls_ctx_t *cur = cz_tls_slot_get(s->tls);
    bool changed = cz_tls_ctx_files_changed(cur);
    cz_tls_ctx_unref(cur);
    if (!changed)
        return;
    char err[512];
    int rc = cz_tls_slot_reload(s->tls, &s->conf.tls, err, sizeof err);
    reload_result(s, rc, err, false);
}

static void watch_done(uv_work_t *req, int status)
{
    cz_server_t *s = req->data;
    (void)status;
    s->tls_watching = false;
}

void cz__server_tls_tick(cz_worker_t *w, uint64_t now)
{
    cz_server_t *s = w->srv;
    int64_t every = s->conf.tls.watch_interval_ms;
    if (w->id != 0 || !s->tls || every <= 0 || w->stopping || s->tls_watching)
        return;
    if (!s->tls_next_check) {
        s->tls_next_check = now + (uint64_t)every;
        return;
    }
    if (now < s->tls_next_check)
        return;
    s->tls_next_check = now + (uint64_t)every;
    s->tls_work.data = s;
    if (uv_queue_work(&w->loop, &s->tls_work, watch_work, watch_done) == 0)
        s->tls_watching = true;
}

void cz__server_tls_stats(const cz_server_t *s, cz__server_tls_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!s->tls)
        return;
    cz_tls_ctx_t *ctx = cz_tls_slot_get(s->tls);
    cz_tls_ctx_stats(ctx, &out->ctx);
    cz_tls_ctx_unref(ctx);
    pthread_mutex_lock((pthread_mutex_t *)&s->tls_mu);
    out->reloads = s->tls_reloads;
    out->reload_failures = s->tls_reload_failures;
    pthread_mutex_unlock((pthread_mutex_t *)&s->tls_mu);
}
