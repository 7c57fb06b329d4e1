/* SPDX-License-Identifier: MIT
 *
 * log.h: structured logs like go-zero's logx.
 *
 * Levels debug < info < error < severe; JSON or plain encoding; console (stdout, errors to stderr)
 * or files under Log.Path (access.log, error.log, severe.log, slow.log, stat.log as logx).
 * Formatting happens on the caller's thread into a per-thread buffer; a single writer thread does
 * the write(2) calls, so a worker's event loop never blocks on the disk. When the writer falls
 * behind, lines are dropped and counted (cz_log_dropped), never waited for.
 */
#ifndef CZERO_LOG_H
#define CZERO_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include "config.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CZ_LOG_DEBUG = 0, CZ_LOG_INFO, CZ_LOG_ERROR, CZ_LOG_SEVERE } cz_log_level_t;

/** (Re)configure logging. Until called, logs go to stderr, plain, level info. 0 or error with d. */
CZ_EXTERN int cz_log_setup(const cz_log_conf_t *c, cz_diag_t *d);
/** Flush everything written so far and wait until it is on its fd (for shutdown and tests). */
CZ_EXTERN void cz_log_flush(void);
/** Flush, stop the writer thread, close files. Logging afterwards goes to stderr. */
CZ_EXTERN void cz_log_close(void);
CZ_EXTERN void cz_log_set_level(cz_log_level_t lv);
CZ_EXTERN int cz_log_enabled(cz_log_level_t lv);
CZ_EXTERN uint64_t cz_log_dropped(void);

CZ_EXTERN void cz_logf(cz_log_level_t lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
CZ_EXTERN void cz_logv(cz_log_level_t lv, const char *fmt, va_list ap);
/** Message with extra key/value fields (JSON fields or " k=v" in plain); kv is a NULL-terminated
 *  list of alternating key, value strings. */
CZ_EXTERN void cz_logkv(cz_log_level_t lv, const char *msg, const char *const *kv);
#define cz_log_debug(...) (cz_log_enabled(CZ_LOG_DEBUG) ? cz_logf(CZ_LOG_DEBUG, __VA_ARGS__) : (void)0)
#define cz_log_info(...) cz_logf(CZ_LOG_INFO, __VA_ARGS__)
#define cz_log_error(...) cz_logf(CZ_LOG_ERROR, __VA_ARGS__)
#define cz_log_severe(...) cz_logf(CZ_LOG_SEVERE, __VA_ARGS__)
/** Slow-call warning (logx.Slow): goes to slow.log in file mode. */
CZ_EXTERN void cz_log_slowf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Periodic statistics (logx.Stat): goes to stat.log in file mode; dropped when Stat is false. */
CZ_EXTERN void cz_log_statf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One access-log record: go-zero's "[HTTP] 200 - GET /hello - 127.0.0.1:5000 - curl/8" line. */
typedef struct cz_access_rec {
    cz_str_t method;
    cz_str_t path;       /* the request target as received */
    int status;
    uint64_t duration_us;
    uint64_t bytes;      /* response body bytes */
    cz_str_t remote;     /* "ip:port" */
    cz_str_t user_agent;
    cz_str_t trace_id;   /* may be empty */
    cz_str_t span_id;    /* may be empty */
} cz_access_rec_t;

/** Hot path: formats into the calling thread's buffer, no syscalls, no locks in the common case. */
CZ_EXTERN void cz_log_access(const cz_access_rec_t *r);

#ifdef __cplusplus
}
#endif
#endif
