/* SPDX-License-Identifier: MIT
 *
 * server_reg.c: a czero server registering itself in etcd (go-zero zrpc's RpcServerConf.Etcd).
 *
 * This is a server lifecycle hook (cz_server_hook_t, server.h; cz_etcd_server_hook() hands it
 * out and cz_server_start installs it), so the HTTP layer runs it without knowing discovery.
 * When the server's configuration has an Etcd block, the hook's start runs after the server's
 * listeners are bound: a small thread with its own libuv loop runs an etcd publisher for
 * "Host:Port", so worker loops carry no etcd traffic and a slow etcd never delays a request.
 * cz_server_shutdown runs the hook's stop before the listeners close: the lease is revoked
 * (bounded by a 1 s request timeout) and the thread joined, so clients stop routing here before
 * the server stops accepting.
 *
 * Address: a wildcard Host (0.0.0.0, ::, empty) is replaced as go-zero's figureOutListenOn does
 * with netx.InternalIp: the first non-loopback IPv4 address of an interface that is up; when
 * there is none, 127.0.0.1.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/log.h"
#include "czero/server.h"
#include "discov_int.h"

typedef struct reg {
    const struct cz_server *s;
    struct reg *next;
    pthread_t th;
    uv_loop_t loop;
    uv_async_t stop;
    cz_etcd_publisher_t *pub;
} reg_t;

static pthread_mutex_t regs_mu = PTHREAD_MUTEX_INITIALIZER;
static reg_t *regs;

int cz__discov_server_addr(const char *host, int port, char *out, size_t cap)
{
    char ip[64] = "127.0.0.1";
    int wildcard = !host || !host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
    if (!wildcard) {
        snprintf(ip, sizeof ip, "%s", host);
    } else {
        uv_interface_address_t *ifs;
        int n;
        if (uv_interface_addresses(&ifs, &n) == 0) {
            for (int i = 0; i < n; i++) {
                if (!ifs[i].is_internal && ifs[i].address.address4.sin_family == AF_INET) {
                    uv_ip4_name(&ifs[i].address.address4, ip, sizeof ip);
                    break;
                }
            }
            uv_free_interface_addresses(ifs, n);
        }
    }
    int w = snprintf(out, cap, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
    return w < 0 || (size_t)w >= cap ? CZ_EARG : 0;
}

static void on_stop(uv_async_t *a)
{
    reg_t *r = a->data;
    uv_close((uv_handle_t *)a, NULL);
    cz_etcd_unpublish(r->pub, NULL, NULL); /* revoke; the loop ends when all is closed */
    r->pub = NULL;
}

static void *reg_main(void *arg)
{
    reg_t *r = arg;
    uv_run(&r->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int absent(const cz_etcd_conf_t *conf)
{
    return !conf || (conf->hosts.n == 0 && (!conf->key || !conf->key[0]));
}

/* 0 when conf is absent (no Hosts, no Key) or complete; CZ_EINVAL_CONF (logged) when only
 * half of it is there, so a service meant to register does not start unregistered. */
static int server_check(const cz_etcd_conf_t *conf)
{
    if (absent(conf) || cz_etcd_conf_check(conf) == 0)
        return 0;
    cz_log_error("Etcd: both Hosts and Key are needed to register the service");
    return CZ_EINVAL_CONF;
}

/* When conf has Etcd hosts: publish host:port from a background thread with its own loop.
 * 0 when nothing to do or started; CZ_EINVAL_CONF / CZ_ENOMEM otherwise (logged). */
static int server_start(const struct cz_server *s, const cz_etcd_conf_t *conf, const char *host,
                        int port)
{
    if (absent(conf))
        return 0; /* no Etcd block: no registration */
    if (server_check(conf) != 0)
        return CZ_EINVAL_CONF;
    char value[96];
    int rc = cz__discov_server_addr(host, port, value, sizeof value);
    if (rc)
        return rc;
    reg_t *r = calloc(1, sizeof *r);
    if (!r)
        return CZ_ENOMEM;
    r->s = s;
    if ((rc = uv_loop_init(&r->loop)) != 0) {
        free(r);
        return rc;
    }
    if ((rc = uv_async_init(&r->loop, &r->stop, on_stop)) != 0)
        goto fail;
    r->stop.data = r;
    cz_etcd_opts_t o;
    cz_etcd_opts_init(&o);
    o.request_timeout_ms = 1000; /* bounds the revoke that shutdown waits for */
    if (!(r->pub = cz_etcd_publish_ex(conf, value, &r->loop, &o))) {
        rc = CZ_ENOMEM;
        uv_close((uv_handle_t *)&r->stop, NULL);
        goto fail;
    }
    if (pthread_create(&r->th, NULL, reg_main, r) != 0) {
        rc = CZ_ENOMEM;
        on_stop(&r->stop); /* unwind on this thread: the loop is not running anywhere */
        goto fail;
    }
    pthread_mutex_lock(&regs_mu);
    r->next = regs;
    regs = r;
    pthread_mutex_unlock(&regs_mu);
    cz_log_info("Registering %s in etcd under %s/", value, conf->key);
    return 0;
fail:
    uv_run(&r->loop, UV_RUN_DEFAULT); /* let closing handles finish */
    uv_loop_close(&r->loop);
    free(r);
    return rc;
}

/* Revoke and join the thread (bounded by ~1 s); no-op when not registered. Idempotent. */
static void server_stop(const struct cz_server *s)
{
    pthread_mutex_lock(&regs_mu);
    reg_t **pp = &regs, *r = NULL;
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->s == s) {
            r = *pp;
            *pp = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&regs_mu);
    if (!r)
        return;
    uv_async_send(&r->stop);
    pthread_join(r->th, NULL);
    uv_loop_close(&r->loop);
    free(r);
}

static int hook_check(const cz_server_t *s, const cz_rest_conf_t *conf, void *ud)
{
    (void)s, (void)ud;
    return server_check(&conf->etcd);
}

static void hook_start(const cz_server_t *s, const cz_rest_conf_t *conf, int port, void *ud)
{
    (void)ud;
    server_start(s, &conf->etcd, conf->host, port); /* logs its errors */
}

static void hook_stop(const cz_server_t *s, void *ud)
{
    (void)ud;
    server_stop(s);
}

static const cz_server_hook_t etcd_hook = {hook_check, hook_start, hook_stop, NULL};

const cz_server_hook_t *cz_etcd_server_hook(void) { return &etcd_hook; }
