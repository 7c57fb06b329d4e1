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

#include <limits.h>
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

/* Per thread; a power of two, >= 2 * LINE_MAX. Sized for a writer thread that does not get a
 * CPU for a while: a worker logging 20k access lines a second (~5 MB/s) fills 4 MiB in about
 * 0.8 s, and bench/soak_log.sh (wrk -c64 for 60 s) on a busy 2-CPU host lost 17457 of 3.1 M lines
 * with 256 KiB, none of 3.2 M with 4 MiB.
 * Pages are touched only as a thread's lines reach them. */
#define CZ__LOG_RING_CAP (4u * 1024u * 1024u)
#define CZ__LOG_LINE_MAX (48u * 1024u)  /* one encoded line, fields included */
#define CZ__LOG_CONTENT_MAX (16u * 1024u) /* raw content before encoding; longer is truncated */

#define CZ__TS_STRFTIME 1
#define CZ__TS_GO 2
#define CZ__TS_GO_FRAC 3

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
    /* Timestamp cache: the formatted second, refreshed when the second or format changes.
     * ts_custom: 0 the default; CZ__TS_STRFTIME (the format has a '%'); CZ__TS_GO, a Go layout
     * formatted once a second; CZ__TS_GO_FRAC, one that shows fractions, formatted per line. */
    int64_t ts_sec;
    unsigned ts_gen;
    int ts_custom; /* a custom TimeFormat (CZ__TS_*): no milliseconds appended */
    size_t ts_len;
    char ts[64];
    char ts_fmt[64]; /* the custom format, read once per change (the writer's copy is locked) */
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
/** Lines that failed to be written (a subset of cz_log_dropped: the destination's write failed)
 *  and the errno of the last failure. */
uint64_t cz__log_write_failed(int *last_errno);
/** Copy the custom strftime time format (empty = default ISO-8601 UTC with ms) into buf. */
void cz__log_time_format(char *buf, size_t size);

/* ---- rotation (log_rotate.c): the writer thread's side, under its pass lock ---- */

#define CZ__LOG_PATH_MAX (PATH_MAX + 16) /* a destination's file path */
typedef struct cz__log_rot cz__log_rot_t;

/** Rotation state for c's destination files paths[d], open as fd[d]. *out stays NULL in console
 *  mode. 0, CZ_ENOMEM, or CZ_EINVAL_CONF with d naming the Log key. */
int cz__log_rot_new(const cz_log_conf_t *c, char (*const paths)[CZ__LOG_PATH_MAX], const int *fd,
                    cz__log_rot_t **out, cz_diag_t *d);
void cz__log_rot_free(cz__log_rot_t *r);
/** Start of a pass: read the wall clock; watch[d] = 1 when dest d's lines must be checked
 *  with cz__log_rot_due (a new day began, or size rotation is on). */
void cz__log_rot_pass(cz__log_rot_t *r, int *watch);
/** 1 when dest d must rotate before this line (pending bytes are staged, not yet written). */
int cz__log_rot_due(cz__log_rot_t *r, int d, const char *line, size_t n, size_t pending);
/** Rotate dest d, whose staged lines have been written: *fd is replaced (the old one closed)
 *  on success. 0 or -errno (reported on stderr; *fd stays and the next try is a day or MaxSize
 *  later). */
int cz__log_rot_rotate(cz__log_rot_t *r, int d, int *fd);
/** n bytes were written to dest d's file. */
void cz__log_rot_wrote(cz__log_rot_t *r, int d, size_t n);
/** One step of pending compression; 1 while more is pending. */
int cz__log_rot_work(void);
/** Finish every pending compression (close, after the writer stopped). */
void cz__log_rot_finish(void);
/** In a forked child: forget the parent's pending compressions. */
void cz__log_rot_atfork_child(void);
/** The logger's wall clock (log.c: the test hook, or CLOCK_REALTIME) in ns. */
uint64_t cz__log_wall_ns(void);
/** Format local time ns with a Go layout ("2006-01-02T15:04:05Z07:00"); length or 0 when it
 *  does not fit cap. */
size_t cz__log_go_time(char *buf, size_t cap, const char *layout, uint64_t ns);

/* ---- test hooks (tests/unit/core/test_log.c) ---- */

/** Send dest's lines to fd from now on (fd stays the caller's; not closed by cz_log_close).
 *  Only while the writer runs (after cz_log_setup); 0 or CZ_EARG. */
int cz__log_test_set_fd(int dest, int fd);
/** Fix the wall clock used for timestamps and rotation (NULL restores the real clock). */
void cz__log_test_set_now(uint64_t (*now_ns)(void));

#endif
