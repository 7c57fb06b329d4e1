/* SPDX-License-Identifier: MIT
 *
 * str.h: string views. A cz_str_t points into memory someone else owns (the connection's read
 * buffer, the request arena, the config); copy it only when it must outlive that owner.
 */
#ifndef CZERO_STR_H
#define CZERO_STR_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct cz_str {
    const char *p;
    size_t n;
} cz_str_t;

#define CZ_STR(lit) ((cz_str_t){(lit), sizeof(lit) - 1})
#define CZ_STR_NULL ((cz_str_t){NULL, 0})

static inline cz_str_t cz_str_c(const char *s) { return (cz_str_t){s, s ? strlen(s) : 0}; }
static inline int cz_str_eq(cz_str_t a, cz_str_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}
static inline int cz_str_eq_c(cz_str_t a, const char *b) { return cz_str_eq(a, cz_str_c(b)); }
/* ASCII case-insensitive equality (HTTP's rule for names and tokens; no locale), all n bytes
 * compared, NULs included. Inline: header names are short and usually differ at once or match
 * byte for byte, where a libc call costs more than the comparison. */
static inline int cz_str_ieq(cz_str_t a, cz_str_t b)
{
    if (a.n != b.n)
        return 0;
    for (size_t i = 0; i < a.n; i++) {
        unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
        if (x != y) {
            /* the same letter in the other case differs in bit 0x20 only */
            x |= 0x20;
            if (x != (y | 0x20) || x < 'a' || x > 'z')
                return 0;
        }
    }
    return 1;
}

#endif
