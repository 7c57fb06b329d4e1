/* SPDX-License-Identifier: MIT
 *
 * bench_log.c: caller-side cost of one cz_log_access (JSON, file mode, single thread).
 *
 * Lines go to access.log in a fresh directory under /tmp. Calls are timed in batches small
 * enough for the thread's ring, with an untimed cz_log_flush between batches, so the number is
 * the hot-path cost (format + enqueue) and no line is dropped. Prints `log_access_ns <value>`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "czero/log.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int batches = argc > 1 ? atoi(argv[1]) : 400;
    const int per_batch = 400; /* ~200 B lines: well under half of a 256 KiB ring */
    char dir[] = "/tmp/czbench-log-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    cz_log_conf_t c = {.mode = CZ_LOG_MODE_FILE, .encoding = CZ_LOG_ENC_JSON, .path = dir,
                       .level = CZ_LOG_INFO, .stat = true};
    cz_diag_t d;
    if (cz_log_setup(&c, &d) != 0) {
        fprintf(stderr, "setup: %s\n", d.msg);
        return 1;
    }
    cz_access_rec_t r = {
        .method = CZ_STR("GET"), .path = CZ_STR("/api/users/12345?verbose=1"), .status = 200,
        .duration_us = 187, .bytes = 42, .remote = CZ_STR("127.0.0.1:53412"),
        .user_agent = CZ_STR("wrk/4.2.0"), .trace_id = CZ_STR("4bf92f3577b34da6a3ce929d0e0e4736"),
        .span_id = CZ_STR("00f067aa0ba902b7"),
    };
    for (int i = 0; i < per_batch; i++) /* warm up: thread state, ring pages, cached second */
        cz_log_access(&r);
    cz_log_flush();
    uint64_t total = 0;
    for (int b = 0; b < batches; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < per_batch; i++) {
            r.duration_us = (uint64_t)i;
            cz_log_access(&r);
        }
        total += now_ns() - t0;
        cz_log_flush();
    }
    cz_log_close();
    if (cz_log_dropped())
        fprintf(stderr, "warning: %llu lines dropped\n", (unsigned long long)cz_log_dropped());
    printf("log_access_ns %.1f\n", (double)total / ((double)batches * per_batch));
    static const char *files[] = {"access.log", "error.log", "severe.log", "slow.log", "stat.log"};
    char p[128];
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}
