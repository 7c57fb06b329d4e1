/* SPDX-License-Identifier: MIT
 *
 * test_gateway_conf.c: czero-gateway's config loader and checks, as an operator meets them: each
 * bad file is refused with "file:line:col: Key.Path: message" pointing at the offending node, and
 * a good file yields the routes and upstreams it describes (defaults included). The loader is
 * compiled in from tools/czero-gateway (it belongs to the program, not the library).
 */
#include <criterion/criterion.h>
#include <string.h>
#include "../../tools/czero-gateway/gw_conf.c"

#define HEAD                                                                                       \
    "Name: gw\n"                                                                                   \
    "Port: 8080\n"                                                                                 \
    "Upstreams:\n"                                                                                 \
    "  - Name: a\n"                                                                                \
    "    Nodes: [{Addr: 127.0.0.1:8001}]\n"                                                        \
    "Routes:\n"

static void expect_error(const char *yaml, const char *want)
{
    gw_conf_t c;
    cz_diag_t d;
    char buf[800];
    int rc = gw_conf_load_string("gw.yaml", yaml, strlen(yaml), &c, &d);
    cr_assert_eq(rc, CZ_EINVAL_CONF, "accepted:\n%s", yaml);
    cz_diag_format(&d, buf, sizeof buf);
    cr_assert(strstr(buf, want), "got '%s', want '%s'", buf, want);
    cr_assert_null(c.routes.items);
}

Test(gateway_conf, errors_point_at_the_node)
{
    expect_error(HEAD "  - {Path: /x, Upstream: b}\n",
                 "gw.yaml:7:26: Routes[0].Upstream: no upstream named 'b'");
    expect_error(HEAD "  - Path: /x\n    Prefix: /y\n    Upstream: a\n",
                 "gw.yaml:8:13: Routes[0].Prefix: give Path or Prefix, not both");
    expect_error(HEAD "  - Upstream: a\n", "gw.yaml:7:5: Routes[0]: needs Path or Prefix");
    expect_error(HEAD "  - {Path: x, Upstream: a}\n", "Routes[0].Path: must start with '/'");
    expect_error(HEAD "  - {Prefix: /a/:id, Upstream: a}\n",
                 "Routes[0].Prefix: a prefix is literal");
    expect_error(HEAD "  - {Method: get, Path: /x, Upstream: a}\n",
                 "gw.yaml:7:14: Routes[0].Method: must be an upper-case method");
    expect_error(HEAD "  - {Path: /x, StripPrefix: /y, Upstream: a}\n",
                 "Routes[0].StripPrefix: must be a leading part of the route's Path '/x'");
    expect_error(HEAD "  - {Prefix: /x, Rewrite: y, Upstream: a}\n",
                 "Routes[0].Rewrite: must start with '/'");
    expect_error(HEAD "  - {Path: /x, Upstream: a, Retries: 17}\n", "Routes[0].Retries:");
    expect_error(HEAD "  - Path: /x\n    Upstream: a\n    Jwt: {PrevSecret: old}\n",
                 "gw.yaml:9:10: Routes[0].Jwt.Secret: PrevSecret needs a Secret");
    expect_error(HEAD "  - {Path: /x, Upstream: a}\n  - {Path: /y, Upstream: a}\n"
                      "  - {Path: /z, Upstream: q}\n",
                 "gw.yaml:9:26: Routes[2].Upstream: no upstream named 'q'");
    expect_error("Name: gw\nPort: 8080\nRoutes: []\n", "Routes: needs at least one route");
    expect_error("Name: gw\nPort: 8080\nUpstreams:\n  - {Name: a, Nodes: [{Addr: 1.2.3.4:1}]}\n"
                 "  - {Name: a, Nodes: [{Addr: 1.2.3.4:2}]}\n"
                 "Routes:\n  - {Path: /x, Upstream: a}\n",
                 "gw.yaml:5:12: Upstreams[1].Name: duplicate upstream name 'a'");
    expect_error("Name: gw\nPort: 8080\nUpstreams:\n  - {Name: a, Policy: fastest, Nodes: []}\n"
                 "Routes:\n  - {Path: /x, Upstream: a}\n",
                 "gw.yaml:4:23: Upstreams[0].Policy:");
}

Test(gateway_conf, rate_limit_checks)
{
    expect_error(HEAD "  - Path: /x\n    Upstream: a\n    RateLimit: {Kind: period}\n",
                 "Routes[0].RateLimit.Quota: a period limit needs a Quota >= 1");
    expect_error(HEAD "  - Path: /x\n    Upstream: a\n    RateLimit: {Kind: token, Rate: 5}\n",
                 "gw.yaml:9:16: Routes[0].RateLimit.Burst: a token bucket needs");
    expect_error(HEAD "  - Path: /x\n    Upstream: a\n"
                      "    RateLimit: {Kind: leaky, Rate: 5, Burst: 5, Key: cookie:x}\n",
                 "Routes[0].RateLimit.Key: must be ip, header:<Name> or claim:<name>");
    expect_error(HEAD "  - Path: /x\n    Upstream: a\n"
                      "    RateLimit: {Kind: token, Rate: 5, Burst: 5, Key: 'claim:uid'}\n",
                 "Routes[0].RateLimit.Key: a claim key needs Jwt on the route");
    expect_error(HEAD "  - Path: /x\n    Upstream: a\n"
                      "    RateLimit: {Kind: token, Rate: 5, Burst: 5, Redis: {Host: redis}}\n",
                 "Routes[0].RateLimit.Redis.Host: must be host:port");
    expect_error(HEAD "  - Path: /x\n    Upstream: a\n    RateLimit: {Kind: fast}\n",
                 "Routes[0].RateLimit.Kind:");
}

Test(gateway_conf, a_good_file_and_its_defaults)
{
    const char *yaml = HEAD "  - Prefix: /api\n"
                            "    StripPrefix: /api\n"
                            "    Rewrite: /v1\n"
                            "    Upstream: a\n"
                            "    Jwt: {Secret: s3cret}\n"
                            "    Cors: {AllowOrigins: [example.com]}\n"
                            "    RateLimit: {Kind: token, Rate: 5, Burst: 10, Key: 'claim:uid',"
                            " Redis: {Host: 127.0.0.1:6379}}\n"
                            "  - {Method: GET, Path: /users/:id, Upstream: a, Timeout: 2s}\n";
    gw_conf_t c;
    cz_diag_t d;
    char buf[800];
    int rc = gw_conf_load_string("gw.yaml", yaml, strlen(yaml), &c, &d);
    cr_assert_eq(rc, 0, "%s", cz_diag_format(&d, buf, sizeof buf));
    cr_assert_eq(c.upstreams.n, 1);
    cr_assert_eq(c.routes.n, 2);
    const gw_route_conf_t *r = c.routes.items;
    cr_assert_str_eq(r[0].prefix, "/api");
    cr_assert_str_eq(r[0].rewrite, "/v1");
    cr_assert_eq(r[0].upstream_index, 0);
    cr_assert_eq(r[0].retries, 1, "Retries defaults to 1");
    cr_assert_eq(r[0].rate_limit.kind, GW_RL_TOKEN);
    cr_assert_eq(r[0].rate_limit.key_kind, GW_KEY_CLAIM);
    cr_assert_str_eq(r[0].rate_limit.key_name, "uid");
    cr_assert_eq(r[0].rate_limit.redis.timeout_ms, 100);
    cr_assert_eq(r[0].cors.allow_origins.n, 1);
    cr_assert_null(r[1].method == NULL ? "x" : NULL);
    cr_assert_eq(r[1].timeout_ms, 2000);
    cr_assert_eq(r[1].rate_limit.kind, GW_RL_NONE);
    gw_conf_free(&c);
}

/* Routes may come before Upstreams in the file: the route check still sees every upstream, and
 * its error is still placed at the route's own node. */
Test(gateway_conf, routes_before_upstreams)
{
    const char *ok = "Name: gw\nPort: 8080\nRoutes:\n  - {Path: /x, Upstream: b}\n"
                     "Upstreams:\n  - {Name: a, Nodes: [{Addr: 127.0.0.1:1}]}\n"
                     "  - {Name: b, Nodes: [{Addr: 127.0.0.1:2}]}\n";
    gw_conf_t c;
    cz_diag_t d;
    char buf[800];
    cr_assert_eq(gw_conf_load_string("gw.yaml", ok, strlen(ok), &c, &d), 0, "%s",
                 cz_diag_format(&d, buf, sizeof buf));
    cr_assert_eq(((const gw_route_conf_t *)c.routes.items)[0].upstream_index, 1);
    gw_conf_free(&c);
    expect_error("Name: gw\nPort: 8080\nRoutes:\n  - {Path: /x, Upstream: q}\n"
                 "Upstreams:\n  - {Name: a, Nodes: [{Addr: 127.0.0.1:1}]}\n",
                 "gw.yaml:4:26: Routes[0].Upstream: no upstream named 'q'");
}

Test(gateway_conf, the_example_config_loads)
{
    gw_conf_t c;
    cz_diag_t d;
    char buf[800];
    int rc = gw_conf_load(CZ_SOURCE_DIR "/etc/gateway.yaml", &c, &d);
    cr_assert_eq(rc, 0, "%s", cz_diag_format(&d, buf, sizeof buf));
    cr_assert_geq(c.upstreams.n, 5, "one upstream per policy");
    gw_conf_free(&c);
}

/* A service's config with the same Upstreams (CZ_UPSTREAMS_FIELD, RestConf inline, as czero-demo)
 * gets the same message, word for word and at the same place, as the gateway's. */
typedef struct svc_conf {
    cz_rest_conf_t rest;
    cz_conf_array_t upstreams;
} svc_conf_t;

static const cz_conf_field_t svc_fields[] = {
    {.key = "", .type = CZ_CONF_INLINE, .offset = offsetof(svc_conf_t, rest),
     .sub = cz_rest_conf_fields},
    {CZ_UPSTREAMS_FIELD(svc_conf_t, upstreams)},
    {0},
};

Test(gateway_conf, upstream_errors_read_the_same_in_a_service)
{
    static const char *const bodies[] = {
        "  - Name: a\n    Nodes:\n      - Addr: nohostport\n",
        "  - {Name: a, Nodes: [{Addr: 1.2.3.4:1}]}\n  - {Name: a, Nodes: [{Addr: 1.2.3.4:2}]}\n",
        "  - {Name: a, Policy: fastest, Nodes: [{Addr: 1.2.3.4:1}]}\n",
        "  - {Name: a, Nodes: [{Addr: 1.2.3.4:1, Weight: 1001}]}\n",
        "  - {Name: a, Pool: {Size: -1}, Nodes: [{Addr: 1.2.3.4:1}]}\n",
        "  - {Name: a, Dns: nohost}\n",
        "  - {Name: a, Etcd: {Hosts: [1.2.3.4:2379]}}\n",
        "  - {Name: a}\n",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char yaml[512], gw[800], svc[800];
        snprintf(yaml, sizeof yaml, "Name: x\nPort: 8080\nUpstreams:\n%sRoutes:\n"
                 "  - {Path: /x, Upstream: a}\n", bodies[i]);
        gw_conf_t g;
        cz_diag_t d;
        cr_assert_eq(gw_conf_load_string("x.yaml", yaml, strlen(yaml), &g, &d), CZ_EINVAL_CONF,
                     "gateway accepted:\n%s", yaml);
        cz_diag_format(&d, gw, sizeof gw);
        snprintf(yaml, sizeof yaml, "Name: x\nPort: 8080\nUpstreams:\n%s", bodies[i]);
        svc_conf_t s;
        cr_assert_eq(cz_conf_load_string("x.yaml", yaml, strlen(yaml), svc_fields, &s, &d),
                     CZ_EINVAL_CONF, "service accepted:\n%s", yaml);
        cz_diag_format(&d, svc, sizeof svc);
        cr_expect(strcmp(svc, gw) == 0, "service '%s'\ngateway '%s'", svc, gw);
        cr_expect(d.line > 0 && d.col > 0 && strncmp(svc, "x.yaml:", 7) == 0, "%s", svc);
    }
    /* the example from the bug report, exactly */
    const char *bad3 = "Name: x\nPort: 8080\nLog:\n  Mode: console\nUpstreams:\n  - Name: a\n"
                       "    Nodes:\n      - Addr: nohostport\n";
    svc_conf_t s;
    cz_diag_t d;
    char buf[800];
    cr_assert_eq(cz_conf_load_string("x.yaml", bad3, strlen(bad3), svc_fields, &s, &d),
                 CZ_EINVAL_CONF);
    cr_expect_str_eq(cz_diag_format(&d, buf, sizeof buf),
                     "x.yaml:8:15: Upstreams[0].Nodes[0].Addr: must be host:port");
}
