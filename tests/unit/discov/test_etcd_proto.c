/* SPDX-License-Identifier: MIT
 *
 * Tests for the etcd v3 JSON-gateway protocol functions (src/discov/etcd_proto.c): request
 * bodies etcd accepts (base64 keys, prefix range ends, string int64s), range / grant /
 * keep-alive / put answers as etcd 3.4 sends them (captured from a real server), watch events
 * applied to the node set, stream framing of the chunked watch body, and the backoff sequence.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <jansson.h>
#include "discov/discov_int.h"

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    cr_assert_not_null(j, "not JSON: %s", s);
    return j;
}

static const char *str_at(json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

Test(etcd_proto, prefix_and_range_end_cover_exactly_the_key_directory)
{
    char *p = cz__etcd_prefix("demo.rpc");
    cr_assert_str_eq(p, "demo.rpc/");
    char *body = cz__etcd_range_body(p);
    json_t *j = parse(body);
    cr_assert_str_eq(str_at(j, "key"), "ZGVtby5ycGMv");       /* base64("demo.rpc/") */
    cr_assert_str_eq(str_at(j, "range_end"), "ZGVtby5ycGMw"); /* base64("demo.rpc0") */
    json_decref(j);
    free(body);
    body = cz__etcd_watch_body(p, 42);
    j = parse(body);
    json_t *cr = json_object_get(j, "create_request");
    cr_assert_str_eq(str_at(cr, "key"), "ZGVtby5ycGMv");
    cr_assert_str_eq(str_at(cr, "range_end"), "ZGVtby5ycGMw");
    cr_assert_str_eq(str_at(cr, "start_revision"), "42");
    json_decref(j);
    free(body);
    free(p);
}

Test(etcd_proto, lease_bodies_carry_ids_as_strings)
{
    char *b = cz__etcd_grant_body(10);
    json_t *j = parse(b);
    cr_assert_eq(json_integer_value(json_object_get(j, "TTL")), 10);
    json_decref(j);
    free(b);
    b = cz__etcd_put_body("svc/7587", "127.0.0.1:8001", 7587886157454491941LL);
    j = parse(b);
    cr_assert_str_eq(str_at(j, "key"), "c3ZjLzc1ODc=");
    cr_assert_str_eq(str_at(j, "value"), "MTI3LjAuMC4xOjgwMDE=");
    cr_assert_str_eq(str_at(j, "lease"), "7587886157454491941");
    json_decref(j);
    free(b);
    b = cz__etcd_lease_body(-5); /* etcd lease ids are int64 and can be any value */
    j = parse(b);
    cr_assert_str_eq(str_at(j, "ID"), "-5");
    json_decref(j);
    free(b);
}

Test(etcd_proto, range_answer_replaces_the_set_and_gives_the_revision)
{
    cz__kvset_t set = {0};
    cz__kvset_put(&set, "old", 3, "x", 1);
    const char *ans = "{\"header\":{\"revision\":\"17\"},\"kvs\":["
                      "{\"key\":\"c3ZjL2I=\",\"create_revision\":\"5\",\"mod_revision\":\"5\","
                      "\"version\":\"1\",\"value\":\"MTI3LjAuMC4xOjgwMDI=\",\"lease\":\"9\"},"
                      "{\"key\":\"c3ZjL2E=\",\"value\":\"MTI3LjAuMC4xOjgwMDE=\"}],\"count\":\"2\"}";
    int64_t rev = 0;
    cr_assert_eq(cz__etcd_parse_range(ans, strlen(ans), &set, &rev), 0);
    cr_assert_eq(rev, 17);
    cr_assert_eq(set.n, 2);
    cr_assert_str_eq(set.items[0].key, "svc/a"); /* sorted by key */
    cr_assert_str_eq(set.items[0].value, "127.0.0.1:8001");
    cr_assert_str_eq(set.items[1].value, "127.0.0.1:8002");
    /* an empty directory: no "kvs" at all (proto3 omits empty repeated fields) */
    const char *empty = "{\"header\":{\"revision\":\"18\"}}";
    cr_assert_eq(cz__etcd_parse_range(empty, strlen(empty), &set, &rev), 0);
    cr_assert_eq(set.n, 0);
    cr_assert_eq(rev, 18);
    cz__kvset_free(&set);
}

Test(etcd_proto, bad_range_answers_leave_the_set_alone)
{
    cz__kvset_t set = {0};
    cz__kvset_put(&set, "svc/a", 5, "10.0.0.1:80", 11);
    int64_t rev = 0;
    const char *bad[] = {
        "{\"error\":\"etcdserver: request timed out\",\"code\":14}",
        "{\"header\":{\"revision\":\"x\"}}",
        "{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":\"!!\",\"value\":\"\"}]}",
        "{\"header\":{\"revision\":\"3\"},\"kvs\":{}}",
        "[1,2]",
        "{\"header\":{\"revision\":\"3\"},",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(cz__etcd_parse_range(bad[i], strlen(bad[i]), &set, &rev), CZ_EPARSE, "%zu",
                     i);
    cr_assert_eq(set.n, 1);
    cr_assert_str_eq(set.items[0].value, "10.0.0.1:80");
    cz__kvset_free(&set);
}

Test(etcd_proto, grant_keepalive_and_put_answers)
{
    const char *grant = "{\"header\":{\"revision\":\"1\"},\"ID\":\"4111120234685497605\","
                        "\"TTL\":\"5\"}";
    int64_t id = 0, ttl = 0;
    cr_assert_eq(cz__etcd_parse_grant(grant, strlen(grant), &id, &ttl), 0);
    cr_assert_eq(id, 4111120234685497605LL);
    cr_assert_eq(ttl, 5);
    const char *gerr = "{\"error\":\"etcdserver: too many requests\",\"code\":8}";
    cr_assert_eq(cz__etcd_parse_grant(gerr, strlen(gerr), &id, &ttl), CZ_EPARSE);

    const char *alive =
        "{\"result\":{\"header\":{\"revision\":\"1\"},\"ID\":\"41\",\"TTL\":\"5\"}}";
    cr_assert_eq(cz__etcd_parse_keepalive(alive, strlen(alive), &ttl), 0);
    cr_assert_eq(ttl, 5);
    /* what etcd 3.4 answers for a lease it does not know: no TTL */
    const char *gone = "{\"result\":{\"header\":{\"revision\":\"1\"},\"ID\":\"123\"}}";
    cr_assert_eq(cz__etcd_parse_keepalive(gone, strlen(gone), &ttl), 0);
    cr_assert_eq(ttl, 0);
    cr_assert_eq(cz__etcd_parse_keepalive(gerr, strlen(gerr), &ttl), CZ_EPARSE);

    const char *put = "{\"header\":{\"revision\":\"7\"}}";
    cr_assert_eq(cz__etcd_parse_put(put, strlen(put)), 0);
    const char *nolease = "{\"error\":\"etcdserver: requested lease not found\","
                          "\"message\":\"etcdserver: requested lease not found\",\"code\":5}";
    cr_assert_eq(cz__etcd_parse_put(nolease, strlen(nolease)), CZ_ENOTFOUND);
    cr_assert_eq(cz__etcd_parse_put(gerr, strlen(gerr)), CZ_EPARSE);
}

Test(etcd_proto, watch_events_put_and_delete_nodes)
{
    cz__kvset_t set = {0};
    cz__watch_msg_t m;
    const char *created = "{\"result\":{\"header\":{\"revision\":\"1\"},\"created\":true}}";
    cr_assert_eq(cz__etcd_parse_watch(created, strlen(created), &set, &m), 0);
    cr_assert(m.created);
    cr_assert_not(m.changed);
    /* a PUT has no "type" (proto3 zero value); captured from etcd 3.4 */
    const char *put = "{\"result\":{\"header\":{\"revision\":\"2\"},\"events\":[{\"kv\":{\"key\":"
                      "\"c3ZjL2I=\",\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":"
                      "\"1\",\"value\":\"MTI3LjAuMC4xOjE=\"}}]}}";
    cr_assert_eq(cz__etcd_parse_watch(put, strlen(put), &set, &m), 0);
    cr_assert(m.changed);
    cr_assert_eq(m.revision, 2);
    cr_assert_eq(set.n, 1);
    cr_assert_str_eq(set.items[0].value, "127.0.0.1:1");
    /* the same PUT again (a keep-alive does not emit one, but a re-put does): no change */
    cr_assert_eq(cz__etcd_parse_watch(put, strlen(put), &set, &m), 0);
    cr_assert_not(m.changed);
    const char *del = "{\"result\":{\"header\":{\"revision\":\"3\"},\"events\":[{\"type\":"
                      "\"DELETE\",\"kv\":{\"key\":\"c3ZjL2I=\",\"mod_revision\":\"3\"}}]}}";
    cr_assert_eq(cz__etcd_parse_watch(del, strlen(del), &set, &m), 0);
    cr_assert(m.changed);
    cr_assert_eq(set.n, 0);
    const char *compacted = "{\"result\":{\"header\":{\"revision\":\"9\"},\"compact_revision\":"
                            "\"5\",\"canceled\":true}}";
    cr_assert_eq(cz__etcd_parse_watch(compacted, strlen(compacted), &set, &m), 0);
    cr_assert_eq(m.compact_revision, 5);
    cr_assert(m.canceled);
    const char *weird = "{\"result\":{\"events\":[{\"type\":\"NOPE\",\"kv\":{}}]}}";
    cr_assert_eq(cz__etcd_parse_watch(weird, strlen(weird), &set, &m), CZ_EPARSE);
    const char *err = "{\"error\":{\"grpc_code\":14,\"message\":\"unavailable\"}}";
    cr_assert_eq(cz__etcd_parse_watch(err, strlen(err), &set, &m), CZ_ECLOSED);
    cr_assert_eq(cz__etcd_parse_watch("{\"x\":1}", 7, &set, &m), CZ_EPARSE);
    cz__kvset_free(&set);
}

Test(etcd_proto, endpoints_are_distinct_sorted_values)
{
    cz__kvset_t set = {0};
    cz__kvset_put(&set, "s/3", 3, "10.0.0.2:80", 11);
    cz__kvset_put(&set, "s/1", 3, "10.0.0.1:80", 11);
    cz__kvset_put(&set, "s/2", 3, "10.0.0.2:80", 11); /* two registrations of one address */
    cz__kvset_put(&set, "s/4", 3, "", 0);             /* no address: not a node */
    cz_endpoint_t *eps;
    size_t n;
    cr_assert_eq(cz__kvset_endpoints(&set, &eps, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(eps[0].addr, "10.0.0.1:80");
    cr_assert_str_eq(eps[1].addr, "10.0.0.2:80");
    cr_assert_eq(eps[0].weight, 1);
    free(eps);
    cr_assert_eq(cz__kvset_del(&set, "s/9", 3), 0);
    cr_assert_eq(cz__kvset_del(&set, "s/1", 3), 1);
    cr_assert_eq(cz__kvset_put(&set, "s/3", 3, "10.0.0.2:80", 11), 0);
    cr_assert_eq(cz__kvset_put(&set, "s/3", 3, "10.0.0.3:80", 11), 1);
    cz__kvset_free(&set);
}

Test(etcd_proto, framing_splits_the_watch_stream_into_objects)
{
    const char *s = "{\"a\":\"}{\\\"\"}\n{\"b\":[1,{\"c\":2}]}\n{\"d\":";
    size_t n = strlen(s), skip;
    long len = cz__json_frame(s, n, &skip);
    cr_assert_eq(skip, 0);
    cr_assert_eq(len, (long)strlen("{\"a\":\"}{\\\"\"}"));
    size_t off = (size_t)len;
    len = cz__json_frame(s + off, n - off, &skip);
    cr_assert_eq(skip, 1);
    cr_assert_eq(len, (long)strlen("{\"b\":[1,{\"c\":2}]}"));
    off += skip + (size_t)len;
    cr_assert_eq(cz__json_frame(s + off, n - off, &skip), 0); /* incomplete: wait for more */
    cr_assert_eq(cz__json_frame("\r\n  ", 4, &skip), 0);
    cr_assert_eq(skip, 4);
    cr_assert_eq(cz__json_frame("x{}", 3, &skip), CZ_EPARSE);
    /* the framer only balances brackets; a mismatched object still fails to parse */
    cr_assert_eq(cz__json_frame("{]]", 3, &skip), 2);
    cz__kvset_t set = {0};
    cz__watch_msg_t m;
    cr_assert_eq(cz__etcd_parse_watch("{]", 2, &set, &m), CZ_EPARSE);
}

Test(etcd_proto, backoff_doubles_from_min_and_caps)
{
    uint64_t b = 0, seq[8];
    for (int i = 0; i < 8; i++)
        seq[i] = b = cz__backoff_next(b, 200, 3000);
    uint64_t want[8] = {200, 400, 800, 1600, 3000, 3000, 3000, 3000};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(seq[i], want[i], "step %d: %llu", i, (unsigned long long)seq[i]);
    cr_assert_eq(cz__backoff_next(0, 0, 0), 1); /* never a zero (busy) retry */
}

Test(etcd_proto, hosts_accept_urls)
{
    char *h = cz__etcd_host("http://127.0.0.1:2379/");
    cr_assert_str_eq(h, "127.0.0.1:2379");
    free(h);
    h = cz__etcd_host("etcd-0:2379");
    cr_assert_str_eq(h, "etcd-0:2379");
    free(h);
}

Test(etcd_proto, conf_check_needs_hosts_and_key)
{
    char *hosts[] = {"127.0.0.1:2379"};
    cz_etcd_conf_t c = {.hosts = {hosts, 1}, .key = "svc"};
    cr_assert_eq(cz_etcd_conf_check(&c), 0);
    c.key = "";
    cr_assert_eq(cz_etcd_conf_check(&c), CZ_EINVAL_CONF);
    c.key = "svc";
    char *tls[] = {"https://127.0.0.1:2379", "127.0.0.1:2380"};
    c.hosts.items = tls;
    cr_assert_eq(cz_etcd_conf_check(&c), 0, "https:// hosts: TLS");
    c.hosts.n = 2;
    cr_assert_eq(cz_etcd_conf_check(&c), CZ_EINVAL_CONF, "one scheme for all hosts");
    c.hosts.n = 1;
    c.tls.cert_file = "c.pem";
    cr_assert_eq(cz_etcd_conf_check(&c), CZ_EINVAL_CONF, "CertFile without CertKeyFile");
    c.tls.cert_file = NULL;
    c.hosts.items = hosts;
    c.hosts.n = 0;
    cr_assert_eq(cz_etcd_conf_check(&c), CZ_EINVAL_CONF);
    cr_assert_null(cz_discovery_etcd(&c));
}
