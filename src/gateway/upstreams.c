/* SPDX-License-Identifier: MIT
 *
 * upstreams.c: a service's named upstreams, built from an `Upstreams` config array, so a handler
 * finds the cluster of another service by name (go-zero: `UserRpc zrpc.RpcClientConf` in the
 * config, zrpc.MustNewClient(c.UserRpc) in the service context). The set is immutable once
 * started; lookups are a linear scan because a service calls a handful of others and looks each
 * up once at startup, not per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/upstream.h"

struct cz_upstreams {
    size_t n;
    cz_upstream_t *ups[]; /* in config order */
};

/* The library's diagnostic has no file position; say which element it is about. */
static void prefix_key(cz_diag_t *d, const char *key)
{
    if (!d || strncmp(d->key, key, strlen(key)) == 0)
        return;
    char k[sizeof d->key];
    snprintf(k, sizeof k, "%s%s%.*s", key, d->key[0] ? "." : "", (int)(sizeof k - 40), d->key);
    snprintf(d->key, sizeof d->key, "%s", k);
}

cz_upstreams_t *cz_upstreams_start(const cz_conf_array_t *confs, cz_diag_t *d)
{
    size_t n = confs ? confs->n : 0;
    const cz_upstream_conf_t *cs = n ? confs->items : NULL;
    char key[48];
    for (size_t i = 0; i < n; i++) {
        cz_upstream_conf_t c = cs[i]; /* shallow: the check sets only derived fields */
        snprintf(key, sizeof key, "Upstreams[%zu]", i);
        if (cz_upstream_conf_check(&c, key, d) != 0) {
            prefix_key(d, key);
            return NULL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(cs[i].name, cs[j].name) == 0) {
                snprintf(key, sizeof key, "Upstreams[%zu].Name", i);
                cz_diag_set(d, NULL, 0, 0, key, "duplicate upstream name '%s'", cs[i].name);
                return NULL;
            }
    }
    cz_upstreams_t *s = calloc(1, sizeof *s + n * sizeof s->ups[0]);
    if (!s) {
        cz_diag_set(d, NULL, 0, 0, "Upstreams", "out of memory");
        return NULL;
    }
    for (; s->n < n; s->n++) {
        if (!(s->ups[s->n] = cz_upstream_new(&cs[s->n], d))) {
            snprintf(key, sizeof key, "Upstreams[%zu]", s->n);
            prefix_key(d, key);
            cz_upstreams_free(s);
            return NULL;
        }
    }
    return s;
}

cz_upstream_t *cz_upstreams_find(const cz_upstreams_t *s, const char *name)
{
    if (!s || !name)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(cz_upstream_name(s->ups[i]), name) == 0)
            return s->ups[i];
    return NULL;
}

size_t cz_upstreams_count(const cz_upstreams_t *s) { return s ? s->n : 0; }

void cz_upstreams_free(cz_upstreams_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        cz_upstream_free(s->ups[i]);
    free(s);
}
