/* SPDX-License-Identifier: MIT
 *
 * error.c: messages and names for czero's error codes, and diagnostics formatting.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include "czero/error.h"

const char *cz_strerror(int err)
{
    switch (err) {
#define XX(code, msg) case CZ_##code: return msg;
        CZ_ERRNO_MAP(XX)
#undef XX
    default:
        break;
    }
    if (err < 0 && err > CZ__ERR_BASE)
        return strerror(-err);
    return "unknown error";
}

const char *cz_err_name(int err)
{
    switch (err) {
#define XX(code, _) case CZ_##code: return #code;
        CZ_ERRNO_MAP(XX)
#undef XX
    default:
        break;
    }
    if (err < 0 && err > CZ__ERR_BASE) {
        const char *n = strerrorname_np(-err);
        if (n)
            return n;
    }
    return "EUNKNOWN";
}

int cz_diag_set(cz_diag_t *d, const char *file, int line, int col, const char *key, const char *fmt,
                ...)
{
    if (!d)
        return CZ_EINVAL_CONF;
    snprintf(d->file, sizeof d->file, "%s", file ? file : "");
    d->line = line;
    d->col = col;
    snprintf(d->key, sizeof d->key, "%s", key ? key : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    return CZ_EINVAL_CONF;
}

char *cz_diag_format(const cz_diag_t *d, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
#define APPEND(...)                                                              \
    do {                                                                         \
        if (n < size) {                                                          \
            int w = snprintf(buf + n, size - n, __VA_ARGS__);                    \
            if (w > 0)                                                           \
                n += (size_t)w;                                                  \
        }                                                                        \
    } while (0)
    if (d->file[0]) {
        APPEND("%s", d->file);
        if (d->line > 0)
            APPEND(":%d", d->line);
        if (d->col > 0)
            APPEND(":%d", d->col);
        APPEND(": ");
    }
    if (d->key[0])
        APPEND("%s: ", d->key);
    APPEND("%s", d->msg);
#undef APPEND
    return buf;
}
