/* SPDX-License-Identifier: MIT
 *
 * base64.c: RFC 4648 base64, standard and URL alphabets, written by hand so decoding can be
 * strict (OpenSSL's EVP_DecodeBlock skips whitespace and cannot tell padding from zero bytes).
 * A JWT's segments are base64url without padding; go-zero's content security uses the standard
 * alphabet with padding (Go's base64.StdEncoding).
 */
#include <string.h>
#include "czero/codec.h"

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t cz_base64_encoded_len(size_t n, unsigned flags)
{
    if (flags & CZ_B64_NOPAD)
        return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
    return (n + 2) / 3 * 4;
}

size_t cz_base64_encode(char *out, const void *in, size_t n, unsigned flags)
{
    const char *a = (flags & CZ_B64_URL) ? url_alpha : std_alpha;
    const uint8_t *p = in;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
        *o++ = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        if (!(flags & CZ_B64_NOPAD)) {
            *o++ = '=';
            *o++ = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
        if (!(flags & CZ_B64_NOPAD))
            *o++ = '=';
    }
    *o = '\0';
    return (size_t)(o - out);
}

static int sextet(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

int cz_base64_decode(void *out, size_t *out_n, const char *in, size_t n, unsigned flags)
{
    bool url = flags & CZ_B64_URL;
    *out_n = 0;
    if (!(flags & CZ_B64_NOPAD)) {
        if (n % 4)
            return CZ_EPARSE;
        /* strip at most two '=' and decode the rest as unpadded */
        size_t pad = 0;
        while (pad < 2 && n > 0 && in[n - 1] == '=') {
            n--;
            pad++;
        }
        if (pad && n % 4 != 4 - pad)
            return CZ_EPARSE;
    }
    if (n % 4 == 1)
        return CZ_EPARSE;
    uint8_t *o = out;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        int a = sextet(in[i], url), b = sextet(in[i + 1], url), c = sextet(in[i + 2], url),
            d = sextet(in[i + 3], url);
        if ((a | b | c | d) < 0)
            return CZ_EPARSE;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        *o++ = (uint8_t)(v >> 16);
        *o++ = (uint8_t)(v >> 8);
        *o++ = (uint8_t)v;
    }
    size_t rest = n - i;
    if (rest) {
        int a = sextet(in[i], url), b = sextet(in[i + 1], url);
        int c = rest == 3 ? sextet(in[i + 2], url) : 0;
        if ((a | b | c) < 0)
            return CZ_EPARSE;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        /* the bits below the last whole byte must be zero (canonical encoding) */
        if (rest == 2 ? (v & 0xffff) : (v & 0xff))
            return CZ_EPARSE;
        *o++ = (uint8_t)(v >> 16);
        if (rest == 3)
            *o++ = (uint8_t)(v >> 8);
    }
    *out_n = (size_t)(o - (uint8_t *)out);
    return 0;
}
