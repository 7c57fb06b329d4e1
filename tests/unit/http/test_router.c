/* SPDX-License-Identifier: MIT
 *
 * Tests for the router (src/http/router.c): go-zero patrouter/search-tree semantics as a user
 * sees them: static over param, backtracking, parameters, 404 vs 405 + Allow, duplicates and bad
 * patterns with messages, cleaning of patterns, groups, custom methods, many siblings.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "czero/router.h"

static cz_router_t *r;
static int h[16]; /* distinct addresses used as route data */

static void setup(void) { r = cz_router_new(); }
static void teardown(void) { cz_router_free(r); }
TestSuite(router, .init = setup, .fini = teardown);

static void add_ok(const char *method, const char *pattern, void *data)
{
    cz_diag_t d = {0};
    int rc = cz_router_add(r, method, pattern, data, &d);
    cr_assert_eq(rc, 0, "add %s %s: %d %s", method, pattern, rc, d.msg);
}

static int find(const char *method, const char *path, cz_route_match_t *m)
{
    memset(m, 0xa5, sizeof *m);
    return cz_router_find(r, cz_str_c(method), cz_str_c(path), m);
}

static const char *param(const cz_route_match_t *m, const char *name, char *buf)
{
    for (unsigned i = 0; i < m->nparams; i++)
        if (cz_str_eq_c(m->params[i].name, name)) {
            snprintf(buf, 64, "%.*s", (int)m->params[i].value.n, m->params[i].value.p);
            return buf;
        }
    return NULL;
}

Test(router, static_routes_and_root)
{
    add_ok("GET", "/", &h[0]);
    add_ok("GET", "/hello", &h[1]);
    add_ok("GET", "/hello/world", &h[2]);
    cz_route_match_t m;
    cr_assert_eq(find("GET", "/", &m), 0);
    cr_assert_eq(m.data, &h[0]);
    cr_assert_eq(find("GET", "/hello", &m), 0);
    cr_assert_eq(m.data, &h[1]);
    cr_assert_str_eq(m.pattern, "/hello");
    cr_assert_eq(m.nparams, 0);
    cr_assert_eq(find("GET", "/hello/world", &m), 0);
    cr_assert_eq(m.data, &h[2]);
    cr_assert_eq(find("GET", "/hell", &m), CZ_ENOTFOUND);
    cr_assert_eq(find("GET", "/hello/world/x", &m), CZ_ENOTFOUND);
    cr_assert_eq(find("GET", "/hellO", &m), CZ_ENOTFOUND, "case-sensitive, as go-zero default");
}

Test(router, params_extracted_as_views_into_the_path)
{
    add_ok("GET", "/users/:id", &h[0]);
    add_ok("GET", "/orgs/:org/repos/:repo", &h[1]);
    cz_route_match_t m;
    char b[64];
    const char *path = "/orgs/zeromicro/repos/go-zero";
    cr_assert_eq(cz_router_find(r, CZ_STR("GET"), cz_str_c(path), &m), 0);
    cr_assert_eq(m.data, &h[1]);
    cr_assert_str_eq(m.pattern, "/orgs/:org/repos/:repo");
    cr_assert_eq(m.nparams, 2);
    cr_assert(cz_str_eq_c(m.params[0].name, "org") && cz_str_eq_c(m.params[1].name, "repo"));
    cr_assert_eq(m.params[0].value.p, path + 6, "value is a view into the caller's path");
    cr_assert_str_eq(param(&m, "repo", b), "go-zero");
    cr_assert_eq(find("GET", "/users/42", &m), 0);
    cr_assert_str_eq(param(&m, "id", b), "42");
    cr_assert_eq(find("GET", "/users", &m), CZ_ENOTFOUND, "a param needs a segment");
    cr_assert_eq(find("GET", "/users/42/x", &m), CZ_ENOTFOUND);
}

Test(router, param_never_matches_an_empty_segment)
{
    add_ok("GET", "/:x", &h[0]);
    add_ok("GET", "/a/:y/b", &h[1]);
    cz_route_match_t m;
    cr_assert_eq(find("GET", "/", &m), CZ_ENOTFOUND);
    cr_assert_eq(find("GET", "/a//b", &m), CZ_ENOTFOUND);
    cr_assert_eq(find("GET", "/z", &m), 0);
    cr_assert_eq(m.data, &h[0]);
}

Test(router, static_beats_param)
{
    add_ok("GET", "/users/:id", &h[0]);
    add_ok("GET", "/users/me", &h[1]);
    cz_route_match_t m;
    char b[64];
    cr_assert_eq(find("GET", "/users/me", &m), 0);
    cr_assert_eq(m.data, &h[1]);
    cr_assert_eq(m.nparams, 0);
    cr_assert_eq(find("GET", "/users/mee", &m), 0);
    cr_assert_eq(m.data, &h[0]);
    cr_assert_str_eq(param(&m, "id", b), "mee");
}

Test(router, backtracks_from_static_to_param)
{
    add_ok("GET", "/a/b/c", &h[0]);
    add_ok("GET", "/a/:x/d", &h[1]);
    add_ok("GET", "/p/q/r/s", &h[2]);
    add_ok("GET", "/p/:x/r/t", &h[3]);
    add_ok("GET", "/p/:x/:y/u", &h[4]);
    cz_route_match_t m;
    char b[64];
    cr_assert_eq(find("GET", "/a/b/c", &m), 0);
    cr_assert_eq(m.data, &h[0]);
    cr_assert_eq(find("GET", "/a/b/d", &m), 0);
    cr_assert_eq(m.data, &h[1]);
    cr_assert_str_eq(param(&m, "x", b), "b");
    cr_assert_eq(find("GET", "/p/q/r/t", &m), 0, "two levels of backtracking");
    cr_assert_eq(m.data, &h[3]);
    cr_assert_eq(find("GET", "/p/q/r/u", &m), 0, "three levels");
    cr_assert_eq(m.data, &h[4]);
    cr_assert_str_eq(param(&m, "x", b), "q");
    cr_assert_str_eq(param(&m, "y", b), "r");
    cr_assert_eq(find("GET", "/a/b/e", &m), CZ_ENOTFOUND);
}

Test(router, param_names_belong_to_each_route)
{
    add_ok("GET", "/a/:x/b", &h[0]);
    add_ok("GET", "/a/:y/c", &h[1]);
    cz_route_match_t m;
    char b[64];
    cr_assert_eq(find("GET", "/a/1/c", &m), 0);
    cr_assert_eq(m.data, &h[1]);
    cr_assert_str_eq(param(&m, "y", b), "1");
    cr_assert_null(param(&m, "x", b));
}

Test(router, not_found_vs_not_allowed_and_allow_header)
{
    add_ok("POST", "/a", &h[0]);
    add_ok("GET", "/a", &h[1]);
    add_ok("PUT", "/b", &h[2]);
    add_ok("DELETE", "/a/:id", &h[3]);
    cz_route_match_t m;
    cr_assert_eq(find("DELETE", "/a", &m), CZ_ROUTER_NOT_ALLOWED);
    cr_assert_null(m.data, "no custom handler set");
    cr_assert_null(m.pattern);
    cr_assert_eq(find("GET", "/a/7", &m), CZ_ROUTER_NOT_ALLOWED);
    cr_assert_eq(find("GET", "/nope", &m), CZ_ENOTFOUND);
    cr_assert_eq(find("BREW", "/b", &m), CZ_ROUTER_NOT_ALLOWED, "unknown method, known path");
    char buf[64];
    cr_assert_eq(cz_router_allowed(r, CZ_STR("/a"), buf, sizeof buf), strlen("GET, POST"));
    cr_assert_str_eq(buf, "GET, POST", "sorted, \", \"-separated like Go");
    cr_assert_eq(cz_router_allowed(r, CZ_STR("/a/1"), buf, sizeof buf), 6);
    cr_assert_str_eq(buf, "DELETE");
    cr_assert_eq(cz_router_allowed(r, CZ_STR("/c"), buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
}

Test(router, allowed_truncates_like_snprintf)
{
    add_ok("GET", "/x", &h[0]);
    add_ok("OPTIONS", "/x", &h[1]);
    add_ok("PATCH", "/x", &h[2]);
    char buf[8];
    size_t n = cz_router_allowed(r, CZ_STR("/x"), buf, sizeof buf);
    cr_assert_eq(n, strlen("GET, OPTIONS, PATCH"));
    cr_assert_str_eq(buf, "GET, OP");
    cr_assert_eq(cz_router_allowed(r, CZ_STR("/x"), NULL, 0), n, "size 0 only measures");
}

Test(router, custom_not_found_and_not_allowed_data)
{
    int nf, na;
    cz_router_set_not_found(r, &nf);
    cz_router_set_not_allowed(r, &na);
    add_ok("GET", "/a", &h[0]);
    cz_route_match_t m;
    cr_assert_eq(find("GET", "/zz", &m), CZ_ENOTFOUND);
    cr_assert_eq(m.data, &nf);
    cr_assert_eq(find("POST", "/a", &m), CZ_ROUTER_NOT_ALLOWED);
    cr_assert_eq(m.data, &na);
    cr_assert_eq(m.nparams, 0);
}

Test(router, head_is_not_get)
{
    add_ok("GET", "/x", &h[0]);
    cz_route_match_t m;
    cr_assert_eq(find("HEAD", "/x", &m), CZ_ROUTER_NOT_ALLOWED);
    add_ok("HEAD", "/x", &h[1]);
    cr_assert_eq(find("HEAD", "/x", &m), 0);
    cr_assert_eq(m.data, &h[1]);
}

Test(router, custom_methods)
{
    add_ok("PURGE", "/cache/:key", &h[0]);
    add_ok("GET", "/cache/:key", &h[1]);
    add_ok("M-SEARCH", "/cache/:key", &h[2]);
    cz_route_match_t m;
    cr_assert_eq(find("PURGE", "/cache/k", &m), 0);
    cr_assert_eq(m.data, &h[0]);
    cr_assert_eq(find("M-SEARCH", "/cache/k", &m), 0);
    cr_assert_eq(m.data, &h[2]);
    cr_assert_eq(find("purge", "/cache/k", &m), CZ_ROUTER_NOT_ALLOWED,
                 "methods are case-sensitive");
    char buf[64];
    cz_router_allowed(r, CZ_STR("/cache/k"), buf, sizeof buf);
    cr_assert_str_eq(buf, "GET, M-SEARCH, PURGE");
}

static void add_fails(const char *method, const char *pattern, int want, const char *needle)
{
    cz_diag_t d = {0};
    int rc = cz_router_add(r, method, pattern, &h[15], &d);
    cr_expect_eq(rc, want, "add %s %s: rc %d, want %d", method, pattern, rc, want);
    cr_expect(strstr(d.msg, needle) != NULL, "add %s %s: message \"%s\" lacks \"%s\"", method,
              pattern, d.msg, needle);
}

Test(router, duplicates_rejected_with_message)
{
    add_ok("GET", "/a/:x", &h[0]);
    add_ok("POST", "/a/:x", &h[1]);
    add_ok("GET", "/a/b", &h[2]);
    add_ok("GET", "/b/", &h[3]);
    add_fails("GET", "/a/:y", CZ_EDUPLICATE, "same shape as /a/:x");
    add_fails("GET", "/a/b", CZ_EDUPLICATE, "duplicate");
    add_fails("GET", "/b", CZ_EDUPLICATE, "same shape as /b");
    add_fails("GET", "//a/./b/", CZ_EDUPLICATE, "GET /a/b");
    cz_route_match_t m;
    cr_assert_eq(find("GET", "/a/q", &m), 0);
    cr_assert_eq(m.data, &h[0], "the first registration stays");
}

Test(router, bad_patterns_and_methods_rejected)
{
    char many[256] = "";
    for (int i = 0; i <= CZ_ROUTER_MAX_PARAMS; i++)
        sprintf(many + strlen(many), "/:p%d", i);
    add_fails("GET", "", CZ_EARG, "must begin with '/'");
    add_fails("GET", "users", CZ_EARG, "must begin with '/'");
    add_fails("GET", ":id", CZ_EARG, "must begin with '/'");
    add_fails("GET", "/a/:", CZ_EARG, "empty parameter name");
    add_fails("GET", "/a/:/b", CZ_EARG, "empty parameter name");
    add_fails("GET", "/a/:id/b/:id", CZ_EARG, "used twice");
    add_fails("GET", many, CZ_EARG, "parameters");
    add_fails("GET", "/a\nb", CZ_EARG, "control");
    add_fails("", "/a", CZ_EARG, "empty method");
    add_fails("G T", "/a", CZ_EARG, "not an HTTP token");
    add_fails("GET", NULL, CZ_EARG, "NULL");
    cr_assert_eq(cz_router_add(r, "GET", "x", NULL, NULL), CZ_EARG, "NULL diag is allowed");
    cz_route_match_t m;
    cr_assert_eq(find("GET", "/a/x", &m), CZ_ENOTFOUND, "nothing half-registered");
    many[strlen(many) - 5] = '\0'; /* exactly CZ_ROUTER_MAX_PARAMS */
    add_ok("GET", many, &h[0]);
}

Test(router, patterns_are_cleaned_paths_must_be)
{
    add_ok("GET", "/a/", &h[0]);
    add_ok("GET", "/x/../b//c/.", &h[1]);
    add_ok("GET", "/k:v/:id", &h[2]); /* a colon not at a segment start is static */
    cz_route_match_t m;
    cr_assert_eq(find("GET", "/a", &m), 0);
    cr_assert_str_eq(m.pattern, "/a", "go-zero registers path.Clean(pattern)");
    cr_assert_eq(find("GET", "/b/c", &m), 0);
    cr_assert_str_eq(m.pattern, "/b/c");
    cr_assert_eq(find("GET", "/a/", &m), CZ_ENOTFOUND, "find wants a cleaned path");
    cr_assert_eq(find("GET", "//a", &m), CZ_ENOTFOUND);
    cr_assert_eq(find("GET", "a", &m), CZ_ENOTFOUND);
    cr_assert_eq(find("GET", "", &m), CZ_ENOTFOUND);
    char p[] = "/a/";
    size_t n = cz_path_clean(p, strlen(p), p);
    cr_assert_eq(cz_router_find(r, CZ_STR("GET"), (cz_str_t){p, n}, &m), 0, "trailing / cleaned");
    cr_assert_eq(find("GET", "/k:v/1", &m), 0);
    cr_assert_eq(m.data, &h[2]);
    cr_assert_eq(find("GET", "/k/1", &m), CZ_ENOTFOUND);
}

Test(router, groups_join_prefixes_like_path_join)
{
    cz_route_group_t api, v1, root;
    cz_diag_t d = {0};
    cr_assert_eq(cz_route_group_init(&api, r, NULL, "/api/", &d), 0);
    cr_assert_eq(cz_route_group_init(&v1, NULL, &api, "/v1", &d), 0);
    cr_assert_eq(cz_route_group_init(&root, r, NULL, "/", &d), 0);
    cr_assert_str_eq(v1.prefix, "/api/v1");
    cr_assert_eq(cz_route_group_add(&v1, "GET", "/users/:id", &h[0], &d), 0);
    cr_assert_eq(cz_route_group_add(&api, "GET", "/", &h[1], &d), 0);
    cr_assert_eq(cz_route_group_add(&root, "GET", "/top", &h[2], &d), 0);
    cz_route_match_t m;
    char b[64];
    cr_assert_eq(find("GET", "/api/v1/users/9", &m), 0);
    cr_assert_str_eq(m.pattern, "/api/v1/users/:id");
    cr_assert_str_eq(param(&m, "id", b), "9");
    cr_assert_eq(find("GET", "/api", &m), 0);
    cr_assert_eq(m.data, &h[1]);
    cr_assert_eq(find("GET", "/top", &m), 0);
    cr_assert_eq(cz_route_group_add(&api, "GET", "/v1/users/:uid", &h[3], &d), CZ_EDUPLICATE);
    cr_assert(strstr(d.msg, "/api/v1/users/:id") != NULL, "%s", d.msg);
    cr_assert_eq(cz_route_group_add(&api, "GET", "rel", &h[3], &d), CZ_EARG);
    cr_assert_eq(cz_route_group_init(&root, r, NULL, "api", &d), CZ_EARG);
    cr_assert(strstr(d.msg, "must begin with '/'") != NULL, "%s", d.msg);
    char longp[CZ_ROUTER_MAX_PREFIX + 2];
    memset(longp, 'a', sizeof longp);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    cr_assert_eq(cz_route_group_init(&root, r, NULL, longp, &d), CZ_EARG);
}

Test(router, many_static_siblings)
{
    /* More children than the linear-scan threshold, inserted out of order: binary search. */
    static int data[64];
    char pat[32];
    for (int i = 63; i >= 0; i--) {
        snprintf(pat, sizeof pat, "/s/%c%d", 'a' + (i * 7) % 26, i);
        add_ok("GET", pat, &data[i]);
    }
    add_ok("GET", "/s/:other", &h[0]);
    cz_route_match_t m;
    for (int i = 0; i < 64; i++) {
        snprintf(pat, sizeof pat, "/s/%c%d", 'a' + (i * 7) % 26, i);
        cr_assert_eq(find("GET", pat, &m), 0, "%s", pat);
        cr_assert_eq(m.data, &data[i], "%s", pat);
    }
    cr_assert_eq(find("GET", "/s/zz99", &m), 0);
    cr_assert_eq(m.data, &h[0]);
}

Test(router, free_null_is_noop) { cz_router_free(NULL); }

/* ---- trailing "*name" wildcard (czero addition, for static files) ---- */

Test(router, wildcard_captures_rest_of_path)
{
    add_ok("GET", "/static/*path", &h[0]);
    cz_route_match_t m;
    char b[64];
    cr_assert_eq(find("GET", "/static/a.css", &m), 0);
    cr_assert_eq(m.data, &h[0]);
    cr_assert_str_eq(m.pattern, "/static/*path");
    cr_assert_str_eq(param(&m, "path", b), "a.css");
    cr_assert_eq(find("GET", "/static/css/deep/site.css", &m), 0);
    cr_assert_str_eq(param(&m, "path", b), "css/deep/site.css");
    cr_assert_eq(find("GET", "/static", &m), CZ_ENOTFOUND, "the rest must not be empty");
    cr_assert_eq(find("GET", "/statics/a", &m), CZ_ENOTFOUND);
    cr_assert_eq(find("POST", "/static/a", &m), CZ_ROUTER_NOT_ALLOWED);
    char allow[32];
    cr_assert_eq(cz_router_allowed(r, cz_str_c("/static/x/y"), allow, sizeof allow), 3);
    cr_assert_str_eq(allow, "GET");
}

Test(router, wildcard_comes_after_static_and_param)
{
    add_ok("GET", "/files/*rest", &h[0]);
    add_ok("GET", "/files/special", &h[1]);
    add_ok("GET", "/files/:id/meta", &h[2]);
    cz_route_match_t m;
    char b[64];
    cr_assert_eq(find("GET", "/files/special", &m), 0);
    cr_assert_eq(m.data, &h[1]);
    cr_assert_eq(find("GET", "/files/7/meta", &m), 0);
    cr_assert_eq(m.data, &h[2]);
    cr_assert_str_eq(param(&m, "id", b), "7");
    /* static and param branches fail deeper down: backtrack to the wildcard */
    cr_assert_eq(find("GET", "/files/special/x", &m), 0);
    cr_assert_eq(m.data, &h[0]);
    cr_assert_str_eq(param(&m, "rest", b), "special/x");
    cr_assert_eq(find("GET", "/files/7/other", &m), 0);
    cr_assert_eq(m.data, &h[0]);
    cr_assert_str_eq(param(&m, "rest", b), "7/other");
    cr_assert_eq(m.nparams, 1, "the param tried before does not leak into the match");
}

Test(router, wildcard_with_params_before_it)
{
    add_ok("GET", "/u/:user/*file", &h[0]);
    cz_route_match_t m;
    char b[64];
    cr_assert_eq(find("GET", "/u/ann/x/y.txt", &m), 0);
    cr_assert_str_eq(param(&m, "user", b), "ann");
    cr_assert_str_eq(param(&m, "file", b), "x/y.txt");
}

Test(router, wildcard_bad_and_duplicate_patterns)
{
    cz_diag_t d = {0};
    cr_assert_eq(cz_router_add(r, "GET", "/a/*rest/b", &h[0], &d), CZ_EARG);
    cr_assert(strstr(d.msg, "last"), "%s", d.msg);
    cr_assert_eq(cz_router_add(r, "GET", "/a/*", &h[0], &d), CZ_EARG);
    cr_assert_eq(cz_router_add(r, "GET", "/a/:x/*x", &h[0], &d), CZ_EARG);
    add_ok("GET", "/a/*rest", &h[0]);
    add_ok("GET", "/a", &h[1]); /* a different shape from the wildcard */
    cr_assert_eq(cz_router_add(r, "GET", "/a/*other", &h[2], &d), CZ_EDUPLICATE);
    cz_route_match_t m;
    cr_assert_eq(find("GET", "/a", &m), 0);
    cr_assert_eq(m.data, &h[1]);
}
