/* SPDX-License-Identifier: MIT
 *
 * upstream_conf.c: the field table of cz_upstream_conf_t (an entry of the gateway's Upstreams)
 * and the checks a table cannot express.
 *
 * Defaults: P2C EWMA (go-zero's balancer), a 64-connection pool idle for 60 s, a 1 s connect
 * timeout and no read timeout between body reads (go-zero has none; nginx's is 60 s); active
 * checks as Envoy (5 s interval, 1 s timeout, 2 healthy / 3 unhealthy); passive
 * ejection as nginx max_fails=1 with Envoy's 1 s base ejection doubling up to 30 s; per-node SRE
 * breakers on; a 10 s slow start for returning nodes under p2c_ewma (Envoy has the window but
 * no default; 10 s is two health-check intervals). The
 * table checks types and bounds with file:line:col; cz_upstream_conf_check() then checks what
 * spans keys (one source of nodes, HashKey syntax) and reports with the key name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_int.h"

#define OFF(m) offsetof(cz_upstream_conf_t, m)
#define RANGE(k, t, off, d, lo, hi)                                                           \
    {.key = k, .type = t, .offset = off, .def = d, .flags = CZ_CONF_HAS_MIN | CZ_CONF_HAS_MAX, \
     .min = lo, .max = hi}
#define MS_DAY (24 * 3600 * 1000)

static const char *const policies[] = {"p2c_ewma", "round_robin", "random", "weighted",
                                       "consistent_hash", NULL};

static const cz_conf_field_t node_fields[] = {
    {.key = "Addr", .type = CZ_CONF_STRING, .offset = offsetof(cz_upstream_node_conf_t, addr),
     .flags = CZ_CONF_REQUIRED},
    RANGE("Weight", CZ_CONF_INT, offsetof(cz_upstream_node_conf_t, weight), "1", 1, 1000),
    {0},
};

#define POOL(m) (offsetof(cz_upstream_conf_t, pool.m) - offsetof(cz_upstream_conf_t, pool))
static const cz_conf_field_t pool_fields[] = {
    RANGE("Size", CZ_CONF_INT, POOL(size), "64", 0, 65536),
    RANGE("IdleTimeout", CZ_CONF_DURATION, POOL(idle_timeout_ms), "60s", 1, MS_DAY),
    {0},
};

#define HC(m) offsetof(cz_upstream_health_conf_t, m)
static const cz_conf_field_t health_fields[] = {
    {.key = "Path", .type = CZ_CONF_STRING, .offset = HC(path)},
    RANGE("Interval", CZ_CONF_DURATION, HC(interval_ms), "5s", 10, MS_DAY),
    RANGE("Timeout", CZ_CONF_DURATION, HC(timeout_ms), "1s", 1, MS_DAY),
    RANGE("ExpectStatus", CZ_CONF_INT, HC(expect_status), "200", 100, 599),
    RANGE("HealthyThreshold", CZ_CONF_INT, HC(healthy), "2", 1, 1000),
    RANGE("UnhealthyThreshold", CZ_CONF_INT, HC(unhealthy), "3", 1, 1000),
    {0},
};

#define OL(m) offsetof(cz_upstream_outlier_conf_t, m)
static const cz_conf_field_t outlier_fields[] = {
    RANGE("MaxFails", CZ_CONF_INT, OL(max_fails), "1", 0, 1000),
    RANGE("BaseEjection", CZ_CONF_DURATION, OL(base_ejection_ms), "1s", 1, MS_DAY),
    RANGE("MaxEjection", CZ_CONF_DURATION, OL(max_ejection_ms), "30s", 1, MS_DAY),
    {.key = "On5xx", .type = CZ_CONF_BOOL, .offset = OL(on_5xx), .def = "true"},
    {0},
};

const cz_conf_field_t cz_upstream_conf_fields[] = {
    {.key = "Name", .type = CZ_CONF_STRING, .offset = OFF(name), .flags = CZ_CONF_REQUIRED},
    {.key = "Policy", .type = CZ_CONF_ENUM, .offset = OFF(policy), .def = "p2c_ewma",
     .enums = policies},
    {.key = "HashKey", .type = CZ_CONF_STRING, .offset = OFF(hash_key), .def = "path"},
    {.key = "Nodes", .type = CZ_CONF_ARRAY, .offset = OFF(nodes), .sub = node_fields,
     .elem_size = sizeof(cz_upstream_node_conf_t)},
    {.key = "Dns", .type = CZ_CONF_STRING, .offset = OFF(dns)},
    RANGE("DnsInterval", CZ_CONF_DURATION, OFF(dns_interval_ms), "5s", 10, MS_DAY),
    {.key = "Etcd", .type = CZ_CONF_OBJECT, .offset = OFF(etcd), .sub = cz_etcd_conf_fields},
    {.key = "Tls", .type = CZ_CONF_OBJECT, .offset = OFF(tls), .sub = cz_tls_client_conf_fields},
    {.key = "Pool", .type = CZ_CONF_OBJECT, .offset = OFF(pool), .sub = pool_fields},
    RANGE("ConnectTimeout", CZ_CONF_DURATION, OFF(connect_timeout_ms), "1s", 1, MS_DAY),
    RANGE("ReadTimeout", CZ_CONF_DURATION, OFF(read_timeout_ms), "0", 0, MS_DAY),
    {.key = "Health", .type = CZ_CONF_OBJECT, .offset = OFF(health), .sub = health_fields},
    {.key = "Outlier", .type = CZ_CONF_OBJECT, .offset = OFF(outlier), .sub = outlier_fields},
    {.key = "Breaker", .type = CZ_CONF_BOOL, .offset = OFF(breaker), .def = "true"},
    RANGE("SlowStart", CZ_CONF_DURATION, OFF(slow_start_ms), "10s", 0, 3600 * 1000),
    {0},
};

static int bad(cz_diag_t *d, const char *prefix, const char *key, const char *msg)
{
    char k[128];
    snprintf(k, sizeof k, "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "", key);
    return cz_diag_set(d, NULL, 0, 0, k, "%s", msg);
}

/* 1: "https://", 0: "http://", -1: no scheme. */
static int scheme_of(const char *a)
{
    return !a ? -1 : strncmp(a, "https://", 8) == 0 ? 1 : strncmp(a, "http://", 7) == 0 ? 0 : -1;
}

const char *cz__up_strip_scheme(const char *a)
{
    int s = scheme_of(a);
    return s < 0 ? a : a + (s ? 8 : 7);
}

/* "host:port" or "[v6]:port" with a port 1..65535, after an optional http:// or https://. */
static bool addr_ok(const char *a)
{
    a = cz__up_strip_scheme(a);
    if (!a || !*a || strlen(a) >= CZ__UP_ADDR_MAX)
        return false;
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a || !colon[1])
        return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return *end == '\0' && port >= 1 && port <= 65535;
}

int cz_upstream_conf_check(cz_upstream_conf_t *c, const char *prefix, cz_diag_t *d)
{
    if (!c)
        return cz_diag_set(d, NULL, 0, 0, "", "no configuration");
    if (!c->name || !*c->name)
        return bad(d, prefix, "Name", "must not be empty");
    if (c->policy < CZ_UP_P2C_EWMA || c->policy > CZ_UP_CONSISTENT_HASH)
        return bad(d, prefix, "Policy",
                   "must be one of p2c_ewma, round_robin, random, weighted, consistent_hash");
    int sources = (c->nodes.n > 0) + (c->dns && *c->dns) + (c->etcd.hosts.n > 0 || c->etcd.key);
    if (sources == 0)
        return bad(d, prefix, "Nodes", "one of Nodes, Dns or Etcd is required");
    if (sources > 1)
        return bad(d, prefix, "Nodes", "give only one of Nodes, Dns or Etcd");
    const cz_upstream_node_conf_t *nodes = c->nodes.items;
    for (size_t i = 0; i < c->nodes.n; i++) {
        if (!addr_ok(nodes[i].addr)) {
            char k[48];
            snprintf(k, sizeof k, "Nodes[%zu].Addr", i);
            return bad(d, prefix, k, "must be host:port");
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(nodes[i].addr, nodes[j].addr) == 0) {
                char k[48];
                snprintf(k, sizeof k, "Nodes[%zu].Addr", i);
                return bad(d, prefix, k, "duplicate address");
            }
    }
    if (c->nodes.n > CZ_LB_MAX_NODES)
        return bad(d, prefix, "Nodes", "too many nodes");
    if (c->dns && *c->dns && !addr_ok(c->dns))
        return bad(d, prefix, "Dns", "must be name:port");
    if ((c->etcd.hosts.n > 0 || c->etcd.key) && cz_etcd_conf_check(&c->etcd) != 0)
        return bad(d, prefix, "Etcd", "needs Hosts and a non-empty Key");
    if (c->hash_key) {
        const char *h = c->hash_key;
        bool ok = strcmp(h, "path") == 0 ||
                  (strncmp(h, "header:", 7) == 0 && h[7]) ||
                  (strncmp(h, "cookie:", 7) == 0 && h[7]) ||
                  (strncmp(h, "query:", 6) == 0 && h[6]);
        if (!ok)
            return bad(d, prefix, "HashKey",
                       "must be header:<name>, cookie:<name>, query:<name> or path");
    }
    /* TLS: one scheme for the whole upstream (a pool per node; one context per upstream) */
    int https = c->dns && *c->dns ? scheme_of(c->dns) : -1;
    for (size_t i = 0; i < c->nodes.n; i++) {
        int s = scheme_of(nodes[i].addr);
        if (i > 0 && (s == 1) != (https == 1))
            return bad(d, prefix, "Nodes", "give all nodes the same scheme (http:// or https://)");
        https = s;
    }
    const cz_tls_client_conf_t *t = &c->tls;
    bool tls_keys = t->ca_file || t->cert_file || t->key_file || t->insecure_skip_verify;
    if (https == 0 && tls_keys)
        return bad(d, prefix, "Tls", "set, but the nodes say http://");
    if ((t->cert_file != NULL) != (t->key_file != NULL))
        return bad(d, prefix, t->cert_file ? "Tls.CertKeyFile" : "Tls.CertFile",
                   "CertFile and CertKeyFile go together");
    c->tls_enabled = https == 1 || tls_keys;
    if (c->outlier.max_ejection_ms < c->outlier.base_ejection_ms)
        return bad(d, prefix, "Outlier.MaxEjection", "must not be below BaseEjection");
    c->health.enabled = c->health.path && *c->health.path;
    if (c->health.enabled && c->health.path[0] != '/')
        return bad(d, prefix, "Health.Path", "must start with /");
    return 0;
}
