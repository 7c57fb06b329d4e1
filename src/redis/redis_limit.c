/* SPDX-License-Identifier: MIT
 *
 * redis_limit.c: the public limiter (include/czero/limiter.h): core's in-process store
 * (src/core/limit/) for the local store, and the Redis store beside it, with its per-loop
 * clients, the Lua scripts' arguments (redis_limit_lua.h holds the scripts) and the token
 * bucket's fallback onto the in-process store (go-zero's rescueLimiter). Core decides in
 * process and knows nothing of Redis; this file calls down into it, never the reverse.
 *
 * The Redis path keeps one binding per libuv loop: the loop's cz_redis_t, and for the token
 * kind an `alive` flag and a probe timer (go-zero tokenlimit.go: redisAlive, startMonitor,
 * waitForRedis with pingInterval). A binding is only touched from its loop's thread; the table
 * of loops is read without a lock and written under bind_mu.
 *
 * A Redis outage is said once: when the first loop's Redis path fails (an error or timeout, or
 * the token kind going to its fallback) the limiter logs an error naming the Redis address and
 * what decides meanwhile, and when the last failing loop has Redis again it logs the recovery.
 * czero_limiter_redis_down{limiter,redis} (loops failing now) and
 * czero_limiter_redis_outages_total show it on /metrics (cz_metrics_default()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <hiredis/hiredis.h>
#include "core/limit/limit_int.h"
#include "redis_limit_lua.h"
#include "czero/log.h"
#include "czero/metrics.h"

/* Arguments for one EVALSHA: keys first, then arguments. */
#define MAX_ARGS 8
typedef struct args {
    int nkeys, argc;
    const char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
    char keys[2][CZ_LIMITER_MAX_KEY + 16];
    char nums[4][24];
} args_t;

/* The Redis twin of a core kind: its script, how to phrase a decision as the script's call for
 * prefixed key pk, and whether Redis failures go to the in-process store (token). */
typedef struct redis_kind {
    const char *lua;
    void (*args)(const cz_limiter_conf_t *c, cz_str_t pk, uint64_t n, args_t *a);
    int fallback;
} redis_kind_t;

struct cz_limiter {
    const cz__limit_kind_t *kind; /* NULL for the nop limiter */
    const redis_kind_t *rkind;
    cz_limiter_conf_t conf;
    cz_redis_script_t script;
    cz__limit_store_t local; /* the local store, and the token kind's fallback */
    pthread_mutex_t bind_mu;
    uv_loop_t *loops[CZ_LIMITER_MAX_LOOPS]; /* read without the lock (atomics) */
    struct binding *binds[CZ_LIMITER_MAX_LOOPS];
    int nbind;
    /* Redis outages: loops whose Redis path fails now, outages begun (atomics) */
    int redis_down;
    uint64_t redis_outages;
    char redis_addr[280]; /* host:port, for the log and the metrics label */
};

typedef struct binding {
    cz_limiter_t *l;
    uv_loop_t *loop;
    cz_redis_t *redis;
    uv_timer_t probe;
    int alive;   /* Redis decides; 0 = the in-process bucket decides (token only) */
    int pinging; /* a probe PING is in flight */
    int closing;
    int down;    /* this loop's Redis path failed and has not answered since */
} binding_t;

typedef struct take_req {
    cz_limiter_t *l;
    binding_t *b;
    cz_limit_cb cb;
    void *ud;
    uint64_t n;
    size_t klen;
    char key[];
} take_req_t;

/* ---------------------------------------------------------------- helpers for the kinds */

static uint64_t wall_now(void *ud)
{
    (void)ud;
    return cz_wallclock_ns();
}
static const cz_clock_t wall_clock = {wall_now, NULL};

/* A script's reply code (go-zero periodscript.lua: 0 over, 1 allowed, 2 hit) as CZ_LIMIT_*. */
static int map_code(long long code)
{
    switch (code) {
    case 0: return CZ_LIMIT_OVER_QUOTA;
    case 1: return CZ_LIMIT_ALLOWED;
    case 2: return CZ_LIMIT_HIT_QUOTA;
    default: return CZ_EREDIS;
    }
}

/* Set a->argv[i] to the decimal form of v (uses a->nums[slot]). */
static void arg_u64(args_t *a, int i, int slot, uint64_t v)
{
    char *p = a->nums[slot] + sizeof(a->nums[slot]);
    *--p = '\0';
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    a->argv[i] = p;
    a->len[i] = (size_t)(a->nums[slot] + sizeof(a->nums[slot]) - 1 - p);
}

/* Set a->argv[i] to "{pk}suffix", or pk alone when suffix is NULL (uses a->keys[slot]); the
 * braces are go-zero's cluster hash tag. */
static void arg_key(args_t *a, int i, int slot, cz_str_t pk, const char *suffix)
{
    char *p = a->keys[slot];
    size_t n = 0;
    if (suffix)
        p[n++] = '{';
    memcpy(p + n, pk.p, pk.n);
    n += pk.n;
    if (suffix) {
        p[n++] = '}';
        size_t sl = strlen(suffix);
        memcpy(p + n, suffix, sl);
        n += sl;
    }
    a->argv[i] = p;
    a->len[i] = n;
}

/* The bucket scripts' arguments (token and leaky): KEYS[1] = pk + suffix, ARGV = rate, burst,
 * wall time in ms, n. */
static void bucket_args(const cz_limiter_conf_t *c, cz_str_t pk, uint64_t n, const char *suffix,
                        args_t *a)
{
    a->nkeys = 1;
    a->argc = 5;
    arg_key(a, 0, 0, pk, suffix);
    arg_u64(a, 1, 0, c->rate);
    arg_u64(a, 2, 1, c->burst);
    arg_u64(a, 3, 2, cz__limit_wall_ns(c) / CZ_NS_PER_MS);
    arg_u64(a, 4, 3, n);
}

static void period_args(const cz_limiter_conf_t *c, cz_str_t pk, uint64_t n, args_t *a)
{
    uint64_t w = cz__limit_period_window_ns(c);
    a->nkeys = 1;
    a->argc = 4;
    arg_key(a, 0, 0, pk, NULL); /* go-zero's plain keyPrefix+key */
    arg_u64(a, 1, 0, c->quota);
    arg_u64(a, 2, 1, (w + CZ_NS_PER_MS - 1) / CZ_NS_PER_MS);
    arg_u64(a, 3, 2, n);
}

static void token_args(const cz_limiter_conf_t *c, cz_str_t pk, uint64_t n, args_t *a)
{
    /* go-zero keeps "{key}.tokens" and "{key}.ts"; one key holds both here (redis_limit_lua.h).
     * The braces stay: Redis Cluster hashes only the tag, as go-zero intends. */
    bucket_args(c, pk, n, ".bucket", a);
}

static void leaky_args(const cz_limiter_conf_t *c, cz_str_t pk, uint64_t n, args_t *a)
{
    bucket_args(c, pk, n, ".leaky", a);
}

static const redis_kind_t redis_kinds[] = {
    [CZ_LIMIT_PERIOD] = {cz__lua_period, period_args, 0},
    [CZ_LIMIT_TOKEN] = {cz__lua_token, token_args, 1}, /* go-zero's rescueLimiter */
    [CZ_LIMIT_LEAKY] = {cz__lua_leaky, leaky_args, 0},
};

/* ---------------------------------------------------------------- lifecycle */

static cz_limiter_t nop_limiter; /* kind == NULL */

static const char *const redis_labels[] = {"limiter", "redis"};

static void collect_redis(cz_metrics_t *m, void *ud)
{
    cz_limiter_t *l = ud;
    const char *v[] = {l->conf.key_prefix, l->redis_addr};
    cz_metric_t *f;
    if (cz_metrics_gauge(m, "czero_limiter_redis_down",
                         "Event loops whose Redis path of the limiter fails now (0: Redis "
                         "decides).", redis_labels, 2, &f) == 0)
        cz_metric_set(f, v, (double)__atomic_load_n(&l->redis_down, __ATOMIC_RELAXED));
    if (cz_metrics_counter(m, "czero_limiter_redis_outages_total",
                           "Times the limiter's Redis became unreachable (logged each time).",
                           redis_labels, 2, &f) == 0)
        cz_metric_set(f, v, (double)__atomic_load_n(&l->redis_outages, __ATOMIC_RELAXED));
}

cz_limiter_t *cz_limiter_nop(void) { return &nop_limiter; }

int cz_limiter_new(const cz_limiter_conf_t *conf, cz_limiter_t **out)
{
    if (!conf || !out)
        return CZ_EARG;
    *out = NULL;
    const cz__limit_kind_t *kind = cz__limit_kind_for(conf);
    if (!kind)
        return CZ_EARG;
    if (conf->store != CZ_LIMIT_LOCAL && conf->store != CZ_LIMIT_REDIS)
        return CZ_EARG;
    const char *prefix = conf->key_prefix ? conf->key_prefix : "";
    if (strlen(prefix) > CZ_LIMITER_MAX_KEY)
        return CZ_EARG;
    cz_limiter_t *l = calloc(1, sizeof(*l));
    if (!l)
        return CZ_ENOMEM;
    l->kind = kind;
    l->rkind = &redis_kinds[conf->kind];
    l->conf = *conf;
    /* Redis clients are made lazily, so the strings they copy must live as long as we do. */
    l->conf.key_prefix = strdup(prefix);
    l->conf.redis.host = conf->redis.host ? strdup(conf->redis.host) : NULL;
    l->conf.redis.password = conf->redis.password ? strdup(conf->redis.password) : NULL;
    if (!l->conf.key_prefix || (conf->redis.host && !l->conf.redis.host) ||
        (conf->redis.password && !l->conf.redis.password)) {
        free((char *)l->conf.key_prefix);
        free((char *)l->conf.redis.host);
        free((char *)l->conf.redis.password);
        free(l);
        return CZ_ENOMEM;
    }
    if (!l->conf.clock)
        l->conf.clock = cz_clock_system();
    if (!l->conf.wallclock)
        l->conf.wallclock = &wall_clock;
    if (!l->conf.probe_interval_ms)
        l->conf.probe_interval_ms = 100; /* go-zero tokenlimit.go pingInterval */
    cz_redis_script_init(&l->script, l->rkind->lua);
    cz__limit_store_init(&l->local, kind, &l->conf);
    pthread_mutex_init(&l->bind_mu, NULL);
    if (l->conf.store == CZ_LIMIT_REDIS) {
        const char *h = l->conf.redis.host ? l->conf.redis.host : "127.0.0.1";
        snprintf(l->redis_addr, sizeof l->redis_addr, strchr(h, ':') ? "[%s]:%d" : "%s:%d", h,
                 l->conf.redis.port ? l->conf.redis.port : 6379);
        cz_metrics_collector_add(cz_metrics_default(), collect_redis, l);
    }
    *out = l;
    return 0;
}

static void binding_closed(uv_handle_t *h) { free(h->data); }

static void binding_close(binding_t *b)
{
    b->closing = 1;
    if (b->down) /* not an outage any more: this loop no longer uses Redis */
        __atomic_sub_fetch(&b->l->redis_down, 1, __ATOMIC_RELAXED);
    cz_redis_free(b->redis); /* pending takes complete now, with CZ_ECLOSED */
    uv_close((uv_handle_t *)&b->probe, binding_closed);
}

void cz_limiter_free(cz_limiter_t *l)
{
    if (!l || l == &nop_limiter)
        return;
    if (l->conf.store == CZ_LIMIT_REDIS) {
        cz_metrics_collector_remove(cz_metrics_default(), collect_redis, l);
        cz_metric_t *f; /* a freed limiter's series must not show an outage forever */
        if (cz_metrics_gauge(cz_metrics_default(), "czero_limiter_redis_down", "", redis_labels,
                             2, &f) == 0)
            cz_metric_set(f, (const char *[]){l->conf.key_prefix, l->redis_addr}, 0);
    }
    for (int i = 0; i < l->nbind; i++)
        if (l->loops[i])
            binding_close(l->binds[i]);
    cz__limit_store_fini(&l->local);
    pthread_mutex_destroy(&l->bind_mu);
    free((char *)l->conf.key_prefix);
    free((char *)l->conf.redis.host);
    free((char *)l->conf.redis.password);
    free(l);
}

int cz_limiter_allow(cz_limiter_t *l, cz_str_t key, uint64_t n)
{
    if (!l || n == 0 || (key.n && !key.p))
        return CZ_EARG;
    if (!l->kind)
        return CZ_LIMIT_ALLOWED;
    if (l->conf.store != CZ_LIMIT_LOCAL)
        return -ENOTSUP;
    return cz__limit_store_decide(&l->local, key, n);
}

size_t cz_limiter_local_keys(cz_limiter_t *l)
{
    return l && l->kind ? cz__limit_store_keys(&l->local) : 0;
}

/* ---------------------------------------------------------------- per-loop Redis bindings */

static binding_t *binding_find(cz_limiter_t *l, uv_loop_t *loop, int *slot)
{
    int n = __atomic_load_n(&l->nbind, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        if (__atomic_load_n(&l->loops[i], __ATOMIC_ACQUIRE) == loop) {
            if (slot)
                *slot = i;
            return l->binds[i];
        }
    }
    return NULL;
}

static int binding_get(cz_limiter_t *l, uv_loop_t *loop, binding_t **out)
{
    if ((*out = binding_find(l, loop, NULL)))
        return 0;
    /* Only this loop's thread creates this loop's binding, so nobody else can add it now. */
    pthread_mutex_lock(&l->bind_mu);
    int i = 0;
    while (i < l->nbind && l->loops[i])
        i++;
    if (i == CZ_LIMITER_MAX_LOOPS) {
        pthread_mutex_unlock(&l->bind_mu);
        return CZ_EFULL;
    }
    binding_t *b = calloc(1, sizeof(*b));
    if (b)
        b->redis = cz_redis_new(loop, &l->conf.redis);
    if (!b || !b->redis) {
        free(b);
        pthread_mutex_unlock(&l->bind_mu);
        return CZ_ENOMEM;
    }
    b->l = l;
    b->loop = loop;
    b->alive = 1;
    uv_timer_init(loop, &b->probe);
    b->probe.data = b;
    l->binds[i] = b;
    __atomic_store_n(&l->loops[i], loop, __ATOMIC_RELEASE);
    if (i == l->nbind)
        __atomic_store_n(&l->nbind, i + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&l->bind_mu);
    *out = b;
    return 0;
}

void cz_limiter_detach_loop(cz_limiter_t *l, uv_loop_t *loop)
{
    int i;
    if (!l || !l->kind)
        return;
    binding_t *b = binding_find(l, loop, &i);
    if (!b)
        return;
    pthread_mutex_lock(&l->bind_mu);
    __atomic_store_n(&l->loops[i], NULL, __ATOMIC_RELEASE);
    l->binds[i] = NULL;
    pthread_mutex_unlock(&l->bind_mu);
    binding_close(b);
}

int cz_limiter_redis_alive(cz_limiter_t *l, uv_loop_t *loop)
{
    binding_t *b = l && l->kind ? binding_find(l, loop, NULL) : NULL;
    return b ? b->alive : CZ_ENOTFOUND;
}

cz_redis_t *cz_limiter_redis(cz_limiter_t *l, uv_loop_t *loop)
{
    binding_t *b = l && l->kind ? binding_find(l, loop, NULL) : NULL;
    return b ? b->redis : NULL;
}

/* ---------------------------------------------------------------- Redis outages */

/* This loop's Redis path failed (err) or answered (err == 0): log the limiter's transitions
 * only, the first loop to fail and the last to recover. */
static void redis_state(binding_t *b, int err)
{
    cz_limiter_t *l = b->l;
    if (b->closing || (err != 0) == (b->down != 0))
        return;
    b->down = err != 0;
    if (err) {
        if (__atomic_fetch_add(&l->redis_down, 1, __ATOMIC_RELAXED) != 0)
            return;
        __atomic_add_fetch(&l->redis_outages, 1, __ATOMIC_RELAXED);
        cz_log_error("limiter \"%s\": Redis %s failed (%s): %s until it answers", l->conf.key_prefix,
                     l->redis_addr, cz_strerror(err),
                     l->rkind->fallback ? "the in-process token bucket decides"
                     : l->conf.fail_closed   ? "every request is refused (fail closed)"
                                             : "every request is allowed (fail open)");
    } else if (__atomic_sub_fetch(&l->redis_down, 1, __ATOMIC_RELAXED) == 0) {
        cz_log_info("limiter \"%s\": Redis %s answers again: it decides", l->conf.key_prefix,
                    l->redis_addr);
    }
}

/* ---------------------------------------------------------------- token fallback probe */

static void on_pong(cz_redis_t *r, int status, struct redisReply *reply, void *ud)
{
    binding_t *b = ud;
    b->pinging = 0;
    if (status == 0 && !b->closing) {
        b->alive = 1;
        uv_timer_stop(&b->probe);
        redis_state(b, 0);
    }
}

static void on_probe(uv_timer_t *t)
{
    binding_t *b = t->data;
    if (b->pinging || b->closing)
        return;
    if (cz_redis_command(b->redis, on_pong, b, "PING") == 0)
        b->pinging = 1;
}

static void mark_dead(binding_t *b)
{
    if (!b->alive || b->closing)
        return;
    b->alive = 0;
    uint64_t iv = b->l->conf.probe_interval_ms;
    uv_timer_start(&b->probe, on_probe, iv, iv);
}

/* ---------------------------------------------------------------- async take */

/* Redis could not decide: the token kind asks its in-process bucket, the others fail open or
 * closed as configured. */
static void decide_without_redis(take_req_t *q, int err)
{
    cz_limiter_t *l = q->l;
    int result = l->conf.fail_closed ? CZ_LIMIT_OVER_QUOTA : CZ_LIMIT_ALLOWED;
    if (err)
        redis_state(q->b, err);
    if (l->rkind->fallback) {
        mark_dead(q->b);
        int rc = cz__limit_store_decide(&l->local, (cz_str_t){q->key, q->klen}, q->n);
        if (rc > 0)
            result = rc;
    }
    q->cb(q->ud, result, err);
    free(q);
}

static void on_take_reply(cz_redis_t *r, int status, struct redisReply *reply, void *ud)
{
    take_req_t *q = ud;
    if (status == 0) {
        int result = reply->type == REDIS_REPLY_INTEGER ? map_code(reply->integer)
                                                        : CZ_EREDIS;
        if (result > 0) {
            redis_state(q->b, 0);
            q->cb(q->ud, result, 0);
            free(q);
            return;
        }
        status = result;
    }
    decide_without_redis(q, status);
}

int cz_limiter_take(cz_limiter_t *l, uv_loop_t *loop, cz_str_t key, uint64_t n, cz_limit_cb cb,
                    void *ud)
{
    if (!l || !cb || n == 0 || (key.n && !key.p))
        return CZ_EARG;
    if (!l->kind) {
        cb(ud, CZ_LIMIT_ALLOWED, 0);
        return 0;
    }
    if (l->conf.store == CZ_LIMIT_LOCAL) {
        int rc = cz__limit_store_decide(&l->local, key, n);
        if (rc < 0)
            return rc;
        cb(ud, rc, 0);
        return 0;
    }
    size_t plen = strlen(l->conf.key_prefix);
    if (!loop || plen + key.n > CZ_LIMITER_MAX_KEY)
        return CZ_EARG;
    binding_t *b;
    int rc = binding_get(l, loop, &b);
    if (rc < 0)
        return rc;
    take_req_t *q = malloc(sizeof(*q) + key.n);
    if (!q)
        return CZ_ENOMEM;
    *q = (take_req_t){.l = l, .b = b, .cb = cb, .ud = ud, .n = n, .klen = key.n};
    if (key.n)
        memcpy(q->key, key.p, key.n);
    if (!b->alive) { /* token kind on its fallback: no Redis round trip until the probe says so */
        decide_without_redis(q, 0);
        return 0;
    }
    char pk[CZ_LIMITER_MAX_KEY];
    memcpy(pk, l->conf.key_prefix, plen);
    if (key.n)
        memcpy(pk + plen, key.p, key.n);
    args_t a;
    l->rkind->args(&l->conf, (cz_str_t){pk, plen + key.n}, n, &a);
    rc = cz_redis_evalsha(b->redis, &l->script, on_take_reply, q, a.nkeys, a.argc, a.argv, a.len);
    if (rc < 0)
        decide_without_redis(q, rc);
    return 0;
}
