/* SPDX-License-Identifier: MIT
 *
 * gw_conf.c: the gateway's configuration: field tables (RestConf inline + Upstreams + Routes) and
 * the checks a table cannot express (an Upstream that names a defined upstream, Path xor Prefix, a
 * StripPrefix that is a prefix of the route, rate-limit parameters that fit the Kind...).
 *
 * Every error is placed at file:line:col by the generic loader: Upstreams through their field's
 * check (CZ_UPSTREAMS_FIELD, as in any service), Routes through routes_check below, which the
 * loader runs once Upstreams is bound and places at the node its key path names
 * ("[2].Upstream"), so every message reads "gw.yaml:12:15: Routes[2].Upstream: no upstream named
 * 'x'" like nginx's.
 * This file never starts anything: the fuzz target runs it on arbitrary input.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw.h"

#define F(k, t, st, m, d) {.key = k, .type = t, .offset = offsetof(st, m), .def = d}
#define FB(k, t, st, m, d, lo, hi)                                                                 \
    {.key = k, .type = t, .offset = offsetof(st, m), .def = d,                                     \
     .flags = CZ_CONF_HAS_MIN | CZ_CONF_HAS_MAX, .min = lo, .max = hi}

static const cz_conf_field_t jwt_fields[] = {
    F("Secret", CZ_CONF_STRING, gw_jwt_conf_t, secret, NULL),
    F("PrevSecret", CZ_CONF_STRING, gw_jwt_conf_t, prev_secret, NULL),
    {0},
};

static const cz_conf_field_t cors_fields[] = {
    F("AllowOrigins", CZ_CONF_STRINGS, gw_cors_conf_t, allow_origins, NULL),
    {0},
};

static const cz_conf_field_t redis_fields[] = {
    F("Host", CZ_CONF_STRING, gw_redis_conf_t, host, NULL),
    F("Pass", CZ_CONF_STRING, gw_redis_conf_t, pass, NULL),
    FB("Timeout", CZ_CONF_DURATION, gw_redis_conf_t, timeout_ms, "100ms", 1, 60000),
    FB("ConnectTimeout", CZ_CONF_DURATION, gw_redis_conf_t, connect_timeout_ms, "500ms", 1, 60000),
    {0},
};

static const char *const rl_kinds[] = {"none", "period", "token", "leaky", NULL};

static const cz_conf_field_t ratelimit_fields[] = {
    {.key = "Kind", .type = CZ_CONF_ENUM, .offset = offsetof(gw_ratelimit_conf_t, kind),
     .def = "none", .enums = rl_kinds},
    FB("Rate", CZ_CONF_INT, gw_ratelimit_conf_t, rate, "0", 0, 100000000),
    FB("Burst", CZ_CONF_INT, gw_ratelimit_conf_t, burst, "0", 0, 100000000),
    FB("Period", CZ_CONF_DURATION, gw_ratelimit_conf_t, period_ms, "1s", 1, 366LL * 86400000),
    FB("Quota", CZ_CONF_INT, gw_ratelimit_conf_t, quota, "0", 0, 1000000000),
    F("Key", CZ_CONF_STRING, gw_ratelimit_conf_t, key, "ip"),
    F("KeyPrefix", CZ_CONF_STRING, gw_ratelimit_conf_t, key_prefix, NULL),
    {.key = "Redis", .type = CZ_CONF_OBJECT, .offset = offsetof(gw_ratelimit_conf_t, redis),
     .sub = redis_fields},
    {0},
};

static const cz_conf_field_t route_fields[] = {
    F("Method", CZ_CONF_STRING, gw_route_conf_t, method, NULL),
    F("Path", CZ_CONF_STRING, gw_route_conf_t, path, NULL),
    F("Prefix", CZ_CONF_STRING, gw_route_conf_t, prefix, NULL),
    F("StripPrefix", CZ_CONF_STRING, gw_route_conf_t, strip_prefix, NULL),
    F("Rewrite", CZ_CONF_STRING, gw_route_conf_t, rewrite, NULL),
    {.key = "Upstream", .type = CZ_CONF_STRING, .offset = offsetof(gw_route_conf_t, upstream),
     .flags = CZ_CONF_REQUIRED},
    FB("Timeout", CZ_CONF_DURATION, gw_route_conf_t, timeout_ms, "0", 0, 3600000),
    FB("Retries", CZ_CONF_INT, gw_route_conf_t, retries, "1", 0, 16),
    FB("MaxBytes", CZ_CONF_SIZE, gw_route_conf_t, max_bytes, "0", 0, 1LL << 40),
    {.key = "Jwt", .type = CZ_CONF_OBJECT, .offset = offsetof(gw_route_conf_t, jwt),
     .sub = jwt_fields},
    {.key = "Cors", .type = CZ_CONF_OBJECT, .offset = offsetof(gw_route_conf_t, cors),
     .sub = cors_fields},
    {.key = "RateLimit", .type = CZ_CONF_OBJECT, .offset = offsetof(gw_route_conf_t, rate_limit),
     .sub = ratelimit_fields},
    {0},
};

/* ---- checks ---- */

/* Report msg at key (relative to Routes) for the loader to place. */
__attribute__((format(printf, 3, 4))) static int fail(cz_diag_t *d, const char *key,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    snprintf(d->key, sizeof d->key, "%s", key);
    return CZ_EINVAL_CONF;
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isupper((unsigned char)*s))
            return false;
    return true;
}

static int check_ratelimit(cz_diag_t *d, const char *rk, gw_ratelimit_conf_t *rl)
{
    char key[128];
    if (rl->kind == GW_RL_NONE)
        return 0;
    if (rl->kind == GW_RL_PERIOD && rl->quota <= 0) {
        snprintf(key, sizeof key, "%s.RateLimit.Quota", rk);
        return fail(d, key, "a period limit needs a Quota >= 1");
    }
    if (rl->kind != GW_RL_PERIOD && (rl->rate <= 0 || rl->burst <= 0)) {
        snprintf(key, sizeof key, "%s.RateLimit.%s", rk, rl->rate <= 0 ? "Rate" : "Burst");
        return fail(d, key, "a %s bucket needs Rate >= 1 and Burst >= 1",
                    rl->kind == GW_RL_TOKEN ? "token" : "leaky");
    }
    const char *k = rl->key ? rl->key : "ip";
    if (strcmp(k, "ip") == 0) {
        rl->key_kind = GW_KEY_IP;
    } else if (strncmp(k, "header:", 7) == 0 && k[7]) {
        rl->key_kind = GW_KEY_HEADER;
        rl->key_name = k + 7;
    } else if (strncmp(k, "claim:", 6) == 0 && k[6]) {
        rl->key_kind = GW_KEY_CLAIM;
        rl->key_name = k + 6;
    } else {
        snprintf(key, sizeof key, "%s.RateLimit.Key", rk);
        return fail(d, key, "must be ip, header:<Name> or claim:<name>, got '%s'", k);
    }
    if (rl->redis.host) {
        const char *colon = strrchr(rl->redis.host, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!colon || colon == rl->redis.host || *end || port < 1 || port > 65535) {
            snprintf(key, sizeof key, "%s.RateLimit.Redis.Host", rk);
            return fail(d, key, "must be host:port, got '%s'", rl->redis.host);
        }
    }
    return 0;
}

static int check_route(cz_diag_t *d, const gw_conf_t *c, size_t i, gw_route_conf_t *r)
{
    char rk[32], key[128];
    snprintf(rk, sizeof rk, "[%zu]", i);
    if (r->method && !is_token(r->method)) {
        snprintf(key, sizeof key, "%s.Method", rk);
        return fail(d, key, "must be an upper-case method like GET, got '%s'", r->method);
    }
    if (!r->path == !r->prefix) {
        snprintf(key, sizeof key, "%s%s", rk, r->path ? ".Prefix" : "");
        return fail(d, key, r->path ? "give Path or Prefix, not both" : "needs Path or Prefix");
    }
    const char *p = r->path ? r->path : r->prefix;
    if (p[0] != '/') {
        snprintf(key, sizeof key, "%s.%s", rk, r->path ? "Path" : "Prefix");
        return fail(d, key, "must start with '/', got '%s'", p);
    }
    if (r->prefix && (strchr(p, ':') || strchr(p, '*'))) {
        snprintf(key, sizeof key, "%s.Prefix", rk);
        return fail(d, key, "a prefix is literal: no ':' or '*' segments");
    }
    if (r->strip_prefix && (r->strip_prefix[0] != '/' ||
                            strncmp(p, r->strip_prefix, strlen(r->strip_prefix)) != 0)) {
        snprintf(key, sizeof key, "%s.StripPrefix", rk);
        return fail(d, key, "must be a leading part of the route's %s '%s'",
                    r->path ? "Path" : "Prefix", p);
    }
    if (r->rewrite && r->rewrite[0] != '/') {
        snprintf(key, sizeof key, "%s.Rewrite", rk);
        return fail(d, key, "must start with '/', got '%s'", r->rewrite);
    }
    r->upstream_index = -1;
    const cz_upstream_conf_t *ups = c->upstreams.items;
    for (size_t u = 0; u < c->upstreams.n; u++)
        if (ups[u].name && strcmp(ups[u].name, r->upstream) == 0)
            r->upstream_index = (int)u;
    if (r->upstream_index < 0) {
        snprintf(key, sizeof key, "%s.Upstream", rk);
        return fail(d, key, "no upstream named '%s'", r->upstream);
    }
    if (r->jwt.prev_secret && !r->jwt.secret) {
        snprintf(key, sizeof key, "%s.Jwt.Secret", rk);
        return fail(d, key, "PrevSecret needs a Secret");
    }
    if (r->rate_limit.key && strncmp(r->rate_limit.key, "claim:", 6) == 0 && !r->jwt.secret) {
        snprintf(key, sizeof key, "%s.RateLimit.Key", rk);
        return fail(d, key, "a claim key needs Jwt on the route");
    }
    return check_ratelimit(d, rk, &r->rate_limit);
}

/* The Routes field's check: the loader runs it after Upstreams is bound (see config.h), with
 * member = &gw_conf_t.routes, and places d->key (relative: "[2].Upstream") in the document. */
static int routes_check(void *member, const cz_conf_at_t *at, cz_diag_t *d)
{
    (void)at;
    cz_conf_array_t *rs = member;
    const gw_conf_t *c = (const gw_conf_t *)((char *)member - offsetof(gw_conf_t, routes));
    if (rs->n == 0)
        return fail(d, "", "needs at least one route");
    gw_route_conf_t *routes = rs->items;
    for (size_t i = 0; i < rs->n; i++)
        if (check_route(d, c, i, &routes[i]) != 0)
            return CZ_EINVAL_CONF;
    return 0;
}

const cz_conf_field_t gw_conf_fields[] = {
    {.key = "", .type = CZ_CONF_INLINE, .offset = offsetof(gw_conf_t, rest),
     .sub = cz_rest_conf_fields},
    {CZ_UPSTREAMS_FIELD(gw_conf_t, upstreams)}, /* checked (and placed) by the loader itself */
    {.key = "Routes", .type = CZ_CONF_ARRAY, .offset = offsetof(gw_conf_t, routes),
     .sub = route_fields, .elem_size = sizeof(gw_route_conf_t), .check = routes_check},
    F("PidFile", CZ_CONF_STRING, gw_conf_t, pid_file, NULL), /* read at start and by -s */
    {0},
};

int gw_conf_load_string(const char *name, const char *yaml, size_t len, gw_conf_t *c,
                        cz_diag_t *d)
{
    return cz_conf_load_string(name, yaml, len, gw_conf_fields, c, d);
}

int gw_conf_load(const char *file, gw_conf_t *c, cz_diag_t *d)
{
    return cz_conf_load(file, gw_conf_fields, c, d);
}

void gw_conf_free(gw_conf_t *c) { cz_conf_free(gw_conf_fields, c); }
