/* SPDX-License-Identifier: MIT
 *
 * log_writer.c: where formatted lines go. Per-thread rings, the single writer thread, the
 * console/file destinations, cz_log_setup/flush/close, and thread-exit handling.
 *
 * Each logging thread owns an SPSC byte ring (see log_int.h); the writer thread wakes every
 * 20 ms, or when a ring holds 32 KiB, copies every ring's records into one staging buffer
 * per destination and writes each with one write(2). A producer never waits: when its ring has
 * no room the line is dropped and counted. cz_log_flush is a generation handshake: the writer
 * reads the requested generation, drains everything published so far and then reports that
 * generation done. A thread that exits marks its ring dead (pthread key destructor); the writer
 * drains and frees it. Before cz_log_setup and after cz_log_close lines are written
 * synchronously to stderr by the caller. In file and volume modes the writer also rotates the
 * files (log_rotate.c): the rule is consulted per line only for a destination it watches in
 * this pass (a day has begun, or size rotation is on), and a rotation writes the lines staged
 * before the due line to the old file, swaps files, and goes on, so no line is lost or doubled.
 * Producers do no extra work for it.
 *
 * Rings were chosen over double-buffer swapping because the producer then touches no lock and
 * no shared pointer at all (only its own head and, when nearly full, the writer's tail);
 * bench/micro/bench_log.c measures the whole cz_log_access at about 0.2 us.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"
#include "core/log_int.h"

#define RING_MASK (CZ__LOG_RING_CAP - 1u)
#define STAGE_CAP (64u * 1024u)
#define TICK_MS 20 /* a line waits at most about this long before it is written */
/* A producer wakes the writer early once this much is queued. Small passes matter more than
 * few wake-ups: the writer often shares a core with a busy event loop, and a pass that copies
 * and writes a megabyte holds that core for a millisecond, which shows in the p99 latency;
 * 32 KiB passes cost tens of microseconds (nginx writes its 64 KiB log buffer inline). */
#define KICK_BYTES (32u * 1024u)
#define DROP_LOG_MS 1000 /* a line about dropped lines at most this often */

_Static_assert((CZ__LOG_RING_CAP & RING_MASK) == 0, "ring capacity must be a power of two");
_Static_assert(CZ__LOG_RING_CAP >= 2 * (CZ__LOG_LINE_MAX + 8), "ring must hold two lines");
_Static_assert(STAGE_CAP >= CZ__LOG_LINE_MAX, "a line must fit a stage");

static struct {
    pthread_mutex_t ctl_mu;   /* serializes setup/close */
    pthread_mutex_t reg_mu;   /* registry list, `running`, freeing rings */
    cz__log_thread_t *rings;  /* registered threads; only the writer (or close) unlinks */
    int running;              /* a writer thread exists (reg_mu) */
    int async;                /* producers queue into rings (atomic) */
    pthread_t thr;
    pthread_mutex_t pass_mu;  /* held by the writer for a whole pass: fds change between */
    pthread_mutex_t mu;       /* writer handshake */
    pthread_cond_t wake, done;
    uint64_t req_gen, done_gen;
    int stop, exited;
    int kick;                 /* atomic: a producer asked for an early pass */
    int fd[CZ__LOG_NDEST];    /* atomic: written by setup and the test hook */
    int own[CZ__LOG_NDEST];   /* close fd[i] on cz_log_close */
    char *stage[CZ__LOG_NDEST];
    size_t stage_n[CZ__LOG_NDEST], stage_lines[CZ__LOG_NDEST];
    uint64_t dropped;         /* atomic */
    uint64_t write_failed;    /* atomic: of dropped, lines whose write(2) failed */
    int write_errno;          /* atomic: the last such failure */
    uint64_t drop_logged;     /* writer: dropped as of its last line about it */
    struct timespec drop_log_at;
    pthread_mutex_t tf_mu;
    char tf[64];              /* custom Go layout or strftime format, "" = default */
    cz__log_rot_t *rot;       /* file rotation, NULL in console mode (changed under pass_mu) */
    int watch[CZ__LOG_NDEST]; /* this pass checks dest d's lines against the rotation rule */
} w = {
    .ctl_mu = PTHREAD_MUTEX_INITIALIZER,
    .reg_mu = PTHREAD_MUTEX_INITIALIZER,
    .pass_mu = PTHREAD_MUTEX_INITIALIZER,
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .tf_mu = PTHREAD_MUTEX_INITIALIZER,
    .fd = {2, 2, 2, 2, 2},
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static __thread cz__log_thread_t *tls;

static void thread_exit(void *p);

static void init_wake(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.wake, &ca);
    pthread_condattr_destroy(&ca);
}

/* A forked child has no writer thread: it logs synchronously to stderr until it calls
 * cz_log_setup itself. The parent's queued lines stay the parent's to write. */
static void atfork_child(void)
{
    pthread_mutex_init(&w.ctl_mu, NULL);
    pthread_mutex_init(&w.reg_mu, NULL);
    pthread_mutex_init(&w.pass_mu, NULL);
    pthread_mutex_init(&w.mu, NULL);
    pthread_mutex_init(&w.tf_mu, NULL);
    pthread_cond_init(&w.done, NULL);
    init_wake();
    w.async = w.running = w.stop = w.exited = w.kick = 0;
    w.req_gen = w.done_gen = 0;
    w.rings = NULL; /* other threads' state is unreachable garbage in the child */
    cz__log_rot_free(w.rot);
    w.rot = NULL;
    cz__log_rot_atfork_child();
    for (int d = 0; d < CZ__LOG_NDEST; d++) {
        if (w.own[d])
            close(w.fd[d]);
        w.fd[d] = 2;
        w.own[d] = 0;
        free(w.stage[d]);
        w.stage[d] = NULL;
        w.stage_n[d] = w.stage_lines[d] = 0;
    }
    if (tls) {
        tls->registered = 0;
        tls->head = tls->tail = tls->tail_cache = 0;
    }
}

static void init_once(void)
{
    init_wake();
    pthread_key_create(&key, thread_exit);
    pthread_atfork(NULL, NULL, atfork_child);
}

/* ---- output ---- */

/* Write everything, riding out EINTR and non-blocking fds; returns 0 or -errno. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r >= 0) {
            p += r;
            n -= (size_t)r;
        } else if (errno == EAGAIN) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            poll(&pfd, 1, TICK_MS);
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

static void stage_flush(int d)
{
    if (!w.stage_n[d])
        return;
    int rc = write_all(__atomic_load_n(&w.fd[d], __ATOMIC_RELAXED), w.stage[d], w.stage_n[d]);
    if (rc < 0) {
        __atomic_add_fetch(&w.dropped, w.stage_lines[d], __ATOMIC_RELAXED);
        __atomic_add_fetch(&w.write_failed, w.stage_lines[d], __ATOMIC_RELAXED);
        __atomic_store_n(&w.write_errno, -rc, __ATOMIC_RELAXED);
    } else if (w.rot)
        cz__log_rot_wrote(w.rot, d, w.stage_n[d]);
    w.stage_n[d] = 0;
    w.stage_lines[d] = 0;
}

/* The line just staged at w.stage[d] + at (n bytes) must start a new file: write what was
 * staged before it to the old one, rotate, and keep the line staged for the new one. */
static void rotate_before(int d, size_t at, size_t n)
{
    w.stage_n[d] = at;
    w.stage_lines[d]--;
    stage_flush(d);
    memmove(w.stage[d], w.stage[d] + at, n);
    w.stage_n[d] = n;
    w.stage_lines[d] = 1;
    int fd = __atomic_load_n(&w.fd[d], __ATOMIC_RELAXED);
    if (cz__log_rot_rotate(w.rot, d, &fd) == 0)
        __atomic_store_n(&w.fd[d], fd, __ATOMIC_RELAXED);
    int watch[CZ__LOG_NDEST];
    cz__log_rot_pass(w.rot, watch);
    w.watch[d] = watch[d] && w.own[d];
}

/* Move t's published records into the stages (writer thread, or close with the writer gone). */
static void drain_ring(cz__log_thread_t *t)
{
    uint64_t h = __atomic_load_n(&t->head, __ATOMIC_ACQUIRE), tl = t->tail;
    while (tl < h) {
        size_t off = (size_t)(tl & RING_MASK);
        uint32_t hdr;
        memcpy(&hdr, t->ring + off, 4); /* 4-aligned records: a header never wraps */
        size_t n = hdr >> 3;
        int d = (int)(hdr & 7);
        off = (off + 4) & RING_MASK;
        if (w.stage_n[d] + n > STAGE_CAP) {
            __atomic_store_n(&t->tail, tl, __ATOMIC_RELEASE); /* free space before blocking */
            stage_flush(d);
        }
        size_t first = cz__min(n, CZ__LOG_RING_CAP - off), at = w.stage_n[d];
        memcpy(w.stage[d] + at, t->ring + off, first);
        memcpy(w.stage[d] + at + first, t->ring, n - first);
        w.stage_n[d] += n;
        w.stage_lines[d]++;
        if (cz__unlikely(w.watch[d]) && cz__log_rot_due(w.rot, d, w.stage[d] + at, n, at))
            rotate_before(d, at, n);
        tl += 4 + ((n + 3) & ~(size_t)3);
    }
    __atomic_store_n(&t->tail, tl, __ATOMIC_RELEASE);
}

static void free_thread(cz__log_thread_t *t)
{
    free(t->ring);
    free(t);
}

/* Unlink and free exited threads whose rings are empty. Caller holds reg_mu. */
static void reap_dead(void)
{
    for (cz__log_thread_t **pp = &w.rings; *pp;) {
        cz__log_thread_t *t = *pp;
        /* dead is stored after the thread's last head store, so head is final here */
        if (__atomic_load_n(&t->dead, __ATOMIC_ACQUIRE) &&
            __atomic_load_n(&t->head, __ATOMIC_ACQUIRE) == t->tail) {
            *pp = t->next;
            free_thread(t);
        } else {
            pp = &t->next;
        }
    }
}

static void drain_all(void)
{
    if (w.rot) {
        cz__log_rot_pass(w.rot, w.watch);
        for (int d = 0; d < CZ__LOG_NDEST; d++)
            w.watch[d] = w.watch[d] && w.own[d]; /* not a test hook's fd */
    }
    pthread_mutex_lock(&w.reg_mu);
    cz__log_thread_t *first = w.rings;
    pthread_mutex_unlock(&w.reg_mu);
    /* Pushes only change w.rings and unlinking is ours alone, so the walk needs no lock. */
    for (cz__log_thread_t *t = first; t; t = t->next)
        drain_ring(t);
    for (int d = 0; d < CZ__LOG_NDEST; d++)
        stage_flush(d);
    pthread_mutex_lock(&w.reg_mu);
    reap_dead();
    pthread_mutex_unlock(&w.reg_mu);
}

/* Writer thread, between passes: say that lines were lost, once a second at most, through the
 * log itself (the error destination), so the loss shows where the operator looks. */
static void report_drops(void)
{
    uint64_t n = __atomic_load_n(&w.dropped, __ATOMIC_RELAXED);
    if (n == w.drop_logged)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (now.tv_sec - w.drop_log_at.tv_sec) * 1000 +
                 (now.tv_nsec - w.drop_log_at.tv_nsec) / 1000000;
    if (w.drop_log_at.tv_sec && ms < DROP_LOG_MS)
        return;
    int e = 0;
    uint64_t failed = cz__log_write_failed(&e);
    static uint64_t failed_logged;
    cz_log_error("log: %llu lines dropped since the last report (%llu in all): %s",
                 (unsigned long long)(n - w.drop_logged), (unsigned long long)n,
                 failed != failed_logged ? strerror(e)
                                         : "the writer fell behind and a thread's buffer was full");
    failed_logged = failed;
    w.drop_logged = n;
    w.drop_log_at = now;
}

static void *writer_main(void *arg)
{
    (void)arg;
    int busy = 0; /* compression pending: pass again without waiting for the tick */
    pthread_mutex_lock(&w.mu);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!busy && !w.stop && w.req_gen == w.done_gen &&
               !__atomic_load_n(&w.kick, __ATOMIC_ACQUIRE))
            if (pthread_cond_timedwait(&w.wake, &w.mu, &until) == ETIMEDOUT)
                break;
        uint64_t gen = w.req_gen;
        int stop = w.stop;
        __atomic_store_n(&w.kick, 0, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&w.mu);
        pthread_mutex_lock(&w.pass_mu);
        drain_all();
        busy = cz__log_rot_work();
        pthread_mutex_unlock(&w.pass_mu);
        if (!stop)
            report_drops();
        pthread_mutex_lock(&w.mu);
        w.done_gen = gen;
        pthread_cond_broadcast(&w.done);
        if (stop)
            break;
    }
    w.exited = 1;
    pthread_cond_broadcast(&w.done);
    pthread_mutex_unlock(&w.mu);
    return NULL;
}

static void kick(void)
{
    if (__atomic_load_n(&w.kick, __ATOMIC_RELAXED) ||
        __atomic_exchange_n(&w.kick, 1, __ATOMIC_ACQ_REL))
        return; /* a pass is already requested: no syscall */
    /* Signalled after the unlock: a writer woken while this thread still held mu would block on
     * it at once and need a second wake-up (on a shared core, two more context switches per
     * kick). Taking mu first still orders the signal after a writer that saw no kick is waiting. */
    pthread_mutex_lock(&w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_cond_signal(&w.wake);
}

/* ---- producers ---- */

cz__log_thread_t *cz__log_thread(void)
{
    cz__log_thread_t *t = tls;
    if (cz__likely(t != NULL))
        return t;
    pthread_once(&once, init_once);
    void *mem;
    if (posix_memalign(&mem, 64, sizeof *t) != 0)
        return NULL;
    t = mem;
    /* Leave the big scratch buffers untouched: pages are only faulted in as lines need them. */
    memset(t, 0, offsetof(cz__log_thread_t, ts));
    t->ts_sec = -1;
    t->ts_gen = ~0u;
    tls = t;
    pthread_setspecific(key, t);
    return t;
}

void cz__log_drop(void) { __atomic_add_fetch(&w.dropped, 1, __ATOMIC_RELAXED); }

uint64_t cz_log_dropped(void) { return __atomic_load_n(&w.dropped, __ATOMIC_RELAXED); }

uint64_t cz__log_write_failed(int *last_errno)
{
    if (last_errno)
        *last_errno = __atomic_load_n(&w.write_errno, __ATOMIC_RELAXED);
    return __atomic_load_n(&w.write_failed, __ATOMIC_RELAXED);
}

static int register_thread(cz__log_thread_t *t)
{
    if (!t->ring && !(t->ring = malloc(CZ__LOG_RING_CAP)))
        return -1;
    pthread_mutex_lock(&w.reg_mu);
    t->next = w.rings;
    w.rings = t;
    pthread_mutex_unlock(&w.reg_mu);
    t->registered = 1;
    return 0;
}

void cz__log_commit(cz__log_thread_t *t, int dest, const char *line, size_t n)
{
    if (!__atomic_load_n(&w.async, __ATOMIC_ACQUIRE)) {
        if (write_all(2, line, n) < 0)
            cz__log_drop();
        return;
    }
    if (cz__unlikely(!t->registered) && register_thread(t) < 0) {
        cz__log_drop();
        return;
    }
    uint64_t head = t->head, rec = 4 + ((n + 3) & ~(uint64_t)3);
    if (head + rec - t->tail_cache > CZ__LOG_RING_CAP) {
        t->tail_cache = __atomic_load_n(&t->tail, __ATOMIC_ACQUIRE);
        if (head + rec - t->tail_cache > CZ__LOG_RING_CAP) {
            cz__log_drop(); /* the writer is behind: never wait for it */
            kick();
            return;
        }
    }
    size_t off = (size_t)(head & RING_MASK);
    uint32_t hdr = (uint32_t)(n << 3 | (size_t)dest);
    memcpy(t->ring + off, &hdr, 4);
    off = (off + 4) & RING_MASK;
    size_t first = cz__min(n, CZ__LOG_RING_CAP - off);
    memcpy(t->ring + off, line, first);
    memcpy(t->ring, line + first, n - first);
    __atomic_store_n(&t->head, head + rec, __ATOMIC_RELEASE);
    if (cz__unlikely(head + rec - t->tail_cache > KICK_BYTES)) {
        t->tail_cache = __atomic_load_n(&t->tail, __ATOMIC_ACQUIRE);
        if (head + rec - t->tail_cache > KICK_BYTES)
            kick();
    }
}

/* Write t's queued records straight to stderr (no writer exists; caller holds reg_mu). */
static void dump_sync(cz__log_thread_t *t)
{
    uint64_t h = __atomic_load_n(&t->head, __ATOMIC_ACQUIRE), tl = t->tail;
    while (tl < h) {
        size_t off = (size_t)(tl & RING_MASK);
        uint32_t hdr;
        memcpy(&hdr, t->ring + off, 4);
        size_t n = hdr >> 3;
        off = (off + 4) & RING_MASK;
        size_t first = cz__min(n, CZ__LOG_RING_CAP - off);
        if (write_all(2, t->ring + off, first) < 0 || write_all(2, t->ring, n - first) < 0)
            cz__log_drop();
        tl += 4 + ((n + 3) & ~(size_t)3);
    }
    __atomic_store_n(&t->tail, tl, __ATOMIC_RELEASE);
}

/* pthread key destructor: the thread is exiting; its queued lines must still be written. */
static void thread_exit(void *p)
{
    cz__log_thread_t *t = p;
    tls = NULL; /* a later log call from another destructor starts afresh */
    if (!t->registered) {
        free(t);
        return;
    }
    pthread_mutex_lock(&w.reg_mu);
    __atomic_store_n(&t->dead, 1, __ATOMIC_RELEASE);
    int running = w.running;
    if (!running) {
        dump_sync(t);
        reap_dead();
    }
    pthread_mutex_unlock(&w.reg_mu);
    if (running)
        kick(); /* the writer drains, unlinks and frees t */
}

/* ---- setup, flush, close ---- */

void cz__log_time_format(char *buf, size_t size)
{
    pthread_mutex_lock(&w.tf_mu);
    snprintf(buf, size, "%s", w.tf);
    pthread_mutex_unlock(&w.tf_mu);
}

static int mkdir_p(const char *dir)
{
    char p[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p)
        return -ENAMETOOLONG;
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        p[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static void close_fds(int *fd, int *own)
{
    for (int d = 0; d < CZ__LOG_NDEST; d++) {
        if (own[d] && fd[d] >= 0)
            close(fd[d]);
        fd[d] = 2;
        own[d] = 0;
    }
}

/* Open the destinations for c into fd/own (their paths into paths); 0 or -errno /
 * CZ_EINVAL_CONF with d filled. */
static int open_dests(const cz_log_conf_t *c, int *fd, int *own,
                      char (*paths)[CZ__LOG_PATH_MAX], cz_diag_t *d)
{
    static const char *const files[CZ__LOG_NDEST] = {
        "access.log", "error.log", "severe.log", "slow.log", "stat.log", /* logx vars.go */
    };
    for (int i = 0; i < CZ__LOG_NDEST; i++) {
        fd[i] = i == CZ__LOG_D_ACCESS || i == CZ__LOG_D_STAT ? 1 : 2;
        own[i] = 0;
    }
    if (c->mode == CZ_LOG_MODE_CONSOLE)
        return 0;
    char dir[PATH_MAX];
    const char *path = c->path && c->path[0] ? c->path : "logs";
    int n;
    if (c->mode == CZ_LOG_MODE_VOLUME) { /* logx setupWithVolume: Path/ServiceName/hostname */
        if (!c->service_name || !c->service_name[0])
            return cz_diag_set(d, NULL, 0, 0, "Log.ServiceName", "must be set in volume mode");
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        n = snprintf(dir, sizeof dir, "%s/%s/%s", path, c->service_name, host);
    } else {
        n = snprintf(dir, sizeof dir, "%s", path);
    }
    if (n < 0 || (size_t)n >= sizeof dir - 16)
        return cz_diag_set(d, NULL, 0, 0, "Log.Path", "path too long");
    int r = mkdir_p(dir);
    if (r < 0) {
        cz_diag_set(d, NULL, 0, 0, "Log.Path", "cannot create directory %s: %s", dir,
                    strerror(-r));
        return r;
    }
    for (int i = 0; i < CZ__LOG_NDEST; i++) {
        char *file = paths[i]; /* dir is shorter than PATH_MAX - 16 (checked above) */
        size_t dn = strlen(dir), fn = strlen(files[i]);
        memcpy(file, dir, dn);
        file[dn] = '/';
        memcpy(file + dn + 1, files[i], fn + 1);
        fd[i] = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd[i] < 0) {
            r = -errno;
            cz_diag_set(d, NULL, 0, 0, "Log.Path", "cannot open %s: %s", file, strerror(-r));
            close_fds(fd, own);
            return r;
        }
        own[i] = 1;
    }
    return 0;
}

static void flush_at_exit(void) { cz_log_flush(); }

/* Stop the writer, write what it left behind, close files. Caller holds ctl_mu. */
static void stop_writer(void)
{
    pthread_mutex_lock(&w.reg_mu);
    int running = w.running;
    pthread_mutex_unlock(&w.reg_mu);
    if (!running)
        return;
    cz_log_flush();
    /* New lines go to stderr from here on; the writer's last pass takes what is queued. */
    __atomic_store_n(&w.async, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&w.mu);
    w.stop = 1;
    pthread_cond_signal(&w.wake);
    pthread_mutex_unlock(&w.mu);
    pthread_join(w.thr, NULL);
    pthread_mutex_lock(&w.reg_mu);
    w.running = 0;
    /* A producer that saw async just before it was cleared may have queued after the last
     * pass; we are the only consumer now. */
    for (cz__log_thread_t *t = w.rings; t; t = t->next)
        drain_ring(t);
    for (int d = 0; d < CZ__LOG_NDEST; d++)
        stage_flush(d);
    reap_dead();
    close_fds(w.fd, w.own);
    for (int d = 0; d < CZ__LOG_NDEST; d++) {
        free(w.stage[d]);
        w.stage[d] = NULL;
    }
    cz__log_rot_free(w.rot);
    w.rot = NULL;
    pthread_mutex_unlock(&w.reg_mu);
    cz__log_rot_finish(); /* rotated files still waiting for gzip */
}

static void apply_settings(const cz_log_conf_t *c, const char *tf)
{
    __atomic_store_n(&cz__log_g.level, c->level, __ATOMIC_RELAXED);
    __atomic_store_n(&cz__log_g.encoding, c->encoding, __ATOMIC_RELAXED);
    __atomic_store_n(&cz__log_g.stat, c->stat ? 1 : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&cz__log_g.max_content, (uint32_t)c->max_content_length, __ATOMIC_RELAXED);
    pthread_mutex_lock(&w.tf_mu);
    snprintf(w.tf, sizeof w.tf, "%s", tf);
    pthread_mutex_unlock(&w.tf_mu);
    __atomic_add_fetch(&cz__log_g.tf_gen, 1, __ATOMIC_RELEASE);
}

int cz_log_setup(const cz_log_conf_t *c, cz_diag_t *d)
{
    if (!c)
        return CZ_EARG;
    if (c->mode < CZ_LOG_MODE_CONSOLE || c->mode > CZ_LOG_MODE_VOLUME)
        return cz_diag_set(d, NULL, 0, 0, "Log.Mode", "must be console, file or volume");
    if (c->encoding != CZ_LOG_ENC_JSON && c->encoding != CZ_LOG_ENC_PLAIN)
        return cz_diag_set(d, NULL, 0, 0, "Log.Encoding", "must be json or plain");
    if (c->level < CZ_LOG_DEBUG || c->level > CZ_LOG_SEVERE)
        return cz_diag_set(d, NULL, 0, 0, "Log.Level", "must be debug, info, error or severe");
    if (c->max_content_length < 0 || c->max_content_length > UINT32_MAX)
        return cz_diag_set(d, NULL, 0, 0, "Log.MaxContentLength", "out of range");
    const char *tf = c->time_format ? c->time_format : "";
    /* logx's default layout is our fast default; any other Go layout is formatted as Go does,
     * and a format with a '%' is strftime's. */
    if (strcmp(tf, "2006-01-02T15:04:05.000Z07:00") == 0)
        tf = "";
    char probe[sizeof w.tf];
    if (strlen(tf) >= sizeof w.tf)
        return cz_diag_set(d, NULL, 0, 0, "Log.TimeFormat", "longer than %zu bytes",
                           sizeof w.tf - 1);
    if (tf[0] && !strchr(tf, '%') && !cz__log_go_time(probe, sizeof probe, tf, 0))
        return cz_diag_set(d, NULL, 0, 0, "Log.TimeFormat",
                           "'%s' gives timestamps longer than %zu bytes", tf, sizeof probe - 1);

    pthread_once(&once, init_once);
    int fd[CZ__LOG_NDEST], own[CZ__LOG_NDEST];
    char paths[CZ__LOG_NDEST][CZ__LOG_PATH_MAX];
    int r = open_dests(c, fd, own, paths, d);
    cz__log_rot_t *rot = NULL;
    if (r == 0 && (r = cz__log_rot_new(c, paths, fd, &rot, d)) < 0)
        close_fds(fd, own);
    if (r < 0)
        return r;

    pthread_mutex_lock(&w.ctl_mu);
    pthread_mutex_lock(&w.reg_mu);
    int running = w.running;
    pthread_mutex_unlock(&w.reg_mu);
    if (running) {
        /* Reconfigure in place: earlier lines go to the old destinations, the writer swaps
         * files between two passes, and no line takes the stderr detour of a restart. */
        cz_log_flush();
        pthread_mutex_lock(&w.pass_mu);
        apply_settings(c, tf);
        for (int i = 0; i < CZ__LOG_NDEST; i++) {
            if (w.own[i])
                close(w.fd[i]);
            __atomic_store_n(&w.fd[i], fd[i], __ATOMIC_RELAXED);
            w.own[i] = own[i];
        }
        cz__log_rot_free(w.rot);
        w.rot = rot;
        pthread_mutex_unlock(&w.pass_mu);
        pthread_mutex_unlock(&w.ctl_mu);
        return 0;
    }
    char *stage[CZ__LOG_NDEST] = {0};
    for (int i = 0; i < CZ__LOG_NDEST; i++) {
        if (!(stage[i] = malloc(STAGE_CAP))) {
            for (int j = 0; j < i; j++)
                free(stage[j]);
            close_fds(fd, own);
            cz__log_rot_free(rot);
            pthread_mutex_unlock(&w.ctl_mu);
            return CZ_ENOMEM;
        }
    }
    apply_settings(c, tf);

    pthread_mutex_lock(&w.reg_mu);
    for (int i = 0; i < CZ__LOG_NDEST; i++) {
        __atomic_store_n(&w.fd[i], fd[i], __ATOMIC_RELAXED);
        w.own[i] = own[i];
        w.stage[i] = stage[i];
        w.stage_n[i] = w.stage_lines[i] = 0;
    }
    w.rot = rot;
    pthread_mutex_lock(&w.mu);
    w.stop = w.exited = 0;
    pthread_mutex_unlock(&w.mu);
    w.running = 1;
    /* The writer takes no signals: they belong to the application's threads, and a blocked
     * SIGPIPE turns a vanished pipe reader into EPIPE instead of killing the process. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = -pthread_create(&w.thr, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r < 0) {
        w.running = 0;
        close_fds(w.fd, w.own);
        cz__log_rot_free(w.rot);
        w.rot = NULL;
        for (int i = 0; i < CZ__LOG_NDEST; i++) {
            free(w.stage[i]);
            w.stage[i] = NULL;
        }
        pthread_mutex_unlock(&w.reg_mu);
        pthread_mutex_unlock(&w.ctl_mu);
        cz_diag_set(d, NULL, 0, 0, "Log", "cannot start the writer thread: %s", strerror(-r));
        return r;
    }
    __atomic_store_n(&w.async, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w.reg_mu);
    static int registered;
    if (!registered++)
        atexit(flush_at_exit); /* lines queued when main returns are still written */
    pthread_mutex_unlock(&w.ctl_mu);
    return 0;
}

void cz_log_flush(void)
{
    /* async is set once the writer exists and cleared (after a last flush) before it stops */
    pthread_mutex_lock(&w.mu);
    if (__atomic_load_n(&w.async, __ATOMIC_ACQUIRE) && !w.exited &&
        !pthread_equal(pthread_self(), w.thr)) {
        uint64_t gen = ++w.req_gen;
        pthread_cond_signal(&w.wake);
        while (w.done_gen < gen && !w.exited)
            pthread_cond_wait(&w.done, &w.mu);
    }
    pthread_mutex_unlock(&w.mu);
}

void cz_log_close(void)
{
    pthread_mutex_lock(&w.ctl_mu);
    stop_writer();
    pthread_mutex_unlock(&w.ctl_mu);
}

int cz__log_test_set_fd(int dest, int fd)
{
    if (dest < 0 || dest >= CZ__LOG_NDEST || fd < 0 || !__atomic_load_n(&w.async, __ATOMIC_ACQUIRE))
        return CZ_EARG;
    pthread_mutex_lock(&w.pass_mu);
    if (w.own[dest])
        close(w.fd[dest]);
    w.own[dest] = 0;
    __atomic_store_n(&w.fd[dest], fd, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&w.pass_mu);
    return 0;
}

void cz__log_test_set_now(uint64_t (*now_ns)(void))
{
    __atomic_store_n(&cz__log_g.now_ns, now_ns, __ATOMIC_RELAXED);
    __atomic_add_fetch(&cz__log_g.tf_gen, 1, __ATOMIC_RELEASE); /* drop cached seconds */
}
