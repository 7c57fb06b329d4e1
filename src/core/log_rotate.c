/* SPDX-License-Identifier: MIT
 *
 * log_rotate.c: log file rotation as go-zero's logx does it (core/logx/rotatelogger.go), run by
 * the log writer thread (log_writer.c) inside its passes, never by a logging thread.
 *
 * Rotation: daily (default) renames access.log to access.log-2026-11-25 (the local date the
 * file was started, logx's DailyRotateRule) at the first line of a later day; size renames
 * access.log to access-2026-11-25T08:00:00Z.log (FileTimeFormat, a Go layout, default RFC 3339;
 * the time the file was started, logx's SizeLimitRotateRule) when the next line would take it
 * over MaxSize MB. After a rotation the backup is gzipped (Compress) and then outdated backups
 * are deleted: older than KeepDays days (both rules) and beyond MaxBackups (size), chosen by
 * comparing file names as logx does. Unlike logx, the day of a line is the day in its own
 * timestamp (read back from the line during the pass that crosses a day), so a line logged at
 * 23:59:59.9 and written after midnight still goes to that day's file; lines with a custom
 * TimeFormat fall back to the pass's time. Compression runs in 128 KiB steps between passes so
 * queued lines never wait for a whole file to be deflated; cz_log_close finishes pending files,
 * and the first pass after a setup compresses the backups a dead process left plain.
 * Failures (rename, open, unlink, gzip) are reported once each on stderr and the writer keeps
 * writing to the file it has. Not done: CompressType (logx writes gzip only anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "internal.h"
#include "core/log_int.h"

#define NAME_MAX_ (PATH_MAX + 96)
#define CHUNK (128u * 1024u) /* input deflated per step: a few milliseconds */
#define MAX_JOBS 16
#define DAY_S 86400

typedef struct rule {
    int kind;     /* CZ_LOG_ROTATE_* */
    int gzip;
    int64_t keep_days, max_backups, max_size; /* max_size in bytes */
    char layout[64];
    char path[NAME_MAX_]; /* the live file */
} rule_t;

typedef struct dest {
    rule_t rule;
    int64_t day;     /* daily: local day key (yyyymmdd) the live file was started */
    int64_t next;    /* daily: the day a due line asked for */
    uint64_t size;   /* bytes in the live file */
    char backup[NAME_MAX_]; /* what the live file is renamed to */
} dest_t;

struct cz__log_rot {
    dest_t d[CZ__LOG_NDEST];
    uint64_t now; /* the pass's wall clock */
    int64_t today;
    int recovered; /* the first pass has queued what an earlier process left uncompressed */
};

typedef struct job {
    rule_t rule;
    char src[NAME_MAX_], tmp[NAME_MAX_ + 8];
    int in, out;
    z_stream z;
    int started;
} job_t;

/* Compression queue: touched only by the writer thread (or by close once it has joined it). */
static job_t *jobs[MAX_JOBS];
static int njobs;

/* snprintf for file names: a name cut at the buffer (only past PATH_MAX, where the file
 * calls fail anyway) is not worth a compile-time warning per call. */
static int nfmt(char *o, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int nfmt(char *o, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o, cap, fmt, ap);
    va_end(ap);
    return n;
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
    char buf[2 * NAME_MAX_ + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t r = write(2, buf, (size_t)n); /* best effort: stderr is all there is */
    (void)r;
}

/* ---- time: local days and Go layouts ---- */

static int64_t day_key(int64_t sec)
{
    time_t t = (time_t)sec;
    struct tm tm;
    localtime_r(&t, &tm);
    return (int64_t)(tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

static void day_str(char *o, size_t cap, int64_t key)
{
    nfmt(o, cap, "%04d-%02d-%02d", (int)(key / 10000), (int)(key / 100 % 100),
             (int)(key % 100));
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        *v = *v * 10 + (p[i] - '0');
    }
    return 0;
}

/* The UTC second of a line's default timestamp ({"@timestamp":"2026-11-25T08:00:00.000Z" or
 * plain "2026-11-25T08:00:00.000Z\t"); -1 when it has another format. */
static int64_t line_sec(const char *p, size_t n)
{
    static const char js[] = "{\"@timestamp\":\"";
    if (n >= sizeof js - 1 && memcmp(p, js, sizeof js - 1) == 0) {
        p += sizeof js - 1;
        n -= sizeof js - 1;
    }
    int y, mo, d, h, mi, s;
    if (n < 20 || p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':' ||
        digits(p, 4, &y) || digits(p + 5, 2, &mo) || digits(p + 8, 2, &d) ||
        digits(p + 11, 2, &h) || digits(p + 14, 2, &mi) || digits(p + 17, 2, &s) || mo < 1 ||
        mo > 12 || d < 1 || d > 31)
        return -1;
    return days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY_S + h * 3600 + mi * 60 + s;
}

static const char *const months[] = {"January", "February", "March",     "April",
                                     "May",     "June",     "July",      "August",
                                     "September", "October", "November", "December"};
static const char *const wdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                    "Thursday", "Friday", "Saturday"};

typedef struct ob {
    char *p;
    size_t n, cap;
} ob_t;

static void oput(ob_t *o, const char *s, size_t n)
{
    if (o->n + n < o->cap)
        memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void onum(ob_t *o, long v, int width, char pad)
{
    char b[24];
    int n = nfmt(b, sizeof b, pad == '0' ? "%0*ld" : "%*ld", width, v);
    oput(o, b, (size_t)n);
}

static void ozone(ob_t *o, long off, int z, int colon, int mins)
{
    if (z && off == 0) {
        oput(o, "Z", 1);
        return;
    }
    oput(o, off < 0 ? "-" : "+", 1);
    if (off < 0)
        off = -off;
    onum(o, off / 3600, 2, '0');
    if (mins) {
        if (colon)
            oput(o, ":", 1);
        onum(o, off / 60 % 60, 2, '0');
    }
}

/* Format the local time ns with a Go reference layout ("2006-01-02T15:04:05Z07:00"). The
 * common elements are understood (numeric date and clock, month and day names, AM/PM, zones,
 * fractional seconds); anything else is copied literally. Returns the length, or 0 when it
 * does not fit cap. */
size_t cz__log_go_time(char *buf, size_t cap, const char *layout, uint64_t ns)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    localtime_r(&t, &tm);
    ob_t o = {buf, 0, cap};
    for (const char *p = layout; *p;) {
#define IS(lit) (strncmp(p, lit, sizeof lit - 1) == 0 ? (p += sizeof lit - 1, 1) : 0)
        int h12 = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
        if (IS("January"))
            oput(&o, months[tm.tm_mon], strlen(months[tm.tm_mon]));
        else if (IS("Jan"))
            oput(&o, months[tm.tm_mon], 3);
        else if (IS("Monday"))
            oput(&o, wdays[tm.tm_wday], strlen(wdays[tm.tm_wday]));
        else if (IS("Mon"))
            oput(&o, wdays[tm.tm_wday], 3);
        else if (IS("MST"))
            oput(&o, tm.tm_zone, strlen(tm.tm_zone));
        else if (IS("2006"))
            onum(&o, tm.tm_year + 1900, 4, '0');
        else if (IS("Z07:00"))
            ozone(&o, tm.tm_gmtoff, 1, 1, 1);
        else if (IS("Z0700"))
            ozone(&o, tm.tm_gmtoff, 1, 0, 1);
        else if (IS("Z07"))
            ozone(&o, tm.tm_gmtoff, 1, 0, 0);
        else if (IS("-07:00"))
            ozone(&o, tm.tm_gmtoff, 0, 1, 1);
        else if (IS("-0700"))
            ozone(&o, tm.tm_gmtoff, 0, 0, 1);
        else if (IS("-07"))
            ozone(&o, tm.tm_gmtoff, 0, 0, 0);
        else if (IS("01"))
            onum(&o, tm.tm_mon + 1, 2, '0');
        else if (IS("02"))
            onum(&o, tm.tm_mday, 2, '0');
        else if (IS("_2"))
            onum(&o, tm.tm_mday, 2, ' ');
        else if (IS("03"))
            onum(&o, h12, 2, '0');
        else if (IS("04"))
            onum(&o, tm.tm_min, 2, '0');
        else if (IS("05"))
            onum(&o, tm.tm_sec, 2, '0');
        else if (IS("06"))
            onum(&o, (tm.tm_year + 1900) % 100, 2, '0');
        else if (IS("15"))
            onum(&o, tm.tm_hour, 2, '0');
        else if (IS("PM"))
            oput(&o, tm.tm_hour < 12 ? "AM" : "PM", 2);
        else if (IS("pm"))
            oput(&o, tm.tm_hour < 12 ? "am" : "pm", 2);
        else if (IS("1"))
            onum(&o, tm.tm_mon + 1, 1, '0');
        else if (IS("2"))
            onum(&o, tm.tm_mday, 1, '0');
        else if (IS("3"))
            onum(&o, h12, 1, '0');
        else if (IS("4"))
            onum(&o, tm.tm_min, 1, '0');
        else if (IS("5"))
            onum(&o, tm.tm_sec, 1, '0');
        else if ((p[0] == '.' || p[0] == ',') && (p[1] == '0' || p[1] == '9')) {
            /* Go: .000 fixed digits, .999 trailing zeros trimmed */
            char c = p[1];
            int n = 1;
            while (p[n] == c)
                n++;
            if (p[n] >= '0' && p[n] <= '9') { /* not a fraction: literal */
                oput(&o, p, 1);
                p++;
                continue;
            }
            int nd = cz__min(n - 1, 9);
            char f[16];
            nfmt(f, sizeof f, "%09u", (unsigned)(ns % 1000000000u));
            f[nd] = '\0';
            if (c == '9')
                while (nd > 0 && f[nd - 1] == '0')
                    f[--nd] = '\0';
            if (nd > 0) {
                oput(&o, p, 1);
                oput(&o, f, (size_t)nd);
            }
            p += n;
        } else {
            oput(&o, p, 1);
            p++;
        }
#undef IS
    }
    if (o.n >= cap)
        return 0;
    buf[o.n] = '\0';
    return o.n;
}

/* ---- names ---- */

/* dir/prefix and ext of the live file ("logs/access", ".log"). */
static void split_name(const char *path, char *stem, size_t cap, const char **ext)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        dot = base + strlen(base);
    *ext = dot;
    nfmt(stem, cap, "%.*s", (int)(dot - path), path);
}

/* The name the live file gets at its next rotation, for a file started at ns / on day. */
static void backup_name(const rule_t *r, uint64_t ns, int64_t day, char *out)
{
    if (r->kind == CZ_LOG_ROTATE_DAILY) {
        char ds[16];
        day_str(ds, sizeof ds, day);
        nfmt(out, NAME_MAX_, "%s-%s", r->path, ds);
        return;
    }
    char stem[NAME_MAX_], ts[96];
    const char *ext;
    split_name(r->path, stem, sizeof stem, &ext);
    if (!cz__log_go_time(ts, sizeof ts, r->layout, ns))
        ts[0] = '\0';
    nfmt(out, NAME_MAX_, "%s-%s%s", stem, ts, ext);
}

/* glob(3) pattern characters in a literal part of a pattern get a backslash. */
static void glob_escape(const char *s, char *o, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 2 < cap; s++) {
        if (strchr("*?[\\", *s))
            o[n++] = '\\';
        o[n++] = *s;
    }
    o[n] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The glob(3) pattern of r's backups, suffix appended: "logs/access.log-*" (daily) or
 * "logs/access-*.log" (size). */
static void backup_glob(const rule_t *r, const char *suffix, char *pat, size_t cap)
{
    char lit[2 * NAME_MAX_];
    if (r->kind == CZ_LOG_ROTATE_DAILY) {
        glob_escape(r->path, lit, sizeof lit);
        nfmt(pat, cap, "%s-*%s", lit, suffix);
        return;
    }
    char stem[NAME_MAX_], elit[64];
    const char *ext;
    split_name(r->path, stem, sizeof stem, &ext);
    glob_escape(stem, lit, sizeof lit);
    glob_escape(ext, elit, sizeof elit);
    nfmt(pat, cap, "%s-*%s%s", lit, elit, suffix);
}

/* Delete the backups logx's OutdatedFiles would: older than keep_days (both rules, by name
 * against the boundary name), and all but the newest max_backups (size rule). */
static void delete_outdated(const rule_t *r, uint64_t now)
{
    if (r->keep_days <= 0 && (r->kind != CZ_LOG_ROTATE_SIZE || r->max_backups <= 0))
        return;
    char pat[2 * NAME_MAX_ + 16], bound[NAME_MAX_ + 8];
    const char *gz = r->gzip ? ".gz" : "";
    uint64_t past = now - (uint64_t)r->keep_days * DAY_S * 1000000000u;
    backup_glob(r, gz, pat, sizeof pat);
    if (r->kind == CZ_LOG_ROTATE_DAILY) {
        char ds[16];
        day_str(ds, sizeof ds, day_key((int64_t)(past / 1000000000u)));
        nfmt(bound, sizeof bound, "%s-%s%s", r->path, ds, gz);
    } else {
        char stem[NAME_MAX_];
        const char *ext;
        split_name(r->path, stem, sizeof stem, &ext);
        char ts[96];
        if (!cz__log_go_time(ts, sizeof ts, r->layout, past))
            ts[0] = '\0';
        nfmt(bound, sizeof bound, "%s-%s%s%s", stem, ts, ext, gz);
    }
    glob_t g;
    if (glob(pat, GLOB_NOSORT, NULL, &g) != 0)
        return;
    qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_str);
    size_t extra = 0;
    if (r->kind == CZ_LOG_ROTATE_SIZE && r->max_backups > 0 &&
        g.gl_pathc > (size_t)r->max_backups)
        extra = g.gl_pathc - (size_t)r->max_backups;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *f = g.gl_pathv[i];
        if (i >= extra && (r->keep_days <= 0 || strcmp(f, bound) >= 0))
            continue;
        if (unlink(f) < 0 && errno != ENOENT)
            warn("czero log: cannot remove outdated %s: %s", f, strerror(errno));
    }
    globfree(&g);
}

/* ---- compression ---- */

static void job_free(job_t *j, int keep_tmp)
{
    if (j->started)
        deflateEnd(&j->z);
    if (j->in >= 0)
        close(j->in);
    if (j->out >= 0)
        close(j->out);
    if (!keep_tmp && j->tmp[0])
        unlink(j->tmp);
    free(j);
}

static int write_full(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Deflate one chunk of j; 1 = more to do, 0 = done (or failed, reported). */
static int job_step(job_t *j)
{
    static unsigned char in[CHUNK], out[CHUNK];
    int err = 0;
    const char *what = "";
    if (!j->started) {
        nfmt(j->tmp, sizeof j->tmp, "%s.gz.tmp", j->src);
        j->in = open(j->src, O_RDONLY | O_CLOEXEC);
        if (j->in < 0) {
            err = errno, what = "open";
            j->tmp[0] = '\0';
            goto fail;
        }
        j->out = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (j->out < 0) {
            err = errno, what = "create";
            j->tmp[0] = '\0';
            goto fail;
        }
        /* windowBits 15 + 16: a gzip wrapper; level 6 as Go's gzip.DefaultCompression */
        if (deflateInit2(&j->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            err = ENOMEM, what = "deflateInit2";
            goto fail;
        }
        j->started = 1;
    }
    ssize_t n;
    do
        n = read(j->in, in, sizeof in);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        err = errno, what = "read";
        goto fail;
    }
    int flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
    j->z.next_in = in;
    j->z.avail_in = (uInt)n;
    int zr;
    do {
        j->z.next_out = out;
        j->z.avail_out = sizeof out;
        zr = deflate(&j->z, flush);
        int wr = write_full(j->out, out, sizeof out - j->z.avail_out);
        if (wr < 0) {
            err = -wr, what = "write";
            goto fail;
        }
    } while (j->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
    if (flush != Z_FINISH)
        return 1;
    if (close(j->out) < 0) {
        j->out = -1;
        err = errno, what = "close";
        goto fail;
    }
    j->out = -1;
    char gz[NAME_MAX_ + 8];
    nfmt(gz, sizeof gz, "%s.gz", j->src);
    if (rename(j->tmp, gz) < 0) {
        err = errno, what = "rename";
        goto fail;
    }
    j->tmp[0] = '\0';
    if (unlink(j->src) < 0) /* logx removes the original only once the .gz is complete */
        warn("czero log: compressed %s but cannot remove it: %s", j->src, strerror(errno));
    return 0;
fail:
    warn("czero log: cannot compress %s (%s): %s; it stays uncompressed", j->src, what,
         strerror(err));
    return 0;
}

int cz__log_rot_work(void)
{
    if (!njobs)
        return 0;
    job_t *j = jobs[0];
    if (job_step(j))
        return 1;
    delete_outdated(&j->rule, cz__log_wall_ns()); /* logx postRotate: compress, then delete */
    job_free(j, 0);
    memmove(jobs, jobs + 1, (size_t)(--njobs) * sizeof *jobs);
    return njobs > 0;
}

void cz__log_rot_finish(void)
{
    while (cz__log_rot_work())
        ;
}

void cz__log_rot_atfork_child(void)
{
    /* The parent goes on with its jobs: the child forgets them without touching the files. */
    for (int i = 0; i < njobs; i++)
        job_free(jobs[i], 1);
    njobs = 0;
}

/* ---- rotation ---- */

int cz__log_rot_new(const cz_log_conf_t *c, char (*const paths)[CZ__LOG_PATH_MAX],
                    const int *fd, cz__log_rot_t **out, cz_diag_t *d)
{
    *out = NULL;
    if (c->mode == CZ_LOG_MODE_CONSOLE)
        return 0;
    if (c->rotation != CZ_LOG_ROTATE_DAILY && c->rotation != CZ_LOG_ROTATE_SIZE)
        return cz_diag_set(d, NULL, 0, 0, "Log.Rotation", "must be daily or size");
    if (c->keep_days < 0 || c->keep_days > 36500)
        return cz_diag_set(d, NULL, 0, 0, "Log.KeepDays", "must be 0..36500");
    if (c->max_backups < 0 || c->max_backups > 1000000)
        return cz_diag_set(d, NULL, 0, 0, "Log.MaxBackups", "must be 0..1000000");
    if (c->max_size < 0 || c->max_size > (1 << 20))
        return cz_diag_set(d, NULL, 0, 0, "Log.MaxSize", "must be 0..1048576 (MB)");
    const char *layout = c->file_time_format && c->file_time_format[0]
                             ? c->file_time_format
                             : "2006-01-02T15:04:05Z07:00"; /* logx: time.RFC3339 */
    rule_t base = {.kind = c->rotation, .gzip = c->compress, .keep_days = c->keep_days,
                   .max_backups = c->max_backups, .max_size = c->max_size << 20};
    if (strlen(layout) >= sizeof base.layout)
        return cz_diag_set(d, NULL, 0, 0, "Log.FileTimeFormat", "longer than %zu bytes",
                           sizeof base.layout - 1);
    char probe[96];
    if (!cz__log_go_time(probe, sizeof probe, layout, 0) || strchr(probe, '/'))
        return cz_diag_set(d, NULL, 0, 0, "Log.FileTimeFormat",
                           "must give a file name part (a Go layout without '/')");
    memcpy(base.layout, layout, strlen(layout) + 1);
    cz__log_rot_t *r = calloc(1, sizeof *r);
    if (!r)
        return CZ_ENOMEM;
    r->now = cz__log_wall_ns();
    r->today = day_key((int64_t)(r->now / 1000000000u));
    for (int i = 0; i < CZ__LOG_NDEST; i++) {
        dest_t *x = &r->d[i];
        x->rule = base;
        nfmt(x->rule.path, sizeof x->rule.path, "%s", paths[i]);
        struct stat st;
        x->size = fstat(fd[i], &st) == 0 ? (uint64_t)st.st_size : 0; /* logx: appends */
        x->day = r->today;
        backup_name(&x->rule, r->now, x->day, x->backup);
    }
    *out = r;
    return 0;
}

void cz__log_rot_free(cz__log_rot_t *r) { free(r); }

static int watching(const cz__log_rot_t *r, int d)
{
    const dest_t *x = &r->d[d];
    return x->rule.kind == CZ_LOG_ROTATE_DAILY ? x->day < r->today : x->rule.max_size > 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int queued(const char *src)
{
    for (int i = 0; i < njobs; i++)
        if (strcmp(jobs[i]->src, src) == 0)
            return 1;
    return 0;
}

/* Compress the backups a process that died left plain (it had renamed the file and not yet
 * finished its .gz): the .gz.tmp is removed and the compression starts again. Without this
 * they would stay forever, since the deletion of outdated backups only looks at .gz files. */
static void recover_compression(const cz__log_rot_t *r)
{
    for (int d = 0; d < CZ__LOG_NDEST; d++) {
        const rule_t *rule = &r->d[d].rule;
        if (!rule->gzip)
            continue;
        char pat[2 * NAME_MAX_ + 16];
        /* daily names end in the date, so "-*" also takes their .gz and .gz.tmp */
        backup_glob(rule, rule->kind == CZ_LOG_ROTATE_DAILY ? "" : "{,.gz.tmp}", pat, sizeof pat);
        glob_t g;
        if (glob(pat, GLOB_NOSORT | GLOB_BRACE, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char src[NAME_MAX_];
            nfmt(src, sizeof src, "%s", g.gl_pathv[i]);
            if (ends_with(src, ".gz.tmp")) {
                src[strlen(src) - 7] = '\0';
                if (!queued(src))
                    unlink(g.gl_pathv[i]);
                continue;
            }
            if (ends_with(src, ".gz") || queued(src))
                continue;
            job_t *j = njobs < MAX_JOBS ? calloc(1, sizeof *j) : NULL;
            if (!j)
                break; /* the rest at the next start */
            j->rule = *rule;
            j->in = j->out = -1;
            nfmt(j->src, sizeof j->src, "%s", src);
            jobs[njobs++] = j;
        }
        globfree(&g);
    }
}

void cz__log_rot_pass(cz__log_rot_t *r, int *watch)
{
    if (!r->recovered) {
        r->recovered = 1;
        recover_compression(r);
    }
    r->now = cz__log_wall_ns();
    r->today = day_key((int64_t)(r->now / 1000000000u));
    for (int d = 0; d < CZ__LOG_NDEST; d++)
        watch[d] = watching(r, d);
}

int cz__log_rot_due(cz__log_rot_t *r, int d, const char *line, size_t n, size_t pending)
{
    dest_t *x = &r->d[d];
    /* logx: maxSize < currentSize + len(line); an empty file keeps even a line longer than
     * MaxSize (logx would rotate the empty file away first). */
    if (x->rule.kind == CZ_LOG_ROTATE_SIZE)
        return x->size + pending > 0 && x->size + pending + n > (uint64_t)x->rule.max_size;
    int64_t s = line_sec(line, n);
    int64_t day = s >= 0 ? day_key(s) : r->today;
    if (day <= x->day) /* a line of the live file's day (or an older one) */
        return 0;
    x->next = day;
    return 1;
}

void cz__log_rot_wrote(cz__log_rot_t *r, int d, size_t n) { r->d[d].size += n; }

int cz__log_rot_rotate(cz__log_rot_t *r, int d, int *fd)
{
    dest_t *x = &r->d[d];
    const char *path = x->rule.path;
    char bak[NAME_MAX_ + 16];
    nfmt(bak, sizeof bak, "%s", x->backup);
    /* Two size rotations within one second of FileTimeFormat would share a name, and rename
     * would replace the older backup: number the later ones before the extension. */
    struct stat st;
    for (int i = 1; lstat(bak, &st) == 0 && i < 1000; i++) {
        if (x->rule.kind == CZ_LOG_ROTATE_DAILY) {
            nfmt(bak, sizeof bak, "%s.%d", x->backup, i);
        } else {
            const char *ext;
            char stem[NAME_MAX_];
            split_name(x->backup, stem, sizeof stem, &ext);
            nfmt(bak, sizeof bak, "%s.%d%s", stem, i, ext);
        }
    }
    /* The next file starts now whatever happens, so a failure is retried at the next day or
     * MaxSize, not on every line. */
    x->size = 0;
    if (x->rule.kind == CZ_LOG_ROTATE_DAILY)
        x->day = x->next > x->day ? x->next : r->today;
    backup_name(&x->rule, r->now, x->day, x->backup);
    int renamed = 1;
    if (rename(path, bak) < 0) {
        if (errno != ENOENT) { /* ENOENT: someone removed it; just start a new one */
            warn("czero log: cannot rotate %s to %s: %s; still writing to %s", path, bak,
                 strerror(errno), path);
            return -errno;
        }
        renamed = 0;
    }
    int nfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (nfd < 0) {
        int e = errno;
        warn("czero log: cannot create %s after rotation: %s; writing to %s", path,
             strerror(e), renamed ? bak : "the unlinked file");
        return -e;
    }
    close(*fd);
    *fd = nfd;
    if (!renamed)
        return 0;
    if (x->rule.gzip) {
        job_t *j = njobs < MAX_JOBS ? calloc(1, sizeof *j) : NULL;
        if (j) {
            j->rule = x->rule;
            j->in = j->out = -1;
            nfmt(j->src, sizeof j->src, "%s", bak);
            jobs[njobs++] = j;
            return 0;
        }
        warn("czero log: compression queue full; %s stays uncompressed", bak);
    }
    delete_outdated(&x->rule, r->now);
    return 0;
}
