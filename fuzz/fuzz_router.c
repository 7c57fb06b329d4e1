/* SPDX-License-Identifier: MIT
 *
 * fuzz_router.c: libFuzzer target for the request-path side of routing. The input is a raw URL
 * path; it goes through what the HTTP engine does per request (cz_path_unescape, cz_path_clean,
 * cz_router_find, cz_router_allowed) against a fixed router built once, and the results are
 * checked for invariants that must hold for any input: cleaning is idempotent and keeps a path
 * rooted, a match's parameters are non-empty views inside the path, and find and allowed agree
 * on 404 vs 405. A second mode (first byte '\n') registers the input's lines as patterns in a
 * fresh router, to exercise cz_router_add's validation and tree building too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include "czero/router.h"

static cz_router_t *fixed;
static int data[32];

static const struct {
    const char *method, *pattern;
} routes[] = {
    {"GET", "/"},
    {"GET", "/hello"},
    {"GET", "/users/:id"},
    {"GET", "/users/me"},
    {"PUT", "/users/:id"},
    {"DELETE", "/users/:id"},
    {"GET", "/a/b/c"},
    {"GET", "/a/:x/d"},
    {"GET", "/p/:x/:y/u"},
    {"POST", "/p/q/r/s"},
    {"GET", "/orgs/:org/repos/:repo/issues/:n"},
    {"PURGE", "/cache/:key"},
    {"GET", "/:a"},
    {"GET", "/s/aa"}, {"GET", "/s/ab"}, {"GET", "/s/b"}, {"GET", "/s/ca"}, {"GET", "/s/d"},
    {"GET", "/s/e"}, {"GET", "/s/f"}, {"GET", "/s/g"}, {"GET", "/s/h"}, {"GET", "/s/ii"},
};

static const char *const methods[] = {"GET", "PUT", "DELETE", "POST", "PURGE", "HEAD", "BREW"};

static void build_fixed(void)
{
    fixed = cz_router_new();
    if (!fixed)
        abort();
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (cz_router_add(fixed, routes[i].method, routes[i].pattern, &data[i], NULL) != 0)
            abort();
}

static void check_find(const cz_router_t *r, const char *method, const char *p, size_t n)
{
    cz_route_match_t m;
    int rc = cz_router_find(r, cz_str_c(method), (cz_str_t){p, n}, &m);
    char allow[128];
    size_t an = cz_router_allowed(r, (cz_str_t){p, n}, allow, sizeof allow);
    if (rc == 0) {
        if (!m.pattern || m.nparams > CZ_ROUTER_MAX_PARAMS || an == 0)
            __builtin_trap();
        /* a trailing "*name" segment captures the rest of the path, slashes included */
        const char *last = strrchr(m.pattern, '/');
        bool wildcard = last && last[1] == '*';
        for (unsigned i = 0; i < m.nparams; i++) {
            cz_str_t v = m.params[i].value;
            bool may_slash = wildcard && i + 1 == m.nparams;
            if (v.n == 0 || v.p < p || v.p + v.n > p + n || (!may_slash && memchr(v.p, '/', v.n)))
                __builtin_trap();
        }
    } else if (rc == CZ_ROUTER_NOT_ALLOWED) {
        if (an == 0)
            __builtin_trap();
    } else if (rc != CZ_ENOTFOUND || an != 0) {
        __builtin_trap();
    }
}

static void fuzz_patterns(const uint8_t *in, size_t size)
{
    cz_router_t *r = cz_router_new();
    char *buf = malloc(size + 1);
    if (!r || !buf)
        abort();
    memcpy(buf, in, size);
    buf[size] = '\0';
    for (char *line = buf + 1, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        cz_diag_t d;
        cz_router_add(r, "GET", line, data, &d);
        size_t n = strlen(line);
        char *c = malloc(n + 1);
        if (!c)
            abort();
        n = cz_path_clean(line, n, c);
        check_find(r, "GET", c, n);
        free(c);
    }
    free(buf);
    cz_router_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (!fixed)
        build_fixed();
    if (size > 0 && in[0] == '\n') {
        fuzz_patterns(in, size);
        return 0;
    }
    char *raw = malloc(size + 1), *path = malloc(size + 1), *again = malloc(size + 1);
    if (!raw || !path || !again)
        abort();
    int err;
    size_t n = cz_path_unescape((const char *)in, size, raw, &err);
    if (!err) {
        size_t c = cz_path_clean(raw, n, path);
        if (c == 0 || c > n + 1 || ((n == 0 || raw[0] == '/') && path[0] != '/'))
            __builtin_trap();
        size_t c2 = cz_path_clean(path, c, again);
        if (c2 != c || memcmp(again, path, c) != 0)
            __builtin_trap(); /* Clean(Clean(x)) == Clean(x) */
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            check_find(fixed, methods[i], path, c);
    }
    /* Uncleaned input must be handled too (the engine could forget to clean). */
    check_find(fixed, "GET", (const char *)in, size);
    free(raw);
    free(path);
    free(again);
    return 0;
}
