/* SPDX-License-Identifier: MIT
 *
 * Tests for cz_path_clean (Go's path.Clean: the table is Go's own cleantests from
 * src/path/path_test.go) and cz_path_unescape (%XX decoding as net/url does for URL.Path).
 */
#include <criterion/criterion.h>
#include <string.h>
#include "czero/router.h"

static const struct {
    const char *in, *out;
} cleantests[] = {
    /* Already clean. Go gives "." for ""; czero gives "/" on purpose (router.h). */
    {"", "/"},
    {"abc", "abc"},
    {"abc/def", "abc/def"},
    {"a/b/c", "a/b/c"},
    {".", "."},
    {"..", ".."},
    {"../..", "../.."},
    {"../../abc", "../../abc"},
    {"/abc", "/abc"},
    {"/", "/"},
    /* Remove trailing slash */
    {"abc/", "abc"},
    {"abc/def/", "abc/def"},
    {"a/b/c/", "a/b/c"},
    {"./", "."},
    {"../", ".."},
    {"../../", "../.."},
    {"/abc/", "/abc"},
    /* Remove doubled slash */
    {"abc//def//ghi", "abc/def/ghi"},
    {"//abc", "/abc"},
    {"///abc", "/abc"},
    {"//abc//", "/abc"},
    {"abc//", "abc"},
    /* Remove . elements */
    {"abc/./def", "abc/def"},
    {"/./abc/def", "/abc/def"},
    {"abc/.", "abc"},
    /* Remove .. elements */
    {"abc/def/ghi/../jkl", "abc/def/jkl"},
    {"abc/def/../ghi/../jkl", "abc/jkl"},
    {"abc/def/..", "abc"},
    {"abc/def/../..", "."},
    {"/abc/def/../..", "/"},
    {"abc/def/../../..", ".."},
    {"/abc/def/../../..", "/"},
    {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"},
    /* Combinations */
    {"abc/./../def", "def"},
    {"abc//./../def", "def"},
    {"abc/../../././../def", "../../def"},
    /* URL-shaped extras: rooted paths never climb above the root; dots inside names stay. */
    {"/..", "/"},
    {"/../a/../../b/", "/b"},
    {"/a/.../b", "/a/.../b"},
    {"/a/..b/.c", "/a/..b/.c"},
    {"/users/:id/", "/users/:id"},
};

Test(pathclean, go_table)
{
    for (size_t i = 0; i < sizeof cleantests / sizeof cleantests[0]; i++) {
        const char *in = cleantests[i].in;
        char out[128];
        memset(out, 'X', sizeof out);
        size_t n = cz_path_clean(in, strlen(in), out);
        cr_expect(n == strlen(cleantests[i].out) && memcmp(out, cleantests[i].out, n) == 0,
                  "clean(\"%s\") = \"%.*s\", want \"%s\"", in, (int)n, out, cleantests[i].out);
        cr_expect(n <= strlen(in) + 1, "clean(\"%s\") result longer than n+1", in);
        cr_expect(out[strlen(in) + 1] == 'X', "clean(\"%s\") wrote past n+1 bytes", in);
    }
}

Test(pathclean, in_place_and_idempotent)
{
    for (size_t i = 0; i < sizeof cleantests / sizeof cleantests[0]; i++) {
        const char *in = cleantests[i].in;
        char buf[128];
        size_t len = strlen(in);
        memcpy(buf, in, len);
        size_t n = cz_path_clean(buf, len, buf);
        cr_expect(n == strlen(cleantests[i].out) && memcmp(buf, cleantests[i].out, n) == 0,
                  "in place clean(\"%s\") = \"%.*s\"", in, (int)n, buf);
        char again[128];
        size_t m = cz_path_clean(buf, n, again);
        cr_expect(m == n && memcmp(again, buf, n) == 0, "clean not idempotent on \"%s\"", in);
    }
}

static void expect_unescape(const char *in, const char *want, int want_err)
{
    char out[64];
    int err = -1;
    size_t n = cz_path_unescape(in, strlen(in), out, &err);
    cr_expect_eq(err, want_err, "unescape(\"%s\") err=%d, want %d", in, err, want_err);
    if (!want_err)
        cr_expect(n == strlen(want) && memcmp(out, want, n) == 0,
                  "unescape(\"%s\") = \"%.*s\", want \"%s\"", in, (int)n, out, want);
}

Test(pathclean, unescape)
{
    expect_unescape("", "", 0);
    expect_unescape("/plain/path", "/plain/path", 0);
    expect_unescape("/a%20b", "/a b", 0);
    expect_unescape("/%41%62%7e", "/Ab~", 0);
    expect_unescape("/%e4%B8%ad", "/\xe4\xb8\xad", 0);
    expect_unescape("/a%2Fb", "/a/b", 0); /* Go's URL.Path decodes %2F too */
    expect_unescape("/a+b", "/a+b", 0);   /* '+' is not a space in a path */
    expect_unescape("%25", "%", 0);
    expect_unescape("/%", NULL, 1);
    expect_unescape("/%4", NULL, 1);
    expect_unescape("/%4g", NULL, 1);
    expect_unescape("/%zz/x", NULL, 1);
    expect_unescape("/a%00b", NULL, 1);
}

Test(pathclean, unescape_in_place_then_clean)
{
    char buf[] = "/a/%2e%2e/b%2F%2E/c";
    int err;
    size_t n = cz_path_unescape(buf, strlen(buf), buf, &err);
    cr_assert_eq(err, 0);
    n = cz_path_clean(buf, n, buf);
    cr_assert(n == 4 && memcmp(buf, "/b/c", 4) == 0, "got \"%.*s\"", (int)n, buf);
}
