/* SPDX-License-Identifier: MIT
 *
 * fuzz_gateway_conf.c: libFuzzer target for czero-gateway's config loader and validation.
 *
 * Arbitrary bytes go through gw_conf_load_string (the RestConf inline, Upstreams with the
 * upstream table and cz_upstream_conf_check, Routes with their checks, and the second YAML walk
 * that places post-load errors at file:line:col). Any crash, leak or sanitizer report is a bug;
 * an error is the expected answer to junk, and it must carry a message and leave nothing
 * allocated. The loader is compiled in from tools/czero-gateway (a program, not the library).
 * Seeds live in fuzz/corpus/gateway_conf/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../tools/czero-gateway/gw_conf.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_conf_t c;
    cz_diag_t d;
    char buf[800];
    int rc = gw_conf_load_string("fuzz.yaml", (const char *)data, size, &c, &d);
    if (rc == 0) {
        gw_route_conf_t *r = c.routes.items;
        /* a good config names a defined upstream on every route */
        for (size_t i = 0; i < c.routes.n; i++)
            if (r[i].upstream_index < 0 || (size_t)r[i].upstream_index >= c.upstreams.n)
                abort();
        gw_conf_free(&c);
    } else {
        cz_diag_format(&d, buf, sizeof buf);
        if (!d.msg[0] || c.routes.items || c.upstreams.items || c.rest.name)
            abort();
    }
    return 0;
}
