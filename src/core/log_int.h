/* SPDX-License-Identifier: MIT
 *
 * log_int.h: private interface between log.c (line formatting, the public logging calls) and
 * log_writer.c (per-thread rings, the writer thread, setup/flush/close), plus test hooks.
 *
 * Each logging thread owns a cz__log_thread_t: scratch buffers for formatting and, once the
 * writer runs, a single-producer/single-consumer byte ring. The thread appends whole records
 * (4-byte header: length << 3 | destination, then the line) and publishes them with a release
 * store of `head`; the writer thread copies them out and releases space with a store of `tail`.
 * No lock is taken on the hot path and no buffer ever changes hands, so "handover" is just the
 * two counters. Not installed; tests include it for the hooks at the end.
 */
#ifndef CZERO_LOG_INT_H
#define CZERO_LOG_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "czero/log.h"

/* Destinations: go-zero's five writers (core/logx/writer.go concreteWriter). */
enum {
    CZ__LOG_D_ACCESS, /* info, debug: access.log / stdout */
    CZ__LOG_D_ERROR,  /* error: error.log / stderr */
    CZ__LOG_D_SEVERE, /* severe: severe.log / stderr */
    CZ__LOG_D_SLOW,   /* slow: slow.log / stderr (go-zero newConsoleWriter: slowLog = errLog) */
    CZ__LOG_D_STAT,   /* stat: stat.log / stdout */
    CZ__LOG_NDEST
};

#define CZ__LOG_RING_CAP (256u * 1024u) /* per thread; a power of two, >= 2 * LINE_MAX */
#define CZ__LOG_LINE_MAX (48u * 1024u)  /* one encoded line, fields included */
#define CZ__LOG_CONTENT_MAX (16u * 1024u) /* raw content before encoding; longer is truncated */

typedef struct cz__log_thread {
    /* Shared with the writer: head is written by the owner, tail by the writer. Separate cache
     * lines so the two sides do not bounce one line per record. */
    _Alignas(64) uint64_t head;
    _Alignas(64) uint64_t tail;
    _Alignas(64) uint64_t tail_cache; /* owner's last view of tail */
    char *ring;                       /* CZ__LOG_RING_CAP bytes, NULL until the writer runs */
    int dead;                         /* set (release) when the thread has exited */
    int registered;                   /* on the writer's list (owner-only) */
    struct cz__log_thread *next;      /* registry list, see log_writer.c */
    /* Timestamp cache: the formatted second, refreshed when the second or format changes. */
    int64_t ts_sec;
    unsigned ts_gen;
    int ts_custom; /* a custom strftime format: no milliseconds appended */
    size_t ts_len;
    char ts[64];
    char content[CZ__LOG_CONTENT_MAX + 64];
    char line[CZ__LOG_LINE_MAX];
} cz__log_thread_t;

/* Global settings read on every line; written by setup. Accessed with __atomic builtins. */
typedef struct cz__log_settings {
    int level;               /* cz_log_level_t */
    int encoding;            /* CZ_LOG_ENC_* */
    int stat;                /* Stat lines enabled */
    uint32_t max_content;    /* MaxContentLength, 0 = none */
    unsigned tf_gen;         /* bumped when the time format changes */
    uint64_t (*now_ns)(void); /* test hook: wall clock; NULL = clock_gettime(CLOCK_REALTIME) */
} cz__log_settings_t;

extern cz__log_settings_t cz__log_g;

/** The calling thread's state, created on first use; NULL only if malloc failed. */
cz__log_thread_t *cz__log_thread(void);
/** Queue one encoded line (n <= CZ__LOG_LINE_MAX, newline included) for dest, or write it
 *  synchronously to stderr when the writer is not running. Drops and counts when full. */
void cz__log_commit(cz__log_thread_t *t, int dest, const char *line, size_t n);
/** Count one dropped line. */
void cz__log_drop(void);
/** Copy the custom strftime time format (empty = default ISO-8601 UTC with ms) into buf. */
void cz__log_time_format(char *buf, size_t size);

/* ---- test hooks (tests/unit/core/test_log.c) ---- */

/** Send dest's lines to fd from now on (fd stays the caller's; not closed by cz_log_close).
 *  Only while the writer runs (after cz_log_setup); 0 or CZ_EARG. */
int cz__log_test_set_fd(int dest, int fd);
/** Fix the wall clock used for timestamps (NULL restores the real clock). */
void cz__log_test_set_now(uint64_t (*now_ns)(void));

#endif
