/* Integration test: log lines the writer has to drop are not lost silently. With the access
 * destination blocked (a full pipe nobody reads), lines are dropped; /metrics shows
 * czero_log_dropped_lines_total, the error log says how many were lost, and the stat line
 * carries a "log dropped" field. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "czero/log.h"
#include "core/log_int.h"
#include "http/mw/metrics_int.h"
#include "http_client.h"
#include "test_server.h"

static char dir[] = "/tmp/czlogdrop-XXXXXX";

static char *slurp(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int open_in_dir(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    return fd;
}

static void *drain_pipe(void *arg)
{
    int fd = *(int *)arg;
    char b[65536];
    while (read(fd, b, sizeof b) > 0)
        ;
    return NULL;
}

static double metric(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    while (p && p > text && p[-1] != '\n')
        p = strstr(p + 1, name);
    return p ? atof(p + strlen(name)) : -1;
}

Test(log_dropped, dropped_lines_are_counted_on_metrics_logged_and_in_the_stat_line,
     .timeout = 60)
{
    cr_assert_not_null(mkdtemp(dir));
    cz_log_conf_t c = {.mode = CZ_LOG_MODE_CONSOLE, .encoding = CZ_LOG_ENC_PLAIN,
                       .level = CZ_LOG_INFO, .stat = true};
    cr_assert_eq(cz_log_setup(&c, NULL), 0);
    int errfd = open_in_dir("error"), statfd = open_in_dir("stat");
    cr_assert_eq(cz__log_test_set_fd(CZ__LOG_D_ERROR, errfd), 0);
    cr_assert_eq(cz__log_test_set_fd(CZ__LOG_D_STAT, statfd), 0);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    cz__mw_metrics_set_interval(300);
    ts_t T;
    ts_init(&T);
    T.conf.dev_server.enabled = true;
    free(T.conf.dev_server.host);
    T.conf.dev_server.host = strdup("127.0.0.1");
    T.conf.dev_server.port = 0;
    ts_start(&T, NULL, 0);
    cr_assert_eq(cz__log_test_set_fd(CZ__LOG_D_ACCESS, p[1]), 0); /* nobody reads it yet */
    char pad[200];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < 30000; i++) /* ~7 MB against the 4 MiB ring */
        cz_log_info("%d %s", i, pad);
    uint64_t dropped = cz_log_dropped();
    cr_assert_gt(dropped, 0);
    tc_resp_t r;
    cr_assert_eq(tc_get(cz_server_dev_port(T.srv), "/metrics", &r), 0);
    double m = metric(r.body, "czero_log_dropped_lines_total ");
    cr_assert_geq(m, (double)dropped, "%s", r.body);
    tc_resp_free(&r);
    usleep(700 * 1000); /* a stat interval passes with the drops in it */
    pthread_t th;
    pthread_create(&th, NULL, drain_pipe, &p[0]);
    cz_log_flush();
    usleep(1100 * 1000); /* the writer's report comes a pass later, once a second at most */
    cz_log_flush();
    char *e = slurp("error");
    cr_assert_not_null(strstr(e, "lines dropped since the last report"), "%s", e);
    cr_assert_not_null(strstr(e, "the writer fell behind"), "%s", e);
    char *s = slurp("stat");
    const char *f = strstr(s, ", log dropped: ");
    cr_assert_not_null(f, "%s", s);
    cr_assert_gt(atol(f + strlen(", log dropped: ")), 0, "%s", s);
    ts_stop(&T);
    cz__mw_metrics_set_interval(0);
    cz_log_close();
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    close(errfd);
    close(statfd);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
