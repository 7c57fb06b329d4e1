/* SPDX-License-Identifier: MIT
 *
 * etcd_proto.c: the etcd v3 JSON-gateway protocol as pure functions.
 *
 * etcd 3.4's grpc-gateway speaks the v3 gRPC messages as JSON: bytes fields (keys, values) are
 * standard base64, int64 fields are JSON strings, zero values are omitted (a PUT event has no
 * "type", an expired lease's keep-alive answer has no "TTL"), and a streaming answer (/v3/watch)
 * is a chunked body of JSON objects separated by newlines. Nothing here does I/O, so the state
 * machines in etcd_sub.c / etcd_pub.c are driven by tested parsing, and fuzz_etcd feeds it junk.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "czero/codec.h"
#include "discov_int.h"
#include "internal.h"

/* ---- the key/value set ---- */

static long kv_find(const cz__kvset_t *s, const char *key, size_t kn, int *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *k = s->items[mid].key;
        size_t mn = strlen(k);
        int c = memcmp(k, key, mn < kn ? mn : kn);
        if (c == 0)
            c = mn < kn ? -1 : mn > kn ? 1 : 0;
        if (c == 0) {
            *found = 1;
            return (long)mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return (long)lo;
}

int cz__kvset_put(cz__kvset_t *s, const char *key, size_t kn, const char *val, size_t vn)
{
    int found;
    size_t i = (size_t)kv_find(s, key, kn, &found);
    if (found) {
        char *old = s->items[i].value;
        if (strlen(old) == vn && memcmp(old, val, vn) == 0)
            return 0;
        char *v = strndup(val, vn);
        if (!v)
            return CZ_ENOMEM;
        free(old);
        s->items[i].value = v;
        return 1;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        cz__kv_t *it = realloc(s->items, cap * sizeof *it);
        if (!it)
            return CZ_ENOMEM;
        s->items = it;
        s->cap = cap;
    }
    char *k = strndup(key, kn), *v = strndup(val, vn);
    if (!k || !v) {
        free(k);
        free(v);
        return CZ_ENOMEM;
    }
    memmove(&s->items[i + 1], &s->items[i], (s->n - i) * sizeof *s->items);
    s->items[i] = (cz__kv_t){k, v};
    s->n++;
    return 1;
}

int cz__kvset_del(cz__kvset_t *s, const char *key, size_t kn)
{
    int found;
    size_t i = (size_t)kv_find(s, key, kn, &found);
    if (!found)
        return 0;
    free(s->items[i].key);
    free(s->items[i].value);
    memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof *s->items);
    s->n--;
    return 1;
}

void cz__kvset_free(cz__kvset_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].key);
        free(s->items[i].value);
    }
    free(s->items);
    *s = (cz__kvset_t){0};
}

int cz__kvset_equal(const cz__kvset_t *a, const cz__kvset_t *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].key, b->items[i].key) ||
            strcmp(a->items[i].value, b->items[i].value))
            return 0;
    return 1;
}

static int ep_cmp(const void *x, const void *y)
{
    return strcmp(((const cz_endpoint_t *)x)->addr, ((const cz_endpoint_t *)y)->addr);
}

int cz__kvset_endpoints(const cz__kvset_t *s, cz_endpoint_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (s->n == 0)
        return 0;
    cz_endpoint_t *eps = malloc(s->n * sizeof *eps);
    if (!eps)
        return CZ_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].value[0]) /* an empty value is no address */
            eps[m++] = (cz_endpoint_t){s->items[i].value, 1};
    qsort(eps, m, sizeof *eps, ep_cmp);
    size_t w = 0; /* two keys holding one address are one node (go-zero's container dedups) */
    for (size_t i = 0; i < m; i++)
        if (w == 0 || strcmp(eps[w - 1].addr, eps[i].addr) != 0)
            eps[w++] = eps[i];
    if (w == 0) {
        free(eps);
        return 0;
    }
    *out = eps;
    *n = w;
    return 0;
}

/* ---- request bodies ---- */

static char *b64(const void *p, size_t n)
{
    char *o = malloc(cz_base64_encoded_len(n, 0) + 1);
    if (o)
        cz_base64_encode(o, p, n, 0);
    return o;
}

char *cz__etcd_prefix(const char *key)
{
    size_t n = strlen(key);
    char *p = malloc(n + 2);
    if (!p)
        return NULL;
    memcpy(p, key, n);
    p[n] = '/';
    p[n + 1] = 0;
    return p;
}

/* etcd clientv3.GetPrefixRangeEnd: the prefix with its last byte below 0xff incremented and the
 * rest cut; all 0xff (never for "key/") means "to the end", encoded as "\0". */
static char *range_end_b64(const char *prefix)
{
    size_t n = strlen(prefix);
    unsigned char *e = malloc(n + 1);
    if (!e)
        return NULL;
    memcpy(e, prefix, n);
    size_t len = 0;
    for (size_t i = n; i > 0; i--) {
        if (e[i - 1] < 0xff) {
            e[i - 1]++;
            len = i;
            break;
        }
    }
    if (len == 0) {
        e[0] = 0;
        len = 1;
    }
    char *o = b64(e, len);
    free(e);
    return o;
}

static char *dump(json_t *j)
{
    if (!j)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

char *cz__etcd_range_body(const char *prefix)
{
    char *k = b64(prefix, strlen(prefix)), *e = range_end_b64(prefix), *out = NULL;
    if (k && e)
        out = dump(json_pack("{s:s,s:s}", "key", k, "range_end", e));
    free(k);
    free(e);
    return out;
}

char *cz__etcd_watch_body(const char *prefix, int64_t start_revision)
{
    char *k = b64(prefix, strlen(prefix)), *e = range_end_b64(prefix), *out = NULL;
    char rev[24];
    snprintf(rev, sizeof rev, "%" PRId64, start_revision);
    if (k && e)
        out = dump(json_pack("{s:{s:s,s:s,s:s}}", "create_request", "key", k, "range_end", e,
                             "start_revision", rev));
    free(k);
    free(e);
    return out;
}

char *cz__etcd_grant_body(int64_t ttl_s)
{
    return dump(json_pack("{s:I}", "TTL", (json_int_t)ttl_s));
}

char *cz__etcd_put_body(const char *key, const char *value, int64_t lease)
{
    char *k = b64(key, strlen(key)), *v = b64(value, strlen(value)), *out = NULL;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, lease);
    if (k && v)
        out = dump(json_pack("{s:s,s:s,s:s}", "key", k, "value", v, "lease", id));
    free(k);
    free(v);
    return out;
}

char *cz__etcd_auth_body(const char *user, const char *pass)
{
    return dump(json_pack("{s:s,s:s}", "name", user, "password", pass));
}

char *cz__etcd_lease_body(int64_t lease)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, lease);
    return dump(json_pack("{s:s}", "ID", id));
}

/* ---- responses ---- */

/* int64 fields come as JSON strings; accept numbers too. Absent = 0 (proto3 default). */
static int get_i64(const json_t *obj, const char *name, int64_t *out)
{
    *out = 0;
    json_t *v = json_object_get(obj, name);
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return CZ_EPARSE;
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return CZ_EPARSE;
    *out = (int64_t)x;
    return 0;
}

/* A base64 bytes field, decoded into a malloc'd NUL-terminated buffer. Absent = "". */
static int get_bytes(const json_t *obj, const char *name, char **out, size_t *n)
{
    json_t *v = json_object_get(obj, name);
    const char *s = v ? json_string_value(v) : "";
    if (!s)
        return CZ_EPARSE;
    size_t sn = strlen(s);
    char *o = malloc(cz_base64_decoded_max(sn) + 1);
    if (!o)
        return CZ_ENOMEM;
    if (cz_base64_decode(o, n, s, sn, 0) != 0) {
        free(o);
        return CZ_EPARSE;
    }
    o[*n] = 0;
    if (memchr(o, 0, *n)) { /* NUL inside a key or address: not something we can hold */
        free(o);
        return CZ_EPARSE;
    }
    *out = o;
    return 0;
}

static json_t *load(const char *json, size_t n)
{
    json_t *j = json_loadb(json, n, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int kv_apply(cz__kvset_t *set, const json_t *kv, int del, int *changed)
{
    if (!json_is_object(kv))
        return CZ_EPARSE;
    char *k = NULL, *v = NULL;
    size_t kn = 0, vn = 0;
    int rc = get_bytes(kv, "key", &k, &kn);
    if (rc == 0 && !del)
        rc = get_bytes(kv, "value", &v, &vn);
    if (rc == 0) {
        rc = del ? cz__kvset_del(set, k, kn) : cz__kvset_put(set, k, kn, v, vn);
        if (rc > 0)
            *changed = 1;
        rc = rc < 0 ? rc : 0;
    }
    free(k);
    free(v);
    return rc;
}

int cz__etcd_parse_range(const char *json, size_t n, cz__kvset_t *out, int64_t *revision)
{
    json_t *j = load(json, n);
    if (!j)
        return CZ_EPARSE;
    int rc = CZ_EPARSE;
    json_t *hdr = json_object_get(j, "header"), *kvs = json_object_get(j, "kvs");
    cz__kvset_t fresh = {0};
    if (!json_is_object(hdr) || (kvs && !json_is_array(kvs)) ||
        get_i64(hdr, "revision", revision) != 0)
        goto out;
    size_t i;
    json_t *kv;
    int changed = 0;
    rc = 0;
    json_array_foreach(kvs, i, kv) {
        if ((rc = kv_apply(&fresh, kv, 0, &changed)) != 0)
            goto out;
    }
    cz__kvset_free(out);
    *out = fresh;
    fresh = (cz__kvset_t){0};
out:
    cz__kvset_free(&fresh);
    json_decref(j);
    return rc;
}

int cz__etcd_parse_grant(const char *json, size_t n, int64_t *id, int64_t *ttl)
{
    json_t *j = load(json, n);
    if (!j)
        return CZ_EPARSE;
    int rc = CZ_EPARSE;
    if (json_object_get(j, "header") && get_i64(j, "ID", id) == 0 &&
        get_i64(j, "TTL", ttl) == 0 && *id != 0 && *ttl > 0)
        rc = 0;
    json_decref(j);
    return rc;
}

char *cz__etcd_parse_token(const char *json, size_t n)
{
    json_t *j = load(json, n);
    if (!j)
        return NULL;
    json_t *t = json_object_get(j, "token");
    const char *s = json_is_string(t) ? json_string_value(t) : NULL;
    char *out = s && *s && !cz__has_line_break(s, strlen(s), true) ? strdup(s) : NULL;
    json_decref(j);
    return out;
}

int cz__etcd_parse_keepalive(const char *json, size_t n, int64_t *ttl)
{
    json_t *j = load(json, n);
    if (!j)
        return CZ_EPARSE;
    json_t *r = json_object_get(j, "result");
    int rc = json_is_object(r) && get_i64(r, "TTL", ttl) == 0 ? 0 : CZ_EPARSE;
    json_decref(j);
    return rc;
}

int cz__etcd_parse_put(const char *json, size_t n)
{
    json_t *j = load(json, n);
    if (!j)
        return CZ_EPARSE;
    int64_t code = 0;
    int rc = 0;
    if (json_object_get(j, "error") || json_object_get(j, "code")) {
        get_i64(j, "code", &code);
        rc = code == 5 ? CZ_ENOTFOUND : CZ_EPARSE; /* gRPC NotFound: "requested lease not found" */
    } else if (!json_object_get(j, "header")) {
        rc = CZ_EPARSE;
    }
    json_decref(j);
    return rc;
}

int cz__etcd_parse_watch(const char *json, size_t n, cz__kvset_t *set, cz__watch_msg_t *msg)
{
    *msg = (cz__watch_msg_t){0};
    json_t *j = load(json, n);
    if (!j)
        return CZ_EPARSE;
    int rc = CZ_EPARSE;
    json_t *r = json_object_get(j, "result");
    if (!json_is_object(r)) {
        if (json_object_get(j, "error")) /* the gateway ends a stream this way (etcd stopping) */
            rc = CZ_ECLOSED;
        goto out;
    }
    json_t *hdr = json_object_get(r, "header");
    if (hdr && (!json_is_object(hdr) || get_i64(hdr, "revision", &msg->revision)))
        goto out;
    if (get_i64(r, "compact_revision", &msg->compact_revision))
        goto out;
    msg->created = json_is_true(json_object_get(r, "created"));
    msg->canceled = json_is_true(json_object_get(r, "canceled"));
    json_t *evs = json_object_get(r, "events");
    if (evs && !json_is_array(evs))
        goto out;
    size_t i;
    json_t *ev;
    rc = 0;
    json_array_foreach(evs, i, ev) {
        json_t *type = json_object_get(ev, "type");
        const char *t = type ? json_string_value(type) : "PUT";
        if (!t || (strcmp(t, "PUT") && strcmp(t, "DELETE"))) {
            rc = CZ_EPARSE;
            break;
        }
        if ((rc = kv_apply(set, json_object_get(ev, "kv"), t[0] == 'D', &msg->changed)) != 0)
            break;
    }
out:
    json_decref(j);
    return rc;
}

long cz__json_frame(const char *buf, size_t n, size_t *skip)
{
    size_t i = 0;
    while (i < n && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
        i++;
    *skip = i;
    if (i == n)
        return 0;
    if (buf[i] != '{')
        return CZ_EPARSE;
    int depth = 0, in_str = 0;
    for (size_t j = i; j < n; j++) {
        char c = buf[j];
        if (in_str) {
            if (c == '\\')
                j++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return (long)(j + 1 - i);
            if (depth < 0)
                return CZ_EPARSE;
        }
    }
    return 0;
}

uint64_t cz__backoff_next(uint64_t cur, uint64_t min, uint64_t max)
{
    if (min == 0)
        min = 1;
    if (max < min)
        max = min;
    if (cur < min)
        return min;
    return cur >= max / 2 ? max : cur * 2;
}

char *cz__etcd_host(const char *url)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strncmp(p, "https://", 8) == 0) /* TLS is the transport's (cz__etcd_t.tls) */
        p += 8;
    size_t n = strcspn(p, "/");
    return strndup(p, n);
}
