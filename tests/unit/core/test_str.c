/* SPDX-License-Identifier: MIT
 *
 * Unit tests of the string views' comparisons (include/czero/str.h): cz_str_eq and the ASCII
 * case-insensitive cz_str_ieq that header names and tokens are matched with. Not here: parsing.
 */
#include <criterion/criterion.h>
#include "czero/str.h"

Test(str, ieq_folds_ascii_letters_only)
{
    cr_assert(cz_str_ieq(CZ_STR("Content-Length"), CZ_STR("content-length")));
    cr_assert(cz_str_ieq(CZ_STR("X-REQUEST-ID"), CZ_STR("x-request-id")));
    cr_assert(cz_str_ieq(CZ_STR(""), CZ_STR("")));
    cr_assert(!cz_str_ieq(CZ_STR("Host"), CZ_STR("Hosts")), "lengths differ");
    cr_assert(!cz_str_ieq(CZ_STR("Host"), CZ_STR("Hist")));
    /* bit 0x20 folds letters, not the punctuation that differs from another by it */
    cr_assert(!cz_str_ieq(CZ_STR("@"), CZ_STR("`")));
    cr_assert(!cz_str_ieq(CZ_STR("["), CZ_STR("{")));
    cr_assert(!cz_str_ieq(CZ_STR("a-b"), CZ_STR("a\rb")));
    cr_assert(!cz_str_ieq(CZ_STR("\xc3\xa9"), CZ_STR("\xe3\xa9")), "no fold above 0x7f");
    /* every byte counts, a NUL does not end the comparison */
    cr_assert(!cz_str_ieq((cz_str_t){"a\0b", 3}, (cz_str_t){"a\0c", 3}));
    cr_assert(cz_str_ieq((cz_str_t){"A\0b", 3}, (cz_str_t){"a\0B", 3}));
}

Test(str, ieq_agrees_with_ascii_tolower_on_every_byte_pair)
{
    for (int x = 0; x < 256; x++)
        for (int y = 0; y < 256; y++) {
            char a = (char)x, b = (char)y;
            int lx = x >= 'A' && x <= 'Z' ? x + 32 : x, ly = y >= 'A' && y <= 'Z' ? y + 32 : y;
            cr_assert_eq(cz_str_ieq((cz_str_t){&a, 1}, (cz_str_t){&b, 1}), lx == ly, "%d %d", x, y);
        }
}

Test(str, eq_is_exact)
{
    cr_assert(cz_str_eq(CZ_STR("GET"), CZ_STR("GET")));
    cr_assert(!cz_str_eq(CZ_STR("GET"), CZ_STR("get")));
    cr_assert(cz_str_eq(CZ_STR_NULL, CZ_STR("")));
    cr_assert(cz_str_eq_c(CZ_STR("abc"), "abc"));
}
