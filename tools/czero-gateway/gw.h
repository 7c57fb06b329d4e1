/* SPDX-License-Identifier: MIT
 *
 * gw.h: private interface between the pieces of the czero-gateway program.
 *
 * gw_conf.c loads and validates the gateway's YAML (the whole go-zero RestConf inline, plus
 * Upstreams and Routes) and places every validation error at its file:line:col; gw_routes.c turns
 * a checked config into a running cz_server_t with its upstreams; gw_ratelimit.c and gw_cors.c are
 * the per-route middleware links the library does not offer per route; gw_drain.c empties a
 * retiring instance; gw_reload.c runs the process and swaps configurations on SIGHUP; gw_main.c is
 * the command line. Nothing here is a public API: the reusable pieces (client, discovery,
 * upstreams, the proxy handler) live in libczero.
 */
#ifndef CZERO_GW_H
#define CZERO_GW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "czero/czero.h"
#include "czero/limiter.h"
#include "czero/upstream.h"

/* Routes[i].Jwt: go-zero rest.WithJwt / WithJwtTransition. */
typedef struct gw_jwt_conf {
    char *secret;      /* Secret: HMAC key; absent = no JWT on this route */
    char *prev_secret; /* PrevSecret: the previous key, accepted during a rotation */
} gw_jwt_conf_t;

/* Routes[i].Cors: on when AllowOrigins has at least one entry ("*" = any origin). */
typedef struct gw_cors_conf {
    cz_conf_strings_t allow_origins; /* AllowOrigins */
} gw_cors_conf_t;

/* Routes[i].RateLimit.Redis: go-zero redis.RedisConf's Host and Pass (+ timeouts). */
typedef struct gw_redis_conf {
    char *host;               /* Host: "127.0.0.1:6379"; absent = the in-process store */
    char *pass;               /* Pass */
    int64_t timeout_ms;       /* Timeout: one limiter command, default 100ms */
    int64_t connect_timeout_ms; /* ConnectTimeout, default 500ms */
} gw_redis_conf_t;

enum { GW_RL_NONE = 0, GW_RL_PERIOD, GW_RL_TOKEN, GW_RL_LEAKY };
enum { GW_KEY_IP = 0, GW_KEY_HEADER, GW_KEY_CLAIM };

/* Routes[i].RateLimit (go-zero core/limit). */
typedef struct gw_ratelimit_conf {
    int kind;           /* Kind: period | token | leaky; absent = no limit */
    int64_t rate;       /* Rate: tokens (token) or drained units (leaky) per second */
    int64_t burst;      /* Burst: bucket size */
    int64_t period_ms;  /* Period: window of a period limit, default 1s */
    int64_t quota;      /* Quota: units per Period */
    char *key;          /* Key: ip (default) | header:<Name> | claim:<name> */
    char *key_prefix;   /* KeyPrefix: Redis key prefix, default "czgw:<route>:" */
    gw_redis_conf_t redis; /* Redis */
    /* derived by validation */
    int key_kind;       /* GW_KEY_* */
    const char *key_name; /* points into key after the ':' */
} gw_ratelimit_conf_t;

typedef struct gw_route_conf {
    char *method;        /* Method: absent = every method */
    char *path;          /* Path: a pattern, "/users/:id" */
    char *prefix;        /* Prefix: "/api": the path itself and everything under it */
    char *strip_prefix;  /* StripPrefix: removed from the front of the path sent upstream */
    char *rewrite;       /* Rewrite: put in place of StripPrefix (or of Prefix) */
    char *upstream;      /* Upstream (required): the Name of one of Upstreams */
    int64_t timeout_ms;  /* Timeout: 0 = the server's Timeout */
    int64_t retries;     /* Retries: extra nodes to try, default 1 */
    int64_t max_bytes;   /* MaxBytes: 0 = the server's MaxBytes */
    gw_jwt_conf_t jwt;   /* Jwt */
    gw_cors_conf_t cors; /* Cors */
    gw_ratelimit_conf_t rate_limit; /* RateLimit */
    /* derived by validation */
    int upstream_index;
} gw_route_conf_t;

typedef struct gw_conf {
    cz_rest_conf_t rest;     /* inline: Name, Host, Port, Log, Middlewares, Timeout... */
    cz_conf_array_t upstreams; /* Upstreams: cz_upstream_conf_t */
    cz_conf_array_t routes;  /* Routes: gw_route_conf_t */
    char *pid_file;          /* PidFile: absent = $XDG_RUNTIME_DIR (or /tmp)/czero-gateway-<Port>.pid */
} gw_conf_t;

extern const cz_conf_field_t gw_conf_fields[];

/** Load file into c and validate it; 0, or CZ_EINVAL_CONF with d placed at file:line:col. On
 *  error c holds nothing to free. */
int gw_conf_load(const char *file, gw_conf_t *c, cz_diag_t *d);
/** Same from memory (name is the file name in messages). */
int gw_conf_load_string(const char *name, const char *yaml, size_t len, gw_conf_t *c,
                        cz_diag_t *d);
void gw_conf_free(gw_conf_t *c);

/* A running configuration: the server, its upstreams and what the routes point at. */
typedef struct gw_instance gw_instance_t;

/** Build a server from a checked config and start it. The instance takes c over (c is zeroed,
 *  also on failure). file names the config in messages. from, when not NULL, is the running
 *  instance this one replaces: its listening sockets are taken over (same Host and Port), so
 *  no connection queued on them is lost when it stops accepting. NULL with d set. */
gw_instance_t *gw_instance_start(gw_conf_t *c, const char *file, const gw_instance_t *from,
                                 cz_diag_t *d);
/** Begin a graceful shutdown (stop accepting, finish in-flight). Any thread. */
void gw_instance_shutdown(gw_instance_t *g);
/** Wait for the server to stop, then free the server, upstreams and middleware state. */
void gw_instance_free(gw_instance_t *g);
/** The bound port. */
int gw_instance_port(const gw_instance_t *g);
/** The configuration it runs. */
const gw_conf_t *gw_instance_conf(const gw_instance_t *g);

/** Start draining: stop accepting (the replacing instance accepts on the same sockets), and
 *  from now on every answer closes its connection. Any thread. */
void gw_instance_drain(gw_instance_t *g);
/** Open client connections of the instance's server (approximate while it changes). */
size_t gw_instance_connections(const gw_instance_t *g);
/** Add the drain link (gw_drain.c) to srv: answers close their connection while *retiring. */
int gw_drain_mw(cz_server_t *srv, atomic_bool *retiring);

/* Per-route middlewares. The caller frees each once with gw_*_free() after the server is freed
 * (the engine would free a link once per registered route, and a route spans several methods). */
/* With Redis, srv's worker-stop hook closes the client each worker loop holds. */
int gw_ratelimit_mw(cz_server_t *srv, const gw_ratelimit_conf_t *rc, const char *route_name,
                    cz_mw_t *out, cz_diag_t *d);
void gw_ratelimit_free(cz_mw_t *mw);
int gw_cors_mw(const gw_cors_conf_t *cc, cz_mw_t *out);
void gw_cors_free(cz_mw_t *mw);

#endif
