/* SPDX-License-Identifier: MIT
 *
 * etcd_client.c: the transport shared by the etcd subscriber and publisher.
 *
 * One czero HTTP client (client.h) per subscriber/publisher, on its loop; requests are JSON
 * POSTs to the gateway of the current host, and a failure moves to the next host (go-zero's
 * etcd client balances over Hosts the same way: any member answers for the cluster). Also
 * cz_etcd_opts_init and cz_etcd_conf_check. TLS (https:// Hosts or go-zero's CertFile,
 * CertKeyFile, CACertFile, InsecureSkipVerify) is one client context for all hosts; a handshake
 * that fails (a wrong CA, a wrong name) is a failed request like a refused connect: logged with
 * OpenSSL's reason, retried after the backoff on the next host, endpoints kept. User/Pass use
 * etcd's v3 JSON gateway auth: POST /v3/auth/authenticate for a token, then the token in the
 * Authorization header (etcd's gateway hands it to the gRPC call as its auth metadata).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/log.h"
#include "czero/tls.h"
#include "discov_int.h"

void cz_etcd_opts_init(cz_etcd_opts_t *o)
{
    *o = (cz_etcd_opts_t){
        .backoff_min_ms = 200,
        .backoff_max_ms = 10000,
        .request_timeout_ms = 3000,
        .connect_timeout_ms = 1000,
        .resync_ms = 30000,
    };
}

int cz_etcd_conf_check(const cz_etcd_conf_t *conf)
{
    if (!conf || conf->hosts.n == 0 || !conf->key || !conf->key[0])
        return CZ_EINVAL_CONF;
    int https = -1; /* one scheme for all hosts: one context serves them */
    for (size_t i = 0; i < conf->hosts.n; i++) {
        const char *h = conf->hosts.items[i];
        if (!h || !h[0])
            return CZ_EINVAL_CONF;
        int s = strncmp(h, "https://", 8) == 0;
        if (i > 0 && s != https)
            return CZ_EINVAL_CONF;
        https = s;
    }
    if ((conf->tls.cert_file != NULL) != (conf->tls.key_file != NULL))
        return CZ_EINVAL_CONF;
    bool user = conf->user && *conf->user, pass = conf->pass && *conf->pass;
    if (user != pass) /* go-zero's HasAccount needs both; one alone is a mistake */
        return CZ_EINVAL_CONF;
    return 0;
}

int cz__etcd_setup(cz__etcd_t *e, const cz_etcd_conf_t *conf, const cz_etcd_opts_t *opts)
{
    *e = (cz__etcd_t){0};
    if (opts)
        e->opts = *opts;
    else
        cz_etcd_opts_init(&e->opts);
    e->hosts = calloc(conf->hosts.n, sizeof *e->hosts);
    if (!e->hosts)
        return CZ_ENOMEM;
    e->nhosts = conf->hosts.n;
    for (size_t i = 0; i < e->nhosts; i++) {
        if (!(e->hosts[i] = cz__etcd_host(conf->hosts.items[i]))) {
            cz__etcd_close(e, NULL, NULL);
            return CZ_ENOMEM;
        }
    }
    if (conf->user && *conf->user && conf->pass && *conf->pass &&
        (!(e->user = strdup(conf->user)) || !(e->pass = strdup(conf->pass)))) {
        cz__etcd_close(e, NULL, NULL);
        return CZ_ENOMEM;
    }
    const cz_tls_client_conf_t *t = &conf->tls;
    bool tls = strncmp(conf->hosts.items[0], "https://", 8) == 0 || t->ca_file || t->cert_file ||
               t->insecure_skip_verify;
    char err[256];
    if (tls && cz_tls_client_ctx_new(t, &e->tls, err, sizeof err) != 0) {
        cz_log_error("etcd %s: %s", conf->key ? conf->key : "", err);
        cz__etcd_close(e, NULL, NULL);
        return CZ_EINVAL_CONF;
    }
    return 0;
}

int cz__etcd_open(cz__etcd_t *e, uv_loop_t *loop)
{
    cz_client_opts_t co;
    cz_client_opts_init(&co);
    co.pool_size = 2;
    co.connect_timeout_ms = e->opts.connect_timeout_ms;
    co.header_timeout_ms = e->opts.request_timeout_ms;
    e->client = cz_client_new(loop, &co);
    return e->client ? 0 : CZ_ENOMEM;
}

typedef struct close_ctx {
    void (*done)(void *ud);
    void *ud;
} close_ctx_t;

static void client_closed(void *ud)
{
    close_ctx_t c = *(close_ctx_t *)ud;
    free(ud);
    if (c.done)
        c.done(c.ud);
}

void cz__etcd_close(cz__etcd_t *e, void (*done)(void *ud), void *ud)
{
    for (size_t i = 0; i < e->nhosts; i++)
        free(e->hosts[i]);
    free(e->hosts);
    e->hosts = NULL;
    e->nhosts = 0;
    cz_tls_ctx_unref(e->tls); /* the client's pools hold their own references */
    e->tls = NULL;
    free(e->user);
    if (e->pass)
        memset(e->pass, 0, strlen(e->pass));
    free(e->pass);
    free(e->token);
    e->user = e->pass = e->token = NULL;
    cz_client_t *c = e->client;
    e->client = NULL;
    close_ctx_t *cc = c ? malloc(sizeof *cc) : NULL;
    if (!cc) { /* no client, or no memory for the context: the client's own done suffices */
        if (c)
            cz_client_close(c, NULL, NULL);
        if (done)
            done(ud);
        return;
    }
    *cc = (close_ctx_t){done, ud};
    cz_client_close(c, client_closed, cc);
}

const char *cz__etcd_cur(const cz__etcd_t *e) { return e->nhosts ? e->hosts[e->cur] : ""; }

void cz__etcd_note(cz__etcd_t *e, int err, const cz_call_info_t *info)
{
    if (err == CZ_ETLS)
        snprintf(e->why, sizeof e->why, "%s: %s", cz_strerror(err),
                 info && info->tls_error ? info->tls_error : "?");
}

const char *cz__etcd_why(const cz__etcd_t *e, int err)
{
    return err == CZ_ETLS && e->why[0] ? e->why : cz_strerror(err);
}

void cz__etcd_rotate(cz__etcd_t *e)
{
    if (e->nhosts)
        e->cur = (e->cur + 1) % e->nhosts;
}

static int send_post(cz__etcd_t *e, const char *path, const char *body, uint64_t timeout_ms,
                     cz_fetch_fn cb, void *ud)
{
    const cz_str_t hn[] = {{"Content-Type", 12}, {"Authorization", 13}};
    const cz_str_t hv[] = {{"application/json", 16}, cz_str_c(e->token ? e->token : "")};
    cz_client_req_t rq = {
        .addr = cz__etcd_cur(e),
        .method = {"POST", 4},
        .target = {path, strlen(path)},
        .hname = hn,
        .hvalue = hv,
        .nheaders = e->token ? 2 : 1,
        .body = {body, strlen(body)},
        .total_timeout_ms = timeout_ms ? timeout_ms : e->opts.request_timeout_ms,
        .tls = e->tls,
    };
    return cz_client_fetch(e->client, &rq, 1 << 20, cb, ud);
}

/* A request of an etcd with auth: authenticate when there is no token, re-authenticate once
 * on a 401. */
typedef struct post {
    cz__etcd_t *e;
    char *path, *body;
    uint64_t timeout_ms;
    cz_fetch_fn cb;
    void *ud;
    bool retried;
} post_t;

static void post_end(post_t *p, int err, const cz_fetch_res_t *res)
{
    cz_fetch_fn cb = p->cb;
    void *ud = p->ud;
    free(p->path);
    free(p->body);
    free(p);
    cb(err, res, ud);
}

static void on_reply(int err, const cz_fetch_res_t *res, void *ud);

static void on_auth(int err, const cz_fetch_res_t *res, void *ud)
{
    post_t *p = ud;
    if (err == 0 && res->status == 200) {
        char *tok = cz__etcd_parse_token(res->body.p, res->body.n);
        if (!tok) {
            post_end(p, CZ_EPARSE, res);
            return;
        }
        free(p->e->token);
        p->e->token = tok;
        if ((err = send_post(p->e, p->path, p->body, p->timeout_ms, on_reply, p)) == 0)
            return;
    } else if (err == 0) {
        cz_log_error("etcd: authenticate as %s on %s: status %d %.*s", p->e->user,
                     cz__etcd_cur(p->e), res->status, (int)(res->body.n < 200 ? res->body.n : 200),
                     res->body.p ? res->body.p : "");
    }
    post_end(p, err, res);
}

static int authenticate(post_t *p)
{
    char *body = cz__etcd_auth_body(p->e->user, p->e->pass);
    if (!body)
        return CZ_ENOMEM;
    free(p->e->token);
    p->e->token = NULL;
    int rc = send_post(p->e, "/v3/auth/authenticate", body, p->timeout_ms, on_auth, p);
    memset(body, 0, strlen(body));
    free(body);
    return rc;
}

static void on_reply(int err, const cz_fetch_res_t *res, void *ud)
{
    post_t *p = ud;
    if (err == 0 && res->status == 401 && !p->retried) { /* the token expired */
        p->retried = true;
        cz_log_info("etcd: token of %s refused on %s (expired?); authenticating again",
                    p->e->user, cz__etcd_cur(p->e));
        if (authenticate(p) == 0)
            return;
    }
    post_end(p, err, res);
}

int cz__etcd_post(cz__etcd_t *e, const char *path, const char *body, uint64_t timeout_ms,
                  cz_fetch_fn cb, void *ud)
{
    if (!e->user)
        return send_post(e, path, body, timeout_ms, cb, ud);
    post_t *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path)) || !(p->body = strdup(body))) {
        if (p)
            free(p->path);
        free(p);
        return CZ_ENOMEM;
    }
    *p = (post_t){e, p->path, p->body, timeout_ms, cb, ud, false};
    int rc = p->e->token ? send_post(e, path, body, timeout_ms, on_reply, p) : authenticate(p);
    if (rc != 0) {
        free(p->path);
        free(p->body);
        free(p);
    }
    return rc;
}
