/* SPDX-License-Identifier: MIT
 *
 * pathclean.c: URL path normalisation before routing: Go's path.Clean (src/path/path.go, the
 * lazybuf algorithm, "Lexical File Names in Plan 9 or Getting Dot-Dot Right") and a %XX decoder
 * matching what net/url leaves in URL.Path. go-zero's patrouter cleans r.URL.Path with
 * path.Clean before the tree search; the HTTP engine does the same with these two functions.
 * Neither allocates; both can work in place because the write cursor never passes the read one.
 */
#include "czero/router.h"

size_t cz_path_clean(const char *in, size_t n, char *out)
{
    if (n == 0) {
        /* Go returns "." here; for a URL an empty path is the root (see router.h). */
        out[0] = '/';
        return 1;
    }
    int rooted = in[0] == '/';
    size_t r = 0, w = 0, dotdot = 0; /* read cursor, write cursor, where ".." may backtrack to */
    if (rooted) {
        out[w++] = '/';
        r = dotdot = 1;
    }
    while (r < n) {
        if (in[r] == '/') {
            r++; /* empty element */
        } else if (in[r] == '.' && (r + 1 == n || in[r + 1] == '/')) {
            r++; /* "." element */
        } else if (in[r] == '.' && in[r + 1] == '.' && (r + 2 == n || in[r + 2] == '/')) {
            r += 2; /* ".." element: drop the last element written, if there is one */
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                /* A relative path keeps leading ".." elements (never for a rooted one). */
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            while (r < n && in[r] != '/')
                out[w++] = in[r++];
        }
    }
    if (w == 0)
        out[w++] = '.'; /* e.g. "a/.." */
    return w;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII lower case */
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t cz_path_unescape(const char *in, size_t n, char *out, int *err)
{
    size_t w = 0;
    *err = 0;
    for (size_t r = 0; r < n; r++) {
        if (in[r] != '%') {
            out[w++] = in[r];
            continue;
        }
        /* Go's url.unescape rejects a '%' not followed by two hex digits. */
        if (r + 2 >= n) {
            *err = 1;
            return w;
        }
        int hi = hexval((unsigned char)in[r + 1]), lo = hexval((unsigned char)in[r + 2]);
        if (hi < 0 || lo < 0 || (hi | lo) == 0) {
            *err = 1; /* bad digit, or %00: a NUL has no business in a path */
            return w;
        }
        out[w++] = (char)(hi << 4 | lo);
        r += 2;
    }
    return w;
}
