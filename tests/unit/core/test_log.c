/* SPDX-License-Identifier: MIT
 *
 * Tests for structured logging (src/core/log.c, log_writer.c): level filtering, JSON lines that
 * parse back with jansson, exact plain and access lines under a fixed wall clock, escaping,
 * file-mode destinations, truncation, multi-thread delivery, thread-exit delivery, and the
 * dropped-lines counter when the writer is blocked on a pipe nobody reads.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "czero/log.h"
#include "core/log_int.h"

#define T0_NS (1795593600ull * 1000000000ull + 7000000ull) /* 2026-11-25T08:00:00.007Z */
static uint64_t fixed_now(void) { return T0_NS; }

static char dir[64];

static void mkdir_tmp(void)
{
    strcpy(dir, "/tmp/czlog-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
    static const char *files[] = {"access.log", "error.log", "severe.log", "slow.log", "stat.log"};
    char p[128];
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static cz_log_conf_t conf(int mode, int enc)
{
    return (cz_log_conf_t){.mode = mode, .encoding = enc, .path = dir, .level = CZ_LOG_INFO,
                           .stat = true};
}

static void setup_file(int enc)
{
    mkdir_tmp();
    cz_log_conf_t c = conf(CZ_LOG_MODE_FILE, enc);
    cz_diag_t d;
    cr_assert_eq(cz_log_setup(&c, &d), 0, "%s", d.msg);
}

/* Whole file as a NUL-terminated string (caller frees); "" when missing. */
static char *slurp(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Parse the only line of a file. */
static json_t *one_json(const char *name)
{
    char *s = slurp(name);
    cr_assert_eq(count_lines(s), 1, "%s: %s", name, s);
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    cr_assert_not_null(j, "%s: %s in %s", name, err.text, s);
    free(s);
    return j;
}

static const char *jstr(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    return v && json_is_string(v) ? json_string_value(v) : NULL;
}

Test(log, levels_filter_and_set_level)
{
    setup_file(CZ_LOG_ENC_JSON);
    cz_log_debug("hidden %d", 1);
    cz_log_info("shown");
    cr_assert(!cz_log_enabled(CZ_LOG_DEBUG) && cz_log_enabled(CZ_LOG_INFO));
    cz_log_set_level(CZ_LOG_ERROR);
    cz_log_info("hidden too");
    cz_log_error("err");
    cz_log_slowf("slow %s", "call"); /* logx: slow lines need ErrorLevel */
    cz_log_statf("stat hidden");     /* logx: stat lines need InfoLevel */
    cz_log_set_level(CZ_LOG_SEVERE);
    cz_log_error("hidden");
    cz_log_slowf("hidden");
    cz_log_severe("sev");
    cz_log_set_level((cz_log_level_t)42); /* ignored */
    cr_assert(cz_log_enabled(CZ_LOG_SEVERE) && !cz_log_enabled(CZ_LOG_ERROR));
    cz_log_flush();

    json_t *j = one_json("access.log");
    cr_assert_str_eq(jstr(j, "content"), "shown");
    cr_assert_str_eq(jstr(j, "level"), "info");
    json_decref(j);
    j = one_json("error.log");
    cr_assert_str_eq(jstr(j, "content"), "err");
    cr_assert_str_eq(jstr(j, "level"), "error");
    json_decref(j);
    j = one_json("slow.log");
    cr_assert_str_eq(jstr(j, "content"), "slow call");
    cr_assert_str_eq(jstr(j, "level"), "slow");
    json_decref(j);
    j = one_json("severe.log");
    cr_assert_str_eq(jstr(j, "level"), "severe");
    json_decref(j);
    char *s = slurp("stat.log");
    cr_assert_str_eq(s, "");
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, json_line_fields_and_exact_text)
{
    setup_file(CZ_LOG_ENC_JSON);
    cz__log_test_set_now(fixed_now);
    cz_log_info("hello %s", "world");
    const char *kv[] = {"user", "bob", "n", "3", NULL};
    cz_logkv(CZ_LOG_INFO, "with fields", kv);
    cz_log_flush();
    char *s = slurp("access.log");
    cr_assert_str_eq(s, "{\"@timestamp\":\"2026-11-25T08:00:00.007Z\",\"content\":\"hello world\","
                        "\"level\":\"info\"}\n"
                        "{\"@timestamp\":\"2026-11-25T08:00:00.007Z\",\"content\":\"with fields\","
                        "\"level\":\"info\",\"user\":\"bob\",\"n\":\"3\"}\n");
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, real_clock_timestamp_is_iso8601_utc)
{
    setup_file(CZ_LOG_ENC_JSON);
    cz_log_info("now");
    cz_log_flush();
    json_t *j = one_json("access.log");
    const char *ts = jstr(j, "@timestamp");
    cr_assert_not_null(ts);
    int y, mo, da, h, mi, se, ms;
    char z;
    cr_assert_eq(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &da, &h, &mi, &se, &ms, &z),
                 8, "%s", ts);
    cr_assert(y >= 2024 && z == 'Z' && strlen(ts) == 24, "%s", ts);
    json_decref(j);
    cz_log_close();
    rm_tmp();
}

Test(log, plain_format_exact)
{
    setup_file(CZ_LOG_ENC_PLAIN);
    cz__log_test_set_now(fixed_now);
    cz_log_info("content");
    const char *kv[] = {"key", "value", NULL};
    cz_logkv(CZ_LOG_ERROR, "bad thing", kv);
    cz_log_flush();
    char *s = slurp("access.log");
    cr_assert_str_eq(s, "2026-11-25T08:00:00.007Z\tinfo\tcontent\n");
    free(s);
    s = slurp("error.log");
    cr_assert_str_eq(s, "2026-11-25T08:00:00.007Z\terror\tbad thing\tkey=value\n");
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, custom_time_format)
{
    mkdir_tmp();
    cz_log_conf_t c = conf(CZ_LOG_MODE_FILE, CZ_LOG_ENC_PLAIN);
    c.time_format = "%Y/%m/%d %H:%M:%S";
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    cz__log_test_set_now(fixed_now);
    cz_log_info("x");
    cz_log_flush();
    char *s = slurp("access.log");
    cr_assert_str_eq(s, "2026/11/25 08:00:00\tinfo\tx\n");
    free(s);
    cz_log_close();
    rm_tmp();
}

/* logx takes a Go layout; fractions of a second change per line, the rest once a second. */
static uint64_t now_ns = T0_NS;
static uint64_t moving_now(void) { return now_ns; }

Test(log, go_layout_time_format)
{
    setenv("TZ", "UTC", 1);
    tzset();
    mkdir_tmp();
    cz_log_conf_t c = conf(CZ_LOG_MODE_FILE, CZ_LOG_ENC_PLAIN);
    c.time_format = "2006-01-02 15:04:05.000";
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    now_ns = T0_NS - 7000000u + 5000000u;
    cz__log_test_set_now(moving_now);
    cz_log_info("a");
    now_ns = T0_NS - 7000000u + 250000000u;
    cz_log_info("b");
    cz_log_flush();
    char *s = slurp("access.log");
    cr_assert_str_eq(s, "2026-11-25 08:00:00.005\tinfo\ta\n2026-11-25 08:00:00.250\tinfo\tb\n");
    free(s);
    cz_log_close();

    c.time_format = "Jan _2 15:04:05";
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    cz_log_info("c");
    now_ns = T0_NS + 1000000000u;
    cz_log_info("d");
    cz_log_flush();
    s = slurp("access.log");
    cr_assert(strstr(s, "Nov 25 08:00:00\tinfo\tc\nNov 25 08:00:01\tinfo\td\n"), "%s", s);
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, json_escaping_round_trips)
{
    setup_file(CZ_LOG_ENC_JSON);
    const char *msg = "q\"b\\s/n\nr\rt\tc\x01\x1f del\x7f é€😀 ls\xe2\x80\xa8";
    cz_logkv(CZ_LOG_INFO, msg, (const char *const[]){"k\"ey", "v\nal", NULL});
    cz_logkv(CZ_LOG_INFO, "bad \xff\xc3 utf8 \xed\xa0\x80", NULL);
    cz_log_flush();
    char *s = slurp("access.log");
    cr_assert(strstr(s, "c\\u0001\\u001f del") != NULL, "%s", s);
    cr_assert(strstr(s, "\\u2028") != NULL, "%s", s);
    char *second = strchr(s, '\n') + 1;
    *(second - 1) = '\0';
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    cr_assert_not_null(j, "%s: %s", err.text, s);
    cr_assert_str_eq(jstr(j, "content"), msg);
    cr_assert_str_eq(jstr(j, "k\"ey"), "v\nal");
    json_decref(j);
    j = json_loads(second, 0, &err); /* invalid UTF-8 became U+FFFD: still valid JSON */
    cr_assert_not_null(j, "%s: %s", err.text, second);
    cr_assert_str_eq(jstr(j, "content"), "bad \xef\xbf\xbd\xef\xbf\xbd utf8 "
                                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
    free(s);
    cz_log_close();
    rm_tmp();
}

/* Every special character at every offset of a word: exercises the 8-byte fast scan. */
Test(log, json_escaping_at_every_offset)
{
    setup_file(CZ_LOG_ENC_JSON);
    static const char *specials[] = {"\"",   "\\",       "\n", "\x01",
                                     "\x1f", "\xc3\xa9", "\x7f", "~", "\xe2\x80\xa8"};
    const size_t ns = sizeof specials / sizeof *specials;
    char msg[64]; /* every offset of three 16-byte blocks (log.c scans 16 at a time) and a tail */
    for (size_t k = 0; k < ns; k++) {
        for (size_t at = 0; at < 56; at++) {
            memset(msg, 'a', 60);
            size_t sl = strlen(specials[k]);
            memcpy(msg + at, specials[k], sl);
            msg[60] = '\0';
            cz_logkv(CZ_LOG_INFO, msg, NULL);
        }
    }
    cz_log_flush();
    char *s = slurp("access.log");
    char *p = s;
    for (size_t k = 0; k < ns; k++) {
        for (size_t at = 0; at < 56; at++) {
            char *nl = strchr(p, '\n');
            cr_assert_not_null(nl);
            *nl = '\0';
            memset(msg, 'a', 60);
            memcpy(msg + at, specials[k], strlen(specials[k]));
            msg[60] = '\0';
            json_error_t err;
            json_t *j = json_loads(p, 0, &err);
            cr_assert_not_null(j, "%s: %s", err.text, p);
            cr_assert_str_eq(jstr(j, "content"), msg, "special %zu at %zu", k, at);
            json_decref(j);
            p = nl + 1;
        }
    }
    cr_assert_str_eq(p, "");
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, file_mode_destinations_and_stat_switch)
{
    mkdir_tmp();
    cz_log_conf_t c = conf(CZ_LOG_MODE_FILE, CZ_LOG_ENC_PLAIN);
    c.level = CZ_LOG_DEBUG;
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    cz_log_debug("d");
    cz_log_info("i");
    cz_log_error("e");
    cz_log_severe("s");
    cz_log_slowf("sl");
    cz_log_statf("st");
    cz_log_flush();
    static const struct { const char *file, *want; } w[] = {
        {"access.log", "\tdebug\td\n"}, {"error.log", "\terror\te\n"},
        {"severe.log", "\tsevere\ts\n"}, {"slow.log", "\tslow\tsl\n"},
        {"stat.log", "\tstat\tst\n"},
    };
    for (size_t i = 0; i < 5; i++) {
        char *s = slurp(w[i].file);
        cr_assert(strstr(s, w[i].want) != NULL, "%s: %s", w[i].file, s);
        free(s);
    }
    char *s = slurp("access.log");
    cr_assert_eq(count_lines(s), 2);
    cr_assert(strstr(s, "\tinfo\ti\n") != NULL);
    free(s);

    /* Stat: false drops stat lines (logx DisableStat); re-setup appends to the same files. */
    c.stat = false;
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    cz_log_statf("gone");
    cz_log_info("again");
    cz_log_flush();
    s = slurp("stat.log");
    cr_assert_eq(count_lines(s), 1);
    free(s);
    s = slurp("access.log");
    cr_assert_eq(count_lines(s), 3);
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, setup_errors_have_diagnostics)
{
    cz_log_conf_t c = {.mode = CZ_LOG_MODE_FILE, .path = "/dev/null/logs", .level = CZ_LOG_INFO};
    cz_diag_t d;
    memset(&d, 0, sizeof d);
    int r = cz_log_setup(&c, &d);
    cr_assert(r < 0);
    cr_assert_str_eq(d.key, "Log.Path");
    cr_assert(strstr(d.msg, "/dev/null/logs") != NULL, "%s", d.msg);
    c.mode = CZ_LOG_MODE_VOLUME;
    c.path = "/tmp";
    cr_assert_eq(cz_log_setup(&c, &d), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.key, "Log.ServiceName");
    c.mode = 7;
    cr_assert_eq(cz_log_setup(&c, &d), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.key, "Log.Mode");
    cr_assert_eq(cz_log_setup(NULL, &d), CZ_EARG);
}

Test(log, volume_mode_uses_service_and_host)
{
    mkdir_tmp();
    cz_log_conf_t c = conf(CZ_LOG_MODE_VOLUME, CZ_LOG_ENC_PLAIN);
    c.service_name = "svc";
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    cz_log_info("vol");
    cz_log_close();
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char sub[512];
    snprintf(sub, sizeof sub, "svc/%s/access.log", host);
    char *s = slurp(sub);
    cr_assert(strstr(s, "\tinfo\tvol\n") != NULL, "%s", s);
    free(s);
    static const char *files[] = {"access.log", "error.log", "severe.log", "slow.log", "stat.log"};
    char p[512];
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/svc/%s/%s", dir, host, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/svc/%s", dir, host);
    rmdir(p);
    snprintf(p, sizeof p, "%s/svc", dir);
    rmdir(p);
    rmdir(dir);
}

static const cz_access_rec_t rec200 = {
    .method = CZ_STR("GET"), .path = CZ_STR("/hello"), .status = 200, .duration_us = 123,
    .bytes = 5, .remote = CZ_STR("127.0.0.1:5000"), .user_agent = CZ_STR("curl/8.0"),
};

Test(log, access_record_exact_json)
{
    setup_file(CZ_LOG_ENC_JSON);
    cz__log_test_set_now(fixed_now);
    cz_log_access(&rec200);
    cz_access_rec_t r = rec200;
    r.status = 503;
    r.duration_us = 1250000; /* 1250.0ms */
    r.path = CZ_STR("/a\"b");
    r.trace_id = CZ_STR("4bf92f3577b34da6a3ce929d0e0e4736");
    r.span_id = CZ_STR("00f067aa0ba902b7");
    cz_log_access(&r); /* logx logBrief: 5xx is logged with Error */
    cz_log_flush();
    char *s = slurp("access.log");
    cr_assert_str_eq(s, "{\"@timestamp\":\"2026-11-25T08:00:00.007Z\","
                        "\"content\":\"[HTTP] 200 - GET /hello - 127.0.0.1:5000 - curl/8.0\","
                        "\"level\":\"info\",\"bytes\":\"5\",\"duration\":\"0.1ms\"}\n");
    free(s);
    s = slurp("error.log");
    cr_assert_str_eq(s, "{\"@timestamp\":\"2026-11-25T08:00:00.007Z\","
                        "\"content\":\"[HTTP] 503 - GET /a\\\"b - 127.0.0.1:5000 - curl/8.0\","
                        "\"level\":\"error\",\"bytes\":\"5\",\"duration\":\"1250.0ms\","
                        "\"span\":\"00f067aa0ba902b7\","
                        "\"trace\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}\n");
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, access_record_plain_and_level_gate)
{
    setup_file(CZ_LOG_ENC_PLAIN);
    cz__log_test_set_now(fixed_now);
    cz_access_rec_t r = rec200;
    r.trace_id = CZ_STR("t1");
    r.duration_us = 1949; /* 1.9ms */
    cz_log_access(&r);
    cz_log_set_level(CZ_LOG_ERROR);
    cz_log_access(&rec200); /* info line filtered */
    cz_log_flush();
    char *s = slurp("access.log");
    cr_assert_str_eq(s, "2026-11-25T08:00:00.007Z\tinfo\t[HTTP] 200 - GET /hello - "
                        "127.0.0.1:5000 - curl/8.0\tbytes=5\tduration=1.9ms\ttrace=t1\n");
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, max_content_length_truncates)
{
    mkdir_tmp();
    cz_log_conf_t c = conf(CZ_LOG_MODE_FILE, CZ_LOG_ENC_JSON);
    c.max_content_length = 5;
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    cz_log_info("0123456789");
    cz_log_info("abcé"); /* 5 bytes exactly: not truncated */
    cz_log_info("abcdé"); /* would cut é in half: cut before it */
    cz_log_flush();
    char *s = slurp("access.log");
    char *l2 = strchr(s, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    l2[-1] = l3[-1] = '\0';
    json_t *j = json_loads(s, 0, NULL);
    cr_assert_str_eq(jstr(j, "content"), "01234");
    cr_assert(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);
    j = json_loads(l2, 0, NULL);
    cr_assert_str_eq(jstr(j, "content"), "abcé");
    cr_assert_null(json_object_get(j, "truncated"));
    json_decref(j);
    j = json_loads(l3, 0, NULL);
    cr_assert_str_eq(jstr(j, "content"), "abcd");
    cr_assert(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, oversized_line_is_cut_not_lost)
{
    setup_file(CZ_LOG_ENC_JSON);
    size_t n = 100000;
    char *big = malloc(n + 1);
    memset(big, '"', n); /* each byte escapes to two */
    big[n] = '\0';
    cz_logkv(CZ_LOG_INFO, big, NULL);
    cz_log_flush();
    json_t *j = one_json("access.log");
    cr_assert(json_is_true(json_object_get(j, "truncated")));
    cr_assert(strlen(jstr(j, "content")) > 1000);
    json_decref(j);
    free(big);
    cz_log_close();
    rm_tmp();
}

#define NTHREADS 4
#define NLINES 10000

struct worker { int id, paced; };

static void *worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < NLINES; i++) {
        cz_log_info("thread %d line %d", w->id, i);
        if (w->paced && i % 256 == 255)
            cz_log_flush(); /* keeps each ring under half full: nothing may drop */
    }
    return NULL;
}

static void run_threads(int paced)
{
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){i, paced};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    cz_log_flush();
}

Test(log, four_threads_all_lines_arrive)
{
    setup_file(CZ_LOG_ENC_JSON);
    run_threads(1);
    char *s = slurp("access.log");
    cr_assert_eq(count_lines(s), NTHREADS * NLINES);
    cr_assert_eq(cz_log_dropped(), 0);
    /* every (thread, line) pair exactly once, each line whole */
    static unsigned char seen[NTHREADS][NLINES];
    for (char *p = s; *p;) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        int t, i;
        char *c = strstr(p, "\"content\":\"thread ");
        cr_assert_not_null(c, "%s", p);
        cr_assert_eq(sscanf(c, "\"content\":\"thread %d line %d\"", &t, &i), 2);
        cr_assert(t >= 0 && t < NTHREADS && i >= 0 && i < NLINES && !seen[t][i]);
        seen[t][i] = 1;
        p = nl + 1;
    }
    free(s);
    cz_log_close();
    rm_tmp();
}

Test(log, unpaced_threads_lines_arrive_or_are_counted)
{
    setup_file(CZ_LOG_ENC_PLAIN);
    run_threads(0);
    char *s = slurp("access.log");
    cr_assert_eq(count_lines(s) + cz_log_dropped(), NTHREADS * NLINES);
    free(s);
    cz_log_close();
    rm_tmp();
}

static void *log_and_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        cz_log_info("bye %d", i);
    return NULL; /* no flush: the thread-exit destructor must hand the lines over */
}

Test(log, exiting_thread_keeps_its_lines)
{
    setup_file(CZ_LOG_ENC_PLAIN);
    pthread_t th;
    pthread_create(&th, NULL, log_and_exit, NULL);
    pthread_join(th, NULL);
    cz_log_flush();
    char *s = slurp("access.log");
    cr_assert_eq(count_lines(s), 100);
    cr_assert(strstr(s, "\tbye 99\n") != NULL);
    free(s);
    cz_log_close();
    rm_tmp();
}

struct reader { int fd; size_t lines; };

static void *pipe_reader(void *arg)
{
    struct reader *r = arg;
    char buf[65536];
    ssize_t n;
    while ((n = read(r->fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            r->lines += buf[i] == '\n';
    return NULL;
}

Test(log, blocked_writer_drops_and_counts)
{
    cz_log_conf_t c = {.mode = CZ_LOG_MODE_CONSOLE, .encoding = CZ_LOG_ENC_PLAIN,
                       .level = CZ_LOG_INFO};
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    cr_assert_eq(cz__log_test_set_fd(0 /* access */, p[1]), 0);
    char pad[200];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    const int total = 30000; /* ~7 MB against a 4 KiB pipe and a 4 MiB ring */
    for (int i = 0; i < total; i++)
        cz_log_info("%d %s", i, pad);
    uint64_t dropped = cz_log_dropped();
    cr_assert_gt(dropped, 0);
    /* Unblock: read everything; what was not dropped must arrive. */
    struct reader r = {p[0], 0};
    pthread_t th;
    pthread_create(&th, NULL, pipe_reader, &r);
    cz_log_flush();
    cz_log_close();
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    cr_assert_eq(r.lines + cz_log_dropped(), (size_t)total);
}

Test(log, before_setup_and_after_close_go_to_stderr)
{
    char path[] = "/tmp/czlog-err-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);
    cz__log_test_set_now(fixed_now);
    cz_log_info("early %d", 1); /* synchronous: in the file right away */
    off_t after_first = lseek(fd, 0, SEEK_CUR);
    cz_log_error("second");
    mkdir_tmp();
    cz_log_conf_t c = conf(CZ_LOG_MODE_FILE, CZ_LOG_ENC_PLAIN);
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    cz_log_close();
    cz_log_info("late");
    dup2(saved, 2);
    close(saved);
    char buf[512] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    cr_assert(n > 0);
    cr_assert_str_eq(buf, "2026-11-25T08:00:00.007Z\tinfo\tearly 1\n"
                          "2026-11-25T08:00:00.007Z\terror\tsecond\n"
                          "2026-11-25T08:00:00.007Z\tinfo\tlate\n");
    cr_assert_eq(after_first, 38);
    close(fd);
    unlink(path);
    rm_tmp();
}

Test(log, forked_child_logs_synchronously_to_stderr)
{
    setup_file(CZ_LOG_ENC_PLAIN);
    cz_log_info("parent before");
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        cz_log_info("child line"); /* no writer thread in the child: must not queue */
        cz_log_flush();            /* must not wait for a writer that does not exist */
        _exit(0);
    }
    close(p[1]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char buf[256] = "";
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    cr_assert(n > 0 && strstr(buf, "\tinfo\tchild line\n") != NULL, "%s", buf);
    cz_log_info("parent after");
    cz_log_flush();
    char *s = slurp("access.log");
    cr_assert_eq(count_lines(s), 2, "%s", s);
    cr_assert_null(strstr(s, "child"));
    free(s);
    cz_log_close();
    rm_tmp();
}
