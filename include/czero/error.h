/* SPDX-License-Identifier: MIT
 *
 * error.h: czero's error codes and diagnostics.
 *
 * Every fallible czero call returns 0 or a negative code. System-call failures pass through as
 * -errno; czero's own codes come from CZ_ERRNO_MAP below, which also generates cz_strerror() and
 * cz_err_name() (libuv's UV_ERRNO_MAP idea). Where a person reads the error (config files, .api
 * files, the command line) a cz_diag_t carries file:line:column, the key and a message.
 */
#ifndef CZERO_ERROR_H
#define CZERO_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CZ_EXTERN __attribute__((visibility("default")))
#else
#define CZ_EXTERN
#endif

/* czero's own codes live well below any errno value. */
#define CZ__ERR_BASE (-10000)

#define CZ_ERRNO_MAP(XX)                                                \
    XX(EINVAL_CONF, "invalid configuration")                            \
    XX(EBREAKER, "circuit breaker is open")                             \
    XX(EOVERLOAD, "service overloaded, request shed")                   \
    XX(ELIMIT, "rate limit exceeded")                                   \
    XX(ETIMEOUT, "operation timed out")                                 \
    XX(ENOSERVICE, "no service available")                              \
    XX(EDUPLICATE, "duplicate registration")                            \
    XX(ENOTFOUND, "not found")                                          \
    XX(EPARSE, "parse error")                                           \
    XX(EFULL, "queue is full")                                          \
    XX(ECLOSED, "closed")                                               \
    XX(EREDIS, "redis error")                                           \
    XX(ENOMEM, "out of memory")                                         \
    XX(EARG, "invalid argument")                                        \
    XX(ETLS, "TLS handshake failed")

typedef enum {
    CZ__ERR_FIRST = CZ__ERR_BASE,
#define XX(code, _) CZ_##code,
    CZ_ERRNO_MAP(XX)
#undef XX
    CZ__ERR_LAST
} cz_errno_t;

/* Operation continues later (async handler, parked middleware). Not an error. */
#define CZ_AGAIN 1

/** Message for a czero code or a -errno value. Never NULL; static storage. */
CZ_EXTERN const char *cz_strerror(int err);
/** Symbolic name ("EBREAKER", "ECONNREFUSED"...). Never NULL; static storage. */
CZ_EXTERN const char *cz_err_name(int err);

/* Human-facing diagnostic: printed as "file:line:col: key: msg". line/col are 1-based, 0 = unknown. */
typedef struct cz_diag {
    char file[256];
    int line;
    int col;
    char key[128];
    char msg[256];
} cz_diag_t;

/** Fill d (which may be NULL) and return CZ_EINVAL_CONF. printf-style message. */
CZ_EXTERN int cz_diag_set(cz_diag_t *d, const char *file, int line, int col, const char *key,
                          const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/** Format d as "file:line:col: key: msg" into buf (always NUL-terminated). Returns buf. */
CZ_EXTERN char *cz_diag_format(const cz_diag_t *d, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
