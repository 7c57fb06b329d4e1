/* SPDX-License-Identifier: MIT
 *
 * test_upstreams_conf.c: a service's `Upstreams` section (CZ_UPSTREAMS_FIELD in a table that
 * inlines RestConf, as czero-demo's does) as an operator meets its errors: each bad entry fails
 * the load itself with "svc.yaml:line:col: Upstreams[i].Key: message" at the offending node, the
 * text czero-gateway gives for the same entry; and what cz_upstreams_start finds later carries the
 * entry's line. Nothing is started (no network).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "czero/config.h"
#include "czero/upstream.h"

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

/* Upstreams[0] is good; the case's text is the body of Upstreams[1], from line 8 on. */
#define HEAD                                                                                       \
    "Name: svc\n"                                                                                  \
    "Port: 8080\n"                                                                                 \
    "Upstreams:\n"                                                                                 \
    "  - Name: a\n"                                                                                \
    "    Nodes:\n"                                                                                 \
    "      - Addr: 127.0.0.1:8001\n"                                                               \
    "  - Name: b\n"

static void expect_error(const char *body, const char *want)
{
    char yaml[1024], buf[800];
    snprintf(yaml, sizeof yaml, HEAD "%s", body);
    svc_conf_t c;
    cz_diag_t d;
    int rc = cz_conf_load_string("svc.yaml", yaml, strlen(yaml), svc_fields, &c, &d);
    cr_assert_eq(rc, CZ_EINVAL_CONF, "accepted:\n%s", yaml);
    cz_diag_format(&d, buf, sizeof buf);
    cr_expect(strcmp(buf, want) == 0, "got  '%s'\nwant '%s'", buf, want);
    cr_expect_null(c.upstreams.items, "a failed load keeps nothing");
}

Test(upstreams_conf, node_errors_name_file_line_col_and_key)
{
    expect_error("    Nodes:\n      - Addr: nohostport\n",
                 "svc.yaml:9:15: Upstreams[1].Nodes[0].Addr: must be host:port");
    expect_error("    Nodes: [{Addr: 127.0.0.1:1}, {Addr: 127.0.0.1:1}]\n",
                 "svc.yaml:8:41: Upstreams[1].Nodes[1].Addr: duplicate address");
    expect_error("    Nodes: [{Addr: 127.0.0.1:1, Weight: 0}]\n",
                 "svc.yaml:8:41: Upstreams[1].Nodes[0].Weight: must be 1..1000, got 0");
    expect_error("    Nodes: [{Weight: 2}]\n",
                 "svc.yaml:8:13: Upstreams[1].Nodes[0].Addr: missing required key");
}

Test(upstreams_conf, policy_pool_and_name_errors)
{
    expect_error("    Policy: fastest\n    Nodes: [{Addr: 127.0.0.1:1}]\n",
                 "svc.yaml:8:13: Upstreams[1].Policy: unknown value \"fastest\" (allowed: "
                 "p2c_ewma, round_robin, random, weighted, consistent_hash)");
    expect_error("    Pool: {Size: -1}\n    Nodes: [{Addr: 127.0.0.1:1}]\n",
                 "svc.yaml:8:18: Upstreams[1].Pool.Size: must be 0..65536, got -1");
    expect_error("    Pool:\n      Size: 100000\n    Nodes: [{Addr: 127.0.0.1:1}]\n",
                 "svc.yaml:9:13: Upstreams[1].Pool.Size: must be 0..65536, got 100000");
    /* the second "a": the dup is placed at its Name value */
    char yaml[512], buf[600];
    snprintf(yaml, sizeof yaml, "%s",
             "Name: svc\nPort: 8080\nUpstreams:\n  - Name: a\n    Nodes: [{Addr: 127.0.0.1:1}]\n"
             "  - Name: a\n    Nodes: [{Addr: 127.0.0.1:2}]\n");
    svc_conf_t c;
    cz_diag_t d;
    cr_assert_eq(cz_conf_load_string("svc.yaml", yaml, strlen(yaml), svc_fields, &c, &d),
                 CZ_EINVAL_CONF);
    cr_expect_str_eq(cz_diag_format(&d, buf, sizeof buf),
                     "svc.yaml:6:11: Upstreams[1].Name: duplicate upstream name 'a'");
    expect_error("    Nodes: [{Addr: 127.0.0.1:1}]\n    HashKey: body\n",
                 "svc.yaml:9:14: Upstreams[1].HashKey: must be header:<name>, cookie:<name>, "
                 "query:<name> or path");
    expect_error("    Nodes: [{Addr: 127.0.0.1:1}]\n    Health: {Path: healthz}\n",
                 "svc.yaml:9:20: Upstreams[1].Health.Path: must start with /");
}

Test(upstreams_conf, discovery_errors_name_file_line_col_and_key)
{
    /* no source at all: the entry itself */
    expect_error("    Policy: random\n",
                 "svc.yaml:7:5: Upstreams[1].Nodes: one of Nodes, Dns or Etcd is required");
    expect_error("    Nodes: [{Addr: 127.0.0.1:1}]\n    Dns: users:80\n",
                 "svc.yaml:8:12: Upstreams[1].Nodes: give only one of Nodes, Dns or Etcd");
    expect_error("    Dns: users\n", "svc.yaml:8:10: Upstreams[1].Dns: must be name:port");
    expect_error("    Dns: users:80\n    DnsInterval: 1ms\n",
                 "svc.yaml:9:18: Upstreams[1].DnsInterval: must be 10ms..24h, got 1ms");
    expect_error("    Etcd:\n      Hosts: [127.0.0.1:2379]\n",
                 "svc.yaml:9:7: Upstreams[1].Etcd: needs Hosts and a non-empty Key");
    expect_error("    Etcd: {Key: users.rpc}\n",
                 "svc.yaml:8:11: Upstreams[1].Etcd: needs Hosts and a non-empty Key");
}

Test(upstreams_conf, a_check_on_a_default_points_at_the_deepest_node_present)
{
    /* MaxEjection keeps its 30s default: the error sits on the Outlier mapping */
    expect_error("    Nodes: [{Addr: 127.0.0.1:1}]\n    Outlier: {BaseEjection: 60s}\n",
                 "svc.yaml:9:14: Upstreams[1].Outlier.MaxEjection: must not be below "
                 "BaseEjection");
}

Test(upstreams_conf, good_section_loads_and_records_positions)
{
    const char *y = HEAD "    Dns: users:80\n";
    svc_conf_t c;
    cz_diag_t d;
    cr_assert_eq(cz_conf_load_string("svc.yaml", y, strlen(y), svc_fields, &c, &d), 0, "%s: %s",
                 d.key, d.msg);
    cr_assert_eq(c.upstreams.n, 2);
    cz_upstream_conf_t *u = c.upstreams.items;
    cr_expect_eq(u[0]._line, 4);
    cr_expect_eq(u[0]._col, 5);
    cr_expect_eq(u[1]._line, 7);
    cr_expect_eq(u[1]._col, 5);
    cz_conf_free(svc_fields, &c);

    /* no Upstreams key: an empty section, no error */
    const char *none = "Name: svc\nPort: 8080\n";
    cr_assert_eq(cz_conf_load_string("svc.yaml", none, strlen(none), svc_fields, &c, &d), 0);
    cr_expect_eq(c.upstreams.n, 0);
    cz_conf_free(svc_fields, &c);
}

Test(upstreams_conf, start_errors_carry_the_entry_position)
{
    const char *y = HEAD "    Nodes: [{Addr: 127.0.0.1:9}]\n";
    svc_conf_t c;
    cz_diag_t d;
    cr_assert_eq(cz_conf_load_string("svc.yaml", y, strlen(y), svc_fields, &c, &d), 0, "%s: %s",
                 d.key, d.msg);
    /* spoil the loaded entry, as something only start would notice: its error names the
     * entry's line and column (the caller adds the file name, as czero-demo does) */
    cz_upstream_node_conf_t *n = ((cz_upstream_conf_t *)c.upstreams.items)[1].nodes.items;
    n[0].addr[0] = '\0';
    memset(&d, 0, sizeof d);
    cr_assert_null(cz_upstreams_start(&c.upstreams, &d));
    cr_expect_str_eq(d.key, "Upstreams[1].Nodes[0].Addr");
    cr_expect_str_eq(d.msg, "must be host:port");
    cr_expect_eq(d.line, 7);
    cr_expect_eq(d.col, 5);
    cr_expect_str_eq(d.file, "");
    cz_conf_free(svc_fields, &c);
}
