/* SPDX-License-Identifier: MIT
 *
 * Tests for log rotation (src/core/log_rotate.c with the writer in log_writer.c): daily
 * rotation at midnight splits lines by their own day with none lost, KeepDays deletes older
 * backups, size rotation keeps MaxBackups with exact file contents, Compress writes a gzip that
 * inflates to the rotated lines, a failing rename is reported once and logging goes on, and the
 * Log keys parse with ranges. The wall clock is the logger's test hook, TZ is UTC.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "czero/config.h"
#include "czero/log.h"
#include "core/log_int.h"

#define S 1000000000ull
#define NOV25 1795564800ull /* 2026-11-25T00:00:00Z */

static uint64_t now_v;
static uint64_t clk(void) { return now_v; }
static char dir[64];

static void init(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    strcpy(dir, "/tmp/czrot-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cz__log_test_set_now(clk);
}

static void fini(void)
{
    cz_log_close();
    cz__log_test_set_now(NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(log_rotate, .init = init, .fini = fini);

static cz_log_conf_t conf(int rotation)
{
    return (cz_log_conf_t){.mode = CZ_LOG_MODE_FILE, .encoding = CZ_LOG_ENC_PLAIN, .path = dir,
                           .level = CZ_LOG_INFO, .stat = true, .rotation = rotation};
}

static void setup(const cz_log_conf_t *c)
{
    cz_diag_t d = {0};
    cr_assert_eq(cz_log_setup(c, &d), 0, "%s: %s", d.key, d.msg);
}

static int exists(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static char *slurp(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static void touch(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "old\n", 4), 4);
    close(fd);
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(log_rotate, daily_splits_at_midnight_by_line_day)
{
    now_v = (NOV25 + 86399) * S + 900000000ull; /* 23:59:59.9 */
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_DAILY);
    setup(&c);
    uint64_t dropped = cz_log_dropped();
    for (int i = 0; i < 200; i++)
        cz_logf(CZ_LOG_INFO, "before %d", i);
    now_v = (NOV25 + 86400) * S + 100000000ull; /* 00:00:00.1 the next day */
    for (int i = 0; i < 200; i++)
        cz_logf(CZ_LOG_INFO, "after %d", i);
    cz_log_flush();
    char *old = slurp("access.log-2026-11-25"), *cur = slurp("access.log");
    cr_assert_not_null(old);
    cr_assert_not_null(cur);
    cr_assert_eq(count(old, "\n"), 200, "%s", old);
    cr_assert_eq(count(old, "before"), 200);
    cr_assert(strncmp(old, "2026-11-25T23:59:59.900Z\tinfo\tbefore 0\n", 39) == 0, "%s", old);
    cr_assert_eq(count(cur, "\n"), 200);
    cr_assert_eq(count(cur, "after"), 200);
    cr_assert(strncmp(cur, "2026-11-26T00:00:00.100Z\tinfo\tafter 0\n", 38) == 0, "%s", cur);
    cr_assert_eq(cz_log_dropped(), dropped);
    /* logx rotates a file at its next write: error.log had none, so it has no backup */
    cr_assert_not(exists("error.log-2026-11-25"));
    cz_log_error("late");
    cz_log_flush();
    cr_assert(exists("error.log-2026-11-25"));
    /* the same day again: no second rotation */
    cz_logf(CZ_LOG_INFO, "again");
    cz_log_flush();
    char *cur2 = slurp("access.log");
    cr_assert_eq(count(cur2, "\n"), 201);
    cr_assert_not(exists("access.log-2026-11-26"));
    free(old);
    free(cur);
    free(cur2);
}

Test(log_rotate, keep_days_deletes_older_backups)
{
    const char *old[] = {"access.log-2026-11-20", "access.log-2026-11-21", "access.log-2026-11-23",
                         "access.log-2026-11-24"};
    for (size_t i = 0; i < 4; i++)
        touch(old[i]);
    touch("error.log-2026-11-01"); /* another destination's backup: not this rule's */
    now_v = (NOV25 + 12 * 3600) * S;
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_DAILY);
    c.keep_days = 2;
    setup(&c);
    cz_logf(CZ_LOG_INFO, "x");
    cz_log_flush();
    cr_assert(exists("access.log-2026-11-20"), "nothing is deleted before a rotation");
    now_v = (NOV25 + 86400 + 1) * S; /* 2026-11-26T00:00:01: boundary 2026-11-24 */
    cz_logf(CZ_LOG_INFO, "y");
    cz_log_flush();
    cr_assert_not(exists("access.log-2026-11-20"));
    cr_assert_not(exists("access.log-2026-11-21"));
    cr_assert_not(exists("access.log-2026-11-23"));
    cr_assert(exists("access.log-2026-11-24"));
    cr_assert(exists("access.log-2026-11-25"));
    cr_assert(exists("access.log"));
    cr_assert(exists("error.log-2026-11-01"));
}

Test(log_rotate, keep_days_zero_keeps_all)
{
    touch("access.log-2020-01-01");
    now_v = (NOV25 + 3600) * S;
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_DAILY);
    setup(&c);
    cz_logf(CZ_LOG_INFO, "x");
    cz_log_flush();
    now_v += 86400 * S;
    cz_logf(CZ_LOG_INFO, "y");
    cz_log_flush();
    cr_assert(exists("access.log-2025-11-25") == 0);
    cr_assert(exists("access.log-2026-11-25"));
    cr_assert(exists("access.log-2020-01-01"));
}

/* First number after "line " in s (a line's sequence number). */
static long seq_at(const char *s) { return strtol(strstr(s, "line ") + 5, NULL, 10); }

static long last_seq(const char *s)
{
    const char *p = s + strlen(s) - 1;
    while (p > s && p[-1] != '\n')
        p--;
    return seq_at(p);
}

Test(log_rotate, size_rotation_keeps_max_backups_exactly)
{
    now_v = (NOV25 + 8 * 3600) * S; /* 08:00:00 */
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_SIZE);
    c.max_size = 1;
    c.max_backups = 2;
    setup(&c);
    uint64_t dropped = cz_log_dropped();
    char pad[1001];
    memset(pad, 'p', 1000);
    pad[1000] = '\0';
    long n = 0;
    for (int round = 1; round <= 4; round++) {
        now_v += S; /* 08:00:01, :02, ...: each round's rotation gets its own second */
        for (int i = 0; i < 1000; i++, n++) {
            cz_logf(CZ_LOG_INFO, "line %06ld %s", n, pad);
            if (i % 100 == 99)
                cz_log_flush(); /* the ring holds 256 KiB */
        }
    }
    cz_log_flush();
    cr_assert_eq(cz_log_dropped(), dropped);
    char *cur = slurp("access.log");
    size_t len = strchr(cur, '\n') - cur + 1, per = (1u << 20) / len;
    cr_assert(per > 1000 && per < 2000, "%zu", per); /* one rotation per round from round 2 */
    /* Backups are named for the time their file was started (logx keeps the name chosen at
     * the previous rotation): setup at :00, then the rotations in rounds 2 and 3. The first is
     * beyond MaxBackups. */
    cr_assert_not(exists("access-2026-11-25T08:00:00Z.log"), "beyond MaxBackups: deleted");
    char *b1 = slurp("access-2026-11-25T08:00:02Z.log");
    char *b2 = slurp("access-2026-11-25T08:00:03Z.log");
    cr_assert_not_null(b1);
    cr_assert_not_null(b2);
    cr_assert_eq(strlen(b1), per * len, "a file takes lines while it stays within MaxSize");
    cr_assert_eq(strlen(b2), per * len);
    /* contiguous: nothing lost, nothing doubled across the rotations */
    cr_assert_eq(seq_at(b1), (long)per);
    cr_assert_eq(last_seq(b1), 2 * (long)per - 1);
    cr_assert_eq(seq_at(b2), 2 * (long)per);
    cr_assert_eq(seq_at(cur), 3 * (long)per);
    cr_assert_eq(last_seq(cur), n - 1);
    cr_assert_eq(count(cur, "\n"), (size_t)n - 3 * per);
    free(b1);
    free(b2);
    free(cur);
}

Test(log_rotate, size_backup_uses_file_time_format)
{
    now_v = (NOV25 + 8 * 3600) * S + 123000000ull;
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_SIZE);
    c.max_size = 1;
    c.file_time_format = "20060102-150405.000";
    setup(&c);
    char pad[4001];
    memset(pad, 'q', 4000);
    pad[4000] = '\0';
    for (int i = 0; i < 300; i++) {
        cz_logf(CZ_LOG_INFO, "%s", pad);
        if (i % 20 == 19)
            cz_log_flush();
    }
    cz_log_flush();
    cr_assert(exists("access-20261125-080000.123.log"));
}

static char *gunzip_file(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    gzFile g = gzopen(p, "rb");
    if (!g)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *s = malloc(cap);
    int r;
    while ((r = gzread(g, s + n, (unsigned)(cap - n - 1))) > 0) {
        n += (size_t)r;
        if (cap - n < 2)
            s = realloc(s, cap *= 2);
    }
    cr_assert_geq(r, 0);
    cr_assert_eq(gzclose(g), Z_OK);
    s[n] = '\0';
    return s;
}

Test(log_rotate, compress_writes_valid_gzip_of_the_backup)
{
    now_v = (NOV25 + 86000) * S;
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_DAILY);
    c.compress = true;
    setup(&c);
    size_t want_n = 0;
    char *want = malloc(1 << 20);
    for (int i = 0; i < 3000; i++) { /* about 300 KiB: several deflate steps */
        cz_logf(CZ_LOG_INFO, "compressible line %d", i);
        want_n += (size_t)sprintf(want + want_n, "2026-11-25T23:53:20.000Z\tinfo\tcompressible"
                                  " line %d\n", i);
        if (i % 500 == 499)
            cz_log_flush();
    }
    now_v = (NOV25 + 86400 + 5) * S;
    cz_logf(CZ_LOG_INFO, "new day");
    cz_log_flush();
    cz_log_close(); /* finishes the pending compression */
    cr_assert_not(exists("access.log-2026-11-25"), "the original goes once the .gz is whole");
    cr_assert_not(exists("access.log-2026-11-25.gz.tmp"));
    char *got = gunzip_file("access.log-2026-11-25.gz");
    cr_assert_not_null(got);
    cr_assert_eq(strlen(got), want_n);
    cr_assert(memcmp(got, want, want_n) == 0);
    char *cur = slurp("access.log");
    cr_assert(strstr(cur, "new day") && count(cur, "\n") == 1, "%s", cur);
    free(got);
    free(want);
    free(cur);
}

/* A process killed while compressing leaves the plain backup and a partial .gz.tmp; the next
 * start compresses the backup again (and one that never began), so KeepDays, which deletes
 * .gz files, can reach them. A .gz already done and another dest's files are left alone. */
Test(log_rotate, backups_a_dead_process_left_plain_are_compressed_at_start)
{
    now_v = (NOV25 + 3600) * S;
    touch("access.log-2026-11-23");
    touch("access.log-2026-11-23.gz.tmp");
    touch("access.log-2026-11-24"); /* renamed, compression never began */
    touch("access.log-2026-11-22.gz");
    touch("access.log.keep");
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_DAILY);
    c.compress = true;
    setup(&c);
    cz_logf(CZ_LOG_INFO, "started");
    cz_log_flush();
    cz_log_close();
    const char *plain[] = {"access.log-2026-11-23", "access.log-2026-11-24"};
    for (int i = 0; i < 2; i++) {
        char gz[64], tmp[64];
        snprintf(gz, sizeof gz, "%s.gz", plain[i]);
        snprintf(tmp, sizeof tmp, "%s.gz.tmp", plain[i]);
        cr_assert_not(exists(plain[i]), "%s compressed and removed", plain[i]);
        cr_assert_not(exists(tmp));
        char *got = gunzip_file(gz);
        cr_assert_not_null(got, "%s", gz);
        cr_assert_str_eq(got, "old\n");
        free(got);
    }
    char *done = slurp("access.log-2026-11-22.gz");
    cr_assert_str_eq(done, "old\n", "a finished .gz is not touched");
    free(done);
    cr_assert(exists("access.log.keep"));
}

Test(log_rotate, size_compress_keeps_max_backups_of_gz_files)
{
    now_v = (NOV25 + 8 * 3600) * S;
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_SIZE);
    c.max_size = 1;
    c.max_backups = 1;
    c.compress = true;
    setup(&c);
    char pad[1001];
    memset(pad, 'r', 1000);
    pad[1000] = '\0';
    long n = 0;
    for (int round = 1; round <= 4; round++) { /* rotations in rounds 2, 3 and 4 */
        now_v += S;
        for (int i = 0; i < 1000; i++, n++) {
            cz_logf(CZ_LOG_INFO, "line %06ld %s", n, pad);
            if (i % 100 == 99)
                cz_log_flush();
        }
    }
    cz_log_close();
    glob_t g;
    char pat[128];
    snprintf(pat, sizeof pat, "%s/access-*", dir);
    cr_assert_eq(glob(pat, 0, NULL, &g), 0);
    cr_assert_eq(g.gl_pathc, 1, "only the newest compressed backup: %zu files", g.gl_pathc);
    cr_assert(strstr(g.gl_pathv[0], "access-2026-11-25T08:00:03Z.log.gz"), "%s", g.gl_pathv[0]);
    globfree(&g);
    char *z = gunzip_file("access-2026-11-25T08:00:03Z.log.gz");
    cr_assert_not_null(z);
    size_t len = strchr(z, '\n') - z + 1, per = (1u << 20) / len;
    cr_assert_eq(strlen(z), per * len);
    cr_assert_eq(seq_at(z), 2 * (long)per);
    free(z);
}

Test(log_rotate, failed_rename_is_reported_once_and_logging_goes_on)
{
    /* The backup name and every numbered alternative are directories: rename fails. */
    char p[256];
    snprintf(p, sizeof p, "%s/access.log-2026-11-25", dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    for (int i = 1; i < 1000; i++) {
        snprintf(p, sizeof p, "%s/access.log-2026-11-25.%d", dir, i);
        cr_assert_eq(mkdir(p, 0755), 0);
    }
    char errp[256];
    snprintf(errp, sizeof errp, "%s/stderr.txt", dir);
    int efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644), saved = dup(2);
    cr_assert_geq(efd, 0);
    dup2(efd, 2);
    now_v = (NOV25 + 86399) * S;
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_DAILY);
    setup(&c);
    cz_logf(CZ_LOG_INFO, "one");
    now_v = (NOV25 + 86401) * S;
    cz_logf(CZ_LOG_INFO, "two");
    cz_log_flush();
    cz_logf(CZ_LOG_INFO, "three");
    cz_log_flush();
    dup2(saved, 2);
    close(saved);
    close(efd);
    char *cur = slurp("access.log"), *err = slurp("stderr.txt");
    cr_assert(strstr(cur, "one") && strstr(cur, "two") && strstr(cur, "three"), "%s", cur);
    cr_assert_eq(count(err, "cannot rotate"), 1, "%s", err);
    free(cur);
    free(err);
}

Test(log_rotate, go_layouts_format_local_time)
{
    char b[96];
    uint64_t t = (NOV25 + 8 * 3600 + 5 * 60 + 9) * S + 120000000ull;
    cr_assert_gt(cz__log_go_time(b, sizeof b, "2006-01-02T15:04:05Z07:00", t), 0);
    cr_assert_str_eq(b, "2026-11-25T08:05:09Z");
    cz__log_go_time(b, sizeof b, "2006-01-02T15:04:05.000-07:00", t);
    cr_assert_str_eq(b, "2026-11-25T08:05:09.120+00:00");
    cz__log_go_time(b, sizeof b, "Jan _2 03:04:05.999 PM Mon", t);
    cr_assert_str_eq(b, "Nov 25 08:05:09.12 AM Wed");
    cr_assert_eq(cz__log_go_time(b, 8, "2006-01-02", t), 0, "too long for the buffer");
}

Test(log_rotate, setup_rejects_bad_file_time_format)
{
    cz_log_conf_t c = conf(CZ_LOG_ROTATE_SIZE);
    c.file_time_format = "2006/01/02";
    cz_diag_t d = {0};
    cr_assert_eq(cz_log_setup(&c, &d), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.key, "Log.FileTimeFormat");
}

static int load(const char *y, cz_log_conf_t *c, cz_diag_t *d)
{
    return cz_conf_load_string("log.yaml", y, strlen(y), cz_log_conf_fields, c, d);
}

Test(log_rotate, config_keys_parse_with_ranges)
{
    cz_log_conf_t c;
    cz_diag_t d = {0};
    cr_assert_eq(load("Mode: file\n", &c, &d), 0, "%s", d.msg);
    cr_assert_eq(c.rotation, CZ_LOG_ROTATE_DAILY);
    cr_assert_eq(c.keep_days, 0);
    cr_assert_eq(c.max_backups, 0);
    cr_assert_eq(c.max_size, 0);
    cr_assert_not(c.compress);
    cr_assert_null(c.file_time_format);
    cz_conf_free(cz_log_conf_fields, &c);
    const char *y = "Mode: file\nRotation: size\nKeepDays: 7\nMaxBackups: 3\nMaxSize: 100\n"
                    "Compress: true\nFileTimeFormat: '2006-01-02'\nCompressType: gz\n";
    cr_assert_eq(load(y, &c, &d), 0, "%s", d.msg);
    cr_assert_eq(c.rotation, CZ_LOG_ROTATE_SIZE);
    cr_assert_eq(c.keep_days, 7);
    cr_assert_eq(c.max_backups, 3);
    cr_assert_eq(c.max_size, 100);
    cr_assert(c.compress);
    cr_assert_str_eq(c.file_time_format, "2006-01-02");
    cz_conf_free(cz_log_conf_fields, &c);

    static const struct {
        const char *yaml, *key;
        int line, col;
    } bad[] = {
        {"Mode: file\nRotation: hourly\n", "Rotation", 2, 11},
        {"Mode: file\nKeepDays: -1\n", "KeepDays", 2, 11},
        {"Mode: file\n\nMaxSize: 2000000\n", "MaxSize", 3, 10},
        {"MaxBackups: many\n", "MaxBackups", 1, 13},
        {"Compress: maybe\n", "Compress", 1, 11},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&d, 0, sizeof d);
        cr_assert_eq(load(bad[i].yaml, &c, &d), CZ_EINVAL_CONF, "%s", bad[i].yaml);
        cr_assert_str_eq(d.file, "log.yaml");
        cr_assert(strstr(d.key, bad[i].key), "%s", d.key);
        cr_assert_eq(d.line, bad[i].line, "%s: line %d", bad[i].yaml, d.line);
        cr_assert_eq(d.col, bad[i].col, "%s: col %d", bad[i].yaml, d.col);
    }
}
