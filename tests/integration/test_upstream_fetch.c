/* SPDX-License-Identifier: MIT
 *
 * test_upstream_fetch.c: cz_upstream_fetch and the named Upstreams set against real czero servers
 * on loopback: a whole body with headers (the request copied, so the caller's buffers may die at
 * once), CZ_EFULL for a Content-Length and for a chunked body over the cap (node not blamed), a
 * dead node retried on a live one, CZ_ENOSERVICE with no node, a timeout, a cancel that silences
 * the callback and frees everything, and an `Upstreams` YAML section found by name.
 * The fetches run on a uv loop in the test thread with a czero client, as a handler's would.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "backends.h"
#include "czero/client.h"
#include "czero/czero.h"
#include "czero/upstream.h"
#include "test_server.h"

/* ---- backends (backends.h): the demo routes plus /big?n=N (N bytes with a Content-Length) ---- */

static void backend_start(tb_backend_t *b) { tb_backend_start(b, "b"); }

static cz_upstream_t *upstream(const char *policy, const int *ports, size_t n)
{
    char addrs[4][32];
    const char *a[4];
    cr_assert_leq(n, 4);
    for (size_t i = 0; i < n; i++) {
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", ports[i]);
        a[i] = addrs[i];
    }
    return tb_upstream(policy, NULL, a, NULL, n);
}

/* ---- the calling side ---- */

typedef struct got {
    int calls, err, status;
    char *body;
    size_t blen;
    char xbig[8], ctype[64];
} got_t;

typedef struct side {
    uv_loop_t loop;
    cz_client_t *c;
} side_t;

static void side_init(side_t *s)
{
    uv_loop_init(&s->loop);
    s->c = cz_client_new(&s->loop, NULL);
    cr_assert_not_null(s->c);
}

static void side_close(side_t *s)
{
    cz_client_close(s->c, NULL, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&s->loop), 0);
}

static void got_cb(int err, const cz_fetch_res_t *res, void *ud)
{
    got_t *g = ud;
    g->calls++;
    g->err = err;
    g->status = res->status;
    g->body = malloc(res->body.n + 1);
    memcpy(g->body, res->body.p, res->body.n);
    g->body[res->body.n] = '\0';
    g->blen = res->body.n;
    for (size_t i = 0; i < res->nheaders; i++) {
        cz_str_t n = res->hname[i], v = res->hvalue[i];
        if (cz_str_ieq(n, CZ_STR("X-Big")))
            snprintf(g->xbig, sizeof g->xbig, "%.*s", (int)v.n, v.p);
        if (cz_str_ieq(n, CZ_STR("Content-Type")))
            snprintf(g->ctype, sizeof g->ctype, "%.*s", (int)v.n, v.p);
    }
}

static void run_until(side_t *s, const got_t *g)
{
    while (g->calls == 0)
        uv_run(&s->loop, UV_RUN_ONCE);
}

/* A GET whose target, key and header live in a buffer scribbled over right after the call. */
static int fetch_get(side_t *s, cz_upstream_t *u, const char *target, size_t max, got_t *g,
                     int retries, uint64_t timeout_ms, cz_upfetch_t **out)
{
    char scratch[256];
    snprintf(scratch, sizeof scratch, "%s", target);
    cz_str_t hn[] = {CZ_STR("X-Test")}, hv[] = {{scratch, strlen(scratch)}};
    cz_upstream_req_t rq = {
        .http = {.method = CZ_STR("GET"), .target = {scratch, strlen(scratch)}, .hname = hn,
                 .hvalue = hv, .nheaders = 1, .total_timeout_ms = timeout_ms},
        .retries = retries,
        .idempotent = true,
    };
    int rc = cz_upstream_fetch(u, s->c, &rq, max, got_cb, g, out);
    memset(scratch, 'Z', sizeof scratch);
    return rc;
}

Test(upstream_fetch, whole_body_headers_and_posted_body)
{
    tb_backend_t b;
    backend_start(&b);
    cz_upstream_t *u = upstream("round_robin", &b.ts.port, 1);
    side_t s;
    side_init(&s);

    got_t g = {0};
    cr_assert_eq(fetch_get(&s, u, "/big?n=300000", 0, &g, 0, 0, NULL), 0);
    run_until(&s, &g);
    cr_assert_eq(g.err, 0, "%s", cz_strerror(g.err));
    cr_assert_eq(g.status, 200);
    cr_assert_str_eq(g.xbig, "yes");
    cr_assert_eq(g.blen, 300000);
    for (size_t i = 0; i < g.blen; i++)
        cr_assert_eq(g.body[i], (char)('a' + i % 26), "byte %zu", i);
    free(g.body);

    /* a whole request body, copied too: /echo answers it with its Content-Type */
    char payload[] = "{\"q\":\"relay\"}";
    cz_str_t hn[] = {CZ_STR("Content-Type")}, hv[] = {CZ_STR("application/json")};
    cz_upstream_req_t rq = {.http = {.method = CZ_STR("POST"), .target = CZ_STR("/echo"),
                                     .hname = hn, .hvalue = hv, .nheaders = 1,
                                     .body = {payload, strlen(payload)}}};
    got_t e = {0};
    cr_assert_eq(cz_upstream_fetch(u, s.c, &rq, 0, got_cb, &e, NULL), 0);
    memset(payload, '!', strlen(payload));
    run_until(&s, &e);
    cr_assert_eq(e.err, 0);
    cr_assert_eq(e.status, 200);
    cr_assert_str_eq(e.body, "{\"q\":\"relay\"}");
    cr_assert_str_eq(e.ctype, "application/json");
    free(e.body);

    /* a streamed body without a cap given: the 1 MiB default takes it whole */
    got_t c = {0};
    cr_assert_eq(fetch_get(&s, u, "/stream?n=1000", 0, &c, 0, 0, NULL), 0);
    run_until(&s, &c);
    cr_assert_eq(c.err, 0);
    cr_assert_eq(c.blen, 10 * 8 + 90 * 9 + 900 * 10); /* "chunk N\n" for N < 1000 */
    cr_assert(strncmp(c.body + c.blen - 10, "chunk 999\n", 10) == 0);
    free(c.body);

    side_close(&s);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}

Test(upstream_fetch, over_max_body_is_efull_and_the_node_stays_usable)
{
    tb_backend_t b;
    backend_start(&b);
    cz_upstream_t *u = upstream("round_robin", &b.ts.port, 1);
    side_t s;
    side_init(&s);

    got_t g = {0}; /* Content-Length 5000 > 4096: refused at the head */
    cr_assert_eq(fetch_get(&s, u, "/big?n=5000", 4096, &g, 2, 0, NULL), 0);
    run_until(&s, &g);
    cr_assert_eq(g.err, CZ_EFULL, "%s", cz_err_name(g.err));
    cr_assert_eq(g.status, 200);
    cr_assert_eq(g.blen, 0);
    free(g.body);

    got_t c = {0}; /* chunked, 9890 bytes > 4096: stopped in the body */
    cr_assert_eq(fetch_get(&s, u, "/stream?n=1000", 4096, &c, 2, 0, NULL), 0);
    run_until(&s, &c);
    cr_assert_eq(c.err, CZ_EFULL, "%s", cz_err_name(c.err));
    cr_assert_leq(c.blen, 4096);
    free(c.body);

    got_t ok = {0}; /* exactly the cap is fine */
    cr_assert_eq(fetch_get(&s, u, "/big?n=4096", 4096, &ok, 0, 0, NULL), 0);
    run_until(&s, &ok);
    cr_assert_eq(ok.err, 0);
    cr_assert_eq(ok.blen, 4096);
    free(ok.body);

    cz_upstream_node_stat_t st;
    cr_assert_eq(cz_upstream_nodes(u, &st, 1), 1);
    cr_assert(st.usable && !st.ejected);
    cr_assert_eq(st.fails, 0);
    cr_assert_eq(st.requests, 3); /* no retry of a refused body */

    side_close(&s);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}

Test(upstream_fetch, dead_node_is_retried_on_a_live_one)
{
    tb_backend_t b;
    backend_start(&b);
    int ports[] = {tb_dead_port(), b.ts.port};
    cz_upstream_t *u = upstream("round_robin", ports, 2);
    side_t s;
    side_init(&s);
    for (int i = 0; i < 4; i++) {
        got_t g = {0};
        cr_assert_eq(fetch_get(&s, u, "/hello", 0, &g, 1, 0, NULL), 0);
        run_until(&s, &g);
        cr_assert_eq(g.err, 0, "fetch %d: %s", i, cz_strerror(g.err));
        cr_assert_str_eq(g.body, "{\"message\":\"hello\"}");
        free(g.body);
    }
    cz_upstream_node_stat_t st[2];
    cr_assert_eq(cz_upstream_nodes(u, st, 2), 2);
    int dead = strstr(st[0].addr, "127.0.0.1:") && atoi(strchr(st[0].addr, ':') + 1) == ports[0]
                   ? 0 : 1;
    cr_assert_geq(st[dead].requests, 1, "the dead node was never tried");
    cr_assert_eq(st[1 - dead].requests, 4);

    /* without a retry budget the refused connect reaches the callback */
    cz_upstream_t *only_dead = upstream("round_robin", ports, 1);
    got_t g = {0};
    cr_assert_eq(fetch_get(&s, only_dead, "/hello", 0, &g, 0, 0, NULL), 0);
    run_until(&s, &g);
    cr_assert_eq(g.err, UV_ECONNREFUSED, "%s", cz_err_name(g.err));
    cr_assert_eq(g.status, 0);
    free(g.body);

    side_close(&s);
    cz_upstream_free(only_dead);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}

Test(upstream_fetch, no_node_is_enoservice_without_a_callback)
{
    int port = tb_dead_port();
    cz_upstream_t *u = upstream("p2c_ewma", &port, 1);
    cr_assert_eq(cz_upstream_set_nodes(u, NULL, 0), 0);
    side_t s;
    side_init(&s);
    got_t g = {0};
    cz_upfetch_t *f = NULL;
    cr_assert_eq(fetch_get(&s, u, "/hello", 0, &g, 3, 0, &f), CZ_ENOSERVICE);
    cr_assert_null(f);
    uv_run(&s.loop, UV_RUN_NOWAIT);
    cr_assert_eq(g.calls, 0);
    cz_upstream_req_t stream = {.http = {.method = CZ_STR("POST"), .target = CZ_STR("/"),
                                         .body_stream = true}};
    cr_assert_eq(cz_upstream_fetch(u, s.c, &stream, 0, got_cb, &g, NULL), CZ_EARG);
    side_close(&s);
    cz_upstream_free(u);
}

Test(upstream_fetch, timeout_is_etimeout)
{
    tb_backend_t b;
    backend_start(&b);
    cz_upstream_t *u = upstream("round_robin", &b.ts.port, 1);
    side_t s;
    side_init(&s);
    got_t g = {0};
    uint64_t t0 = uv_hrtime();
    cr_assert_eq(fetch_get(&s, u, "/slow?ms=700", 0, &g, 0, 200, NULL), 0);
    run_until(&s, &g);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    cr_assert_eq(g.err, CZ_ETIMEOUT, "%s", cz_err_name(g.err));
    cr_assert(ms >= 150 && ms < 600, "%lu ms", (unsigned long)ms);
    free(g.body);
    side_close(&s);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}

typedef struct canceller {
    uv_timer_t t;
    cz_upfetch_t *f;
} canceller_t;

static void cancel_fire(uv_timer_t *t)
{
    canceller_t *k = t->data;
    cz_upfetch_cancel(k->f);
    k->f = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

Test(upstream_fetch, cancel_silences_the_callback_and_blames_no_node)
{
    tb_backend_t b;
    backend_start(&b);
    cz_upstream_t *u = upstream("round_robin", &b.ts.port, 1);
    side_t s;
    side_init(&s);
    got_t g = {0};
    canceller_t k = {0};
    uint64_t t0 = uv_hrtime();
    cr_assert_eq(fetch_get(&s, u, "/slow?ms=900", 0, &g, 2, 0, &k.f), 0);
    cr_assert_not_null(k.f);
    uv_timer_init(&s.loop, &k.t);
    k.t.data = &k;
    uv_timer_start(&k.t, cancel_fire, 100, 0);
    uv_run(&s.loop, UV_RUN_DEFAULT); /* ends once nothing is left: the call is gone */
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    cr_assert_null(k.f);
    cr_assert_eq(g.calls, 0, "a cancelled fetch called back");
    cr_assert_lt(ms, 700, "the loop waited for the cancelled call: %lu ms", (unsigned long)ms);
    cz_upstream_node_stat_t st;
    cr_assert_eq(cz_upstream_nodes(u, &st, 1), 1);
    cr_assert(st.usable);
    cr_assert_eq(st.fails, 0);
    cz_upfetch_cancel(NULL);

    /* the node still answers the next fetch */
    got_t h = {0};
    cr_assert_eq(fetch_get(&s, u, "/hello", 0, &h, 0, 0, NULL), 0);
    run_until(&s, &h);
    cr_assert_eq(h.err, 0);
    free(h.body);
    side_close(&s);
    cz_upstream_free(u);
    ts_stop(&b.ts);
}

/* ---- the named set, as a service embeds it ---- */

typedef struct svc_conf {
    char *name;
    cz_conf_array_t upstreams;
} svc_conf_t;

static const cz_conf_field_t svc_fields[] = {
    {.key = "Name", .type = CZ_CONF_STRING, .offset = offsetof(svc_conf_t, name)},
    {CZ_UPSTREAMS_FIELD(svc_conf_t, upstreams)},
    {0},
};

static int load_svc(const char *yaml, svc_conf_t *c, cz_diag_t *d)
{
    return cz_conf_load_string("svc.yaml", yaml, strlen(yaml), svc_fields, c, d);
}

Test(upstream_fetch, named_upstreams_from_a_service_config)
{
    tb_backend_t b;
    backend_start(&b);
    char y[512];
    snprintf(y, sizeof y,
             "Name: svc\nUpstreams:\n"
             "  - Name: users\n    Nodes: [{Addr: \"127.0.0.1:%d\"}]\n"
             "  - Name: peers\n    Policy: round_robin\n    Nodes: [{Addr: \"127.0.0.1:%d\"}]\n",
             b.ts.port, tb_dead_port());
    svc_conf_t c;
    cz_diag_t d = {0};
    cr_assert_eq(load_svc(y, &c, &d), 0, "%s: %s", d.key, d.msg);
    cz_upstreams_t *set = cz_upstreams_start(&c.upstreams, &d);
    cz_conf_free(svc_fields, &c); /* the set keeps no pointer into the config */
    cr_assert_not_null(set, "%s: %s", d.key, d.msg);
    cr_assert_eq(cz_upstreams_count(set), 2);
    cz_upstream_t *users = cz_upstreams_find(set, "users");
    cr_assert_not_null(users);
    cr_assert_str_eq(cz_upstream_name(users), "users");
    cr_assert_str_eq(cz_upstream_name(cz_upstreams_find(set, "peers")), "peers");
    cr_assert_null(cz_upstreams_find(set, "orders"));
    cr_assert_null(cz_upstreams_find(NULL, "users"));

    side_t s;
    side_init(&s);
    got_t g = {0};
    cr_assert_eq(fetch_get(&s, users, "/users/42", 0, &g, 0, 0, NULL), 0);
    run_until(&s, &g);
    cr_assert_eq(g.err, 0);
    cr_assert_str_eq(g.body, "{\"id\":\"42\"}");
    free(g.body);
    side_close(&s);
    cz_upstreams_free(set);
    ts_stop(&b.ts);

    /* no Upstreams section: an empty set, found nothing */
    cr_assert_eq(load_svc("Name: svc\n", &c, &d), 0);
    set = cz_upstreams_start(&c.upstreams, &d);
    cr_assert_not_null(set);
    cr_assert_eq(cz_upstreams_count(set), 0);
    cr_assert_null(cz_upstreams_find(set, "users"));
    cz_upstreams_free(set);
    cz_upstreams_free(NULL);
    cz_conf_free(svc_fields, &c);
}

Test(upstream_fetch, named_upstreams_refuse_bad_sections)
{
    svc_conf_t c;
    cz_diag_t d = {0};
    /* the load itself refuses a bad section, at its position */
    const char *dup = "Upstreams:\n  - {Name: a, Nodes: [{Addr: \"127.0.0.1:1\"}]}\n"
                      "  - {Name: a, Nodes: [{Addr: \"127.0.0.1:2\"}]}\n";
    cr_assert_eq(load_svc(dup, &c, &d), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.key, "Upstreams[1].Name");
    cr_assert(strstr(d.msg, "duplicate") != NULL, "%s", d.msg);
    cr_assert_eq(d.line, 3);
    cr_assert_eq(d.col, 12);
    cr_assert_null(c.upstreams.items);

    const char *none = "Upstreams:\n  - {Name: a, Nodes: [{Addr: \"127.0.0.1:1\"}]}\n"
                       "  - {Name: b}\n";
    cr_assert_eq(load_svc(none, &c, &d), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.key, "Upstreams[1].Nodes", "%s: %s", d.key, d.msg);
    cr_assert_eq(d.line, 3);
    cr_assert_eq(d.col, 5);

    /* a section built by hand (not loaded) is still checked at start, without a position */
    cz_upstream_conf_t ups[2];
    memset(ups, 0, sizeof ups);
    cz_conf_defaults(cz_upstream_conf_fields, &ups[0], &d);
    cz_conf_defaults(cz_upstream_conf_fields, &ups[1], &d);
    char addr[] = "127.0.0.1:1", name[] = "a";
    cz_upstream_node_conf_t node = {.addr = addr, .weight = 1};
    ups[0].name = ups[1].name = name;
    ups[0].nodes = ups[1].nodes = (cz_conf_array_t){&node, 1};
    cz_conf_array_t arr = {ups, 2};
    memset(&d, 0, sizeof d);
    cr_assert_null(cz_upstreams_start(&arr, &d));
    cr_assert_str_eq(d.key, "Upstreams[1].Name");
    cr_assert_eq(d.line, 0);
    cr_assert_str_eq(d.file, "");
    free(ups[0].hash_key);
    free(ups[1].hash_key);

    /* a key the Upstream table does not know is a load error with its position */
    const char *typo = "Upstreams:\n  - Name: a\n    Nodez: []\n";
    cr_assert_neq(load_svc(typo, &c, &d), 0);
    cr_assert_eq(d.line, 3);
}
