/* SPDX-License-Identifier: MIT
 *
 * fuzz_config.c: libFuzzer target for the YAML configuration loader.
 *
 * Feeds arbitrary bytes to cz_conf_load_string against cz_rest_conf_fields (nested objects,
 * enums, durations, sizes, required keys, ignored keys) and frees the result. Any crash, leak
 * or sanitizer report is a bug; a CZ_EINVAL_CONF result is the expected answer to junk, and its
 * diagnostic is formatted to exercise that path too. Seeds live in fuzz/corpus/config/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "czero/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* ${VAR} references: one set, one unset, so both branches are reachable. */
    static int once;
    if (!once) {
        setenv("CZ_FUZZ_PORT", "8080", 1);
        unsetenv("CZ_FUZZ_UNSET");
        once = 1;
    }
    cz_rest_conf_t c;
    cz_diag_t d;
    char buf[700];
    int rc = cz_conf_load_string("fuzz.yaml", (const char *)data, size, cz_rest_conf_fields, &c,
                                 &d);
    if (rc == 0) {
        cz_conf_free(cz_rest_conf_fields, &c);
    } else {
        cz_diag_format(&d, buf, sizeof buf);
        /* a failed load must leave the struct empty */
        if (c.name || c.mode || c.host || c.log.path)
            abort();
    }
    return 0;
}
