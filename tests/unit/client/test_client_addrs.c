/* SPDX-License-Identifier: MIT
 *
 * Unit tests of a client pool's address list (cz__pool_set_addrs in src/client/client.c): what
 * a getaddrinfo answer becomes. IPv6 and IPv4 kept in resolver order, other families skipped,
 * at most CZ__CL_MAX_ADDRS, and on a refresh the address that answered last keeps being tried
 * first when it is still in the answer (so a refresh does not send connects back to a dead first
 * address), or the first address is when it is gone. An empty answer keeps the old list.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netdb.h>
#include <string.h>
#include "client/client_int.h"

typedef struct {
    struct addrinfo ai[12];
    struct sockaddr_storage sa[12];
    int n;
} ans_t;

static void add(ans_t *a, const char *ip, int port)
{
    struct addrinfo *ai = &a->ai[a->n];
    struct sockaddr_storage *ss = &a->sa[a->n];
    memset(ai, 0, sizeof *ai);
    memset(ss, 0, sizeof *ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        cr_assert_eq(uv_ip6_addr(ip, port, s6), 0);
        ai->ai_family = AF_INET6;
        ai->ai_addrlen = sizeof *s6;
    } else if (strcmp(ip, "unix") == 0) {
        ss->ss_family = AF_UNIX;
        ai->ai_family = AF_UNIX;
        ai->ai_addrlen = sizeof(sa_family_t) + 2;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        cr_assert_eq(uv_ip4_addr(ip, port, s4), 0);
        ai->ai_family = AF_INET;
        ai->ai_addrlen = sizeof *s4;
    }
    ai->ai_addr = (struct sockaddr *)ss;
    if (a->n)
        a->ai[a->n - 1].ai_next = ai;
    a->n++;
}

/* The text of the pool's i-th address. */
static const char *at(const cz__pool_t *p, int i)
{
    static char buf[64];
    const struct sockaddr_storage *ss = &p->sa[i];
    if (ss->ss_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)ss, buf, sizeof buf);
    else
        uv_ip4_name((const struct sockaddr_in *)ss, buf, sizeof buf);
    return buf;
}

Test(client_addrs, both_families_in_resolver_order_others_skipped)
{
    cz__pool_t p = {0};
    ans_t a = {0};
    add(&a, "::1", 80);
    add(&a, "unix", 0);
    add(&a, "127.0.0.1", 80);
    add(&a, "10.0.0.2", 80);
    cr_assert_eq(cz__pool_set_addrs(&p, a.ai), 0);
    cr_assert_eq(p.naddr, 3);
    cr_assert_str_eq(at(&p, 0), "::1");
    cr_assert_str_eq(at(&p, 1), "127.0.0.1");
    cr_assert_str_eq(at(&p, 2), "10.0.0.2");
    cr_assert_eq(p.cur, 0);
    cr_assert_eq(ntohs(((struct sockaddr_in *)&p.sa[1])->sin_port), 80);
}

Test(client_addrs, at_most_eight_are_kept)
{
    cz__pool_t p = {0};
    ans_t a = {0};
    char ip[32];
    for (int i = 0; i < 11; i++) {
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        add(&a, ip, 80);
    }
    cr_assert_eq(cz__pool_set_addrs(&p, a.ai), 0);
    cr_assert_eq(p.naddr, CZ__CL_MAX_ADDRS);
    cr_assert_str_eq(at(&p, 7), "10.0.0.8");
}

Test(client_addrs, a_refresh_keeps_the_address_that_answered_first_in_line)
{
    cz__pool_t p = {0};
    ans_t a = {0};
    add(&a, "::1", 80);
    add(&a, "127.0.0.1", 80);
    cr_assert_eq(cz__pool_set_addrs(&p, a.ai), 0);
    p.cur = 1; /* 127.0.0.1 answered */
    ans_t b = {0}; /* the resolver now puts a new address first */
    add(&b, "10.0.0.9", 80);
    add(&b, "::1", 80);
    add(&b, "127.0.0.1", 80);
    cr_assert_eq(cz__pool_set_addrs(&p, b.ai), 0);
    cr_assert_eq(p.naddr, 3);
    cr_assert_eq(p.cur, 2);
    cr_assert_str_eq(at(&p, p.cur), "127.0.0.1");
    ans_t c = {0}; /* gone: start over at the first */
    add(&c, "10.0.0.7", 80);
    add(&c, "10.0.0.8", 80);
    cr_assert_eq(cz__pool_set_addrs(&p, c.ai), 0);
    cr_assert_eq(p.cur, 0);
    cr_assert_str_eq(at(&p, 0), "10.0.0.7");
}

Test(client_addrs, the_same_ip_on_another_port_is_another_address)
{
    cz__pool_t p = {0};
    ans_t a = {0};
    add(&a, "127.0.0.1", 80);
    add(&a, "127.0.0.2", 80);
    cr_assert_eq(cz__pool_set_addrs(&p, a.ai), 0);
    p.cur = 1;
    ans_t b = {0};
    add(&b, "127.0.0.1", 80);
    add(&b, "127.0.0.2", 81);
    cr_assert_eq(cz__pool_set_addrs(&p, b.ai), 0);
    cr_assert_eq(p.cur, 0);
}

Test(client_addrs, an_answer_without_usable_addresses_keeps_the_old_list)
{
    cz__pool_t p = {0};
    ans_t a = {0};
    add(&a, "127.0.0.1", 80);
    cr_assert_eq(cz__pool_set_addrs(&p, a.ai), 0);
    ans_t b = {0};
    add(&b, "unix", 0);
    cr_assert_eq(cz__pool_set_addrs(&p, b.ai), UV_EAI_NONAME);
    cr_assert_eq(cz__pool_set_addrs(&p, NULL), UV_EAI_NONAME);
    cr_assert_eq(p.naddr, 1);
    cr_assert_str_eq(at(&p, 0), "127.0.0.1");
}
