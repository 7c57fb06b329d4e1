/* SPDX-License-Identifier: MIT
 *
 * The Etcd block of a service's YAML (go-zero discov.EtcdConf inside RestConf): keys and
 * defaults, absence meaning "do not register", go-zero's TLS and auth keys, and file:line errors
 * for what czero does not implement (AutoSyncInterval is refused, not silently ignored).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "czero/config.h"
#include "czero/discovery.h"
#include "czero/server.h"

static int load(const char *yaml, cz_rest_conf_t *c, cz_diag_t *d)
{
    return cz_conf_load_string("svc.yaml", yaml, strlen(yaml), cz_rest_conf_fields, c, d);
}

Test(etcd_conf, etcd_block_loads_hosts_key_id_and_ttl)
{
    cz_rest_conf_t c;
    cz_diag_t d = {0};
    const char *y = "Name: demo\nPort: 8888\nEtcd:\n  Hosts: [127.0.0.1:2379, 127.0.0.1:2380]\n"
                    "  Key: demo.api\n  ID: 7\n  TTL: 5\n";
    cr_assert_eq(load(y, &c, &d), 0, "%s: %s", d.key, d.msg);
    cr_assert_eq(c.etcd.hosts.n, 2);
    cr_assert_str_eq(c.etcd.hosts.items[1], "127.0.0.1:2380");
    cr_assert_str_eq(c.etcd.key, "demo.api");
    cr_assert_eq(c.etcd.id, 7);
    cr_assert_eq(c.etcd.ttl_s, 5);
    cr_assert_eq(cz_etcd_conf_check(&c.etcd), 0);
    cz_conf_free(cz_rest_conf_fields, &c);
}

Test(etcd_conf, absent_etcd_means_no_registration)
{
    cz_rest_conf_t c;
    cz_diag_t d = {0};
    cr_assert_eq(load("Name: demo\nPort: 8888\n", &c, &d), 0, "%s: %s", d.key, d.msg);
    cr_assert_eq(c.etcd.hosts.n, 0);
    cr_assert_null(c.etcd.key);
    cr_assert_eq(c.etcd.ttl_s, 10, "go-zero's TimeToLive");
    cr_assert_eq(cz_etcd_conf_check(&c.etcd), CZ_EINVAL_CONF);
    cz_conf_free(cz_rest_conf_fields, &c);
}

Test(etcd_conf, go_zero_tls_and_auth_keys_load)
{
    cz_rest_conf_t c;
    cz_diag_t d = {0};
    const char *y = "Name: demo\nPort: 8888\nEtcd:\n  Hosts: [\"https://etcd:2379\"]\n  Key: k\n"
                    "  User: root\n  Pass: pw\n  CertFile: c.pem\n  CertKeyFile: c.key\n"
                    "  CACertFile: ca.pem\n  InsecureSkipVerify: true\n";
    cr_assert_eq(load(y, &c, &d), 0, "%s: %s", d.key, d.msg);
    cr_assert_str_eq(c.etcd.user, "root");
    cr_assert_str_eq(c.etcd.pass, "pw");
    cr_assert_str_eq(c.etcd.tls.cert_file, "c.pem");
    cr_assert_str_eq(c.etcd.tls.key_file, "c.key");
    cr_assert_str_eq(c.etcd.tls.ca_file, "ca.pem");
    cr_assert(c.etcd.tls.insecure_skip_verify);
    cr_assert_eq(cz_etcd_conf_check(&c.etcd), 0);
    free(c.etcd.pass);
    c.etcd.pass = NULL; /* User without Pass: go-zero's HasAccount needs both */
    cr_assert_eq(cz_etcd_conf_check(&c.etcd), CZ_EINVAL_CONF);
    cz_conf_free(cz_rest_conf_fields, &c);
}

Test(etcd_conf, unsupported_keys_are_errors_with_a_line)
{
    cz_rest_conf_t c;
    cz_diag_t d = {0};
    const char *y = "Name: demo\nPort: 8888\nEtcd:\n  Hosts: [127.0.0.1:2379]\n  Key: k\n"
                    "  AutoSyncInterval: 1m\n";
    cr_assert_eq(load(y, &c, &d), CZ_EINVAL_CONF);
    cr_assert_eq(d.line, 6);
    cr_assert(strstr(d.key, "AutoSyncInterval") != NULL, "key %s", d.key);
    const char *ttl = "Name: demo\nPort: 8888\nEtcd:\n  Hosts: [h:1]\n  Key: k\n  TTL: 0\n";
    cr_assert_eq(load(ttl, &c, &d), CZ_EINVAL_CONF);
    cr_assert_eq(d.line, 6);
}

Test(etcd_conf, server_refuses_to_start_with_half_an_etcd_block)
{
    cz_rest_conf_t c;
    cz_diag_t d = {0};
    cr_assert_eq(load("Name: demo\nHost: 127.0.0.1\nPort: 1\nEtcd:\n  Key: demo.api\n", &c, &d), 0);
    cz_server_t *s = cz_server_new(&c, &d);
    cr_assert_not_null(s);
    cr_assert_eq(cz_server_start(s), CZ_EINVAL_CONF, "a service meant to register started without");
    cz_server_free(s);
    cz_conf_free(cz_rest_conf_fields, &c);
}
