/* SPDX-License-Identifier: MIT
 *
 * Tests for src/core/codec/base64.c: RFC 4648 section 10 vectors in both alphabets, with and
 * without padding, and the strictness rules (one encoding per byte string).
 */
#include <criterion/criterion.h>
#include <string.h>
#include "czero/codec.h"

static const char *const rfc[][2] = {
    {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

Test(base64, rfc4648_vectors_round_trip)
{
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        char enc[16];
        size_t n = strlen(rfc[i][0]);
        cr_assert_eq(cz_base64_encode(enc, rfc[i][0], n, 0), strlen(rfc[i][1]));
        cr_assert_eq(cz_base64_encoded_len(n, 0), strlen(rfc[i][1]));
        cr_assert_str_eq(enc, rfc[i][1]);
        char dec[16];
        size_t dn = 99;
        cr_assert_eq(cz_base64_decode(dec, &dn, enc, strlen(enc), 0), 0, "%s", enc);
        cr_assert_eq(dn, n);
        cr_assert_arr_eq(dec, rfc[i][0], n);
        /* unpadded: same text without '=' */
        size_t un = cz_base64_encode(enc, rfc[i][0], n, CZ_B64_NOPAD);
        cr_assert_eq(un, cz_base64_encoded_len(n, CZ_B64_NOPAD));
        cr_assert_eq(strchr(enc, '='), NULL);
        cr_assert_eq(cz_base64_decode(dec, &dn, enc, un, CZ_B64_NOPAD), 0);
        cr_assert_eq(dn, n);
    }
}

Test(base64, url_alphabet)
{
    const uint8_t in[] = {0xfb, 0xff, 0xbf};
    char enc[8];
    cz_base64_encode(enc, in, 3, 0);
    cr_assert_str_eq(enc, "+/+/");
    cz_base64_encode(enc, in, 3, CZ_B64_URL);
    cr_assert_str_eq(enc, "-_-_");
    uint8_t out[8];
    size_t n;
    cr_assert_eq(cz_base64_decode(out, &n, "-_-_", 4, CZ_B64_URL), 0);
    cr_assert_arr_eq(out, in, 3);
    cr_assert_eq(cz_base64_decode(out, &n, "+/+/", 4, CZ_B64_URL), CZ_EPARSE);
    cr_assert_eq(cz_base64_decode(out, &n, "-_-_", 4, 0), CZ_EPARSE);
}

Test(base64, strict_decoding)
{
    uint8_t out[16];
    size_t n;
    const char *bad_padded[] = {"Zg=", "Zg", "Z===", "Zm9=v", "Zh==", "Zm9vYg=\n", " Zg==",
                                "Zg==Zg==", "Zm8=" "=", "Zm9vY==="};
    for (size_t i = 0; i < sizeof bad_padded / sizeof bad_padded[0]; i++)
        cr_assert_eq(cz_base64_decode(out, &n, bad_padded[i], strlen(bad_padded[i]), 0),
                     CZ_EPARSE, "%s", bad_padded[i]);
    const char *bad_raw[] = {"Zg==", "Z", "Zh", "Zm9", "Zm!v"};
    for (size_t i = 0; i < sizeof bad_raw / sizeof bad_raw[0]; i++)
        cr_assert_eq(cz_base64_decode(out, &n, bad_raw[i], strlen(bad_raw[i]), CZ_B64_NOPAD),
                     CZ_EPARSE, "%s", bad_raw[i]);
    cr_assert_eq(cz_base64_decode(out, &n, "Zm8", 3, CZ_B64_NOPAD), 0);
    cr_assert_eq(n, 2);
}
