/* SPDX-License-Identifier: MIT
 *
 * Integration tests of request-scoped logging (cz_req_log_*, log.h; go-zero's
 * logx.WithContext(r.Context())): a line a handler logs carries the request's trace id (the
 * incoming traceparent's) and its server span id (the one the answer's traceparent names), in
 * JSON and plain encodings, on an inline and a blocking handler; a request that is not traced
 * logs without them; the level filter applies. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "czero/czero.h"
#include "http_client.h"
#include "test_server.h"

#define IN_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define IN_TP "00-" IN_TRACE "-00f067aa0ba902b7-01"

static int greet(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t who = cz_req_param(req, "who");
    cz_req_log_info(req, "greeting %.*s", (int)who.n, who.p);
    cz_req_log_debug(req, "debug line"); /* below the level: not written */
    cz_res_printf(res, "hi");
    return CZ_DONE;
}

static const cz_route_t routes[] = {
    {"GET", "/greet/:who", greet, NULL, 0},
    {"GET", "/greet-blocking/:who", greet, NULL, CZ_ROUTE_BLOCKING},
};

typedef struct capture {
    char dir[64];
} capture_t;

static void log_to_dir(capture_t *c, int enc)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/cz-req-log-XXXXXX");
    cr_assert_not_null(mkdtemp(c->dir));
    cz_log_conf_t lc = {.mode = CZ_LOG_MODE_FILE, .encoding = enc, .path = c->dir,
                        .level = CZ_LOG_INFO};
    cz_diag_t d;
    cr_assert_eq(cz_log_setup(&lc, &d), 0, "%s", d.msg);
}

/* The access.log line whose content has want; malloc'd. */
static char *find_line(capture_t *c, const char *want)
{
    cz_log_flush();
    char path[128];
    snprintf(path, sizeof path, "%s/access.log", c->dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[4096], *found = NULL;
    while (!found && fgets(line, sizeof line, f))
        if (strstr(line, want))
            found = strdup(line);
    fclose(f);
    cr_assert_not_null(found, "no line with '%s' in %s", want, path);
    return found;
}

static void get(int port, const char *path, const char *hdrs, char span[17])
{
    tc_conn_t c;
    tc_resp_t r;
    cr_assert_eq(tc_connect(&c, port, 5000), 0);
    tc_sendf(&c, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, hdrs);
    cr_assert_eq(tc_read(&c, &r, false), 0);
    tc_close(&c);
    cr_assert_eq(r.status, 200);
    const char *tp = tc_header(&r, "traceparent");
    span[0] = '\0';
    if (tp) {
        memcpy(span, tp + 36, 16);
        span[16] = '\0';
    }
    tc_resp_free(&r);
}

static void check_json(capture_t *c, const char *content, const char *trace, const char *span)
{
    char *line = find_line(c, content);
    json_t *j = json_loads(line, 0, NULL);
    cr_assert_not_null(j, "%s", line);
    cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "info");
    cr_assert_str_eq(json_string_value(json_object_get(j, "content")), content);
    cr_assert_str_eq(json_string_value(json_object_get(j, "trace")), trace, "%s", line);
    cr_assert_str_eq(json_string_value(json_object_get(j, "span")), span, "%s", line);
    json_decref(j);
    free(line);
}

Test(req_log, handler_line_carries_the_request_trace_json)
{
    capture_t c;
    log_to_dir(&c, CZ_LOG_ENC_JSON);
    ts_t t;
    ts_init(&t);
    ts_start(&t, routes, 2);
    char span[17], span2[17];
    get(t.port, "/greet/ann", "traceparent: " IN_TP "\r\n", span);
    cr_assert_eq(strlen(span), 16, "the answer names its server span");
    get(t.port, "/greet-blocking/bob", "traceparent: " IN_TP "\r\n", span2);
    ts_stop(&t);
    check_json(&c, "greeting ann", IN_TRACE, span);
    check_json(&c, "greeting bob", IN_TRACE, span2);
    cz_log_flush();
    char path[128];
    snprintf(path, sizeof path, "%s/access.log", c.dir);
    FILE *f = fopen(path, "r");
    char buf[8192] = {0};
    cr_assert_gt(fread(buf, 1, sizeof buf - 1, f), 0);
    fclose(f);
    cr_assert_null(strstr(buf, "debug line"), "a debug line below the level was written");
    cz_log_close();
}

Test(req_log, handler_line_carries_the_request_trace_plain)
{
    capture_t c;
    log_to_dir(&c, CZ_LOG_ENC_PLAIN);
    ts_t t;
    ts_init(&t);
    ts_start(&t, routes, 2);
    char span[17];
    get(t.port, "/greet/cy", "traceparent: " IN_TP "\r\n", span);
    ts_stop(&t);
    char *line = find_line(&c, "greeting cy");
    char want[128];
    snprintf(want, sizeof want, "\tinfo\tgreeting cy\tspan=%s\ttrace=" IN_TRACE "\n", span);
    cr_assert_not_null(strstr(line, want), "%s", line);
    free(line);
    cz_log_close();
}

Test(req_log, untraced_request_logs_without_ids)
{
    capture_t c;
    log_to_dir(&c, CZ_LOG_ENC_JSON);
    ts_t t;
    ts_init(&t);
    t.conf.middlewares.trace = false;
    ts_start(&t, routes, 2);
    char span[17];
    get(t.port, "/greet/dee", "traceparent: " IN_TP "\r\n", span);
    ts_stop(&t);
    char *line = find_line(&c, "greeting dee");
    json_t *j = json_loads(line, 0, NULL);
    cr_assert_not_null(j, "%s", line);
    cr_assert_null(json_object_get(j, "trace"), "%s", line);
    cr_assert_null(json_object_get(j, "span"), "%s", line);
    json_decref(j);
    free(line);
    cz_log_close();
}
