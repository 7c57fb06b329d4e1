/* SPDX-License-Identifier: MIT
 *
 * discov_int.h: module-private parts of service discovery (src/discov/).
 *
 * The etcd v3 JSON-gateway protocol is kept as pure functions (request bodies, response and
 * watch-event parsing, stream framing, the key/value set, backoff) so it is unit-tested and
 * fuzzed without a server; etcd_sub.c, etcd_pub.c and dns.c are the loop-driven state machines
 * on top. server_reg.c registers a server whose configuration has an Etcd block, as a server
 * lifecycle hook (cz_etcd_server_hook, discovery.h).
 */
#ifndef CZ_DISCOV_INT_H
#define CZ_DISCOV_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "czero/client.h"
#include "czero/discovery.h"

/* ---- the discovery vtable (discovery.c) ---- */
typedef struct cz__discov_ops {
    int (*start)(cz_discovery_t *d);
    /* stop timers/calls and free d; call cz__discov_freed(d) when the memory is gone */
    void (*stop)(cz_discovery_t *d);
} cz__discov_ops_t;

struct cz_discovery {
    const cz__discov_ops_t *ops;
    uv_loop_t *loop;
    cz_endpoints_fn fn;
    void *ud;
    void (*done)(void *ud);
    void *done_ud;
    int started;
    int stopping;
};
/* After a source's stop has released everything but the base: runs done, frees d. */
void cz__discov_freed(cz_discovery_t *d);
/* Report a set (sources call it on the loop; suppressed once stopping). */
void cz__discov_report(cz_discovery_t *d, const cz_endpoint_t *eps, size_t n);

/* ---- key/value set: etcd's view of "Key/" ---- */
typedef struct cz__kv {
    char *key, *value;
} cz__kv_t;
typedef struct cz__kvset {
    cz__kv_t *items; /* sorted by key */
    size_t n, cap;
} cz__kvset_t;

/* 1 = changed (added or value differs), 0 = same, CZ_ENOMEM. */
int cz__kvset_put(cz__kvset_t *s, const char *key, size_t kn, const char *val, size_t vn);
/* 1 = removed, 0 = absent. */
int cz__kvset_del(cz__kvset_t *s, const char *key, size_t kn);
void cz__kvset_free(cz__kvset_t *s);
/* 1 when both hold the same keys and values. */
int cz__kvset_equal(const cz__kvset_t *a, const cz__kvset_t *b);
/* The distinct values, sorted, as endpoints of weight 1 pointing into s (valid until s changes).
 * *out is malloc'd (NULL when n is 0). 0 or CZ_ENOMEM. */
int cz__kvset_endpoints(const cz__kvset_t *s, cz_endpoint_t **out, size_t *n);

/* ---- etcd JSON gateway bodies (malloc'd NUL-terminated JSON; NULL on ENOMEM) ---- */
/* "<key>/" and the range_end that ends the prefix (etcd's GetPrefixRangeEnd). */
char *cz__etcd_prefix(const char *key);
char *cz__etcd_range_body(const char *prefix);
char *cz__etcd_watch_body(const char *prefix, int64_t start_revision);
char *cz__etcd_grant_body(int64_t ttl_s);
char *cz__etcd_put_body(const char *key, const char *value, int64_t lease);
char *cz__etcd_lease_body(int64_t lease);
char *cz__etcd_auth_body(const char *user, const char *pass); /* /v3/auth/authenticate */ /* keepalive and revoke: {"ID":"<id>"} */

/* ---- etcd JSON gateway responses ---- */
/* A /v3/kv/range answer: replace *out with its kvs, *revision = header.revision.
 * 0, CZ_EPARSE (not a range answer, an error object), CZ_ENOMEM. */
int cz__etcd_parse_range(const char *json, size_t n, cz__kvset_t *out, int64_t *revision);
/* /v3/lease/grant: 0 with *id and *ttl, or CZ_EPARSE. */
int cz__etcd_parse_grant(const char *json, size_t n, int64_t *id, int64_t *ttl);
/* /v3/lease/keepalive: 0 with *ttl (0 = the lease is gone), or CZ_EPARSE. */
/* /v3/auth/authenticate: the token (malloc'd), NULL when absent or malformed. */
char *cz__etcd_parse_token(const char *json, size_t n);
int cz__etcd_parse_keepalive(const char *json, size_t n, int64_t *ttl);
/* /v3/kv/put: 0, CZ_ENOTFOUND (the lease is gone: etcd code 5), CZ_EPARSE. */
int cz__etcd_parse_put(const char *json, size_t n);

typedef struct cz__watch_msg {
    int created, canceled;
    int64_t revision;         /* header.revision */
    int64_t compact_revision; /* > 0: the start revision was compacted, range again */
    int changed;              /* the events changed the set */
} cz__watch_msg_t;
/* One /v3/watch stream message: apply its PUT/DELETE events to set. 0, CZ_ECLOSED (an error
 * object: the stream is over), CZ_EPARSE, CZ_ENOMEM. */
int cz__etcd_parse_watch(const char *json, size_t n, cz__kvset_t *set, cz__watch_msg_t *msg);

/* Length of the first complete top-level JSON object in buf after *skip bytes of leading
 * whitespace, or 0 when it is incomplete. CZ_EPARSE when buf starts with something else. */
long cz__json_frame(const char *buf, size_t n, size_t *skip);

/* The next retry delay: min when cur is 0, else doubled, capped at max. */
uint64_t cz__backoff_next(uint64_t cur, uint64_t min, uint64_t max);

/* "http://h:p/", "https://h:p/" or "h:p" -> "h:p" (malloc'd); NULL on ENOMEM. */
char *cz__etcd_host(const char *url);

/* ---- the shared etcd transport: POST a JSON body to one of the hosts ---- */
typedef struct cz__etcd {
    cz_client_t *client;
    char **hosts;
    size_t nhosts, cur;
    cz_etcd_opts_t opts;
    cz_tls_ctx_t *tls;        /* https:// hosts or the TLS keys: every request runs TLS */
    char why[200];            /* OpenSSL's reason of the last CZ_ETLS (cz__etcd_note) */
    char *user, *pass;        /* User/Pass: etcd auth (both set), else NULL */
    char *token;              /* the simple/JWT token of /v3/auth/authenticate, NULL = none yet */
} cz__etcd_t;
/* Copy the hosts (normalised) and options (NULL = defaults) and build the TLS context; no I/O.
 * 0, CZ_ENOMEM, or CZ_EINVAL_CONF (a TLS file that cannot be used: logged). */
int cz__etcd_setup(cz__etcd_t *e, const cz_etcd_conf_t *conf, const cz_etcd_opts_t *opts);
/* Create the HTTP client on loop (loop thread). 0 or CZ_ENOMEM. */
int cz__etcd_open(cz__etcd_t *e, uv_loop_t *loop);
/* Free the hosts and close the client if open (calls in flight end with CZ_ECLOSED); done(ud)
 * runs once the client is gone (at once when there was none). */
void cz__etcd_close(cz__etcd_t *e, void (*done)(void *ud), void *ud);
/* Unary POST to the current host; cb as for cz_client_fetch. 0 or an error (no callback).
 * With User/Pass: authenticates first when there is no token, sends "Authorization: <token>",
 * and on a 401 (an expired token) authenticates again and re-sends, once. A failed
 * authentication is reported to cb as the request's failure (etcd's status, 400 for a wrong
 * password). */
int cz__etcd_post(cz__etcd_t *e, const char *path, const char *body, uint64_t timeout_ms,
                  cz_fetch_fn cb, void *ud);
/* A request ended with err: keep a TLS failure's reason for the log line (cz__etcd_why). */
void cz__etcd_note(cz__etcd_t *e, int err, const cz_call_info_t *info);
/* What to log for err: OpenSSL's reason after CZ_ETLS, else cz_strerror(err). */
const char *cz__etcd_why(const cz__etcd_t *e, int err);
/* Move to the next host (after a failure). */
void cz__etcd_rotate(cz__etcd_t *e);
const char *cz__etcd_cur(const cz__etcd_t *e);

/* ---- server self-registration (server_reg.c; the hook is cz_etcd_server_hook) ---- */
/* The address registration would publish for host:port (exposed for tests). */
int cz__discov_server_addr(const char *host, int port, char *out, size_t cap);

#endif
