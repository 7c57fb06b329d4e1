/* SPDX-License-Identifier: MIT
 *
 * fuzz_api.c: libFuzzer target for czctl's .api parser and formatter (tools/czctl/api_*.c).
 *
 * Arbitrary bytes go to cz_api_parse. A syntax error is the expected answer to junk: its
 * diagnostic must name a line and column inside the input. When the input parses, the checks
 * run, and the formatter's promises are enforced: the formatted text parses again and formats
 * to itself. A crash, a sanitizer report, a leak or an abort() here is a bug. Seeds live in
 * fuzz/corpus/api/ (copies of tests/czctl/ files).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "api_ast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cz_api_t *api = NULL;
    cz_diag_t d;
    char buf[800];
    int rc = cz_api_parse(&api, "fuzz.api", (const char *)data, size, &d);
    if (rc) {
        if (api || (rc == CZ_EPARSE && (d.line < 1 || d.col < 1)))
            abort();
        cz_diag_format(&d, buf, sizeof buf);
        return 0;
    }
    cz_api_check(api, &d);
    char *once = NULL, *twice = NULL;
    size_t n1 = 0, n2 = 0;
    if (cz_api_format_string(api->files, &once, &n1) != 0)
        abort();
    cz_api_free(api);
    if (cz_api_parse(&api, "fuzz.api", once, n1, &d) != 0)
        abort(); /* the formatter wrote something the parser refuses */
    if (cz_api_format_string(api->files, &twice, &n2) != 0)
        abort();
    if (n1 != n2 || memcmp(once, twice, n1) != 0)
        abort(); /* not idempotent */
    cz_api_free(api);
    free(once);
    free(twice);
    return 0;
}
