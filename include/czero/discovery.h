/* SPDX-License-Identifier: MIT
 *
 * discovery.h: where a cluster's nodes come from, and how a service announces itself.
 *
 * A cz_discovery_t reports the full current endpoint set of one cluster to a callback on the
 * libuv loop it was started on: a static list (reported once), a DNS name re-resolved on an
 * interval (reported when the address set changes), or an etcd v3 key prefix (go-zero
 * core/discov Subscriber: range "Key/", then watch from the next revision). When a source fails
 * (DNS error, etcd unreachable, watch broken) the last known set stays in force: nothing is
 * reported, the failure is logged and the source retries with capped exponential backoff.
 *
 * cz_etcd_publish is go-zero's discov.Publisher: grant a lease, put "Key/<lease id>" =
 * value under it, keep the lease alive every TTL/3, grant and put again when the lease is lost
 * (etcd restarted, lease expired), revoke it on unpublish.
 *
 * etcd is spoken to through its JSON gateway (/v3/...) over czero's HTTP client (client.h).
 * The etcd configuration struct cz_etcd_conf_t and its field table live in config.h because the
 * server's own configuration (cz_rest_conf_t.etcd) embeds it.
 */
#ifndef CZERO_DISCOVERY_H
#define CZERO_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <uv.h>
#include "config.h"
#include "clock.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_endpoint {
    const char *addr; /* "127.0.0.1:8001" or "[::1]:8001" */
    uint32_t weight;  /* >= 1; 1 when the source has no notion of weight (DNS, etcd) */
} cz_endpoint_t;

/** The full current set (n may be 0: every node left), called on the discovery's loop. The
 *  array and strings are valid during the call only: copy what you keep. */
typedef void (*cz_endpoints_fn)(const cz_endpoint_t *eps, size_t n, void *ud);

typedef struct cz_discovery cz_discovery_t;

/** A static list: reported once, right after cz_discovery_start. Copies eps (weight 0 -> 1).
 *  NULL on ENOMEM or a NULL/empty address. Any thread. */
CZ_EXTERN cz_discovery_t *cz_discovery_static(const cz_endpoint_t *eps, size_t n);

/** An injectable resolver for DNS discovery (tests). It must call cb exactly once, from the
 *  loop thread, possibly before returning: err 0 and the addresses as text without port
 *  ("127.0.0.1", "::1"), or err < 0 (the set is kept). */
typedef void (*cz_resolve_cb)(int err, const char *const *addrs, size_t n, void *cb_ud);
typedef struct cz_resolver {
    void (*resolve)(void *ud, uv_loop_t *loop, const char *host, cz_resolve_cb cb, void *cb_ud);
    void *ud;
} cz_resolver_t;

/** DNS: resolve host_port ("name:port", "[v6]:port" also accepted) with uv_getaddrinfo now and
 *  every interval_ms (0 -> 5000), report each A/AAAA address with the port, deduplicated and
 *  sorted, only when the set changed. A failed resolution keeps the last set and is logged.
 *  NULL on ENOMEM or when host_port has no ":port". Any thread. */
CZ_EXTERN cz_discovery_t *cz_discovery_dns(const char *host_port, uint64_t interval_ms);
/** Same with a resolver (NULL = uv_getaddrinfo). The resolver struct is copied. */
CZ_EXTERN cz_discovery_t *cz_discovery_dns_ex(const char *host_port, uint64_t interval_ms,
                                              const cz_resolver_t *resolver);

/** Knobs of the etcd subscriber and publisher; cz_etcd_opts_init sets the defaults. */
typedef struct cz_etcd_opts {
    uint64_t backoff_min_ms;  /* first retry delay after a failure, default 200 ms */
    uint64_t backoff_max_ms;  /* cap of the doubling delay, default 10 s */
    uint64_t request_timeout_ms; /* one etcd request (not the watch stream), default 3 s */
    uint64_t connect_timeout_ms; /* default 1 s */
    uint64_t resync_ms;       /* subscriber: range again and renew the watch this often, default
                                 30 s; a stalled watch stream (partitioned or frozen member) looks
                                 exactly like a quiet one, so this bounds how stale the set can
                                 get (go-zero relies on gRPC keep-alives for the same); 0 = never */
} cz_etcd_opts_t;
CZ_EXTERN void cz_etcd_opts_init(cz_etcd_opts_t *o);

/** 0 when conf names at least one host and a non-empty key, else CZ_EINVAL_CONF. Hosts are
 *  "host:port" or "http://host:port"; https:// is refused (no TLS to etcd yet). */
CZ_EXTERN int cz_etcd_conf_check(const cz_etcd_conf_t *conf);

/** etcd: watch the prefix "<Key>/" on conf->hosts (tried in turn on failure); endpoints are the
 *  values (weight 1). conf is copied. NULL on ENOMEM or an invalid conf. Any thread. */
CZ_EXTERN cz_discovery_t *cz_discovery_etcd(const cz_etcd_conf_t *conf);
/** Same with options (NULL = defaults). */
CZ_EXTERN cz_discovery_t *cz_discovery_etcd_ex(const cz_etcd_conf_t *conf,
                                               const cz_etcd_opts_t *opts);

/** Start on loop; fn gets every new set, on that loop's thread. Call from the loop thread,
 *  once. 0, CZ_EARG (started twice, NULL fn) or a negative libuv code. */
CZ_EXTERN int cz_discovery_start(cz_discovery_t *d, uv_loop_t *loop, cz_endpoints_fn fn,
                                 void *ud);
/** Stop and free: no fn call after this returns. done (may be NULL) runs on the loop once the
 *  handles are closed and the memory is gone; a never-started discovery is freed at once (done
 *  is then called before this returns). Loop thread (any thread if never started). */
CZ_EXTERN void cz_discovery_free(cz_discovery_t *d, void (*done)(void *ud), void *ud);

/* ---- registration (go-zero discov.Publisher) ---- */
typedef struct cz_etcd_publisher cz_etcd_publisher_t;

/** Register value (usually "host:port") under "<Key>/<lease id>" (decimal, as go-zero's
 *  makeEtcdKey; or "<Key>/<ID>") with a
 *  lease of conf->ttl_s seconds (<= 0 -> 10) on loop, keep it alive and re-register after a lost
 *  lease. Runs until cz_etcd_unpublish. conf and value are copied. NULL on ENOMEM or invalid
 *  conf. Call from the loop thread. */
CZ_EXTERN cz_etcd_publisher_t *cz_etcd_publish(const cz_etcd_conf_t *conf, const char *value,
                                               uv_loop_t *loop);
/** Same with options (NULL = defaults). */
CZ_EXTERN cz_etcd_publisher_t *cz_etcd_publish_ex(const cz_etcd_conf_t *conf, const char *value,
                                                  uv_loop_t *loop, const cz_etcd_opts_t *opts);
/** 1 once the key is in etcd under a live lease (as far as the last keep-alive knows), else 0.
 *  Loop thread. */
CZ_EXTERN int cz_etcd_publisher_registered(const cz_etcd_publisher_t *p);
/** Revoke the lease (the key goes with it; bounded by the request timeout), then free. done (may
 *  be NULL) runs on the loop when all is closed. Loop thread. */
CZ_EXTERN void cz_etcd_unpublish(cz_etcd_publisher_t *p, void (*done)(void *ud), void *ud);

/* ---- server self-registration (go-zero zrpc's RpcServerConf.Etcd) ---- */
struct cz_server_hook;
/** The server lifecycle hook (server.h) that registers a server whose config has an Etcd block:
 *  check refuses a half-given block (Hosts without Key or the reverse; logged), start publishes
 *  "Host:Port" (a wildcard Host -> the first non-loopback IPv4, else 127.0.0.1) from a thread
 *  of its own, stop revokes the lease (bounded by ~1 s) before the listeners close. A server
 *  without an Etcd block is untouched. cz_server_start installs it (cz_server_add_hook). */
CZ_EXTERN const struct cz_server_hook *cz_etcd_server_hook(void);

#ifdef __cplusplus
}
#endif
#endif
