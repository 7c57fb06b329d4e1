/* SPDX-License-Identifier: MIT
 *
 * test_proxy_headers.c: the proxy's pure helpers: which headers are hop-by-hop, tokens named by
 * Connection, the client IP of a peer address, prefix strip/rewrite of the target, cookie lookup
 * for consistent hashing. What a backend really receives is in tests/integration/test_proxy.c.
 */
#include <criterion/criterion.h>
#include <string.h>
#include "gateway/gw_int.h"

static bool hop(const char *n) { return cz__hop_by_hop(cz_str_c(n)); }

Test(proxy_headers, hop_by_hop_names)
{
    const char *yes[] = {"Connection", "keep-alive", "Proxy-Authorization", "proxy-connection",
                         "TE", "Trailer", "Transfer-Encoding", "UPGRADE"};
    const char *no[] = {"Host", "Content-Type", "X-Forwarded-For", "Proxy", "Te-x", "Cookie",
                        "Authorization"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        cr_expect(hop(yes[i]), "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        cr_expect_not(hop(no[i]), "%s", no[i]);
}

Test(proxy_headers, connection_names_its_own_hop_headers)
{
    cz_str_t c = CZ_STR("keep-alive, X-Secret ,close");
    cr_expect(cz__conn_names(c, CZ_STR("x-secret")));
    cr_expect(cz__conn_names(c, CZ_STR("Close")));
    cr_expect_not(cz__conn_names(c, CZ_STR("X-Sec")));
    cr_expect_not(cz__conn_names(CZ_STR(""), CZ_STR("a")));
}

/* The length prefilter never hides a name the Connection value lists (long tokens included). */
Test(proxy_headers, connection_token_lengths_cover_every_named_header)
{
    const char *conns[] = {"keep-alive", "close", "keep-alive, X-Secret ,close", " ,, a ,b,",
                           "X-A-Header-Name-That-Is-Longer-Than-Sixty-Three-Bytes-For-Sure-Yes",
                           "\tX-Tab\t", ""};
    const char *names[] = {"a", "b", "X-Secret", "x-secret", "Close", "keep-alive", "X-Sec",
                           "X-Tab", "X-Instance",
                           "X-A-Header-Name-That-Is-Longer-Than-Sixty-Three-Bytes-For-Sure-Yes",
                           "X-A-Header-Name-That-Is-Longer-Than-Sixty-Three-Bytes-For-Sure-No"};
    for (size_t i = 0; i < sizeof conns / sizeof *conns; i++) {
        cz_str_t c = cz_str_c(conns[i]);
        uint64_t lens = cz__conn_lens(c);
        for (size_t j = 0; j < sizeof names / sizeof *names; j++) {
            cz_str_t n = cz_str_c(names[j]);
            if (cz__conn_names(c, n))
                cr_expect(cz__conn_may_name(lens, n), "'%s' names '%s'", conns[i], names[j]);
        }
    }
    cr_expect_eq(cz__conn_lens(CZ_STR("keep-alive")), 1ull << 10);
    cr_expect_not(cz__conn_may_name(cz__conn_lens(CZ_STR("keep-alive")), CZ_STR("Server")));
}

Test(proxy_headers, remote_ip)
{
    cz_str_t ip = cz__remote_ip(CZ_STR("127.0.0.1:5555"));
    cr_expect(cz_str_eq(ip, CZ_STR("127.0.0.1")));
    ip = cz__remote_ip(CZ_STR("[::1]:80"));
    cr_expect(cz_str_eq(ip, CZ_STR("::1")));
}

static void target(const char *in, const char *strip, const char *rw, const char *want)
{
    cz_arena_t a;
    cz_arena_init(&a, 1024);
    cz_str_t t = cz__proxy_target(&a, cz_str_c(in), strip, rw);
    cr_expect(cz_str_eq(t, cz_str_c(want)), "%s - %s + %s: got %.*s want %s", in,
              strip ? strip : "", rw ? rw : "", (int)t.n, t.p, want);
    cz_arena_dispose(&a);
}

Test(proxy_headers, strip_and_rewrite_prefix)
{
    target("/api/users/1?x=2", "/api", NULL, "/users/1?x=2");
    target("/api", "/api", NULL, "/");
    target("/api?x=1", "/api", NULL, "/?x=1");
    target("/apix/1", "/api", NULL, "/apix/1"); /* not a segment boundary */
    target("/other", "/api", NULL, "/other");
    target("/api/users", "/api", "/v2", "/v2/users");
    target("/api/users", "/api/", "/v2", "/v2/users");
    target("/api/users", "/api", "/v2/", "/v2/users");
    target("/api", "/api", "/v2", "/v2");
    target("/users", NULL, NULL, "/users");
}

Test(proxy_headers, cookie_value)
{
    cz_str_t ck = CZ_STR("a=1; sid=abc ; sidx=no; b");
    cr_expect(cz_str_eq(cz__cookie_value(ck, CZ_STR("sid")), CZ_STR("abc")));
    cr_expect(cz_str_eq(cz__cookie_value(ck, CZ_STR("a")), CZ_STR("1")));
    cr_expect_null(cz__cookie_value(ck, CZ_STR("b")).p);
    cr_expect_null(cz__cookie_value(ck, CZ_STR("zz")).p);
}
