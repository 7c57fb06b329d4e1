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
    /* a key path longer than the field is cut: the message still names its start */
    if (snprintf(k, sizeof k, "%s%s%.*s", key, d->key[0] ? "." : "", (int)(sizeof k - 40),
                 d->key) < 0)
        return;
    snprintf(d->key, sizeof d->key, "%s", k);
}

/* Element i of cs (c: a copy of it the check may mark) against itself and the ones before it:
 * the one validation both the loader (keys under prefix "") and cz_upstreams_start
 * ("Upstreams") run, so both say the same thing. */
static int check_elem(cz_upstream_conf_t *c, const cz_upstream_conf_t *cs, size_t i,
                      const char *prefix, cz_diag_t *d)
{
    char key[64];
    snprintf(key, sizeof key, "%s[%zu]", prefix, i);
    if (cz_upstream_conf_check(c, key, d) != 0) {
        prefix_key(d, key);
        return CZ_EINVAL_CONF;
    }
    for (size_t j = 0; j < i; j++)
        if (strcmp(cs[i].name, cs[j].name) == 0) {
            snprintf(key, sizeof key, "%s[%zu].Name", prefix, i);
            return cz_diag_set(d, NULL, 0, 0, key, "duplicate upstream name '%s'", cs[i].name);
        }
    return 0;
}

int cz_upstreams_conf_check(void *member, const cz_conf_at_t *at, cz_diag_t *d)
{
    const cz_conf_array_t *a = member;
    cz_upstream_conf_t *cs = a ? a->items : NULL;
    for (size_t i = 0; cs && i < a->n; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "[%zu]", i);
        cz_conf_at_locate(at, idx, &cs[i]._line, &cs[i]._col);
        if (check_elem(&cs[i], cs, i, "", d) != 0)
            return CZ_EINVAL_CONF;
    }
    return 0;
}

/* Where element c is, for a diagnostic that has no position of its own. */
static void place(cz_diag_t *d, const cz_upstream_conf_t *c)
{
    if (d && d->line == 0) {
        d->line = c->_line;
        d->col = c->_col;
    }
}

cz_upstreams_t *cz_upstreams_start(const cz_conf_array_t *confs, cz_diag_t *d)
{
    size_t n = confs ? confs->n : 0;
    const cz_upstream_conf_t *cs = n ? confs->items : NULL;
    for (size_t i = 0; i < n; i++) {
        cz_upstream_conf_t c = cs[i]; /* shallow: the check sets only derived fields */
        if (check_elem(&c, cs, i, "Upstreams", d) != 0) {
            place(d, &cs[i]);
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
            char key[48];
            snprintf(key, sizeof key, "Upstreams[%zu]", s->n);
            prefix_key(d, key);
            place(d, &cs[s->n]);
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
