/* SPDX-License-Identifier: MIT
 *
 * log.h: structured logs like go-zero's logx.
 *
 * Levels debug < info < error < severe; JSON or plain encoding; console or files under Log.Path
 * (access.log, error.log, severe.log, slow.log, stat.log as logx). Console mode follows logx's
 * newConsoleWriter: info, debug and stat lines go to stdout; error, severe and slow to stderr.
 * JSON lines: {"@timestamp":"2026-11-25T08:00:00.000Z","content":"...","level":"info",...};
 * plain lines: "2026-11-25T08:00:00.000Z\tinfo\tcontent\tkey=value". Timestamps are UTC. A
 * custom Log.TimeFormat is a Go layout, as logx takes it ("2006-01-02 15:04:05.000"), in local
 * time as Go formats it (TZ; UTC in most containers), or a strftime format (UTC) when it has a
 * '%'.
 * Formatting happens on the caller's thread into a per-thread buffer; a single writer thread does
 * the write(2) calls, so a worker's event loop never blocks on the disk. Each thread's buffer
 * holds 4 MiB of lines. When the writer falls behind that much, lines are dropped and counted
 * (cz_log_dropped, czero_log_dropped_lines_total on /metrics, ", log dropped: N" on the stat
 * line), never waited for; the writer says so in the error log, once a second at most. Queued
 * lines reach their file within about 100 ms. All calls are thread-safe; lines a thread queued
 * before it exits are still written. An encoded line is at most 48 KiB and printf content 16 KiB: longer
 * content is cut and the line gets "truncated":true, as with Log.MaxContentLength.
 *
 * File and volume modes rotate the files as logx's rotatelogger.go (Log.Rotation, KeepDays,
 * MaxSize, MaxBackups, Compress, FileTimeFormat in config.h). The writer thread does it between
 * lines, so no line is lost or written twice and logging threads never touch the disk for it.
 * daily: access.log becomes access.log-2026-11-25 (the local day it was started) at the first
 * line of a later day, the day read from the line's own timestamp (the pass's time under a
 * custom TimeFormat); a file nobody writes to is rotated at its next line, as in logx. size:
 * access.log becomes access-<start time in FileTimeFormat>.log when the next line would take
 * it past MaxSize MB (a name already taken gets a number: access-<time>.1.log,
 * access.log-2026-11-25.1, where logx would overwrite the older backup). After a
 * rotation the backup is gzipped (Compress; in steps, between passes; cz_log_close finishes
 * what is pending; a process that dies mid-way leaves the plain backup, which the next
 * start compresses again), then
 * backups older than KeepDays days and, for size, beyond MaxBackups are deleted, chosen by file
 * name as logx does. A failed rename or open is reported once on stderr and lines keep going to
 * the file already open; the next try is the next day or MaxSize later.
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

/** (Re)configure logging and start the writer thread. Until called, logs go to stderr, plain,
 *  level info, written synchronously by the caller. Calling it again flushes and replaces the
 *  previous setup. File/volume mode creates the directory if missing. Returns 0, CZ_EARG (c is
 *  NULL), CZ_EINVAL_CONF (bad field, d says which) or -errno (cannot create/open, d names the
 *  path); on error the previous setup stays in force. d may be NULL. */
CZ_EXTERN int cz_log_setup(const cz_log_conf_t *c, cz_diag_t *d);
/** Wait until every line logged (by any thread) before this call has been written to its fd.
 *  Blocks while the writer is blocked (a full pipe). No-op before setup. Not from the writer. */
CZ_EXTERN void cz_log_flush(void);
/** Flush, stop the writer thread, close files. Logging afterwards goes to stderr (synchronously)
 *  until the next cz_log_setup. Call it after worker threads stopped logging. */
CZ_EXTERN void cz_log_close(void);
/** Change the minimum level at run time (atomic; out-of-range values are ignored). */
CZ_EXTERN void cz_log_set_level(cz_log_level_t lv);
/** 1 when lines of level lv are written, else 0. */
CZ_EXTERN int cz_log_enabled(cz_log_level_t lv);
/** Lines dropped since start because a ring was full, memory was short or a write failed. */
CZ_EXTERN uint64_t cz_log_dropped(void);

/** printf-style line at level lv (routed as described above). */
CZ_EXTERN void cz_logf(cz_log_level_t lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** va_list form of cz_logf. */
CZ_EXTERN void cz_logv(cz_log_level_t lv, const char *fmt, va_list ap);
/** Message with extra key/value fields (JSON string fields, or "\tk=v" in plain); kv is a
 *  NULL-terminated list of alternating key, value strings (may be NULL). Nothing is retained. */
CZ_EXTERN void cz_logkv(cz_log_level_t lv, const char *msg, const char *const *kv);
#define cz_log_debug(...) (cz_log_enabled(CZ_LOG_DEBUG) ? cz_logf(CZ_LOG_DEBUG, __VA_ARGS__) : (void)0)
#define cz_log_info(...) cz_logf(CZ_LOG_INFO, __VA_ARGS__)
#define cz_log_error(...) cz_logf(CZ_LOG_ERROR, __VA_ARGS__)
#define cz_log_severe(...) cz_logf(CZ_LOG_SEVERE, __VA_ARGS__)

/** A line that carries a trace: "span" and "trace" fields (JSON) or "\tspan=...\ttrace=..."
 *  (plain), each left out when empty, as logx.WithContext writes them. */
CZ_EXTERN void cz_logv_trace(cz_log_level_t lv, cz_str_t trace_id, cz_str_t span_id,
                             const char *fmt, va_list ap);

/* ---- a request's logs (logx.WithContext(r.Context())): defined in src/http/mw/trace.c ---- */
typedef struct cz_req cz_req_t;
/** printf-style line at level lv with the request's trace and span ids (those of its access
 *  line and of the traceparent it answers with); without them when the request is not traced.
 *  From the handler's thread while it holds the request. */
CZ_EXTERN void cz_req_logf(const cz_req_t *req, cz_log_level_t lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define cz_req_log_debug(req, ...)                                                               \
    (cz_log_enabled(CZ_LOG_DEBUG) ? cz_req_logf((req), CZ_LOG_DEBUG, __VA_ARGS__) : (void)0)
#define cz_req_log_info(req, ...) cz_req_logf((req), CZ_LOG_INFO, __VA_ARGS__)
#define cz_req_log_error(req, ...) cz_req_logf((req), CZ_LOG_ERROR, __VA_ARGS__)
#define cz_req_log_severe(req, ...) cz_req_logf((req), CZ_LOG_SEVERE, __VA_ARGS__)

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

/** Hot path: formats into the calling thread's buffer, no syscalls, no locks, no malloc (after
 *  the thread's first line). Content "[HTTP] 200 - GET /hello - 127.0.0.1:5000 - curl/8.0"
 *  plus "duration" ("%.1fms", as logx WithDuration) and "span"/"trace" when non-empty. Level
 *  info, or error for status >= 500 (go-zero's logBrief). bytes is not printed (logx does not). */
CZ_EXTERN void cz_log_access(const cz_access_rec_t *r);

#ifdef __cplusplus
}
#endif
#endif
