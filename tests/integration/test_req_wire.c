/* SPDX-License-Identifier: MIT
 *
 * Integration test of what a handler may know of the wire under its request, over a real
 * loopback socket: the protocol (cz_req_proto, HTTP/1.1 and HTTP/1.0) and, on plain TCP, no TLS
 * (cz_req_tls false, no SNI, no client certificate subject).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "http_client.h"
#include "test_server.h"

static ts_t T;

static int wire_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    const char *sni = cz_req_tls_sni(req), *subj = cz_req_tls_peer_subject(req);
    cz_res_printf(res, "%s tls=%d sni=%s subject=%s", cz_req_proto(req), cz_req_tls(req),
                  sni ? sni : "-", subj ? subj : "-");
    return CZ_DONE;
}

static void setup(void)
{
    ts_init(&T);
    static const cz_route_t r[] = {{"GET", "/wire", wire_handler, NULL, 0}};
    ts_start(&T, r, 1);
}

static void teardown(void) { ts_stop(&T); }

TestSuite(req_wire, .init = setup, .fini = teardown, .timeout = 20);

static void ask(const char *version, const char *want)
{
    tc_conn_t c;
    tc_resp_t r;
    cr_assert_eq(tc_connect(&c, T.port, 5000), 0);
    cr_assert_eq(tc_sendf(&c, "GET /wire %s\r\nHost: x\r\n\r\n", version), 0);
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, strlen(want), "got %.*s", (int)r.body_len, r.body);
    cr_assert(memcmp(r.body, want, r.body_len) == 0, "got %.*s", (int)r.body_len, r.body);
    tc_resp_free(&r);
    tc_close(&c);
}

Test(req_wire, http11_plain_tcp) { ask("HTTP/1.1", "HTTP/1.1 tls=0 sni=- subject=-"); }

Test(req_wire, http10_plain_tcp) { ask("HTTP/1.0", "HTTP/1.0 tls=0 sni=- subject=-"); }
