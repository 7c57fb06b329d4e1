/* Integration tests of how the engine holds connections: a new connection that sends nothing is
 * closed at HeaderTimeout without an answer; past MaxConnections, or out of file descriptors
 * (RLIMIT_NOFILE lowered in a forked server process), idle and silent connections are closed
 * oldest first so new clients are still served; each case is counted on /metrics and logged
 * once a second at most. Real loopback sockets throughout. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "czero/log.h"
#include "http_client.h"
#include "test_server.h"

#define NSILENT 200

static ts_t T;
static char logdir[64];

static void log_to_dir(void)
{
    snprintf(logdir, sizeof logdir, "/tmp/czconns-XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    cz_log_conf_t c = {.mode = CZ_LOG_MODE_FILE, .encoding = CZ_LOG_ENC_PLAIN,
                       .level = CZ_LOG_INFO, .path = logdir};
    cz_diag_t d;
    cr_assert_eq(cz_log_setup(&c, &d), 0, "%s", d.msg);
}

/* The whole file (caller frees), "" when missing. */
static char *slurp(const char *name)
{
    char p[160];
    snprintf(p, sizeof p, "%s/%s", logdir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)n + 1);
    if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    fclose(f);
    return s;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void rm_logs(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", logdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", logdir);
}

/* The value of the first sample of metric name on the text, or -1 when absent. */
static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += n) {
        if ((p == text || p[-1] == '\n') && (p[n] == ' ' || p[n] == '{')) {
            const char *v = strchr(p, ' ');
            return v ? atof(v + 1) : -1;
        }
    }
    return -1;
}

static char *scrape(void)
{
    tc_resp_t r;
    cr_assert_eq(tc_get(cz_server_dev_port(T.srv), "/metrics", &r), 0);
    cr_assert_eq(r.status, 200);
    return r.body; /* the caller frees */
}

static void with_dev(void)
{
    T.conf.dev_server.enabled = true;
    free(T.conf.dev_server.host);
    T.conf.dev_server.host = strdup("127.0.0.1");
    T.conf.dev_server.port = 0;
}

Test(conns, silent_connection_is_closed_at_header_timeout_without_an_answer)
{
    ts_init(&T);
    T.conf.header_timeout_ms = 300;
    T.conf.idle_timeout_ms = 60000;
    ts_start(&T, NULL, 0);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 5000), 0);
    long t0 = tc_now_ms();
    cr_assert(tc_closed(&c, 5000), "a silent connection is closed, with no answer");
    long dt = tc_now_ms() - t0;
    cr_assert(dt >= 250 && dt < 1500, "closed after %ld ms (HeaderTimeout 300)", dt);
    tc_close(&c);
    /* a keep-alive connection after a request still gets IdleTimeout, not HeaderTimeout */
    cr_assert_eq(tc_connect(&c, T.port, 5000), 0);
    tc_sendf(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_resp_t r;
    cr_assert_eq(tc_read(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    cr_assert_not(tc_closed(&c, 800), "an idle keep-alive connection waits for IdleTimeout");
    tc_close(&c);
    ts_stop(&T);
}

Test(conns, past_max_connections_silent_ones_make_room_for_new_clients)
{
    log_to_dir();
    ts_init(&T);
    T.conf.max_connections = 64;
    T.conf.header_timeout_ms = 60000; /* silent connections would stay for a minute */
    with_dev();
    ts_start(&T, NULL, 0);
    long t0 = tc_now_ms();
    static tc_conn_t silent[NSILENT];
    for (int i = 0; i < NSILENT; i++)
        cr_assert_eq(tc_connect(&silent[i], T.port, 5000), 0);
    for (int i = 0; i < 20; i++) { /* new clients are served, none waits for a timeout */
        tc_resp_t r;
        cr_assert_eq(tc_get(T.port, "/hello", &r), 0, "client %d", i);
        cr_assert_eq(r.status, 200);
        tc_resp_free(&r);
    }
    cr_assert_leq(cz_server_connections(T.srv), 64);
    /* the oldest silent connections were the ones closed */
    cr_assert(tc_closed(&silent[0], 2000));
    cr_assert_not(tc_closed(&silent[NSILENT - 1], 100));
    char *m = scrape();
    cr_assert_geq(metric(m, "czero_http_connections_drained_total"), NSILENT - 64, "%s", m);
    cr_assert_eq(metric(m, "czero_http_connections_refused_total"), 0);
    cr_assert_eq(metric(m, "czero_http_connections_max"), 64);
    cr_assert_leq(metric(m, "czero_http_connections_open"), 64);
    free(m);
    cz_log_flush();
    char *err = slurp("error.log");
    long secs = (tc_now_ms() - t0 + 999) / 1000; /* a line a second at most, the first at once */
    int lines = count(err, "out of connections (MaxConnections 64");
    cr_assert(lines >= 1 && lines <= 1 + secs, "%d lines in %ld s:\n%s", lines, secs, err);
    cr_assert(strstr(err, "idle connections closed to admit new ones"), "%s", err);
    free(err);
    for (int i = 0; i < NSILENT; i++)
        tc_close(&silent[i]);
    ts_stop(&T);
    cz_log_close();
    rm_logs();
}

Test(conns, past_max_connections_with_nothing_idle_new_ones_are_refused_and_counted)
{
    ts_init(&T);
    T.conf.max_connections = 8;
    T.conf.header_timeout_ms = 60000;
    with_dev();
    ts_start(&T, NULL, 0);
    tc_conn_t busy[8]; /* half a header each: not reusable */
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(tc_connect(&busy[i], T.port, 5000), 0);
        tc_sendf(&busy[i], "GET /hello HTTP/1.1\r\nHost: x\r\n");
    }
    usleep(200 * 1000);
    tc_conn_t c;
    cr_assert_eq(tc_connect(&c, T.port, 5000), 0);
    cr_assert(tc_closed(&c, 2000), "refused at once, not left waiting");
    tc_close(&c);
    char *m = scrape();
    cr_assert_geq(metric(m, "czero_http_connections_refused_total"), 1, "%s", m);
    free(m);
    for (int i = 0; i < 8; i++) { /* the held ones still complete their requests */
        tc_resp_t r;
        tc_sendf(&busy[i], "\r\n");
        cr_assert_eq(tc_read(&busy[i], &r, false), 0);
        cr_assert_eq(r.status, 200);
        tc_resp_free(&r);
        tc_close(&busy[i]);
    }
    ts_stop(&T);
}

/* ---- out of descriptors: a server process with a small RLIMIT_NOFILE ---- */

static volatile sig_atomic_t child_stop;
static void on_term(int sig) { (void)sig; child_stop = 1; }

static int hello(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_json_raw(res, 200, "{}", 2);
    return CZ_DONE;
}

static pid_t fork_server(int *port)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        signal(SIGTERM, on_term);
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed test's process exits: so does this one */
        struct rlimit rl = {96, 96};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(2);
        cz_log_conf_t lc = {.mode = CZ_LOG_MODE_FILE, .encoding = CZ_LOG_ENC_PLAIN,
                            .level = CZ_LOG_INFO, .path = logdir};
        if (cz_log_setup(&lc, NULL) != 0)
            _exit(3);
        cz_rest_conf_t conf;
        if (cz_conf_defaults(cz_rest_conf_fields, &conf, NULL) != 0)
            _exit(4);
        free(conf.host);
        conf.host = strdup("127.0.0.1");
        conf.port = 0;
        conf.workers = 1;
        conf.middlewares.log = false;
        conf.max_connections = 100000; /* far above the descriptors: accept meets EMFILE */
        conf.header_timeout_ms = 60000;
        cz_server_t *s = cz_server_new(&conf, NULL);
        cz_route_t rt = {.method = "GET", .path = "/hello", .handler = hello};
        if (!s || cz_server_add_route(s, &rt, NULL) != 0 || cz_server_start(s) != 0)
            _exit(5);
        int pt = cz_server_port(s);
        if (write(p[1], &pt, sizeof pt) != (ssize_t)sizeof pt)
            _exit(6);
        while (!child_stop)
            usleep(10 * 1000);
        cz_server_shutdown(s);
        cz_server_wait(s);
        cz_log_close();
        _exit(0);
    }
    close(p[1]);
    cr_assert_eq(read(p[0], port, sizeof *port), (ssize_t)sizeof *port, "the server started");
    close(p[0]);
    return pid;
}

Test(conns, out_of_descriptors_silent_ones_make_room_and_it_is_logged)
{
    snprintf(logdir, sizeof logdir, "/tmp/czconns-XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    int port = 0;
    pid_t pid = fork_server(&port);
    static tc_conn_t silent[NSILENT];
    for (int i = 0; i < NSILENT; i++)
        cr_assert_eq(tc_connect(&silent[i], port, 5000), 0);
    for (int i = 0; i < 20; i++) {
        tc_resp_t r;
        cr_assert_eq(tc_get(port, "/hello", &r), 0, "client %d", i);
        cr_assert_eq(r.status, 200);
        tc_resp_free(&r);
    }
    cr_assert(tc_closed(&silent[0], 2000), "the oldest silent connection made room");
    for (int i = 0; i < NSILENT; i++)
        tc_close(&silent[i]);
    kill(pid, SIGTERM);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server exit status %d", st);
    char *err = slurp("error.log");
    /* some line reports a non-zero number of EMFILE accepts */
    bool nofd = false;
    for (const char *q = err; (q = strstr(q, " accepts failed for lack of")); q++) {
        const char *d = q;
        while (d > err && d[-1] >= '0' && d[-1] <= '9')
            d--;
        nofd |= d < q && atol(d) > 0;
    }
    cr_assert(nofd, "%s", err);
    cr_assert(strstr(err, "open files limit 96"), "%s", err);
    cr_assert_lt(count(err, "out of connections"), 5, "%s", err);
    free(err);
    rm_logs();
}

Test(conns, out_of_descriptors_with_nothing_idle_new_ones_are_refused_then_served_again)
{
    snprintf(logdir, sizeof logdir, "/tmp/czconns-XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    int port = 0;
    pid_t pid = fork_server(&port);
    /* every descriptor the server has goes to a connection with half a header: none reusable */
    static tc_conn_t busy[NSILENT];
    for (int i = 0; i < NSILENT; i++) {
        cr_assert_eq(tc_connect(&busy[i], port, 5000), 0);
        tc_sendf(&busy[i], "GET /hello HTTP/1.1\r\nHost: x\r\n");
        if (i % 8 == 7) /* the server reads them (a connection not read yet still counts as new) */
            usleep(30 * 1000);
    }
    int refused = 0;
    for (int i = 0; i < NSILENT; i++)
        refused += tc_closed(&busy[i], i < 2 ? 2000 : 50);
    cr_assert_gt(refused, 0, "past the descriptors, new connections are closed at once");
    for (int i = 0; i < NSILENT; i++)
        tc_close(&busy[i]);
    usleep(300 * 1000); /* the server sees them go */
    tc_resp_t r;
    cr_assert_eq(tc_get(port, "/hello", &r), 0, "served again once descriptors are free");
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    kill(pid, SIGTERM);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char *err = slurp("error.log");
    cr_assert(strstr(err, "open files limit 96"), "%s", err);
    bool any = false;
    for (const char *q = err; (q = strstr(q, " new connections refused")); q++) {
        const char *d = q;
        while (d > err && d[-1] >= '0' && d[-1] <= '9')
            d--;
        any |= d < q && atol(d) > 0;
    }
    cr_assert(any, "%s", err);
    free(err);
    rm_logs();
}
